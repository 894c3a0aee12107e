//! Encoding the store's objects as MLflow's JSON messages (proto field names, enums by name,
//! unset fields omitted, doubles that are not finite as `"NaN"`/`"Infinity"`/`"-Infinity"`).

use std::collections::BTreeMap;

use homeml_tracking::api::{LoggedMetric, LoggedModelInfo, RunInputs};
use homeml_tracking::{Experiment, FileInfo, ModelVersion, RegisteredModel, Run, RunInfo};
use serde_json::{json, Map, Value};

/// A double as protobuf's JSON writes it.
pub fn double(v: f64) -> Value {
    if v.is_nan() {
        Value::String("NaN".into())
    } else if v == f64::INFINITY {
        Value::String("Infinity".into())
    } else if v == f64::NEG_INFINITY {
        Value::String("-Infinity".into())
    } else {
        json!(v)
    }
}

/// `[{key, value}]`.
pub fn key_values(m: &BTreeMap<String, String>) -> Value {
    Value::Array(
        m.iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

fn put<T: Into<Value>>(o: &mut Map<String, Value>, key: &str, v: Option<T>) {
    if let Some(v) = v {
        o.insert(key.into(), v.into());
    }
}

/// An `Experiment`.
pub fn experiment(e: &Experiment) -> Value {
    let mut o = Map::new();
    o.insert("experiment_id".into(), json!(e.experiment_id));
    o.insert("name".into(), json!(e.name));
    o.insert("artifact_location".into(), json!(e.artifact_location));
    o.insert("lifecycle_stage".into(), json!(e.lifecycle_stage.as_str()));
    put(&mut o, "last_update_time", e.last_update_time);
    put(&mut o, "creation_time", e.creation_time);
    if !e.tags.is_empty() {
        o.insert("tags".into(), key_values(&e.tags));
    }
    // MLflow 3 answers the workspace even with workspaces off.
    o.insert("workspace".into(), json!("default"));
    Value::Object(o)
}

/// A `RunInfo`.
pub fn run_info(i: &RunInfo) -> Value {
    let mut o = Map::new();
    o.insert("run_id".into(), json!(i.run_id));
    o.insert("run_uuid".into(), json!(i.run_id));
    o.insert("run_name".into(), json!(i.run_name));
    o.insert("experiment_id".into(), json!(i.experiment_id));
    o.insert("user_id".into(), json!(i.user_id));
    o.insert("status".into(), json!(i.status.as_str()));
    put(&mut o, "start_time", i.start_time);
    put(&mut o, "end_time", i.end_time);
    o.insert("artifact_uri".into(), json!(i.artifact_uri));
    o.insert("lifecycle_stage".into(), json!(i.lifecycle_stage.as_str()));
    Value::Object(o)
}

/// A `Metric`.
pub fn metric(m: &LoggedMetric) -> Value {
    let mut o = Map::new();
    o.insert("key".into(), json!(m.key));
    o.insert("value".into(), double(m.value));
    o.insert("timestamp".into(), json!(m.timestamp));
    o.insert("step".into(), json!(m.step));
    put(&mut o, "run_id", m.run_id.clone());
    put(&mut o, "model_id", m.model_id.clone());
    put(&mut o, "dataset_name", m.dataset_name.clone());
    put(&mut o, "dataset_digest", m.dataset_digest.clone());
    Value::Object(o)
}

/// A `Run` (with its inputs, when read).
pub fn run(r: &Run, inputs: Option<&RunInputs>) -> Value {
    let metrics: Vec<Value> = r
        .data
        .metrics
        .iter()
        .map(|(k, v)| {
            metric(&LoggedMetric {
                key: k.clone(),
                value: v.value,
                timestamp: v.timestamp,
                step: v.step,
                model_id: None,
                dataset_name: v.dataset_name.clone(),
                dataset_digest: v.dataset_digest.clone(),
                run_id: Some(r.info.run_id.clone()),
            })
        })
        .collect();
    let mut data = Map::new();
    if !metrics.is_empty() {
        data.insert("metrics".into(), Value::Array(metrics));
    }
    if !r.data.params.is_empty() {
        data.insert("params".into(), key_values(&r.data.params));
    }
    if !r.data.tags.is_empty() {
        data.insert("tags".into(), key_values(&r.data.tags));
    }
    let mut out = json!({"info": run_info(&r.info), "data": data});
    let mut inp = Map::new();
    if let Some(inputs) = inputs {
        if !inputs.dataset_inputs.is_empty() {
            let ds: Vec<Value> = inputs
                .dataset_inputs
                .iter()
                .map(|d| {
                    let mut dataset = Map::new();
                    dataset.insert("name".into(), json!(d.dataset.name));
                    dataset.insert("digest".into(), json!(d.dataset.digest));
                    dataset.insert("source_type".into(), json!(d.dataset.source_type));
                    dataset.insert("source".into(), json!(d.dataset.source));
                    put(&mut dataset, "schema", d.dataset.schema.clone());
                    put(&mut dataset, "profile", d.dataset.profile.clone());
                    json!({"tags": key_values(&d.tags), "dataset": dataset})
                })
                .collect();
            inp.insert("dataset_inputs".into(), Value::Array(ds));
        }
        if !inputs.model_inputs.is_empty() {
            let ms: Vec<Value> = inputs
                .model_inputs
                .iter()
                .map(|m| json!({"model_id": m}))
                .collect();
            inp.insert("model_inputs".into(), Value::Array(ms));
        }
    }
    out["inputs"] = Value::Object(inp);
    out["outputs"] = if r.model_outputs.is_empty() {
        json!({})
    } else {
        let ms: Vec<Value> = r
            .model_outputs
            .iter()
            .map(|m| json!({"model_id": m, "step": 0}))
            .collect();
        json!({"model_outputs": ms})
    };
    out
}

/// A `LoggedModel`.
pub fn logged_model(m: &LoggedModelInfo) -> Value {
    let mut info = Map::new();
    info.insert("model_id".into(), json!(m.model_id));
    info.insert("experiment_id".into(), json!(m.experiment_id));
    info.insert("name".into(), json!(m.name));
    info.insert("artifact_uri".into(), json!(m.artifact_location));
    put(&mut info, "creation_timestamp_ms", m.creation_timestamp);
    put(
        &mut info,
        "last_updated_timestamp_ms",
        m.last_updated_timestamp,
    );
    info.insert(
        "model_type".into(),
        json!(m.model_type.clone().unwrap_or_default()),
    );
    put(&mut info, "source_run_id", m.source_run_id.clone());
    info.insert("status".into(), json!(m.status.as_str()));
    put(&mut info, "status_message", m.status_message.clone());
    if !m.tags.is_empty() {
        info.insert("tags".into(), key_values(&m.tags));
    }
    let mut data = Map::new();
    if !m.params.is_empty() {
        data.insert("params".into(), key_values(&m.params));
    }
    if !m.metrics.is_empty() {
        let metrics = m.metrics.iter().map(metric).collect();
        data.insert("metrics".into(), Value::Array(metrics));
    }
    json!({"info": info, "data": data})
}

/// A `ModelVersion` (version numbers are strings in MLflow's proto).
pub fn model_version(v: &ModelVersion) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), json!(v.name));
    o.insert("version".into(), json!(v.version.to_string()));
    put(&mut o, "creation_timestamp", v.creation_timestamp);
    put(&mut o, "last_updated_timestamp", v.last_updated_timestamp);
    o.insert("current_stage".into(), json!(v.current_stage.as_str()));
    o.insert(
        "description".into(),
        json!(v.description.clone().unwrap_or_default()),
    );
    o.insert("source".into(), json!(v.source));
    put(&mut o, "run_id", v.run_id.clone());
    // The file store does not keep run links (MLflow's writes null too): MLflow answers "".
    o.insert("run_link".into(), json!(""));
    o.insert("status".into(), json!(v.status));
    if !v.tags.is_empty() {
        o.insert("tags".into(), key_values(&v.tags));
    }
    if !v.aliases.is_empty() {
        o.insert("aliases".into(), json!(v.aliases));
    }
    put(&mut o, "model_id", v.model_id.clone());
    Value::Object(o)
}

/// A `RegisteredModel` with its latest versions.
pub fn registered_model(m: &RegisteredModel, latest: &[ModelVersion]) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), json!(m.name));
    put(&mut o, "creation_timestamp", m.creation_timestamp);
    put(&mut o, "last_updated_timestamp", m.last_updated_timestamp);
    put(&mut o, "description", m.description.clone());
    if !latest.is_empty() {
        o.insert(
            "latest_versions".into(),
            Value::Array(latest.iter().map(model_version).collect()),
        );
    }
    if !m.tags.is_empty() {
        o.insert("tags".into(), key_values(&m.tags));
    }
    if !m.aliases.is_empty() {
        let a: Vec<Value> = m
            .aliases
            .iter()
            .map(|(alias, v)| json!({"alias": alias, "version": v.to_string()}))
            .collect();
        o.insert("aliases".into(), Value::Array(a));
    }
    Value::Object(o)
}

/// A `FileInfo` with `path` as given.
pub fn file_info(path: &str, f: &FileInfo) -> Value {
    let mut o = Map::new();
    o.insert("path".into(), json!(path));
    o.insert("is_dir".into(), json!(f.is_dir));
    if !f.is_dir {
        put(&mut o, "file_size", f.file_size);
    }
    Value::Object(o)
}

/// `{field: [items], next_page_token}`, the shape of every search answer.
pub fn page(field: &str, items: Vec<Value>, next: Option<String>) -> Value {
    let mut o = Map::new();
    if !items.is_empty() {
        o.insert(field.into(), Value::Array(items));
    }
    put(&mut o, "next_page_token", next);
    Value::Object(o)
}
