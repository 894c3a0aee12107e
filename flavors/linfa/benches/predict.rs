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

#[path = "../../smartcore/benches/support/mod.rs"]
mod support;

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use homeml_flavor::{DType, Model};
use homeml_linfa::linfa::prelude::*;
use homeml_linfa::linfa::{Dataset, DatasetBase};
use homeml_linfa::linfa_clustering::KMeans;
use homeml_linfa::linfa_ensemble::EnsembleLearnerParams;
use homeml_linfa::linfa_linear::LinearRegression;
use homeml_linfa::linfa_logistic::MultiLogisticRegression;
use homeml_linfa::linfa_trees::DecisionTree;
use homeml_linfa::ndarray::{Array1, Array2};
use homeml_linfa::rand::{rngs::StdRng, SeedableRng};
use homeml_linfa::{save_model, LinfaFlavor, LinfaModel, LinfaRandomForest};
use support::{Table, DEPTH, TREES};

fn records(t: &Table) -> Array2<f64> {
    Array2::from_shape_vec((t.rows(), t.cols), t.x.clone()).expect("matrix")
}

fn load(model: &LinfaModel, data: &Table, out: DType) -> Arc<dyn Model> {
    support::save_and_load(Arc::new(LinfaFlavor::new()), data.cols, out, |dir, sig| {
        save_model(dir, model, sig, None)
    })
}

fn predict(c: &mut Criterion) {
    let iris = Table::read("iris.csv");
    let diabetes = Table::read("diabetes.csv");
    let ds = Dataset::new(
        records(&iris),
        Array1::from_iter(iris.y.iter().map(|&v| v as usize)),
    );
    let logreg = MultiLogisticRegression::default()
        .max_iterations(100)
        .fit(&ds)
        .expect("fit");
    let linreg = LinearRegression::new()
        .fit(&Dataset::new(
            records(&diabetes),
            Array1::from(diabetes.y.clone()),
        ))
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
        .fit(&DatasetBase::from(records(&iris)))
        .expect("fit");
    let (c_out, r_out) = (DType::I64, DType::F64);
    let models = [
        (
            "logistic_regression",
            LinfaModel::LogisticRegression(logreg),
            &iris,
            c_out,
        ),
        (
            "linear_regression",
            LinfaModel::LinearRegression(linreg),
            &diabetes,
            r_out,
        ),
        (
            "decision_tree_classifier",
            LinfaModel::DecisionTree(tree),
            &iris,
            c_out,
        ),
        (
            "random_forest_classifier",
            LinfaModel::RandomForest(LinfaRandomForest::from(forest)),
            &iris,
            c_out,
        ),
        ("kmeans", LinfaModel::KMeans(kmeans), &iris, c_out),
    ]
    .map(|(name, model, data, out)| (name, load(&model, data, out), data));
    support::bench_predict(c, "linfa_predict", &models);
}

criterion_group!(benches, predict);
criterion_main!(benches);
