//! Interop with the real MLflow (Python, `HOMEML_PYTHON`, else `<workspace>/.venv/bin/python`):
//! (a) MLflow writes a store and homeml reads all of it and resolves every URI form;
//! (b) homeml writes a store and MlflowClient reads it back, and `mlflow.pyfunc.load_model` predicts
//! with the ONNX model logged from Rust.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use homeml_flavor::MlModel;
use homeml_tracking::{LogModelOptions, Metric, RunOptions, RunStatus, Stage, Store, ViewType};
use serde_json::{json, Value};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> PathBuf {
    match std::env::var_os("HOMEML_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => workspace().join(".venv/bin/python"),
    }
}

fn run_script(script: &str, args: &[&Path]) -> String {
    let out = Command::new(python())
        .arg(workspace().join("tests/python").join(script))
        .args(args)
        .env("MLFLOW_ALLOW_FILE_STORE", "true")
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (set HOMEML_PYTHON or run scripts/setup-venv.sh): {e}",
                python().display()
            )
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed: {}\n{stderr}",
        out.status
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes the store with real MLflow once; returns (tempdir, store root, expected.json, iris.onnx).
fn mlflow_tree() -> (tempfile::TempDir, PathBuf, Value, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("mlruns");
    let out = d.path().join("out");
    run_script("tracking_mlflow_writes.py", &[&root, &out]);
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("expected.json")).unwrap()).unwrap();
    (d, root, expected, out.join("iris.onnx"))
}

fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) => s.parse().unwrap(),
        other => panic!("not a number: {other}"),
    }
}

fn check_mlflow_tree(root: &Path, exp: &Value) {
    let store = Store::open(root.to_str().unwrap()).unwrap();
    let exp_id = exp["experiment_id"].as_str().unwrap();
    let e = store.get_experiment_by_name("interop").unwrap().unwrap();
    assert_eq!(e.experiment_id, exp_id);
    assert_eq!(e.tags["team"], "homeml");
    assert!(store
        .list_experiments()
        .unwrap()
        .iter()
        .any(|e| e.name == "Default"));

    // Runs: two active, one deleted.
    let runs = store.search_runs(&[exp_id]).unwrap();
    let mut ids: Vec<&str> = runs.iter().map(|r| r.id()).collect();
    ids.sort();
    let mut want: Vec<&str> = vec![
        exp["run_a"].as_str().unwrap(),
        exp["run_b"].as_str().unwrap(),
    ];
    want.sort();
    assert_eq!(ids, want);
    let deleted = store
        .search_runs_view(&[exp_id], ViewType::DeletedOnly)
        .unwrap();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].id(), exp["deleted_run"].as_str().unwrap());

    for (run_id, w) in exp["runs"].as_object().unwrap() {
        let r = store.get_run(run_id).unwrap();
        assert_eq!(r.info.run_name, w["name"].as_str().unwrap());
        assert_eq!(r.info.status, RunStatus::Finished);
        let params: BTreeMap<String, String> = serde_json::from_value(w["params"].clone()).unwrap();
        assert_eq!(r.data.params, params);
        let tags: BTreeMap<String, String> = serde_json::from_value(w["tags"].clone()).unwrap();
        assert_eq!(r.data.tags, tags);
        for (k, v) in w["metrics"].as_object().unwrap() {
            assert_eq!(r.data.metrics[k].value, as_f64(v), "latest {k}");
        }
        for (k, hist) in w["history"].as_object().unwrap() {
            let got = store.get_metric_history(run_id, k).unwrap();
            let hist = hist.as_array().unwrap();
            assert_eq!(got.len(), hist.len(), "history of {k}");
            for (g, h) in got.iter().zip(hist) {
                assert_eq!(g.value, as_f64(&h["value"]));
                assert_eq!(g.step, h["step"].as_i64().unwrap());
                assert_eq!(g.timestamp, h["timestamp"].as_i64().unwrap());
            }
        }
    }
    let b = store.get_run(exp["run_b"].as_str().unwrap()).unwrap();
    assert_eq!(b.parent_run_id(), exp["run_a"].as_str());

    // Registry.
    let rm = store.get_registered_model("iris-onnx").unwrap();
    assert_eq!(rm.description.as_deref(), exp["description"].as_str());
    assert_eq!(rm.aliases["champion"], 2);
    let versions = store.search_model_versions(Some("iris-onnx")).unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].current_stage, Stage::Production);
    assert_eq!(versions[0].tags["validated"], "true");
    assert_eq!(versions[1].aliases, vec!["champion".to_string()]);

    // Every URI form resolves to the logged model's directory.
    let model_dir = PathBuf::from(exp["model_dir"].as_str().unwrap());
    let model_id = exp["model_id"].as_str().unwrap();
    let run_a = exp["run_a"].as_str().unwrap();
    let uris = [
        ("models:/iris-onnx/1".to_string(), Some(1)),
        ("models:/iris-onnx/2".to_string(), Some(2)),
        ("models:/iris-onnx@champion".to_string(), Some(2)),
        ("models:/iris-onnx/Production".to_string(), Some(1)),
        ("models:/iris-onnx/latest".to_string(), Some(2)),
        (format!("models:/{model_id}"), None),
        (format!("runs:/{run_a}/model"), None),
        (model_dir.display().to_string(), None),
        (format!("file://{}", model_dir.display()), None),
    ];
    for (uri, version) in uris {
        let r = store
            .resolve_model_uri(&uri)
            .unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert_eq!(r.path, model_dir, "{uri}");
        assert_eq!(r.version, version, "{uri}");
        assert_eq!(r.model_id.as_deref(), Some(model_id), "{uri}");
        assert_eq!(r.run_id.as_deref(), Some(run_a), "{uri}");
        let mm = MlModel::read_dir(&r.path).unwrap();
        assert!(mm.flavor("onnx").is_some() && mm.flavor("python_function").is_some());
    }
    assert!(store
        .resolve_model_uri("models:/iris-onnx/Staging")
        .is_err());
}

/// An MLflow model directory for an ONNX file, with the `onnx` and `python_function` flavors.
fn onnx_model_dir(base: &Path, onnx: &Path) -> PathBuf {
    let dir = base.join("rust-model");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(onnx, dir.join("model.onnx")).unwrap();
    let example = json!([[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]]);
    std::fs::write(dir.join("input_example.json"), example.to_string()).unwrap();
    let mut m = MlModel::default();
    m.add_flavor(
        "onnx",
        json!({"code": null, "data": "model.onnx", "onnx_session_options": null,
               "onnx_version": "1.17.0", "providers": ["CPUExecutionProvider"]}),
    );
    m.add_flavor(
        "python_function",
        json!({"data": "model.onnx", "loader_module": "mlflow.onnx", "python_version": "3.11.7"}),
    );
    m.signature = Some(homeml_flavor::mlmodel::RawSignature {
        inputs: Some(
            r#"[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}, "name": "X"}]"#
                .into(),
        ),
        outputs: None,
        params: None,
    });
    m.saved_input_example_info =
        Some(json!({"artifact_path": "input_example.json", "type": "ndarray"}));
    m.write_dir(&dir).unwrap();
    dir
}

#[test]
fn mlflow_writes_homeml_reads_then_homeml_writes_mlflow_reads() {
    let (d, root, expected, onnx) = mlflow_tree();
    check_mlflow_tree(&root, &expected);

    // (b) homeml writes a store.
    let root_b = d.path().join("from-rust");
    let store = Store::open(root_b.to_str().unwrap()).unwrap();
    let exp_id = store.create_experiment("from-rust").unwrap();
    store
        .set_experiment_tag(&exp_id, "origin", "homeml")
        .unwrap();
    let parent = store
        .start_run(
            &exp_id,
            RunOptions {
                name: Some("train".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let pid = parent.id().to_string();
    store.log_param(&pid, "lr", "0.05").unwrap();
    store.log_param(&pid, "opt/name", "sgd").unwrap();
    store.set_tag(&pid, "owner", "rust").unwrap();
    let base = 1_795_000_000_000i64;
    let mut history: Vec<Metric> = Vec::new();
    for step in 0..6 {
        let v = 1.0 / (step as f64 + 1.0);
        store
            .log_metric(&pid, "loss", v, step, Some(base + step))
            .unwrap();
        history.push(Metric {
            key: "loss".into(),
            value: v,
            timestamp: base + step,
            step,
        });
    }
    let batch = vec![
        Metric {
            key: "acc".into(),
            value: 0.8,
            timestamp: base,
            step: 0,
        },
        Metric {
            key: "acc".into(),
            value: f64::NAN,
            timestamp: base + 1,
            step: 1,
        },
        Metric {
            key: "acc".into(),
            value: 0.9,
            timestamp: base + 2,
            step: 2,
        },
    ];
    store
        .log_batch(&pid, &batch, &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    let child = store
        .start_run(
            &exp_id,
            RunOptions {
                name: Some("child".into()),
                parent_run_id: Some(pid.clone()),
                ..Default::default()
            },
        )
        .unwrap();
    store
        .log_metric(child.id(), "loss", 0.3, 0, Some(base))
        .unwrap();
    store.end_run(child.id(), RunStatus::Finished).unwrap();
    let doomed = store.start_run(&exp_id, RunOptions::default()).unwrap();
    store.delete_run(doomed.id()).unwrap();

    let src = onnx_model_dir(d.path(), &onnx);
    let lm = store
        .log_model(
            &pid,
            "model",
            &src,
            LogModelOptions {
                register_as: Some("iris-rust".into()),
            },
        )
        .unwrap();
    assert_eq!(lm.registered_version, Some(1));
    store
        .create_model_version("iris-rust", &format!("models:/{}", lm.model_id))
        .unwrap();
    store.set_alias("iris-rust", "prod", 1).unwrap();
    store
        .set_model_version_tag("iris-rust", 1, "validated", "yes")
        .unwrap();
    store
        .transition_stage("iris-rust", 2, Stage::Staging)
        .unwrap();
    store
        .set_registered_model_description("iris-rust", Some("iris from rust"))
        .unwrap();
    store.end_run(&pid, RunStatus::Finished).unwrap();

    let mut runs = serde_json::Map::new();
    for id in [pid.as_str(), child.id()] {
        let r = store.get_run(id).unwrap();
        let mut hist = serde_json::Map::new();
        let mut latest = serde_json::Map::new();
        for k in r.data.metrics.keys() {
            let h: Vec<Value> = store
                .get_metric_history(id, k)
                .unwrap()
                .iter()
                .map(|m| {
                    json!({"value": homeml_tracking::util::py_float(m.value),
                           "step": m.step, "timestamp": m.timestamp})
                })
                .collect();
            hist.insert(k.clone(), Value::Array(h));
            latest.insert(
                k.clone(),
                json!(homeml_tracking::util::py_float(r.data.metrics[k].value)),
            );
        }
        runs.insert(
            id.to_string(),
            json!({
                "name": r.info.run_name, "status": r.info.status.as_str(),
                "params": r.data.params, "tags": r.data.tags, "history": hist, "latest": latest,
                "parent": r.parent_run_id(),
                "model_id": if id == pid { Some(lm.model_id.clone()) } else { None },
            }),
        );
    }
    assert_eq!(store.get_metric_history(&pid, "loss").unwrap(), history);
    let expected_b = json!({
        "experiment_name": "from-rust",
        "experiment_id": exp_id,
        "experiment_tags": {"origin": "homeml"},
        "runs": runs,
        "deleted_run": doomed.id(),
        "model_name": "iris-rust",
        "model_description": "iris from rust",
        "alias": "prod",
        "alias_version": 1,
        "version_tags": {"validated": "yes"},
        "model_run": pid,
        "model_id": lm.model_id,
        "v2_stage": "Staging",
        "onnx_path": onnx,
    });
    let exp_path = d.path().join("expected-b.json");
    std::fs::write(
        &exp_path,
        serde_json::to_string_pretty(&expected_b).unwrap(),
    )
    .unwrap();
    let out = run_script("tracking_mlflow_reads.py", &[&root_b, &exp_path]);
    assert!(out.contains("OK"), "{out}");
    eprintln!("{out}");
}
