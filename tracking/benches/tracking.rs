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

criterion_group!(benches, log_metric);
criterion_main!(benches);
