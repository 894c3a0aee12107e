//! The traits every engine implements: a [`Flavor`] loads a model directory into a [`Model`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::error::FlavorError;
use crate::mlmodel::MlModel;
use crate::tensor::{DType, Tensor};

/// One input or output of a loaded model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoSpec {
    /// The tensor's name (for models from column signatures, the engine's input name).
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Shape, batch first; -1 marks a variable dimension.
    pub shape: Vec<i64>,
}

impl IoSpec {
    /// A spec.
    pub fn new(name: impl Into<String>, dtype: DType, shape: Vec<i64>) -> IoSpec {
        IoSpec {
            name: name.into(),
            dtype,
            shape,
        }
    }
}

/// Per-model load settings from the command line or serve.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// The engine to use where a flavor has several (e.g. `tract` or `ort` for `onnx`).
    pub engine: Option<String>,
    /// Compute threads a model may use internally (engines that support it).
    pub threads: Option<usize>,
    /// Flavor-specific settings.
    pub extra: BTreeMap<String, String>,
}

/// What a flavor gets to load one model.
#[derive(Debug, Clone, Copy)]
pub struct LoadContext<'a> {
    /// The model directory (holds `MLmodel`).
    pub model_dir: &'a Path,
    /// The parsed `MLmodel`.
    pub mlmodel: &'a MlModel,
    /// This flavor's entry under `flavors:` in MLmodel.
    pub flavor_config: &'a Value,
    /// Settings.
    pub options: &'a LoadOptions,
}

impl LoadContext<'_> {
    /// A string field of the flavor config, e.g. `data`.
    pub fn config_str(&self, key: &str) -> Result<&str, FlavorError> {
        self.flavor_config
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| {
                FlavorError::InvalidModel(format!(
                    "{}: the flavor entry has no string field {key:?}",
                    self.model_dir.display()
                ))
            })
    }

    /// Resolves a file named in the flavor config inside the model directory, refusing paths that leave it.
    pub fn data_path(&self, key: &str) -> Result<std::path::PathBuf, FlavorError> {
        let rel = self.config_str(key)?;
        let rel_path = Path::new(rel);
        if rel_path.is_absolute()
            || rel_path
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(FlavorError::InvalidModel(format!(
                "{key} = {rel:?} points outside the model directory"
            )));
        }
        Ok(self.model_dir.join(rel_path))
    }
}

/// A loaded model: a pure function from a batch of input tensors to output tensors.
///
/// `predict` may be called from several threads at once; an engine that needs exclusive access
/// (e.g. ONNX Runtime's `Session::run`) locks or pools internally.
pub trait Model: Send + Sync {
    /// The inputs `predict` takes, in order.
    fn inputs(&self) -> &[IoSpec];

    /// The outputs `predict` returns, in order.
    fn outputs(&self) -> &[IoSpec];

    /// Runs one batch. `inputs` are in the order of [`Model::inputs`], all with the same number of rows;
    /// the result is in the order of [`Model::outputs`], each with that many rows.
    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError>;

    /// Whether `predict` gives a meaningful answer for rows with missing values (NaN in a float input).
    /// Models that cannot (most) make the server refuse such rows with a 400 naming the row and column.
    fn accepts_missing_values(&self) -> bool {
        false
    }
}

/// A model family: the code that turns an MLmodel flavor entry into a [`Model`].
pub trait Flavor: Send + Sync {
    /// The key under `flavors:` in MLmodel that this flavor serves (e.g. `onnx`).
    fn name(&self) -> &str;

    /// The flavor implementation's version, shown by `homeml flavors list`.
    fn version(&self) -> &str;

    /// Loads the model described by `ctx`.
    fn load(&self, ctx: &LoadContext<'_>) -> Result<Arc<dyn Model>, FlavorError>;
}
