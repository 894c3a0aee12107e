//! The handlers of MLflow's proto endpoints, one module per entity family. Each is a plain function
//! from the decoded message to the JSON answer, run on a blocking thread by the router.

pub mod artifacts;
pub mod experiments;
pub mod logged_models;
pub mod multipart;
pub mod registry;
pub mod runs;
pub mod ui_data;

use std::sync::Arc;

use homeml_tracking::artifacts::ArtifactStore;
use homeml_tracking::{TrackingStore, ViewType};
use serde_json::Value;

use crate::error::ApiError;
use crate::request::Message;

/// What every handler works with (the server keeps no other state).
#[derive(Clone)]
pub struct Ctx {
    /// The tracking store.
    pub store: Arc<dyn TrackingStore>,
    /// The artifact store behind `mlflow-artifacts:/` (when artifacts are served).
    pub artifacts: Option<Arc<dyn ArtifactStore>>,
    /// The local folders the server may read artifacts from (its stores); a local artifact
    /// location elsewhere is refused.
    pub local_roots: Vec<std::path::PathBuf>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("store", &self.store.store_type())
            .field("serve_artifacts", &self.artifacts.is_some())
            .finish()
    }
}

/// A proto endpoint's handler.
pub type Handler = fn(&Ctx, &Message) -> Result<Value, ApiError>;

/// `{}`.
pub fn empty() -> Value {
    Value::Object(Default::default())
}

/// A view type by MLflow's name (`ACTIVE_ONLY` when absent).
pub fn view_type(m: &Message, key: &str) -> Result<ViewType, ApiError> {
    Ok(match m.opt_str(key)?.as_deref() {
        None | Some("") | Some("ACTIVE_ONLY") | Some("1") => ViewType::ActiveOnly,
        Some("DELETED_ONLY") | Some("2") => ViewType::DeletedOnly,
        Some("ALL") | Some("3") => ViewType::All,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Invalid value '{other}' for parameter '{key}': expected ACTIVE_ONLY, DELETED_ONLY or ALL"
            )))
        }
    })
}

/// `max_results` with a default; must be positive.
pub fn max_results(m: &Message, default: usize) -> Result<usize, ApiError> {
    match m.opt_i64("max_results")? {
        None => Ok(default),
        Some(n) if n > 0 => Ok(n as usize),
        Some(n) => Err(ApiError::invalid(format!(
            "Invalid value {n} for parameter 'max_results' supplied. It must be a positive integer"
        ))),
    }
}

/// order_by entries (repeated strings).
pub fn order_by(m: &Message) -> Result<Vec<String>, ApiError> {
    m.strings("order_by")
}
