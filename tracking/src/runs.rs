//! Runs: `<exp>/<run_id>/{meta.yaml, params/, metrics/, tags/, artifacts/, outputs/}`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::entities::ViewType;
use crate::entities::{
    Experiment, FileInfo, LifecycleStage, Run, RunData, RunInfo, RunOptions, RunStatus,
};
use crate::error::{Result, TrackingError};
use crate::fsx;
use crate::meta::Meta;
use crate::names;
use crate::store::{Store, EXPERIMENT_RESERVED, META};
use crate::util;

/// `mlflow.runName`.
pub const TAG_RUN_NAME: &str = "mlflow.runName";
/// `mlflow.parentRunId`.
pub const TAG_PARENT_RUN_ID: &str = "mlflow.parentRunId";
/// `mlflow.user`.
pub const TAG_USER: &str = "mlflow.user";
/// `mlflow.source.name`.
pub const TAG_SOURCE_NAME: &str = "mlflow.source.name";
/// `mlflow.source.type`.
pub const TAG_SOURCE_TYPE: &str = "mlflow.source.type";
/// `mlflow.source.git.commit`.
pub const TAG_GIT_COMMIT: &str = "mlflow.source.git.commit";
/// `mlflow.source.git.branch`.
pub const TAG_GIT_BRANCH: &str = "mlflow.source.git.branch";
/// `mlflow.source.git.repoURL`.
pub const TAG_GIT_REPO_URL: &str = "mlflow.source.git.repoURL";

pub(crate) fn run_info_from_meta(m: &Meta, dir: &Path) -> Result<RunInfo> {
    let path = || dir.join(META);
    let run_id = m
        .str("run_id")
        .or_else(|| m.str("run_uuid"))
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let status = match m.0.get("status") {
        Some(Value::String(s)) => s.parse().ok(),
        _ => m.int("status").and_then(RunStatus::from_code),
    }
    .ok_or_else(|| TrackingError::Corrupt {
        kind: "run",
        path: path(),
        message: "field 'status' is missing or not a run status".into(),
    })?;
    let experiment_id = match m.str("experiment_id") {
        Some(id) => id,
        None => m.req_str("experiment_id", "run", &path())?,
    };
    Ok(RunInfo {
        run_name: m.str("run_name").unwrap_or_default(),
        experiment_id,
        user_id: m.str("user_id").unwrap_or_default(),
        status,
        start_time: m.int("start_time"),
        end_time: m.int("end_time"),
        artifact_uri: m
            .str("artifact_uri")
            .unwrap_or_else(|| util::file_uri(&dir.join("artifacts"))),
        lifecycle_stage: LifecycleStage::parse(m.str("lifecycle_stage").as_deref()),
        deleted_time: m.int("deleted_time"),
        run_id,
    })
}

/// `<name>/<file>` in `buf`.
fn rel_path<'a>(buf: &'a mut String, name: &str, file: &str) -> &'a str {
    buf.clear();
    buf.push_str(name);
    buf.push('/');
    buf.push_str(file);
    buf
}

/// The threads a listing reads run folders on: the cores, at most 8.
fn reader_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8)
}

/// How much of each run folder a listing reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunDepth {
    /// `meta.yaml` only: the run's info, with empty data and no model outputs (enough to filter and
    /// sort on attributes, and to page).
    Info,
    /// The info, the latest metrics, params, tags and model outputs.
    Full,
}

/// The run folders a listing reads.
pub(crate) struct RunFolders {
    /// The experiment folders, held open.
    exps: Vec<fsx::OpenDir>,
    /// The run folders as (index into `exps`, folder name).
    runs: Vec<(usize, String)>,
    /// Whether every experiment folder is on a filesystem where a short read ends a file.
    short_read_is_eof: bool,
}

/// MLflow's system tags of a new run started by `user` (`mlflow.user`, `mlflow.source.*`, the git
/// tags inside a work tree, `mlflow.parentRunId` for a nested run), with the caller's tags over them.
/// `mlflow.runName` is the caller's to set.
pub(crate) fn system_tags(opts: &RunOptions, user: &str) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = BTreeMap::new();
    tags.insert(TAG_USER.into(), user.to_string());
    tags.insert(TAG_SOURCE_NAME.into(), util::source_name());
    tags.insert(TAG_SOURCE_TYPE.into(), "LOCAL".into());
    if let Some(git) = util::git_info() {
        tags.insert(TAG_GIT_COMMIT.into(), git.commit);
        if let Some(branch) = git.branch {
            tags.insert(TAG_GIT_BRANCH.into(), branch);
        }
        if let Some(url) = git.repo_url {
            tags.insert(TAG_GIT_REPO_URL.into(), url);
        }
    }
    if let Some(parent) = &opts.parent_run_id {
        tags.insert(TAG_PARENT_RUN_ID.into(), parent.clone());
    }
    tags.extend(opts.tags.clone());
    tags
}

impl Store {
    /// Starts a run in an active experiment, with MLflow's system tags (`mlflow.runName`,
    /// `mlflow.user`, `mlflow.source.name`, `mlflow.source.type`; inside a git work tree
    /// `mlflow.source.git.commit`, and `mlflow.source.git.branch` unless HEAD is detached and
    /// `mlflow.source.git.repoURL` when a remote is configured; `mlflow.parentRunId` for a nested
    /// run).
    pub fn start_run(&self, experiment_id: &str, opts: RunOptions) -> Result<Run> {
        self.get_active_experiment(experiment_id)?;
        for k in opts.tags.keys() {
            names::validate_key("tag key", k)?;
        }
        if let Some(parent) = &opts.parent_run_id {
            self.run_dir(parent)?;
        }
        let run_name = opts
            .name
            .clone()
            .or_else(|| opts.tags.get(TAG_RUN_NAME).cloned())
            .unwrap_or_else(util::run_name);
        let user = util::user_name();

        let tags = system_tags(&opts, &user);
        self.create_run_folder(experiment_id, &run_name, &user, util::now_ms(), tags)
    }

    /// An experiment that must be active (runs and models are created only in active ones).
    pub(crate) fn get_active_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        let exp = self.get_experiment(experiment_id)?;
        if exp.lifecycle_stage != LifecycleStage::Active {
            return Err(TrackingError::InvalidState {
                kind: "experiment",
                name: experiment_id.into(),
                reason: "is deleted; runs cannot be started in it".into(),
            });
        }
        Ok(exp)
    }

    /// Creates a run folder in an active experiment with exactly `tags` (plus `mlflow.runName`):
    /// the artifact URI is `<experiment artifact location>/<run id>/artifacts`, as MLflow makes it.
    pub(crate) fn create_run_folder(
        &self,
        experiment_id: &str,
        run_name: &str,
        user: &str,
        start_time: i64,
        mut tags: BTreeMap<String, String>,
    ) -> Result<Run> {
        let exp = self.get_active_experiment(experiment_id)?;
        let exp_dir = self.experiment_dir(experiment_id)?;
        let run_id = util::hex_id();
        let final_dir = exp_dir.join(&run_id);
        let artifact_uri = format!(
            "{}/{run_id}/artifacts",
            exp.artifact_location.trim_end_matches('/')
        );
        tags.insert(TAG_RUN_NAME.into(), run_name.to_string());

        let mut m = Meta::default();
        m.set("artifact_uri", artifact_uri)
            .set("end_time", Value::Null)
            .set("entry_point_name", "")
            .set("experiment_id", experiment_id)
            .set("lifecycle_stage", "active")
            .set("run_id", run_id.as_str())
            .set("run_name", run_name)
            .set("source_name", "")
            .set("source_type", 4)
            .set("source_version", "")
            .set("start_time", start_time)
            .set("status", RunStatus::Running.code())
            .set("tags", Value::Array(vec![]))
            .set("user_id", user);

        // Build the whole run folder beside its final place, then rename it in: readers (MLflow too)
        // never see a run without its meta.yaml or its params/metrics/artifacts folders.
        let tmp = fsx::tmp_path(&exp_dir);
        let mk = |p: &Path| std::fs::create_dir_all(p).map_err(|e| TrackingError::io(p, e));
        for sub in ["params", "metrics", "artifacts", "tags"] {
            mk(&tmp.join(sub))?;
        }
        for (k, v) in &tags {
            std::fs::write(tmp.join("tags").join(k), v).or_else(|_| {
                let p = tmp.join("tags").join(k);
                fsx::ensure_parent(&p)?;
                std::fs::write(&p, v).map_err(|e| TrackingError::io(&p, e))
            })?;
        }
        self.write_meta(&m, &tmp.join(META))?;
        std::fs::rename(&tmp, &final_dir).map_err(|e| {
            let _ = std::fs::remove_dir_all(&tmp);
            TrackingError::io(&final_dir, e)
        })?;
        self.remember_run(&run_id, &final_dir);
        tracing::debug!(run_id = %run_id, experiment_id, "started run");
        self.get_run(&run_id)
    }

    /// Resumes a run by id: it is RUNNING again (its end time cleared).
    pub fn resume_run(&self, run_id: &str) -> Result<Run> {
        self.update_run_meta(run_id, |m| {
            m.set("status", RunStatus::Running.code())
                .set("end_time", Value::Null);
        })?;
        self.get_run(run_id)
    }

    /// Ends a run with a status (end time = now).
    pub fn end_run(&self, run_id: &str, status: RunStatus) -> Result<()> {
        self.update_run_meta(run_id, |m| {
            m.set("status", status.code())
                .set("end_time", util::now_ms());
        })
    }

    /// Sets status and end time explicitly (`end_time: None` leaves it unchanged).
    pub fn update_run(&self, run_id: &str, status: RunStatus, end_time: Option<i64>) -> Result<()> {
        self.update_run_meta(run_id, |m| {
            m.set("status", status.code());
            if let Some(t) = end_time {
                m.set("end_time", t);
            }
        })
    }

    pub(crate) fn update_run_meta(&self, run_id: &str, f: impl FnOnce(&mut Meta)) -> Result<()> {
        let path = self.run_dir(run_id)?.join(META);
        let mut m = self.read_meta(&path, "run", run_id)?;
        f(&mut m);
        self.write_meta(&m, &path)
    }

    /// Marks a run deleted (restorable).
    pub fn delete_run(&self, run_id: &str) -> Result<()> {
        self.update_run_meta(run_id, |m| {
            m.set("lifecycle_stage", "deleted")
                .set("deleted_time", util::now_ms());
        })
    }

    /// Restores a deleted run.
    pub fn restore_run(&self, run_id: &str) -> Result<()> {
        self.update_run_meta(run_id, |m| {
            m.set("lifecycle_stage", "active");
            m.0.remove("deleted_time");
        })
    }

    /// A run's metadata only (one file read).
    pub fn get_run_info(&self, run_id: &str) -> Result<RunInfo> {
        let dir = self.run_dir(run_id)?;
        let m = self.read_meta(&dir.join(META), "run", run_id)?;
        run_info_from_meta(&m, &dir)
    }

    pub(crate) fn read_run_dir(&self, dir: &Path) -> Result<Run> {
        let not_found = || TrackingError::not_found("run", dir.display().to_string());
        let (Some(parent), Some(name)) = (dir.parent(), dir.file_name().and_then(|n| n.to_str()))
        else {
            return Err(not_found());
        };
        let exp = fsx::OpenDir::open(parent)?.ok_or_else(not_found)?;
        self.read_run_dir_in(
            &mut fsx::Reader::new(),
            &exp,
            name,
            ViewType::All,
            RunDepth::Full,
        )?
        .ok_or_else(not_found)
    }

    /// Reads the run folder `name` of the open experiment folder `exp` when its lifecycle stage
    /// is in `view`, to `depth`; the params, metrics and tags of a run outside the view are not read.
    ///
    /// Every file and folder of the run is opened relative to the open experiment folder
    /// (`<name>/meta.yaml`, `<name>/params`, ...): the kernel resolves two short names and the
    /// run folder itself is never opened.
    fn read_run_dir_in(
        &self,
        rd: &mut fsx::Reader,
        exp: &fsx::OpenDir,
        name: &str,
        view: ViewType,
        depth: RunDepth,
    ) -> Result<Option<Run>> {
        // `<name>/<file>`, built in one reused string.
        let mut rel = String::with_capacity(name.len() + 16);
        let dir = exp.path().join(name);
        let meta_path = || dir.join(META);
        let text = exp
            .read_text(rd, rel_path(&mut rel, name, META))?
            .ok_or_else(|| TrackingError::not_found_at("run", name, meta_path()))?;
        let m = Meta::parse(text, "run", &meta_path())?;
        let info = run_info_from_meta(&m, &dir)?;
        if !view.admits(info.lifecycle_stage) {
            return Ok(None);
        }
        if depth == RunDepth::Info {
            return Ok(Some(Run {
                info,
                data: RunData::default(),
                model_outputs: Vec::new(),
            }));
        }
        let metrics =
            crate::metrics::latest_metrics_in(rd, exp.sub(rel_path(&mut rel, name, "metrics"))?)?;
        let params = fsx::read_kv(rd, exp.sub(rel_path(&mut rel, name, "params"))?)?;
        let tags = fsx::read_kv(rd, exp.sub(rel_path(&mut rel, name, "tags"))?)?;
        let model_outputs = match exp.sub(rel_path(&mut rel, name, "outputs"))? {
            Some(outputs) => outputs
                .names(rd)?
                .into_iter()
                .filter(|(n, is_dir)| *is_dir && !n.starts_with('.'))
                .map(|(n, _)| n)
                .collect(),
            None => Vec::new(),
        };
        Ok(Some(Run {
            info,
            data: RunData {
                metrics,
                params,
                tags,
            },
            model_outputs,
        }))
    }

    /// A run with its latest metrics, params and tags.
    pub fn get_run(&self, run_id: &str) -> Result<Run> {
        let dir = self.run_dir(run_id)?;
        self.read_run_dir(&dir)
    }

    /// The active runs of some experiments, newest first.
    pub fn search_runs<S: AsRef<str>>(&self, experiment_ids: &[S]) -> Result<Vec<Run>> {
        self.search_runs_view(experiment_ids, ViewType::ActiveOnly)
    }

    /// The runs of some experiments in a view, newest first. Runs are read on all cores.
    ///
    /// An error reading a run folder fails the whole listing with the error of the first failing
    /// folder in folder order (the same error on one thread or many); a folder without
    /// `meta.yaml` (a run being created or removed at this moment) is skipped with a warning.
    pub fn search_runs_view<S: AsRef<str>>(
        &self,
        experiment_ids: &[S],
        view: ViewType,
    ) -> Result<Vec<Run>> {
        let (_, listed) = self.list_runs(experiment_ids, view, RunDepth::Full)?;
        let mut runs: Vec<Run> = listed.into_iter().map(|(_, r)| r).collect();
        runs.sort_by(|a, b| {
            b.info
                .start_time
                .cmp(&a.info.start_time)
                .then_with(|| a.info.run_id.cmp(&b.info.run_id))
        });
        Ok(runs)
    }

    /// The runs of some experiments in a view, read to `depth`, in folder order, each with its
    /// index in the returned folders (for [`Self::complete_runs`]).
    pub(crate) fn list_runs<S: AsRef<str>>(
        &self,
        experiment_ids: &[S],
        view: ViewType,
        depth: RunDepth,
    ) -> Result<(RunFolders, Vec<(usize, Run)>)> {
        let folders = self.run_folders(experiment_ids)?;
        let all: Vec<usize> = (0..folders.runs.len()).collect();
        let runs = self.read_run_dirs(&folders, &all, view, depth, reader_threads())?;
        Ok((folders, runs))
    }

    /// Runs listed by [`Self::list_runs`] at [`RunDepth::Info`], read again in full, in the order
    /// given. A run whose folder went away since (deleted by another writer) is left out.
    pub(crate) fn complete_runs(
        &self,
        folders: &RunFolders,
        listed: &[usize],
        view: ViewType,
    ) -> Result<Vec<Run>> {
        let mut sorted = listed.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut full: std::collections::HashMap<usize, Run> = self
            .read_run_dirs(folders, &sorted, view, RunDepth::Full, reader_threads())?
            .into_iter()
            .collect();
        Ok(listed.iter().filter_map(|i| full.remove(i)).collect())
    }

    /// The run folders of some experiments, in folder-name order within each experiment.
    fn run_folders<S: AsRef<str>>(&self, experiment_ids: &[S]) -> Result<RunFolders> {
        let mut f = RunFolders {
            exps: Vec::new(),
            runs: Vec::new(),
            short_read_is_eof: true,
        };
        for id in experiment_ids {
            let exp_dir = self.experiment_dir(id.as_ref())?;
            let Some(exp) = fsx::OpenDir::open(&exp_dir)? else {
                continue;
            };
            f.short_read_is_eof &= fsx::short_read_is_eof(&exp_dir);
            for (name, is_dir) in fsx::list_names(&exp_dir)? {
                if is_dir && !name.starts_with('.') && !EXPERIMENT_RESERVED.contains(&name.as_str())
                {
                    f.runs.push((f.exps.len(), name));
                }
            }
            f.exps.push(exp);
        }
        Ok(f)
    }

    /// Reads the run folders `which` (indices into `folders.runs`, ascending) to `depth` on up to
    /// `threads` threads; each thread takes the next block of folders from a shared counter, so a
    /// slow thread (a busy core) does not hold the others back. The runs come back in folder order
    /// with their folder index, and an error is the one of the first failing folder in folder
    /// order: once a folder fails, no block after it is started, and every block before it is
    /// read to its end.
    fn read_run_dirs(
        &self,
        folders: &RunFolders,
        which: &[usize],
        view: ViewType,
        depth: RunDepth,
        threads: usize,
    ) -> Result<Vec<(usize, Run)>> {
        let (exps, dirs) = (&folders.exps, which);
        const BLOCK: usize = 32;
        let next = AtomicUsize::new(0);
        // The index of the first failing folder found so far (usize::MAX: none).
        let first_failed = AtomicUsize::new(usize::MAX);
        type Part = (Vec<(usize, Run)>, Option<(usize, TrackingError)>);
        let worker = || -> Part {
            let mut rd = fsx::Reader::with_short_read_eof(folders.short_read_is_eof);
            let mut out = Vec::new();
            loop {
                let start = next.fetch_add(BLOCK, Ordering::Relaxed);
                if start >= dirs.len() || start > first_failed.load(Ordering::Relaxed) {
                    return (out, None);
                }
                let end = (start + BLOCK).min(dirs.len());
                for (i, folder) in dirs[start..end].iter().enumerate() {
                    let i = start + i;
                    let Some((exp, name)) = folders.runs.get(*folder) else {
                        continue;
                    };
                    let exp = &exps[*exp];
                    match self.read_run_dir_in(&mut rd, exp, name, view, depth) {
                        Ok(Some(r)) => out.push((i, r)),
                        Ok(None) => {}
                        // A folder without meta.yaml is not a run (MLflow warns and skips it too).
                        Err(TrackingError::NotFound { .. }) => {
                            let dir = exp.path().join(name);
                            tracing::warn!(dir = %dir.display(), "skipping a folder without meta.yaml")
                        }
                        // A run whose meta.yaml cannot be parsed is left out of the listing with
                        // a warning naming the file (MLflow warns of a malformed run and skips it
                        // too); reading that run still fails with the same error.
                        Err(e @ TrackingError::Corrupt { .. }) => {
                            tracing::warn!(error = %e, "skipping a run that cannot be read")
                        }
                        Err(e) => {
                            first_failed.fetch_min(i, Ordering::Relaxed);
                            return (out, Some((i, e)));
                        }
                    }
                }
            }
        };
        let parts: Vec<Part> = if threads <= 1 || dirs.len() <= BLOCK {
            vec![worker()]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads).map(|_| s.spawn(worker)).collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            let e = TrackingError::InvalidValue {
                                what: "run listing",
                                reason: "a reader thread panicked".into(),
                            };
                            (Vec::new(), Some((0, e)))
                        })
                    })
                    .collect()
            })
        };
        let mut all = Vec::with_capacity(dirs.len());
        let mut first_err: Option<(usize, TrackingError)> = None;
        for (runs, err) in parts {
            all.extend(runs);
            if let Some((i, e)) = err {
                if first_err.as_ref().is_none_or(|(j, _)| i < *j) {
                    first_err = Some((i, e));
                }
            }
        }
        if let Some((_, e)) = first_err {
            return Err(e);
        }
        // Each thread's runs are in folder order; put the threads' blocks back in order.
        all.sort_unstable_by_key(|(i, _)| *i);
        Ok(all.into_iter().map(|(i, r)| (which[i], r)).collect())
    }

    /// The run folder, after checking the run is active (MLflow refuses writes to deleted runs).
    pub(crate) fn active_run_dir(&self, run_id: &str) -> Result<PathBuf> {
        let dir = self.run_dir(run_id)?;
        let path = dir.join(META);
        let text = fsx::read_opt(&path)?
            .ok_or_else(|| TrackingError::not_found_at("run", run_id, &path))?;
        // Cheap check first; a full parse only when the line is not the plain active one.
        let active = text
            .lines()
            .any(|l| l.trim_end() == "lifecycle_stage: active")
            || LifecycleStage::parse(
                Meta::parse(&text, "run", &path)?
                    .str("lifecycle_stage")
                    .as_deref(),
            ) == LifecycleStage::Active;
        if !active {
            return Err(TrackingError::InvalidState {
                kind: "run",
                name: run_id.into(),
                reason: "is deleted; it must be active to be written to".into(),
            });
        }
        Ok(dir)
    }

    /// The run's local artifact folder.
    pub fn artifact_dir(&self, run_id: &str) -> Result<PathBuf> {
        let info = self.get_run_info(run_id)?;
        util::uri_to_path(&info.artifact_uri).ok_or_else(|| TrackingError::BadUri {
            uri: info.artifact_uri.clone(),
            reason: format!("run {run_id} keeps artifacts in a non-local location"),
        })
    }

    /// Copies a file or a folder into the run's artifacts, under `artifact_subdir` if given:
    /// `<artifacts>/<subdir>/<file name>`.
    pub fn log_artifact(
        &self,
        run_id: &str,
        local_path: &Path,
        artifact_subdir: Option<&str>,
    ) -> Result<PathBuf> {
        let dest = self.artifact_dest(run_id, artifact_subdir)?;
        let name = local_path
            .file_name()
            .ok_or_else(|| TrackingError::InvalidValue {
                what: "artifact",
                reason: format!("{} has no file name", local_path.display()),
            })?;
        let dest = dest.join(name);
        fsx::copy_tree(local_path, &dest)?;
        Ok(dest)
    }

    /// Copies the contents of a folder into the run's artifacts (like `mlflow.log_artifacts`).
    pub fn log_artifacts(
        &self,
        run_id: &str,
        local_dir: &Path,
        artifact_subdir: Option<&str>,
    ) -> Result<PathBuf> {
        let dest = self.artifact_dest(run_id, artifact_subdir)?;
        fsx::copy_tree(local_dir, &dest)?;
        Ok(dest)
    }

    /// Where an active run's artifacts go: `<artifacts>/<artifact_subdir>`, or the artifacts' root
    /// when no (or an empty) subfolder is given. The subfolder must stay inside the artifacts.
    fn artifact_dest(&self, run_id: &str, artifact_subdir: Option<&str>) -> Result<PathBuf> {
        self.active_run_dir(run_id)?;
        let root = self.artifact_dir(run_id)?;
        match artifact_subdir.filter(|s| !s.is_empty()) {
            Some(sub) => {
                names::validate_artifact_path(sub)?;
                Ok(root.join(sub))
            }
            None => Ok(root),
        }
    }

    /// Writes bytes as an artifact file at `artifact_path`.
    pub fn log_artifact_bytes(
        &self,
        run_id: &str,
        artifact_path: &str,
        bytes: &[u8],
    ) -> Result<()> {
        names::validate_artifact_path(artifact_path)?;
        if artifact_path.is_empty() {
            return Err(TrackingError::InvalidValue {
                what: "artifact path",
                reason: "it is empty".into(),
            });
        }
        self.active_run_dir(run_id)?;
        let dest = self.artifact_dir(run_id)?.join(artifact_path);
        fsx::atomic_write(self.tmp_dir(), &dest, bytes)
    }

    /// The entries directly under `path` (or the artifact root), sorted.
    pub fn list_artifacts(&self, run_id: &str, path: Option<&str>) -> Result<Vec<FileInfo>> {
        let prefix = path.unwrap_or("").trim_end_matches('/');
        names::validate_artifact_path(prefix)?;
        let base = self.artifact_dir(run_id)?;
        let dir = if prefix.is_empty() {
            base
        } else {
            base.join(prefix)
        };
        let mut out = Vec::new();
        for (name, is_dir) in fsx::list_names(&dir)? {
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let file_size = if is_dir {
                None
            } else {
                std::fs::metadata(dir.join(&name)).ok().map(|m| m.len())
            };
            out.push(FileInfo {
                path: rel,
                is_dir,
                file_size,
            });
        }
        Ok(out)
    }

    /// Reads an artifact file.
    pub fn read_artifact(&self, run_id: &str, artifact_path: &str) -> Result<Vec<u8>> {
        names::validate_artifact_path(artifact_path)?;
        let path = self.artifact_dir(run_id)?.join(artifact_path);
        std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                TrackingError::not_found_at("artifact", artifact_path, &path)
            } else {
                TrackingError::io(&path, e)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store with `n` finished runs (3 params, 2 metrics, a tag each) in one experiment.
    fn store_with_runs(n: usize) -> (tempfile::TempDir, Store, String) {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path().join("mlruns").to_str().unwrap()).unwrap();
        let exp = s.create_experiment("listing").unwrap();
        for i in 0..n {
            let run = s.start_run(&exp, RunOptions::default()).unwrap();
            let params = BTreeMap::from([
                ("lr".to_string(), "0.1".to_string()),
                ("seed".to_string(), i.to_string()),
                ("nested/key".to_string(), format!("v{i}")),
            ]);
            let tags = BTreeMap::from([("group".to_string(), (i % 7).to_string())]);
            let metrics = vec![
                crate::Metric::new("loss", 1.0 / (i as f64 + 1.0), 0),
                crate::Metric::new("loss", 0.5 / (i as f64 + 1.0), 1),
                crate::Metric::new("acc", 0.9, 0),
            ];
            s.log_batch(run.id(), &metrics, &params, &tags).unwrap();
            s.end_run(run.id(), RunStatus::Finished).unwrap();
        }
        (d, s, exp)
    }

    fn listing(s: &Store, exp: &str, threads: usize, short_read_is_eof: bool) -> Result<Vec<Run>> {
        let mut folders = s.run_folders(&[exp]).unwrap();
        folders.short_read_is_eof = short_read_is_eof;
        let all: Vec<usize> = (0..folders.runs.len()).collect();
        Ok(s.read_run_dirs(
            &folders,
            &all,
            ViewType::ActiveOnly,
            RunDepth::Full,
            threads,
        )?
        .into_iter()
        .map(|(_, r)| r)
        .collect())
    }

    fn summary(runs: &[Run]) -> Vec<String> {
        runs.iter()
            .map(|r| {
                format!(
                    "{} {:?} {:?} {:?} {:?}",
                    r.info.run_id, r.data.params, r.data.metrics, r.data.tags, r.info
                )
            })
            .collect()
    }

    #[test]
    fn every_thread_count_lists_the_same_runs_in_folder_order() {
        let (_d, s, exp) = store_with_runs(150);
        let one = listing(&s, &exp, 1, false).unwrap();
        let mut ids: Vec<&str> = one.iter().map(|r| r.info.run_id.as_str()).collect();
        assert_eq!(ids.len(), 150);
        let folder_order = ids.clone();
        ids.sort_unstable();
        assert_eq!(ids, folder_order, "runs come back in folder-name order");
        let r = &one[0];
        assert_eq!(r.data.params.len(), 3);
        assert_eq!(
            r.data.params["nested/key"],
            format!("v{}", r.data.params["seed"])
        );
        assert_eq!(r.data.metrics["loss"].step, 1);
        for threads in [1, 2, 3, 8] {
            for short in [false, true] {
                let got = listing(&s, &exp, threads, short).unwrap();
                assert_eq!(
                    summary(&got),
                    summary(&one),
                    "threads {threads}, short {short}"
                );
            }
        }
    }

    #[test]
    fn the_first_failing_folder_in_folder_order_gives_the_error() {
        let (_d, s, exp) = store_with_runs(200);
        let names: Vec<String> = s
            .run_folders(&[&exp])
            .unwrap()
            .runs
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        // Unreadable runs (meta.yaml is a folder: an I/O error, not a parse error) at the end of the
        // first block of 32 folders, at the start of the second (another thread reaches it first)
        // and far away.
        let exp_dir = s.experiment_dir(&exp).unwrap();
        for i in [150, 32, 31] {
            let meta = exp_dir.join(&names[i]).join(META);
            std::fs::remove_file(&meta).unwrap();
            std::fs::create_dir(&meta).unwrap();
        }
        for _ in 0..20 {
            for threads in [1, 2, 4, 8] {
                match listing(&s, &exp, threads, true) {
                    Err(TrackingError::Io { path, .. }) => assert_eq!(
                        path,
                        exp_dir.join(&names[31]).join(META),
                        "threads {threads}"
                    ),
                    other => panic!(
                        "expected the unreadable run 31, got {:?}",
                        other.map(|r| r.len())
                    ),
                }
            }
        }
        // A run whose meta.yaml does not parse is left out with a warning, not an error.
        for i in [150, 32, 31] {
            let meta = exp_dir.join(&names[i]).join(META);
            std::fs::remove_dir(&meta).unwrap();
            std::fs::write(&meta, "run_id: x\nexperiment_id: '1'\n").unwrap();
        }
        for threads in [1, 2, 4] {
            assert_eq!(listing(&s, &exp, threads, true).unwrap().len(), 197);
        }
        // A folder without meta.yaml (a run being written or removed) is skipped, not an error.
        std::fs::remove_file(exp_dir.join(&names[31]).join(META)).unwrap();
        std::fs::remove_dir_all(exp_dir.join(&names[32])).unwrap();
        std::fs::remove_dir_all(exp_dir.join(&names[150])).unwrap();
        for threads in [1, 2, 4] {
            assert_eq!(listing(&s, &exp, threads, true).unwrap().len(), 197);
        }
    }
}
