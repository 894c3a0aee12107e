//! homeml-linfa: the `linfa` flavor, models trained in Rust with [linfa](https://github.com/rust-ml/linfa)
//! and stored with postcard in an MLflow model directory.
//!
//! A model directory written by [`save_model`] holds `model.postcard` (the fitted model, see
//! [`LinfaModel`]) and an `MLmodel` whose flavor entry reads:
//!
//! ```yaml
//! flavors:
//!   linfa:
//!     data: model.postcard
//!     format: postcard
//!     linfa_version: 0.8.1
//!     model_type: logistic_regression
//!     n_features: 4
//! ```
//!
//! [`LinfaFlavor`] loads it as a [`homeml_flavor::Model`] with one input, `input`: f64 `[-1, F]` (f32 and
//! integer tensors are cast to f64). Its outputs, by model kind:
//!
//! | model kind | outputs |
//! |---|---|
//! | `logistic_regression` (multinomial) | `label` i64 `[-1]`, `probabilities` f64 `[-1, C]` |
//! | `decision_tree_classifier`, `random_forest_classifier` | `label` i64 `[-1]` |
//! | `linear_regression` | `prediction` f64 `[-1]` |
//! | `kmeans` | `cluster` i64 `[-1]` |
//!
//! Column `j` of `probabilities` belongs to the `j`-th entry of `classes` in the flavor entry.
//!
//! linfa 0.8 has no regression tree, and its `RandomForest` (linfa-ensemble) is not serializable: this crate
//! stores a forest as its fitted trees plus the feature subset of each ([`LinfaRandomForest`], converted
//! from linfa-ensemble's `RandomForest`) and predicts by majority vote, ties going to the smallest label
//! (linfa's own vote breaks ties in `HashMap` order, which varies from run to run).

#![warn(missing_docs)]

mod flavor;
mod model;
mod save;

pub use flavor::{LinfaFlavor, LinfaPredictor};
pub use model::{CompiledForest, LinfaModel, LinfaRandomForest};
pub use save::save_model;

/// Re-exported so that callers fit with the exact versions this crate stores.
pub use {
    linfa, linfa_clustering, linfa_ensemble, linfa_linear, linfa_logistic, linfa_trees, ndarray,
    rand,
};

/// The MLmodel flavor name.
pub const FLAVOR_NAME: &str = "linfa";
/// The data file inside the model directory.
pub const DATA_FILE: &str = "model.postcard";
/// The version of linfa this crate builds against, written into the flavor entry.
pub const LINFA_VERSION: &str = "0.8.1";
/// The name of the model's single input.
pub const INPUT_NAME: &str = "input";
