//! The tracking store trait the tracking server works through, with typed requests close to MLflow's
//! `AbstractStore` and model registry store. [`crate::Store`] (the file store) is its first
//! implementation; a SQL store implements the same trait. Object-safe: used as
//! `Arc<dyn TrackingStore>`.
//!
//! Every implementation enforces MLflow's limits ([`validate`]) and its search grammar
//! ([`crate::search`]); errors are [`TrackingError`]s, which the server maps to MLflow's error codes.

mod types;
pub mod validate;

pub use types::*;

use std::collections::BTreeMap;

use crate::entities::{Experiment, ModelVersion, RegisteredModel, Run, RunInfo, Stage};
use crate::error::Result;

/// A tracking backend: experiments, runs and their data, MLflow 3 logged models, and the model
/// registry. Methods block (run them off an async runtime's worker threads).
pub trait TrackingStore: Send + Sync {
    /// A short name of the backend (`FileStore`, `SqlStore`), as server-info reports it.
    fn store_type(&self) -> &'static str;

    // ----- experiments -----

    /// Creates an experiment and returns its id. A taken name is
    /// [`crate::TrackingError::AlreadyExists`].
    fn create_experiment(&self, req: CreateExperiment) -> Result<String>;
    /// An experiment by id (active or deleted).
    fn get_experiment(&self, experiment_id: &str) -> Result<Experiment>;
    /// An experiment by name (active or deleted), or `None`.
    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>>;
    /// Experiments matching a filter, ordered, one page.
    fn search_experiments(&self, req: &SearchExperiments) -> Result<Page<Experiment>>;
    /// Renames an experiment.
    fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()>;
    /// Marks an experiment deleted.
    fn delete_experiment(&self, experiment_id: &str) -> Result<()>;
    /// Restores a deleted experiment.
    fn restore_experiment(&self, experiment_id: &str) -> Result<()>;
    /// Sets an experiment tag.
    fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()>;
    /// Deletes an experiment tag.
    fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()>;

    // ----- runs -----

    /// Creates a run (RUNNING) with the client's tags.
    fn create_run(&self, req: CreateRun) -> Result<Run>;
    /// A run with its latest metrics, params and tags.
    fn get_run(&self, run_id: &str) -> Result<Run>;
    /// A run's inputs (datasets, models).
    fn get_run_inputs(&self, run_id: &str) -> Result<RunInputs>;
    /// Updates status, end time and name; returns the new info.
    fn update_run(&self, req: UpdateRun) -> Result<RunInfo>;
    /// Marks a run deleted.
    fn delete_run(&self, run_id: &str) -> Result<()>;
    /// Restores a deleted run.
    fn restore_run(&self, run_id: &str) -> Result<()>;
    /// Runs of some experiments matching a filter, ordered (default `start_time DESC`), one page.
    fn search_runs(&self, req: &SearchRuns) -> Result<Page<Run>>;
    /// Logs metrics, params and tags; everything is validated before anything is written.
    fn log_batch(&self, run_id: &str, batch: &LogBatch) -> Result<()>;
    /// Logs one metric value.
    fn log_metric(&self, run_id: &str, metric: &LoggedMetric) -> Result<()> {
        self.log_batch(
            run_id,
            &LogBatch {
                metrics: vec![metric.clone()],
                ..Default::default()
            },
        )
    }
    /// Logs one param (write-once: the same value again is fine).
    fn log_param(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        self.log_batch(
            run_id,
            &LogBatch {
                params: vec![(key.into(), value.into())],
                ..Default::default()
            },
        )
    }
    /// Sets a run tag.
    fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        self.log_batch(
            run_id,
            &LogBatch {
                tags: vec![(key.into(), value.into())],
                ..Default::default()
            },
        )
    }
    /// Deletes a run tag (a missing tag is not found).
    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()>;
    /// Logs datasets and models as inputs of a run.
    fn log_inputs(
        &self,
        run_id: &str,
        datasets: &[DatasetInput],
        model_ids: &[String],
    ) -> Result<()>;
    /// Links logged models to a run as its outputs.
    fn log_outputs(&self, run_id: &str, models: &[ModelOutput]) -> Result<()>;
    /// A metric's history ordered by (timestamp, step, value), one page (`max_results` `None`: all).
    fn get_metric_history(
        &self,
        run_id: &str,
        key: &str,
        max_results: Option<usize>,
        page_token: Option<&str>,
    ) -> Result<Page<LoggedMetric>>;

    // ----- MLflow 3 logged models -----

    /// Creates a logged model (PENDING); its artifact location is under its experiment's.
    fn create_logged_model(&self, req: CreateLoggedModel) -> Result<LoggedModelInfo>;
    /// A logged model by id (`allow_deleted`: deleted ones too).
    fn get_logged_model(&self, model_id: &str, allow_deleted: bool) -> Result<LoggedModelInfo>;
    /// Sets the final status (READY or FAILED).
    fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModelInfo>;
    /// Logged models of some experiments matching a filter, ordered, one page.
    fn search_logged_models(&self, req: &SearchLoggedModels) -> Result<Page<LoggedModelInfo>>;
    /// Marks a logged model deleted.
    fn delete_logged_model(&self, model_id: &str) -> Result<()>;
    /// Sets logged model tags.
    fn set_logged_model_tags(&self, model_id: &str, tags: &BTreeMap<String, String>) -> Result<()>;
    /// Deletes a logged model tag.
    fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()>;
    /// Logs logged model params.
    fn log_logged_model_params(
        &self,
        model_id: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<()>;

    // ----- model registry -----

    /// Creates a registered model; a taken name is [`crate::TrackingError::AlreadyExists`].
    fn create_registered_model(&self, req: CreateRegisteredModel) -> Result<RegisteredModel>;
    /// A registered model with tags and aliases.
    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel>;
    /// Registered models matching a filter, ordered (default `name ASC`), one page.
    fn search_registered_models(&self, req: &SearchRegistry) -> Result<Page<RegisteredModel>>;
    /// Sets (or clears) the description.
    fn update_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
    ) -> Result<RegisteredModel>;
    /// Renames a registered model with its versions.
    fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel>;
    /// Deletes a registered model with its versions.
    fn delete_registered_model(&self, name: &str) -> Result<()>;
    /// Sets a registered model tag.
    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()>;
    /// Deletes a registered model tag.
    fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()>;
    /// The latest version in each of `stages` (all stages when empty).
    fn get_latest_versions(&self, name: &str, stages: &[Stage]) -> Result<Vec<ModelVersion>>;
    /// Creates the next version (status READY).
    fn create_model_version(&self, req: CreateModelVersion) -> Result<ModelVersion>;
    /// A model version.
    fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion>;
    /// Model versions matching a filter, ordered, one page.
    fn search_model_versions(&self, req: &SearchRegistry) -> Result<Page<ModelVersion>>;
    /// Sets (or clears) a version's description.
    fn update_model_version(
        &self,
        name: &str,
        version: u64,
        description: Option<&str>,
    ) -> Result<ModelVersion>;
    /// Moves a version to a stage, optionally archiving the others in that stage.
    fn transition_model_version_stage(
        &self,
        name: &str,
        version: u64,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<ModelVersion>;
    /// Deletes a version.
    fn delete_model_version(&self, name: &str, version: u64) -> Result<()>;
    /// Sets a version tag.
    fn set_model_version_tag(&self, name: &str, version: u64, key: &str, value: &str)
        -> Result<()>;
    /// Deletes a version tag.
    fn delete_model_version_tag(&self, name: &str, version: u64, key: &str) -> Result<()>;
    /// Where a version's files are (its storage location).
    fn get_model_version_download_uri(&self, name: &str, version: u64) -> Result<String>;
    /// Points an alias at a version.
    fn set_registered_model_alias(&self, name: &str, alias: &str, version: u64) -> Result<()>;
    /// Removes an alias.
    fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()>;
    /// The version an alias points at.
    fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion>;
}
