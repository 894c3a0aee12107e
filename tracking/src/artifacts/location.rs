//! Artifact locations, as runs, logged models and model versions record them, turned into a model
//! folder on local disk: a path or `file://` URI is used where it is; an object-store URI (`s3://`,
//! `gs://`, `az://`, ...) is downloaded into the model cache ([`super::fetch_model_dir`]); a proxied
//! `mlflow-artifacts:/...` location is read under the artifact proxy's destination
//! (`MLFLOW_ARTIFACTS_DESTINATION`, the variable of `homeml server --artifacts-destination`), which
//! may itself be a folder or an object store. The file and SQL stores' model resolvers share this.

use std::path::{Path, PathBuf};

use homeml_flavor::mlmodel::MLMODEL_FILE;

use super::model_cache::fetch_model_dir;
use super::remote::is_object_store_uri;
use super::store::ArtifactStore;
use crate::error::{Result, TrackingError};
use crate::util;

/// Where the files of an artifact location are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// A local folder.
    Local(PathBuf),
    /// A folder in an object store, by URI (no trailing `/`).
    Object(String),
}

fn bad(uri: &str, reason: impl Into<String>) -> TrackingError {
    TrackingError::BadUri {
        uri: uri.into(),
        reason: reason.into(),
    }
}

impl Place {
    /// The place of `location`, for resolving the model URI `uri` (named in errors).
    pub(crate) fn of(uri: &str, location: &str) -> Result<Place> {
        if let Some(rest) = location.strip_prefix("mlflow-artifacts:") {
            let root = std::env::var("MLFLOW_ARTIFACTS_DESTINATION")
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    bad(
                        uri,
                        format!(
                            "the model is in the tracking server's artifact proxy ({location}): set \
                             MLFLOW_ARTIFACTS_DESTINATION to that server's --artifacts-destination, \
                             or resolve through the server (--tracking-uri http://...)"
                        ),
                    )
                })?;
            // `mlflow-artifacts://host:port/path` names the server too; the path is what counts.
            let rel = match rest.strip_prefix("//") {
                Some(r) => r.split_once('/').map(|(_, p)| p).unwrap_or(""),
                None => rest,
            };
            let rel = rel.trim_matches('/');
            let base = Place::of(uri, &root)?;
            if rel.is_empty() {
                return Ok(base);
            }
            return base.join(uri, rel);
        }
        if is_object_store_uri(location) {
            return Ok(Place::Object(location.trim_end_matches('/').to_string()));
        }
        util::uri_to_path(location)
            .map(Place::Local)
            .ok_or_else(|| {
                bad(
                    uri,
                    format!(
                        "the model's location {location} is neither local (file:// or a path) nor \
                         an object store (s3://, gs://, az://)"
                    ),
                )
            })
    }

    /// The folder `sub` (a relative `/`-separated path, checked: no `..`, not absolute) under this one.
    pub(crate) fn join(&self, uri: &str, sub: &str) -> Result<Place> {
        let sub = sub.trim_matches('/');
        if sub.is_empty() {
            return Ok(self.clone());
        }
        let sub =
            super::path::safe_relative_path(sub).map_err(|e| bad(uri, format!("'{sub}': {e}")))?;
        Ok(match self {
            Place::Local(p) => Place::Local(p.join(&sub)),
            Place::Object(u) => Place::Object(format!("{u}/{sub}")),
        })
    }

    /// Whether the folder holds an `MLmodel` (for an object store: one listing of the folder; an
    /// unreachable store or refused credentials are errors, an absent folder is `false`).
    pub(crate) fn has_mlmodel(&self) -> Result<bool> {
        match self {
            Place::Local(p) => Ok(p.join(MLMODEL_FILE).is_file()),
            Place::Object(u) => {
                let listed = super::object::ObjectArtifactStore::open(u)?.list("")?;
                Ok(listed.iter().any(|f| !f.is_dir && f.path == MLMODEL_FILE))
            }
        }
    }

    /// The local model folder: the folder itself, or the model-cache entry an object-store folder is
    /// downloaded into (reused when its content is unchanged). Fails when there is no `MLmodel`.
    pub(crate) fn model_dir(&self, uri: &str, cache_dir: &Path) -> Result<PathBuf> {
        match self {
            Place::Local(p) => {
                let mlmodel = p.join(MLMODEL_FILE);
                if mlmodel.is_file() {
                    Ok(p.clone())
                } else {
                    Err(TrackingError::not_found_at("model directory", uri, mlmodel))
                }
            }
            Place::Object(u) => fetch_model_dir(u, cache_dir),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_become_places() {
        let uri = "models:/m@a";
        assert_eq!(
            Place::of(uri, "file:///tmp/x/artifacts").unwrap(),
            Place::Local(PathBuf::from("/tmp/x/artifacts"))
        );
        assert_eq!(
            Place::of(uri, "/tmp/y").unwrap(),
            Place::Local(PathBuf::from("/tmp/y"))
        );
        assert_eq!(
            Place::of(uri, "s3://b/p/1/abc/artifacts/").unwrap(),
            Place::Object("s3://b/p/1/abc/artifacts".into())
        );
        let p = Place::Object("gs://b/root".into());
        assert_eq!(
            p.join(uri, "model/").unwrap(),
            Place::Object("gs://b/root/model".into())
        );
        assert!(p.join(uri, "../other").is_err());
        assert!(p.join(uri, "a/%2e%2e/b").is_err());
        assert_eq!(p.join(uri, "").unwrap(), p);
        let err = Place::of(uri, "hdfs://nn/x").unwrap_err().to_string();
        assert!(err.contains("hdfs://nn/x"), "{err}");
    }
}
