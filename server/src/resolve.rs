//! Model URIs to model directories.
//!
//! A plain path or a `file://` URI names a model directory (one with an `MLmodel` file). Registry and run
//! URIs (`models:/name/1`, `models:/name@alias`, `models:/name/Production`, `models:/name/latest`,
//! `runs:/<id>/path`, `models:/m-<id>`) are resolved through the tracking store: a local one, or an
//! `http(s)://` tracking server whose artifact proxy the model is downloaded from into a local cache
//! (complete entries only; see `homeml_tracking::rest`). Re-resolving polls the server.

use std::path::{Path, PathBuf};

/// A resolved model URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The model directory (holds `MLmodel`).
    pub path: PathBuf,
    /// The registered model's name, for registry URIs.
    pub registered_name: Option<String>,
    /// The registered version, for registry URIs.
    pub version: Option<String>,
    /// A key that changes whenever the URI points at another model: the reloader compares it.
    pub identity: String,
}

impl Resolved {
    /// The name a model is served under when none is configured: the registered name, else the
    /// directory's name.
    pub fn default_name(&self) -> String {
        if let Some(n) = &self.registered_name {
            return n.clone();
        }
        let dir = std::fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone());
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "model".to_string())
    }
}

/// Errors resolving a model URI.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The directory does not exist or has no MLmodel.
    #[error("{0}")]
    NotAModel(String),
    /// The tracking store could not resolve the URI.
    #[error("cannot resolve {uri}: {message}")]
    Tracking {
        /// The URI.
        uri: String,
        /// Why.
        message: String,
    },
}

/// True for URIs that follow something that moves: an alias, a stage or `latest`. Such models are
/// re-resolved periodically by default.
pub fn is_floating(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("models:/") else {
        return false;
    };
    if rest.contains('@') {
        return true;
    }
    match rest.split_once('/') {
        Some((_, v)) => v.parse::<u64>().is_err(),
        None => false,
    }
}

/// Resolves model URIs, with the tracking store when one is configured.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    tracking_uri: Option<String>,
    cache_dir: Option<PathBuf>,
}

impl Resolver {
    /// A resolver using the tracking store at `tracking_uri` (else `MLFLOW_TRACKING_URI`, else `./mlruns`).
    pub fn new(tracking_uri: Option<String>) -> Resolver {
        Resolver {
            tracking_uri,
            cache_dir: None,
        }
    }

    /// Keeps models downloaded from a tracking server in `dir` (`None`: the default cache).
    pub fn with_cache_dir(mut self, dir: Option<PathBuf>) -> Resolver {
        self.cache_dir = dir;
        self
    }

    /// The tracking store's URI this resolver uses.
    pub fn tracking_uri(&self) -> String {
        self.tracking_uri
            .clone()
            .or_else(|| std::env::var("MLFLOW_TRACKING_URI").ok())
            .unwrap_or_else(|| "mlruns".to_string())
    }

    /// The model cache: `--model-cache-dir`, else [`homeml_tracking::rest::default_cache_dir`].
    fn cache(&self) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(homeml_tracking::rest::default_cache_dir)
    }

    /// Resolves `uri` to a model directory. Blocking (file system access).
    pub fn resolve(&self, uri: &str) -> Result<Resolved, ResolveError> {
        if uri.starts_with("models:/") || uri.starts_with("runs:/") {
            return self.resolve_tracked(uri);
        }
        if homeml_tracking::artifacts::is_object_store_uri(uri) {
            return self.resolve_object(uri);
        }
        let path = uri.strip_prefix("file://").unwrap_or(uri);
        resolve_dir(Path::new(path))
    }

    /// A model folder in an object store (`s3://`, `gs://`, `az://`): downloaded into the model cache,
    /// whose entry is keyed by the objects' ETags (so the identity changes with the content).
    fn resolve_object(&self, uri: &str) -> Result<Resolved, ResolveError> {
        let path =
            homeml_tracking::artifacts::fetch_model_dir(uri, &self.cache()).map_err(|e| {
                ResolveError::Tracking {
                    uri: uri.to_string(),
                    message: e.to_string(),
                }
            })?;
        resolve_dir(&path)
    }

    fn resolve_tracked(&self, uri: &str) -> Result<Resolved, ResolveError> {
        let store_uri = self.tracking_uri();
        let err = |message: String| ResolveError::Tracking {
            uri: uri.to_string(),
            message,
        };
        if homeml_tracking::rest::is_remote_uri(&store_uri) {
            let shown = homeml_tracking::rest::redact_uri(&store_uri);
            let store = homeml_tracking::RestStore::open(&store_uri)
                .map_err(|e| err(format!("tracking server {shown}: {e}")))?;
            let found = store
                .resolve_model_uri(uri, &self.cache())
                .map_err(|e| err(e.to_string()))?;
            let mut resolved = resolve_dir(&found.path)?;
            resolved.identity = format!("{}|v{:?}", resolved.identity, found.version);
            resolved.registered_name = found.registered_name;
            resolved.version = found.version.map(|v| v.to_string());
            return Ok(resolved);
        }
        if homeml_tracking::sql::is_sql_uri(&store_uri) {
            let shown = homeml_tracking::util::strip_url_credentials(&store_uri);
            let store = homeml_tracking::SqlStore::open_existing(&store_uri)
                .map_err(|e| err(format!("tracking database {shown}: {e}")))?;
            let found = store
                .resolve_model_uri_cached(uri, &self.cache())
                .map_err(|e| err(e.to_string()))?;
            let mut resolved = resolve_dir(&found.path)?;
            resolved.identity = format!("{}|v{:?}", resolved.identity, found.version);
            resolved.registered_name = found.registered_name;
            resolved.version = found.version.map(|v| v.to_string());
            return Ok(resolved);
        }
        // Opening a store creates it: refuse to conjure an empty one for a server.
        if let Some(root) = homeml_tracking::util::uri_to_path(&store_uri) {
            if !root.is_dir() {
                return Err(err(format!(
                    "the tracking store {store_uri} does not exist (set --tracking-uri or MLFLOW_TRACKING_URI)"
                )));
            }
        }
        let store = homeml_tracking::Store::open(&store_uri)
            .map_err(|e| err(format!("tracking store {store_uri}: {e}")))?;
        let found = store
            .resolve_model_uri_cached(uri, &self.cache())
            .map_err(|e| err(e.to_string()))?;
        let mut resolved = resolve_dir(&found.path)?;
        resolved.identity = format!("{}|v{:?}", resolved.identity, found.version);
        resolved.registered_name = found.registered_name;
        resolved.version = found.version.map(|v| v.to_string());
        Ok(resolved)
    }
}

/// A model directory: its identity is the canonical path plus the MLmodel's `model_uuid` (and time), so
/// that a directory replaced in place, or a symlink moved to another directory, counts as a new model.
fn resolve_dir(path: &Path) -> Result<Resolved, ResolveError> {
    let mlmodel = path.join(homeml_flavor::mlmodel::MLMODEL_FILE);
    if !mlmodel.is_file() {
        return Err(ResolveError::NotAModel(format!(
            "{} is not a model directory (no MLmodel file)",
            path.display()
        )));
    }
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let stamp = match homeml_flavor::MlModel::read_file(&mlmodel) {
        Ok(m) => format!(
            "{}@{}",
            m.model_uuid.unwrap_or_default(),
            m.utc_time_created.unwrap_or_default()
        ),
        Err(_) => String::new(),
    };
    Ok(Resolved {
        path: path.to_path_buf(),
        registered_name: None,
        version: None,
        identity: format!("{}#{stamp}", canonical.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floating_uris() {
        assert!(is_floating("models:/iris@champion"));
        assert!(is_floating("models:/iris/Production"));
        assert!(is_floating("models:/iris/latest"));
        assert!(!is_floating("models:/iris/3"));
        assert!(!is_floating("runs:/abc/model"));
        assert!(!is_floating("/tmp/model"));
    }

    #[test]
    fn directories_need_an_mlmodel() {
        let dir = tempfile::tempdir().unwrap();
        let err = Resolver::default()
            .resolve(dir.path().to_str().unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("no MLmodel"), "{err}");
        let model = dir.path().join("my-model");
        std::fs::create_dir(&model).unwrap();
        std::fs::write(model.join("MLmodel"), "flavors: {}\n").unwrap();
        let r = Resolver::default()
            .resolve(&format!("file://{}", model.display()))
            .unwrap();
        assert_eq!(r.default_name(), "my-model");
    }
}
