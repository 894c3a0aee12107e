//! The JSON endpoints only MLflow's web UI calls: metric histories of many runs for its charts
//! (`metrics/get-history-bulk`, `metrics/get-history-bulk-interval`), a logged model's artifact
//! listing, and the empty answers of the GenAI gateway proxy.

use std::collections::BTreeSet;

use homeml_tracking::api::LoggedMetric;
use homeml_tracking::artifacts::safe_relative_path;
use serde_json::{json, Value};

use super::{artifacts, Ctx};
use crate::error::ApiError;
use crate::json;
use crate::request::Message;

/// Most runs one bulk request may name (MLflow's limit).
const MAX_RUNS: usize = 100;
/// Most points per run of `get-history-bulk-interval` (MLflow's MAX_RESULTS_PER_RUN).
const MAX_INTERVAL_RESULTS: i64 = 2500;
/// Most points of `get-history-bulk`.
const MAX_BULK_RESULTS: usize = 25_000;

/// A run's whole history of a metric; an unknown run has none (as MLflow answers).
fn history(c: &Ctx, run_id: &str, key: &str) -> Result<Vec<LoggedMetric>, ApiError> {
    match c.store.get_metric_history(run_id, key, None, None) {
        Ok(page) => Ok(page.items),
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

fn with_run(mut m: LoggedMetric, run_id: &str) -> Value {
    m.run_id = Some(run_id.to_string());
    m.model_id = None;
    m.dataset_name = None;
    m.dataset_digest = None;
    json::metric(&m)
}

fn run_ids(m: &Message, field: &str, request: &str) -> Result<Vec<String>, ApiError> {
    let ids = m.strings(field)?;
    if ids.is_empty() {
        return Err(ApiError::invalid(format!(
            "{request} request must specify at least one run_id."
        )));
    }
    if ids.len() > MAX_RUNS {
        return Err(ApiError::invalid(format!(
            "{request} request cannot specify more than {MAX_RUNS} run_ids. Received {} run_ids.",
            ids.len()
        )));
    }
    Ok(ids)
}

/// `GET metrics/get-history-bulk?run_id=..&metric_key=..`: every point of each run, runs in id
/// order, each run's points by (timestamp, step, value).
pub fn history_bulk(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let mut ids = run_ids(m, "run_id", "GetMetricHistoryBulk")?;
    let key = m.opt_str("metric_key")?.ok_or_else(|| {
        ApiError::invalid("GetMetricHistoryBulk request must specify a metric_key.")
    })?;
    let max = match m.opt_i64("max_results")? {
        Some(n) if n > 0 => (n as usize).min(MAX_BULK_RESULTS),
        Some(n) => {
            return Err(ApiError::invalid(format!(
            "Invalid value {n} for parameter 'max_results' supplied. It must be a positive integer"
        )))
        }
        None => MAX_BULK_RESULTS,
    };
    ids.sort();
    let mut out = Vec::new();
    for id in &ids {
        for p in history(c, id, &key)?.into_iter().take(max) {
            out.push(with_run(p, id));
        }
    }
    out.truncate(max);
    Ok(json!({"metrics": out}))
}

/// `GET metrics/get-history-bulk-interval?run_ids=..&metric_key=..&max_results=..[&start_step&end_step]`:
/// at most `max_results` steps per run, sampled evenly over the steps the runs logged within the
/// range, keeping each run's first and last step (MLflow's sampling), each run's points by
/// (step, timestamp).
pub fn history_bulk_interval(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let ids = run_ids(m, "run_ids", "GetMetricHistoryBulkInterval")?;
    let key = m.req_str("metric_key")?;
    let max = m.opt_i64("max_results")?.unwrap_or(MAX_INTERVAL_RESULTS);
    if !(1..=MAX_INTERVAL_RESULTS).contains(&max) {
        return Err(ApiError::invalid(format!(
            "max_results must be between 1 and {MAX_INTERVAL_RESULTS}."
        )));
    }
    let max = max as usize;
    let range = match (m.opt_i64("start_step")?, m.opt_i64("end_step")?) {
        (Some(s), Some(e)) if s > e => {
            return Err(ApiError::invalid(format!(
                "end_step must be greater than start_step. Found start_step={s} and end_step={e}."
            )))
        }
        (Some(s), Some(e)) => Some((s, e)),
        (None, None) => None,
        _ => {
            return Err(ApiError::invalid(
                "If either start step or end step are specified, both must be specified.",
            ))
        }
    };
    let histories: Vec<Vec<LoggedMetric>> = ids
        .iter()
        .map(|id| history(c, id, &key))
        .collect::<Result<_, _>>()?;
    let all: BTreeSet<i64> = histories.iter().flatten().map(|p| p.step).collect();
    let (start, end) = range.unwrap_or((0, all.last().copied().unwrap_or(0)));
    let in_range: Vec<i64> = all.range(start..=end).copied().collect();
    let mut steps: BTreeSet<i64> = if in_range.len() <= max {
        in_range.iter().copied().collect()
    } else {
        let interval = in_range.len() as f64 / max as f64;
        (0..max)
            .filter_map(|i| in_range.get((i as f64 * interval) as usize).copied())
            .collect()
    };
    for h in &histories {
        let lo = h.iter().map(|p| p.step).min();
        let hi = h.iter().map(|p| p.step).max();
        steps.extend(
            [lo, hi]
                .into_iter()
                .flatten()
                .filter(|s| (start..=end).contains(s)),
        );
    }
    let mut out = Vec::new();
    for (id, mut h) in ids.iter().zip(histories) {
        h.retain(|p| steps.contains(&p.step));
        h.sort_by_key(|p| (p.step, p.timestamp));
        out.extend(h.into_iter().take(max).map(|p| with_run(p, id)));
    }
    Ok(json!({"metrics": out}))
}

/// `GET logged-models/{model_id}/artifacts/directories?artifact_directory_path=`: the entries of a
/// folder of a logged model's artifacts, paths relative to the model's root.
pub fn logged_model_artifacts(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let lm = c.store.get_logged_model(&m.req_str("model_id")?, false)?;
    let rel = safe_relative_path(&m.opt_str("artifact_directory_path")?.unwrap_or_default())?;
    let (store, base) = artifacts::resolve(c, &lm.artifact_location)?;
    let dir = match (base.is_empty(), rel.is_empty()) {
        (true, _) => rel.clone(),
        (_, true) => base.clone(),
        _ => format!("{base}/{rel}"),
    };
    let files: Vec<Value> = store
        .list(&dir)?
        .iter()
        .map(|f| {
            let name = f.path.rsplit('/').next().unwrap_or(&f.path);
            let path = if rel.is_empty() {
                name.to_string()
            } else {
                format!("{rel}/{name}")
            };
            json::file_info(&path, f)
        })
        .collect();
    let mut out = json!({"root_uri": lm.artifact_location});
    if !files.is_empty() {
        out["files"] = Value::Array(files);
    }
    Ok(out)
}

/// `GET|POST gateway-proxy`: this server runs no AI gateway, so it lists no endpoints (what
/// `mlflow server` answers without one).
pub fn gateway_proxy(_c: &Ctx, _m: &Message) -> Result<Value, ApiError> {
    Ok(json!({"endpoints": []}))
}
