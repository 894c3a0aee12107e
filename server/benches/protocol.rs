//! Criterion benchmarks of request decoding per protocol (filled in below).

use criterion::{criterion_group, criterion_main, Criterion};

fn decode(_c: &mut Criterion) {}

criterion_group!(benches, decode);
criterion_main!(benches);
