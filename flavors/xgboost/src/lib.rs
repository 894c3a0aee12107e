//! homeml-xgboost: the `xgboost` flavor, XGBoost models served as `mlflow.xgboost.log_model` writes them,
//! predicted in Rust (no Python, no conversion).
//!
//! The flavor entry's `data` names the model file and `model_format` its format: `ubj` (UBJSON, MLflow's
//! default, read by [`ubjson`]) or `json`; both hold the same document ([`model`]). XGBoost's legacy
//! binary format is refused with advice. [`XgBoostFlavor`] loads it as a model with one input, `input`:
//! f64 `[-1, F]`, rounded to f32 as XGBoost stores its input (NaN is a missing value and takes each
//! split's default direction), and one output, what `mlflow.pyfunc` returns for the entry's
//! `model_class`:
//!
//! | model class | output |
//! |---|---|
//! | `XGBClassifier`, `XGBRFClassifier` | `label` i64 `[-1]`: the class index |
//! | other scikit-learn API classes (`XGBRegressor`, `XGBRanker`, ...) | `prediction` f32 `[-1]` |
//! | `Booster`, one output | `prediction` f32 `[-1]` (probability for `binary:logistic`) |
//! | `Booster`, `multi:softprob` | `prediction` f32 `[-1, classes]` |
//! | `Booster`, `multi:softmax` | `prediction` f32 `[-1]`: the class index |
//!
//! The scikit-learn classes predict up to `best_iteration` where early stopping recorded one; a Booster
//! uses every tree, as `Booster.predict` does. Numerical and categorical splits, `base_score`, `gbtree`
//! and `dart` boosters are supported; `gblinear`, multi-target models and objectives outside
//! [`model::Objective`] are refused at load with the reason.

#![warn(missing_docs)]

mod flavor;
pub mod model;
pub mod ubjson;

pub use flavor::{XgBoostFlavor, XgBoostModel};

/// The MLmodel flavor name.
pub const FLAVOR_NAME: &str = "xgboost";
