//! Criterion benchmarks of the ONNX flavor: predict per model at batch 1, 8, 64, 256, and each of
//! homeml's ai.onnx.ml operators against tract's own where tract has one: `TreeEnsembleClassifier`
//! (`tree_op`), `LinearClassifier` + `Normalizer` and `LinearRegressor` (`linear_op`), `Softmax` over a
//! few classes (`linear_op/mlp_clf`), and the MLPs' dense layers (`dense_op`: `MatMul` + `Add` + `Relu`).
//!
//! With `HOMEML_BENCH_CPU_TIME=1` every figure is the benchmark thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`) instead of wall-clock time: on a shared, loaded machine time spent
//! descheduled then does not count (tests/python/onnx_bench_ort.py `--cpu` measures onnxruntime the same
//! way).
//!
//! Models come from tests/python/onnx_models.py with `--big` (100-tree forests), written to
//! `$HOMEML_ONNX_BENCH_DIR` when set (so tests/python/onnx_bench_ort.py can time the same files in
//! onnxruntime), else to a temporary directory.

mod support;

use support::{batch, models_dir, BATCHES, MODELS};

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BenchmarkId, Criterion, Throughput};
use homeml_flavor::Model;
use homeml_onnx::{OpSet, TractModel};

fn predict<M: Measurement>(c: &mut Criterion<M>) {
    let (_tmp, dir) = models_dir();
    for name in MODELS {
        let model = TractModel::load(&dir.join(format!("{name}.onnx"))).unwrap();
        let mut group = c.benchmark_group(format!("predict/{name}"));
        for rows in BATCHES {
            let input = batch(&dir, name, rows);
            group.throughput(Throughput::Elements(rows as u64));
            group.bench_with_input(BenchmarkId::from_parameter(rows), &input, |b, input| {
                b.iter(|| model.predict(vec![input.clone()]).unwrap())
            });
        }
        group.finish();
    }
}

fn tree_ops<M: Measurement>(c: &mut Criterion<M>) {
    let (_tmp, dir) = models_dir();
    for name in ["rf_clf", "gb_clf", "rf_clf_binary"] {
        let mut group = c.benchmark_group(format!("tree_op/{name}"));
        for (label, ops) in [("homeml", OpSet::Homeml), ("tract", OpSet::TractOnly)] {
            let model = TractModel::load_with(&dir.join(format!("{name}.onnx")), ops).unwrap();
            for rows in [1, 64, 256] {
                let input = batch(&dir, name, rows);
                group.throughput(Throughput::Elements(rows as u64));
                group.bench_with_input(BenchmarkId::new(label, rows), &input, |b, input| {
                    b.iter(|| model.predict(vec![input.clone()]).unwrap())
                });
            }
        }
        group.finish();
    }
}

fn linear_ops<M: Measurement>(c: &mut Criterion<M>) {
    let (_tmp, dir) = models_dir();
    // logreg: LinearClassifier (softmax) + Normalizer (L1); logreg_binary: LinearClassifier (logistic);
    // linreg: LinearRegressor.
    // mlp_clf: tract's Softmax vs homeml's row softmax (the rest of the graph is tract's in both).
    for name in ["logreg", "logreg_binary", "linreg", "mlp_clf"] {
        let mut group = c.benchmark_group(format!("linear_op/{name}"));
        for (label, ops) in [("homeml", OpSet::Homeml), ("tract", OpSet::TractOnly)] {
            let model = TractModel::load_with(&dir.join(format!("{name}.onnx")), ops).unwrap();
            for rows in [1, 64, 256] {
                let input = batch(&dir, name, rows);
                group.throughput(Throughput::Elements(rows as u64));
                group.bench_with_input(BenchmarkId::new(label, rows), &input, |b, input| {
                    b.iter(|| model.predict(vec![input.clone()]).unwrap())
                });
            }
        }
        group.finish();
    }
}

/// Writes `dense_mlp<H>.onnx` into `dir` for H in 64 and 512: skl2onnx's MLP layout (MatMul, Add of a
/// [1, H] intercept, Relu; two hidden layers of H, 32 features, 3 classes, softmax and argmax) with random
/// weights, to time homeml's dense op against tract's on the shapes around and far above
/// `dense::MAX_WEIGHTS` (bench/compare's MLP has two hidden layers of 512 on 32 features).
fn synthetic_mlps(dir: &std::path::Path) {
    const SCRIPT: &str = r#"
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
rng = np.random.default_rng(0)
for h in (64, 512):
    shapes = [(32, h), (h, h), (h, 3)]
    nodes, inits, prev = [], [], "X"
    for i, (k, n) in enumerate(shapes):
        inits += [numpy_helper.from_array((rng.normal(size=(k, n)) / np.sqrt(k)).astype(np.float32), f"W{i}"),
                  numpy_helper.from_array(rng.normal(size=(1, n)).astype(np.float32), f"B{i}")]
        nodes += [helper.make_node("MatMul", [prev, f"W{i}"], [f"m{i}"]),
                  helper.make_node("Add", [f"m{i}", f"B{i}"], [f"a{i}"])]
        prev = f"a{i}"
        if i < 2:
            nodes.append(helper.make_node("Relu", [prev], [f"r{i}"]))
            prev = f"r{i}"
    nodes += [helper.make_node("Softmax", [prev], ["P"], axis=-1),
              helper.make_node("ArgMax", ["P"], ["L"], axis=1)]
    graph = helper.make_graph(nodes, f"mlp{h}",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 32])],
        [helper.make_tensor_value_info("L", TensorProto.INT64, ["N", 1]),
         helper.make_tensor_value_info("P", TensorProto.FLOAT, ["N", 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, f"{sys.argv[1]}/dense_mlp{h}.onnx")
"#;
    if dir.join("dense_mlp512.onnx").exists() {
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = std::env::var_os("HOMEML_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join(".venv/bin/python"));
    let script = dir.join("dense_mlps.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let status = std::process::Command::new(python)
        .arg(&script)
        .arg(dir)
        .status()
        .expect("run dense_mlps.py");
    assert!(status.success(), "dense_mlps.py failed");
}

/// `rows` rows of 32 deterministic features for the synthetic MLPs.
fn synthetic_batch(rows: usize) -> homeml_flavor::Tensor {
    let data = (0..rows * 32)
        .map(|i| ((i * 37 % 101) as f32) / 50.0 - 1.0)
        .collect();
    homeml_flavor::Tensor::new(vec![rows, 32], homeml_flavor::TensorData::F32(data)).unwrap()
}

fn dense_ops<M: Measurement>(c: &mut Criterion<M>) {
    let (_tmp, dir) = models_dir();
    // The whole MLP with homeml's dense layers (and, for mlp_clf, row softmax) vs tract's own ops.
    for name in ["mlp_clf", "mlp_reg"] {
        let mut group = c.benchmark_group(format!("dense_op/{name}"));
        for (label, ops) in [("homeml", OpSet::Homeml), ("tract", OpSet::TractOnly)] {
            let model = TractModel::load_with(&dir.join(format!("{name}.onnx")), ops).unwrap();
            for rows in BATCHES {
                let input = batch(&dir, name, rows);
                group.throughput(Throughput::Elements(rows as u64));
                group.bench_with_input(BenchmarkId::new(label, rows), &input, |b, input| {
                    b.iter(|| model.predict(vec![input.clone()]).unwrap())
                });
            }
        }
        group.finish();
    }
    // Larger layers: 32x64, 64x64 (homeml's, at the limit), 64x3; and 32x512, 512x512 (tract's in both
    // op sets), 512x3 (homeml's).
    synthetic_mlps(&dir);
    for name in ["dense_mlp64", "dense_mlp512"] {
        let mut group = c.benchmark_group(format!("dense_op/{name}"));
        for (label, ops) in [("homeml", OpSet::Homeml), ("tract", OpSet::TractOnly)] {
            let model = TractModel::load_with(&dir.join(format!("{name}.onnx")), ops).unwrap();
            for rows in [1, 64, 256] {
                let input = synthetic_batch(rows);
                group.throughput(Throughput::Elements(rows as u64));
                group.bench_with_input(BenchmarkId::new(label, rows), &input, |b, input| {
                    b.iter(|| model.predict(vec![input.clone()]).unwrap())
                });
            }
        }
        group.finish();
    }
}

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// Linux `CLOCK_THREAD_CPUTIME_ID`.
const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

/// Criterion measurement: CPU time of the calling thread, in nanoseconds.
struct ThreadCpuTime;

fn thread_cpu_ns() -> u64 {
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec (two C longs on x86_64/aarch64 Linux) into `ts`.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }

    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }

    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        WallTime.formatter()
    }
}

fn config<M: Measurement>(c: Criterion<M>) -> Criterion<M> {
    c.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1200))
        .sample_size(20)
        .configure_from_args()
}

fn run<M: Measurement>(mut c: Criterion<M>) {
    predict(&mut c);
    tree_ops(&mut c);
    linear_ops(&mut c);
    dense_ops(&mut c);
    c.final_summary();
}

fn main() {
    if std::env::var_os("HOMEML_BENCH_CPU_TIME").is_some_and(|v| v == "1") {
        run(config(Criterion::default().with_measurement(ThreadCpuTime)));
    } else {
        run(config(Criterion::default()));
    }
}
