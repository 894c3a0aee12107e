//! `homeml tracking migrate` against `mlflow migrate-filestore` (the pinned mlflow 3.17.2): the real
//! MLflow client writes one file store (tests/python/tracking_migrate.py `build`: experiments with
//! tags, one deleted; params, metric history with NaN and ±inf, tags, a nested run, a deleted run,
//! a dataset input, an MLflow 3 logged model as output and input, a registry with versions, tags, a
//! stage and an alias), MLflow migrates it into SQLite once (shared by the tests), and homeml
//! migrates it into SQLite and PostgreSQL: the databases are compared with MLflow's table by table
//! (random uuids normalized through what they join), and the MLflow client reads each and sees
//! what it sees in the file store. A non-empty target is refused, a target holding only a tracking
//! server's Default experiment is not (its experiment 0 is replaced, not duplicated); a migration
//! stopped by a corrupt file or killed mid-copy leaves nothing, and completes when run again.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use homeml_tracking::{SqlStore, TrackingStore};

use crate::backend::PgCluster;
use crate::common;

/// The file store built once and MLflow's migration of it.
struct Fixture {
    /// The folder holding `mlruns/`.
    root: PathBuf,
    /// `sqlite:///` URI of `mlflow migrate-filestore`'s database.
    mlflow_db: String,
    /// The ids the build printed.
    ids: serde_json::Value,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tracking_migrate");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let out = common::run_ok(
            Command::new(common::python())
                .arg(common::root().join("tests/python/tracking_migrate.py"))
                .arg("build")
                .arg(&root)
                .env_remove("MLFLOW_TRACKING_URI")
                .current_dir(&root),
        );
        let ids: serde_json::Value =
            serde_json::from_str(out.lines().last().unwrap_or("")).unwrap();
        let db = root.join("mlflow.db");
        let mlflow_db = format!("sqlite:///{}", db.display());
        common::run_ok(
            Command::new(common::venv_tool("mlflow"))
                .args(["migrate-filestore", "--source"])
                .arg(&root)
                .args(["--target", &mlflow_db, "--no-progress"])
                .env("MLFLOW_ALLOW_FILE_STORE", "true")
                .current_dir(&root),
        );
        Fixture {
            root,
            mlflow_db,
            ids,
        }
    })
}

fn homeml_migrate(from: &Path, to: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_homeml"))
        .args(["tracking", "migrate", "--json", "--from"])
        .arg(from)
        .args(["--to", to])
        .output()
        .unwrap()
}

/// Runs the migration, which must succeed; returns its JSON report.
fn migrate_ok(from: &Path, to: &str) -> serde_json::Value {
    let out = homeml_migrate(from, to);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "homeml tracking migrate failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Runs the migration, which must fail; returns its stderr.
fn migrate_err(from: &Path, to: &str) -> String {
    let out = homeml_migrate(from, to);
    assert!(
        !out.status.success(),
        "homeml tracking migrate succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn py(args: &[&str]) -> String {
    let out = common::run_ok(
        Command::new(common::python())
            .arg(common::root().join("tests/python/tracking_migrate.py"))
            .args(args)
            .env_remove("MLFLOW_TRACKING_URI")
            .current_dir(&fixture().root),
    );
    let jobs = args.iter().filter(|a| **a == "+").count() + 1;
    assert_eq!(
        out.lines().filter(|l| *l == "OK").count(),
        jobs,
        "{args:?}: {out}"
    );
    out
}

fn mlruns() -> String {
    fixture().root.join("mlruns").display().to_string()
}

/// Copies a folder tree (the store, for the tests that change it).
fn copy_tree(from: &Path, to: &Path) {
    common::run_ok(Command::new("cp").arg("-a").arg(from).arg(to));
}

#[test]
fn migrate_into_sqlite_equals_mlflow_migrate_filestore_and_refuses_a_non_empty_target() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let db = format!("sqlite:///{}", tmp.path().join("homeml.db").display());
    let report = migrate_ok(&f.root, &db);
    assert_eq!(report["experiments_copied"], 4, "{report}");
    assert_eq!(report["replaced_default"], false, "{report}");
    assert_eq!(report["counts"]["runs"], 6, "{report}");
    assert_eq!(report["runs_compared"], 6, "{report}");
    assert_eq!(report["versions_compared"], 2, "{report}");
    assert_eq!(report["renumbered"], serde_json::json!([]), "{report}");
    // A database a tracking server opened (only its Default experiment) is a valid target: the
    // store's experiment 0 replaces the Default one.
    let served = format!("sqlite:///{}", tmp.path().join("served.db").display());
    SqlStore::open(&served).unwrap();
    let report = migrate_ok(&f.root, &served);
    assert_eq!(report["replaced_default"], true, "{report}");
    assert_eq!(report["counts"]["experiments"], 4, "{report}");
    let mlruns = mlruns();
    let out = py(&[
        "compare",
        &db,
        &f.mlflow_db,
        "+",
        "read",
        &db,
        &mlruns,
        "+",
        "compare",
        &served,
        &f.mlflow_db,
    ]);
    println!("{out}");

    // Done: the same command again is refused (the database has data).
    let err = migrate_err(&f.root, &db);
    assert!(
        err.contains("is not empty: table 'experiments' has 4 rows"),
        "{err}"
    );
    // A served database with one experiment besides Default is refused (Default not counted) and
    // left as it was.
    let used = format!("sqlite:///{}", tmp.path().join("used.db").display());
    let store = SqlStore::open(&used).unwrap();
    let exp = store
        .create_experiment(homeml_tracking::api::CreateExperiment {
            name: "mine".into(),
            ..Default::default()
        })
        .unwrap();
    drop(store);
    let err = migrate_err(&f.root, &used);
    assert!(err.contains("table 'experiments' has 1 rows"), "{err}");
    let store = SqlStore::open(&used).unwrap();
    assert_eq!(store.get_experiment("0").unwrap().name, "Default");
    assert_eq!(store.get_experiment(&exp).unwrap().name, "mine");
    assert!(store.get_run(f.ids["parent"].as_str().unwrap()).is_err());
}

#[test]
fn migrate_into_postgresql_equals_mlflow_migrate_filestore_with_32_bit_ids() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let pg = PgCluster::start(&tmp.path().join("pg"));
    let db = pg.create_db("migrated");
    let report = migrate_ok(&f.root, &db);
    assert_eq!(report["experiments_copied"], 4, "{report}");
    assert_eq!(report["runs_compared"], 6, "{report}");
    // The file store's three 18-digit experiment ids do not fit PostgreSQL's integer column.
    assert_eq!(
        report["renumbered"].as_array().map(Vec::len),
        Some(3),
        "{report}"
    );
    let mlruns = mlruns();
    py(&[
        "compare",
        &db,
        &f.mlflow_db,
        "--map-experiment-ids",
        "+",
        "read",
        &db,
        &mlruns,
    ]);
    // The experiments' sequence is past the copied ids: a new experiment gets a free one.
    let store = SqlStore::open(&db).unwrap();
    let id = store
        .create_experiment(homeml_tracking::api::CreateExperiment {
            name: "after-migration".into(),
            ..Default::default()
        })
        .unwrap();
    assert!(id.parse::<i64>().unwrap() > 3, "{id}");
    let err = migrate_err(&f.root, &db);
    assert!(err.contains("is not empty"), "{err}");
}

/// The active experiment folder migrated last (numbered folders in name order; `.trash` after).
fn last_active_experiment(mlruns: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(mlruns)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.parse::<i64>().is_ok())
        })
        .collect();
    dirs.sort();
    dirs.pop().unwrap()
}

#[test]
fn a_migration_stopped_by_a_corrupt_file_leaves_nothing_and_completes_when_run_again() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    copy_tree(&f.root.join("mlruns"), &store);
    let last = last_active_experiment(&store);
    let run = std::fs::read_dir(&last)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.join("metrics")
                .read_dir()
                .is_ok_and(|mut d| d.next().is_some())
        })
        .unwrap();
    let metric = std::fs::read_dir(run.join("metrics"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.is_file())
        .unwrap();
    let good = std::fs::read(&metric).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&metric)
        .unwrap()
        .write_all(b"not a metric line\n")
        .unwrap();

    let db = format!("sqlite:///{}", tmp.path().join("stopped.db").display());
    let err = migrate_err(&store, &db);
    assert!(
        err.contains("malformed metric line") && err.contains(&*metric.to_string_lossy()),
        "{err}"
    );
    // Nothing was written, not even the experiments before the bad file (opening the database
    // now gives a new one: the schema and a Default experiment).
    assert_nothing_migrated(&db);
    std::fs::write(&metric, good).unwrap();
    let report = migrate_ok(&store, &db);
    assert_eq!(report["experiments_copied"], 4, "{report}");
    assert_eq!(report["replaced_default"], true, "{report}");
    // The same database as MLflow's of the (good) store: one experiment 0, the store's.
    py(&["compare", &db, &f.mlflow_db]);
}

/// The database holds no migrated experiment or run, only what `SqlStore::open` creates.
fn assert_nothing_migrated(db: &str) {
    let f = fixture();
    let store = SqlStore::open(db).unwrap();
    let exps = store
        .search_experiments(&homeml_tracking::api::SearchExperiments {
            filter: None,
            order_by: Vec::new(),
            max_results: 100,
            page_token: None,
            view: homeml_tracking::entities::ViewType::All,
        })
        .unwrap();
    let ids: Vec<&str> = exps
        .items
        .iter()
        .map(|e| e.experiment_id.as_str())
        .collect();
    assert_eq!(ids, ["0"], "{exps:?}");
    for key in ["parent", "child", "kept", "default_run"] {
        assert!(
            store.get_run(f.ids[key].as_str().unwrap()).is_err(),
            "{key}"
        );
    }
}

/// Writes experiment `id` with one run of `n` metric values into a file store.
fn big_experiment(mlruns: &Path, id: &str, run: &str, n: usize) {
    let exp = mlruns.join(id);
    let run_dir = exp.join(run);
    std::fs::create_dir_all(run_dir.join("metrics")).unwrap();
    std::fs::create_dir_all(run_dir.join("params")).unwrap();
    std::fs::create_dir_all(run_dir.join("tags")).unwrap();
    std::fs::write(
        exp.join("meta.yaml"),
        format!("artifact_location: file://{}\ncreation_time: 1700000000000\nexperiment_id: '{id}'\nlast_update_time: 1700000000000\nlifecycle_stage: active\nname: big\n", exp.display()),
    )
    .unwrap();
    std::fs::write(
        run_dir.join("meta.yaml"),
        format!("artifact_uri: file://{}/artifacts\nend_time: 1700000001000\nentry_point_name: ''\nexperiment_id: '{id}'\nlifecycle_stage: active\nrun_id: {run}\nrun_name: big-run\nrun_uuid: {run}\nsource_name: ''\nsource_type: 4\nsource_version: ''\nstart_time: 1700000000000\nstatus: 3\ntags: []\nuser_id: tester\n", run_dir.display()),
    )
    .unwrap();
    std::fs::write(run_dir.join("params/size"), n.to_string()).unwrap();
    std::fs::write(run_dir.join("tags/mlflow.runName"), "big-run").unwrap();
    let mut lines = String::with_capacity(n * 32);
    for i in 0..n {
        lines.push_str(&format!(
            "{} {} {i}\n",
            1_700_000_000_000u64 + i as u64,
            i as f64 * 0.5
        ));
    }
    std::fs::write(run_dir.join("metrics/loss"), lines).unwrap();
}

#[test]
fn a_killed_migration_leaves_nothing_and_completes_when_run_again() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    copy_tree(&f.root.join("mlruns"), &store);
    // Numbered folders are copied in name order: this one after every other active experiment,
    // which are written (not committed) when the kill comes.
    let big = "999999999999999999";
    let run = "b".repeat(32);
    let n = 120_000;
    big_experiment(&store, big, &run, n);
    let db = format!("sqlite:///{}", tmp.path().join("killed.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_homeml"))
        .args(["tracking", "migrate", "--from"])
        .arg(&store)
        .args(["--to", &db])
        // The progress lines the kill waits for.
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let marker = format!("experiment={big}");
    let seen = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains(&marker));
    assert!(seen, "the migration never reached experiment {big}");
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the migration finished before the kill");

    // The experiments before the big one are not there either: one transaction.
    assert_nothing_migrated(&db);
    let partial = SqlStore::open(&db).unwrap();
    assert!(partial.get_run(&run).is_err());
    drop(partial);

    let report = migrate_ok(&store, &db);
    assert_eq!(report["experiments_copied"], 5, "{report}");
    assert_eq!(report["replaced_default"], true, "{report}");
    assert_eq!(report["counts"]["metrics"], 13 + n as u64, "{report}");
    let done = SqlStore::open(&db).unwrap();
    let hist = done.get_metric_history(&run, "loss", None, None).unwrap();
    assert_eq!(hist.items.len(), n);
    assert_eq!(
        done.get_run(&run).unwrap().data.metrics["loss"].step,
        n as i64 - 1
    );
}
