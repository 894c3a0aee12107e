//! Every scikit-learn export homeml must serve loads with [`OnnxFlavor`] and matches the real
//! onnxruntime's outputs within 1e-5 (absolute or relative) on held-out rows.
//!
//! The models, inputs and reference outputs come from tests/python/onnx_models.py, run with
//! `HOMEML_PYTHON` (default: `<workspace>/.venv/bin/python`).

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use homeml_flavor::{FlavorRegistry, LoadOptions, Model, Tensor};
use homeml_onnx::{OnnxFlavor, OpSet, TractModel};
use serde_json::Value;

fn inputs_and_outputs(reference: &Value) -> (Vec<Tensor>, Vec<(String, Tensor)>) {
    let (_, input) = reference["inputs"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    let outputs = reference["output_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let n = n.as_str().unwrap();
            (n.to_string(), common::tensor(&reference["outputs"][n]))
        })
        .collect();
    (vec![common::tensor(input)], outputs)
}

fn check(model: &dyn Model, reference: &Value) -> Result<(), String> {
    let (inputs, want) = inputs_and_outputs(reference);
    let names: Vec<&str> = model.outputs().iter().map(|o| o.name.as_str()).collect();
    let want_names: Vec<&str> = want.iter().map(|(n, _)| n.as_str()).collect();
    if names != want_names {
        return Err(format!("outputs {names:?} != {want_names:?}"));
    }
    let got = model.predict(inputs).map_err(|e| e.to_string())?;
    for ((name, want), got) in want.iter().zip(&got) {
        common::compare(got, want).map_err(|e| format!("output {name}: {e}"))?;
    }
    // One row at a time gives the same answers (batch 1 is the server's common case).
    let (inputs, want) = inputs_and_outputs(reference);
    for row in [0, 7] {
        let one = model
            .predict(vec![inputs[0].slice_rows(row, row + 1)])
            .map_err(|e| e.to_string())?;
        for ((name, want), got) in want.iter().zip(&one) {
            common::compare(got, &want.slice_rows(row, row + 1))
                .map_err(|e| format!("row {row} output {name}: {e}"))?;
        }
    }
    Ok(())
}

#[test]
fn every_export_matches_onnxruntime() {
    let (dir, names) = common::models();
    assert!(
        names.len() >= 20,
        "only {} models were generated",
        names.len()
    );
    let mut failures = BTreeMap::new();
    for name in names {
        let reference = common::reference(name);
        let result = TractModel::load(&dir.join(format!("{name}.onnx")))
            .map_err(|e| e.to_string())
            .and_then(|m| {
                let spec = &m.inputs()[0];
                if spec.shape.first() != Some(&-1) {
                    return Err(format!(
                        "input shape {:?} has no variable batch",
                        spec.shape
                    ));
                }
                check(&m, &reference)
            });
        if let Err(e) = result {
            failures.insert(name.clone(), e);
        }
    }
    assert!(
        failures.is_empty(),
        "models that differ from onnxruntime: {failures:#?}"
    );
}

#[test]
fn tract_stock_ops_cover_less() {
    // tract alone cannot load the regressor forests nor the Scaler: homeml's ops are what make them load.
    let (dir, _) = common::models();
    assert!(TractModel::load_with(&dir.join("rf_reg.onnx"), OpSet::TractOnly).is_err());
    assert!(TractModel::load_with(&dir.join("pipe_logreg.onnx"), OpSet::TractOnly).is_err());
    // Where tract has the op, both agree with onnxruntime.
    let m = TractModel::load_with(&dir.join("rf_clf.onnx"), OpSet::TractOnly).unwrap();
    check(&m, &common::reference("rf_clf")).unwrap();
}

#[test]
fn saved_model_loads_through_the_registry_and_in_real_mlflow() {
    let (dir, _) = common::models();
    let tmp = tempfile::tempdir().unwrap();
    let model_dir = tmp.path().join("model");
    let name = "pipe_gb_clf";
    let reference = common::reference(name);
    let example = serde_json::json!([[5.1, 3.5, 1.4, 0.2]]);
    let mlmodel = homeml_onnx::save_model(
        &model_dir,
        &dir.join(format!("{name}.onnx")),
        None,
        Some(&example),
    )
    .unwrap();
    assert_eq!(mlmodel.flavor("onnx").unwrap()["data"], "model.onnx");
    assert_eq!(
        mlmodel.flavor("python_function").unwrap()["loader_module"],
        "mlflow.onnx"
    );
    let sig = mlmodel.signature().unwrap().unwrap();
    assert!(sig.inputs.unwrap().to_json().contains(r#""shape":[-1,4]"#));

    // homeml loads it through the registry.
    let mut registry = FlavorRegistry::new();
    registry
        .register(std::sync::Arc::new(OnnxFlavor), "built-in")
        .unwrap();
    let loaded = registry
        .load_dir(&model_dir, &LoadOptions::default())
        .unwrap();
    assert_eq!(loaded.flavor, "onnx");
    check(loaded.model.as_ref(), &reference).unwrap();

    // Real MLflow loads and runs it too, with the same answers.
    let out = Command::new(common::python())
        .arg(common::workspace().join("tests/python/onnx_pyfunc_check.py"))
        .arg(&model_dir)
        .arg(common::models().0.join(format!("{name}.json")))
        .env("MLFLOW_ALLOW_FILE_STORE", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mlflow.pyfunc.load_model failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let got: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(
        got["flavors"],
        serde_json::json!(["onnx", "python_function"])
    );
    assert!(got["signature"]["inputs"]
        .as_str()
        .unwrap()
        .contains("float32"));
    for (out_name, want) in reference["outputs"].as_object().unwrap() {
        let got = got["outputs"][out_name].as_array().unwrap();
        let want = want["data"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{out_name}");
        for (g, w) in got.iter().zip(want) {
            assert!(
                common::close(g.as_f64().unwrap(), w.as_f64().unwrap()),
                "{out_name}: {g} != {w}"
            );
        }
    }
}

#[test]
fn bad_inputs_and_models_are_errors_not_panics() {
    let (dir, _) = common::models();
    let m = TractModel::load(&dir.join("rf_clf.onnx")).unwrap();
    // Wrong width, wrong rank, strings, wrong count.
    let e = m
        .predict(vec![Tensor::f32_matrix(1, 3, vec![0.0; 3]).unwrap()])
        .unwrap_err();
    assert!(e.is_client_error(), "{e}");
    assert!(m
        .predict(vec![Tensor::new(
            vec![4],
            homeml_flavor::TensorData::F32(vec![0.0; 4])
        )
        .unwrap()])
        .unwrap_err()
        .is_client_error());
    assert!(m
        .predict(vec![Tensor::new(
            vec![1, 4],
            homeml_flavor::TensorData::String(vec!["a".into(); 4])
        )
        .unwrap()])
        .unwrap_err()
        .is_client_error());
    assert!(m.predict(vec![]).unwrap_err().is_client_error());
    // f64 and i64 inputs are converted to the model's f32.
    let out = m
        .predict(vec![
            Tensor::f64_matrix(1, 4, vec![5.1, 3.5, 1.4, 0.2]).unwrap()
        ])
        .unwrap();
    assert_eq!(out[0].data(), &homeml_flavor::TensorData::I64(vec![0]));

    // Garbage and truncated files are errors.
    let tmp = tempfile::tempdir().unwrap();
    let junk = tmp.path().join("junk.onnx");
    std::fs::write(&junk, b"definitely not protobuf \xff\xff\xff").unwrap();
    assert!(TractModel::load(&junk).is_err());
    let bytes = std::fs::read(dir.join("gb_reg.onnx")).unwrap();
    std::fs::write(&junk, &bytes[..bytes.len() / 2]).unwrap();
    assert!(TractModel::load(&junk).is_err());
    assert!(TractModel::load(&tmp.path().join("missing.onnx")).is_err());
}

/// The `ort` engine (cargo feature `ort`) gives onnxruntime's answers through the flavor, and a missing
/// library is an error, not an abort.
#[cfg(feature = "ort")]
#[test]
fn ort_engine_matches_onnxruntime() {
    let site = common::workspace().join(".venv/lib");
    let dylib = std::env::var_os("ORT_DYLIB_PATH")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let py = std::fs::read_dir(&site).ok()?.flatten().next()?.path();
            let capi = py.join("site-packages/onnxruntime/capi");
            std::fs::read_dir(capi)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .find(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("libonnxruntime.so."))
                })
        })
        .expect("no libonnxruntime.so.*: set ORT_DYLIB_PATH");
    let (dir, names) = common::models();
    let flavor = OnnxFlavor;
    let mut failures = BTreeMap::new();
    let load = |name: &str, lib: &std::path::Path| {
        let tmp = tempfile::tempdir().unwrap();
        let model_dir = tmp.path().join("m");
        homeml_onnx::save_model(&model_dir, &dir.join(format!("{name}.onnx")), None, None).unwrap();
        let mlmodel = homeml_flavor::MlModel::read_dir(&model_dir).unwrap();
        let mut options = LoadOptions {
            engine: Some("ort".into()),
            threads: Some(2),
            ..LoadOptions::default()
        };
        options
            .extra
            .insert("ort.dylib".into(), lib.display().to_string());
        let ctx = homeml_flavor::LoadContext {
            model_dir: &model_dir,
            mlmodel: &mlmodel,
            flavor_config: mlmodel.flavor("onnx").unwrap(),
            options: &options,
        };
        homeml_flavor::Flavor::load(&flavor, &ctx)
    };
    // A missing library first: a clear error (the process-wide library is not loaded by it).
    let missing = load(
        "logreg",
        std::path::Path::new("/nonexistent/libonnxruntime.so.1.99.0"),
    );
    assert!(missing.is_err());
    assert!(missing
        .err()
        .unwrap()
        .to_string()
        .contains("does not exist"));
    for name in names {
        let reference = common::reference(name);
        let result = load(name, &dylib)
            .map_err(|e| e.to_string())
            .and_then(|m| check(m.as_ref(), &reference));
        if let Err(e) = result {
            failures.insert(name.clone(), e);
        }
    }
    assert!(
        failures.is_empty(),
        "ort engine differs from onnxruntime: {failures:#?}"
    );
}
