//! What the ONNX benches share: the model list, the batch sizes, the models folder (made by
//! tests/python/onnx_models.py `--big`) and input batches cycled from each model's reference rows.

use std::path::{Path, PathBuf};
use std::process::Command;

use homeml_flavor::{Tensor, TensorData};

/// Batch sizes every model is timed at.
pub const BATCHES: [usize; 4] = [1, 8, 64, 256];
/// The skl2onnx exports of tests/python/onnx_models.py.
pub const MODELS: [&str; 13] = [
    "logreg",
    "linreg",
    "dtree_clf",
    "dtree_reg",
    "rf_clf",
    "rf_clf_binary",
    "rf_reg",
    "gb_clf",
    "gb_reg",
    "mlp_clf",
    "mlp_reg",
    "pipe_logreg",
    "pipe_rf_reg",
];

/// The models folder: `$HOMEML_ONNX_BENCH_DIR` when set, else a temporary one; models are written there
/// when it has no manifest yet.
pub fn models_dir() -> (Option<tempfile::TempDir>, PathBuf) {
    let (tmp, dir) = match std::env::var_os("HOMEML_ONNX_BENCH_DIR") {
        Some(d) => (None, PathBuf::from(d)),
        None => {
            let t = tempfile::tempdir().expect("tempdir");
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    if !dir.join("manifest.json").exists() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let python = std::env::var_os("HOMEML_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".venv/bin/python"));
        let status = Command::new(python)
            .arg(root.join("tests/python/onnx_models.py"))
            .arg(&dir)
            .arg("--big")
            .status()
            .expect("run onnx_models.py");
        assert!(status.success(), "onnx_models.py failed");
    }
    (tmp, dir)
}

/// `rows` rows cycled from the model's reference inputs.
pub fn batch(dir: &Path, name: &str, rows: usize) -> Tensor {
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap()).unwrap();
    let (_, input) = reference["inputs"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    let cols = input["shape"][1].as_u64().unwrap() as usize;
    let data: Vec<f32> = input["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let have = data.len() / cols;
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        let src = r % have;
        out.extend_from_slice(&data[src * cols..(src + 1) * cols]);
    }
    Tensor::new(vec![rows, cols], TensorData::F32(out)).unwrap()
}
