//! homeml-smartcore: the `smartcore` flavor, models trained in Rust with
//! [smartcore](https://smartcorelib.org) and stored with postcard in an MLflow model directory.
//!
//! A model directory written by [`save_model`] holds `model.postcard` (the fitted model, see
//! [`SmartcoreModel`]) and an `MLmodel` whose flavor entry reads:
//!
//! ```yaml
//! flavors:
//!   smartcore:
//!     data: model.postcard
//!     format: postcard
//!     model_type: random_forest_classifier
//!     n_features: 4
//!     smartcore_version: 0.7.0
//! ```
//!
//! [`SmartcoreFlavor`] loads it as a [`homeml_flavor::Model`] with one input, `input`: f64 `[-1, F]`
//! (f32 and integer tensors are cast to f64). Its outputs, by model kind:
//!
//! | model kind | outputs |
//! |---|---|
//! | classifiers (`logistic_regression`, `decision_tree_classifier`) | `label` i64 `[-1]`, `probabilities` f64 `[-1, C]` |
//! | `random_forest_classifier` (smartcore gives no probabilities) | `label` i64 `[-1]` |
//! | regressors (`linear_regression`, `decision_tree_regressor`, `random_forest_regressor`) | `prediction` f64 `[-1]` |
//! | `kmeans` | `cluster` i64 `[-1]` |
//!
//! Column `j` of `probabilities` is the probability of the `j`-th class in ascending label order (the flavor
//! entry lists them as `classes` where smartcore exposes them). A decision tree's probabilities are those of
//! its leaf (smartcore's `predict_proba`: one-hot).

#![warn(missing_docs)]

mod flavor;
mod model;
mod save;

pub use flavor::{SmartcoreFlavor, SmartcorePredictor};
pub use model::{Labels, Matrix, SmartcoreModel, Targets};
pub use save::save_model;

/// Re-exported so that callers fit with the exact smartcore version this crate stores.
pub use smartcore;

/// The MLmodel flavor name.
pub const FLAVOR_NAME: &str = "smartcore";
/// The data file inside the model directory.
pub const DATA_FILE: &str = "model.postcard";
/// The version of smartcore this crate builds against, written into the flavor entry.
pub const SMARTCORE_VERSION: &str = "0.7.0";
/// The name of the model's single input.
pub const INPUT_NAME: &str = "input";
