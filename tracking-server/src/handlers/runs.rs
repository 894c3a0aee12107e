//! Runs: create, get, update, delete, restore, search, logging (batch, metric, param, tags),
//! inputs, outputs, and metric history.

use homeml_tracking::api::validate::{MAX_PARAM_VALUE_LENGTH, MAX_TAG_VALUE_LENGTH};
use homeml_tracking::api::{
    CreateRun, Dataset, DatasetInput, LogBatch, LoggedMetric, ModelOutput, SearchRuns, UpdateRun,
};
use homeml_tracking::util::now_ms;
use homeml_tracking::RunStatus;
use serde_json::{json, Value};

use super::{empty, max_results, order_by, view_type, Ctx};
use crate::error::ApiError;
use crate::json;
use crate::request::Message;

/// Most runs a search page holds.
const MAX_RUNS: usize = 50_000;

/// A value cut to `limit` characters: MLflow's server truncates long param and tag values rather
/// than refusing them (MLFLOW_TRUNCATE_LONG_VALUES, on by default).
fn truncated(mut v: String, limit: usize) -> String {
    if let Some((i, _)) = v.char_indices().nth(limit) {
        v.truncate(i);
    }
    v
}

fn params_of(m: &Message) -> Result<Vec<(String, String)>, ApiError> {
    Ok(m.key_values("params")?
        .into_iter()
        .map(|(k, v)| (k, truncated(v, MAX_PARAM_VALUE_LENGTH)))
        .collect())
}

fn tags_of(m: &Message) -> Result<Vec<(String, String)>, ApiError> {
    Ok(m.key_values("tags")?
        .into_iter()
        .map(|(k, v)| (k, truncated(v, MAX_TAG_VALUE_LENGTH)))
        .collect())
}

fn run_id(m: &Message) -> Result<String, ApiError> {
    m.req_str_any(&["run_id", "run_uuid"])
}

fn metric(m: &Message) -> Result<LoggedMetric, ApiError> {
    Ok(LoggedMetric {
        key: m.req_str("key")?,
        value: m.req_f64("value")?,
        timestamp: m.opt_i64("timestamp")?.unwrap_or_else(now_ms),
        step: m.opt_i64("step")?.unwrap_or(0),
        model_id: m.opt_str("model_id")?.filter(|s| !s.is_empty()),
        dataset_name: m.opt_str("dataset_name")?.filter(|s| !s.is_empty()),
        dataset_digest: m.opt_str("dataset_digest")?.filter(|s| !s.is_empty()),
        run_id: None,
    })
}

/// `runs/create`.
pub fn create(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let run = c.store.create_run(CreateRun {
        experiment_id: m.opt_str("experiment_id")?.unwrap_or_default(),
        user_id: m.opt_str("user_id")?,
        run_name: m.opt_str("run_name")?,
        start_time: m.opt_i64("start_time")?,
        tags: tags_of(m)?.into_iter().collect(),
    })?;
    Ok(json!({"run": json::run(&run, None)}))
}

/// `runs/get`.
pub fn get(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let id = run_id(m)?;
    let run = c.store.get_run(&id)?;
    let inputs = c.store.get_run_inputs(&id)?;
    Ok(json!({"run": json::run(&run, Some(&inputs))}))
}

/// `runs/update`.
pub fn update(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let status = match m.opt_str("status")? {
        Some(s) if !s.is_empty() => Some(
            s.parse::<RunStatus>()
                .map_err(|e| ApiError::invalid(e.to_string()))?,
        ),
        _ => None,
    };
    let info = c.store.update_run(UpdateRun {
        run_id: run_id(m)?,
        status,
        end_time: m.opt_i64("end_time")?,
        run_name: m.opt_str("run_name")?,
    })?;
    Ok(json!({"run_info": json::run_info(&info)}))
}

/// `runs/delete`.
pub fn delete(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    c.store.delete_run(&run_id(m)?)?;
    Ok(empty())
}

/// `runs/restore`.
pub fn restore(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    c.store.restore_run(&run_id(m)?)?;
    Ok(empty())
}

/// `runs/search`.
pub fn search(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let max = max_results(m, 1000)?;
    if max > MAX_RUNS {
        return Err(ApiError::invalid(format!(
            "Invalid value {max} for parameter 'max_results' supplied. It must be at most {MAX_RUNS}"
        )));
    }
    let page = c.store.search_runs(&SearchRuns {
        experiment_ids: m.strings("experiment_ids")?,
        filter: m.opt_str("filter")?,
        view: view_type(m, "run_view_type")?,
        max_results: max,
        order_by: order_by(m)?,
        page_token: m.opt_str("page_token")?,
    })?;
    Ok(json::page(
        "runs",
        page.items.iter().map(|r| json::run(r, None)).collect(),
        page.next_page_token,
    ))
}

/// `runs/log-batch`.
pub fn log_batch(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let id = run_id(m)?;
    let batch = LogBatch {
        metrics: m
            .objects("metrics")?
            .iter()
            .map(metric)
            .collect::<Result<_, _>>()?,
        params: params_of(m)?,
        tags: tags_of(m)?,
    };
    c.store.log_batch(&id, &batch)?;
    Ok(empty())
}

/// `runs/log-metric`.
pub fn log_metric(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let id = run_id(m)?;
    c.store.log_metric(&id, &metric(m)?)?;
    Ok(empty())
}

/// `runs/log-parameter`.
pub fn log_param(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let id = run_id(m)?;
    c.store.log_param(
        &id,
        &m.req_str("key")?,
        &truncated(
            m.opt_str("value")?.unwrap_or_default(),
            MAX_PARAM_VALUE_LENGTH,
        ),
    )?;
    Ok(empty())
}

/// `runs/set-tag`.
pub fn set_tag(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let id = run_id(m)?;
    c.store.set_tag(
        &id,
        &m.req_str("key")?,
        &truncated(
            m.opt_str("value")?.unwrap_or_default(),
            MAX_TAG_VALUE_LENGTH,
        ),
    )?;
    Ok(empty())
}

/// `runs/delete-tag`.
pub fn delete_tag(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let (id, key) = (run_id(m)?, m.req_str("key")?);
    match c.store.delete_tag(&id, &key) {
        Err(homeml_tracking::TrackingError::NotFound { kind: "tag", .. }) => Err(
            ApiError::not_found(format!("No tag with name: {key} in run with id {id}")),
        ),
        r => Ok(r.map(|()| empty())?),
    }
}

/// `runs/log-inputs`.
pub fn log_inputs(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let id = run_id(m)?;
    let mut datasets = Vec::new();
    for d in m.objects("datasets")? {
        let ds = d
            .object("dataset")?
            .ok_or_else(|| ApiError::missing("dataset"))?;
        datasets.push(DatasetInput {
            dataset: Dataset {
                name: ds.req_str("name")?,
                digest: ds.req_str("digest")?,
                source_type: ds.opt_str("source_type")?.unwrap_or_default(),
                source: ds.opt_str("source")?.unwrap_or_default(),
                schema: ds.opt_str("schema")?,
                profile: ds.opt_str("profile")?,
            },
            tags: d.key_value_map("tags")?,
        });
    }
    let models: Vec<String> = m
        .objects("models")?
        .iter()
        .map(|o| o.req_str("model_id"))
        .collect::<Result<_, _>>()?;
    c.store.log_inputs(&id, &datasets, &models)?;
    Ok(empty())
}

/// `runs/outputs`.
pub fn log_outputs(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let id = run_id(m)?;
    let models: Vec<ModelOutput> = m
        .objects("models")?
        .iter()
        .map(|o| {
            Ok(ModelOutput {
                model_id: o.req_str("model_id")?,
                step: o.opt_i64("step")?.unwrap_or(0),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    c.store.log_outputs(&id, &models)?;
    Ok(empty())
}

/// `runs/log-model` (MLflow 2.x): the MLmodel is in the artifacts already; nothing to keep.
pub fn log_model(_c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    run_id(m)?;
    Ok(empty())
}

/// `metrics/get-history`; an unknown run has no history (`{}`), as MLflow answers.
pub fn get_history(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let id = run_id(m)?;
    let key = m.req_str("metric_key")?;
    let max = match m.opt_i64("max_results")? {
        Some(n) if n > 0 => Some(n as usize),
        _ => None,
    };
    let token = m.opt_str("page_token")?;
    match c.store.get_metric_history(&id, &key, max, token.as_deref()) {
        Ok(page) => Ok(json::page(
            "metrics",
            page.items
                .iter()
                .map(|mv| {
                    let mut mv = mv.clone();
                    mv.run_id = Some(id.clone());
                    json::metric(&mv)
                })
                .collect(),
            page.next_page_token,
        )),
        Err(e) if e.is_not_found() => Ok(empty()),
        Err(e) => Err(e.into()),
    }
}
