//! Model URIs resolved straight from the database (`homeml serve -m models:/name@alias
//! --tracking-uri sqlite:///...`): the registry or the run gives the model's location, which is a
//! local folder, an object store (downloaded into the model cache), or `mlflow-artifacts:/...` when
//! the artifact proxy's destination is known ([`crate::artifacts::location`]).

use std::path::{Path, PathBuf};

use super::handle::SqlStore;
use crate::api::TrackingStore;
use crate::artifacts::location::Place;
use crate::entities::{ModelVersion, ResolvedModel, Stage};
use crate::error::{Result, TrackingError};

fn bad(uri: &str, reason: impl Into<String>) -> TrackingError {
    TrackingError::BadUri {
        uri: uri.into(),
        reason: reason.into(),
    }
}

fn found(
    dir: PathBuf,
    mv: Option<&ModelVersion>,
    run_id: Option<String>,
    model_id: Option<String>,
) -> ResolvedModel {
    ResolvedModel {
        path: dir,
        registered_name: mv.map(|m| m.name.clone()),
        version: mv.map(|m| m.version),
        run_id: run_id.or_else(|| mv.and_then(|m| m.run_id.clone())),
        model_id: model_id.or_else(|| mv.and_then(|m| m.model_id.clone())),
    }
}

impl SqlStore {
    /// Resolves `models:/<name>@<alias>`, `models:/<name>/<version|stage|latest>`,
    /// `models:/m-<id>` and `runs:/<run>/<path>` to the local folder holding the `MLmodel`; a model
    /// in an object store is downloaded into the default model cache
    /// ([`crate::rest::default_cache_dir`]).
    pub fn resolve_model_uri(&self, uri: &str) -> Result<ResolvedModel> {
        self.resolve_model_uri_cached(uri, &crate::rest::default_cache_dir())
    }

    /// [`SqlStore::resolve_model_uri`] with the model cache a model in an object store is
    /// downloaded into.
    pub fn resolve_model_uri_cached(&self, uri: &str, cache: &Path) -> Result<ResolvedModel> {
        if let Some(rest) = uri.strip_prefix("runs:/") {
            let (run_id, path) = rest
                .trim_start_matches('/')
                .split_once('/')
                .ok_or_else(|| bad(uri, "expected runs:/<run_id>/<path>"))?;
            let run = self.get_run(run_id)?;
            let candidate = Place::of(uri, &run.info.artifact_uri)?.join(uri, path)?;
            if candidate.has_mlmodel()? {
                let dir = candidate.model_dir(uri, cache)?;
                return Ok(found(dir, None, Some(run_id.to_string()), None));
            }
            // MLflow 3: a logged model of that name from this run.
            let name = path.trim_matches('/');
            for id in &run.model_outputs {
                let m = self.get_logged_model(id, false)?;
                if m.name == name {
                    let dir = Place::of(uri, &m.artifact_location)?.model_dir(uri, cache)?;
                    return Ok(found(dir, None, Some(run_id.into()), Some(m.model_id)));
                }
            }
            let dir = candidate.model_dir(uri, cache)?;
            return Ok(found(dir, None, Some(run_id.to_string()), None));
        }
        let rest = uri
            .strip_prefix("models:/")
            .ok_or_else(|| bad(uri, "expected models:/ or runs:/"))?
            .trim_start_matches('/')
            .trim_end_matches('/');
        if rest.starts_with("m-") && !rest.contains('/') {
            let m = self.get_logged_model(rest, false)?;
            let run = m.source_run_id.clone();
            let dir = Place::of(uri, &m.artifact_location)?.model_dir(uri, cache)?;
            return Ok(found(dir, None, run, Some(m.model_id)));
        }
        let mv = if let Some((name, alias)) = rest.split_once('@') {
            self.get_model_version_by_alias(name, alias)?
        } else {
            let (name, which) = rest.split_once('/').unwrap_or((rest, "latest"));
            if let Ok(v) = which.parse::<u64>() {
                self.get_model_version(name, v)?
            } else if which.eq_ignore_ascii_case("latest") {
                self.get_model_version_by_alias(name, "latest")?
            } else {
                let stage = Stage::parse(which)
                    .ok_or_else(|| bad(uri, format!("'{which}' is no version, stage or alias")))?;
                self.get_latest_versions(name, &[stage])?
                    .into_iter()
                    .max_by_key(|v| v.version)
                    .ok_or_else(|| {
                        TrackingError::not_found("model version", format!("{name}/{which}"))
                    })?
            }
        };
        let location = self.get_model_version_download_uri(&mv.name, mv.version)?;
        if location.starts_with("models:/") || location.starts_with("runs:/") {
            let inner = self.resolve_model_uri_cached(&location, cache)?;
            return Ok(found(inner.path, Some(&mv), inner.run_id, inner.model_id));
        }
        let dir = Place::of(uri, &location)?.model_dir(uri, cache)?;
        Ok(found(dir, Some(&mv), None, None))
    }
}
