//! [`Tracking`]: one handle over any tracking URI for programs that log and read (training code,
//! the `homeml` CLI): a path or `file://` opens the file store, `sqlite:`/`postgresql:` a database with
//! MLflow's schema, `http(s)://` a tracking server
//! through the REST store. The same calls work on both; listing calls follow every page.

use std::collections::BTreeMap;
use std::path::Path;

use crate::api::{
    CreateExperiment, CreateRun, LogBatch, LoggedMetric, SearchExperiments, SearchRegistry,
    SearchRuns, TrackingStore, UpdateRun,
};
use crate::entities::{
    Experiment, LogModelOptions, LoggedModel, ModelVersion, RegisteredModel, Run, RunOptions,
    RunStatus, Stage, ViewType,
};
use crate::error::{Result, TrackingError};
use crate::metrics::Metric;
use crate::rest::{is_remote_uri, RestStore};
use crate::runs::{system_tags, TAG_RUN_NAME};
use crate::sql::{is_sql_uri, SqlStore};
use crate::store::Store;
use crate::util;

/// A tracking store named by a URI: the file store or a tracking server.
#[derive(Debug)]
pub enum Tracking {
    /// A local `mlruns/` folder.
    File(Store),
    /// An MLflow tracking server (`homeml server`, `mlflow server`).
    Rest(RestStore),
    /// A database with MLflow's schema (`sqlite:///`, `postgresql://`).
    Sql(SqlStore),
}

/// Page size of listings.
const PAGE: usize = 1000;

impl Tracking {
    /// Opens the store at `uri`: `http(s)://` is a tracking server, anything else a path or
    /// `file://` URI of a file store (created when missing).
    pub fn open(uri: &str) -> Result<Tracking> {
        if is_remote_uri(uri) {
            Ok(Tracking::Rest(RestStore::open(uri)?))
        } else if is_sql_uri(uri) {
            Ok(Tracking::Sql(SqlStore::open(uri)?))
        } else {
            Ok(Tracking::File(Store::open(uri)?))
        }
    }

    /// The store named by `MLFLOW_TRACKING_URI`, or `./mlruns`.
    pub fn from_env() -> Result<Tracking> {
        match std::env::var("MLFLOW_TRACKING_URI") {
            Ok(v) if !v.is_empty() => Tracking::open(&v),
            _ => Tracking::open("mlruns"),
        }
    }

    /// The URI to hand to another program (a server) for this store: the file store's root as
    /// `file://`, the server's address without credentials.
    pub fn uri(&self) -> String {
        match self {
            Tracking::File(s) => s.root_uri(),
            Tracking::Rest(r) => r.uri().to_string(),
            Tracking::Sql(s) => s.uri().to_string(),
        }
    }

    /// The store as the trait the tracking server works through.
    pub fn store(&self) -> &dyn TrackingStore {
        match self {
            Tracking::File(s) => s,
            Tracking::Rest(r) => r,
            Tracking::Sql(s) => s,
        }
    }

    // ----- experiments -----

    /// Creates an experiment and returns its id.
    pub fn create_experiment(&self, name: &str) -> Result<String> {
        match self {
            Tracking::File(s) => s.create_experiment(name),
            _ => self.store().create_experiment(CreateExperiment {
                name: name.into(),
                ..Default::default()
            }),
        }
    }

    /// An experiment by id.
    pub fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        self.store().get_experiment(experiment_id)
    }

    /// An experiment by name, or `None`.
    pub fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        self.store().get_experiment_by_name(name)
    }

    /// The id of the active experiment `name`, creating it if needed. A deleted one is an error.
    pub fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        crate::experiments::get_or_create_experiment_with(
            name,
            |n| self.get_experiment_by_name(n),
            |n| self.create_experiment(n),
        )
    }

    /// Experiments of a view (every page).
    pub fn list_experiments_view(&self, view: ViewType) -> Result<Vec<Experiment>> {
        if let Tracking::File(s) = self {
            return s.list_experiments_view(view);
        }
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self.store().search_experiments(&SearchExperiments {
                filter: None,
                order_by: Vec::new(),
                max_results: PAGE,
                page_token: token,
                view,
            })?;
            out.extend(page.items);
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        // As the file store orders them: by id, numerically where they are numbers.
        out.sort_by(|a, b| {
            let key = |e: &Experiment| {
                (
                    e.experiment_id.parse::<u64>().unwrap_or(u64::MAX),
                    e.experiment_id.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        Ok(out)
    }

    /// The active experiments.
    pub fn list_experiments(&self) -> Result<Vec<Experiment>> {
        self.list_experiments_view(ViewType::ActiveOnly)
    }

    // ----- runs -----

    /// Starts a run (RUNNING) with MLflow's system tags, as [`Store::start_run`].
    pub fn start_run(&self, experiment_id: &str, opts: RunOptions) -> Result<Run> {
        let r = match self {
            Tracking::File(s) => return s.start_run(experiment_id, opts),
            _ => self.store(),
        };
        let user = util::user_name();
        let mut tags = system_tags(&opts, &user);
        let run_name = opts
            .name
            .clone()
            .or_else(|| tags.get(TAG_RUN_NAME).cloned());
        if let Some(n) = &run_name {
            tags.insert(TAG_RUN_NAME.into(), n.clone());
        }
        r.create_run(CreateRun {
            experiment_id: experiment_id.into(),
            user_id: Some(user),
            run_name,
            start_time: Some(util::now_ms()),
            tags,
        })
    }

    /// Ends a run with a status (end time now).
    pub fn end_run(&self, run_id: &str, status: RunStatus) -> Result<()> {
        match self {
            Tracking::File(s) => s.end_run(run_id, status),
            _ => self
                .store()
                .update_run(UpdateRun {
                    run_id: run_id.into(),
                    status: Some(status),
                    end_time: Some(util::now_ms()),
                    run_name: None,
                })
                .map(drop),
        }
    }

    /// A run with its latest metrics, params and tags.
    pub fn get_run(&self, run_id: &str) -> Result<Run> {
        match self {
            Tracking::File(s) => s.get_run(run_id),
            _ => self.store().get_run(run_id),
        }
    }

    /// Runs of some experiments in a view, newest first (every page).
    pub fn search_runs_view<S: AsRef<str>>(
        &self,
        experiment_ids: &[S],
        view: ViewType,
    ) -> Result<Vec<Run>> {
        if let Tracking::File(s) = self {
            return s.search_runs_view(experiment_ids, view);
        }
        let ids: Vec<String> = experiment_ids
            .iter()
            .map(|s| s.as_ref().to_string())
            .collect();
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self.store().search_runs(&SearchRuns {
                experiment_ids: ids.clone(),
                filter: None,
                view,
                max_results: PAGE,
                order_by: Vec::new(),
                page_token: token,
            })?;
            out.extend(page.items);
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok(out)
    }

    /// Logs one param (write-once).
    pub fn log_param(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        match self {
            Tracking::File(s) => s.log_param(run_id, key, value),
            _ => TrackingStore::log_param(self.store(), run_id, key, value),
        }
    }

    /// Logs one metric value (`timestamp_ms` defaults to now).
    pub fn log_metric(
        &self,
        run_id: &str,
        key: &str,
        value: f64,
        step: i64,
        timestamp_ms: Option<i64>,
    ) -> Result<()> {
        match self {
            Tracking::File(s) => s.log_metric(run_id, key, value, step, timestamp_ms),
            _ => TrackingStore::log_metric(
                self.store(),
                run_id,
                &LoggedMetric {
                    key: key.into(),
                    value,
                    timestamp: timestamp_ms.unwrap_or_else(util::now_ms),
                    step,
                    model_id: None,
                    dataset_name: None,
                    dataset_digest: None,
                    run_id: None,
                },
            ),
        }
    }

    /// Logs metrics, params and tags in one call.
    pub fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<()> {
        match self {
            Tracking::File(s) => s.log_batch(run_id, metrics, params, tags),
            _ => TrackingStore::log_batch(
                self.store(),
                run_id,
                &LogBatch {
                    metrics: metrics
                        .iter()
                        .map(|m| LoggedMetric {
                            key: m.key.clone(),
                            value: m.value,
                            timestamp: m.timestamp,
                            step: m.step,
                            model_id: None,
                            dataset_name: None,
                            dataset_digest: None,
                            run_id: None,
                        })
                        .collect(),
                    params: params.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    tags: tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                },
            ),
        }
    }

    /// Sets a run tag.
    pub fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        match self {
            Tracking::File(s) => s.set_tag(run_id, key, value),
            _ => TrackingStore::set_tag(self.store(), run_id, key, value),
        }
    }

    /// Stores bytes as the run artifact `artifact_path`.
    pub fn log_artifact_bytes(
        &self,
        run_id: &str,
        artifact_path: &str,
        bytes: &[u8],
    ) -> Result<()> {
        match self {
            Tracking::File(s) => s.log_artifact_bytes(run_id, artifact_path, bytes).map(drop),
            Tracking::Rest(r) => r.log_artifact_bytes(run_id, artifact_path, bytes),
            Tracking::Sql(s) => Err(no_artifacts_in_a_database(s)),
        }
    }

    /// Logs a model directory as an MLflow 3 logged model of the run (registering it when asked).
    pub fn log_model(
        &self,
        run_id: &str,
        name: &str,
        model_dir: &Path,
        opts: LogModelOptions,
    ) -> Result<LoggedModel> {
        match self {
            Tracking::File(s) => s.log_model(run_id, name, model_dir, opts),
            Tracking::Rest(r) => r.log_model(run_id, name, model_dir, opts),
            Tracking::Sql(s) => Err(no_artifacts_in_a_database(s)),
        }
    }

    // ----- registry -----

    /// Every registered model, by name.
    pub fn list_registered_models(&self) -> Result<Vec<RegisteredModel>> {
        if let Tracking::File(s) = self {
            return s.list_registered_models();
        }
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self.store().search_registered_models(&SearchRegistry {
                max_results: PAGE,
                page_token: token,
                ..Default::default()
            })?;
            out.extend(page.items);
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// A registered model.
    pub fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        self.store().get_registered_model(name)
    }

    /// The newest version (in `stage`, when given).
    pub fn latest_version(&self, name: &str, stage: Option<Stage>) -> Result<Option<ModelVersion>> {
        match self {
            Tracking::File(s) => s.latest_version(name, stage),
            _ => {
                let stages: Vec<Stage> = stage.into_iter().collect();
                Ok(self
                    .store()
                    .get_latest_versions(name, &stages)?
                    .into_iter()
                    .max_by_key(|v| v.version))
            }
        }
    }

    /// The versions of one registered model (or all), by name and version.
    pub fn search_model_versions(&self, name: Option<&str>) -> Result<Vec<ModelVersion>> {
        if let Tracking::File(s) = self {
            return s.search_model_versions(name);
        }
        let filter =
            name.map(|n| format!("name = '{}'", n.replace('\\', "\\\\").replace('\'', "\\'")));
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self.store().search_model_versions(&SearchRegistry {
                filter: filter.clone(),
                max_results: PAGE,
                page_token: token,
                ..Default::default()
            })?;
            out.extend(page.items);
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        out.sort_by(|a, b| (&a.name, a.version).cmp(&(&b.name, b.version)));
        Ok(out)
    }

    /// A model version.
    pub fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        self.store().get_model_version(name, version)
    }

    /// Points an alias at a version.
    pub fn set_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        self.store()
            .set_registered_model_alias(name, alias, version)
    }

    /// Removes an alias.
    pub fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        self.store().delete_registered_model_alias(name, alias)
    }

    /// The version an alias points at.
    pub fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        self.store().get_model_version_by_alias(name, alias)
    }

    /// Moves a version to a stage, archiving the others in it when `archive_existing`.
    pub fn transition_stage(
        &self,
        name: &str,
        version: u64,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<ModelVersion> {
        match self {
            Tracking::File(s) if archive_existing => {
                s.transition_stage_archiving_others(name, version, stage)
            }
            Tracking::File(s) => s.transition_stage(name, version, stage),
            _ => {
                self.store()
                    .transition_model_version_stage(name, version, stage, archive_existing)
            }
        }
    }
}

/// Why artifacts cannot be logged straight into a database: they live in an artifact store.
fn no_artifacts_in_a_database(s: &SqlStore) -> TrackingError {
    TrackingError::BadUri {
        uri: s.uri().to_string(),
        reason: "a tracking database holds no artifact files: log artifacts and models through a \
                 tracking server on it (homeml server --backend-store-uri <database>, then \
                 --tracking-uri http://...)"
            .into(),
    }
}
