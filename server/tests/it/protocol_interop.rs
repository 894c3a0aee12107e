//! Interop with real clients and servers, through Python (`HOMEML_PYTHON`, else `<workspace>/.venv`):
//!
//! - the real `tritonclient[http]` against homeml's KServe V2 endpoints (JSON and binary tensors);
//! - the same MLflow scoring requests to homeml and to the real `mlflow models serve` for the same ONNX
//!   models (made with scikit-learn + skl2onnx + `mlflow.onnx.save_model`), predictions compared.

use crate::protocol_common;

use std::process::Command;

use homeml_flavor::{DType, Schema, Signature};
use homeml_server::{ModelConfig, Server, ServerConfig};
use protocol_common::{python, workspace_root, Classifier, TestServer};

fn run_python(args: &[&std::ffi::OsStr]) -> String {
    let py = python();
    let out = Command::new(&py)
        .args(args)
        .env("MLFLOW_ALLOW_FILE_STORE", "true")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (set HOMEML_PYTHON or make the venv): {e}",
                py.display()
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} {:?} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        py.display(),
        args,
        out.status
    );
    stdout
}

#[test]
fn tritonclient_drives_homeml() {
    let sig = Signature {
        inputs: Some(Schema::tensor(None, DType::F32, vec![-1, 4])),
        outputs: None,
        params: None,
    };
    let s = TestServer::start(&[("iris", "onnx", "classifier", Some(sig))]);
    let rows: Vec<[f32; 4]> = vec![
        [5.1, 3.5, 1.4, 0.2],
        [6.7, 3.0, 5.2, 2.3],
        [5.9, 3.0, 4.2, 1.5],
        [0.0, -1.0, 2.5, 9.0],
    ];
    let (labels, probs): (Vec<i64>, Vec<[f32; 3]>) =
        rows.iter().map(|r| Classifier::predict_row(r)).unzip();
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.json");
    std::fs::write(
        &expected,
        serde_json::json!({"rows": rows, "label": labels, "probabilities": probs}).to_string(),
    )
    .unwrap();
    let script = workspace_root().join("tests/python/server_triton_client_test.py");
    let addr = s.addr.to_string();
    let out = run_python(&[
        script.as_os_str(),
        addr.as_ref(),
        "iris".as_ref(),
        expected.as_os_str(),
    ]);
    assert!(out.contains("all checks passed"), "{out}");
}

#[test]
fn mlflow_serve_and_homeml_agree() {
    let registry = homeml_server::builtin_registry();
    let dir = tempfile::tempdir().unwrap();
    let script = workspace_root().join("tests/python/server_mlflow_serve_compare.py");
    run_python(&[
        script.as_os_str(),
        "prepare".as_ref(),
        dir.path().as_os_str(),
    ]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        ..ServerConfig::default()
    };
    for name in ["clf", "reg"] {
        let mut mc = ModelConfig::new(dir.path().join(name).to_str().unwrap());
        mc.name = Some(name.into());
        config.models.push(mc);
    }
    let handle = rt.block_on(Server::start(config, registry)).unwrap();
    let base = format!("http://{}", handle.addr());
    let out = run_python(&[
        script.as_os_str(),
        "compare".as_ref(),
        dir.path().as_os_str(),
        base.as_ref(),
    ]);
    rt.block_on(handle.shutdown_and_wait());
    assert!(out.contains("requests agree"), "{out}");
}
