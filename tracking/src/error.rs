//! The one error type of the tracking store. Every variant names the object and, where one is involved,
//! the file.

use std::path::{Path, PathBuf};

/// What went wrong in the tracking store.
#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    /// A filesystem operation failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The store root is not usable (e.g. it is a file).
    #[error("tracking store {}: {reason}", path.display())]
    BadStore {
        /// The root given.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// A URI or path the store does not understand.
    #[error("unsupported URI '{uri}': {reason}")]
    BadUri {
        /// The URI given.
        uri: String,
        /// Why.
        reason: String,
    },
    /// An object does not exist.
    #[error("{kind} '{name}' not found{}", at(path))]
    NotFound {
        /// Kind of object (experiment, run, registered model, ...).
        kind: &'static str,
        /// Its id or name.
        name: String,
        /// Where it was looked for, when one place is meant.
        path: Option<PathBuf>,
    },
    /// An object that must be unique exists already.
    #[error("{kind} '{name}' already exists ({})", path.display())]
    AlreadyExists {
        /// Kind of object.
        kind: &'static str,
        /// Its id or name.
        name: String,
        /// Its file or folder.
        path: PathBuf,
    },
    /// A name, key or id that is refused (empty, path separators, `..`, bad characters).
    #[error("invalid {what} '{value}': {reason}")]
    InvalidName {
        /// What the value names (experiment name, param key, ...).
        what: &'static str,
        /// The value.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// A value that is refused.
    #[error("invalid {what}: {reason}")]
    InvalidValue {
        /// What the value is.
        what: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// A meta file (or metric file) that cannot be parsed.
    #[error("corrupt {kind} file {}: {message}", path.display())]
    Corrupt {
        /// Kind of object the file describes.
        kind: &'static str,
        /// The file.
        path: PathBuf,
        /// The parse error.
        message: String,
    },
    /// A param was logged again with another value (params are immutable, as in MLflow).
    #[error(
        "param '{key}' of run {run_id} is already '{old}'; changing it to '{new}' is refused ({})",
        path.display()
    )]
    ParamChanged {
        /// The run.
        run_id: String,
        /// The key.
        key: String,
        /// The stored value.
        old: String,
        /// The value refused.
        new: String,
        /// The param file.
        path: PathBuf,
    },
    /// An operation on an object in a state that forbids it (e.g. logging to a deleted run).
    #[error("{kind} '{name}' {reason}")]
    InvalidState {
        /// Kind of object.
        kind: &'static str,
        /// Its id or name.
        name: String,
        /// The state and what it forbids.
        reason: String,
    },
    /// A tracking server answered with an error no closer variant describes.
    #[error("tracking server {server}: {code} (HTTP {status}): {message}")]
    Remote {
        /// The server (credentials left out).
        server: String,
        /// The HTTP status.
        status: u16,
        /// MLflow's error code (`INTERNAL_ERROR`, `PERMISSION_DENIED`, ...).
        code: String,
        /// The server's message.
        message: String,
    },
    /// A tracking server could not be reached, or its answer could not be read.
    #[error("tracking server {server}: {reason}")]
    Transport {
        /// The server (credentials left out).
        server: String,
        /// The endpoint and what failed.
        reason: String,
    },
    /// A downloaded file does not match what the server's listing said.
    #[error("download of {what} is incomplete or damaged: {reason}")]
    Download {
        /// The artifact.
        what: String,
        /// What did not match.
        reason: String,
    },
    /// The database of a SQL store failed (a broken connection, a constraint, SQL it refused).
    #[error("database error: {message}")]
    Database {
        /// The engine's message.
        message: String,
    },
    /// The database is unreachable or busy for now: the request may succeed when retried.
    #[error("the tracking database is temporarily unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
    /// A SQL database whose schema is at another Alembic revision than homeml's.
    #[error("{0}")]
    SchemaMismatch(String),
    /// An object store (`s3://`, `gs://`, `az://`) refused or failed a request (after its bounded
    /// retries). The message names the URI and never holds a credential.
    #[error("object store {uri}: {reason}")]
    ObjectStore {
        /// The object's (or the store's) URI.
        uri: String,
        /// What failed, with a hint at the likely cause.
        reason: String,
    },
    /// The MLmodel file of a model directory could not be read or written.
    #[error("model directory {}: {source}", path.display())]
    Model {
        /// The model directory.
        path: PathBuf,
        /// The flavor crate's error.
        #[source]
        source: homeml_flavor::FlavorError,
    },
}

fn at(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => format!(" ({})", p.display()),
        None => String::new(),
    }
}

impl TrackingError {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> TrackingError {
        TrackingError::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// `kind` `name` does not exist.
    pub fn not_found(kind: &'static str, name: impl Into<String>) -> TrackingError {
        TrackingError::NotFound {
            kind,
            name: name.into(),
            path: None,
        }
    }

    /// `kind` `name` does not exist at `path`.
    pub fn not_found_at(
        kind: &'static str,
        name: impl Into<String>,
        path: impl AsRef<Path>,
    ) -> TrackingError {
        TrackingError::NotFound {
            kind,
            name: name.into(),
            path: Some(path.as_ref().to_path_buf()),
        }
    }

    /// True when the error says an object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, TrackingError::NotFound { .. })
    }
}

/// The crate's result type.
pub type Result<T, E = TrackingError> = std::result::Result<T, E>;
