//! The save side: writes a fitted model as an MLflow model directory.

use std::path::Path;

use homeml_flavor::save::TabularLayout;
use homeml_flavor::{FlavorError, MlModel, ModelDirWriter, Signature};
use serde_json::json;

use crate::flavor::SmartcorePredictor;
use crate::model::{encode, SmartcoreModel};
use crate::{DATA_FILE, FLAVOR_NAME, SMARTCORE_VERSION};

/// Writes `model` as an MLflow model directory at `dir` (which must not exist or be empty):
/// `model.postcard`, the input example (if given) and `MLmodel` with the `smartcore` flavor entry.
///
/// The number of features comes from the signature's inputs: the column count of a column signature, or
/// the second dimension of a single `[-1, F]` tensor. The model is run once on a row of zeros to check that
/// it takes that many features. `input_example` rows are written as a dataframe example (with the
/// signature's column names) or, for a tensor signature, as an ndarray example.
pub fn save_model(
    dir: &Path,
    model: &SmartcoreModel,
    signature: &Signature,
    input_example: Option<&[Vec<f64>]>,
) -> Result<MlModel, FlavorError> {
    let layout = TabularLayout::from_signature(signature, "smartcore")?;
    let n_features = layout.n_features;
    let bytes = encode(model, n_features)?;
    // Check the model runs with this many features, and learn its classes, from the encoded bytes: what
    // loads later is exactly what is checked now.
    let stored = crate::model::decode(&bytes)?;
    let predictor = SmartcorePredictor::new(stored.model, n_features)?;
    if let Some(rows) = input_example {
        layout.check_rows(rows)?;
    }

    let mut w = ModelDirWriter::create(dir)?;
    w.write_file(DATA_FILE, &bytes)?;
    let mut entry = json!({
        "data": DATA_FILE,
        "format": "postcard",
        "model_type": model.model_type(),
        "n_features": n_features,
        "smartcore_version": SMARTCORE_VERSION,
    });
    if let Some(classes) = predictor.classes() {
        entry["classes"] = json!(classes);
    }
    w.flavor(FLAVOR_NAME, entry);
    w.signature(signature);
    if let Some(rows) = input_example {
        w.input_example_rows(&layout, rows)?;
    }
    w.finish()
}
