//! [`TrackingStore`] over MLflow's REST API: each method is the request MLflow's own client sends
//! (`store/tracking/rest_store.py`, `store/model_registry/rest_store.py`), its answer parsed by
//! [`super::wire`], its error mapped by [`super::http::Failure::into_error`].

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::handle::RestStore;
use super::http::{encode_component, About};
use super::wire;
use crate::api::*;
use crate::entities::{Experiment, ModelVersion, RegisteredModel, Run, RunInfo, Stage, ViewType};
use crate::error::Result;

const API: &str = "api/2.0/mlflow";

fn view_name(v: ViewType) -> &'static str {
    match v {
        ViewType::ActiveOnly => "ACTIVE_ONLY",
        ViewType::DeletedOnly => "DELETED_ONLY",
        ViewType::All => "ALL",
    }
}

fn about<'a>(kind: &'static str, name: &'a str) -> About<'a> {
    About { kind, name }
}

impl RestStore {
    pub(crate) fn get(
        &self,
        endpoint: &str,
        query: &[(&str, String)],
        a: About<'_>,
    ) -> Result<Value> {
        let path = format!("{API}/{endpoint}");
        self.http
            .get_json(&path, query)
            .map_err(|f| f.into_error(self.http.base(), &path, a))
    }

    pub(crate) fn send(
        &self,
        method: &str,
        endpoint: &str,
        body: Value,
        a: About<'_>,
    ) -> Result<Value> {
        let path = format!("{API}/{endpoint}");
        self.http
            .send_json(method, &path, &body)
            .map_err(|f| f.into_error(self.http.base(), &path, a))
    }

    fn post(&self, endpoint: &str, body: Value, a: About<'_>) -> Result<Value> {
        self.send("POST", endpoint, body, a)
    }
}

fn opt_field(o: &mut Value, key: &str, v: Option<impl Into<Value>>) {
    if let Some(v) = v {
        o[key] = v.into();
    }
}

impl TrackingStore for RestStore {
    fn store_type(&self) -> &'static str {
        "RestStore"
    }

    // ----- experiments -----

    fn create_experiment(&self, req: CreateExperiment) -> Result<String> {
        let mut body = json!({"name": req.name, "tags": wire::key_values_out(&req.tags)});
        opt_field(&mut body, "artifact_location", req.artifact_location);
        let v = self.post("experiments/create", body, about("experiment", &req.name))?;
        Ok(wire::opt_str(&v, "experiment_id").unwrap_or_default())
    }

    fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        let v = self.get(
            "experiments/get",
            &[("experiment_id", experiment_id.into())],
            about("experiment", experiment_id),
        )?;
        wire::experiment(v.get("experiment").unwrap_or(&Value::Null))
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        match self.get(
            "experiments/get-by-name",
            &[("experiment_name", name.into())],
            about("experiment", name),
        ) {
            Ok(v) => Ok(Some(wire::experiment(
                v.get("experiment").unwrap_or(&Value::Null),
            )?)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn search_experiments(&self, req: &SearchExperiments) -> Result<Page<Experiment>> {
        let mut body = json!({
            "max_results": req.max_results,
            "order_by": req.order_by,
            "view_type": view_name(req.view),
        });
        opt_field(&mut body, "filter", req.filter.clone());
        opt_field(&mut body, "page_token", req.page_token.clone());
        let v = self.post("experiments/search", body, about("experiment", ""))?;
        wire::page(&v, "experiments", wire::experiment)
    }

    fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        self.post(
            "experiments/update",
            json!({"experiment_id": experiment_id, "new_name": new_name}),
            about("experiment", experiment_id),
        )
        .map(drop)
    }

    fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        self.post(
            "experiments/delete",
            json!({"experiment_id": experiment_id}),
            about("experiment", experiment_id),
        )
        .map(drop)
    }

    fn restore_experiment(&self, experiment_id: &str) -> Result<()> {
        self.post(
            "experiments/restore",
            json!({"experiment_id": experiment_id}),
            about("experiment", experiment_id),
        )
        .map(drop)
    }

    fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()> {
        self.post(
            "experiments/set-experiment-tag",
            json!({"experiment_id": experiment_id, "key": key, "value": value}),
            about("experiment", experiment_id),
        )
        .map(drop)
    }

    fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        self.post(
            "experiments/delete-experiment-tag",
            json!({"experiment_id": experiment_id, "key": key}),
            about("experiment tag", key),
        )
        .map(drop)
    }

    // ----- runs -----

    fn create_run(&self, req: CreateRun) -> Result<Run> {
        let mut body = json!({
            "experiment_id": req.experiment_id,
            "start_time": req.start_time.unwrap_or_else(crate::util::now_ms),
            "tags": wire::key_values_out(&req.tags),
        });
        opt_field(&mut body, "user_id", req.user_id);
        opt_field(&mut body, "run_name", req.run_name);
        let v = self.post("runs/create", body, about("experiment", &req.experiment_id))?;
        wire::run(v.get("run").unwrap_or(&Value::Null))
    }

    fn get_run(&self, run_id: &str) -> Result<Run> {
        let v = self.get(
            "runs/get",
            &[("run_id", run_id.into())],
            about("run", run_id),
        )?;
        wire::run(v.get("run").unwrap_or(&Value::Null))
    }

    fn get_run_inputs(&self, run_id: &str) -> Result<RunInputs> {
        let v = self.get(
            "runs/get",
            &[("run_id", run_id.into())],
            about("run", run_id),
        )?;
        Ok(wire::run_inputs(v.get("run").unwrap_or(&Value::Null)))
    }

    fn update_run(&self, req: UpdateRun) -> Result<RunInfo> {
        let mut body = json!({"run_id": req.run_id, "run_uuid": req.run_id});
        opt_field(&mut body, "status", req.status.map(|s| s.as_str()));
        opt_field(&mut body, "end_time", req.end_time);
        opt_field(&mut body, "run_name", req.run_name);
        let v = self.post("runs/update", body, about("run", &req.run_id))?;
        match v.get("run_info") {
            Some(info) => wire::run_info(info),
            None => Ok(self.get_run(&req.run_id)?.info),
        }
    }

    fn delete_run(&self, run_id: &str) -> Result<()> {
        self.post(
            "runs/delete",
            json!({"run_id": run_id}),
            about("run", run_id),
        )
        .map(drop)
    }

    fn restore_run(&self, run_id: &str) -> Result<()> {
        self.post(
            "runs/restore",
            json!({"run_id": run_id}),
            about("run", run_id),
        )
        .map(drop)
    }

    fn search_runs(&self, req: &SearchRuns) -> Result<Page<Run>> {
        let mut body = json!({
            "experiment_ids": req.experiment_ids,
            "run_view_type": view_name(req.view),
            "max_results": req.max_results,
            "order_by": req.order_by,
        });
        opt_field(&mut body, "filter", req.filter.clone());
        opt_field(&mut body, "page_token", req.page_token.clone());
        let v = self.post("runs/search", body, about("experiment", ""))?;
        wire::page(&v, "runs", wire::run)
    }

    fn log_batch(&self, run_id: &str, batch: &LogBatch) -> Result<()> {
        let body = json!({
            "run_id": run_id,
            "metrics": batch.metrics.iter().map(wire::metric_out).collect::<Vec<_>>(),
            "params": batch.params.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
            "tags": batch.tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
        });
        self.post("runs/log-batch", body, about("run", run_id))
            .map(drop)
    }

    fn log_metric(&self, run_id: &str, metric: &LoggedMetric) -> Result<()> {
        let mut body = wire::metric_out(metric);
        body["run_id"] = json!(run_id);
        body["run_uuid"] = json!(run_id);
        self.post("runs/log-metric", body, about("run", run_id))
            .map(drop)
    }

    fn log_param(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        self.post(
            "runs/log-parameter",
            json!({"run_id": run_id, "run_uuid": run_id, "key": key, "value": value}),
            about("run", run_id),
        )
        .map(drop)
    }

    fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        self.post(
            "runs/set-tag",
            json!({"run_id": run_id, "run_uuid": run_id, "key": key, "value": value}),
            about("run", run_id),
        )
        .map(drop)
    }

    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.post(
            "runs/delete-tag",
            json!({"run_id": run_id, "key": key}),
            about("run tag", key),
        )
        .map(drop)
    }

    fn log_inputs(
        &self,
        run_id: &str,
        datasets: &[DatasetInput],
        model_ids: &[String],
    ) -> Result<()> {
        let body = json!({
            "run_id": run_id,
            "datasets": datasets.iter().map(wire::dataset_input_out).collect::<Vec<_>>(),
            "models": model_ids.iter().map(|m| json!({"model_id": m})).collect::<Vec<_>>(),
        });
        self.post("runs/log-inputs", body, about("run", run_id))
            .map(drop)
    }

    fn log_outputs(&self, run_id: &str, models: &[ModelOutput]) -> Result<()> {
        let body = json!({
            "run_id": run_id,
            "models": models.iter().map(|m| json!({"model_id": m.model_id, "step": m.step})).collect::<Vec<_>>(),
        });
        self.post("runs/outputs", body, about("run", run_id))
            .map(drop)
    }

    fn get_metric_history(
        &self,
        run_id: &str,
        key: &str,
        max_results: Option<usize>,
        page_token: Option<&str>,
    ) -> Result<Page<LoggedMetric>> {
        let mut out = Vec::new();
        let mut token = page_token.map(str::to_string);
        loop {
            let mut q = vec![
                ("run_id", run_id.to_string()),
                ("metric_key", key.to_string()),
            ];
            if let Some(n) = max_results {
                q.push(("max_results", n.to_string()));
            }
            if let Some(t) = &token {
                q.push(("page_token", t.clone()));
            }
            let v = self.get("metrics/get-history", &q, about("run", run_id))?;
            let page = wire::page(&v, "metrics", |m| Ok(wire::metric(m)))?;
            out.extend(page.items);
            // `None` asks for everything: follow the pages.
            if max_results.is_some() || page.next_page_token.is_none() {
                return Ok(Page {
                    items: out,
                    next_page_token: page.next_page_token,
                });
            }
            token = page.next_page_token;
        }
    }

    // ----- MLflow 3 logged models -----

    fn create_logged_model(&self, req: CreateLoggedModel) -> Result<LoggedModelInfo> {
        let mut body = json!({
            "experiment_id": req.experiment_id,
            "params": wire::key_values_out(&req.params),
            "tags": wire::key_values_out(&req.tags),
        });
        opt_field(&mut body, "name", req.name);
        opt_field(&mut body, "model_type", req.model_type);
        opt_field(&mut body, "source_run_id", req.source_run_id);
        let v = self.post(
            "logged-models",
            body,
            about("experiment", &req.experiment_id),
        )?;
        wire::logged_model(v.get("model").unwrap_or(&Value::Null))
    }

    fn get_logged_model(&self, model_id: &str, allow_deleted: bool) -> Result<LoggedModelInfo> {
        let q = if allow_deleted {
            vec![("allow_deleted", "true".to_string())]
        } else {
            Vec::new()
        };
        let v = self.get(
            &format!("logged-models/{}", encode_component(model_id)),
            &q,
            about("logged model", model_id),
        )?;
        wire::logged_model(v.get("model").unwrap_or(&Value::Null))
    }

    fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModelInfo> {
        let v = self.send(
            "PATCH",
            &format!("logged-models/{}", encode_component(model_id)),
            json!({"model_id": model_id, "status": status.as_str()}),
            about("logged model", model_id),
        )?;
        match v.get("model") {
            Some(m) => wire::logged_model(m),
            None => self.get_logged_model(model_id, false),
        }
    }

    fn search_logged_models(&self, req: &SearchLoggedModels) -> Result<Page<LoggedModelInfo>> {
        let mut body = json!({
            "experiment_ids": req.experiment_ids,
            "max_results": req.max_results,
            "order_by": req.order_by.iter().map(|o| json!({"field_name": o.field_name, "ascending": o.ascending})).collect::<Vec<_>>(),
        });
        opt_field(&mut body, "filter", req.filter.clone());
        opt_field(&mut body, "page_token", req.page_token.clone());
        let v = self.post("logged-models/search", body, about("experiment", ""))?;
        wire::page(&v, "models", wire::logged_model)
    }

    fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        self.send(
            "DELETE",
            &format!("logged-models/{}", encode_component(model_id)),
            json!({"model_id": model_id}),
            about("logged model", model_id),
        )
        .map(drop)
    }

    fn set_logged_model_tags(&self, model_id: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        self.send(
            "PATCH",
            &format!("logged-models/{}/tags", encode_component(model_id)),
            json!({"model_id": model_id, "tags": wire::key_values_out(tags)}),
            about("logged model", model_id),
        )
        .map(drop)
    }

    fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        self.send(
            "DELETE",
            &format!(
                "logged-models/{}/tags/{}",
                encode_component(model_id),
                encode_component(key)
            ),
            json!({}),
            about("logged model", model_id),
        )
        .map(drop)
    }

    fn log_logged_model_params(
        &self,
        model_id: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<()> {
        self.post(
            &format!("logged-models/{}/params", encode_component(model_id)),
            json!({"model_id": model_id, "params": wire::key_values_out(params)}),
            about("logged model", model_id),
        )
        .map(drop)
    }

    // ----- model registry -----

    fn create_registered_model(&self, req: CreateRegisteredModel) -> Result<RegisteredModel> {
        let mut body = json!({"name": req.name, "tags": wire::key_values_out(&req.tags)});
        opt_field(&mut body, "description", req.description);
        let v = self.post(
            "registered-models/create",
            body,
            about("registered model", &req.name),
        )?;
        Ok(wire::registered_model(v.get("registered_model").unwrap_or(&Value::Null))?.0)
    }

    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let v = self.get(
            "registered-models/get",
            &[("name", name.into())],
            about("registered model", name),
        )?;
        Ok(wire::registered_model(v.get("registered_model").unwrap_or(&Value::Null))?.0)
    }

    fn search_registered_models(&self, req: &SearchRegistry) -> Result<Page<RegisteredModel>> {
        let v = self.get(
            "registered-models/search",
            &registry_query(req),
            about("registered model", ""),
        )?;
        wire::page(
            &v,
            "registered_models",
            |m| Ok(wire::registered_model(m)?.0),
        )
    }

    fn update_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
    ) -> Result<RegisteredModel> {
        let v = self.send(
            "PATCH",
            "registered-models/update",
            json!({"name": name, "description": description.unwrap_or("")}),
            about("registered model", name),
        )?;
        match v.get("registered_model") {
            Some(m) => Ok(wire::registered_model(m)?.0),
            None => self.get_registered_model(name),
        }
    }

    fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel> {
        let v = self.post(
            "registered-models/rename",
            json!({"name": name, "new_name": new_name}),
            about("registered model", name),
        )?;
        match v.get("registered_model") {
            Some(m) => Ok(wire::registered_model(m)?.0),
            None => self.get_registered_model(new_name),
        }
    }

    fn delete_registered_model(&self, name: &str) -> Result<()> {
        self.send(
            "DELETE",
            "registered-models/delete",
            json!({"name": name}),
            about("registered model", name),
        )
        .map(drop)
    }

    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        self.post(
            "registered-models/set-tag",
            json!({"name": name, "key": key, "value": value}),
            about("registered model", name),
        )
        .map(drop)
    }

    fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        self.send(
            "DELETE",
            "registered-models/delete-tag",
            json!({"name": name, "key": key}),
            about("registered model tag", key),
        )
        .map(drop)
    }

    fn get_latest_versions(&self, name: &str, stages: &[Stage]) -> Result<Vec<ModelVersion>> {
        let v = self.post(
            "registered-models/get-latest-versions",
            json!({"name": name, "stages": stages.iter().map(|s| s.as_str()).collect::<Vec<_>>()}),
            about("registered model", name),
        )?;
        Ok(wire::page(&v, "model_versions", wire::model_version)?.items)
    }

    fn create_model_version(&self, req: CreateModelVersion) -> Result<ModelVersion> {
        let mut body = json!({
            "name": req.name,
            "source": req.source,
            "tags": wire::key_values_out(&req.tags),
        });
        opt_field(&mut body, "run_id", req.run_id);
        opt_field(&mut body, "model_id", req.model_id);
        opt_field(&mut body, "run_link", req.run_link);
        opt_field(&mut body, "description", req.description);
        let v = self.post(
            "model-versions/create",
            body,
            about("registered model", &req.name),
        )?;
        wire::model_version(v.get("model_version").unwrap_or(&Value::Null))
    }

    fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        let what = format!("{name}/{version}");
        let v = self.get(
            "model-versions/get",
            &[("name", name.into()), ("version", version.to_string())],
            about("model version", &what),
        )?;
        wire::model_version(v.get("model_version").unwrap_or(&Value::Null))
    }

    fn search_model_versions(&self, req: &SearchRegistry) -> Result<Page<ModelVersion>> {
        let v = self.get(
            "model-versions/search",
            &registry_query(req),
            about("model version", ""),
        )?;
        wire::page(&v, "model_versions", wire::model_version)
    }

    fn update_model_version(
        &self,
        name: &str,
        version: u64,
        description: Option<&str>,
    ) -> Result<ModelVersion> {
        let what = format!("{name}/{version}");
        let v = self.send(
            "PATCH",
            "model-versions/update",
            json!({"name": name, "version": version.to_string(), "description": description.unwrap_or("")}),
            about("model version", &what),
        )?;
        match v.get("model_version") {
            Some(m) => wire::model_version(m),
            None => self.get_model_version(name, version),
        }
    }

    fn transition_model_version_stage(
        &self,
        name: &str,
        version: u64,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<ModelVersion> {
        let what = format!("{name}/{version}");
        let v = self.post(
            "model-versions/transition-stage",
            json!({
                "name": name,
                "version": version.to_string(),
                "stage": stage.as_str(),
                "archive_existing_versions": archive_existing,
            }),
            about("model version", &what),
        )?;
        match v.get("model_version") {
            Some(m) => wire::model_version(m),
            None => self.get_model_version(name, version),
        }
    }

    fn delete_model_version(&self, name: &str, version: u64) -> Result<()> {
        let what = format!("{name}/{version}");
        self.send(
            "DELETE",
            "model-versions/delete",
            json!({"name": name, "version": version.to_string()}),
            about("model version", &what),
        )
        .map(drop)
    }

    fn set_model_version_tag(
        &self,
        name: &str,
        version: u64,
        key: &str,
        value: &str,
    ) -> Result<()> {
        let what = format!("{name}/{version}");
        self.post(
            "model-versions/set-tag",
            json!({"name": name, "version": version.to_string(), "key": key, "value": value}),
            about("model version", &what),
        )
        .map(drop)
    }

    fn delete_model_version_tag(&self, name: &str, version: u64, key: &str) -> Result<()> {
        self.send(
            "DELETE",
            "model-versions/delete-tag",
            json!({"name": name, "version": version.to_string(), "key": key}),
            about("model version tag", key),
        )
        .map(drop)
    }

    fn get_model_version_download_uri(&self, name: &str, version: u64) -> Result<String> {
        let what = format!("{name}/{version}");
        let v = self.get(
            "model-versions/get-download-uri",
            &[("name", name.into()), ("version", version.to_string())],
            about("model version", &what),
        )?;
        Ok(wire::opt_str(&v, "artifact_uri").unwrap_or_default())
    }

    fn set_registered_model_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        let what = format!("{name}/{version}");
        self.post(
            "registered-models/alias",
            json!({"name": name, "alias": alias, "version": version.to_string()}),
            about("model version", &what),
        )
        .map(drop)
    }

    fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        let what = format!("{name}@{alias}");
        self.send(
            "DELETE",
            "registered-models/alias",
            json!({"name": name, "alias": alias}),
            about("alias", &what),
        )
        .map(drop)
    }

    fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        let what = format!("{name}@{alias}");
        let v = self.get(
            "registered-models/alias",
            &[("name", name.into()), ("alias", alias.into())],
            about("alias", &what),
        )?;
        wire::model_version(v.get("model_version").unwrap_or(&Value::Null))
    }
}

fn registry_query(req: &SearchRegistry) -> Vec<(&'static str, String)> {
    let mut q = vec![("max_results", req.max_results.to_string())];
    if let Some(f) = &req.filter {
        q.push(("filter", f.clone()));
    }
    for o in &req.order_by {
        q.push(("order_by", o.clone()));
    }
    if let Some(t) = &req.page_token {
        q.push(("page_token", t.clone()));
    }
    q
}
