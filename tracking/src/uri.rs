//! Model URIs to local model directories: `runs:/<run>/<path>`, `models:/<name>/<version>`,
//! `models:/<name>@<alias>`, `models:/<name>/<stage>`, `models:/<name>/latest`, `models:/m-<id>`, a
//! path, `file://`. A lookup reads a handful of small files, never the whole store, so a server can
//! call it periodically to notice an alias moving.

use std::path::{Path, PathBuf};

use homeml_flavor::mlmodel::MLMODEL_FILE;

use crate::entities::{ModelVersion, ResolvedModel, Stage};
use crate::error::{Result, TrackingError};
use crate::fsx;
use crate::meta::Meta;
use crate::names;
use crate::store::{Store, META};
use crate::util;

fn bad(uri: &str, reason: impl Into<String>) -> TrackingError {
    TrackingError::BadUri {
        uri: uri.into(),
        reason: reason.into(),
    }
}

fn check_model_dir(path: PathBuf, what: &str) -> Result<PathBuf> {
    let mlmodel = path.join(MLMODEL_FILE);
    if mlmodel.is_file() {
        Ok(path)
    } else {
        Err(TrackingError::not_found_at(
            "model directory",
            what,
            mlmodel,
        ))
    }
}

impl Store {
    /// Resolves a model URI to the local folder holding its `MLmodel`.
    pub fn resolve_model_uri(&self, uri: &str) -> Result<ResolvedModel> {
        self.resolve_depth(uri, 0)
    }

    fn resolve_depth(&self, uri: &str, depth: u32) -> Result<ResolvedModel> {
        if depth > 4 {
            return Err(bad(
                uri,
                "the URI refers to itself through registry sources",
            ));
        }
        if let Some(rest) = uri.strip_prefix("models:/") {
            self.resolve_models_uri(uri, rest.trim_start_matches('/'), depth)
        } else if let Some(rest) = uri.strip_prefix("runs:/") {
            self.resolve_runs_uri(uri, rest.trim_start_matches('/'))
        } else {
            let path = util::uri_to_path(uri)
                .ok_or_else(|| bad(uri, "expected runs:/, models:/, file:// or a local path"))?;
            let path = std::path::absolute(&path).map_err(|e| TrackingError::io(&path, e))?;
            let path = check_model_dir(path, uri)?;
            let (run_id, model_id) = ids_from_mlmodel(&path);
            Ok(ResolvedModel {
                path,
                registered_name: None,
                version: None,
                run_id,
                model_id,
            })
        }
    }

    fn resolve_models_uri(&self, uri: &str, rest: &str, depth: u32) -> Result<ResolvedModel> {
        let (head, tail) = match rest.split_once('/') {
            Some((h, t)) => (h, Some(t.trim_end_matches('/'))),
            None => (rest, None),
        };
        if let Some((name, alias)) = head.split_once('@') {
            if tail.is_some_and(|t| !t.is_empty()) {
                return Err(bad(uri, "expected models:/<name>@<alias>"));
            }
            let mv = self.get_model_version_by_alias(name, alias)?;
            return self.resolve_version(uri, mv, depth);
        }
        match tail.filter(|t| !t.is_empty()) {
            None => {
                // models:/<model_id>
                let lm = self.get_logged_model(head)?;
                let path = check_model_dir(lm.artifact_dir, uri)?;
                Ok(ResolvedModel {
                    path,
                    registered_name: None,
                    version: None,
                    run_id: lm.run_id,
                    model_id: Some(lm.model_id),
                })
            }
            Some(sel) => {
                let mv = if let Ok(v) = sel.parse::<u64>() {
                    self.get_model_version(head, v)?
                } else if sel.eq_ignore_ascii_case("latest") {
                    self.latest_version(head, None)?.ok_or_else(|| {
                        TrackingError::not_found("model version", format!("{head}/latest"))
                    })?
                } else if let Some(stage) = Stage::parse(sel) {
                    self.latest_version(head, Some(stage))?.ok_or_else(|| {
                        TrackingError::not_found(
                            "model version",
                            format!("{head} in stage {stage}"),
                        )
                    })?
                } else {
                    return Err(bad(
                        uri,
                        format!("'{sel}' is not a version, 'latest' or a stage"),
                    ));
                };
                self.resolve_version(uri, mv, depth)
            }
        }
    }

    fn resolve_version(&self, uri: &str, mv: ModelVersion, depth: u32) -> Result<ResolvedModel> {
        let location = mv
            .storage_location
            .clone()
            .unwrap_or_else(|| mv.source.clone());
        let mut found = None;
        if location.starts_with("runs:/") || location.starts_with("models:/") {
            found = Some(self.resolve_depth(&location, depth + 1)?);
        } else if let Some(p) = util::uri_to_path(&location) {
            if p.join(MLMODEL_FILE).is_file() {
                let (run_id, model_id) = ids_from_mlmodel(&p);
                found = Some(ResolvedModel {
                    path: p,
                    registered_name: None,
                    version: None,
                    run_id,
                    model_id,
                });
            }
        }
        // The store may have moved since the version was written: fall back to the logged model, then
        // to the source.
        if found.is_none() {
            if let Some(mid) = &mv.model_id {
                if let Ok(r) = self.resolve_depth(&format!("models:/{mid}"), depth + 1) {
                    found = Some(r);
                }
            }
        }
        if found.is_none() && mv.source != location {
            if let Ok(r) = self.resolve_depth(&mv.source, depth + 1) {
                found = Some(r);
            }
        }
        let r = found.ok_or_else(|| {
            TrackingError::not_found(
                "model directory",
                format!(
                    "{uri} (version {} of '{}' at {location})",
                    mv.version, mv.name
                ),
            )
        })?;
        Ok(ResolvedModel {
            path: r.path,
            registered_name: Some(mv.name),
            version: Some(mv.version),
            run_id: mv.run_id.or(r.run_id),
            model_id: mv.model_id.or(r.model_id),
        })
    }

    fn resolve_runs_uri(&self, uri: &str, rest: &str) -> Result<ResolvedModel> {
        let (run_id, path) = rest
            .split_once('/')
            .ok_or_else(|| bad(uri, "expected runs:/<run_id>/<path>"))?;
        let path = path.trim_end_matches('/');
        names::validate_artifact_path(path)?;
        let run_dir = self.run_dir(run_id)?;
        let artifacts = self.artifact_dir(run_id)?;
        let candidate = if path.is_empty() {
            artifacts
        } else {
            artifacts.join(path)
        };
        if candidate.join(MLMODEL_FILE).is_file() {
            let (_, model_id) = ids_from_mlmodel(&candidate);
            return Ok(ResolvedModel {
                path: candidate,
                registered_name: None,
                version: None,
                run_id: Some(run_id.to_string()),
                model_id,
            });
        }
        // MLflow 3: the run's logged models, by name.
        for (mid, is_dir) in fsx::list_names(&run_dir.join("outputs"))? {
            if !is_dir || !mid.starts_with("m-") {
                continue;
            }
            let Ok(dir) = self.logged_model_dir(&mid) else {
                continue;
            };
            let Some(m) = Meta::read_opt(&dir.join(META), "logged model")? else {
                continue;
            };
            if m.str("name").as_deref() == Some(path) {
                let lm = self.get_logged_model(&mid)?;
                return Ok(ResolvedModel {
                    path: check_model_dir(lm.artifact_dir, uri)?,
                    registered_name: None,
                    version: None,
                    run_id: Some(run_id.to_string()),
                    model_id: Some(mid),
                });
            }
        }
        Err(TrackingError::not_found_at(
            "model directory",
            uri,
            candidate.join(MLMODEL_FILE),
        ))
    }
}

/// `run_id` and `model_id` from a model directory's MLmodel, when readable.
fn ids_from_mlmodel(dir: &Path) -> (Option<String>, Option<String>) {
    match homeml_flavor::MlModel::read_dir(dir) {
        Ok(m) => (m.run_id, m.model_id),
        Err(_) => (None, None),
    }
}
