//! `homeml serve` built with the `ort` feature serves ONNX models with ONNX Runtime, selected per model
//! (`engine = "ort"` in serve.toml, `--engine ort`), next to the same models on tract, over real HTTP.
//!
//! - Each model is served twice by one `homeml serve --config`: once with `engine = "ort"` (a pool of two
//!   sessions, clients sending at once) and once with the default engine. Every V2 answer matches the
//!   outputs the real onnxruntime computed in Python (tests/python/onnx_models.py) within 1e-5, and
//!   MLflow `/invocations` answers are the same from both engines.
//! - Without a usable library (`ORT_DYLIB_PATH` missing, naming no file, or a file that is not a library)
//!   `homeml serve --engine ort` exits at start with a message naming the cause: an error, not an abort.
//!
//! Needs `ORT_DYLIB_PATH` (scripts/test.sh sets it to the pinned onnxruntime wheel's library) and the
//! test venv's Python. Run: `cargo test -p homeml --features ort --test serve_ort`.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use homeml_flavor::DType;
use serde_json::{json, Value};

use common::{post, Proc};

/// Models covering the operator families: linear with a softmax, a tree ensemble regressor, an MLP,
/// and a scaler pipeline into gradient boosting.
const MODELS: &[&str] = &["logreg", "rf_reg", "mlp_clf", "pipe_gb_clf"];
/// Concurrent clients per ort model, more than its two sessions.
const CLIENTS: usize = 6;

fn ort_dylib() -> String {
    std::env::var("ORT_DYLIB_PATH").unwrap_or_else(|_| {
        panic!("set ORT_DYLIB_PATH to libonnxruntime.so (scripts/test.sh takes it from the venv)")
    })
}

/// Trains and exports `names` with tests/python/onnx_models.py (references computed by onnxruntime),
/// then writes one MLflow model directory per model: (name, directory, reference).
fn model_dirs(tmp: &Path, names: &[&str]) -> Vec<(String, PathBuf, Value)> {
    let raw = tmp.join("onnx");
    common::run_ok(
        Command::new(common::python())
            .arg(common::root().join("tests/python/onnx_models.py"))
            .arg(&raw)
            .args(["--only", &names.join(",")]),
    );
    names
        .iter()
        .map(|name| {
            let dir = tmp.join("models").join(name);
            homeml_onnx::save_model(&dir, &raw.join(format!("{name}.onnx")), None, None)
                .unwrap_or_else(|e| panic!("saving {name}: {e}"));
            let reference: Value =
                serde_json::from_slice(&std::fs::read(raw.join(format!("{name}.json"))).unwrap())
                    .unwrap();
            (name.to_string(), dir, reference)
        })
        .collect()
}

/// The reference inputs as a V2 request body.
fn v2_request(reference: &Value) -> String {
    let inputs: Vec<Value> = reference["inputs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, t)| {
            json!({
                "name": name,
                "shape": t["shape"],
                "datatype": DType::from_numpy_name(t["dtype"].as_str().unwrap()).unwrap().v2_name(),
                "data": t["data"],
            })
        })
        .collect();
    json!({ "inputs": inputs }).to_string()
}

/// Checks a V2 answer against onnxruntime's outputs: every output, same shape, values within 1e-5.
fn assert_matches_reference(model: &str, answer: &Value, reference: &Value) {
    let outputs = answer["outputs"]
        .as_array()
        .unwrap_or_else(|| panic!("{model}: {answer}"));
    for (name, want) in reference["outputs"].as_object().unwrap() {
        let got = outputs
            .iter()
            .find(|o| o["name"] == *name)
            .unwrap_or_else(|| panic!("{model}: no output {name} in {answer}"));
        assert_eq!(got["shape"], want["shape"], "{model}/{name} shape");
        let (got, want) = (
            got["data"].as_array().unwrap(),
            want["data"].as_array().unwrap(),
        );
        assert_eq!(got.len(), want.len(), "{model}/{name} length");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            assert!(
                close(g, w),
                "{model}/{name}[{i}]: served {g}, onnxruntime {w}"
            );
        }
    }
}

#[test]
fn onnx_models_are_served_by_both_engines_over_http() {
    ort_dylib();
    let tmp = tempfile::tempdir().unwrap();
    let models = model_dirs(tmp.path(), MODELS);
    let mut toml = String::from("host = \"127.0.0.1\"\nport = 0\n");
    for (name, dir, _) in &models {
        toml.push_str(&format!(
            "\n[[models]]\nname = \"{name}-ort\"\nuri = {:?}\nengine = \"ort\"\nworkers = 2\n\n[[models]]\nname = \"{name}-tract\"\nuri = {:?}\n",
            dir.display().to_string(),
            dir.display().to_string(),
        ));
    }
    let config = tmp.path().join("serve.toml");
    std::fs::write(&config, toml).unwrap();
    let server = Proc::start(
        &["serve", "--config", config.to_str().unwrap()],
        &[("RUST_LOG", "info")],
        tmp.path().join("serve.log"),
    );
    let log = server.logs();
    for (name, _, _) in &models {
        let dir = format!("/{name}/");
        assert!(
            log.lines()
                .any(|l| l.contains("engine=\"ort\"") && l.contains(&dir)),
            "{name}: no ort load logged:\n{log}"
        );
    }

    for (name, _, reference) in &models {
        let body = v2_request(reference);
        for engine in ["ort", "tract"] {
            let (status, answer) = post(
                &server.addr,
                &format!("/v2/models/{name}-{engine}/infer"),
                &body,
            );
            assert_eq!(status, 200, "{name}-{engine}: {answer}");
            let answer: Value = serde_json::from_str(&answer).unwrap();
            assert_matches_reference(&format!("{name}-{engine}"), &answer, reference);
        }

        // Clients at once on the ort model: more than its sessions, each answer still exact.
        std::thread::scope(|s| {
            for _ in 0..CLIENTS {
                s.spawn(|| {
                    for _ in 0..5 {
                        let (status, answer) =
                            post(&server.addr, &format!("/v2/models/{name}-ort/infer"), &body);
                        assert_eq!(status, 200, "{name}-ort: {answer}");
                        let answer: Value = serde_json::from_str(&answer).unwrap();
                        assert_matches_reference(&format!("{name}-ort"), &answer, reference);
                    }
                });
            }
        });

        // MLflow scoring: both engines give the same predictions for the same rows.
        let input = reference["inputs"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap();
        let width = input["shape"][1].as_u64().unwrap() as usize;
        let rows: Vec<&[Value]> = input["data"]
            .as_array()
            .unwrap()
            .chunks(width)
            .take(5)
            .collect();
        let body = json!({ "inputs": rows }).to_string();
        let answers: Vec<Value> = ["ort", "tract"]
            .iter()
            .map(|engine| {
                let (status, answer) = post(
                    &server.addr,
                    &format!("/models/{name}-{engine}/invocations"),
                    &body,
                );
                assert_eq!(status, 200, "{name}-{engine}: {answer}");
                serde_json::from_str(&answer).unwrap()
            })
            .collect();
        assert_close(&answers[0], &answers[1], name);
    }
}

/// Equal within 1e-5, absolute plus relative to `want`.
fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-5 + 1e-5 * want.abs()
}

/// Two JSON documents equal in structure, numbers within 1e-5.
fn assert_close(a: &Value, b: &Value, what: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(close(x, y), "{what}: {x} vs {y}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{what}: {a} vs {b}");
            for (x, y) in x.iter().zip(y) {
                assert_close(x, y, what);
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{what}: {a} vs {b}"
            );
            for (k, x) in x {
                assert_close(x, &y[k], what);
            }
        }
        _ => assert_eq!(a, b, "{what}"),
    }
}

#[test]
fn a_missing_onnx_runtime_is_an_error_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let [(_, dir, reference)] = <[_; 1]>::try_from(model_dirs(tmp.path(), &["logreg"])).unwrap();
    let not_a_library = tmp.path().join("libonnxruntime.so.1.32.0");
    std::fs::write(&not_a_library, "not an ELF file").unwrap();
    let missing = tmp.path().join("nowhere/libonnxruntime.so");

    let cases: [(Option<&Path>, &str); 3] = [
        (None, "ORT_DYLIB_PATH"),
        (Some(&missing), "nowhere/libonnxruntime.so"),
        (Some(&not_a_library), "libonnxruntime.so.1.32.0"),
    ];
    let dir = dir.to_str().expect("a UTF-8 temporary path");
    let serve = [
        "serve",
        "-h",
        "127.0.0.1",
        "-p",
        "0",
        "--engine",
        "ort",
        "-m",
        dir,
    ];
    for (dylib, expect) in cases {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_homeml"));
        cmd.args(serve)
            .env_remove("ORT_DYLIB_PATH")
            .env("RUST_LOG", "info");
        if let Some(d) = dylib {
            cmd.env("ORT_DYLIB_PATH", d);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // An exit code, not a signal: the process reported the problem and left.
        assert!(
            matches!(out.status.code(), Some(c) if c != 0),
            "{dylib:?}: {} \n{stderr}",
            out.status
        );
        assert!(
            stderr.contains(expect),
            "{dylib:?}: expected {expect:?} in:\n{stderr}"
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).is_empty(),
            "{dylib:?}: it announced an address"
        );
    }

    // The same command with the real library serves.
    ort_dylib();
    let server = Proc::start(&serve, &[("RUST_LOG", "info")], tmp.path().join("ok.log"));
    let (status, answer) = post(
        &server.addr,
        "/v2/models/logreg/infer",
        &v2_request(&reference),
    );
    assert_eq!(status, 200, "{answer}");
    assert_matches_reference(
        "logreg",
        &serde_json::from_str(&answer).unwrap(),
        &reference,
    );
}
