//! The one error type of flavors and models.

use std::path::PathBuf;

use crate::tensor::TensorError;

/// Errors from loading a model or running it.
#[derive(Debug, thiserror::Error)]
pub enum FlavorError {
    /// A file of the model directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The `MLmodel` file is missing fields or is not valid YAML.
    #[error("invalid MLmodel {path}: {message}")]
    MlModel {
        /// The MLmodel file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A signature that is not valid MLflow signature JSON.
    #[error("invalid signature: {0}")]
    Signature(String),
    /// None of the model's flavors is served by this homeml.
    #[error("no flavor of {dir} can be loaded by homeml: the model has {available:?}, homeml serves {served:?}{hint}")]
    NoLoadableFlavor {
        /// The model directory.
        dir: PathBuf,
        /// The flavors named in its MLmodel.
        available: Vec<String>,
        /// The flavors this process serves.
        served: Vec<String>,
        /// Advice, starting with "; " when present.
        hint: String,
    },
    /// Two flavors (built-in or plugin) claim the same MLmodel flavor name.
    #[error("flavor {name:?} is already served by {existing}; refusing {new}")]
    DuplicateFlavor {
        /// The MLmodel flavor name.
        name: String,
        /// Who serves it already.
        existing: String,
        /// Who asked to serve it too.
        new: String,
    },
    /// The model's files are corrupt or use something the engine does not support.
    #[error("invalid model: {0}")]
    InvalidModel(String),
    /// The request's tensors do not fit the model (wrong dtype, shape, count): a client error.
    #[error("{0}")]
    InvalidInput(String),
    /// A tensor could not be built: a client error when it comes from request data.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// The engine could not start (e.g. its runtime library is missing) or failed while computing.
    #[error("engine error: {0}")]
    Engine(String),
    /// A plugin failed to load, or failed (or panicked) in a call.
    #[error("plugin error: {0}")]
    Plugin(String),
}

impl FlavorError {
    /// True when the fault is in the request rather than the model or engine (maps to HTTP 400).
    pub fn is_client_error(&self) -> bool {
        matches!(self, FlavorError::InvalidInput(_) | FlavorError::Tensor(_))
    }

    /// Builds an [`FlavorError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FlavorError::Io {
            path: path.into(),
            source,
        }
    }
}
