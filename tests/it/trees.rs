//! LightGBM and XGBoost models as MLflow's own flavors log them (`mlflow.lightgbm.log_model`,
//! `mlflow.xgboost.log_model`): one Python process (tests/python/trees_models.py) trains them on
//! scikit-learn's bundled datasets and records what the libraries predict (through `mlflow.pyfunc`) for
//! rows with missing and out-of-range values. Every model is loaded through homeml's flavor registry and
//! compared; two are served by `homeml serve` and asked over HTTP with `null` and the bare `NaN` literal;
//! damaged and unsupported models are refused with the file and the reason.

use crate::common::{self, Proc};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use homeml_flavor::{LoadOptions, Tensor, TensorData};
use serde_json::Value;

struct Generated {
    _dir: tempfile::TempDir,
    root: PathBuf,
    cases: Vec<Value>,
}

/// The models, generated once for the module's tests.
fn generated() -> &'static Generated {
    static GEN: OnceLock<Generated> = OnceLock::new();
    GEN.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = dir.path().to_path_buf();
        common::run_ok(
            Command::new(common::python())
                .arg(common::root().join("tests/python/trees_models.py"))
                .arg(&root)
                .env("MLFLOW_ALLOW_FILE_STORE", "true"),
        );
        let text = std::fs::read_to_string(root.join("cases.json")).expect("cases.json");
        let doc: Value = serde_json::from_str(&text).expect("cases.json is JSON");
        let cases = doc["models"].as_array().expect("models").clone();
        assert!(cases.len() >= 14, "{} models generated", cases.len());
        Generated {
            _dir: dir,
            root,
            cases,
        }
    })
}

fn case(name: &str) -> &'static Value {
    generated()
        .cases
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no generated model {name}"))
}

fn rows_of(case: &Value) -> (usize, usize, Vec<f64>) {
    let rows = case["rows"].as_array().expect("rows");
    let width = rows[0].as_array().expect("a row").len();
    let values = rows
        .iter()
        .flat_map(|r| r.as_array().expect("a row").iter())
        .map(|v| v.as_f64().unwrap_or(f64::NAN))
        .collect();
    (rows.len(), width, values)
}

/// Compares one model's answer with the library's: labels exactly, values within 1e-6 relative (f64)
/// or 1e-5 (f32).
fn check(name: &str, kind: &str, expected: &Value, got: &[Value]) {
    let expected: Vec<&Value> = match expected.as_array() {
        Some(rows) if rows.first().is_some_and(Value::is_array) => rows
            .iter()
            .flat_map(|r| r.as_array().expect("a row").iter())
            .collect(),
        Some(rows) => rows.iter().collect(),
        None => panic!("{name}: expected is not a list"),
    };
    assert_eq!(expected.len(), got.len(), "{name}: answer length");
    let tol = if kind == "f32" { 1e-5 } else { 1e-6 };
    for (i, (e, g)) in expected.iter().zip(got).enumerate() {
        if kind == "label" {
            assert_eq!(*e, g, "{name}: label {i}");
        } else {
            let (e, g) = (e.as_f64().expect("a number"), g.as_f64().expect("a number"));
            assert!(
                (e - g).abs() <= tol * e.abs().max(1e-3),
                "{name}: value {i}: library {e}, homeml {g}"
            );
        }
    }
}

fn tensor_values(t: &Tensor) -> Vec<Value> {
    match t.data() {
        TensorData::F64(v) => v.iter().map(|&x| Value::from(x)).collect(),
        TensorData::F32(v) => v.iter().map(|&x| Value::from(f64::from(x))).collect(),
        TensorData::I64(v) => v.iter().map(|&x| Value::from(x)).collect(),
        TensorData::I32(v) => v.iter().map(|&x| Value::from(x)).collect(),
        TensorData::String(v) => v.iter().map(|x| Value::from(x.as_str())).collect(),
        TensorData::Bool(v) => v.iter().map(|&x| Value::from(x)).collect(),
    }
}

#[test]
fn every_model_predicts_as_the_library() {
    let registry = homeml_server::builtin_registry();
    for case in &generated().cases {
        let name = case["name"].as_str().expect("name");
        let dir = Path::new(case["dir"].as_str().expect("dir"));
        let loaded = registry
            .load_dir(dir, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(loaded.flavor, case["flavor"].as_str().unwrap(), "{name}");
        assert!(loaded.model.accepts_missing_values(), "{name}");
        let (rows, width, x) = rows_of(case);
        let input = Tensor::f64_matrix(rows, width, x).expect("a matrix");
        let out = loaded
            .model
            .predict(vec![input])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out.len(), 1, "{name}: one output, as pyfunc");
        let kind = case["kind"].as_str().unwrap();
        check(name, kind, &case["expected"], &tensor_values(&out[0]));
        // Shapes as pyfunc returns them: [rows] or [rows, classes].
        let expected_cols = case["expected"][0].as_array().map(Vec::len);
        assert_eq!(
            out[0].shape().get(1).copied(),
            expected_cols,
            "{name}: shape"
        );
    }
}

/// `dataframe_split` with the case's rows, missing values written `null` on even rows and as the bare
/// `NaN` literal (what MLflow's own scoring server takes) on odd ones.
fn dataframe_split(case: &Value) -> String {
    let rows: Vec<String> = case["rows"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let cells: Vec<String> = r
                .as_array()
                .unwrap()
                .iter()
                .map(|v| match v.as_f64() {
                    Some(x) => format!("{x:?}"),
                    None if i % 2 == 0 => "null".into(),
                    None => "NaN".into(),
                })
                .collect();
            format!("[{}]", cells.join(", "))
        })
        .collect();
    format!(
        "{{\"dataframe_split\": {{\"columns\": {}, \"data\": [{}]}}}}",
        case["columns"],
        rows.join(", ")
    )
}

#[test]
fn served_models_answer_over_http() {
    for name in [
        "lgb_binary_missing_classifier",
        "xgb_categorical_missing_booster",
    ] {
        let case = case(name);
        let dir = case["dir"].as_str().unwrap();
        let server = Proc::start(
            &["serve", "-m", dir, "-h", "127.0.0.1", "-p", "0"],
            &[("RUST_LOG", "info")],
            generated().root.join(format!("{name}.log")),
        );
        let body = dataframe_split(case);
        assert!(
            body.contains("null") && body.contains("NaN"),
            "{name}: {body}"
        );
        let (status, answer) = common::post(&server.addr, "/invocations", &body);
        assert_eq!(status, 200, "{name}: {answer}\n{}", server.logs());
        let answer: Value = serde_json::from_str(&answer).expect("a JSON answer");
        let got = answer["predictions"]
            .as_array()
            .expect("predictions")
            .clone();
        check(
            name,
            case["kind"].as_str().unwrap(),
            &case["expected"],
            &got,
        );
    }
}

/// A copy of a generated model directory whose data file `edit` rewrites.
fn damaged(name: &str, tag: &str, edit: impl FnOnce(Vec<u8>) -> Vec<u8>) -> (PathBuf, PathBuf) {
    let src = Path::new(case(name)["dir"].as_str().unwrap());
    let dst = generated()
        .root
        .join("damaged")
        .join(format!("{name}-{tag}"));
    std::fs::create_dir_all(&dst).unwrap();
    let mut data = None;
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let file = entry.file_name().to_string_lossy().into_owned();
        std::fs::copy(entry.path(), dst.join(&file)).unwrap();
        if file.starts_with("model.") {
            data = Some(dst.join(&file));
        }
    }
    let data = data.expect("a model.* data file");
    let bytes = std::fs::read(&data).unwrap();
    std::fs::write(&data, edit(bytes)).unwrap();
    (dst, data)
}

fn replace(bytes: Vec<u8>, from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(bytes).expect("a text model");
    assert!(text.contains(from), "{from:?} not in the model");
    text.replacen(from, to, 1).into_bytes()
}

/// A way to damage a model file's bytes.
type Damage = Box<dyn FnOnce(Vec<u8>) -> Vec<u8>>;

#[test]
fn bad_models_are_refused_naming_the_file_and_the_reason() {
    let half = |b: Vec<u8>| b[..b.len() / 2].to_vec();
    let cases: Vec<(&str, &str, Damage, &str)> = vec![
        ("lgb_iris_booster", "truncated", Box::new(half), "truncated"),
        ("lgb_iris_classifier", "truncated", Box::new(half), "skops"),
        (
            "xgb_iris_classifier",
            "truncated",
            Box::new(half),
            "truncated",
        ),
        (
            "xgb_iris_booster_json",
            "truncated",
            Box::new(half),
            "not an XGBoost JSON model",
        ),
        (
            "lgb_poisson_booster",
            "objective",
            Box::new(|b| replace(b, "objective=poisson", "objective=wobble")),
            "unknown objective \"wobble\"",
        ),
        (
            "xgb_iris_booster_json",
            "objective",
            Box::new(|b| replace(b, "\"multi:softprob\"", "\"multi:wobble\"")),
            "unknown objective \"multi:wobble\"",
        ),
        (
            "lgb_poisson_booster",
            "version",
            Box::new(|b| replace(b, "version=v4", "version=v9")),
            "format version \"v9\"",
        ),
        (
            "xgb_iris_booster_json",
            "version",
            Box::new(|b| replace(b, "\"version\":[3,2,0]", "\"version\":[9,0,0]")),
            "format version [9, 0, 0]",
        ),
    ];
    let registry = homeml_server::builtin_registry();
    for (name, tag, edit, want) in cases {
        let (dir, data) = damaged(name, tag, edit);
        let err = registry
            .load_dir(&dir, &LoadOptions::default())
            .map(|_| ())
            .expect_err(&format!("{name} {tag} loaded"))
            .to_string();
        assert!(
            err.contains(&data.display().to_string()) && err.contains(want),
            "{name} {tag}: {err}"
        );
    }
    // And from the command line: the server refuses to start, saying why.
    let (dir, _) = damaged("xgb_iris_classifier", "cli", |b| b[..b.len() / 3].to_vec());
    let out = Command::new(env!("CARGO_BIN_EXE_homeml"))
        .args(["serve", "-m"])
        .arg(&dir)
        .args(["-h", "127.0.0.1", "-p", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "served a truncated model: {stderr}");
    assert!(
        stderr.contains("model.ubj") && stderr.contains("truncated"),
        "{stderr}"
    );
}
