//! Train on iris/diabetes, save, load through the flavor and a registry, compare with the in-memory model.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use homeml_flavor::{
    ColumnType, DType, FlavorRegistry, LoadOptions, MlModel, Model, Schema, Signature, Tensor,
    TensorData,
};
use homeml_smartcore::{save_model, Matrix, SmartcoreFlavor, SmartcoreModel, SmartcorePredictor};
use smartcore::cluster::kmeans::{KMeans, KMeansParameters};
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::linear_regression::{LinearRegression, LinearRegressionParameters};
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters,
};
use smartcore::tree::decision_tree_regressor::{
    DecisionTreeRegressor, DecisionTreeRegressorParameters,
};

const IRIS: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
const DIABETES: [&str; 10] = [
    "age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6",
];

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

/// Reads a numeric CSV with a header: (features row-major, last column, rows).
fn read_csv(name: &str) -> (Vec<f64>, Vec<f64>, usize) {
    let text = std::fs::read_to_string(data_dir().join(name)).unwrap();
    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut rows = 0;
    for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
        let vals: Vec<f64> = line.split(',').map(|v| v.parse().unwrap()).collect();
        let (last, feats) = vals.split_last().unwrap();
        x.extend_from_slice(feats);
        y.push(*last);
        rows += 1;
    }
    (x, y, rows)
}

fn matrix(x: &[f64], rows: usize) -> Matrix {
    DenseMatrix::new(rows, x.len() / rows, x.to_vec(), false).unwrap()
}

fn iris() -> (Matrix, Vec<i64>, Vec<f64>) {
    let (x, y, rows) = read_csv("iris.csv");
    (matrix(&x, rows), y.iter().map(|&v| v as i64).collect(), x)
}

fn diabetes() -> (Matrix, Vec<f64>, Vec<f64>) {
    let (x, y, rows) = read_csv("diabetes.csv");
    (matrix(&x, rows), y, x)
}

fn signature(cols: &[&str], out: DType) -> Signature {
    Signature::new(
        Schema::columns(cols, ColumnType::Double),
        Schema::tensor(None, out, vec![-1]),
    )
}

fn registry() -> FlavorRegistry {
    let mut r = FlavorRegistry::new();
    r.register(Arc::new(SmartcoreFlavor::new()), "built-in")
        .unwrap();
    r
}

/// Saves, loads through the registry, and returns the loaded model plus the MLmodel.
fn save_and_load(
    model: &SmartcoreModel,
    sig: &Signature,
    example: &[Vec<f64>],
) -> (tempfile::TempDir, Arc<dyn Model>, MlModel) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    let written = save_model(&dir, model, sig, Some(example)).unwrap();
    let loaded = registry().load_dir(&dir, &LoadOptions::default()).unwrap();
    assert_eq!(loaded.flavor, "smartcore");
    assert_eq!(loaded.mlmodel, written);
    (tmp, loaded.model, written)
}

fn predict(model: &dyn Model, x: &[f64], cols: usize) -> Vec<Tensor> {
    let rows = x.len() / cols;
    model
        .predict(vec![Tensor::f64_matrix(rows, cols, x.to_vec()).unwrap()])
        .unwrap()
}

fn first_rows(x: &[f64], cols: usize, n: usize) -> Vec<Vec<f64>> {
    x.chunks(cols).take(n).map(<[f64]>::to_vec).collect()
}

#[test]
fn logistic_regression_round_trips_with_probabilities() {
    let (x, y, flat) = iris();
    let m = LogisticRegression::fit(&x, &y, LogisticRegressionParameters::default()).unwrap();
    let expected = m.predict(&x).unwrap();
    let model = SmartcoreModel::LogisticRegression(m);
    let (_tmp, loaded, mlmodel) = save_and_load(
        &model,
        &signature(&IRIS, DType::I64),
        &first_rows(&flat, 4, 2),
    );

    let cfg = mlmodel.flavor("smartcore").unwrap();
    assert_eq!(cfg["model_type"], "logistic_regression");
    assert_eq!(cfg["data"], "model.postcard");
    assert_eq!(cfg["classes"], serde_json::json!([0, 1, 2]));
    let names: Vec<_> = loaded.outputs().iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["label", "probabilities"]);
    assert_eq!(loaded.outputs()[1].shape, vec![-1, 3]);

    let out = predict(loaded.as_ref(), &flat, 4);
    assert_eq!(out[0].data(), &TensorData::I64(expected.clone()));
    let TensorData::F64(p) = out[1].data() else {
        panic!("{:?}", out[1])
    };
    assert_eq!(out[1].shape(), &[150, 3]);
    for (row, label) in p.chunks(3).zip(&expected) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let argmax = (0..3).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
        assert_eq!(argmax as i64, *label);
    }
    // A sane model: iris is nearly separable.
    let correct = expected.iter().zip(&y).filter(|(a, b)| a == b).count();
    assert!(correct > 140, "{correct}");
}

#[test]
fn f32_and_integer_inputs_are_cast() {
    let (x, y, flat) = iris();
    let m = LogisticRegression::fit(&x, &y, LogisticRegressionParameters::default()).unwrap();
    let p = SmartcorePredictor::new(SmartcoreModel::LogisticRegression(m), 4).unwrap();
    let rows: Vec<f32> = flat[..8].iter().map(|&v| v as f32).collect();
    let as_f32 = p
        .predict(vec![Tensor::f32_matrix(2, 4, rows).unwrap()])
        .unwrap();
    let as_f64 = p
        .predict(vec![Tensor::f64_matrix(2, 4, flat[..8].to_vec()).unwrap()])
        .unwrap();
    assert_eq!(as_f32[0], as_f64[0]);
    let ints = Tensor::new(vec![1, 4], TensorData::I64(vec![5, 3, 1, 0])).unwrap();
    assert_eq!(
        p.predict(vec![ints]).unwrap()[0].data(),
        &TensorData::I64(vec![0])
    );
}

#[test]
fn trees_and_forests_round_trip() {
    let (x, y, flat) = iris();
    let dt = DecisionTreeClassifier::fit(
        &x,
        &y,
        DecisionTreeClassifierParameters::default().with_max_depth(4),
    )
    .unwrap();
    let dt_expected = dt.predict(&x).unwrap();
    let dt_proba_cols = dt.predict_proba(&x).unwrap();
    let (_t1, loaded, _) = save_and_load(
        &SmartcoreModel::DecisionTreeClassifier(dt),
        &signature(&IRIS, DType::I64),
        &first_rows(&flat, 4, 1),
    );
    let out = predict(loaded.as_ref(), &flat, 4);
    assert_eq!(out[0].data(), &TensorData::I64(dt_expected));
    assert_eq!(out[1].shape(), &[150, 3]);
    drop(dt_proba_cols);

    let rf = RandomForestClassifier::fit(
        &x,
        &y,
        RandomForestClassifierParameters::default()
            .with_n_trees(10)
            .with_seed(7),
    )
    .unwrap();
    let rf_expected = rf.predict(&x).unwrap();
    let (_t2, loaded, mlmodel) = save_and_load(
        &SmartcoreModel::RandomForestClassifier(rf),
        &signature(&IRIS, DType::I64),
        &first_rows(&flat, 4, 1),
    );
    assert_eq!(
        mlmodel.flavor("smartcore").unwrap()["model_type"],
        "random_forest_classifier"
    );
    assert_eq!(loaded.outputs().len(), 1);
    let out = predict(loaded.as_ref(), &flat, 4);
    assert_eq!(out[0].data(), &TensorData::I64(rf_expected));
}

#[test]
fn regressors_round_trip_on_diabetes() {
    let (x, y, flat) = diabetes();
    let sig = signature(&DIABETES, DType::F64);
    let ex = first_rows(&flat, 10, 3);

    let lr = LinearRegression::fit(&x, &y, LinearRegressionParameters::default()).unwrap();
    let lr_expected = lr.predict(&x).unwrap();
    let (_t1, loaded, _) = save_and_load(&SmartcoreModel::LinearRegression(lr), &sig, &ex);
    assert_eq!(loaded.outputs()[0].name, "prediction");
    assert_eq!(
        predict(loaded.as_ref(), &flat, 10)[0].data(),
        &TensorData::F64(lr_expected)
    );

    let dt = DecisionTreeRegressor::fit(
        &x,
        &y,
        DecisionTreeRegressorParameters::default().with_max_depth(5),
    )
    .unwrap();
    let dt_expected = dt.predict(&x).unwrap();
    let (_t2, loaded, _) = save_and_load(&SmartcoreModel::DecisionTreeRegressor(dt), &sig, &ex);
    assert_eq!(
        predict(loaded.as_ref(), &flat, 10)[0].data(),
        &TensorData::F64(dt_expected)
    );

    let rf = RandomForestRegressor::fit(
        &x,
        &y,
        RandomForestRegressorParameters::default()
            .with_n_trees(8)
            .with_max_depth(6)
            .with_seed(3),
    )
    .unwrap();
    let rf_expected = rf.predict(&x).unwrap();
    let (tmp, loaded, mlmodel) =
        save_and_load(&SmartcoreModel::RandomForestRegressor(rf), &sig, &ex);
    assert_eq!(
        predict(loaded.as_ref(), &flat, 10)[0].data(),
        &TensorData::F64(rf_expected)
    );
    // The input example is a dataframe with the signature's columns.
    assert_eq!(
        mlmodel.saved_input_example_info.unwrap()["type"],
        "dataframe"
    );
    let ex: serde_json::Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join("model/input_example.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(ex["columns"][2], "bmi");
    assert_eq!(ex["data"].as_array().unwrap().len(), 3);
}

#[test]
fn kmeans_round_trips() {
    let (x, _, flat) = iris();
    let km: smartcore::cluster::kmeans::KMeans<f64, i64, Matrix, Vec<i64>> =
        KMeans::fit(&x, KMeansParameters::default().with_k(3)).unwrap();
    let expected = km.predict(&x).unwrap();
    let (_t, loaded, _) = save_and_load(
        &SmartcoreModel::KMeans(km),
        &signature(&IRIS, DType::I64),
        &first_rows(&flat, 4, 1),
    );
    assert_eq!(loaded.outputs()[0].name, "cluster");
    assert_eq!(
        predict(loaded.as_ref(), &flat, 4)[0].data(),
        &TensorData::I64(expected)
    );
}

fn saved_logreg() -> (tempfile::TempDir, PathBuf) {
    let (x, y, _) = iris();
    let m = LogisticRegression::fit(&x, &y, LogisticRegressionParameters::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    save_model(
        &dir,
        &SmartcoreModel::LogisticRegression(m),
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
            matches!(err, homeml_flavor::FlavorError::InvalidModel(_)),
            "cut {cut}: {err}"
        );
    }
    // Flipped bytes: every outcome must be an error or a working model, never a panic out of load.
    for i in (0..good.len()).step_by(7) {
        let mut bad = good.clone();
        bad[i] ^= 0xA5;
        std::fs::write(&path, &bad).unwrap();
        if let Ok(m) = reg.load_dir(&dir, &LoadOptions::default()) {
            let _ = m
                .model
                .predict(vec![Tensor::f64_matrix(1, 4, vec![1.0; 4]).unwrap()]);
        }
    }
    std::fs::write(&path, b"not postcard at all").unwrap();
    let err = reg
        .load_dir(&dir, &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("invalid model: {}: ", path.display()))
            && err.contains("not valid postcard")
            && err.matches("invalid model").count() == 1,
        "{err}"
    );
    std::fs::remove_file(&path).unwrap();
    let err = reg.load_dir(&dir, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(err, homeml_flavor::FlavorError::Io { .. }),
        "{err}"
    );
}

#[test]
fn a_model_type_mismatch_is_an_error() {
    let (_tmp, dir) = saved_logreg();
    let text = std::fs::read_to_string(dir.join("MLmodel")).unwrap();
    std::fs::write(
        dir.join("MLmodel"),
        text.replace("logistic_regression", "kmeans"),
    )
    .unwrap();
    let err = registry()
        .load_dir(&dir, &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("kmeans"), "{err}");
}

#[test]
fn bad_inputs_are_client_errors() {
    let (_tmp, dir) = saved_logreg();
    let m = registry()
        .load_dir(&dir, &LoadOptions::default())
        .unwrap()
        .model;
    let wrong_width = Tensor::f64_matrix(1, 3, vec![1.0; 3]).unwrap();
    assert!(m.predict(vec![wrong_width]).unwrap_err().is_client_error());
    assert!(m.predict(vec![]).unwrap_err().is_client_error());
    let strings = Tensor::new(vec![1, 4], TensorData::String(vec!["a".into(); 4])).unwrap();
    assert!(m.predict(vec![strings]).unwrap_err().is_client_error());
    let empty = m
        .predict(vec![Tensor::f64_matrix(0, 4, vec![]).unwrap()])
        .unwrap();
    assert_eq!(empty[0].shape(), &[0]);
    assert_eq!(empty[1].shape(), &[0, 3]);
}

#[test]
fn save_refuses_a_signature_without_features() {
    let (x, y, _) = iris();
    let m = LogisticRegression::fit(&x, &y, LogisticRegressionParameters::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let sig = Signature::default();
    assert!(save_model(
        &tmp.path().join("m"),
        &SmartcoreModel::LogisticRegression(m),
        &sig,
        None
    )
    .is_err());
}
