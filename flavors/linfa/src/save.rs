//! The save side: writes a fitted model as an MLflow model directory.

use std::path::Path;

use homeml_flavor::{FlavorError, MlModel, ModelDirWriter, Schema, Signature};
use serde_json::{json, Value};

use crate::flavor::LinfaPredictor;
use crate::model::{encode, LinfaModel};
use crate::{DATA_FILE, FLAVOR_NAME, LINFA_VERSION};

/// Writes `model` as an MLflow model directory at `dir` (which must not exist or be empty):
/// `model.postcard`, the input example (if given) and `MLmodel` with the `linfa` flavor entry.
///
/// The number of features comes from the signature's inputs: the column count of a column signature, or
/// the second dimension of a single `[-1, F]` tensor. The model is run once on a row of zeros to check that
/// it takes that many features. `input_example` rows are written as a dataframe example (with the
/// signature's column names) or, for a tensor signature, as an ndarray example.
pub fn save_model(
    dir: &Path,
    model: &LinfaModel,
    signature: &Signature,
    input_example: Option<&[Vec<f64>]>,
) -> Result<MlModel, FlavorError> {
    let (n_features, columns) = feature_layout(signature)?;
    let bytes = encode(model, n_features)?;
    // Check the model runs with this many features, and learn its classes, from the encoded bytes: what
    // loads later is exactly what is checked now.
    let stored = crate::model::decode(&bytes)?;
    let predictor = LinfaPredictor::new(stored.model, n_features)?;
    if let Some(rows) = input_example {
        if let Some(bad) = rows.iter().find(|r| r.len() != n_features) {
            return Err(FlavorError::InvalidInput(format!(
                "an input example row has {} values, the signature has {n_features} features",
                bad.len()
            )));
        }
    }

    let mut w = ModelDirWriter::create(dir)?;
    w.write_file(DATA_FILE, &bytes)?;
    let mut entry = json!({
        "data": DATA_FILE,
        "format": "postcard",
        "model_type": model.model_type(),
        "n_features": n_features,
        "linfa_version": LINFA_VERSION,
    });
    if let Some(classes) = predictor.classes() {
        entry["classes"] = json!(classes);
    }
    w.flavor(FLAVOR_NAME, entry);
    w.signature(signature);
    if let Some(rows) = input_example {
        let values: Vec<Vec<Value>> = rows
            .iter()
            .map(|r| r.iter().map(|v| json!(v)).collect())
            .collect();
        match &columns {
            Some(names) => {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                w.input_example_dataframe(&names, &values)?;
            }
            None => {
                w.input_example_ndarray(&json!(values))?;
            }
        }
    }
    w.finish()
}

/// The feature count and, for a column signature, the column names.
pub(crate) fn feature_layout(
    signature: &Signature,
) -> Result<(usize, Option<Vec<String>>), FlavorError> {
    match &signature.inputs {
        Some(Schema::Columns(cols)) if !cols.is_empty() => {
            let names = cols
                .iter()
                .enumerate()
                .map(|(i, c)| c.name.clone().unwrap_or_else(|| i.to_string()))
                .collect();
            Ok((cols.len(), Some(names)))
        }
        Some(Schema::Tensors(ts))
            if ts.len() == 1 && ts[0].shape.len() == 2 && ts[0].shape[1] > 0 =>
        {
            Ok((ts[0].shape[1] as usize, None))
        }
        _ => Err(FlavorError::Signature(
            "a linfa model needs a signature whose inputs are named columns or one [-1, F] tensor"
                .into(),
        )),
    }
}
