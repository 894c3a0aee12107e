//! How the file store's objects answer the keys of a search filter ([`Searchable`]).

use std::borrow::Cow;

use crate::api::LoggedModelInfo;
use crate::entities::{Experiment, ModelVersion, RegisteredModel, Run};
use crate::search::eval::{Searchable, Value};
use crate::search::KeyType;

fn s(v: &str) -> Option<Value<'_>> {
    Some(Value::Str(Cow::Borrowed(v)))
}

fn n(v: Option<i64>) -> Option<Value<'static>> {
    v.map(|x| Value::Num(x as f64))
}

/// A run with its inputs' (name, digest, context) for `datasets.*` clauses, and its folder's index
/// in the listing it came from.
pub(crate) struct RunRow {
    pub(crate) run: Run,
    pub(crate) datasets: Vec<(String, String, String)>,
    pub(crate) folder: usize,
}

impl Searchable for RunRow {
    fn value(&self, key_type: KeyType, key: &str) -> Option<Value<'_>> {
        let r = &self.run;
        match key_type {
            KeyType::Metric => r.data.metrics.get(key).map(|m| Value::Num(m.value)),
            KeyType::Param => r.data.params.get(key).and_then(|v| s(v)),
            KeyType::Tag => r.data.tags.get(key).and_then(|v| s(v)),
            KeyType::Dataset => None,
            KeyType::Attribute => match key {
                "run_id" => s(&r.info.run_id),
                "run_name" => s(&r.info.run_name),
                "status" => s(r.info.status.as_str()),
                "user_id" => s(&r.info.user_id),
                "artifact_uri" => s(&r.info.artifact_uri),
                "lifecycle_stage" => s(r.info.lifecycle_stage.as_str()),
                "experiment_id" => s(&r.info.experiment_id),
                "start_time" => n(r.info.start_time),
                "end_time" => n(r.info.end_time),
                _ => None,
            },
        }
    }

    fn dataset_values(&self, key: &str) -> Vec<String> {
        self.datasets
            .iter()
            .map(|(name, digest, context)| match key {
                "name" => name.clone(),
                "digest" => digest.clone(),
                _ => context.clone(),
            })
            .collect()
    }
}

impl Searchable for Experiment {
    fn value(&self, key_type: KeyType, key: &str) -> Option<Value<'_>> {
        match key_type {
            KeyType::Tag => self.tags.get(key).and_then(|v| s(v)),
            KeyType::Attribute => match key {
                "name" => s(&self.name),
                "experiment_id" => s(&self.experiment_id),
                "lifecycle_stage" => s(self.lifecycle_stage.as_str()),
                "artifact_location" => s(&self.artifact_location),
                "creation_time" => n(self.creation_time),
                "last_update_time" => n(self.last_update_time),
                _ => None,
            },
            _ => None,
        }
    }
}

impl Searchable for RegisteredModel {
    fn value(&self, key_type: KeyType, key: &str) -> Option<Value<'_>> {
        match key_type {
            KeyType::Tag => self.tags.get(key).and_then(|v| s(v)),
            KeyType::Attribute => match key {
                "name" => s(&self.name),
                "description" => self.description.as_deref().and_then(s),
                "creation_timestamp" => n(self.creation_timestamp),
                "last_updated_timestamp" => n(self.last_updated_timestamp),
                _ => None,
            },
            _ => None,
        }
    }
}

impl Searchable for ModelVersion {
    fn value(&self, key_type: KeyType, key: &str) -> Option<Value<'_>> {
        match key_type {
            KeyType::Tag => self.tags.get(key).and_then(|v| s(v)),
            KeyType::Attribute => match key {
                "name" => s(&self.name),
                "run_id" => self.run_id.as_deref().and_then(s),
                "source" => s(&self.source),
                "model_id" => self.model_id.as_deref().and_then(s),
                "current_stage" => s(self.current_stage.as_str()),
                "description" => self.description.as_deref().and_then(s),
                "version" => Some(Value::Num(self.version as f64)),
                "creation_timestamp" => n(self.creation_timestamp),
                "last_updated_timestamp" => n(self.last_updated_timestamp),
                _ => None,
            },
            _ => None,
        }
    }
}

impl Searchable for LoggedModelInfo {
    fn value(&self, key_type: KeyType, key: &str) -> Option<Value<'_>> {
        match key_type {
            KeyType::Tag => self.tags.get(key).and_then(|v| s(v)),
            KeyType::Param => self.params.get(key).and_then(|v| s(v)),
            KeyType::Attribute => match key {
                "name" => s(&self.name),
                "model_id" => s(&self.model_id),
                "experiment_id" => s(&self.experiment_id),
                "source_run_id" => self.source_run_id.as_deref().and_then(s),
                "status" => s(self.status.as_str()),
                "model_type" => self.model_type.as_deref().and_then(s),
                "creation_timestamp" => n(self.creation_timestamp),
                "last_updated_timestamp" => n(self.last_updated_timestamp),
                _ => None,
            },
            _ => None,
        }
    }
}
