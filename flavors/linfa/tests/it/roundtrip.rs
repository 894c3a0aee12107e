//! Train on iris/diabetes, save, load through the flavor and a registry, compare with the in-memory model.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use homeml_flavor::{
    ColumnType, DType, FlavorError, FlavorRegistry, LoadOptions, MlModel, Model, Schema, Signature,
    Tensor, TensorData,
};
use homeml_linfa::linfa::prelude::*;
use homeml_linfa::linfa::Dataset;
use homeml_linfa::linfa_clustering::KMeans;
use homeml_linfa::linfa_ensemble::EnsembleLearnerParams;
use homeml_linfa::linfa_linear::LinearRegression;
use homeml_linfa::linfa_logistic::MultiLogisticRegression;
use homeml_linfa::linfa_trees::DecisionTree;
use homeml_linfa::ndarray::{Array1, Array2, Ix1};
use homeml_linfa::rand::{rngs::StdRng, SeedableRng};
use homeml_linfa::{save_model, LinfaFlavor, LinfaModel, LinfaPredictor, LinfaRandomForest};

const IRIS: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
const DIABETES: [&str; 10] = [
    "age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6",
];

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

/// Reads a numeric CSV with a header: (features, last column).
fn read_csv(name: &str) -> (Array2<f64>, Vec<f64>) {
    let text = std::fs::read_to_string(data_dir().join(name)).unwrap();
    let mut x = Vec::new();
    let mut y = Vec::new();
    for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
        let vals: Vec<f64> = line.split(',').map(|v| v.parse().unwrap()).collect();
        let (last, feats) = vals.split_last().unwrap();
        x.extend_from_slice(feats);
        y.push(*last);
    }
    let cols = x.len() / y.len();
    (Array2::from_shape_vec((y.len(), cols), x).unwrap(), y)
}

fn iris() -> Dataset<f64, usize, Ix1> {
    let (x, y) = read_csv("iris.csv");
    Dataset::new(x, Array1::from_iter(y.iter().map(|&v| v as usize)))
}

fn signature(cols: &[&str], out: DType) -> Signature {
    Signature::new(
        Schema::columns(cols, ColumnType::Double),
        Schema::tensor(None, out, vec![-1]),
    )
}

fn registry() -> FlavorRegistry {
    let mut r = FlavorRegistry::new();
    r.register(Arc::new(LinfaFlavor::new()), "built-in")
        .unwrap();
    r
}

fn save_and_load(
    model: &LinfaModel,
    sig: &Signature,
    example: &[Vec<f64>],
) -> (tempfile::TempDir, Arc<dyn Model>, MlModel) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    let written = save_model(&dir, model, sig, Some(example)).unwrap();
    let loaded = registry().load_dir(&dir, &LoadOptions::default()).unwrap();
    assert_eq!(loaded.flavor, "linfa");
    assert_eq!(loaded.mlmodel, written);
    (tmp, loaded.model, written)
}

fn predict(model: &dyn Model, x: &Array2<f64>) -> Vec<Tensor> {
    let flat: Vec<f64> = x.iter().copied().collect();
    model
        .predict(vec![Tensor::f64_matrix(x.nrows(), x.ncols(), flat).unwrap()])
        .unwrap()
}

fn labels(a: &Array1<usize>) -> TensorData {
    TensorData::I64(a.iter().map(|&v| v as i64).collect())
}

fn example(x: &Array2<f64>) -> Vec<Vec<f64>> {
    x.rows().into_iter().take(2).map(|r| r.to_vec()).collect()
}

#[test]
fn logistic_regression_round_trips_with_probabilities() {
    let ds = iris();
    let m = MultiLogisticRegression::default()
        .max_iterations(100)
        .fit(&ds)
        .unwrap();
    let expected: Array1<usize> = m.predict(ds.records());
    let expected_p = m.predict_probabilities(ds.records());
    let (_t, loaded, mlmodel) = save_and_load(
        &LinfaModel::LogisticRegression(m),
        &signature(&IRIS, DType::I64),
        &example(ds.records()),
    );
    let cfg = mlmodel.flavor("linfa").unwrap();
    assert_eq!(cfg["model_type"], "logistic_regression");
    assert_eq!(cfg["classes"], serde_json::json!([0, 1, 2]));
    let out = predict(loaded.as_ref(), ds.records());
    assert_eq!(out[0].data(), &labels(&expected));
    assert_eq!(
        out[1].data(),
        &TensorData::F64(expected_p.iter().copied().collect())
    );
    assert_eq!(loaded.outputs()[1].shape, vec![-1, 3]);
    let correct = expected
        .iter()
        .zip(ds.targets().iter())
        .filter(|(a, b)| a == b)
        .count();
    assert!(correct > 135, "{correct}");
}

#[test]
fn decision_tree_and_forest_round_trip() {
    let ds = iris();
    let dt = DecisionTree::params().max_depth(Some(4)).fit(&ds).unwrap();
    let expected: Array1<usize> = dt.predict(ds.records());
    let (_t1, loaded, _) = save_and_load(
        &LinfaModel::DecisionTree(dt),
        &signature(&IRIS, DType::I64),
        &example(ds.records()),
    );
    assert_eq!(
        predict(loaded.as_ref(), ds.records())[0].data(),
        &labels(&expected)
    );

    let forest =
        EnsembleLearnerParams::new_fixed_rng(DecisionTree::params(), StdRng::seed_from_u64(7))
            .ensemble_size(9)
            .bootstrap_proportion(0.7)
            .feature_proportion(0.75)
            .fit(&ds)
            .unwrap();
    let linfa_pred: Array1<usize> = forest.predict(ds.records());
    let rf = LinfaRandomForest::from(forest);
    let ours = rf.predict(ds.records()).unwrap();
    // linfa's vote and ours agree wherever linfa's is not a tie (the tie order is HashMap order).
    let agree = ours
        .iter()
        .zip(linfa_pred.iter())
        .filter(|(a, b)| a == b)
        .count();
    assert!(agree >= 145, "{agree}");
    let (_t2, loaded, mlmodel) = save_and_load(
        &LinfaModel::RandomForest(rf),
        &signature(&IRIS, DType::I64),
        &example(ds.records()),
    );
    assert_eq!(
        mlmodel.flavor("linfa").unwrap()["model_type"],
        "random_forest_classifier"
    );
    assert_eq!(
        predict(loaded.as_ref(), ds.records())[0].data(),
        &labels(&ours)
    );
}

#[test]
fn linear_regression_round_trips_on_diabetes() {
    let (x, y) = read_csv("diabetes.csv");
    let ds = Dataset::new(x, Array1::from(y));
    let m = LinearRegression::new().fit(&ds).unwrap();
    let expected: Array1<f64> = m.predict(ds.records());
    let (_t, loaded, _) = save_and_load(
        &LinfaModel::LinearRegression(m),
        &signature(&DIABETES, DType::F64),
        &example(ds.records()),
    );
    assert_eq!(loaded.outputs()[0].name, "prediction");
    assert_eq!(
        predict(loaded.as_ref(), ds.records())[0].data(),
        &TensorData::F64(expected.to_vec())
    );
}

#[test]
fn kmeans_round_trips() {
    let ds = iris();
    let records = ds.records().clone();
    let km = KMeans::params_with_rng(3, StdRng::seed_from_u64(1))
        .fit(&homeml_linfa::linfa::DatasetBase::from(records.clone()))
        .unwrap();
    let expected: Array1<usize> = km.predict(&records);
    let (_t, loaded, _) = save_and_load(
        &LinfaModel::KMeans(km),
        &signature(&IRIS, DType::I64),
        &example(&records),
    );
    assert_eq!(loaded.outputs()[0].name, "cluster");
    assert_eq!(
        predict(loaded.as_ref(), &records)[0].data(),
        &labels(&expected)
    );
}

fn saved_logreg() -> (tempfile::TempDir, PathBuf) {
    let ds = iris();
    let m = MultiLogisticRegression::default()
        .max_iterations(50)
        .fit(&ds)
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    save_model(
        &dir,
        &LinfaModel::LogisticRegression(m),
        &signature(&IRIS, DType::I64),
        None,
    )
    .unwrap();
    (tmp, dir)
}

#[test]
fn corrupt_or_truncated_files_are_errors() {
    let (_tmp, dir) = saved_logreg();
    let path = dir.join("model.postcard");
    let good = std::fs::read(&path).unwrap();
    let reg = registry();
    for cut in [0, 1, 5, good.len() / 2, good.len() - 1] {
        std::fs::write(&path, &good[..cut]).unwrap();
        let err = reg.load_dir(&dir, &LoadOptions::default()).unwrap_err();
        assert!(
            matches!(err, FlavorError::InvalidModel(_)),
            "cut {cut}: {err}"
        );
    }
    for i in (0..good.len()).step_by(5) {
        let mut bad = good.clone();
        bad[i] ^= 0x5A;
        std::fs::write(&path, &bad).unwrap();
        if let Ok(m) = reg.load_dir(&dir, &LoadOptions::default()) {
            let _ = m
                .model
                .predict(vec![Tensor::f64_matrix(1, 4, vec![1.0; 4]).unwrap()]);
        }
    }
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        reg.load_dir(&dir, &LoadOptions::default()).unwrap_err(),
        FlavorError::Io { .. }
    ));
}

#[test]
fn a_feature_count_mismatch_is_refused() {
    let ds = iris();
    let m = MultiLogisticRegression::default()
        .max_iterations(20)
        .fit(&ds)
        .unwrap();
    let err = LinfaPredictor::new(LinfaModel::LogisticRegression(m), 3).unwrap_err();
    assert!(err.to_string().contains("4 features"), "{err}");
}

#[test]
fn bad_inputs_are_client_errors() {
    let (_tmp, dir) = saved_logreg();
    let m = registry()
        .load_dir(&dir, &LoadOptions::default())
        .unwrap()
        .model;
    let wrong = Tensor::f64_matrix(2, 5, vec![0.0; 10]).unwrap();
    assert!(m.predict(vec![wrong]).unwrap_err().is_client_error());
    let f32s = Tensor::f32_matrix(1, 4, vec![5.1, 3.5, 1.4, 0.2]).unwrap();
    assert_eq!(
        m.predict(vec![f32s]).unwrap()[0].data(),
        &TensorData::I64(vec![0])
    );
}
