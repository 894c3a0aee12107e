//! MLflow's JSON messages to and from the tracking crate's objects: proto field names, int64 as
//! numbers or strings, doubles that are not finite as `"NaN"`/`"Infinity"`/`"-Infinity"`, enums by
//! name, absent fields as their defaults. Lenient on input (unknown fields are ignored, as MLflow's
//! client does), so a newer server's extra fields are harmless.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::api::{
    Dataset, DatasetInput, LoggedMetric, LoggedModelInfo, LoggedModelStatus, RunInputs,
};
use crate::entities::{
    Experiment, FileInfo, LifecycleStage, MetricValue, ModelVersion, RegisteredModel, Run, RunData,
    RunInfo, RunStatus, Stage,
};
use crate::error::{Result, TrackingError};

fn malformed(what: &str, reason: impl std::fmt::Display) -> TrackingError {
    TrackingError::InvalidValue {
        what: "tracking server answer",
        reason: format!("{what}: {reason}"),
    }
}

/// A string field (numbers taken as their text), or `None`.
pub(crate) fn opt_str(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn string(v: &Value, key: &str) -> String {
    opt_str(v, key).unwrap_or_default()
}

/// An int64 field: a number or a string of one.
pub(crate) fn opt_i64(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A double as protobuf's JSON writes it.
pub(crate) fn double_out(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v == f64::INFINITY {
        json!("Infinity")
    } else if v == f64::NEG_INFINITY {
        json!("-Infinity")
    } else {
        json!(v)
    }
}

fn double_in(v: Option<&Value>) -> f64 {
    match v {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(Value::String(s)) => match s.as_str() {
            "NaN" | "nan" => f64::NAN,
            "Infinity" | "inf" => f64::INFINITY,
            "-Infinity" | "-inf" => f64::NEG_INFINITY,
            other => other.parse().unwrap_or(f64::NAN),
        },
        _ => f64::NAN,
    }
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// `[{key, value}]` to a map.
pub(crate) fn key_values_in(v: &Value, key: &str) -> BTreeMap<String, String> {
    array(v, key)
        .iter()
        .filter_map(|kv| Some((opt_str(kv, "key")?, string(kv, "value"))))
        .collect()
}

/// A map to `[{key, value}]`.
pub(crate) fn key_values_out<'a>(kv: impl IntoIterator<Item = (&'a String, &'a String)>) -> Value {
    Value::Array(
        kv.into_iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

fn lifecycle(v: &Value) -> LifecycleStage {
    LifecycleStage::parse(v.get("lifecycle_stage").and_then(Value::as_str))
}

/// An `Experiment`.
pub(crate) fn experiment(v: &Value) -> Result<Experiment> {
    let experiment_id =
        opt_str(v, "experiment_id").ok_or_else(|| malformed("experiment", "no experiment_id"))?;
    Ok(Experiment {
        experiment_id,
        name: string(v, "name"),
        artifact_location: string(v, "artifact_location"),
        lifecycle_stage: lifecycle(v),
        creation_time: opt_i64(v, "creation_time"),
        last_update_time: opt_i64(v, "last_update_time"),
        tags: key_values_in(v, "tags"),
    })
}

/// A `RunInfo`.
pub(crate) fn run_info(v: &Value) -> Result<RunInfo> {
    let run_id = opt_str(v, "run_id")
        .or_else(|| opt_str(v, "run_uuid"))
        .ok_or_else(|| malformed("run", "no run_id"))?;
    let status = match v.get("status") {
        Some(Value::String(s)) => s.parse().unwrap_or(RunStatus::Running),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(RunStatus::from_code)
            .unwrap_or(RunStatus::Running),
        _ => RunStatus::Running,
    };
    Ok(RunInfo {
        run_id,
        run_name: string(v, "run_name"),
        experiment_id: string(v, "experiment_id"),
        user_id: string(v, "user_id"),
        status,
        start_time: opt_i64(v, "start_time"),
        end_time: opt_i64(v, "end_time"),
        artifact_uri: string(v, "artifact_uri"),
        lifecycle_stage: lifecycle(v),
        deleted_time: None,
    })
}

/// A `Metric`.
pub(crate) fn metric(v: &Value) -> LoggedMetric {
    LoggedMetric {
        key: string(v, "key"),
        value: double_in(v.get("value")),
        timestamp: opt_i64(v, "timestamp").unwrap_or(0),
        step: opt_i64(v, "step").unwrap_or(0),
        model_id: opt_str(v, "model_id"),
        dataset_name: opt_str(v, "dataset_name"),
        dataset_digest: opt_str(v, "dataset_digest"),
        run_id: opt_str(v, "run_id"),
    }
}

/// A metric to `Metric` JSON.
pub(crate) fn metric_out(m: &LoggedMetric) -> Value {
    let mut o = json!({
        "key": m.key,
        "value": double_out(m.value),
        "timestamp": m.timestamp,
        "step": m.step,
    });
    for (k, v) in [
        ("model_id", &m.model_id),
        ("dataset_name", &m.dataset_name),
        ("dataset_digest", &m.dataset_digest),
    ] {
        if let Some(v) = v {
            o[k] = json!(v);
        }
    }
    o
}

/// A `Run`.
pub(crate) fn run(v: &Value) -> Result<Run> {
    let info = run_info(v.get("info").unwrap_or(&Value::Null))?;
    let data = v.get("data").unwrap_or(&Value::Null);
    let metrics = array(data, "metrics")
        .iter()
        .map(metric)
        .map(|m| {
            (
                m.key.clone(),
                MetricValue {
                    value: m.value,
                    timestamp: m.timestamp,
                    step: m.step,
                    dataset_name: m.dataset_name,
                    dataset_digest: m.dataset_digest,
                },
            )
        })
        .collect();
    let model_outputs = v
        .get("outputs")
        .map(|o| {
            array(o, "model_outputs")
                .iter()
                .filter_map(|m| opt_str(m, "model_id"))
                .collect()
        })
        .unwrap_or_default();
    Ok(Run {
        info,
        data: RunData {
            metrics,
            params: key_values_in(data, "params"),
            tags: key_values_in(data, "tags"),
        },
        model_outputs,
    })
}

/// A run's `inputs`.
pub(crate) fn run_inputs(v: &Value) -> RunInputs {
    let inputs = v.get("inputs").unwrap_or(&Value::Null);
    RunInputs {
        dataset_inputs: array(inputs, "dataset_inputs")
            .iter()
            .map(|d| {
                let ds = d.get("dataset").unwrap_or(&Value::Null);
                DatasetInput {
                    dataset: Dataset {
                        name: string(ds, "name"),
                        digest: string(ds, "digest"),
                        source_type: string(ds, "source_type"),
                        source: string(ds, "source"),
                        schema: opt_str(ds, "schema"),
                        profile: opt_str(ds, "profile"),
                    },
                    tags: key_values_in(d, "tags"),
                }
            })
            .collect(),
        model_inputs: array(inputs, "model_inputs")
            .iter()
            .filter_map(|m| opt_str(m, "model_id"))
            .collect(),
    }
}

/// A dataset input to JSON.
pub(crate) fn dataset_input_out(d: &DatasetInput) -> Value {
    let mut ds = json!({
        "name": d.dataset.name,
        "digest": d.dataset.digest,
        "source_type": d.dataset.source_type,
        "source": d.dataset.source,
    });
    if let Some(s) = &d.dataset.schema {
        ds["schema"] = json!(s);
    }
    if let Some(p) = &d.dataset.profile {
        ds["profile"] = json!(p);
    }
    json!({"tags": key_values_out(&d.tags), "dataset": ds})
}

/// A `LoggedModel` (`{info, data}`).
pub(crate) fn logged_model(v: &Value) -> Result<LoggedModelInfo> {
    let info = v.get("info").unwrap_or(&Value::Null);
    let data = v.get("data").unwrap_or(&Value::Null);
    let model_id =
        opt_str(info, "model_id").ok_or_else(|| malformed("logged model", "no model_id"))?;
    let status = match opt_str(info, "status") {
        Some(s) => LoggedModelStatus::parse(&s).unwrap_or(LoggedModelStatus::Unspecified),
        None => LoggedModelStatus::Unspecified,
    };
    Ok(LoggedModelInfo {
        model_id,
        experiment_id: string(info, "experiment_id"),
        name: string(info, "name"),
        artifact_location: string(info, "artifact_uri"),
        creation_timestamp: opt_i64(info, "creation_timestamp_ms"),
        last_updated_timestamp: opt_i64(info, "last_updated_timestamp_ms"),
        source_run_id: opt_str(info, "source_run_id"),
        status,
        status_message: opt_str(info, "status_message"),
        model_type: opt_str(info, "model_type"),
        tags: key_values_in(info, "tags"),
        params: key_values_in(data, "params"),
        metrics: array(data, "metrics").iter().map(metric).collect(),
        lifecycle_stage: lifecycle(info),
    })
}

/// A `ModelVersion`.
pub(crate) fn model_version(v: &Value) -> Result<ModelVersion> {
    let version = opt_i64(v, "version")
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| malformed("model version", "no version number"))?;
    Ok(ModelVersion {
        name: string(v, "name"),
        version,
        source: string(v, "source"),
        run_id: opt_str(v, "run_id").filter(|s| !s.is_empty()),
        model_id: opt_str(v, "model_id").filter(|s| !s.is_empty()),
        storage_location: opt_str(v, "storage_location"),
        current_stage: opt_str(v, "current_stage")
            .and_then(|s| Stage::parse(&s))
            .unwrap_or(Stage::None),
        description: opt_str(v, "description").filter(|s| !s.is_empty()),
        status: opt_str(v, "status").unwrap_or_else(|| "READY".into()),
        creation_timestamp: opt_i64(v, "creation_timestamp"),
        last_updated_timestamp: opt_i64(v, "last_updated_timestamp"),
        tags: key_values_in(v, "tags"),
        aliases: array(v, "aliases")
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect(),
    })
}

/// A `RegisteredModel` and its `latest_versions`.
pub(crate) fn registered_model(v: &Value) -> Result<(RegisteredModel, Vec<ModelVersion>)> {
    let name = opt_str(v, "name").ok_or_else(|| malformed("registered model", "no name"))?;
    let aliases = array(v, "aliases")
        .iter()
        .filter_map(|a| {
            let version = opt_i64(a, "version").and_then(|n| u64::try_from(n).ok())?;
            Some((opt_str(a, "alias")?, version))
        })
        .collect();
    let latest = array(v, "latest_versions")
        .iter()
        .map(model_version)
        .collect::<Result<Vec<_>>>()?;
    Ok((
        RegisteredModel {
            name,
            description: opt_str(v, "description").filter(|s| !s.is_empty()),
            creation_timestamp: opt_i64(v, "creation_timestamp"),
            last_updated_timestamp: opt_i64(v, "last_updated_timestamp"),
            tags: key_values_in(v, "tags"),
            aliases,
        },
        latest,
    ))
}

/// The entries of an artifact listing (`files`), paths as the server gave them.
pub(crate) fn file_infos(v: &Value) -> Vec<FileInfo> {
    array(v, "files")
        .iter()
        .filter_map(|f| {
            Some(FileInfo {
                path: opt_str(f, "path")?,
                is_dir: f.get("is_dir").and_then(Value::as_bool).unwrap_or(false),
                file_size: opt_i64(f, "file_size").and_then(|n| u64::try_from(n).ok()),
            })
        })
        .collect()
}

/// The items of a search answer under `field`, parsed, with `next_page_token`.
pub(crate) fn page<T>(
    v: &Value,
    field: &str,
    parse: impl Fn(&Value) -> Result<T>,
) -> Result<crate::api::Page<T>> {
    Ok(crate::api::Page {
        items: array(v, field)
            .iter()
            .map(parse)
            .collect::<Result<Vec<_>>>()?,
        next_page_token: opt_str(v, "next_page_token").filter(|t| !t.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_may_be_strings_and_doubles_not_finite() {
        let r = run(&json!({
            "info": {"run_uuid": "abc", "status": "FINISHED", "start_time": "12", "lifecycle_stage": "deleted"},
            "data": {"metrics": [{"key": "l", "value": "NaN", "timestamp": 1, "step": "3"},
                                 {"key": "m", "value": "-Infinity", "timestamp": 1, "step": 0}],
                     "params": [{"key": "p", "value": "1"}]},
            "outputs": {"model_outputs": [{"model_id": "m-1", "step": 0}]},
        }))
        .unwrap();
        assert_eq!(r.info.run_id, "abc");
        assert_eq!(r.info.status, RunStatus::Finished);
        assert_eq!(r.info.start_time, Some(12));
        assert_eq!(r.info.lifecycle_stage, LifecycleStage::Deleted);
        assert!(r.data.metrics["l"].value.is_nan());
        assert_eq!(r.data.metrics["l"].step, 3);
        assert_eq!(r.data.metrics["m"].value, f64::NEG_INFINITY);
        assert_eq!(r.model_outputs, vec!["m-1".to_string()]);
        assert_eq!(double_out(f64::INFINITY), json!("Infinity"));
    }

    #[test]
    fn registry_objects() {
        let (m, latest) = registered_model(&json!({
            "name": "iris",
            "aliases": [{"alias": "champion", "version": "2"}],
            "latest_versions": [{"name": "iris", "version": "2", "current_stage": "Production"}],
        }))
        .unwrap();
        assert_eq!(m.aliases.get("champion"), Some(&2));
        assert_eq!(latest[0].current_stage, Stage::Production);
        assert!(model_version(&json!({"name": "x"})).is_err());
    }
}
