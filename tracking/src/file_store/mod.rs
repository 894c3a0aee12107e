//! [`TrackingStore`] for the file store ([`Store`]): each method a thin call into the inherent API
//! or the per-family modules here.

mod experiments;
mod logged_models;
mod query;
mod registry;
mod runs;
#[cfg(test)]
mod search_tests;
mod searchable;

use std::collections::BTreeMap;

use crate::api::*;
use crate::entities::{Experiment, ModelVersion, RegisteredModel, Run, RunInfo, Stage};
use crate::error::Result;
use crate::store::Store;

impl TrackingStore for Store {
    fn store_type(&self) -> &'static str {
        "FileStore"
    }

    fn create_experiment(&self, req: CreateExperiment) -> Result<String> {
        self.api_create_experiment(req)
    }
    fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        Store::get_experiment(self, experiment_id)
    }
    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        Store::get_experiment_by_name(self, name)
    }
    fn search_experiments(&self, req: &SearchExperiments) -> Result<Page<Experiment>> {
        self.api_search_experiments(req)
    }
    fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        Store::rename_experiment(self, experiment_id, new_name)
    }
    fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        Store::delete_experiment(self, experiment_id)
    }
    fn restore_experiment(&self, experiment_id: &str) -> Result<()> {
        Store::restore_experiment(self, experiment_id)
    }
    fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()> {
        validate::experiment_tag(key, value)?;
        Store::set_experiment_tag(self, experiment_id, key, value)
    }
    fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        Store::delete_experiment_tag(self, experiment_id, key)
    }

    fn create_run(&self, req: CreateRun) -> Result<Run> {
        self.api_create_run(req)
    }
    fn get_run(&self, run_id: &str) -> Result<Run> {
        Store::get_run(self, run_id)
    }
    fn get_run_inputs(&self, run_id: &str) -> Result<RunInputs> {
        self.api_run_inputs(run_id)
    }
    fn update_run(&self, req: UpdateRun) -> Result<RunInfo> {
        self.api_update_run(req)
    }
    fn delete_run(&self, run_id: &str) -> Result<()> {
        Store::delete_run(self, run_id)
    }
    fn restore_run(&self, run_id: &str) -> Result<()> {
        Store::restore_run(self, run_id)
    }
    fn search_runs(&self, req: &SearchRuns) -> Result<Page<Run>> {
        self.api_search_runs(req)
    }
    fn log_batch(&self, run_id: &str, batch: &LogBatch) -> Result<()> {
        self.api_log_batch(run_id, batch)
    }
    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.api_delete_tag(run_id, key)
    }
    fn log_inputs(
        &self,
        run_id: &str,
        datasets: &[DatasetInput],
        model_ids: &[String],
    ) -> Result<()> {
        self.api_log_inputs(run_id, datasets, model_ids)
    }
    fn log_outputs(&self, run_id: &str, models: &[ModelOutput]) -> Result<()> {
        self.api_log_outputs(run_id, models)
    }
    fn get_metric_history(
        &self,
        run_id: &str,
        key: &str,
        max_results: Option<usize>,
        page_token: Option<&str>,
    ) -> Result<Page<LoggedMetric>> {
        self.api_metric_history(run_id, key, max_results, page_token)
    }

    fn create_logged_model(&self, req: CreateLoggedModel) -> Result<LoggedModelInfo> {
        self.api_create_logged_model(req)
    }
    fn get_logged_model(&self, model_id: &str, allow_deleted: bool) -> Result<LoggedModelInfo> {
        self.api_get_logged_model(model_id, allow_deleted)
    }
    fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModelInfo> {
        self.api_finalize_logged_model(model_id, status)
    }
    fn search_logged_models(&self, req: &SearchLoggedModels) -> Result<Page<LoggedModelInfo>> {
        self.api_search_logged_models(req)
    }
    fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        self.api_delete_logged_model(model_id)
    }
    fn set_logged_model_tags(&self, model_id: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        self.api_set_logged_model_tags(model_id, tags)
    }
    fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        self.api_delete_logged_model_tag(model_id, key)
    }
    fn log_logged_model_params(
        &self,
        model_id: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<()> {
        self.api_log_logged_model_params(model_id, params)
    }

    fn create_registered_model(&self, req: CreateRegisteredModel) -> Result<RegisteredModel> {
        self.api_create_registered_model(req)
    }
    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        Store::get_registered_model(self, name)
    }
    fn search_registered_models(&self, req: &SearchRegistry) -> Result<Page<RegisteredModel>> {
        self.api_search_registered_models(req)
    }
    fn update_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
    ) -> Result<RegisteredModel> {
        self.set_registered_model_description(name, description)?;
        Store::get_registered_model(self, name)
    }
    fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel> {
        Store::rename_registered_model(self, name, new_name)
    }
    fn delete_registered_model(&self, name: &str) -> Result<()> {
        Store::delete_registered_model(self, name)
    }
    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        validate::tag(key, value)?;
        Store::set_registered_model_tag(self, name, key, value)
    }
    fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        Store::delete_registered_model_tag(self, name, key)
    }
    fn get_latest_versions(&self, name: &str, stages: &[Stage]) -> Result<Vec<ModelVersion>> {
        self.api_latest_versions(name, stages)
    }
    fn create_model_version(&self, req: CreateModelVersion) -> Result<ModelVersion> {
        self.api_create_model_version(req)
    }
    fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        Store::get_model_version(self, name, version)
    }
    fn search_model_versions(&self, req: &SearchRegistry) -> Result<Page<ModelVersion>> {
        self.api_search_model_versions(req)
    }
    fn update_model_version(
        &self,
        name: &str,
        version: u64,
        description: Option<&str>,
    ) -> Result<ModelVersion> {
        self.set_model_version_description(name, version, description)?;
        Store::get_model_version(self, name, version)
    }
    fn transition_model_version_stage(
        &self,
        name: &str,
        version: u64,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<ModelVersion> {
        if archive_existing {
            self.transition_stage_archiving_others(name, version, stage)
        } else {
            self.transition_stage(name, version, stage)
        }
    }
    fn delete_model_version(&self, name: &str, version: u64) -> Result<()> {
        Store::delete_model_version(self, name, version)
    }
    fn set_model_version_tag(
        &self,
        name: &str,
        version: u64,
        key: &str,
        value: &str,
    ) -> Result<()> {
        validate::tag(key, value)?;
        Store::set_model_version_tag(self, name, version, key, value)
    }
    fn delete_model_version_tag(&self, name: &str, version: u64, key: &str) -> Result<()> {
        Store::delete_model_version_tag(self, name, version, key)
    }
    fn get_model_version_download_uri(&self, name: &str, version: u64) -> Result<String> {
        let mv = Store::get_model_version(self, name, version)?;
        Ok(mv.storage_location.unwrap_or(mv.source))
    }
    fn set_registered_model_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        self.set_alias(name, alias, version)
    }
    fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        self.delete_alias(name, alias)
    }
    fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        Store::get_model_version_by_alias(self, name, alias)
    }
}
