//! The SQL store's schema is MLflow's: on an empty SQLite file and an empty PostgreSQL database,
//! homeml creates exactly what `mlflow db upgrade` (the pinned mlflow) creates, compared table by
//! table, column by column, index by index, constraint by constraint, with the alembic_version row
//! (tests/python/sql_schema_compare.py, SQLAlchemy's inspector; for SQLite also every CREATE
//! statement). A database at another Alembic revision is refused with a message naming the
//! revision found, the one needed and the `mlflow db upgrade` command.

use std::process::Command;

use homeml_tracking::sql::ALEMBIC_HEAD;
use homeml_tracking::SqlStore;

use crate::backend::PgCluster;
use crate::common;

fn mlflow_db_upgrade(uri: &str) {
    common::run_ok(Command::new(common::venv_tool("mlflow")).args(["db", "upgrade", uri]));
}

fn compare(reference: &str, candidate: &str) -> String {
    let out = common::run_ok(
        Command::new(common::python())
            .arg(common::root().join("tests/python/sql_schema_compare.py"))
            .args([reference, candidate]),
    );
    assert!(out.trim_end().ends_with("OK"), "{out}");
    println!("{out}");
    out
}

#[test]
fn homeml_creates_mlflows_schema_on_empty_sqlite_and_refuses_another_revision() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = format!("sqlite:///{}", tmp.path().join("ref.db").display());
    let homeml = format!("sqlite:///{}", tmp.path().join("homeml.db").display());
    mlflow_db_upgrade(&reference);
    SqlStore::open(&homeml).unwrap();
    let out = compare(&reference, &homeml);
    assert!(out.contains(ALEMBIC_HEAD), "{out}");
    // Opening it again (and the database mlflow made) checks, creates nothing twice.
    SqlStore::open(&homeml).unwrap();
    SqlStore::open(&reference).unwrap();

    // A database at another revision is refused, naming both revisions and the upgrade command.
    let old = tmp.path().join("old.db");
    std::fs::copy(tmp.path().join("ref.db"), &old).unwrap();
    common::run_ok(Command::new(common::python()).arg("-c").arg(format!(
        "import sqlite3; c = sqlite3.connect({:?}); c.execute(\"update alembic_version set version_num = '4800ff7a3a3f'\"); c.commit()",
        old.display().to_string()
    )));
    let old_uri = format!("sqlite:///{}", old.display());
    let err = SqlStore::open(&old_uri).unwrap_err().to_string();
    for part in ["4800ff7a3a3f", ALEMBIC_HEAD, "mlflow db upgrade", &old_uri] {
        assert!(err.contains(part), "{part} not in: {err}");
    }
    // Tables that are not MLflow's: refused, nothing created.
    let other = tmp.path().join("other.db");
    common::run_ok(Command::new(common::python()).arg("-c").arg(format!(
        "import sqlite3; c = sqlite3.connect({:?}); c.execute('create table t (x int)'); c.commit()",
        other.display().to_string()
    )));
    let err = SqlStore::open(&format!("sqlite:///{}", other.display()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no alembic_version"), "{err}");
}

#[test]
fn homeml_creates_mlflows_schema_on_empty_postgresql() {
    let tmp = tempfile::tempdir().unwrap();
    let pg = PgCluster::start(&tmp.path().join("pg"));
    let reference = pg.create_db("reference");
    let homeml = pg.create_db("homeml");
    mlflow_db_upgrade(&reference);
    SqlStore::open(&homeml).unwrap();
    let out = compare(&reference, &homeml);
    assert!(out.contains(ALEMBIC_HEAD), "{out}");
    SqlStore::open(&homeml).unwrap();
    SqlStore::open(&reference).unwrap();
}
