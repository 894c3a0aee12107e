//! [`TrackingStore`] for [`SqlStore`]: each method one call into the per-family modules.

use std::collections::BTreeMap;

use super::handle::SqlStore;
use crate::api::*;
use crate::entities::{
    Experiment, LifecycleStage, ModelVersion, RegisteredModel, Run, RunInfo, Stage,
};
use crate::error::Result;

impl TrackingStore for SqlStore {
    fn store_type(&self) -> &'static str {
        "SqlStore"
    }

    fn create_experiment(&self, req: CreateExperiment) -> Result<String> {
        self.sql_create_experiment(req)
    }
    fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        self.sql_get_experiment(experiment_id)
    }
    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        self.sql_get_experiment_by_name(name)
    }
    fn search_experiments(&self, req: &SearchExperiments) -> Result<Page<Experiment>> {
        self.sql_search_experiments(req)
    }
    fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        self.sql_rename_experiment(experiment_id, new_name)
    }
    fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        self.sql_set_experiment_stage(experiment_id, LifecycleStage::Deleted)
    }
    fn restore_experiment(&self, experiment_id: &str) -> Result<()> {
        self.sql_set_experiment_stage(experiment_id, LifecycleStage::Active)
    }
    fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()> {
        self.sql_set_experiment_tag(experiment_id, key, value)
    }
    fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        self.sql_delete_experiment_tag(experiment_id, key)
    }

    fn create_run(&self, req: CreateRun) -> Result<Run> {
        self.sql_create_run(req)
    }
    fn get_run(&self, run_id: &str) -> Result<Run> {
        self.sql_get_run(run_id)
    }
    fn get_run_inputs(&self, run_id: &str) -> Result<RunInputs> {
        self.sql_run_inputs(run_id)
    }
    fn update_run(&self, req: UpdateRun) -> Result<RunInfo> {
        self.sql_update_run(req)
    }
    fn delete_run(&self, run_id: &str) -> Result<()> {
        self.sql_set_run_stage(run_id, LifecycleStage::Deleted)
    }
    fn restore_run(&self, run_id: &str) -> Result<()> {
        self.sql_set_run_stage(run_id, LifecycleStage::Active)
    }
    fn search_runs(&self, req: &SearchRuns) -> Result<Page<Run>> {
        self.sql_search_runs(req)
    }
    fn log_batch(&self, run_id: &str, batch: &LogBatch) -> Result<()> {
        self.sql_log_batch(run_id, batch)
    }
    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.sql_delete_tag(run_id, key)
    }
    fn log_inputs(
        &self,
        run_id: &str,
        datasets: &[DatasetInput],
        model_ids: &[String],
    ) -> Result<()> {
        self.sql_log_inputs(run_id, datasets, model_ids)
    }
    fn log_outputs(&self, run_id: &str, models: &[ModelOutput]) -> Result<()> {
        self.sql_log_outputs(run_id, models)
    }
    fn get_metric_history(
        &self,
        run_id: &str,
        key: &str,
        max_results: Option<usize>,
        page_token: Option<&str>,
    ) -> Result<Page<LoggedMetric>> {
        self.sql_metric_history(run_id, key, max_results, page_token)
    }

    fn create_logged_model(&self, req: CreateLoggedModel) -> Result<LoggedModelInfo> {
        self.sql_create_logged_model(req)
    }
    fn get_logged_model(&self, model_id: &str, allow_deleted: bool) -> Result<LoggedModelInfo> {
        self.sql_get_logged_model(model_id, allow_deleted)
    }
    fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModelInfo> {
        self.sql_finalize_logged_model(model_id, status)
    }
    fn search_logged_models(&self, req: &SearchLoggedModels) -> Result<Page<LoggedModelInfo>> {
        self.sql_search_logged_models(req)
    }
    fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        self.sql_delete_logged_model(model_id)
    }
    fn set_logged_model_tags(&self, model_id: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        self.sql_set_logged_model_tags(model_id, tags)
    }
    fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        self.sql_delete_logged_model_tag(model_id, key)
    }
    fn log_logged_model_params(
        &self,
        model_id: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<()> {
        self.sql_log_logged_model_params(model_id, params)
    }

    fn create_registered_model(&self, req: CreateRegisteredModel) -> Result<RegisteredModel> {
        self.sql_create_registered_model(req)
    }
    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        self.sql_get_registered_model(name)
    }
    fn search_registered_models(&self, req: &SearchRegistry) -> Result<Page<RegisteredModel>> {
        self.sql_search_registered_models(req)
    }
    fn update_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
    ) -> Result<RegisteredModel> {
        self.sql_update_registered_model(name, description)
    }
    fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel> {
        self.sql_rename_registered_model(name, new_name)
    }
    fn delete_registered_model(&self, name: &str) -> Result<()> {
        self.sql_delete_registered_model(name)
    }
    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        self.sql_set_registered_model_tag(name, key, value)
    }
    fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        self.sql_delete_registered_model_tag(name, key)
    }
    fn get_latest_versions(&self, name: &str, stages: &[Stage]) -> Result<Vec<ModelVersion>> {
        self.sql_latest_versions(name, stages)
    }
    fn create_model_version(&self, req: CreateModelVersion) -> Result<ModelVersion> {
        self.sql_create_model_version(req)
    }
    fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        self.sql_get_model_version(name, version)
    }
    fn search_model_versions(&self, req: &SearchRegistry) -> Result<Page<ModelVersion>> {
        self.sql_search_model_versions(req)
    }
    fn update_model_version(
        &self,
        name: &str,
        version: u64,
        description: Option<&str>,
    ) -> Result<ModelVersion> {
        self.sql_update_model_version(name, version, description)
    }
    fn transition_model_version_stage(
        &self,
        name: &str,
        version: u64,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<ModelVersion> {
        self.sql_transition_stage(name, version, stage, archive_existing)
    }
    fn delete_model_version(&self, name: &str, version: u64) -> Result<()> {
        self.sql_delete_model_version(name, version)
    }
    fn set_model_version_tag(
        &self,
        name: &str,
        version: u64,
        key: &str,
        value: &str,
    ) -> Result<()> {
        self.sql_set_model_version_tag(name, version, key, value)
    }
    fn delete_model_version_tag(&self, name: &str, version: u64, key: &str) -> Result<()> {
        self.sql_delete_model_version_tag(name, version, key)
    }
    fn get_model_version_download_uri(&self, name: &str, version: u64) -> Result<String> {
        self.sql_download_uri(name, version)
    }
    fn set_registered_model_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        self.sql_set_alias(name, alias, version)
    }
    fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        self.sql_delete_alias(name, alias)
    }
    fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        self.sql_version_by_alias(name, alias)
    }
}
