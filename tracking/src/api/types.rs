//! The request and response entities of [`super::TrackingStore`], close to MLflow's
//! `AbstractStore` and registry store arguments (the objects themselves are in [`crate::entities`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::entities::{LifecycleStage, RunStatus, ViewType};
use crate::error::TrackingError;

/// One page of a search, with the token of the next page when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Opaque token of the next page (`None` on the last page).
    pub next_page_token: Option<String>,
}

/// `experiments/create`.
#[derive(Debug, Clone, Default)]
pub struct CreateExperiment {
    /// The unique name.
    pub name: String,
    /// Where runs keep artifacts; the store's default artifact root + `/<id>` when `None`.
    pub artifact_location: Option<String>,
    /// Initial tags.
    pub tags: BTreeMap<String, String>,
}

/// `experiments/search`.
#[derive(Debug, Clone)]
pub struct SearchExperiments {
    /// Filter string (MLflow grammar, experiments dialect).
    pub filter: Option<String>,
    /// order_by entries (`name`, `last_update_time DESC`, ...).
    pub order_by: Vec<String>,
    /// Page size.
    pub max_results: usize,
    /// Token from a previous page.
    pub page_token: Option<String>,
    /// Active, deleted or both.
    pub view: ViewType,
}

/// `runs/create`.
#[derive(Debug, Clone, Default)]
pub struct CreateRun {
    /// The experiment (`0` when empty).
    pub experiment_id: String,
    /// Who runs it.
    pub user_id: Option<String>,
    /// The run name; from the `mlflow.runName` tag, else generated, when `None`.
    pub run_name: Option<String>,
    /// Epoch ms; now when `None`.
    pub start_time: Option<i64>,
    /// Tags as the client sends them (its system tags included).
    pub tags: BTreeMap<String, String>,
}

/// `runs/update`.
#[derive(Debug, Clone, Default)]
pub struct UpdateRun {
    /// The run.
    pub run_id: String,
    /// New status.
    pub status: Option<RunStatus>,
    /// End time, epoch ms.
    pub end_time: Option<i64>,
    /// New name (also sets `mlflow.runName`).
    pub run_name: Option<String>,
}

/// `runs/search`.
#[derive(Debug, Clone)]
pub struct SearchRuns {
    /// The experiments searched.
    pub experiment_ids: Vec<String>,
    /// Filter string (MLflow grammar, runs dialect).
    pub filter: Option<String>,
    /// Active, deleted or both.
    pub view: ViewType,
    /// Page size.
    pub max_results: usize,
    /// order_by entries.
    pub order_by: Vec<String>,
    /// Token from a previous page.
    pub page_token: Option<String>,
}

/// One metric value as logged over the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedMetric {
    /// The key.
    pub key: String,
    /// The value (NaN and infinities are legal).
    pub value: f64,
    /// Epoch ms.
    pub timestamp: i64,
    /// Step.
    pub step: i64,
    /// The logged model this value belongs to (MLflow 3), if any.
    pub model_id: Option<String>,
    /// The dataset it was computed on, if any.
    pub dataset_name: Option<String>,
    /// That dataset's digest.
    pub dataset_digest: Option<String>,
    /// The run (filled in histories).
    pub run_id: Option<String>,
}

/// `runs/log-batch`: validated whole before anything is written.
#[derive(Debug, Clone, Default)]
pub struct LogBatch {
    /// Metric values.
    pub metrics: Vec<LoggedMetric>,
    /// Params (write-once).
    pub params: Vec<(String, String)>,
    /// Tags.
    pub tags: Vec<(String, String)>,
}

/// A dataset as MLflow describes it.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Dataset {
    /// Name.
    pub name: String,
    /// Digest (a hash of the data).
    pub digest: String,
    /// `local`, `http`, `code`, ...
    pub source_type: String,
    /// The source, JSON as a string.
    pub source: String,
    /// The schema, JSON as a string.
    pub schema: Option<String>,
    /// The profile, JSON as a string.
    pub profile: Option<String>,
}

/// A dataset used by a run, with the input's tags (`mlflow.data.context`).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DatasetInput {
    /// The dataset.
    pub dataset: Dataset,
    /// Tags of the input.
    pub tags: BTreeMap<String, String>,
}

/// A run's inputs.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RunInputs {
    /// Datasets.
    pub dataset_inputs: Vec<DatasetInput>,
    /// Logged models used as inputs (their ids).
    pub model_inputs: Vec<String>,
}

/// A logged model a run produced, at a step (`runs/outputs`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelOutput {
    /// `m-<32 hex>`.
    pub model_id: String,
    /// The step.
    pub step: i64,
}

/// An MLflow 3 logged model's status, with MLflow's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LoggedModelStatus {
    /// 0.
    Unspecified,
    /// 1: created, artifacts being uploaded.
    Pending,
    /// 2: finalized.
    Ready,
    /// 3: the upload failed.
    Failed,
}

impl LoggedModelStatus {
    /// MLflow's number (the file store's `status`).
    pub fn code(self) -> i64 {
        match self {
            LoggedModelStatus::Unspecified => 0,
            LoggedModelStatus::Pending => 1,
            LoggedModelStatus::Ready => 2,
            LoggedModelStatus::Failed => 3,
        }
    }

    /// The status of an MLflow number.
    pub fn from_code(code: i64) -> Option<LoggedModelStatus> {
        Some(match code {
            0 => LoggedModelStatus::Unspecified,
            1 => LoggedModelStatus::Pending,
            2 => LoggedModelStatus::Ready,
            3 => LoggedModelStatus::Failed,
            _ => return None,
        })
    }

    /// The proto name: `LOGGED_MODEL_READY`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            LoggedModelStatus::Unspecified => "LOGGED_MODEL_STATUS_UNSPECIFIED",
            LoggedModelStatus::Pending => "LOGGED_MODEL_PENDING",
            LoggedModelStatus::Ready => "LOGGED_MODEL_READY",
            LoggedModelStatus::Failed => "LOGGED_MODEL_UPLOAD_FAILED",
        }
    }

    /// Parses a proto name (or a number as a string).
    pub fn parse(s: &str) -> Result<LoggedModelStatus, TrackingError> {
        Ok(match s {
            "LOGGED_MODEL_STATUS_UNSPECIFIED" => LoggedModelStatus::Unspecified,
            "LOGGED_MODEL_PENDING" => LoggedModelStatus::Pending,
            "LOGGED_MODEL_READY" => LoggedModelStatus::Ready,
            "LOGGED_MODEL_UPLOAD_FAILED" => LoggedModelStatus::Failed,
            other => match other.parse::<i64>().ok().and_then(Self::from_code) {
                Some(s) => s,
                None => {
                    return Err(TrackingError::InvalidValue {
                        what: "logged model status",
                        reason: format!("'{other}' is not a LoggedModelStatus"),
                    })
                }
            },
        })
    }
}

impl fmt::Display for LoggedModelStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An MLflow 3 logged model as the API sees it (its artifacts may live anywhere).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedModelInfo {
    /// `m-<32 hex>`.
    pub model_id: String,
    /// The experiment.
    pub experiment_id: String,
    /// Its name (the `name=` of `log_model`).
    pub name: String,
    /// Where its files are (`mlflow-artifacts:/<exp>/models/<id>/artifacts`, `file://...`).
    pub artifact_location: String,
    /// Epoch ms.
    pub creation_timestamp: Option<i64>,
    /// Epoch ms.
    pub last_updated_timestamp: Option<i64>,
    /// The run that logged it.
    pub source_run_id: Option<String>,
    /// Pending until finalized.
    pub status: LoggedModelStatus,
    /// Why it failed, when it did.
    pub status_message: Option<String>,
    /// Free-form type (`agent`, ...).
    pub model_type: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Params.
    pub params: BTreeMap<String, String>,
    /// Metrics logged with this model's id: the latest value of each key and dataset.
    pub metrics: Vec<LoggedMetric>,
    /// Active or deleted.
    pub lifecycle_stage: LifecycleStage,
}

/// `logged-models` (create).
#[derive(Debug, Clone, Default)]
pub struct CreateLoggedModel {
    /// The experiment.
    pub experiment_id: String,
    /// Its name; generated when `None`.
    pub name: Option<String>,
    /// Free-form type.
    pub model_type: Option<String>,
    /// The run that logs it.
    pub source_run_id: Option<String>,
    /// Params.
    pub params: BTreeMap<String, String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// One order_by entry of `logged-models/search`.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedModelOrder {
    /// `creation_timestamp`, `name`, `metrics.<key>`, ...
    pub field_name: String,
    /// Ascending (default) or descending.
    pub ascending: bool,
}

/// `logged-models/search`.
#[derive(Debug, Clone, Default)]
pub struct SearchLoggedModels {
    /// The experiments searched.
    pub experiment_ids: Vec<String>,
    /// Filter string (logged models dialect).
    pub filter: Option<String>,
    /// Ordering.
    pub order_by: Vec<LoggedModelOrder>,
    /// Page size.
    pub max_results: usize,
    /// Token from a previous page.
    pub page_token: Option<String>,
}

/// `registered-models/create`.
#[derive(Debug, Clone, Default)]
pub struct CreateRegisteredModel {
    /// The unique name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// `registered-models/search` and `model-versions/search`.
#[derive(Debug, Clone, Default)]
pub struct SearchRegistry {
    /// Filter string (registered models or model versions dialect).
    pub filter: Option<String>,
    /// order_by entries.
    pub order_by: Vec<String>,
    /// Page size.
    pub max_results: usize,
    /// Token from a previous page.
    pub page_token: Option<String>,
}

/// `model-versions/create`.
#[derive(Debug, Clone, Default)]
pub struct CreateModelVersion {
    /// The registered model.
    pub name: String,
    /// Source URI (`models:/m-..`, `runs:/..`, `mlflow-artifacts:/..`, a path).
    pub source: String,
    /// The run that produced it.
    pub run_id: Option<String>,
    /// The logged model (MLflow 3).
    pub model_id: Option<String>,
    /// A link to the run.
    pub run_link: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}
