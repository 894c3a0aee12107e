//! Tabular model families kept as one encoded data file in the model directory (smartcore, linfa): the
//! load and save steps they share. A family says what differs by implementing [`StoredTabular`] on its
//! predictor; [`load_stored`] and [`save_stored`] do the rest, so every such family checks and writes a
//! model directory the same way.

use std::path::Path;

use serde_json::json;

use crate::error::FlavorError;
use crate::mlmodel::MlModel;
use crate::model::{LoadContext, Model};
use crate::save::{ModelDirWriter, TabularLayout};
use crate::signature::Signature;

/// A predictor of a tabular model family whose fitted models are kept as one encoded data file.
///
/// The flavor entry written by [`save_stored`] holds `data` ([`StoredTabular::DATA_FILE`]), `format`,
/// `model_type`, `n_features`, the engine library's version and, for classifiers that expose them,
/// `classes`.
pub trait StoredTabular: Model + Sized + 'static {
    /// The family's fitted model (typically an enum over the model kinds it stores).
    type Fitted;

    /// The MLmodel flavor name; it also names the family in messages.
    const FLAVOR: &'static str;
    /// The data file's name inside the model directory.
    const DATA_FILE: &'static str;
    /// How the data file is encoded (the entry's `format`, e.g. `postcard`).
    const FORMAT: &'static str;
    /// The entry key naming the engine library's version, and that version
    /// (`("smartcore_version", "0.7.0")`).
    const LIBRARY_VERSION: (&'static str, &'static str);

    /// Encodes a fitted model that takes `n_features` features, as the data file holds it.
    fn encode(model: &Self::Fitted, n_features: usize) -> Result<Vec<u8>, FlavorError>;

    /// Decodes a data file into the model and the feature count stored with it. A damaged or foreign
    /// file is [`FlavorError::InvalidModel`]; the caller adds the file's path.
    fn decode(bytes: &[u8]) -> Result<(Self::Fitted, u64), FlavorError>;

    /// The kind of model, written as the entry's `model_type` (`logistic_regression`, ...).
    fn model_type(model: &Self::Fitted) -> &'static str;

    /// The model ready to predict `n_features` features. Fails when the model cannot take that many or
    /// does not run.
    fn from_fitted(model: Self::Fitted, n_features: usize) -> Result<Self, FlavorError>;

    /// The class labels, in the order of the model's probability columns, where it has them.
    fn classes(&self) -> Option<Vec<i64>>;
}

/// Loads the model a flavor entry describes: reads and decodes the entry's `data` file, checks it
/// against the entry's `model_type`, and builds the predictor. Every problem with the file is an error
/// naming it, never a panic.
pub fn load_stored<P: StoredTabular>(ctx: &LoadContext<'_>) -> Result<P, FlavorError> {
    let path = ctx.data_path("data")?;
    let bytes = std::fs::read(&path).map_err(|e| FlavorError::io(&path, e))?;
    let (model, stored_features) = P::decode(&bytes).map_err(|e| match e {
        FlavorError::InvalidModel(m) => {
            FlavorError::InvalidModel(format!("{}: {m}", path.display()))
        }
        other => other,
    })?;
    let n_features = check_stored_model(ctx, &path, P::model_type(&model), stored_features)?;
    P::from_fitted(model, n_features)
}

/// Writes `model` as an MLflow model directory at `dir` (which must not exist or be empty): the data
/// file, the input example (if given) and `MLmodel` with the family's flavor entry.
///
/// The number of features comes from the signature's inputs: the column count of a column signature, or
/// the second dimension of a single `[-1, F]` tensor. The encoded model is decoded again and run once
/// on a row of zeros, so what loads later is exactly what was checked. `input_example` rows are written
/// as a dataframe example (with the signature's column names) or, for a tensor signature, as an ndarray
/// example.
pub fn save_stored<P: StoredTabular>(
    dir: &Path,
    model: &P::Fitted,
    signature: &Signature,
    input_example: Option<&[Vec<f64>]>,
) -> Result<MlModel, FlavorError> {
    let layout = TabularLayout::from_signature(signature, P::FLAVOR)?;
    let n_features = layout.n_features;
    let bytes = P::encode(model, n_features)?;
    let (decoded, _) = P::decode(&bytes)?;
    let predictor = P::from_fitted(decoded, n_features)?;
    if let Some(rows) = input_example {
        layout.check_rows(rows)?;
    }

    let mut w = ModelDirWriter::create(dir)?;
    w.write_file(P::DATA_FILE, &bytes)?;
    let (version_key, version) = P::LIBRARY_VERSION;
    let mut entry = json!({
        "data": P::DATA_FILE,
        "format": P::FORMAT,
        "model_type": P::model_type(model),
        "n_features": n_features,
    });
    entry[version_key] = json!(version);
    if let Some(classes) = predictor.classes() {
        entry["classes"] = json!(classes);
    }
    w.flavor(P::FLAVOR, entry);
    w.signature(signature);
    if let Some(rows) = input_example {
        w.input_example_rows(&layout, rows)?;
    }
    w.finish()
}

/// Checks a data file against the flavor entry it was loaded through: the entry's `model_type` must be
/// `stored_model_type` (what the file at `path` holds), and the feature count stored in the file must
/// fit in `usize`. Returns that count.
fn check_stored_model(
    ctx: &LoadContext<'_>,
    path: &Path,
    stored_model_type: &str,
    stored_n_features: u64,
) -> Result<usize, FlavorError> {
    let declared = ctx.config_str("model_type")?;
    if declared != stored_model_type {
        return Err(FlavorError::InvalidModel(format!(
            "{}: MLmodel says model_type {declared:?} but the file holds a {stored_model_type}",
            path.display()
        )));
    }
    usize::try_from(stored_n_features).map_err(|_| {
        FlavorError::InvalidModel(format!("{}: feature count out of range", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LoadOptions;

    #[test]
    fn checks_the_declared_model_type_and_feature_count() {
        let mlmodel = MlModel::default();
        let options = LoadOptions::default();
        let config = json!({"model_type": "kmeans"});
        let ctx = LoadContext {
            model_dir: Path::new("/m"),
            mlmodel: &mlmodel,
            flavor_config: &config,
            options: &options,
        };
        let path = Path::new("/m/model.postcard");
        assert_eq!(check_stored_model(&ctx, path, "kmeans", 4).unwrap(), 4);
        let err = check_stored_model(&ctx, path, "linear_regression", 4).unwrap_err();
        assert!(
            err.to_string().contains("holds a linear_regression"),
            "{err}"
        );
        let no_type = json!({});
        let ctx = LoadContext {
            flavor_config: &no_type,
            ..ctx
        };
        assert!(check_stored_model(&ctx, path, "kmeans", 4).is_err());
    }
}
