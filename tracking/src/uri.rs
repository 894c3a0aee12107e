//! Model URIs to local model directories: `runs:/<run>/<path>`, `models:/<name>/<version>`,
//! `models:/<name>@<alias>`, `models:/<name>/<stage>`, `models:/<name>/latest`, `models:/m-<id>`, a
//! path, `file://`. A lookup reads a handful of small files, never the whole store, so a server can
//! call it periodically to notice an alias moving.

use std::path::{Path, PathBuf};

use homeml_flavor::mlmodel::MLMODEL_FILE;

use crate::artifacts::location::Place;
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
    /// Resolves a model URI to the local folder holding its `MLmodel`; a model in an object store is
    /// downloaded into the default model cache ([`crate::rest::default_cache_dir`]).
    pub fn resolve_model_uri(&self, uri: &str) -> Result<ResolvedModel> {
        self.resolve_model_uri_cached(uri, &crate::rest::default_cache_dir())
    }

    /// [`Store::resolve_model_uri`] with the model cache a model in an object store (`s3://`,
    /// `gs://`, `az://`, directly or behind the artifact proxy) is downloaded into.
    pub fn resolve_model_uri_cached(&self, uri: &str, cache_dir: &Path) -> Result<ResolvedModel> {
        self.resolve_depth(uri, 0, cache_dir)
    }

    fn resolve_depth(&self, uri: &str, depth: u32, cache: &Path) -> Result<ResolvedModel> {
        if depth > 4 {
            return Err(bad(
                uri,
                "the URI refers to itself through registry sources",
            ));
        }
        if let Some(rest) = uri.strip_prefix("models:/") {
            self.resolve_models_uri(uri, rest.trim_start_matches('/'), depth, cache)
        } else if let Some(rest) = uri.strip_prefix("runs:/") {
            self.resolve_runs_uri(uri, rest.trim_start_matches('/'), cache)
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

    fn resolve_models_uri(
        &self,
        uri: &str,
        rest: &str,
        depth: u32,
        cache: &Path,
    ) -> Result<ResolvedModel> {
        let (head, tail) = match rest.split_once('/') {
            Some((h, t)) => (h, Some(t.trim_end_matches('/'))),
            None => (rest, None),
        };
        if let Some((name, alias)) = head.split_once('@') {
            if tail.is_some_and(|t| !t.is_empty()) {
                return Err(bad(uri, "expected models:/<name>@<alias>"));
            }
            let mv = self.get_model_version_by_alias(name, alias)?;
            return self.resolve_version(uri, mv, depth, cache);
        }
        match tail.filter(|t| !t.is_empty()) {
            None => {
                // models:/<model_id>: its files may be local or in an object store.
                let lm = self.api_get_logged_model(head, false)?;
                let path = Place::of(uri, &lm.artifact_location)?.model_dir(uri, cache)?;
                Ok(ResolvedModel {
                    path,
                    registered_name: None,
                    version: None,
                    run_id: lm.source_run_id,
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
                self.resolve_version(uri, mv, depth, cache)
            }
        }
    }

    fn resolve_version(
        &self,
        uri: &str,
        mv: ModelVersion,
        depth: u32,
        cache: &Path,
    ) -> Result<ResolvedModel> {
        let location = mv
            .storage_location
            .clone()
            .unwrap_or_else(|| mv.source.clone());
        let mut found = None;
        if location.starts_with("runs:/") || location.starts_with("models:/") {
            found = Some(self.resolve_depth(&location, depth + 1, cache)?);
        } else if let Ok(place) = Place::of(uri, &location) {
            if place.has_mlmodel()? {
                let p = place.model_dir(uri, cache)?;
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
                if let Ok(r) = self.resolve_depth(&format!("models:/{mid}"), depth + 1, cache) {
                    found = Some(r);
                }
            }
        }
        if found.is_none() && mv.source != location {
            if let Ok(r) = self.resolve_depth(&mv.source, depth + 1, cache) {
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

    fn resolve_runs_uri(&self, uri: &str, rest: &str, cache: &Path) -> Result<ResolvedModel> {
        let (run_id, path) = rest
            .split_once('/')
            .ok_or_else(|| bad(uri, "expected runs:/<run_id>/<path>"))?;
        let path = path.trim_end_matches('/');
        names::validate_artifact_path(path)?;
        let run_dir = self.run_dir(run_id)?;
        let info = self.get_run_info(run_id)?;
        let candidate = Place::of(uri, &info.artifact_uri)?.join(uri, path)?;
        if candidate.has_mlmodel()? {
            let dir = candidate.model_dir(uri, cache)?;
            let (_, model_id) = ids_from_mlmodel(&dir);
            return Ok(ResolvedModel {
                path: dir,
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
                let lm = self.api_get_logged_model(&mid, false)?;
                return Ok(ResolvedModel {
                    path: Place::of(uri, &lm.artifact_location)?.model_dir(uri, cache)?,
                    registered_name: None,
                    version: None,
                    run_id: Some(run_id.to_string()),
                    model_id: Some(mid),
                });
            }
        }
        // The error names the place looked at.
        candidate.model_dir(uri, cache)?;
        Err(TrackingError::not_found("model directory", uri))
    }
}

/// `run_id` and `model_id` from a model directory's MLmodel, when readable.
fn ids_from_mlmodel(dir: &Path) -> (Option<String>, Option<String>) {
    match homeml_flavor::MlModel::read_dir(dir) {
        Ok(m) => (m.run_id, m.model_id),
        Err(_) => (None, None),
    }
}
