//! The check at the end of `homeml tracking migrate`: every table's row count in the database
//! against the rows read from the file store, then a sample of values read back through both
//! stores' [`TrackingStore`] (homeml's file store reader on one side, the SQL store on the other):
//! each experiment with its tags, the first runs of each experiment (info, params, tags, latest
//! metrics, every metric's history, dataset and model inputs), every registered model (tags,
//! aliases, description) and its versions (stage, source, run, status, tags, aliases). Each
//! difference is one line naming the object and what differs.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::Path;

use super::common::first;
use super::handle::SqlStore;
use super::migrate_source::{ExperimentRows, Rows, Table};
use crate::api::TrackingStore;
use crate::error::TrackingError;
use crate::store::Store;

/// Runs sampled per experiment by default.
const SAMPLE_RUNS: usize = 20;
/// Metric keys whose history is compared per run.
const SAMPLE_KEYS: usize = 50;
/// Model versions compared at most.
const SAMPLE_VERSIONS: usize = 500;

fn short(v: &impl Debug) -> String {
    let s = format!("{v:?}");
    if s.chars().count() > 300 {
        let head: String = s.chars().take(300).collect();
        format!("{head}...")
    } else {
        s
    }
}

/// Pushes a difference when `a` (file store) and `b` (database) differ.
fn same<T: PartialEq + Debug>(diffs: &mut Vec<String>, what: &str, a: &T, b: &T) {
    if a != b {
        diffs.push(format!(
            "{what}: file store {}, database {}",
            short(a),
            short(b)
        ));
    }
}

/// A metric's history as compared: (timestamp, step, value), sorted, each point once.
type History = Vec<(i64, i64, (u64, bool))>;

/// A metric value as the database keeps it (NaN flagged, infinities clamped), so that both
/// stores' values compare.
fn value(v: f64) -> (u64, bool) {
    let (v, is_nan) = super::common::sanitize(v);
    (v.to_bits(), is_nan)
}

fn compare_run(
    diffs: &mut Vec<String>,
    file: &Store,
    db: &SqlStore,
    run_id: &str,
    db_exp: &str,
) -> Result<(), TrackingError> {
    let a = TrackingStore::get_run(file, run_id)?;
    let b = match TrackingStore::get_run(db, run_id) {
        Ok(r) => r,
        Err(e) => {
            diffs.push(format!("run {run_id}: not readable from the database: {e}"));
            return Ok(());
        }
    };
    let what = |w: &str| format!("run {run_id} {w}");
    let (ai, bi) = (&a.info, &b.info);
    same(
        diffs,
        &what("experiment"),
        &db_exp,
        &bi.experiment_id.as_str(),
    );
    same(
        diffs,
        &what("info"),
        &(
            &ai.run_name,
            &ai.user_id,
            ai.status,
            ai.start_time,
            ai.end_time,
            &ai.artifact_uri,
            ai.lifecycle_stage,
        ),
        &(
            &bi.run_name,
            &bi.user_id,
            bi.status,
            bi.start_time,
            bi.end_time,
            &bi.artifact_uri,
            bi.lifecycle_stage,
        ),
    );
    same(diffs, &what("params"), &a.data.params, &b.data.params);
    same(diffs, &what("tags"), &a.data.tags, &b.data.tags);
    let latest = |r: &crate::entities::Run| -> BTreeMap<String, ((u64, bool), i64, i64)> {
        r.data
            .metrics
            .iter()
            .map(|(k, m)| (k.clone(), (value(m.value), m.timestamp, m.step)))
            .collect()
    };
    same(diffs, &what("latest metrics"), &latest(&a), &latest(&b));
    for key in a.data.metrics.keys().take(SAMPLE_KEYS) {
        let hist = |s: &dyn TrackingStore| -> Result<History, TrackingError> {
            let mut v: Vec<_> = s
                .get_metric_history(run_id, key, None, None)?
                .items
                .into_iter()
                .map(|m| (m.timestamp, m.step, value(m.value)))
                .collect();
            v.sort_unstable();
            v.dedup();
            Ok(v)
        };
        let ha = hist(file)?;
        match hist(db) {
            Ok(hb) => same(diffs, &what(&format!("metric '{key}' history")), &ha, &hb),
            Err(e) => diffs.push(format!("{}: {e}", what(&format!("metric '{key}'")))),
        }
    }
    let inputs = |s: &dyn TrackingStore| -> Result<_, TrackingError> {
        let i = s.get_run_inputs(run_id)?;
        let mut ds: Vec<_> = i
            .dataset_inputs
            .into_iter()
            .map(|d| (d.dataset.name, d.dataset.digest, d.dataset.source, d.tags))
            .collect();
        ds.sort();
        let mut models = i.model_inputs;
        models.sort();
        Ok((ds, models))
    };
    let ia = inputs(file)?;
    match inputs(db) {
        Ok(ib) => same(diffs, &what("inputs"), &ia, &ib),
        Err(e) => diffs.push(format!("{}: {e}", what("inputs"))),
    }
    Ok(())
}

fn compare_experiment(
    diffs: &mut Vec<String>,
    file: &Store,
    db: &SqlStore,
    src: &str,
    dst: &str,
) -> Result<(), TrackingError> {
    let a = TrackingStore::get_experiment(file, src)?;
    match TrackingStore::get_experiment(db, dst) {
        Ok(b) => same(
            diffs,
            &format!("experiment {src}"),
            &(&a.name, &a.artifact_location, a.lifecycle_stage, &a.tags),
            &(&b.name, &b.artifact_location, b.lifecycle_stage, &b.tags),
        ),
        Err(e) => diffs.push(format!(
            "experiment {src}: not readable from the database: {e}"
        )),
    }
    Ok(())
}

fn compare_registry(
    diffs: &mut Vec<String>,
    file: &Store,
    db: &SqlStore,
    names: &[String],
    versions: &[(String, u64)],
    versions_compared: &mut usize,
) -> Result<(), TrackingError> {
    for name in names {
        let a = TrackingStore::get_registered_model(file, name);
        let b = TrackingStore::get_registered_model(db, name);
        match (a, b) {
            (Ok(a), Ok(b)) => same(
                diffs,
                &format!("registered model '{name}'"),
                &(&a.description, &a.tags, &a.aliases),
                &(&b.description, &b.tags, &b.aliases),
            ),
            (Ok(_), Err(e)) => diffs.push(format!(
                "registered model '{name}': not readable from the database: {e}"
            )),
            // Unreadable in the file store too: nothing to compare.
            (Err(_), _) => {}
        }
    }
    for (name, version) in versions.iter().take(SAMPLE_VERSIONS) {
        let a = TrackingStore::get_model_version(file, name, *version);
        let b = TrackingStore::get_model_version(db, name, *version);
        let what = format!("model version '{name}' {version}");
        match (a, b) {
            (Ok(a), Ok(b)) => {
                let (mut aa, mut ba) = (a.aliases.clone(), b.aliases.clone());
                aa.sort();
                ba.sort();
                same(
                    diffs,
                    &what,
                    &(
                        &a.source,
                        &a.run_id,
                        &a.storage_location,
                        a.current_stage,
                        &a.description,
                        &a.status,
                        &a.tags,
                        aa,
                    ),
                    &(
                        &b.source,
                        &b.run_id,
                        &b.storage_location,
                        b.current_stage,
                        &b.description,
                        &b.status,
                        &b.tags,
                        ba,
                    ),
                );
                *versions_compared += 1;
            }
            (Ok(_), Err(e)) => diffs.push(format!("{what}: not readable from the database: {e}")),
            (Err(_), Ok(_)) => diffs.push(format!(
                "{what}: in the database but not readable from the file store"
            )),
            // Deleted versions: neither store shows them.
            (Err(_), Err(_)) => {}
        }
    }
    Ok(())
}

/// What the migration wrote, for the check: rows per table, the runs sampled per experiment,
/// the registered models and versions.
#[derive(Debug, Default)]
pub(crate) struct Expected {
    counts: BTreeMap<Table, u64>,
    /// (file store experiment id, database experiment id, sampled run ids).
    experiments: Vec<(String, String, Vec<String>)>,
    names: Vec<String>,
    versions: Vec<(String, u64)>,
}

impl Expected {
    /// Adds the file store's experiment `src`, copied as `db_id`, sampling `per_exp` runs (0: the
    /// default).
    pub(crate) fn experiment(
        &mut self,
        src: i64,
        db_id: i64,
        data: &ExperimentRows,
        per_exp: usize,
    ) {
        self.add(&data.rows);
        let mut runs = data.run_ids.clone();
        runs.sort();
        runs.truncate(if per_exp == 0 { SAMPLE_RUNS } else { per_exp });
        self.experiments
            .push((src.to_string(), db_id.to_string(), runs));
    }

    /// Adds the registry.
    pub(crate) fn registry(&mut self, rows: &Rows, names: Vec<String>) {
        self.add(rows);
        self.names = names;
        self.versions = rows
            .by_table
            .get(&Table::ModelVersions)
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| {
                        let name = r.first().and_then(|v| v.text())?;
                        let version = r.get(1).and_then(|v| v.int())?;
                        Some((name, u64::try_from(version).ok()?))
                    })
                    .collect()
            })
            .unwrap_or_default();
    }

    /// Counts the target's own Default experiment, kept (the file store has no experiment 0).
    pub(crate) fn kept_default(&mut self) {
        *self.counts.entry(Table::Experiments).or_default() += 1;
    }

    fn add(&mut self, rows: &Rows) {
        for t in Table::ALL {
            *self.counts.entry(t).or_default() += rows.count(t);
        }
    }
}

/// What the check found.
#[derive(Debug, Default)]
pub(crate) struct Checked {
    /// The differences, one line each (none: the copy is good).
    pub(crate) diffs: Vec<String>,
    /// Rows per table in the database.
    pub(crate) counts: BTreeMap<String, u64>,
    /// Runs compared value by value.
    pub(crate) runs_compared: usize,
    /// Model versions compared value by value.
    pub(crate) versions_compared: usize,
}

/// Row counts of every migrated table in the database.
fn db_counts(store: &SqlStore) -> Result<BTreeMap<Table, u64>, TrackingError> {
    store.read(|c| {
        let mut out = BTreeMap::new();
        for t in Table::ALL {
            let n = first(c.query(&format!("SELECT count(*) FROM {}", t.name()), &[])?)
                .and_then(|v| v.int())
                .unwrap_or(0);
            out.insert(t, u64::try_from(n).unwrap_or(0));
        }
        Ok(out)
    })
}

/// Compares the database with the file store; returns the differences (none: the copy is good).
pub(crate) fn check(
    db: &SqlStore,
    mlruns: &Path,
    expected: &Expected,
) -> Result<Checked, TrackingError> {
    let mut out = Checked::default();
    let diffs = &mut out.diffs;
    let found = db_counts(db)?;
    for t in Table::ALL {
        let (e, f) = (
            expected.counts.get(&t).copied().unwrap_or(0),
            found.get(&t).copied().unwrap_or(0),
        );
        if e != f {
            diffs.push(format!(
                "table {}: {e} rows from the file store, {f} in the database",
                t.name()
            ));
        }
        out.counts.insert(t.name().to_string(), f);
    }
    // homeml's file store reader creates experiment 0 and `.trash` in a store without them: the
    // sampled comparison needs a store MLflow made (which always has both), never writes one.
    if !mlruns.join("0").join("meta.yaml").is_file() || !mlruns.join(".trash").is_dir() {
        tracing::warn!(
            store = %mlruns.display(),
            "the file store has no experiment 0 or no .trash folder: only the row counts are checked"
        );
        return Ok(out);
    }
    let file = Store::open(mlruns.to_string_lossy())?;
    for (src, dst, runs) in &expected.experiments {
        compare_experiment(diffs, &file, db, src, dst)?;
        for run in runs {
            compare_run(diffs, &file, db, run, dst)?;
            out.runs_compared += 1;
        }
    }
    compare_registry(
        diffs,
        &file,
        db,
        &expected.names,
        &expected.versions,
        &mut out.versions_compared,
    )?;
    Ok(out)
}
