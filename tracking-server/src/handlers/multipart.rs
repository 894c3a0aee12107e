//! The artifact proxy's multipart endpoints (`POST mlflow-artifacts/mpu/{create,complete,abort}/<path>`,
//! `GET mlflow-artifacts/presigned/<path>`), which the mlflow client calls with
//! `MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true` (or when server-info advertises multipart) for files
//! of at least `MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE`.
//!
//! `mlflow server` 3.17.2 with a local `--artifacts-destination` refuses them after checking the
//! path and the request: 501 NOT_IMPLEMENTED "Multipart upload is not supported for the current
//! artifact repository", a message the client recognises and answers by uploading the file with
//! one PUT. The destinations of this server are local folders, so it answers the same.

use homeml_tracking::artifacts::safe_relative_path;
use serde_json::Value;

use super::Ctx;
use crate::error::{ApiError, ErrorCode};
use crate::request::Message;

/// MLflow's words (`_UnsupportedMultipartUploadException.MESSAGE`); the client matches their start.
pub const UPLOAD_UNSUPPORTED: &str =
    "Multipart upload is not supported for the current artifact repository";
/// MLflow's words (`_UnsupportedMultipartDownloadException.MESSAGE`).
pub const DOWNLOAD_UNSUPPORTED: &str =
    "Multipart download is not supported for the current artifact repository";

/// The path after the endpoint, refused in MLflow's words (`validate_path_is_safe`).
fn artifact_path(m: &Message) -> Result<String, ApiError> {
    safe_relative_path(&m.req_str("artifact_path")?).map_err(|_| ApiError::invalid("Invalid path"))
}

fn unsupported(message: &str) -> ApiError {
    ApiError::new(ErrorCode::NotImplemented, message)
}

/// `mpu/create`: `path` (required), `num_parts` (an integer).
pub fn create(_c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    artifact_path(m)?;
    m.req_str("path")?;
    m.opt_i64("num_parts")?;
    Err(unsupported(UPLOAD_UNSUPPORTED))
}

/// `mpu/complete`: `path` and `parts` (required), `upload_id`.
pub fn complete(_c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    artifact_path(m)?;
    m.req_str("path")?;
    m.opt_str("upload_id")?;
    if m.object_or_list_absent("parts") {
        return Err(ApiError::missing("parts"));
    }
    m.objects("parts")?;
    Err(unsupported(UPLOAD_UNSUPPORTED))
}

/// `mpu/abort`: `path` (required), `upload_id`.
pub fn abort(_c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    artifact_path(m)?;
    m.req_str("path")?;
    m.opt_str("upload_id")?;
    Err(unsupported(UPLOAD_UNSUPPORTED))
}

/// `GET presigned/<path>`: a presigned download URL, which local destinations do not have.
pub fn presigned(_c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    artifact_path(m)?;
    Err(unsupported(DOWNLOAD_UNSUPPORTED))
}
