//! MLflow-compatible file store and model registry.
//!
//! `homeml-tracking` reads and writes MLflow's `mlruns/` folder format (MLflow 3.x, and MLflow 2.x
//! trees for reading): experiments, runs, params, metrics, tags, artifacts, MLflow 3 logged models,
//! and the model registry with versions, stages and aliases. Python MLflow (with
//! `MLFLOW_ALLOW_FILE_STORE=true`) and the MLflow UI read what this crate writes, and this crate reads
//! what they write. For `http(s)://` tracking URIs, [`rest::RestStore`] is the same
//! [`TrackingStore`] over an MLflow tracking server (`homeml server` or `mlflow server`), and
//! [`Tracking`] opens either from one URI for programs that log (training code, the CLI).
//! [`SqlStore`] is the same trait on a SQLite or PostgreSQL database with MLflow's own schema
//! (`sqlite:///path.db`, `postgresql://user:pass@host:port/db`), shared with real `mlflow server`.
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! use homeml_tracking::{LogModelOptions, RunOptions, RunStatus, Store};
//!
//! # fn main() -> Result<(), homeml_tracking::TrackingError> {
//! // A path or a file:// URI; Store::from_env() honours MLFLOW_TRACKING_URI (default ./mlruns).
//! let store = Store::open("mlruns")?;
//! let exp = store.get_or_create_experiment("iris")?;
//! let run = store.start_run(&exp, RunOptions { name: Some("logreg".into()), ..Default::default() })?;
//!
//! store.log_param(run.id(), "C", "1.0")?;
//! for (step, loss) in [0.9, 0.5, 0.3].into_iter().enumerate() {
//!     store.log_metric(run.id(), "loss", loss, step as i64, None)?;
//! }
//!
//! // A folder with an MLmodel, written by a flavor (e.g. homeml-onnx); logged in MLflow 3's layout
//! // and registered as the next version of "iris".
//! let logged = store.log_model(
//!     run.id(),
//!     "model",
//!     std::path::Path::new("target/iris-model"),
//!     LogModelOptions { register_as: Some("iris".into()) },
//! )?;
//! let version = logged.registered_version.unwrap_or(1);
//! store.set_alias("iris", "champion", version)?;
//! store.end_run(run.id(), RunStatus::Finished)?;
//!
//! // What `homeml serve -m models:/iris@champion` loads:
//! let resolved = store.resolve_model_uri("models:/iris@champion")?;
//! println!("{}", resolved.path.display());
//! # let _ = BTreeMap::<String, String>::new();
//! # Ok(())
//! # }
//! ```
//!
//! Safety under concurrency and crashes: meta files are replaced whole (temporary file + rename),
//! metric lines are appended with one `O_APPEND` write each, runs and logged models appear by one
//! rename of a fully built folder, and registry version numbers are claimed under a lock file with
//! `mkdir`. Names that would escape the store (`/`, `..` where MLflow refuses them) are refused with
//! typed errors naming the object and file.

#![warn(missing_docs)]

pub mod api;
pub mod artifacts;
mod client;
pub mod entities;
pub mod error;
mod experiments;
mod file_store;
mod fsx;
mod meta;
pub mod metrics;
mod models;
pub mod names;
pub mod registry;
pub mod rest;
mod run_logging;
mod runs;
pub mod search;
pub mod sql;
mod store;
mod uri;
pub mod util;

pub use api::TrackingStore;
pub use client::Tracking;
pub use entities::{
    Experiment, FileInfo, LifecycleStage, LogModelOptions, LoggedModel, MetricValue, ModelVersion,
    RegisteredModel, ResolvedModel, Run, RunData, RunInfo, RunOptions, RunStatus, Stage, ViewType,
};
pub use error::TrackingError;
pub use experiments::DEFAULT_EXPERIMENT_ID;
pub use metrics::Metric;
pub use models::MLFLOW_VERSION;
pub use registry::ModelVersionOptions;
pub use rest::RestStore;
pub use runs::{
    TAG_GIT_BRANCH, TAG_GIT_COMMIT, TAG_GIT_REPO_URL, TAG_PARENT_RUN_ID, TAG_RUN_NAME,
    TAG_SOURCE_NAME, TAG_SOURCE_TYPE, TAG_USER,
};
pub use sql::SqlStore;
pub use store::Store;
