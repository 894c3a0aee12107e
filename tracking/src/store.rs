//! The store handle: the root folder, its layout, and lookups shared by every concern.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Result, TrackingError};
use crate::fsx;
use crate::meta::Meta;
use crate::names;
use crate::util;

/// Name of a meta file.
pub(crate) const META: &str = "meta.yaml";
/// MLflow's folder of deleted experiments (also where homeml keeps temporary files and its lock).
pub(crate) const TRASH: &str = ".trash";
/// The registry folder under the root.
pub(crate) const MODELS: &str = "models";
/// Folders inside an experiment that are not runs.
pub(crate) const EXPERIMENT_RESERVED: &[&str] = &["tags", "models", "datasets", "traces"];

/// An MLflow file store (`mlruns/`) opened at its root folder.
///
/// Cheap to share behind an `Arc`; every method takes `&self`. Several processes may use the same root
/// at once: meta files are replaced atomically, metric lines are appended whole, unique names and
/// version numbers are allocated under a lock file.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    trash: PathBuf,
    run_dirs: Mutex<HashMap<String, PathBuf>>,
    /// Where new experiments keep artifacts (`<root>/<id>`); `None`: the experiment's own folder.
    artifact_root: Option<String>,
}

impl Store {
    /// Opens (creating if needed) the store at a path or a `file://` URI. A new store gets experiment
    /// `0` "Default". A path that exists but is not a folder is an error.
    pub fn open(uri_or_path: impl AsRef<str>) -> Result<Store> {
        Store::open_with_artifact_root(uri_or_path, None)
    }

    /// [`Store::open`] with a default artifact root for new experiments: an experiment created
    /// without an artifact location keeps its artifacts at `<artifact_root>/<experiment id>` (as
    /// `mlflow server --default-artifact-root` does, e.g. `mlflow-artifacts:/`).
    pub fn open_with_artifact_root(
        uri_or_path: impl AsRef<str>,
        artifact_root: Option<&str>,
    ) -> Result<Store> {
        let uri = uri_or_path.as_ref();
        if uri.is_empty() {
            return Err(TrackingError::BadUri {
                uri: uri.into(),
                reason: "the tracking URI is empty".into(),
            });
        }
        let path = util::uri_to_path(uri).ok_or_else(|| TrackingError::BadUri {
            // A URI may carry `user:password@`: never in an error.
            uri: crate::rest::redact_uri(uri),
            reason: if crate::rest::is_remote_uri(uri) {
                "the file store takes a path or a file:// URI; open a tracking server with Tracking::open or RestStore::open".into()
            } else {
                "only local paths and file:// URIs are supported by the file store".into()
            },
        })?;
        let root = std::path::absolute(&path).map_err(|e| TrackingError::io(&path, e))?;
        match std::fs::metadata(&root) {
            Ok(m) if !m.is_dir() => {
                return Err(TrackingError::BadStore {
                    path: root,
                    reason: "it exists and is not a folder".into(),
                })
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(&root).map_err(|e| TrackingError::io(&root, e))?;
            }
            Err(e) => return Err(TrackingError::io(&root, e)),
        }
        let trash = root.join(TRASH);
        std::fs::create_dir_all(&trash).map_err(|e| TrackingError::io(&trash, e))?;
        let store = Store {
            root,
            trash,
            run_dirs: Mutex::new(HashMap::new()),
            artifact_root: artifact_root.filter(|r| !r.is_empty()).map(|r| {
                if r.contains(':') {
                    r.trim_end_matches('/').to_string()
                } else {
                    // A plain path: an absolute file:// URI, as MLflow resolves it.
                    util::file_uri(&std::path::absolute(r).unwrap_or_else(|_| r.into()))
                }
            }),
        };
        store.ensure_default_experiment()?;
        Ok(store)
    }

    /// Opens the store named by `MLFLOW_TRACKING_URI`, or `./mlruns`.
    pub fn from_env() -> Result<Store> {
        match std::env::var("MLFLOW_TRACKING_URI") {
            Ok(v) if !v.is_empty() => Store::open(v),
            _ => Store::open("mlruns"),
        }
    }

    /// The root folder (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The artifact location of a new experiment `id` whose folder is `dir`.
    pub(crate) fn new_experiment_location(&self, id: &str, dir: &Path) -> String {
        match &self.artifact_root {
            // `mlflow-artifacts:/` is kept as `mlflow-artifacts:`, giving `mlflow-artifacts:/1` as MLflow.
            Some(root) => format!("{root}/{id}"),
            None => util::file_uri(dir),
        }
    }

    /// The root as a `file://` URI.
    pub fn root_uri(&self) -> String {
        util::file_uri(&self.root)
    }

    pub(crate) fn tmp_dir(&self) -> &Path {
        &self.trash
    }

    /// Holds the store-wide lock file for allocating unique names and numbers.
    pub(crate) fn lock(&self) -> Result<fsx::FileLock> {
        fsx::FileLock::acquire(&self.trash.join(".homeml.lock"))
    }

    pub(crate) fn trash_dir(&self) -> &Path {
        &self.trash
    }

    /// `<root>/<id>` or `<root>/.trash/<id>` for an existing experiment.
    pub(crate) fn experiment_dir(&self, experiment_id: &str) -> Result<PathBuf> {
        names::validate_id("experiment id", experiment_id)?;
        let live = self.root.join(experiment_id);
        if live.join(META).is_file() {
            return Ok(live);
        }
        let dead = self.trash.join(experiment_id);
        if dead.join(META).is_file() {
            return Ok(dead);
        }
        Err(TrackingError::not_found_at(
            "experiment",
            experiment_id,
            live.join(META),
        ))
    }

    /// Every experiment folder (active ones first, then deleted ones).
    pub(crate) fn experiment_dirs(&self) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for (base, skip_models) in [(&self.root, true), (&self.trash, false)] {
            for (name, is_dir) in fsx::list_names(base)? {
                if !is_dir
                    || name.starts_with('.')
                    || (skip_models && name == MODELS)
                    || names::validate_id("experiment id", &name).is_err()
                {
                    continue;
                }
                out.push(base.join(name));
            }
        }
        Ok(out)
    }

    /// The folder of an existing run.
    pub(crate) fn run_dir(&self, run_id: &str) -> Result<PathBuf> {
        names::validate_id("run id", run_id)?;
        if let Ok(cache) = self.run_dirs.lock() {
            if let Some(dir) = cache.get(run_id) {
                if dir.join(META).is_file() {
                    return Ok(dir.clone());
                }
            }
        }
        for exp in self.experiment_dirs()? {
            let dir = exp.join(run_id);
            if dir.join(META).is_file() {
                self.remember_run(run_id, &dir);
                return Ok(dir);
            }
        }
        Err(TrackingError::not_found("run", run_id))
    }

    pub(crate) fn remember_run(&self, run_id: &str, dir: &Path) {
        if let Ok(mut cache) = self.run_dirs.lock() {
            if cache.len() > 100_000 {
                cache.clear();
            }
            cache.insert(run_id.to_string(), dir.to_path_buf());
        }
    }

    pub(crate) fn forget_runs(&self) {
        if let Ok(mut cache) = self.run_dirs.lock() {
            cache.clear();
        }
    }

    /// The registry folder of a registered model (validated name; need not exist).
    pub(crate) fn registered_model_dir(&self, name: &str) -> Result<PathBuf> {
        names::validate_model_name(name)?;
        Ok(self.root.join(MODELS).join(name))
    }

    /// Reads a meta file.
    pub(crate) fn read_meta(&self, path: &Path, kind: &'static str, name: &str) -> Result<Meta> {
        Meta::read(path, kind, name)
    }

    /// Writes a meta file atomically.
    pub(crate) fn write_meta(&self, meta: &Meta, path: &Path) -> Result<()> {
        meta.write(&self.trash, path)
    }

    /// Writes a one-value file (tag, alias) atomically.
    pub(crate) fn write_value(&self, path: &Path, value: &str) -> Result<()> {
        fsx::atomic_write(&self.trash, path, value.as_bytes())
    }
}
