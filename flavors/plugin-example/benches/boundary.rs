//! Per-call cost of the plugin boundary: the nearest-centroid model called natively (the rlib) and
//! through the shared library and the C ABI (`homeml_flavor::plugin`), at batch 1 and 32.
//!
//! `cargo bench -p homeml-plugin-example --bench boundary` (builds the cdylib with the bench profile).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use homeml_flavor::plugin::{load_plugin, register_plugin};
use homeml_flavor::{FlavorRegistry, LoadOptions, Model, Tensor};
use homeml_plugin_example::{save_model, NearestCentroid, NearestCentroidModel};

fn library() -> Option<PathBuf> {
    // <target>/release/deps/boundary-<hash>: cargo bench leaves the cdylib in deps/ (`cargo build
    // --release` copies it up to <target>/release).
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    let name = format!(
        "{}homeml_plugin_example{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    [deps.join(&name), deps.parent()?.join(&name)]
        .into_iter()
        .find(|p| p.is_file())
}

fn params() -> NearestCentroid {
    let rows: Vec<Vec<f64>> = (0..30)
        .map(|i| {
            (0..4)
                .map(|j| ((i * 7 + j * 3) % 11) as f64 / 2.0)
                .collect()
        })
        .collect();
    let labels: Vec<i64> = (0..30).map(|i| i % 3).collect();
    NearestCentroid::fit(&rows, &labels).expect("fit")
}

fn boundary(c: &mut Criterion) {
    let native = NearestCentroidModel::new(params()).expect("native model");
    let tmp = tempfile::tempdir().expect("tempdir");
    save_model(tmp.path(), &params()).expect("save");
    let Some(lib) = library() else {
        eprintln!("the plugin library is not built next to the bench; only the native figures run");
        return;
    };
    let mut reg = FlavorRegistry::new();
    register_plugin(&mut reg, &load_plugin(&lib).expect("load plugin")).expect("register");
    let plugin = reg
        .load_dir(tmp.path(), &LoadOptions::default())
        .expect("load model")
        .model;

    let mut group = c.benchmark_group("nearest_centroid");
    for rows in [1usize, 32] {
        let x = Tensor::f64_matrix(rows, 4, (0..rows * 4).map(|i| (i % 9) as f64).collect())
            .expect("tensor");
        group.bench_with_input(BenchmarkId::new("native", rows), &x, |b, x| {
            b.iter(|| native.predict(black_box(vec![x.clone()])).expect("predict"))
        });
        group.bench_with_input(BenchmarkId::new("plugin", rows), &x, |b, x| {
            b.iter(|| plugin.predict(black_box(vec![x.clone()])).expect("predict"))
        });
    }
    group.finish();
}

criterion_group!(benches, boundary);
criterion_main!(benches);
