//! The objects of the store: experiments, runs, metrics, logged models, registered models, versions.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;

use crate::error::TrackingError;

/// Whether an object is active or (soft-)deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleStage {
    /// Live.
    Active,
    /// Deleted (restorable).
    Deleted,
}

impl LifecycleStage {
    /// The string MLflow writes.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::Active => "active",
            LifecycleStage::Deleted => "deleted",
        }
    }

    pub(crate) fn parse(s: Option<&str>) -> LifecycleStage {
        match s {
            Some("deleted") => LifecycleStage::Deleted,
            _ => LifecycleStage::Active,
        }
    }
}

/// Which objects a listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewType {
    /// Only active objects.
    #[default]
    ActiveOnly,
    /// Only deleted objects.
    DeletedOnly,
    /// Both.
    All,
}

impl ViewType {
    pub(crate) fn admits(self, stage: LifecycleStage) -> bool {
        match self {
            ViewType::ActiveOnly => stage == LifecycleStage::Active,
            ViewType::DeletedOnly => stage == LifecycleStage::Deleted,
            ViewType::All => true,
        }
    }
}

/// An experiment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Experiment {
    /// Its id (a string of digits for MLflow-made experiments).
    pub experiment_id: String,
    /// Its unique name.
    pub name: String,
    /// Where its runs keep artifacts (`file://` URI).
    pub artifact_location: String,
    /// Active or deleted.
    pub lifecycle_stage: LifecycleStage,
    /// Milliseconds since the epoch.
    pub creation_time: Option<i64>,
    /// Milliseconds since the epoch.
    pub last_update_time: Option<i64>,
    /// Experiment tags.
    pub tags: BTreeMap<String, String>,
}

/// A run's status, with MLflow's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// 1.
    Running,
    /// 2.
    Scheduled,
    /// 3.
    Finished,
    /// 4.
    Failed,
    /// 5.
    Killed,
}

impl RunStatus {
    /// MLflow's number for the status in `meta.yaml`.
    pub fn code(self) -> i64 {
        match self {
            RunStatus::Running => 1,
            RunStatus::Scheduled => 2,
            RunStatus::Finished => 3,
            RunStatus::Failed => 4,
            RunStatus::Killed => 5,
        }
    }

    /// The status for an MLflow number.
    pub fn from_code(code: i64) -> Option<RunStatus> {
        Some(match code {
            1 => RunStatus::Running,
            2 => RunStatus::Scheduled,
            3 => RunStatus::Finished,
            4 => RunStatus::Failed,
            5 => RunStatus::Killed,
            _ => return None,
        })
    }

    /// `RUNNING`, `FINISHED`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    /// Whether the run is over.
    pub fn is_terminated(self) -> bool {
        matches!(
            self,
            RunStatus::Finished | RunStatus::Failed | RunStatus::Killed
        )
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = TrackingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "RUNNING" => RunStatus::Running,
            "SCHEDULED" => RunStatus::Scheduled,
            "FINISHED" => RunStatus::Finished,
            "FAILED" => RunStatus::Failed,
            "KILLED" => RunStatus::Killed,
            _ => {
                return Err(TrackingError::InvalidValue {
                    what: "run status",
                    reason: format!("'{s}' is not RUNNING, SCHEDULED, FINISHED, FAILED or KILLED"),
                })
            }
        })
    }
}

/// Options of [`crate::Store::start_run`].
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The run name (`mlflow.runName`); a random `adjective-animal-N` when `None`.
    pub name: Option<String>,
    /// Extra tags.
    pub tags: BTreeMap<String, String>,
    /// The parent run for a nested run (`mlflow.parentRunId`).
    pub parent_run_id: Option<String>,
}

/// A run's metadata (its `meta.yaml`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    /// 32 hex digits.
    pub run_id: String,
    /// The run name.
    pub run_name: String,
    /// The experiment.
    pub experiment_id: String,
    /// Who ran it.
    pub user_id: String,
    /// Its status.
    pub status: RunStatus,
    /// Milliseconds since the epoch.
    pub start_time: Option<i64>,
    /// Milliseconds since the epoch, once ended.
    pub end_time: Option<i64>,
    /// `file://` URI of the run's artifact folder.
    pub artifact_uri: String,
    /// Active or deleted.
    pub lifecycle_stage: LifecycleStage,
    /// When it was deleted.
    pub deleted_time: Option<i64>,
}

/// One logged metric value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricValue {
    /// The value (NaN and infinities are legal).
    pub value: f64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// The step.
    pub step: i64,
    /// The dataset it was computed on (MLflow 3's `log_metric(..., dataset=)`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset_name: Option<String>,
    /// That dataset's digest (set together with `dataset_name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset_digest: Option<String>,
}

impl MetricValue {
    /// A value without a dataset.
    pub fn new(value: f64, timestamp: i64, step: i64) -> MetricValue {
        MetricValue {
            value,
            timestamp,
            step,
            dataset_name: None,
            dataset_digest: None,
        }
    }
}

/// A run's params, metrics (latest values) and tags.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunData {
    /// Latest value of each metric: the highest (step, timestamp, value), as MLflow picks it.
    pub metrics: BTreeMap<String, MetricValue>,
    /// Params.
    pub params: BTreeMap<String, String>,
    /// Tags (including `mlflow.*` system tags).
    pub tags: BTreeMap<String, String>,
}

/// A run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    /// Its metadata.
    pub info: RunInfo,
    /// Its data.
    pub data: RunData,
    /// Ids of the logged models it produced (MLflow 3 `outputs/`).
    pub model_outputs: Vec<String>,
}

impl Run {
    /// The run id.
    pub fn id(&self) -> &str {
        &self.info.run_id
    }

    /// The parent run (`mlflow.parentRunId`), for a nested run.
    pub fn parent_run_id(&self) -> Option<&str> {
        self.data.tags.get("mlflow.parentRunId").map(String::as_str)
    }
}

/// A file or folder in a run's artifacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileInfo {
    /// Path relative to the artifact root, `/`-separated.
    pub path: String,
    /// Whether it is a folder.
    pub is_dir: bool,
    /// Size in bytes, for files.
    pub file_size: Option<u64>,
}

/// Options of [`crate::Store::log_model`].
#[derive(Debug, Clone, Default)]
pub struct LogModelOptions {
    /// Register the logged model under this name (creating the registered model if needed).
    pub register_as: Option<String>,
}

/// A model logged with [`crate::Store::log_model`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedModel {
    /// `m-<32 hex>`.
    pub model_id: String,
    /// The name given at logging (the artifact path).
    pub name: String,
    /// The experiment.
    pub experiment_id: String,
    /// The run that logged it.
    pub run_id: Option<String>,
    /// The model directory (holds `MLmodel`).
    pub artifact_dir: PathBuf,
    /// `file://` URI of `artifact_dir`.
    pub artifact_location: String,
    /// The registered model name, when registered.
    pub registered_name: Option<String>,
    /// The registered version, when registered.
    pub registered_version: Option<u64>,
}

impl LoggedModel {
    /// `models:/<model_id>`.
    pub fn model_uri(&self) -> String {
        format!("models:/{}", self.model_id)
    }
}

/// A model version's stage (deprecated in MLflow, still supported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Stage {
    /// `None`.
    None,
    /// `Staging`.
    Staging,
    /// `Production`.
    Production,
    /// `Archived`.
    Archived,
}

impl Stage {
    /// The string MLflow writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::None => "None",
            Stage::Staging => "Staging",
            Stage::Production => "Production",
            Stage::Archived => "Archived",
        }
    }

    /// Parses a stage name case-insensitively.
    pub fn parse(s: &str) -> Option<Stage> {
        Some(match s.to_ascii_lowercase().as_str() {
            "none" => Stage::None,
            "staging" => Stage::Staging,
            "production" => Stage::Production,
            "archived" => Stage::Archived,
            _ => return None,
        })
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = TrackingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::parse(s).ok_or_else(|| TrackingError::InvalidValue {
            what: "stage",
            reason: format!("'{s}' is not None, Staging, Production or Archived"),
        })
    }
}

/// A registered model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegisteredModel {
    /// Its unique name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Milliseconds since the epoch.
    pub creation_timestamp: Option<i64>,
    /// Milliseconds since the epoch.
    pub last_updated_timestamp: Option<i64>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Alias -> version.
    pub aliases: BTreeMap<String, u64>,
}

/// A version of a registered model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersion {
    /// The registered model.
    pub name: String,
    /// The version number (from 1).
    pub version: u64,
    /// The source URI given at creation (`models:/m-..`, `runs:/..`, a path).
    pub source: String,
    /// The run that produced it.
    pub run_id: Option<String>,
    /// The logged model (MLflow 3).
    pub model_id: Option<String>,
    /// Where the model directory is (`file://` URI).
    pub storage_location: Option<String>,
    /// `None`, `Staging`, `Production`, `Archived`.
    pub current_stage: Stage,
    /// Its description.
    pub description: Option<String>,
    /// `READY`.
    pub status: String,
    /// Milliseconds since the epoch.
    pub creation_timestamp: Option<i64>,
    /// Milliseconds since the epoch.
    pub last_updated_timestamp: Option<i64>,
    /// Version tags.
    pub tags: BTreeMap<String, String>,
    /// Aliases pointing at this version.
    pub aliases: Vec<String>,
}

/// A model URI resolved to a local model directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedModel {
    /// The folder holding `MLmodel`.
    pub path: PathBuf,
    /// The registered model, for `models:/<name>/..` URIs.
    pub registered_name: Option<String>,
    /// The registered version, for `models:/<name>/..` URIs.
    pub version: Option<u64>,
    /// The run that logged the model, when known.
    pub run_id: Option<String>,
    /// The logged model id (MLflow 3), when known.
    pub model_id: Option<String>,
}
