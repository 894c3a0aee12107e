//! Experiments: `<root>/<id>/meta.yaml` and `<root>/<id>/tags/<key>`; deleted ones move to `.trash/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::entities::{Experiment, LifecycleStage, ViewType};
use crate::error::{Result, TrackingError};
use crate::fsx;
use crate::meta::Meta;
use crate::names;
use crate::store::{Store, META};
use crate::util;

/// The id of the default experiment.
pub const DEFAULT_EXPERIMENT_ID: &str = "0";

fn experiment_meta(id: &str, name: &str, artifact_location: &str, now: i64) -> Meta {
    let mut m = Meta::default();
    m.set("artifact_location", artifact_location)
        .set("creation_time", now)
        .set("effective_trace_archival_retention", Value::Null)
        .set("experiment_id", id)
        .set("last_update_time", now)
        .set("lifecycle_stage", "active")
        .set("name", name)
        .set("trace_location", Value::Null)
        .set("workspace", "default");
    m
}

impl Store {
    pub(crate) fn ensure_default_experiment(&self) -> Result<()> {
        let dir = self.root().join(DEFAULT_EXPERIMENT_ID);
        let meta_path = dir.join(META);
        if meta_path.is_file() || self.trash_dir().join(DEFAULT_EXPERIMENT_ID).is_dir() {
            return Ok(());
        }
        let loc = self.new_experiment_location(DEFAULT_EXPERIMENT_ID, &dir);
        let meta = experiment_meta(DEFAULT_EXPERIMENT_ID, "Default", &loc, util::now_ms());
        meta.write_new(self.tmp_dir(), &meta_path)?;
        Ok(())
    }

    pub(crate) fn read_experiment(&self, dir: &Path) -> Result<Experiment> {
        let path = dir.join(META);
        let id_from_dir = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let m = self.read_meta(&path, "experiment", &id_from_dir)?;
        let tags = fsx::read_kv_dir(&dir.join("tags"))?;
        Ok(Experiment {
            experiment_id: m.str("experiment_id").unwrap_or(id_from_dir),
            name: m.req_str("name", "experiment", &path)?,
            artifact_location: m
                .str("artifact_location")
                .unwrap_or_else(|| util::file_uri(dir)),
            lifecycle_stage: LifecycleStage::parse(m.str("lifecycle_stage").as_deref()),
            creation_time: m.int("creation_time"),
            last_update_time: m.int("last_update_time"),
            tags,
        })
    }

    /// Creates an experiment; names are unique among active and deleted experiments.
    pub fn create_experiment(&self, name: &str) -> Result<String> {
        self.create_experiment_at(name, None)
    }

    /// [`Store::create_experiment`] with an artifact location (the store's default when `None`).
    pub fn create_experiment_at(
        &self,
        name: &str,
        artifact_location: Option<&str>,
    ) -> Result<String> {
        names::validate_experiment_name(name)?;
        let _lock = self.lock()?;
        if let Some(e) = self.get_experiment_by_name(name)? {
            let path = self.experiment_dir(&e.experiment_id)?.join(META);
            return Err(TrackingError::AlreadyExists {
                kind: "experiment",
                name: format!(
                    "{name}' (id {}, {}",
                    e.experiment_id,
                    e.lifecycle_stage.as_str()
                ),
                path,
            });
        }
        loop {
            let id = util::experiment_id();
            let dir = self.root().join(&id);
            if dir.exists() || self.trash_dir().join(&id).exists() {
                continue;
            }
            let loc = match artifact_location {
                Some(l) if !l.is_empty() => l.to_string(),
                _ => self.new_experiment_location(&id, &dir),
            };
            let meta = experiment_meta(&id, name, &loc, util::now_ms());
            std::fs::create_dir_all(&dir).map_err(|e| TrackingError::io(&dir, e))?;
            if meta.write_new(self.tmp_dir(), &dir.join(META))? {
                tracing::debug!(experiment_id = %id, name, "created experiment");
                return Ok(id);
            }
        }
    }

    /// An experiment by id (active or deleted).
    pub fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        let dir = self.experiment_dir(experiment_id)?;
        self.read_experiment(&dir)
    }

    /// An experiment by name (active or deleted), or `None`.
    pub fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        for dir in self.experiment_dirs()? {
            // A half-created or foreign folder is skipped, not fatal, while searching by name.
            match self.read_experiment(&dir) {
                Ok(e) if e.name == name => return Ok(Some(e)),
                Ok(_) => {}
                Err(TrackingError::NotFound { .. }) => {}
                Err(e) => tracing::warn!(error = %e, "skipping unreadable experiment"),
            }
        }
        Ok(None)
    }

    /// The id of the active experiment `name`, creating it if needed. A deleted one is an error.
    pub fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        get_or_create_experiment_with(
            name,
            |n| self.get_experiment_by_name(n),
            |n| self.create_experiment(n),
        )
    }

    /// The active experiments, ordered by id (`0` first).
    pub fn list_experiments(&self) -> Result<Vec<Experiment>> {
        self.list_experiments_view(ViewType::ActiveOnly)
    }

    /// Experiments of a view, ordered by id. An experiment whose `meta.yaml` cannot be read is
    /// skipped with a warning naming the file (see [`Store::list_experiments_skipping`]).
    pub fn list_experiments_view(&self, view: ViewType) -> Result<Vec<Experiment>> {
        Ok(self.list_experiments_skipping(view)?.0)
    }

    /// Experiments of a view, ordered by id, and the `meta.yaml` files of the experiments skipped
    /// because they cannot be read (damaged, or missing their name), each also logged as a warning.
    /// One broken experiment does not hide the others.
    pub fn list_experiments_skipping(
        &self,
        view: ViewType,
    ) -> Result<(Vec<Experiment>, Vec<PathBuf>)> {
        let mut out = Vec::new();
        let mut skipped = Vec::new();
        for dir in self.experiment_dirs()? {
            match self.read_experiment(&dir) {
                Ok(e) if view.admits(e.lifecycle_stage) => out.push(e),
                Ok(_) | Err(TrackingError::NotFound { .. }) => {}
                Err(e) => {
                    let file = dir.join(META);
                    // Debug formatting escapes control characters the file may hold.
                    tracing::warn!(
                        file = %file.display(),
                        error = ?e.to_string(),
                        "skipping an experiment whose meta.yaml cannot be read"
                    );
                    skipped.push(file);
                }
            }
        }
        out.sort_by(|a, b| {
            (a.experiment_id.len(), &a.experiment_id)
                .cmp(&(b.experiment_id.len(), &b.experiment_id))
        });
        Ok((out, skipped))
    }

    /// Sets an experiment tag.
    pub fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()> {
        names::validate_key("experiment tag key", key)?;
        let dir = self.experiment_dir(experiment_id)?;
        self.write_value(&dir.join("tags").join(key), value)
    }

    /// Deletes an experiment tag (absent is not an error).
    pub fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        names::validate_key("experiment tag key", key)?;
        let path = self.experiment_dir(experiment_id)?.join("tags").join(key);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(TrackingError::io(&path, e)),
            _ => Ok(()),
        }
    }

    /// Renames an experiment.
    pub fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        names::validate_experiment_name(new_name)?;
        let _lock = self.lock()?;
        if let Some(e) = self.get_experiment_by_name(new_name)? {
            if e.experiment_id != experiment_id {
                return Err(TrackingError::AlreadyExists {
                    kind: "experiment",
                    name: new_name.into(),
                    path: self.experiment_dir(&e.experiment_id)?.join(META),
                });
            }
        }
        let dir = self.experiment_dir(experiment_id)?;
        let path = dir.join(META);
        let mut m = self.read_meta(&path, "experiment", experiment_id)?;
        m.set("name", new_name)
            .set("last_update_time", util::now_ms());
        self.write_meta(&m, &path)
    }

    /// Marks an experiment deleted and moves it to `.trash/`, as MLflow does. Its runs go with it.
    pub fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        if experiment_id == DEFAULT_EXPERIMENT_ID {
            return Err(TrackingError::InvalidState {
                kind: "experiment",
                name: experiment_id.into(),
                reason: "is the default experiment and cannot be deleted".into(),
            });
        }
        self.set_experiment_stage(experiment_id, LifecycleStage::Deleted)
    }

    /// Restores a deleted experiment.
    pub fn restore_experiment(&self, experiment_id: &str) -> Result<()> {
        self.set_experiment_stage(experiment_id, LifecycleStage::Active)
    }

    fn set_experiment_stage(&self, experiment_id: &str, stage: LifecycleStage) -> Result<()> {
        let _lock = self.lock()?;
        let dir = self.experiment_dir(experiment_id)?;
        let path = dir.join(META);
        let mut m = self.read_meta(&path, "experiment", experiment_id)?;
        let current = LifecycleStage::parse(m.str("lifecycle_stage").as_deref());
        if current == stage {
            return Err(TrackingError::InvalidState {
                kind: "experiment",
                name: experiment_id.into(),
                reason: format!("is already {}", stage.as_str()),
            });
        }
        m.set("lifecycle_stage", stage.as_str())
            .set("last_update_time", util::now_ms());
        self.write_meta(&m, &path)?;
        let target = match stage {
            LifecycleStage::Deleted => self.trash_dir().join(experiment_id),
            LifecycleStage::Active => self.root().join(experiment_id),
        };
        if target != dir {
            std::fs::rename(&dir, &target).map_err(|e| TrackingError::io(&target, e))?;
        }
        self.forget_runs();
        Ok(())
    }

    /// Experiment tags as a map.
    pub fn get_experiment_tags(&self, experiment_id: &str) -> Result<BTreeMap<String, String>> {
        Ok(self.get_experiment(experiment_id)?.tags)
    }
}

/// The id of the active experiment `name` through any backend's lookup and create: a deleted one
/// is an error, and a create that loses a race to another writer finds the winner's.
pub(crate) fn get_or_create_experiment_with(
    name: &str,
    get: impl Fn(&str) -> Result<Option<Experiment>>,
    create: impl FnOnce(&str) -> Result<String>,
) -> Result<String> {
    match get(name)? {
        Some(e) if e.lifecycle_stage == LifecycleStage::Deleted => {
            Err(TrackingError::InvalidState {
                kind: "experiment",
                name: name.into(),
                reason: format!(
                    "(id {}) is deleted; restore it or pick another name",
                    e.experiment_id
                ),
            })
        }
        Some(e) => Ok(e.experiment_id),
        None => match create(name) {
            Err(TrackingError::AlreadyExists { .. }) => get(name)?
                .map(|e| e.experiment_id)
                .ok_or_else(|| TrackingError::not_found("experiment", name)),
            other => other,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_store_has_default() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path().join("mlruns").to_str().unwrap()).unwrap();
        let all = s.list_experiments().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].experiment_id, "0");
        assert_eq!(all[0].name, "Default");
        assert!(all[0].artifact_location.starts_with("file:///"));
    }

    #[test]
    fn lifecycle_and_names() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path().to_str().unwrap()).unwrap();
        let id = s.create_experiment("a").unwrap();
        assert!(matches!(
            s.create_experiment("a"),
            Err(TrackingError::AlreadyExists { .. })
        ));
        assert_eq!(s.get_or_create_experiment("a").unwrap(), id);
        let b = s.get_or_create_experiment("b").unwrap();
        assert_ne!(b, id);
        s.set_experiment_tag(&id, "team/owner", "me").unwrap();
        assert_eq!(s.get_experiment(&id).unwrap().tags["team/owner"], "me");
        s.delete_experiment(&id).unwrap();
        assert!(d
            .path()
            .join(".trash")
            .join(&id)
            .join("meta.yaml")
            .is_file());
        assert_eq!(s.list_experiments().unwrap().len(), 2);
        assert_eq!(
            s.get_experiment(&id).unwrap().lifecycle_stage,
            LifecycleStage::Deleted
        );
        assert!(s.get_or_create_experiment("a").is_err());
        assert!(s.create_experiment("a").is_err());
        s.restore_experiment(&id).unwrap();
        assert_eq!(s.list_experiments().unwrap().len(), 3);
        assert!(s.delete_experiment("0").is_err());
        assert!(s.get_experiment("nope").unwrap_err().is_not_found());
        assert!(s.get_experiment("../x").is_err());
        s.rename_experiment(&id, "a2").unwrap();
        assert_eq!(s.get_experiment(&id).unwrap().name, "a2");
    }

    #[test]
    fn a_broken_meta_yaml_is_skipped_and_reported() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path().to_str().unwrap()).unwrap();
        let a = s.create_experiment("a").unwrap();
        let b = s.create_experiment("b").unwrap();
        let broken = d.path().join(&a).join("meta.yaml");
        std::fs::write(&broken, "name: [unclosed\n\u{1b}]0;x\u{7}: :").unwrap();
        let (exps, skipped) = s.list_experiments_skipping(ViewType::All).unwrap();
        let ids: Vec<_> = exps.iter().map(|e| e.experiment_id.as_str()).collect();
        assert_eq!(ids, ["0", b.as_str()]);
        assert_eq!(skipped, [broken]);
        assert_eq!(s.list_experiments().unwrap().len(), 2);
        assert_eq!(s.search_runs(&["0", b.as_str()]).unwrap().len(), 0);
    }
}
