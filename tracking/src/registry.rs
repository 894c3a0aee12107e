//! The model registry: `<root>/models/<name>/{meta.yaml, tags/, aliases/, version-<n>/{meta.yaml, tags/}}`.
//!
//! Version numbers are allocated under the store lock and claimed with `mkdir` (which fails when the
//! folder exists), so two processes never get the same number, and MLflow itself, which also claims
//! with `mkdir`, cannot collide with homeml either.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::entities::{ModelVersion, RegisteredModel, Stage};
use crate::error::{Result, TrackingError};
use crate::fsx;
use crate::meta::{opt, Meta};
use crate::names;
use crate::store::{Store, META, MODELS};
use crate::util;

/// The stage MLflow gives deleted versions (their folder stays, so numbers are never reused).
const STAGE_DELETED: &str = "Deleted_Internal";

/// Options of [`Store::create_model_version_with`].
#[derive(Debug, Clone, Default)]
pub struct ModelVersionOptions {
    /// The run that produced the model (found from the source when `None`).
    pub run_id: Option<String>,
    /// The logged model (found from a `models:/m-..` source when `None`).
    pub model_id: Option<String>,
    /// A description.
    pub description: Option<String>,
    /// Version tags.
    pub tags: BTreeMap<String, String>,
}

fn version_dir(model_dir: &Path, version: u64) -> PathBuf {
    model_dir.join(format!("version-{version}"))
}

impl Store {
    fn registered_model_meta(&self, name: &str) -> Result<(PathBuf, Meta)> {
        let dir = self.registered_model_dir(name)?;
        let m = self.read_meta(&dir.join(META), "registered model", name)?;
        Ok((dir, m))
    }

    fn read_aliases(&self, dir: &Path) -> Result<BTreeMap<String, u64>> {
        let mut out = BTreeMap::new();
        for (alias, v) in fsx::read_kv_dir(&dir.join("aliases"))? {
            if let Ok(n) = v.trim().parse() {
                out.insert(alias, n);
            }
        }
        Ok(out)
    }

    /// Rewrites the registered model's meta with fresh aliases and `last_updated_timestamp`.
    fn touch_registered_model(&self, dir: &Path, name: &str) -> Result<()> {
        let path = dir.join(META);
        let mut m = self.read_meta(&path, "registered model", name)?;
        let aliases: Map<String, Value> = self
            .read_aliases(dir)?
            .into_iter()
            .map(|(k, v)| (k, Value::String(v.to_string())))
            .collect();
        m.set("aliases", Value::Object(aliases))
            .set("last_updated_timestamp", util::now_ms());
        self.write_meta(&m, &path)
    }

    /// Creates a registered model; the name must be new.
    pub fn create_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let dir = self.registered_model_dir(name)?;
        let _lock = self.lock()?;
        let path = dir.join(META);
        let now = util::now_ms();
        let mut m = Meta::default();
        m.set("aliases", Value::Object(Map::new()))
            .set("creation_timestamp", now)
            .set("deployment_job_id", Value::Null)
            .set("deployment_job_state", Value::Null)
            .set("description", Value::Null)
            .set("last_updated_timestamp", now)
            .set("name", name)
            .set("workspace", "default");
        if !m.write_new(self.tmp_dir(), &path)? {
            return Err(TrackingError::AlreadyExists {
                kind: "registered model",
                name: name.into(),
                path,
            });
        }
        tracing::debug!(name, "created registered model");
        self.get_registered_model(name)
    }

    /// A registered model with its tags and aliases.
    pub fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let (dir, m) = self.registered_model_meta(name)?;
        Ok(RegisteredModel {
            name: m.str("name").unwrap_or_else(|| name.to_string()),
            description: m.str("description"),
            creation_timestamp: m.int("creation_timestamp"),
            last_updated_timestamp: m.int("last_updated_timestamp"),
            tags: fsx::read_kv_dir(&dir.join("tags"))?,
            aliases: self.read_aliases(&dir)?,
        })
    }

    /// Every registered model, by name.
    pub fn list_registered_models(&self) -> Result<Vec<RegisteredModel>> {
        let base = self.root().join(MODELS);
        let mut out = Vec::new();
        for (name, is_dir) in fsx::list_names(&base)? {
            if !is_dir || names::validate_model_name(&name).is_err() {
                continue;
            }
            if base.join(&name).join(META).is_file() {
                out.push(self.get_registered_model(&name)?);
            }
        }
        Ok(out)
    }

    /// Sets (or clears, with `None`) a registered model's description.
    pub fn set_registered_model_description(
        &self,
        name: &str,
        description: Option<&str>,
    ) -> Result<()> {
        let (dir, mut m) = self.registered_model_meta(name)?;
        m.set("description", opt(description))
            .set("last_updated_timestamp", util::now_ms());
        self.write_meta(&m, &dir.join(META))
    }

    /// Sets a registered model tag.
    pub fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        names::validate_key("registered model tag key", key)?;
        let (dir, _) = self.registered_model_meta(name)?;
        self.write_value(&dir.join("tags").join(key), value)
    }

    /// Deletes a registered model tag (absent is not an error).
    pub fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        names::validate_key("registered model tag key", key)?;
        let (dir, _) = self.registered_model_meta(name)?;
        remove_if_exists(&dir.join("tags").join(key))
    }

    /// Renames a registered model; its versions (and their metas' `name`) go with it.
    pub fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel> {
        names::validate_model_name(new_name)?;
        let (dir, mut m) = self.registered_model_meta(name)?;
        let target = self.registered_model_dir(new_name)?;
        let _lock = self.lock()?;
        if target.join(META).is_file() {
            return Err(TrackingError::AlreadyExists {
                kind: "registered model",
                name: new_name.into(),
                path: target.join(META),
            });
        }
        m.set("name", new_name)
            .set("last_updated_timestamp", util::now_ms());
        self.write_meta(&m, &dir.join(META))?;
        for (entry, is_dir) in fsx::list_names(&dir)? {
            let vmeta = dir.join(&entry).join(META);
            if is_dir && entry.starts_with("version-") && vmeta.is_file() {
                let mut vm = self.read_meta(&vmeta, "model version", &entry)?;
                vm.set("name", new_name);
                self.write_meta(&vm, &vmeta)?;
            }
        }
        std::fs::rename(&dir, &target).map_err(|e| TrackingError::io(&target, e))?;
        drop(_lock);
        self.get_registered_model(new_name)
    }

    /// Deletes a registered model with all its versions (as MLflow does: the folder goes).
    pub fn delete_registered_model(&self, name: &str) -> Result<()> {
        let (dir, _) = self.registered_model_meta(name)?;
        let _lock = self.lock()?;
        std::fs::remove_dir_all(&dir).map_err(|e| TrackingError::io(&dir, e))
    }

    /// Creates the next version of a registered model from a source URI: `models:/m-<id>` (a logged
    /// model), `runs:/<run>/<path>`, or a path / `file://` URI.
    pub fn create_model_version(&self, name: &str, source: &str) -> Result<ModelVersion> {
        self.create_model_version_with(name, source, ModelVersionOptions::default())
    }

    /// [`Store::create_model_version`] with run id, model id, description and tags.
    pub fn create_model_version_with(
        &self,
        name: &str,
        source: &str,
        opts: ModelVersionOptions,
    ) -> Result<ModelVersion> {
        for k in opts.tags.keys() {
            names::validate_key("model version tag key", k)?;
        }
        let (dir, _) = self.registered_model_meta(name)?;
        let mut run_id = opts.run_id.clone();
        let mut model_id = opts.model_id.clone();
        let mut storage_location = source.to_string();
        if let Some(rest) = source.strip_prefix("models:/") {
            if rest.starts_with("m-") && !rest.contains('/') {
                // Read as the API sees it: its artifacts need not be local (mlflow-artifacts:/).
                let lm = self.api_get_logged_model(rest, true)?;
                storage_location = lm.artifact_location.clone();
                model_id.get_or_insert(lm.model_id);
                if run_id.is_none() {
                    run_id = lm.source_run_id;
                }
            } else {
                let resolved = self.resolve_model_uri(source)?;
                storage_location = util::file_uri(&resolved.path);
            }
        } else if let Some(rest) = source.strip_prefix("runs:/") {
            let (rid, sub) = rest.split_once('/').unwrap_or((rest, ""));
            if let Ok(info) = self.get_run_info(rid) {
                storage_location = format!(
                    "{}/{}",
                    info.artifact_uri.trim_end_matches('/'),
                    sub.trim_start_matches('/')
                )
                .trim_end_matches('/')
                .to_string();
            }
            if run_id.is_none() {
                run_id = Some(rid.to_string());
            }
        } else if let Some(p) = util::uri_to_path(source) {
            let abs = std::path::absolute(&p).map_err(|e| TrackingError::io(&p, e))?;
            storage_location = util::file_uri(&abs);
        }
        if model_id.is_some() && run_id.is_none() {
            if let Some(mid) = &model_id {
                run_id = self.api_get_logged_model(mid, true)?.source_run_id;
            }
        }

        let _lock = self.lock()?;
        let mut next = 1 + self.max_version(&dir)?;
        let vdir = loop {
            let vdir = version_dir(&dir, next);
            match std::fs::create_dir(&vdir) {
                Ok(()) => break vdir,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => next += 1,
                Err(e) => return Err(TrackingError::io(&vdir, e)),
            }
        };
        let now = util::now_ms();
        let mut m = Meta::default();
        m.set("creation_timestamp", now)
            .set("current_stage", Stage::None.as_str())
            .set("deployment_job_state", Value::Null)
            .set("description", opt(opts.description.clone()))
            .set("last_updated_timestamp", now)
            .set("model_id", opt(model_id))
            .set("name", name)
            .set("run_id", opt(run_id))
            .set("run_link", Value::Null)
            .set("source", source)
            .set("status", "READY")
            .set("status_message", Value::Null)
            .set("storage_location", storage_location)
            .set("user_id", Value::Null)
            .set("version", next)
            .set("workspace", "default");
        for (k, v) in &opts.tags {
            self.write_value(&vdir.join("tags").join(k), v)?;
        }
        self.write_meta(&m, &vdir.join(META))?;
        self.touch_registered_model(&dir, name)?;
        tracing::debug!(name, version = next, "created model version");
        self.get_model_version(name, next)
    }

    fn max_version(&self, dir: &Path) -> Result<u64> {
        Ok(fsx::list_names(dir)?
            .into_iter()
            .filter(|(_, d)| *d)
            .filter_map(|(n, _)| n.strip_prefix("version-")?.parse::<u64>().ok())
            .max()
            .unwrap_or(0))
    }

    /// Reads a version, deleted ones included (`None` when its folder or meta is missing).
    fn read_version(
        &self,
        dir: &Path,
        name: &str,
        version: u64,
    ) -> Result<Option<(ModelVersion, bool)>> {
        let vdir = version_dir(dir, version);
        let path = vdir.join(META);
        let Some(m) = Meta::read_opt(&path, "model version")? else {
            return Ok(None);
        };
        let stage_str = m.str("current_stage").unwrap_or_else(|| "None".into());
        let deleted = stage_str == STAGE_DELETED;
        let current_stage = Stage::parse(&stage_str).unwrap_or(Stage::None);
        let aliases = self
            .read_aliases(dir)?
            .into_iter()
            .filter(|(_, v)| *v == version)
            .map(|(k, _)| k)
            .collect();
        Ok(Some((
            ModelVersion {
                name: m.str("name").unwrap_or_else(|| name.to_string()),
                version: m.int("version").map(|v| v as u64).unwrap_or(version),
                source: m.str("source").unwrap_or_default(),
                run_id: m.str("run_id").filter(|s| !s.is_empty()),
                model_id: m.str("model_id").filter(|s| !s.is_empty()),
                storage_location: m.str("storage_location"),
                current_stage,
                description: m.str("description"),
                status: m.str("status").unwrap_or_else(|| "READY".into()),
                creation_timestamp: m.int("creation_timestamp"),
                last_updated_timestamp: m.int("last_updated_timestamp"),
                tags: fsx::read_kv_dir(&vdir.join("tags"))?,
                aliases,
            },
            deleted,
        )))
    }

    /// A model version (deleted versions are not found).
    pub fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        let dir = self.registered_model_dir(name)?;
        match self.read_version(&dir, name, version)? {
            Some((mv, false)) => Ok(mv),
            _ => Err(TrackingError::not_found_at(
                "model version",
                format!("{name}/{version}"),
                version_dir(&dir, version).join(META),
            )),
        }
    }

    /// The live versions of one registered model (or of all when `name` is `None`), by name then
    /// version.
    pub fn search_model_versions(&self, name: Option<&str>) -> Result<Vec<ModelVersion>> {
        let names_to_scan: Vec<String> = match name {
            Some(n) => {
                self.registered_model_meta(n)?;
                vec![n.to_string()]
            }
            None => self
                .list_registered_models()?
                .into_iter()
                .map(|m| m.name)
                .collect(),
        };
        let mut out = Vec::new();
        for n in names_to_scan {
            let dir = self.registered_model_dir(&n)?;
            let mut numbers: Vec<u64> = fsx::list_names(&dir)?
                .into_iter()
                .filter(|(_, d)| *d)
                .filter_map(|(f, _)| f.strip_prefix("version-")?.parse::<u64>().ok())
                .collect();
            numbers.sort_unstable();
            for v in numbers {
                if let Some((mv, false)) = self.read_version(&dir, &n, v)? {
                    out.push(mv);
                }
            }
        }
        Ok(out)
    }

    /// The highest live version, optionally only among versions in `stage`.
    pub fn latest_version(&self, name: &str, stage: Option<Stage>) -> Result<Option<ModelVersion>> {
        let dir = self.registered_model_dir(name)?;
        if !dir.join(META).is_file() {
            return Err(TrackingError::not_found_at(
                "registered model",
                name,
                dir.join(META),
            ));
        }
        let mut v = self.max_version(&dir)?;
        while v > 0 {
            if let Some((mv, false)) = self.read_version(&dir, name, v)? {
                if stage.is_none_or(|s| s == mv.current_stage) {
                    return Ok(Some(mv));
                }
            }
            v -= 1;
        }
        Ok(None)
    }

    fn update_version_meta(
        &self,
        name: &str,
        version: u64,
        f: impl FnOnce(&mut Meta),
    ) -> Result<()> {
        self.get_model_version(name, version)?;
        let dir = self.registered_model_dir(name)?;
        let path = version_dir(&dir, version).join(META);
        let mut m = self.read_meta(&path, "model version", &format!("{name}/{version}"))?;
        f(&mut m);
        m.set("last_updated_timestamp", util::now_ms());
        self.write_meta(&m, &path)?;
        self.touch_registered_model(&dir, name)
    }

    /// Moves a version to a stage.
    pub fn transition_stage(&self, name: &str, version: u64, stage: Stage) -> Result<ModelVersion> {
        self.update_version_meta(name, version, |m| {
            m.set("current_stage", stage.as_str());
        })?;
        self.get_model_version(name, version)
    }

    /// Moves a version to a stage and archives the other versions in that stage (MLflow's
    /// `archive_existing_versions=True`).
    pub fn transition_stage_archiving_others(
        &self,
        name: &str,
        version: u64,
        stage: Stage,
    ) -> Result<ModelVersion> {
        let mv = self.transition_stage(name, version, stage)?;
        if matches!(stage, Stage::Staging | Stage::Production) {
            for other in self.search_model_versions(Some(name))? {
                if other.version != version && other.current_stage == stage {
                    self.transition_stage(name, other.version, Stage::Archived)?;
                }
            }
        }
        Ok(mv)
    }

    /// Sets (or clears) a version's description.
    pub fn set_model_version_description(
        &self,
        name: &str,
        version: u64,
        description: Option<&str>,
    ) -> Result<()> {
        self.update_version_meta(name, version, |m| {
            m.set("description", opt(description));
        })
    }

    /// Sets a version tag.
    pub fn set_model_version_tag(
        &self,
        name: &str,
        version: u64,
        key: &str,
        value: &str,
    ) -> Result<()> {
        names::validate_key("model version tag key", key)?;
        self.get_model_version(name, version)?;
        let dir = self.registered_model_dir(name)?;
        self.write_value(&version_dir(&dir, version).join("tags").join(key), value)
    }

    /// Deletes a version tag (absent is not an error).
    pub fn delete_model_version_tag(&self, name: &str, version: u64, key: &str) -> Result<()> {
        names::validate_key("model version tag key", key)?;
        self.get_model_version(name, version)?;
        let dir = self.registered_model_dir(name)?;
        remove_if_exists(&version_dir(&dir, version).join("tags").join(key))
    }

    /// Deletes a version: it is marked `Deleted_Internal` as MLflow does (its number is never reused)
    /// and its aliases are removed.
    pub fn delete_model_version(&self, name: &str, version: u64) -> Result<()> {
        let mv = self.get_model_version(name, version)?;
        let dir = self.registered_model_dir(name)?;
        for alias in &mv.aliases {
            remove_if_exists(&dir.join("aliases").join(alias))?;
        }
        self.update_version_meta(name, version, |m| {
            m.set("current_stage", STAGE_DELETED);
        })
        .or_else(|e| match e {
            // update_version_meta re-reads through get_model_version, which now says not found.
            TrackingError::NotFound { .. } => Ok(()),
            e => Err(e),
        })
    }

    /// Points an alias at a version.
    pub fn set_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        names::validate_alias_settable(alias)?;
        self.get_model_version(name, version)?;
        let dir = self.registered_model_dir(name)?;
        self.write_value(&dir.join("aliases").join(alias), &version.to_string())?;
        self.touch_registered_model(&dir, name)
    }

    /// Removes an alias (absent is not an error).
    pub fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        names::validate_alias(alias)?;
        let (dir, _) = self.registered_model_meta(name)?;
        remove_if_exists(&dir.join("aliases").join(alias))?;
        self.touch_registered_model(&dir, name)
    }

    /// The version an alias points at (`latest` is the highest live version).
    pub fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        names::validate_alias(alias)?;
        let dir = self.registered_model_dir(name)?;
        if alias.eq_ignore_ascii_case("latest") {
            return self.latest_version(name, None)?.ok_or_else(|| {
                TrackingError::not_found("model version", format!("{name}@latest"))
            });
        }
        let path = dir.join("aliases").join(alias);
        let text = fsx::read_opt(&path)?.ok_or_else(|| {
            TrackingError::not_found_at("alias", format!("{name}@{alias}"), &path)
        })?;
        let version: u64 = text.trim().parse().map_err(|_| TrackingError::Corrupt {
            kind: "alias",
            path: path.clone(),
            message: format!("'{}' is not a version number", text.trim()),
        })?;
        self.get_model_version(name, version)
    }
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(TrackingError::io(path, e)),
        _ => Ok(()),
    }
}
