//! Per-row and 256-row latency of the xgboost flavor on the models bench/trees/make_models.py writes
//! (`bash bench/trees/run.sh`; the directory comes in `HOMEML_TREES_BENCH_DIR`). Without it, nothing runs.

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use homeml_flavor::{FlavorRegistry, LoadOptions, Tensor};
use homeml_xgboost::XgBoostFlavor;

fn bench(c: &mut Criterion) {
    let Some(dir) = std::env::var_os("HOMEML_TREES_BENCH_DIR") else {
        eprintln!("HOMEML_TREES_BENCH_DIR is not set: run bash bench/trees/run.sh");
        return;
    };
    let dir = Path::new(&dir);
    let rows: Vec<Vec<f64>> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("rows.json")).expect("rows.json"))
            .expect("rows.json is JSON");
    let width = rows[0].len();
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    let mut registry = FlavorRegistry::new();
    registry
        .register(Arc::new(XgBoostFlavor::new()), "built-in")
        .expect("one flavor");
    let prefix = "xgb";
    for kind in ["classifier", "booster"] {
        let name = format!("{prefix}_{kind}");
        let model = registry
            .load_dir(&dir.join(&name), &LoadOptions::default())
            .expect("the bench model loads")
            .model;
        for n in [1usize, 256] {
            let input = Tensor::f64_matrix(n, width, flat[..n * width].to_vec()).expect("rows");
            c.bench_function(&format!("{name}/{n}"), |b| {
                b.iter(|| model.predict(vec![input.clone()]).expect("predicts"))
            });
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
