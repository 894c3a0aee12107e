//! MLflow's schema: created whole on an empty database (the statements `mlflow db upgrade` leaves,
//! in its order, so the result is the same table by table, column by column, index by index),
//! checked against the Alembic head otherwise. homeml never migrates: a database at another
//! revision is refused with the `mlflow db upgrade` command that brings it to the head.

use super::common::{first, join_uri, Engine, SqlErr, Val};
use super::db::Conn;
use crate::error::TrackingError;
use crate::util;

/// The Alembic revision of MLflow 3.17.2's tracking schema (its `alembic_version` row).
pub const ALEMBIC_HEAD: &str = "dc11669786a5";

/// The MLflow version whose schema this is.
pub const SCHEMA_MLFLOW_VERSION: &str = "3.17.2";

/// SQLite: sqlite_master's statements of a database `mlflow db upgrade` made.
pub(crate) const SQLITE_SCHEMA: &str = include_str!("schema/sqlite.sql");
/// PostgreSQL: `pg_dump --schema-only` of a database `mlflow db upgrade` made.
pub(crate) const POSTGRES_SCHEMA: &str = include_str!("schema/postgres.sql");

pub(crate) fn table_exists(c: &mut Conn, name: &str) -> Result<bool, SqlErr> {
    let sql = match c.engine() {
        Engine::Sqlite => "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
        Engine::Postgres => {
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?"
        }
    };
    Ok(first(c.query(sql, &[name.into()])?)
        .and_then(|v| v.int())
        .unwrap_or(0)
        > 0)
}

fn table_count(c: &mut Conn) -> Result<i64, SqlErr> {
    let sql = match c.engine() {
        Engine::Sqlite => {
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        Engine::Postgres => {
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        }
    };
    Ok(first(c.query(sql, &[])?).and_then(|v| v.int()).unwrap_or(0))
}

/// The refusal of a database at another revision, naming both and the command that upgrades it.
pub(crate) fn mismatch(found: &str, uri: &str) -> TrackingError {
    TrackingError::SchemaMismatch(format!(
        "the tracking database {uri} is at MLflow schema revision {found}, but homeml needs revision \
         {ALEMBIC_HEAD} (the Alembic head of MLflow {SCHEMA_MLFLOW_VERSION}). homeml does not migrate \
         schemas: upgrade the database with MLflow's own migrations first (back it up before): \
         `pip install mlflow=={SCHEMA_MLFLOW_VERSION} && mlflow db upgrade '{uri}'`"
    ))
}

/// Creates the schema on an empty database, or checks its revision; then makes sure experiment 0
/// ("Default") exists, as MLflow's store does when it opens a database. Runs in the caller's
/// write transaction, so two processes opening one new database create it once.
pub(crate) fn ensure(c: &mut Conn, uri: &str, artifact_root: &str) -> Result<(), SqlErr> {
    ensure_tables(c, uri)?;
    let n = first(c.query("SELECT count(*) FROM experiments", &[])?)
        .and_then(|v| v.int())
        .unwrap_or(0);
    if n == 0 {
        let now = util::now_ms();
        c.exec(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace) VALUES (0, 'Default', ?, 'active', ?, ?, 'default')",
            &[
                join_uri(artifact_root, "0").into(),
                now.into(),
                now.into(),
            ],
        )?;
    }
    Ok(())
}

/// The schema part of [`ensure`]: creates the tables on an empty database (with the
/// alembic_version and default workspace rows `mlflow db upgrade` leaves, and no experiment), or
/// checks the revision of an existing one.
pub(crate) fn ensure_tables(c: &mut Conn, uri: &str) -> Result<(), SqlErr> {
    if c.engine() == Engine::Postgres {
        // Serializes schema creation between processes (released at commit).
        c.query("SELECT pg_advisory_xact_lock(7250811961) IS NULL", &[])?;
    }
    if table_exists(c, "alembic_version")? {
        let found = c.query("SELECT version_num FROM alembic_version", &[])?;
        let found: Vec<String> = found
            .into_iter()
            .filter_map(|r| r.first().and_then(Val::text))
            .collect();
        if found.len() != 1 || found[0] != ALEMBIC_HEAD {
            let shown = if found.is_empty() {
                "(none: alembic_version is empty)".to_string()
            } else {
                found.join(", ")
            };
            return Err(mismatch(&shown, uri).into());
        }
    } else {
        if table_count(c)? > 0 {
            return Err(TrackingError::SchemaMismatch(format!(
                "the database {uri} has tables but no alembic_version table: it is not an MLflow \
                 tracking database, and homeml creates its schema only in an empty one"
            ))
            .into());
        }
        let script = match c.engine() {
            Engine::Sqlite => SQLITE_SCHEMA,
            Engine::Postgres => POSTGRES_SCHEMA,
        };
        c.batch(script)?;
        c.exec(
            "INSERT INTO alembic_version (version_num) VALUES (?)",
            &[ALEMBIC_HEAD.into()],
        )?;
        c.exec(
            "INSERT INTO workspaces (name, description) VALUES ('default', 'Default workspace for legacy resources')",
            &[],
        )?;
    }
    Ok(())
}
