//! The save side: writes a fitted model as an MLflow model directory.

use std::path::Path;

use homeml_flavor::stored::save_stored;
use homeml_flavor::{FlavorError, MlModel, Signature};

use crate::flavor::LinfaPredictor;
use crate::model::LinfaModel;

/// Writes `model` as an MLflow model directory at `dir` (which must not exist or be empty):
/// `model.postcard`, the input example (if given) and `MLmodel` with the `linfa` flavor entry. The
/// features come from the signature, and the model is checked to run on them before anything is
/// written; [`save_stored`] says how.
pub fn save_model(
    dir: &Path,
    model: &LinfaModel,
    signature: &Signature,
    input_example: Option<&[Vec<f64>]>,
) -> Result<MlModel, FlavorError> {
    save_stored::<LinfaPredictor>(dir, model, signature, input_example)
}
