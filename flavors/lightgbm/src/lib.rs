//! homeml-lightgbm: the `lightgbm` flavor, LightGBM models served as `mlflow.lightgbm.log_model` writes
//! them, predicted in Rust (no Python, no conversion).
//!
//! The flavor entry's `data` names the file:
//! - a **scikit-learn-API model** (`LGBMClassifier`, `LGBMRegressor`, `LGBMRanker`) is a skops file
//!   ([`skops`]): a zip whose `schema.json` holds the estimator's state, read as data only (a node that
//!   would run code is refused). The Booster's text model, its best iteration and the class labels are
//!   taken from it.
//! - a **`lightgbm.Booster`** is LightGBM's text model file ([`text`]).
//!
//! [`LightGbmFlavor`] loads either as a model with one input, `input`: f64 `[-1, F]` (NaN is a missing
//! value, handled per split as LightGBM does: missing type None/Zero/NaN and the default direction), and
//! one output, what `mlflow.pyfunc` returns for that model:
//!
//! | model | output |
//! |---|---|
//! | `LGBMClassifier` | `label` `[-1]`: the class label (the type of the training labels) |
//! | `LGBMRegressor`, `LGBMRanker` | `prediction` f64 `[-1]` |
//! | `Booster`, one output (regression, binary, ranking) | `prediction` f64 `[-1]` (probability for binary) |
//! | `Booster`, multiclass | `prediction` f64 `[-1, classes]` (probabilities) |
//!
//! Prediction uses the iterations up to the best one where the file records one. Not supported (refused
//! at load with the reason): linear trees, models trained on pandas category columns, format versions
//! after v4.

#![warn(missing_docs)]

mod flavor;
pub mod npy;
pub mod skops;
pub mod text;

pub use flavor::{LightGbmFlavor, LightGbmModel};

/// The MLmodel flavor name.
pub const FLAVOR_NAME: &str = "lightgbm";
