//! Model URIs resolved straight from the database (`homeml serve -m models:/name@alias
//! --tracking-uri sqlite:///...`): the registry or the run gives the model's location, which must
//! be local: a `file://` URI or a path, or `mlflow-artifacts:/...` when the artifact proxy's
//! destination is known (`MLFLOW_ARTIFACTS_DESTINATION`, the variable of `homeml server
//! --artifacts-destination`).

use std::path::PathBuf;

use homeml_flavor::mlmodel::MLMODEL_FILE;

use super::handle::SqlStore;
use crate::api::TrackingStore;
use crate::entities::{ModelVersion, ResolvedModel, Stage};
use crate::error::{Result, TrackingError};
use crate::util;

fn bad(uri: &str, reason: impl Into<String>) -> TrackingError {
    TrackingError::BadUri {
        uri: uri.into(),
        reason: reason.into(),
    }
}

/// The local folder of an artifact location.
fn local_dir(uri: &str, location: &str) -> Result<PathBuf> {
    if let Some(rest) = location.strip_prefix("mlflow-artifacts:") {
        let root = std::env::var("MLFLOW_ARTIFACTS_DESTINATION").map_err(|_| {
            bad(
                uri,
                format!(
                    "the model is in the tracking server's artifact proxy ({location}): set \
                     MLFLOW_ARTIFACTS_DESTINATION to that server's --artifacts-destination, or \
                     resolve through the server (--tracking-uri http://...)"
                ),
            )
        })?;
        let root = util::uri_to_path(&root).unwrap_or_else(|| PathBuf::from(root));
        let rel = rest.trim_start_matches('/');
        if rel.split('/').any(|p| p == "..") {
            return Err(bad(uri, format!("'{location}' leaves the artifact root")));
        }
        return Ok(root.join(rel));
    }
    util::uri_to_path(location).ok_or_else(|| {
        bad(
            uri,
            format!("the model's location {location} is not local (file:// or a path)"),
        )
    })
}

fn found(
    uri: &str,
    dir: PathBuf,
    mv: Option<&ModelVersion>,
    run_id: Option<String>,
    model_id: Option<String>,
) -> Result<ResolvedModel> {
    if !dir.join(MLMODEL_FILE).is_file() {
        return Err(TrackingError::not_found_at(
            "model directory",
            uri,
            dir.join(MLMODEL_FILE),
        ));
    }
    Ok(ResolvedModel {
        path: dir,
        registered_name: mv.map(|m| m.name.clone()),
        version: mv.map(|m| m.version),
        run_id: run_id.or_else(|| mv.and_then(|m| m.run_id.clone())),
        model_id: model_id.or_else(|| mv.and_then(|m| m.model_id.clone())),
    })
}

impl SqlStore {
    /// Resolves `models:/<name>@<alias>`, `models:/<name>/<version|stage|latest>`,
    /// `models:/m-<id>` and `runs:/<run>/<path>` to the local folder holding the `MLmodel`.
    pub fn resolve_model_uri(&self, uri: &str) -> Result<ResolvedModel> {
        if let Some(rest) = uri.strip_prefix("runs:/") {
            let (run_id, path) = rest
                .trim_start_matches('/')
                .split_once('/')
                .ok_or_else(|| bad(uri, "expected runs:/<run_id>/<path>"))?;
            let run = self.get_run(run_id)?;
            let base = local_dir(uri, &run.info.artifact_uri)?;
            let dir = base.join(path.trim_matches('/'));
            if dir.join(MLMODEL_FILE).is_file() {
                return found(uri, dir, None, Some(run_id.to_string()), None);
            }
            // MLflow 3: a logged model of that name from this run.
            let name = path.trim_matches('/');
            for id in &run.model_outputs {
                let m = self.get_logged_model(id, false)?;
                if m.name == name {
                    return found(
                        uri,
                        local_dir(uri, &m.artifact_location)?,
                        None,
                        Some(run_id.into()),
                        Some(m.model_id),
                    );
                }
            }
            return found(uri, dir, None, Some(run_id.to_string()), None);
        }
        let rest = uri
            .strip_prefix("models:/")
            .ok_or_else(|| bad(uri, "expected models:/ or runs:/"))?
            .trim_start_matches('/')
            .trim_end_matches('/');
        if rest.starts_with("m-") && !rest.contains('/') {
            let m = self.get_logged_model(rest, false)?;
            let run = m.source_run_id.clone();
            return found(
                uri,
                local_dir(uri, &m.artifact_location)?,
                None,
                run,
                Some(m.model_id),
            );
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
            let inner = self.resolve_model_uri(&location)?;
            return found(uri, inner.path, Some(&mv), inner.run_id, inner.model_id);
        }
        found(uri, local_dir(uri, &location)?, Some(&mv), None, None)
    }
}
