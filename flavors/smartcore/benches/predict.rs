//! Criterion benchmarks of the smartcore flavor: `Model::predict` per model kind at batch 1, 8, 64 and
//! 256 rows.
//!
//! Each model is fitted on the bundled data (iris for classifiers and k-means, diabetes for regressors),
//! written with `save_model` to a temporary directory and loaded back through a `FlavorRegistry`, as
//! `homeml serve` loads it; the timed call is the loaded model's `predict` on an f64 `[rows, F]` tensor
//! (rows cycled from the data set), which includes the flavor's input checks, the copy into smartcore's
//! matrix and the output tensors. Figures: bench/flavors.md.
//!
//! `cargo bench -p homeml-smartcore --bench predict`

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use homeml_flavor::{
    ColumnType, DType, FlavorRegistry, LoadOptions, Model, Schema, Signature, Tensor,
};
use homeml_smartcore::smartcore::cluster::kmeans::{KMeans, KMeansParameters};
use homeml_smartcore::smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use homeml_smartcore::smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use homeml_smartcore::smartcore::linalg::basic::matrix::DenseMatrix;
use homeml_smartcore::smartcore::linear::linear_regression::{
    LinearRegression, LinearRegressionParameters,
};
use homeml_smartcore::smartcore::linear::logistic_regression::{
    LogisticRegression, LogisticRegressionParameters,
};
use homeml_smartcore::smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters,
};
use homeml_smartcore::smartcore::tree::decision_tree_regressor::{
    DecisionTreeRegressor, DecisionTreeRegressorParameters,
};
use homeml_smartcore::{save_model, Matrix, SmartcoreFlavor, SmartcoreModel};

const BATCHES: [usize; 4] = [1, 8, 64, 256];
/// Trees per forest and their depth: the sizes of the ONNX flavor's forest benches (bench/onnx.md).
const TREES: u16 = 100;
const DEPTH: u16 = 8;

/// A numeric CSV with a header, bundled in data/: (row-major features, last column, feature count).
#[derive(Clone)]
struct Data {
    x: Vec<f64>,
    y: Vec<f64>,
    cols: usize,
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
        Data { x, y, cols }
    }

    fn matrix(&self) -> Matrix {
        DenseMatrix::new(self.y.len(), self.cols, self.x.clone(), false).expect("matrix")
    }

    fn labels(&self) -> Vec<i64> {
        self.y.iter().map(|&v| v as i64).collect()
    }

    /// `rows` rows cycled from the data set, as the f64 tensor a column signature decodes to.
    fn batch(&self, rows: usize) -> Tensor {
        let have = self.y.len();
        let mut out = Vec::with_capacity(rows * self.cols);
        for r in 0..rows {
            let src = r % have;
            out.extend_from_slice(&self.x[src * self.cols..(src + 1) * self.cols]);
        }
        Tensor::f64_matrix(rows, self.cols, out).expect("batch tensor")
    }
}

/// Saves `model` to a temporary model directory and loads it through the registry, as the server does.
fn save_and_load(model: &SmartcoreModel, data: &Data, out: DType) -> Arc<dyn Model> {
    let names: Vec<String> = (0..data.cols).map(|i| format!("f{i}")).collect();
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
        .register(Arc::new(SmartcoreFlavor::new()), "built-in")
        .expect("register");
    let loaded = registry
        .load_dir(&dir, &LoadOptions::default())
        .expect("load the saved model");
    loaded.model
}

fn models() -> Vec<(&'static str, Arc<dyn Model>, Data)> {
    let iris = Data::read("iris.csv");
    let diabetes = Data::read("diabetes.csv");
    let (ix, iy) = (iris.matrix(), iris.labels());
    let (dx, dy) = (diabetes.matrix(), diabetes.y.clone());
    let logreg =
        LogisticRegression::fit(&ix, &iy, LogisticRegressionParameters::default()).expect("fit");
    let linreg =
        LinearRegression::fit(&dx, &dy, LinearRegressionParameters::default()).expect("fit");
    let dt_clf = DecisionTreeClassifier::fit(
        &ix,
        &iy,
        DecisionTreeClassifierParameters::default().with_max_depth(DEPTH),
    )
    .expect("fit");
    let dt_reg = DecisionTreeRegressor::fit(
        &dx,
        &dy,
        DecisionTreeRegressorParameters::default().with_max_depth(DEPTH),
    )
    .expect("fit");
    let rf_clf = RandomForestClassifier::fit(
        &ix,
        &iy,
        RandomForestClassifierParameters::default()
            .with_n_trees(TREES)
            .with_max_depth(DEPTH)
            .with_seed(7),
    )
    .expect("fit");
    let rf_reg = RandomForestRegressor::fit(
        &dx,
        &dy,
        RandomForestRegressorParameters::default()
            .with_n_trees(TREES as usize)
            .with_max_depth(DEPTH)
            .with_seed(3),
    )
    .expect("fit");
    let kmeans: KMeans<f64, i64, Matrix, Vec<i64>> =
        KMeans::fit(&ix, KMeansParameters::default().with_k(3)).expect("fit");
    let specs = [
        (
            "logistic_regression",
            SmartcoreModel::LogisticRegression(logreg),
            true,
            DType::I64,
        ),
        (
            "linear_regression",
            SmartcoreModel::LinearRegression(linreg),
            false,
            DType::F64,
        ),
        (
            "decision_tree_classifier",
            SmartcoreModel::DecisionTreeClassifier(dt_clf),
            true,
            DType::I64,
        ),
        (
            "decision_tree_regressor",
            SmartcoreModel::DecisionTreeRegressor(dt_reg),
            false,
            DType::F64,
        ),
        (
            "random_forest_classifier",
            SmartcoreModel::RandomForestClassifier(rf_clf),
            true,
            DType::I64,
        ),
        (
            "random_forest_regressor",
            SmartcoreModel::RandomForestRegressor(rf_reg),
            false,
            DType::F64,
        ),
        ("kmeans", SmartcoreModel::KMeans(kmeans), true, DType::I64),
    ];
    specs
        .into_iter()
        .map(|(name, model, on_iris, out)| {
            let data = if on_iris { &iris } else { &diabetes }.clone();
            let loaded = save_and_load(&model, &data, out);
            (name, loaded, data)
        })
        .collect()
}

fn predict(c: &mut Criterion) {
    let mut g = c.benchmark_group("smartcore_predict");
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
