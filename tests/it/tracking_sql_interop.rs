//! homeml server and the real `mlflow server` (mlflow 3.17.2 from the test venv) on one database,
//! in both orders, through the real MLflow client (tests/python/tracking_sql_interop.py): homeml
//! creates the database and writes; mlflow server starts on it (it accepts the schema as its own
//! head), reads everything homeml wrote and writes its own; homeml starts again and reads what
//! mlflow wrote. Params, metric history with NaN, tags, nested runs, filters, order and page tokens,
//! artifacts, registered models with tags, versions, aliases. On SQLite and PostgreSQL.

use std::path::Path;
use std::process::Command;

use crate::backend::{Backend, Kind};
use crate::common::{self, Proc};
use crate::tracking_server_diff::start_mlflow_on;

fn driver(dir: &Path, phase: &str, url: &str, tag: &str) {
    let out = common::run_ok(
        Command::new(common::python())
            .arg(common::root().join("tests/python/tracking_sql_interop.py"))
            .args([phase, url, tag])
            .env_remove("MLFLOW_TRACKING_URI")
            .current_dir(dir),
    );
    assert!(out.trim_end().ends_with("OK"), "{phase} {tag}: {out}");
}

fn homeml(dir: &Path, backend: &Backend, artifacts: &str, log: &str) -> Proc {
    Proc::start(
        &[
            "server",
            "--port",
            "0",
            "--backend-store-uri",
            &backend.uri,
            "--artifacts-destination",
            artifacts,
            "--no-ui",
        ],
        &[],
        dir.join(log),
    )
}

fn interop(kind: Kind) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let backend = Backend::new(kind, dir);
    let artifacts = dir.join("mlartifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let artifacts = artifacts.to_str().unwrap();

    let first = homeml(dir, &backend, artifacts, "homeml-1.log");
    driver(dir, "write", &format!("http://{}", first.addr), "homeml");
    drop(first);

    let mlflow = start_mlflow_on(dir, &backend.uri, artifacts);
    let url = format!("http://127.0.0.1:{}", mlflow.port);
    driver(dir, "read", &url, "homeml");
    driver(dir, "write", &url, "mlflow");
    drop(mlflow);

    let second = homeml(dir, &backend, artifacts, "homeml-2.log");
    let url = format!("http://{}", second.addr);
    driver(dir, "read", &url, "mlflow");
    driver(dir, "read", &url, "homeml");
}

#[test]
fn homeml_and_mlflow_servers_read_each_others_writes_on_sqlite() {
    interop(Kind::Sqlite);
}

#[test]
fn homeml_and_mlflow_servers_read_each_others_writes_on_postgresql() {
    interop(Kind::Postgres);
}
