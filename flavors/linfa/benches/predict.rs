//! Criterion benchmarks of the linfa flavor: `Model::predict` per model kind at batch 1, 8, 64 and 256
//! rows.
//!
//! Each model is fitted on the bundled data (iris for classifiers and k-means, diabetes for the linear
//! regression), written with `save_model` to a temporary directory and loaded back through a
//! `FlavorRegistry`, as `homeml serve` loads it; the timed call is the loaded model's `predict` on an f64
//! `[rows, F]` tensor (rows cycled from the data set), which includes the flavor's input checks, the copy
//! into an ndarray and the output tensors. Figures: bench/flavors.md.
//!
//! `cargo bench -p homeml-linfa --bench predict`

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use homeml_flavor::{
    ColumnType, DType, FlavorRegistry, LoadOptions, Model, Schema, Signature, Tensor,
};
use homeml_linfa::linfa::prelude::*;
use homeml_linfa::linfa::{Dataset, DatasetBase};
use homeml_linfa::linfa_clustering::KMeans;
use homeml_linfa::linfa_ensemble::EnsembleLearnerParams;
use homeml_linfa::linfa_linear::LinearRegression;
use homeml_linfa::linfa_logistic::MultiLogisticRegression;
use homeml_linfa::linfa_trees::DecisionTree;
use homeml_linfa::ndarray::{Array1, Array2, Ix1};
use homeml_linfa::rand::{rngs::StdRng, SeedableRng};
use homeml_linfa::{save_model, LinfaFlavor, LinfaModel, LinfaRandomForest};

const BATCHES: [usize; 4] = [1, 8, 64, 256];
/// Trees per forest and their depth: the sizes of the ONNX flavor's forest benches (bench/onnx.md).
const TREES: usize = 100;
const DEPTH: usize = 8;

/// A numeric CSV with a header, bundled in data/: features and the last column.
#[derive(Clone)]
struct Data {
    x: Array2<f64>,
    y: Vec<f64>,
}

impl Data {
    fn read(name: &str) -> Data {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../data")
            .join(name);
        let text = std::fs::read_to_string(&path).expect("read the bundled data set");
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
            let vals: Vec<f64> = line
                .split(',')
                .map(|v| v.parse().expect("a number"))
                .collect();
            let (last, feats) = vals.split_last().expect("a non-empty row");
            x.extend_from_slice(feats);
            y.push(*last);
        }
        let cols = x.len() / y.len();
        let x = Array2::from_shape_vec((y.len(), cols), x).expect("matrix");
        Data { x, y }
    }

    fn classes(&self) -> Dataset<f64, usize, Ix1> {
        Dataset::new(
            self.x.clone(),
            Array1::from_iter(self.y.iter().map(|&v| v as usize)),
        )
    }

    fn targets(&self) -> Dataset<f64, f64, Ix1> {
        Dataset::new(self.x.clone(), Array1::from(self.y.clone()))
    }

    /// `rows` rows cycled from the data set, as the f64 tensor a column signature decodes to.
    fn batch(&self, rows: usize) -> Tensor {
        let (have, cols) = self.x.dim();
        let mut out = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            out.extend(self.x.row(r % have).iter().copied());
        }
        Tensor::f64_matrix(rows, cols, out).expect("batch tensor")
    }
}

/// Saves `model` to a temporary model directory and loads it through the registry, as the server does.
fn save_and_load(model: &LinfaModel, data: &Data, out: DType) -> Arc<dyn Model> {
    let names: Vec<String> = (0..data.x.ncols()).map(|i| format!("f{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let signature = Signature::new(
        Schema::columns(&names, ColumnType::Double),
        Schema::tensor(None, out, vec![-1]),
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("model");
    save_model(&dir, model, &signature, None).expect("save_model");
    let mut registry = FlavorRegistry::new();
    registry
        .register(Arc::new(LinfaFlavor::new()), "built-in")
        .expect("register");
    let loaded = registry
        .load_dir(&dir, &LoadOptions::default())
        .expect("load the saved model");
    loaded.model
}

fn models() -> Vec<(&'static str, Arc<dyn Model>, Data)> {
    let iris = Data::read("iris.csv");
    let diabetes = Data::read("diabetes.csv");
    let ds = iris.classes();
    let logreg = MultiLogisticRegression::default()
        .max_iterations(100)
        .fit(&ds)
        .expect("fit");
    let linreg = LinearRegression::new()
        .fit(&diabetes.targets())
        .expect("fit");
    let tree = DecisionTree::params()
        .max_depth(Some(DEPTH))
        .fit(&ds)
        .expect("fit");
    let forest = EnsembleLearnerParams::new_fixed_rng(
        DecisionTree::params().max_depth(Some(DEPTH)),
        StdRng::seed_from_u64(7),
    )
    .ensemble_size(TREES)
    .bootstrap_proportion(0.7)
    .feature_proportion(0.75)
    .fit(&ds)
    .expect("fit");
    let kmeans = KMeans::params_with_rng(3, StdRng::seed_from_u64(1))
        .fit(&DatasetBase::from(iris.x.clone()))
        .expect("fit");
    let specs = [
        (
            "logistic_regression",
            LinfaModel::LogisticRegression(logreg),
            &iris,
        ),
        (
            "linear_regression",
            LinfaModel::LinearRegression(linreg),
            &diabetes,
        ),
        (
            "decision_tree_classifier",
            LinfaModel::DecisionTree(tree),
            &iris,
        ),
        (
            "random_forest_classifier",
            LinfaModel::RandomForest(LinfaRandomForest::from(forest)),
            &iris,
        ),
        ("kmeans", LinfaModel::KMeans(kmeans), &iris),
    ];
    specs
        .into_iter()
        .map(|(name, model, data)| {
            let out = if matches!(model, LinfaModel::LinearRegression(_)) {
                DType::F64
            } else {
                DType::I64
            };
            (name, save_and_load(&model, data, out), data.clone())
        })
        .collect()
}

fn predict(c: &mut Criterion) {
    let mut g = c.benchmark_group("linfa_predict");
    for (name, model, data) in models() {
        for rows in BATCHES {
            let input = data.batch(rows);
            // Not a timing: a guard that the bench times a call that answers every row.
            let out = model.predict(vec![input.clone()]).expect("predict");
            assert!(out.iter().all(|t| t.rows() == rows), "{name}: wrong rows");
            g.throughput(Throughput::Elements(rows as u64));
            g.bench_with_input(BenchmarkId::new(name, rows), &input, |b, input| {
                b.iter_batched(
                    || vec![input.clone()],
                    |inputs| model.predict(inputs).expect("predict"),
                    BatchSize::SmallInput,
                )
            });
        }
    }
    g.finish();
}

criterion_group!(benches, predict);
criterion_main!(benches);
