//! `homeml server` driven by the real mlflow client (tests/python/tracking_server_workflow.py, mlflow
//! 3.17.2 from the test venv) over loopback: a whole training workflow with every result asserted in
//! the script (params write-once, metric history, tags, text/binary/nested/20 MB artifacts downloaded
//! byte-equal, a nested run, pyfunc and sklearn models loaded back, registration, an alias,
//! `models:/name@alias`, search with filter, order and page tokens, delete/restore, error codes); then
//! what the client logged is read back by homeml's own store code. On each backend: the file store
//! (in MLflow's layout), SQLite and PostgreSQL (MLflow's schema).

use std::process::Command;

use homeml_tracking::api::SearchRuns;
use homeml_tracking::ViewType;

use crate::backend::{Backend, Kind};
use crate::common::{self, Proc};

fn workflow(kind: Kind) {
    let tmp = tempfile::tempdir().unwrap();
    let backend = Backend::new(kind, tmp.path());
    let artifacts = tmp.path().join("mlartifacts");
    let server = Proc::start(
        &[
            "server",
            "--port",
            "0",
            "--backend-store-uri",
            &backend.uri,
            "--artifacts-destination",
            artifacts.to_str().unwrap(),
        ],
        &[("RUST_LOG", "info")],
        tmp.path().join("server.log"),
    );
    let out = common::run_ok(
        Command::new(common::python())
            .arg(common::root().join("tests/python/tracking_server_workflow.py"))
            .arg(format!("http://{}", server.addr))
            .env_remove("MLFLOW_TRACKING_URI")
            .current_dir(tmp.path()),
    );
    assert!(out.trim_end().ends_with("OK"), "{out}");

    let s = backend.open();
    let exp = s
        .get_experiment_by_name("smoke")
        .unwrap()
        .expect("experiment smoke");
    let runs = s
        .search_runs(&SearchRuns {
            experiment_ids: vec![exp.experiment_id.clone()],
            filter: None,
            view: ViewType::ActiveOnly,
            max_results: 100,
            order_by: Vec::new(),
            page_token: None,
        })
        .unwrap()
        .items;
    assert_eq!(runs.len(), 2, "the run and its nested run");
    let parent = runs
        .iter()
        .find(|r| r.parent_run_id().is_none())
        .expect("the parent run");
    assert_eq!(
        parent.data.params.get("lr").map(String::as_str),
        Some("0.1")
    );
    let hello = artifacts
        .join(&exp.experiment_id)
        .join(parent.id())
        .join("artifacts/notes/hello.txt");
    assert_eq!(std::fs::read_to_string(&hello).unwrap(), "hello");
    let mv = s
        .get_model_version_by_alias("smoke-model", "champion")
        .unwrap();
    assert_eq!(mv.version, 1);
}

#[test]
fn the_real_mlflow_client_runs_a_training_workflow_against_homeml_server() {
    workflow(Kind::File);
}

#[test]
fn the_real_mlflow_client_runs_a_training_workflow_against_homeml_server_on_sqlite() {
    workflow(Kind::Sqlite);
}

#[test]
fn the_real_mlflow_client_runs_a_training_workflow_against_homeml_server_on_postgresql() {
    workflow(Kind::Postgres);
}
