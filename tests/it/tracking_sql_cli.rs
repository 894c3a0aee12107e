//! The `homeml` commands and `homeml serve` on a tracking database: Rust training logs through
//! `homeml server` on SQLite (`homeml quickstart --no-serve`), then, with the server stopped,
//! `homeml experiments|runs|models ... --tracking-uri sqlite:///...` read the database and move an
//! alias, and `homeml serve -m models:/iris-classifier@champion --tracking-uri sqlite:///...`
//! resolves the model from the registry rows (the proxied artifacts found through
//! MLFLOW_ARTIFACTS_DESTINATION) and predicts.

use crate::common::{self, Proc};
use crate::tracking_remote::{assert_predicts_iris, assert_quickstart_listed, homeml};

#[test]
fn cli_and_serve_read_a_sqlite_tracking_database() {
    let tmp = tempfile::tempdir().unwrap();
    let db = format!("sqlite:///{}", tmp.path().join("mlflow.db").display());
    let art = tmp.path().join("mlartifacts");
    let art_s = art.to_str().unwrap();
    let server = Proc::start(
        &[
            "server",
            "--port",
            "0",
            "--backend-store-uri",
            &db,
            "--artifacts-destination",
            art_s,
            "--no-ui",
        ],
        &[],
        tmp.path().join("server.log"),
    );
    let url = format!("http://{}", server.addr);
    let out = common::run_ok(&mut homeml(&[
        "quickstart",
        "--no-serve",
        "--n-trees",
        "5",
        "--tracking-uri",
        &url,
    ]));
    assert!(
        out.contains("registered iris-classifier version 1"),
        "{out}"
    );
    drop(server);

    assert_quickstart_listed(&db);
    common::run_ok(&mut homeml(&[
        "models",
        "alias",
        "set",
        "iris-classifier",
        "staging",
        "1",
        "--tracking-uri",
        &db,
    ]));
    let s = homeml_tracking::SqlStore::open(&db).unwrap();
    let mv = homeml_tracking::TrackingStore::get_model_version_by_alias(
        &s,
        "iris-classifier",
        "staging",
    )
    .unwrap();
    assert_eq!(mv.version, 1);

    let mut cmd = homeml(&[
        "serve",
        "-m",
        "models:/iris-classifier@champion",
        "--tracking-uri",
        &db,
        "-p",
        "0",
    ]);
    cmd.env("MLFLOW_ARTIFACTS_DESTINATION", art_s);
    let serve = Proc::spawn(cmd, tmp.path().join("serve.log"));
    assert_predicts_iris(&serve.addr, "iris-classifier");

    // A database file that does not exist is an error, not a new empty database.
    let missing = format!("sqlite:///{}", tmp.path().join("nope.db").display());
    let out = homeml(&[
        "serve",
        "-m",
        "models:/iris-classifier@champion",
        "--tracking-uri",
        &missing,
        "-p",
        "0",
    ])
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(!tmp.path().join("nope.db").exists());
}
