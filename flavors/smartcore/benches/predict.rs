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

mod support;

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use homeml_flavor::{DType, Model};
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
use support::{Table, DEPTH, TREES};

fn matrix(t: &Table) -> Matrix {
    DenseMatrix::new(t.rows(), t.cols, t.x.clone(), false).expect("matrix")
}

fn load(model: &SmartcoreModel, data: &Table, out: DType) -> Arc<dyn Model> {
    support::save_and_load(
        Arc::new(SmartcoreFlavor::new()),
        data.cols,
        out,
        |dir, sig| save_model(dir, model, sig, None),
    )
}

fn predict(c: &mut Criterion) {
    let iris = Table::read("iris.csv");
    let diabetes = Table::read("diabetes.csv");
    let (ix, iy) = (matrix(&iris), iris.y.iter().map(|&v| v as i64).collect());
    let (dx, dy) = (matrix(&diabetes), diabetes.y.clone());
    let depth = DEPTH as u16;
    let logreg =
        LogisticRegression::fit(&ix, &iy, LogisticRegressionParameters::default()).expect("fit");
    let linreg =
        LinearRegression::fit(&dx, &dy, LinearRegressionParameters::default()).expect("fit");
    let dt_clf = DecisionTreeClassifier::fit(
        &ix,
        &iy,
        DecisionTreeClassifierParameters::default().with_max_depth(depth),
    )
    .expect("fit");
    let dt_reg = DecisionTreeRegressor::fit(
        &dx,
        &dy,
        DecisionTreeRegressorParameters::default().with_max_depth(depth),
    )
    .expect("fit");
    let rf_clf = RandomForestClassifier::fit(
        &ix,
        &iy,
        RandomForestClassifierParameters::default()
            .with_n_trees(TREES as u16)
            .with_max_depth(depth)
            .with_seed(7),
    )
    .expect("fit");
    let rf_reg = RandomForestRegressor::fit(
        &dx,
        &dy,
        RandomForestRegressorParameters::default()
            .with_n_trees(TREES)
            .with_max_depth(depth)
            .with_seed(3),
    )
    .expect("fit");
    let kmeans: KMeans<f64, i64, Matrix, Vec<i64>> =
        KMeans::fit(&ix, KMeansParameters::default().with_k(3)).expect("fit");
    let (c_out, r_out) = (DType::I64, DType::F64);
    let models = [
        (
            "logistic_regression",
            SmartcoreModel::LogisticRegression(logreg),
            &iris,
            c_out,
        ),
        (
            "linear_regression",
            SmartcoreModel::LinearRegression(linreg),
            &diabetes,
            r_out,
        ),
        (
            "decision_tree_classifier",
            SmartcoreModel::DecisionTreeClassifier(dt_clf),
            &iris,
            c_out,
        ),
        (
            "decision_tree_regressor",
            SmartcoreModel::DecisionTreeRegressor(dt_reg),
            &diabetes,
            r_out,
        ),
        (
            "random_forest_classifier",
            SmartcoreModel::RandomForestClassifier(rf_clf),
            &iris,
            c_out,
        ),
        (
            "random_forest_regressor",
            SmartcoreModel::RandomForestRegressor(rf_reg),
            &diabetes,
            r_out,
        ),
        ("kmeans", SmartcoreModel::KMeans(kmeans), &iris, c_out),
    ]
    .map(|(name, model, data, out)| (name, load(&model, data, out), data));
    support::bench_predict(c, "smartcore_predict", &models);
}

criterion_group!(benches, predict);
criterion_main!(benches);
