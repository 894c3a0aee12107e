//! The fitted smartcore models this flavor stores, and their postcard file format.

use serde::{Deserialize, Serialize};
use smartcore::cluster::kmeans::KMeans;
use smartcore::ensemble::random_forest_classifier::RandomForestClassifier;
use smartcore::ensemble::random_forest_regressor::RandomForestRegressor;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::linear_regression::LinearRegression;
use smartcore::linear::logistic_regression::LogisticRegression;
use smartcore::tree::decision_tree_classifier::DecisionTreeClassifier;
use smartcore::tree::decision_tree_regressor::DecisionTreeRegressor;

use homeml_flavor::FlavorError;

/// The feature matrix type every stored model is fitted on.
pub type Matrix = DenseMatrix<f64>;
/// Class labels of classifiers (and cluster ids of k-means).
pub type Labels = Vec<i64>;
/// Regression targets.
pub type Targets = Vec<f64>;

/// A fitted smartcore model of one of the kinds this flavor serves.
///
/// Classifiers are fitted on `i64` labels, regressors on `f64` targets, all on an f64 [`Matrix`].
#[derive(Debug, Serialize, Deserialize)]
pub enum SmartcoreModel {
    /// Multinomial (or binary) logistic regression.
    LogisticRegression(LogisticRegression<f64, i64, Matrix, Labels>),
    /// Ordinary least squares.
    LinearRegression(LinearRegression<f64, f64, Matrix, Targets>),
    /// CART classification tree.
    DecisionTreeClassifier(DecisionTreeClassifier<f64, i64, Matrix, Labels>),
    /// CART regression tree.
    DecisionTreeRegressor(DecisionTreeRegressor<f64, f64, Matrix, Targets>),
    /// Random forest of classification trees.
    RandomForestClassifier(RandomForestClassifier<f64, i64, Matrix, Labels>),
    /// Random forest of regression trees.
    RandomForestRegressor(RandomForestRegressor<f64, f64, Matrix, Targets>),
    /// k-means clustering.
    KMeans(KMeans<f64, i64, Matrix, Labels>),
}

impl SmartcoreModel {
    /// The `model_type` written in the flavor entry (`logistic_regression`, `random_forest_classifier`, ...).
    pub fn model_type(&self) -> &'static str {
        match self {
            SmartcoreModel::LogisticRegression(_) => "logistic_regression",
            SmartcoreModel::LinearRegression(_) => "linear_regression",
            SmartcoreModel::DecisionTreeClassifier(_) => "decision_tree_classifier",
            SmartcoreModel::DecisionTreeRegressor(_) => "decision_tree_regressor",
            SmartcoreModel::RandomForestClassifier(_) => "random_forest_classifier",
            SmartcoreModel::RandomForestRegressor(_) => "random_forest_regressor",
            SmartcoreModel::KMeans(_) => "kmeans",
        }
    }
}

/// The current version of the postcard file layout.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// What `model.postcard` holds: a layout version, the number of input features, and the model.
#[derive(Serialize)]
pub(crate) struct StoredRef<'a> {
    pub format_version: u32,
    pub n_features: u64,
    pub model: &'a SmartcoreModel,
}

/// The owned form of [`StoredRef`], for loading.
#[derive(Deserialize)]
pub(crate) struct Stored {
    pub format_version: u32,
    pub n_features: u64,
    pub model: SmartcoreModel,
}

pub(crate) fn encode(model: &SmartcoreModel, n_features: usize) -> Result<Vec<u8>, FlavorError> {
    postcard::to_stdvec(&StoredRef {
        format_version: FORMAT_VERSION,
        n_features: n_features as u64,
        model,
    })
    .map_err(|e| FlavorError::InvalidModel(format!("cannot encode the smartcore model: {e}")))
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Stored, FlavorError> {
    let stored: Stored = postcard::from_bytes(bytes).map_err(|e| {
        FlavorError::InvalidModel(format!(
            "the smartcore model file is not valid postcard: {e}"
        ))
    })?;
    if stored.format_version != FORMAT_VERSION {
        return Err(FlavorError::InvalidModel(format!(
            "the smartcore model file has layout version {}, this homeml reads version {FORMAT_VERSION}",
            stored.format_version
        )));
    }
    Ok(stored)
}
