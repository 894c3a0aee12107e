//! The one error type of the API, mapped to MLflow's `{"error_code", "message"}` and HTTP status in
//! one place ([`ApiError::status`]).

use homeml_tracking::TrackingError;
use hyper::StatusCode;

/// MLflow's error codes (databricks_pb2.ErrorCode names) this server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 404.
    ResourceDoesNotExist,
    /// 400.
    ResourceAlreadyExists,
    /// 400.
    InvalidParameterValue,
    /// 400.
    BadRequest,
    /// 404.
    EndpointNotFound,
    /// 413 (MLflow has no code of its own for it).
    RequestTooLarge,
    /// 405.
    MethodNotAllowed,
    /// 401.
    Unauthenticated,
    /// 403.
    PermissionDenied,
    /// 500.
    InternalError,
    /// 503: the store's database is unreachable or busy for now.
    TemporarilyUnavailable,
    /// 501.
    NotImplemented,
}

impl ErrorCode {
    /// The name MLflow sends.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ResourceDoesNotExist => "RESOURCE_DOES_NOT_EXIST",
            ErrorCode::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            ErrorCode::InvalidParameterValue => "INVALID_PARAMETER_VALUE",
            ErrorCode::BadRequest | ErrorCode::MethodNotAllowed => "BAD_REQUEST",
            ErrorCode::RequestTooLarge => "REQUEST_LIMIT_EXCEEDED",
            ErrorCode::EndpointNotFound => "ENDPOINT_NOT_FOUND",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::TemporarilyUnavailable => "TEMPORARILY_UNAVAILABLE",
            ErrorCode::NotImplemented => "NOT_IMPLEMENTED",
        }
    }

    /// MLflow's `error_class` of the code (mlflow/error_classification.py, client mapping).
    fn error_class(self) -> Option<&'static str> {
        Some(match self {
            ErrorCode::ResourceDoesNotExist | ErrorCode::EndpointNotFound => "RESOURCE_NOT_FOUND",
            ErrorCode::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            ErrorCode::InvalidParameterValue
            | ErrorCode::BadRequest
            | ErrorCode::MethodNotAllowed
            | ErrorCode::RequestTooLarge => "INVALID_PARAMETER_VALUE",
            ErrorCode::Unauthenticated | ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::InternalError => "CLIENT_INTERNAL_ERROR",
            ErrorCode::TemporarilyUnavailable => "TEMPORARILY_UNAVAILABLE",
            // MLflow's 501 of an unsupported artifact operation carries neither.
            ErrorCode::NotImplemented => return None,
        })
    }

    /// MLflow's `sqlstate` of the code: KAM00 for client mistakes, XXM00 for internal errors.
    fn sqlstate(self) -> Option<&'static str> {
        match self {
            ErrorCode::InternalError | ErrorCode::TemporarilyUnavailable => Some("XXM00"),
            ErrorCode::NotImplemented => None,
            _ => Some("KAM00"),
        }
    }

    /// The HTTP status of the code, as MLflow maps it.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::ResourceDoesNotExist | ErrorCode::EndpointNotFound => StatusCode::NOT_FOUND,
            ErrorCode::ResourceAlreadyExists
            | ErrorCode::InvalidParameterValue
            | ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorCode::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        }
    }
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct ApiError {
    /// The code.
    pub code: ErrorCode,
    /// The message.
    pub message: String,
}

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// INVALID_PARAMETER_VALUE.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::InvalidParameterValue, message)
    }

    /// RESOURCE_DOES_NOT_EXIST.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::ResourceDoesNotExist, message)
    }

    /// `Missing value for required parameter 'x'`, MLflow's words.
    pub fn missing(field: &str) -> ApiError {
        ApiError::invalid(format!(
            "Missing value for required parameter '{field}'. See the API docs for more information about request parameters."
        ))
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        let mut body = serde_json::json!({
            "error_code": self.code.as_str(),
            "message": self.message,
        });
        if let Some(s) = self.code.sqlstate() {
            body["sqlstate"] = s.into();
        }
        if let Some(c) = self.code.error_class() {
            body["error_class"] = c.into();
        }
        body.to_string()
    }
}

/// MLflow's words for a missing object (never the store's file paths).
fn not_found_message(kind: &str, name: &str) -> String {
    match kind {
        "experiment" => format!("Could not find experiment with ID {name}"),
        "run" => format!("Run '{name}' not found"),
        "registered model" => format!("Registered Model with name={name} not found"),
        "model version" => match name.rsplit_once('/') {
            Some((n, v)) => format!("Model Version (name={n}, version={v}) not found"),
            None => format!("Model Version {name} not found"),
        },
        "logged model" => format!("Model '{name}' not found"),
        "artifact" => format!("No such artifact: '{name}'"),
        _ => format!("{kind} '{name}' not found"),
    }
}

/// MLflow's words for a duplicate.
fn exists_message(kind: &str, name: &str) -> String {
    match kind {
        // The file store's name carries the id and stage after a quote: keep the name only.
        "experiment" => format!(
            "Experiment '{}' already exists.",
            name.split("' (id ").next().unwrap_or(name)
        ),
        "registered model" => format!("Registered Model (name={name}) already exists."),
        _ => format!("{kind} '{name}' already exists"),
    }
}

/// The last three components of a store path (`<exp>/<run>/meta.yaml`).
fn tail(path: &std::path::Path) -> String {
    let parts: Vec<String> = path
        .components()
        .rev()
        .take(3)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}

/// `param key` -> `Param key`.
fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl From<TrackingError> for ApiError {
    fn from(e: TrackingError) -> ApiError {
        match &e {
            TrackingError::NotFound { kind, name, .. } => {
                return ApiError::not_found(not_found_message(kind, name))
            }
            TrackingError::AlreadyExists { kind, name, .. } => {
                return ApiError::new(ErrorCode::ResourceAlreadyExists, exists_message(kind, name))
            }
            // A damaged store: the file is named from the experiment folder down (the store's
            // own location stays in the server's log).
            TrackingError::Corrupt {
                kind,
                path,
                message,
            } => {
                tracing::error!(error = %e, "store error");
                return ApiError::new(
                    ErrorCode::InternalError,
                    format!("corrupt {kind} file {}: {message}", tail(path)),
                );
            }
            TrackingError::InvalidName { what, reason, .. }
                if reason.starts_with("longer than") =>
            {
                return ApiError::invalid(format!(
                    "'{}' exceeds the maximum length of 250 characters",
                    capitalized(what)
                ))
            }
            _ => {}
        }
        let code = match &e {
            TrackingError::NotFound { .. } => ErrorCode::ResourceDoesNotExist,
            TrackingError::AlreadyExists { .. } => ErrorCode::ResourceAlreadyExists,
            TrackingError::InvalidName { .. }
            | TrackingError::InvalidValue { .. }
            | TrackingError::InvalidState { .. }
            | TrackingError::BadUri { .. } => ErrorCode::InvalidParameterValue,
            TrackingError::Unavailable { .. } => ErrorCode::TemporarilyUnavailable,
            TrackingError::ParamChanged {
                run_id,
                key,
                old,
                new,
                ..
            } => {
                return ApiError::invalid(format!(
                    "Changing param values is not allowed. Param with key='{key}' was already logged with value='{old}' for run ID='{run_id}'. Attempted logging new value '{new}'."
                ))
            }
            _ => ErrorCode::InternalError,
        };
        let message = match &e {
            // The limits' own messages stand alone, as MLflow's do.
            TrackingError::InvalidValue { what, reason }
                if matches!(
                    *what,
                    "request" | "search" | "max_results" | "artifact path"
                ) =>
            {
                reason.clone()
            }
            _ => e.to_string(),
        };
        if code == ErrorCode::InternalError {
            tracing::error!(error = %e, "store error");
        }
        ApiError { code, message }
    }
}
