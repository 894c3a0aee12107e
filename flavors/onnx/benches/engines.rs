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

mod support;

use support::{batch, models_dir, BATCHES, MODELS};

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use homeml_flavor::Model;
use homeml_onnx::ort_engine::{dylib_path, OrtModel};
use homeml_onnx::TractModel;

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
