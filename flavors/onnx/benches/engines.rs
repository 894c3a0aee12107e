//! Criterion benchmarks of the two ONNX engines side by side: tract (with homeml's ai.onnx.ml operators)
//! and ONNX Runtime through `ort`, per model and batch size (1, 8, 64, 256 rows), each on one thread.
//!
//! Needs the cargo feature `ort` and `ORT_DYLIB_PATH` naming `libonnxruntime.so.<version>` (the
//! `onnxruntime/capi/` folder of the onnxruntime wheel in the test venv). Models come from
//! tests/python/onnx_models.py with `--big` (100-tree forests), read from `$HOMEML_ONNX_BENCH_DIR` when it
//! holds them (written there otherwise), else generated into a temporary directory.
//!
//! ```text
//! ORT_DYLIB_PATH=$(.venv/bin/python -c 'import onnxruntime, os, glob; \
//!   print(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), "capi", "libonnxruntime.so.*"))[0])') \
//! cargo bench -p homeml-onnx --features ort --bench engines
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use homeml_flavor::{Model, Tensor, TensorData};
use homeml_onnx::ort_engine::{dylib_path, OrtModel};
use homeml_onnx::TractModel;

const BATCHES: [usize; 4] = [1, 8, 64, 256];
const MODELS: [&str; 13] = [
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

fn models_dir() -> (Option<tempfile::TempDir>, PathBuf) {
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
fn batch(dir: &Path, name: &str, rows: usize) -> Tensor {
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

fn engines(c: &mut Criterion) {
    let (_tmp, dir) = models_dir();
    let dylib = dylib_path(None).expect("set ORT_DYLIB_PATH");
    for name in MODELS {
        let path = dir.join(format!("{name}.onnx"));
        // One session: both engines compute on the calling thread only.
        let engines: [(&str, Box<dyn Model>); 2] = [
            ("tract", Box::new(TractModel::load(&path).unwrap())),
            ("ort", Box::new(OrtModel::load(&path, &dylib, 1).unwrap())),
        ];
        let mut group = c.benchmark_group(format!("engines/{name}"));
        for rows in BATCHES {
            let input = batch(&dir, name, rows);
            group.throughput(Throughput::Elements(rows as u64));
            for (label, model) in &engines {
                group.bench_with_input(BenchmarkId::new(*label, rows), &input, |b, input| {
                    b.iter(|| model.predict(vec![input.clone()]).unwrap())
                });
            }
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1200))
        .sample_size(20);
    targets = engines
}
criterion_main!(benches);
