//! End to end: `homeml quickstart --no-serve` trains the example models into a fresh store (twice: the
//! second run adds versions), `homeml serve` serves every registered model by its `@champion` alias over
//! HTTP, and each model's answers for its held-out rows equal the predictions the training run recorded.

use crate::common;

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use homeml_tracking::Store;

const MODELS: [&str; 4] = [
    "iris-classifier",
    "iris-random-forest",
    "diabetes-regressor",
    "iris-linfa",
];

fn quickstart(store: &Path) {
    common::run_ok(
        Command::new(env!("CARGO_BIN_EXE_homeml"))
            .args([
                "quickstart",
                "--no-serve",
                "--n-trees",
                "8",
                "--tracking-uri",
            ])
            .arg(store),
    );
}

fn post(addr: &str, path: &str, body: &str) -> (u16, Value) {
    let (status, body) = common::post(addr, path, body);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// The answer's values for the model's main output (`label` or `prediction`), as f64.
fn main_output(predictions: &Value) -> Vec<f64> {
    let list = match predictions {
        Value::Object(m) => m
            .get("label")
            .or_else(|| m.get("prediction"))
            .unwrap_or_else(|| panic!("no label/prediction in {predictions}")),
        v => v,
    };
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|v| v.as_f64().unwrap_or_else(|| panic!("not a number: {v}")))
        .collect()
}

#[test]
fn trained_models_serve_their_held_out_predictions() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mlruns");
    quickstart(&root);
    quickstart(&root); // running it twice adds versions, never fails

    let store = Store::open(root.to_str().unwrap()).unwrap();
    let mut config = format!(
        "host = \"127.0.0.1\"\nport = 0\ntracking_uri = \"{}\"\n",
        root.display()
    );
    for name in MODELS {
        let versions = store.search_model_versions(Some(name)).unwrap();
        assert_eq!(
            versions.len(),
            2,
            "{name}: two quickstart runs, two versions"
        );
        let champion = store.get_model_version_by_alias(name, "champion").unwrap();
        assert_eq!(
            champion.version, 2,
            "{name}: @champion follows the newest version"
        );
        config.push_str(&format!(
            "\n[[models]]\nname = \"{name}\"\nuri = \"models:/{name}@champion\"\n"
        ));
    }
    let config_path = tmp.path().join("serve.toml");
    std::fs::write(&config_path, config).unwrap();

    let server = common::Proc::start(
        &["serve", "--config", config_path.to_str().unwrap()],
        &[],
        tmp.path().join("serve.log"),
    );
    let addr = server.addr.clone();

    for name in MODELS {
        let champion = store.get_model_version_by_alias(name, "champion").unwrap();
        let run_id = champion.run_id.expect("the version names its run");
        let record: Value = serde_json::from_slice(
            &store
                .read_artifact(&run_id, "heldout_predictions.json")
                .unwrap(),
        )
        .unwrap();
        let body =
            json!({"dataframe_split": {"columns": record["columns"], "data": record["data"]}});
        let (status, answer) = post(
            &addr,
            &format!("/models/{name}/invocations"),
            &body.to_string(),
        );
        assert_eq!(status, 200, "{name}: {answer}");
        let got = main_output(&answer["predictions"]);
        let want = main_output(&record["predictions"]);
        assert_eq!(got.len(), want.len(), "{name}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                "{name} row {i}: served {g}, training recorded {w}"
            );
        }
    }
    drop(server);
}
