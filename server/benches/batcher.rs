//! The batcher's own cost: enqueue -> batch -> compute thread -> split -> answer, with a model that
//! does nothing (so the figures are the overhead, not compute).
//!
//! `cargo bench -p homeml-server --bench batcher`

use std::sync::Arc;

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
    let model = Arc::new(Identity(vec![IoSpec::new("x", DType::F32, vec![-1, 4])]));
    let batcher = Arc::new(
        rt.block_on(async {
            Batcher::new(
                "bench",
                model,
                &BatcherSettings::default(),
                Arc::new(ModelMetrics::default()),
            )
        })
        .unwrap(),
    );
    let row = || vec![Tensor::f32_matrix(1, 4, vec![1.0, 2.0, 3.0, 4.0]).unwrap()];

    let mut g = c.benchmark_group("batcher");
    g.throughput(Throughput::Elements(1));
    g.bench_function("one_request_1_row", |b| {
        b.iter(|| rt.block_on(batcher.infer(row(), 1, None)).unwrap())
    });
    for concurrent in [16usize, 64] {
        g.throughput(Throughput::Elements(concurrent as u64));
        g.bench_with_input(
            BenchmarkId::new("concurrent_requests_1_row", concurrent),
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
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
