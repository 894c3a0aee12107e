//! Per-row and 256-row latency of the lightgbm flavor, and of the ONNX flavor (tract) on the same models
//! exported to ONNX, on what bench/trees/make_models.py writes (`bash bench/trees/run.sh`; the directory
//! comes in `HOMEML_TREES_BENCH_DIR`). Without it, nothing runs. The bench itself is shared with the
//! other tree flavor: `homeml_tree_ensemble::bench`.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use homeml_flavor::FlavorRegistry;
use homeml_lightgbm::LightGbmFlavor;
use homeml_onnx::OnnxFlavor;

fn bench(c: &mut Criterion) {
    let mut registry = FlavorRegistry::new();
    registry
        .register(Arc::new(LightGbmFlavor::new()), "built-in")
        .expect("the lightgbm flavor registers");
    registry
        .register(Arc::new(OnnxFlavor::new()), "built-in")
        .expect("the onnx flavor registers");
    homeml_tree_ensemble::bench::predict(c, &registry, "lgb");
}

criterion_group!(benches, bench);
criterion_main!(benches);
