//! The batcher's own cost: enqueue -> batch -> compute -> split -> answer, with a model that does
//! nothing (so the figures are the overhead, not compute).
//!
//! Two batchers over the same model: `inline` has the default settings, so once the batcher has seen
//! that the model is cheap it computes a request on the caller's task; `thread` has `inline_budget`
//! zero, so every batch goes to the compute thread and back (the path of any model slower than the
//! budget). `block_on_baseline` is the cost of entering the runtime from the bench thread, which every
//! other figure includes. `concurrent_requests_1_row/N` spawns N one-row requests at once and waits
//! for all of them (they are stacked into few model calls).
//!
//! `cargo bench -p homeml-server --bench batcher`. Figures: bench/server.md.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use homeml_flavor::{DType, FlavorError, IoSpec, Model, Tensor};
use homeml_server::batcher::{Batcher, BatcherSettings};
use homeml_server::metrics::ModelMetrics;

struct Identity(Vec<IoSpec>);

impl Model for Identity {
    fn inputs(&self) -> &[IoSpec] {
        &self.0
    }
    fn outputs(&self) -> &[IoSpec] {
        &self.0
    }
    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError> {
        Ok(inputs)
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let model: Arc<dyn Model> = Arc::new(Identity(vec![IoSpec::new("x", DType::F32, vec![-1, 4])]));
    let batcher = |settings: BatcherSettings| {
        let model = model.clone();
        Arc::new(
            rt.block_on(async move {
                Batcher::new("bench", model, &settings, Arc::new(ModelMetrics::default()))
            })
            .unwrap(),
        )
    };
    let batchers = [
        ("inline", batcher(BatcherSettings::default())),
        (
            "thread",
            batcher(BatcherSettings {
                inline_budget: Duration::ZERO,
                ..BatcherSettings::default()
            }),
        ),
    ];
    let row = || vec![Tensor::f32_matrix(1, 4, vec![1.0, 2.0, 3.0, 4.0]).unwrap()];

    let mut g = c.benchmark_group("batcher");
    g.throughput(Throughput::Elements(1));
    g.bench_function("block_on_baseline", |b| {
        b.iter(|| rt.block_on(async { std::hint::black_box(row()) }))
    });
    for (path, batcher) in &batchers {
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::new("one_request_1_row", path), |b| {
            b.iter(|| rt.block_on(batcher.infer(row(), 1, None)).unwrap())
        });
        for concurrent in [16usize, 64] {
            g.throughput(Throughput::Elements(concurrent as u64));
            g.bench_with_input(
                BenchmarkId::new(format!("concurrent_requests_1_row/{path}"), concurrent),
                &concurrent,
                |b, &n| {
                    b.iter(|| {
                        let batcher = batcher.clone();
                        rt.block_on(async move {
                            let mut tasks = Vec::with_capacity(n);
                            for _ in 0..n {
                                let batcher = batcher.clone();
                                tasks.push(tokio::spawn(async move {
                                    batcher.infer(row(), 1, None).await.unwrap()
                                }));
                            }
                            for t in tasks {
                                t.await.unwrap();
                            }
                        })
                    })
                },
            );
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
