//! `artifacts/list` of a run (the UI's artifact browser) and the blocking halves of the artifact
//! proxy (`/api/2.0/mlflow-artifacts/artifacts/...`): where a URI's files are, list, delete.

use std::sync::Arc;

use homeml_tracking::artifacts::{
    is_object_store_uri, safe_relative_path, ArtifactStore, LocalArtifactStore, ObjectArtifactStore,
};
use homeml_tracking::util::uri_to_path;
use serde_json::{json, Value};

use super::{empty, Ctx};
use crate::error::{ApiError, ErrorCode};
use crate::json;
use crate::request::Message;

/// The artifact store and the path in it of an artifact URI: `mlflow-artifacts:/<path>` is the
/// proxied store, `file://` a local folder, `s3://` / `gs://` / `az://` an object store.
pub fn resolve(c: &Ctx, uri: &str) -> Result<(Arc<dyn ArtifactStore>, String), ApiError> {
    if let Some(rest) = uri.strip_prefix("mlflow-artifacts:") {
        // `mlflow-artifacts:/x`, `mlflow-artifacts:///x` or `mlflow-artifacts://host:port/x`.
        let rest = match rest.strip_prefix("//") {
            Some(r) => r.split_once('/').map(|(_, p)| p).unwrap_or(""),
            None => rest,
        };
        let store = c.artifacts.clone().ok_or_else(|| {
            ApiError::invalid("this server does not serve artifacts (--serve-artifacts is off)")
        })?;
        return Ok((store, safe_relative_path(rest.trim_start_matches('/'))?));
    }
    // Artifacts a client wrote straight into an object store (`--default-artifact-root s3://...`).
    if is_object_store_uri(uri) {
        let store = ObjectArtifactStore::open(uri)?;
        return Ok((Arc::new(store), String::new()));
    }
    if let Some(path) = uri_to_path(uri).filter(|p| p.is_absolute()) {
        if !crate::validate::inside_local_roots(c, &path) {
            return Err(ApiError::invalid(format!(
                "artifacts at '{uri}' are outside this server's stores"
            )));
        }
        let path = path.to_string_lossy().into_owned();
        let store = LocalArtifactStore::open(&path)?;
        return Ok((Arc::new(store), String::new()));
    }
    Err(ApiError::invalid(format!(
        "artifacts at '{uri}' cannot be read by this server"
    )))
}

fn join(base: &str, rel: &str) -> String {
    match (base.is_empty(), rel.is_empty()) {
        (true, _) => rel.to_string(),
        (_, true) => base.to_string(),
        _ => format!("{base}/{rel}"),
    }
}

/// `artifacts/list`: entries under `path` of a run's artifacts, with run-relative paths.
pub fn list(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let run_id = m.req_str_any(&["run_id", "run_uuid"])?;
    let rel = safe_relative_path(&m.opt_str("path")?.unwrap_or_default())?;
    let info = c.store.get_run(&run_id)?.info;
    let (store, base) = resolve(c, &info.artifact_uri)?;
    let files: Vec<Value> = store
        .list(&join(&base, &rel))?
        .iter()
        .map(|f| {
            let name = f.path.rsplit('/').next().unwrap_or(&f.path);
            json::file_info(&join(&rel, name), f)
        })
        .collect();
    let mut out = json!({"root_uri": info.artifact_uri});
    if !files.is_empty() {
        out["files"] = Value::Array(files);
    }
    Ok(out)
}

/// The proxy's listing (`GET mlflow-artifacts/artifacts?path=DIR`): base names, `{}` when empty.
pub fn proxy_list(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let store = c
        .artifacts
        .clone()
        .ok_or_else(|| ApiError::new(ErrorCode::EndpointNotFound, "artifacts are not served"))?;
    let dir = safe_relative_path(&m.opt_str("path")?.unwrap_or_default())?;
    let files: Vec<Value> = store
        .list(&dir)?
        .iter()
        .map(|f| json::file_info(f.path.rsplit('/').next().unwrap_or(&f.path), f))
        .collect();
    if files.is_empty() {
        return Ok(empty());
    }
    Ok(json!({"files": files}))
}
