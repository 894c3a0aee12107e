//! The writing side of `homeml tracking migrate`: copying an MLflow file store into a SQL database
//! on MLflow's schema (SQLite or PostgreSQL), then checking the copy ([`super::migrate_check`]).
//! The rows are those of `mlflow migrate-filestore` ([`super::migrate_source`]); which targets are
//! accepted is [`super::migrate_target`]'s.
//!
//! **One transaction**, as MLflow's: the schema, every experiment (with its runs, params, tags,
//! metrics, datasets, inputs, outputs and logged models) and the registry are written and
//! committed together. A migration that stops (killed, a corrupt file, a lost connection) leaves
//! nothing behind, so running the same command again starts over on a target that is still empty.
//!
//! PostgreSQL's `experiment_id` is a 32-bit integer, too small for the 18-digit ids MLflow's file
//! store gives new experiments: on PostgreSQL those experiments get new ids (after the largest id
//! that fits), and the experiments' sequence is moved past the largest id so new experiments never
//! collide.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::common::{Engine, Val, R};
use super::db::Conn;
use super::handle::SqlStore;
use super::migrate_check::{self as check, Expected};
use super::migrate_source::{self as source, ExperimentDir, Rows};
use super::migrate_target::{self as target, NotEmpty, Target};
use super::schema;
use crate::error::TrackingError;

/// PostgreSQL advisory lock key serializing migrations into one database.
const PG_LOCK: i64 = 7_250_811_962;

/// Why a migration stopped.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// Reading the file store or writing the database failed (nothing was written). Boxed: the
    /// store's error is large.
    #[error(transparent)]
    Tracking(Box<TrackingError>),
    /// The target has data.
    #[error(
        "the target database {uri} is not empty: table '{table}' has {count} rows. The migration \
         copies into an empty database (a new SQLite file, a PostgreSQL database without MLflow \
         data, or one whose only content is the Default experiment a tracking server created), as \
         `mlflow migrate-filestore` does"
    )]
    NotEmpty {
        /// The database (without credentials).
        uri: String,
        /// The first table found with rows.
        table: &'static str,
        /// Its row count (an untouched Default experiment not counted).
        count: i64,
    },
    /// The file store has traces, which this migration does not copy.
    #[error(
        "the file store has {count} traces, which homeml does not migrate: pass --skip-traces to \
         copy everything else, or use `mlflow migrate-filestore` (SQLite only)"
    )]
    Traces {
        /// How many trace folders.
        count: usize,
    },
    /// The copy (committed) differs from the file store.
    #[error("the migrated database differs from the file store:\n  {}", .0.join("\n  "))]
    Mismatch(Vec<String>),
}

impl From<TrackingError> for MigrateError {
    fn from(e: TrackingError) -> MigrateError {
        MigrateError::Tracking(Box::new(e))
    }
}

/// What a migration is asked to do.
#[derive(Debug, Clone, Default)]
pub struct MigrateOptions {
    /// Copy the store even though its traces are left out.
    pub skip_traces: bool,
    /// How many runs per experiment the check reads back through both stores (0: the default, 20).
    pub sample_runs: usize,
}

/// What a migration did.
#[derive(Debug, Clone, Default)]
pub struct MigrateReport {
    /// The `mlruns` folder read.
    pub source: PathBuf,
    /// The database (without credentials).
    pub target: String,
    /// Experiments copied.
    pub experiments_copied: usize,
    /// Whether the target's untouched Default experiment was replaced by the store's experiment 0.
    pub replaced_default: bool,
    /// Rows per table in the database at the end (equal to the file store's).
    pub counts: BTreeMap<String, u64>,
    /// Rows of the file store left out because they repeated a primary key.
    pub duplicates: u64,
    /// Experiments given new ids (source id, database id): PostgreSQL's ids are 32-bit.
    pub renumbered: Vec<(i64, i64)>,
    /// Runs whose params, tags, metric histories and inputs the check compared.
    pub runs_compared: usize,
    /// Model versions the check compared.
    pub versions_compared: usize,
    /// Trace folders left out (with `skip_traces`).
    pub traces_skipped: usize,
}

fn lock(c: &mut Conn) -> R<()> {
    if c.engine() == Engine::Postgres {
        c.query("SELECT pg_advisory_xact_lock(?) IS NULL", &[PG_LOCK.into()])?;
    }
    Ok(())
}

/// The database id of each source experiment: the same id, except on PostgreSQL for ids beyond
/// 32 bits, which get the next ids after every id kept.
fn plan_ids(engine: Engine, exps: &[ExperimentDir]) -> BTreeMap<i64, i64> {
    let fits = |id: i64| engine == Engine::Sqlite || i32::try_from(id).is_ok();
    let mut next = exps
        .iter()
        .map(|e| e.id)
        .filter(|id| fits(*id))
        .max()
        .unwrap_or(0)
        + 1;
    let mut out = BTreeMap::new();
    for e in exps {
        let id = if fits(e.id) {
            e.id
        } else {
            next += 1;
            next - 1
        };
        out.insert(e.id, id);
    }
    out
}

/// What the transaction wrote.
#[derive(Debug, Default)]
struct Copied {
    expected: Expected,
    experiments: usize,
    duplicates: u64,
    replaced_default: bool,
}

/// The transaction: the schema, the refusal of a non-empty target, every experiment, the registry.
fn copy(
    c: &mut Conn,
    uri: &str,
    mlruns: &Path,
    exps: &[ExperimentDir],
    ids: &BTreeMap<i64, i64>,
    opts: &MigrateOptions,
) -> R<Result<Copied, NotEmpty>> {
    lock(c)?;
    schema::ensure_tables(c, uri)?;
    let state = match target::inspect(c)? {
        Ok(t) => t,
        Err(refused) => return Ok(Err(refused)),
    };
    let mut out = Copied::default();
    let has_zero = exps
        .iter()
        .any(|e| e.id == 0 && e.dir.join("meta.yaml").is_file());
    if state == Target::OnlyDefault {
        if has_zero {
            target::drop_default(c)?;
            out.replaced_default = true;
        } else {
            out.expected.kept_default();
        }
    }
    for (i, exp) in exps.iter().enumerate() {
        tracing::info!(
            experiment = exp.id,
            n = i + 1,
            of = exps.len(),
            "copying experiment"
        );
        let Some(data) = source::read_experiment(exp)? else {
            continue;
        };
        insert(c, &data.rows, ids)?;
        let db_id = ids.get(&exp.id).copied().unwrap_or(exp.id);
        out.expected
            .experiment(exp.id, db_id, &data, opts.sample_runs);
        out.duplicates += data.rows.duplicates;
        out.experiments += 1;
    }
    tracing::info!("copying the model registry");
    let (rows, names) = source::read_registry(mlruns)?;
    insert(c, &rows, ids)?;
    out.duplicates += rows.duplicates;
    out.expected.registry(&rows, names);
    set_sequence(c)?;
    tracing::info!("committing");
    Ok(Ok(out))
}

/// Inserts `rows`, with every `experiment_id` column mapped through `ids`.
fn insert(c: &mut Conn, rows: &Rows, ids: &BTreeMap<i64, i64>) -> R<()> {
    for (table, list) in &rows.by_table {
        let cols = table.columns();
        let exp_col = cols.iter().position(|c| *c == "experiment_id");
        let quoted: Vec<String> = cols.iter().map(|c| format!("\"{c}\"")).collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            table.name(),
            quoted.join(", "),
            super::common::marks(cols.len())
        );
        for row in list {
            match exp_col.and_then(|i| row.get(i).and_then(Val::int).map(|id| (i, id))) {
                Some((i, id)) if ids.get(&id).is_some_and(|db| *db != id) => {
                    let mut row = row.clone();
                    row[i] = ids.get(&id).copied().unwrap_or(id).into();
                    c.exec(&sql, &row)?;
                }
                _ => {
                    c.exec(&sql, row)?;
                }
            }
        }
    }
    Ok(())
}

fn set_sequence(c: &mut Conn) -> R<()> {
    if c.engine() == Engine::Postgres {
        c.query(
            "SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), (SELECT COALESCE(MAX(experiment_id), 0) + 1 FROM experiments), false)",
            &[],
        )?;
    }
    Ok(())
}

/// Copies the file store at `source` (a folder holding `mlruns/`, or the `mlruns` folder itself)
/// into the database at `target` (`sqlite:///path.db`, `postgresql://...`) in one transaction,
/// then checks the copy.
pub fn migrate(
    source: &Path,
    target: &str,
    opts: &MigrateOptions,
) -> Result<MigrateReport, MigrateError> {
    let mlruns = source::resolve_mlruns(source)?;
    let mlruns = std::fs::canonicalize(&mlruns).map_err(|e| TrackingError::io(&mlruns, e))?;
    let exps = source::experiments(&mlruns)?;
    let mut traces = 0;
    for e in &exps {
        traces += source::trace_count(e)?;
    }
    if traces > 0 && !opts.skip_traces {
        return Err(MigrateError::Traces { count: traces });
    }
    let store = SqlStore::connect(target, None)?;
    let uri = store.uri().to_string();
    tracing::info!(source = %mlruns.display(), target = %uri, experiments = exps.len(), "migrating a file store");
    let ids = plan_ids(store.engine(), &exps);
    let copied = store
        .write(|c| copy(c, &uri, &mlruns, &exps, &ids, opts))?
        .map_err(|r| MigrateError::NotEmpty {
            uri: uri.clone(),
            table: r.table,
            count: r.count,
        })?;
    let mut report = MigrateReport {
        source: mlruns.clone(),
        target: uri.clone(),
        experiments_copied: copied.experiments,
        replaced_default: copied.replaced_default,
        duplicates: copied.duplicates,
        traces_skipped: traces,
        renumbered: ids
            .iter()
            .filter(|(s, d)| s != d)
            .map(|(s, d)| (*s, *d))
            .collect(),
        ..Default::default()
    };
    tracing::info!("checking the copy");
    let checked = check::check(&store, &mlruns, &copied.expected)?;
    if !checked.diffs.is_empty() {
        return Err(MigrateError::Mismatch(checked.diffs));
    }
    report.counts = checked.counts;
    report.runs_compared = checked.runs_compared;
    report.versions_compared = checked.versions_compared;
    tracing::info!(target = %uri, "migration finished and checked");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(ids: &[i64]) -> Vec<ExperimentDir> {
        ids.iter()
            .map(|id| ExperimentDir {
                id: *id,
                dir: PathBuf::from(id.to_string()),
            })
            .collect()
    }

    #[test]
    fn sqlite_keeps_every_id_and_postgres_renumbers_those_beyond_32_bits() {
        let exps = dirs(&[0, 7, 197_666_762_471_132_609, 102_758_303_414_275_676]);
        let sqlite = plan_ids(Engine::Sqlite, &exps);
        assert!(sqlite.iter().all(|(s, d)| s == d), "{sqlite:?}");
        let pg = plan_ids(Engine::Postgres, &exps);
        assert_eq!(pg[&0], 0);
        assert_eq!(pg[&7], 7);
        assert_eq!(pg[&197_666_762_471_132_609], 8);
        assert_eq!(pg[&102_758_303_414_275_676], 9);
    }
}
