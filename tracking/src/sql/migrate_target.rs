//! The target side of `homeml tracking migrate`: whether a database may receive a file store.
//!
//! As `mlflow migrate-filestore`, a database with rows in `experiments`, `runs` or
//! `registered_models` is refused, with one exception: the Default experiment (id 0) that a
//! tracking server's schema setup inserts into a new database (homeml's, or MLflow's) does not
//! count while nothing refers to it. The migration replaces that experiment with the file store's
//! own experiment 0, so the database never holds two.

use super::common::{first, R};
use super::db::Conn;
use super::schema;

/// What the target holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// No experiments, runs or registered models.
    Empty,
    /// Only an untouched Default experiment 0.
    OnlyDefault,
}

/// Why the target is refused: the first table found with rows, and how many (the untouched
/// Default experiment left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotEmpty {
    /// The table.
    pub(crate) table: &'static str,
    /// Its rows.
    pub(crate) count: i64,
}

fn count(c: &mut Conn, sql: &str) -> R<i64> {
    Ok(first(c.query(sql, &[])?).and_then(|v| v.int()).unwrap_or(0))
}

/// The tables of MLflow's schema with an `experiment_id` foreign key to `experiments`.
fn experiment_children() -> Vec<&'static str> {
    schema::SQLITE_SCHEMA
        .split("CREATE TABLE ")
        .skip(1)
        .filter(|chunk| chunk.contains("FOREIGN KEY(experiment_id) REFERENCES experiments"))
        .filter_map(|chunk| chunk.split_whitespace().next())
        .map(|name| name.trim_matches('"'))
        .collect()
}

/// Whether experiment 0 is a Default experiment nothing refers to (no tags, datasets, logged
/// models, traces, ...; runs are counted on their own).
fn untouched_default(c: &mut Conn) -> R<bool> {
    let named = count(
        c,
        "SELECT count(*) FROM experiments WHERE experiment_id = 0 AND name = 'Default'",
    )?;
    if named != 1 {
        return Ok(false);
    }
    for table in experiment_children() {
        if !schema::table_exists(c, table)? {
            continue;
        }
        let n = count(
            c,
            &format!("SELECT count(*) FROM \"{table}\" WHERE experiment_id = 0"),
        )?;
        if n > 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Inspects the target (its tables exist): empty, only the Default experiment, or refused.
pub(crate) fn inspect(c: &mut Conn) -> R<Result<Target, NotEmpty>> {
    let mut target = Target::Empty;
    for table in ["experiments", "runs", "registered_models"] {
        let mut n = count(c, &format!("SELECT count(*) FROM {table}"))?;
        if table == "experiments" && n > 0 && untouched_default(c)? {
            target = Target::OnlyDefault;
            n -= 1;
        }
        if n > 0 {
            return Ok(Err(NotEmpty { table, count: n }));
        }
    }
    Ok(Ok(target))
}

/// Deletes the untouched Default experiment (the file store's experiment 0 replaces it).
pub(crate) fn drop_default(c: &mut Conn) -> R<()> {
    c.exec("DELETE FROM experiments WHERE experiment_id = 0", &[])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_referring_to_experiments_come_from_the_schema() {
        let t = experiment_children();
        for name in [
            "runs",
            "experiment_tags",
            "datasets",
            "logged_models",
            "trace_info",
        ] {
            assert!(t.contains(&name), "{name} not in {t:?}");
        }
        assert!(!t.contains(&"experiments"), "{t:?}");
    }
}
