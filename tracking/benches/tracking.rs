//! Criterion benchmarks of the file store: metric logging and run listing.

use criterion::{criterion_group, criterion_main, Criterion};
use homeml_tracking::{RunOptions, Store};

fn log_metric(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().to_string_lossy()).expect("store");
    let run = store.start_run("0", RunOptions::default()).expect("run");
    let mut step = 0i64;
    c.bench_function("log_metric", |b| {
        b.iter(|| {
            step += 1;
            store
                .log_metric(run.id(), "loss", 0.5, step, None)
                .expect("log")
        })
    });
}

fn search_runs(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().to_string_lossy()).expect("store");
    for i in 0..1000 {
        let run = store.start_run("0", RunOptions::default()).expect("run");
        store
            .log_param(run.id(), "seed", &i.to_string())
            .expect("param");
        store
            .log_metric(run.id(), "loss", 1.0 / (i as f64 + 1.0), 0, None)
            .expect("metric");
    }
    c.bench_function("search_runs_1000", |b| {
        b.iter(|| {
            let runs = store.search_runs(&["0"]).expect("search");
            assert_eq!(runs.len(), 1000);
        })
    });
}

criterion_group!(benches, log_metric, search_runs);
criterion_main!(benches);
