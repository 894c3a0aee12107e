//! Every scikit-learn export homeml must serve loads with [`OnnxFlavor`] and matches the real
//! onnxruntime's outputs within 1e-5 (absolute or relative) on held-out rows, with each engine built in:
//! tract, and ONNX Runtime (`ort`) when the cargo feature `ort` is on (its library from `ORT_DYLIB_PATH`,
//! else the onnxruntime wheel in `<workspace>/.venv`).
//!
//! The models, inputs and reference outputs come from tests/python/onnx_models.py, run with
//! `HOMEML_PYTHON` (default: `<workspace>/.venv/bin/python`).

use crate::common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;

use homeml_flavor::{
    Flavor, FlavorError, FlavorRegistry, LoadContext, LoadOptions, MlModel, Model, Tensor,
};
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

/// Loads the export `name` the way the server does: saved as an MLflow model directory, then through the
/// flavor with `LoadOptions.engine = engine` (the `ort` engine with a pool of two sessions).
fn load_with_engine(name: &str, engine: &str) -> Result<Arc<dyn Model>, FlavorError> {
    let (dir, _) = common::models();
    let tmp = tempfile::tempdir().unwrap();
    let model_dir = tmp.path().join("m");
    homeml_onnx::save_model(&model_dir, &dir.join(format!("{name}.onnx")), None, None).unwrap();
    let mlmodel = MlModel::read_dir(&model_dir).unwrap();
    let extra = match engine {
        #[cfg(feature = "ort")]
        "ort" => BTreeMap::from([(
            "ort.dylib".to_string(),
            common::ort_dylib().display().to_string(),
        )]),
        _ => BTreeMap::new(),
    };
    let options = LoadOptions {
        engine: Some(engine.into()),
        threads: Some(2),
        extra,
    };
    let ctx = LoadContext {
        model_dir: &model_dir,
        mlmodel: &mlmodel,
        flavor_config: mlmodel.flavor("onnx").unwrap(),
        options: &options,
    };
    OnnxFlavor.load(&ctx)
}

/// Every export, run by `engine`, gives onnxruntime's answers (a batch, and single rows).
fn every_export_matches_onnxruntime_with(engine: &str) {
    let (_, names) = common::models();
    assert!(
        names.len() >= 20,
        "only {} models were generated",
        names.len()
    );
    let mut failures = BTreeMap::new();
    for name in names {
        let reference = common::reference(name);
        let result = load_with_engine(name, engine)
            .map_err(|e| e.to_string())
            .and_then(|m| {
                let spec = &m.inputs()[0];
                if spec.shape.first() != Some(&-1) {
                    return Err(format!(
                        "input shape {:?} has no variable batch",
                        spec.shape
                    ));
                }
                check(m.as_ref(), &reference)
            });
        if let Err(e) = result {
            failures.insert(name.clone(), e);
        }
    }
    assert!(
        failures.is_empty(),
        "models that differ from onnxruntime with engine {engine}: {failures:#?}"
    );
}

#[test]
fn every_export_matches_onnxruntime_tract() {
    every_export_matches_onnxruntime_with("tract");
}

/// The `ort` engine (cargo feature `ort`): ONNX Runtime loaded from the wheel's library, through the flavor.
#[cfg(feature = "ort")]
#[test]
fn every_export_matches_onnxruntime_ort() {
    every_export_matches_onnxruntime_with("ort");
}

#[test]
fn engines_are_chosen_by_name() {
    assert_eq!(homeml_onnx::ENGINES.contains(&"ort"), cfg!(feature = "ort"));
    let e = load_with_engine("logreg", "onnxruntime")
        .err()
        .expect("an unknown engine loads");
    assert!(
        e.to_string()
            .contains("unknown ONNX engine \"onnxruntime\""),
        "{e}"
    );
    #[cfg(not(feature = "ort"))]
    {
        let e = load_with_engine("logreg", "ort")
            .err()
            .expect("engine ort loads without the feature");
        assert!(e.to_string().contains("without the `ort` feature"), "{e}");
    }
}

/// The session pool: more threads than sessions predict at once, each gets its own rows' answers.
#[cfg(feature = "ort")]
#[test]
fn ort_session_pool_serves_concurrent_callers() {
    let (dir, _) = common::models();
    let dylib = common::ort_dylib();
    let reference = common::reference("rf_clf");
    let (inputs, want) = inputs_and_outputs(&reference);
    let model =
        homeml_onnx::ort_engine::OrtModel::load(&dir.join("rf_clf.onnx"), &dylib, 2).unwrap();
    assert!(format!("{model:?}").contains("sessions: 2"), "{model:?}");
    let rows = inputs[0].shape()[0];
    std::thread::scope(|s| {
        for t in 0..4 {
            let (model, inputs, want) = (&model, &inputs, &want);
            s.spawn(move || {
                for i in 0..25 {
                    let row = (t * 25 + i) % rows;
                    let got = model
                        .predict(vec![inputs[0].slice_rows(row, row + 1)])
                        .unwrap();
                    for ((name, want), got) in want.iter().zip(&got) {
                        common::compare(got, &want.slice_rows(row, row + 1))
                            .unwrap_or_else(|e| panic!("thread {t} row {row} {name}: {e}"));
                    }
                }
            });
        }
    });
    // Wrong input count is a client error on this engine too.
    assert!(model.predict(vec![]).unwrap_err().is_client_error());
    let e = model
        .predict(vec![Tensor::f32_matrix(1, 3, vec![0.0; 3]).unwrap()])
        .unwrap_err();
    assert!(e.is_client_error(), "{e}");
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
