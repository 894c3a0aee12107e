//! Interop on disk between `homeml server` and real MLflow 3.17.2 (tests/python/tracking_server_interop.py,
//! one Python process): a store written through `homeml server` by the real client is read by MLflow's
//! own file store from disk, and a store written by MLflow's file store is served by a second
//! `homeml server` (started on the empty folder before MLflow writes it: the server keeps no state)
//! to the real client, down to loading a registered model by alias.

use std::process::Command;

use crate::common::{self, Proc};

fn serve(dir: &std::path::Path, log: std::path::PathBuf) -> Proc {
    let d = dir.to_str().unwrap();
    Proc::start(
        &[
            "server",
            "--port",
            "0",
            "--backend-store-uri",
            d,
            "--artifacts-destination",
            d,
        ],
        &[],
        log,
    )
}

#[test]
fn stores_written_by_homeml_server_and_by_mlflow_are_read_by_the_other() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let server_a = serve(&a, tmp.path().join("a.log"));
    let server_b = serve(&b, tmp.path().join("b.log"));
    let out = common::run_ok(
        Command::new(common::python())
            .arg(common::root().join("tests/python/tracking_server_interop.py"))
            .arg(format!("http://{}", server_a.addr))
            .arg(&a)
            .arg(format!("http://{}", server_b.addr))
            .arg(&b)
            .env("MLFLOW_ALLOW_FILE_STORE", "true")
            .env_remove("MLFLOW_TRACKING_URI")
            .current_dir(tmp.path()),
    );
    assert!(out.trim_end().ends_with("OK"), "{out}");
}
