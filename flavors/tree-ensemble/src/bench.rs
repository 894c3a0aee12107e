//! The criterion benchmark the lightgbm and xgboost flavors share (feature `bench`, for their
//! `benches/predict.rs` only): per-row and 256-row latency of every model directory that
//! bench/trees/make_models.py wrote for one library, the library's own format and its ONNX export alike.

use std::path::Path;

use criterion::Criterion;
use homeml_flavor::{FlavorRegistry, LoadOptions, Tensor};

/// The batch sizes timed: one row and a 256-row batch.
pub const BATCHES: [usize; 2] = [1, 256];

/// The models of one library in `$HOMEML_TREES_BENCH_DIR`: `{prefix}_classifier`, `{prefix}_booster`
/// (the library's format) and `{prefix}_classifier_onnx`, `{prefix}_booster_onnx` (their ONNX export).
pub fn model_names(prefix: &str) -> Vec<String> {
    ["classifier", "booster", "classifier_onnx", "booster_onnx"]
        .iter()
        .map(|kind| format!("{prefix}_{kind}"))
        .collect()
}

/// Benchmarks `registry`'s loading of each of [`model_names`]`(prefix)` found in
/// `$HOMEML_TREES_BENCH_DIR` (bench id `{model}/{rows}`) on the first 1 and 256 rows of its `rows.json`.
/// The ONNX models get `f32` rows (their input type), the others `f64`. Without the variable nothing runs.
///
/// # Panics
/// On a missing or malformed bench directory: this is a benchmark, set up by bench/trees/run.sh.
pub fn predict(c: &mut Criterion, registry: &FlavorRegistry, prefix: &str) {
    let Some(dir) = std::env::var_os("HOMEML_TREES_BENCH_DIR") else {
        eprintln!("HOMEML_TREES_BENCH_DIR is not set: run bash bench/trees/run.sh");
        return;
    };
    let dir = Path::new(&dir);
    let text = std::fs::read_to_string(dir.join("rows.json")).expect("rows.json in the bench dir");
    let rows: Vec<Vec<f64>> = serde_json::from_str(&text).expect("rows.json is a list of rows");
    let width = rows.first().map_or(0, Vec::len);
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    for name in model_names(prefix) {
        let path = dir.join(&name);
        if !path.exists() {
            eprintln!("{name}: not in the bench dir, skipped");
            continue;
        }
        let model = registry
            .load_dir(&path, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{name} loads: {e}"))
            .model;
        for n in BATCHES {
            let data = &flat[..n * width];
            let input = if name.ends_with("_onnx") {
                Tensor::f32_matrix(n, width, data.iter().map(|&v| v as f32).collect())
            } else {
                Tensor::f64_matrix(n, width, data.to_vec())
            }
            .expect("a rows x width matrix");
            c.bench_function(&format!("{name}/{n}"), |b| {
                b.iter(|| model.predict(vec![input.clone()]).expect("predicts"))
            });
        }
    }
}
