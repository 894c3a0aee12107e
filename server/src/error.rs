//! API errors and their HTTP status per protocol.
//!
//! Every failure a request can meet is one [`ApiError`] value; [`ApiError::status`] and
//! [`ApiError::to_encoded`] are the one place that turns it into an HTTP status and body:
//!
//! | error | MLflow | V2 | /predict |
//! |---|---|---|---|
//! | `BadRequest` | 400 `BAD_REQUEST` | 400 | 400 |
//! | `InvalidParameter` | 400 `INVALID_PARAMETER_VALUE` | 400 | 400 |
//! | `Unauthorized` | 401 `UNAUTHENTICATED` + `WWW-Authenticate: Bearer` | 401 | 401 |
//! | `Forbidden` | 403 `PERMISSION_DENIED` | 403 | 403 |
//! | `NotFound` | 404 `RESOURCE_DOES_NOT_EXIST` | 404 | 404 |
//! | `MethodNotAllowed` | 405 | 405 | 405 |
//! | `PayloadTooLarge` | 413 | 413 | 413 |
//! | `UnsupportedMediaType` | 415 | 415 | 415 |
//! | `NotReady` | 503 | 503 | 503 |
//! | `Overloaded` | 503 + `Retry-After` | 429 + `Retry-After` | 429 + `Retry-After` |
//! | `BodyTimeout` | 408 + `Connection: close` | 408 | 408 |
//! | `Timeout` | 504 | 504 | 504 |
//! | `Internal` | 500 `INTERNAL_ERROR` | 500 | 500 |
//!
//! Bodies: MLflow routes answer `{"error_code": ..., "message": ...}` as MLflow's scoring server does;
//! V2 and /predict routes answer `{"error": "..."}`.

use bytes::Bytes;
use homeml_flavor::FlavorError;
use http::{header, HeaderName, HeaderValue, StatusCode};

use crate::protocol::Encoded;

/// The protocol a request came in on: it decides the status of some errors and the error body shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// MLflow scoring (`/invocations`, `/ping`, `/health`, `/version`).
    Mlflow,
    /// KServe V2 / Open Inference Protocol (`/v2/...`).
    V2,
    /// The bare-array `POST /predict`.
    Predict,
}

impl Protocol {
    /// A short lowercase name (`mlflow`, `v2`, `predict`), e.g. for metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Mlflow => "mlflow",
            Protocol::V2 => "v2",
            Protocol::Predict => "predict",
        }
    }
}

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The request body is malformed or does not fit the model (400; MLflow `BAD_REQUEST`).
    #[error("{0}")]
    BadRequest(String),
    /// A parameter has a value that is not allowed (400; MLflow `INVALID_PARAMETER_VALUE`).
    #[error("{0}")]
    InvalidParameter(String),
    /// An admin route without the right bearer token (401, with `WWW-Authenticate: Bearer`).
    #[error("{0}")]
    Unauthorized(String),
    /// An admin route that is disabled on this server (403).
    #[error("{0}")]
    Forbidden(String),
    /// Unknown model, version or route (404).
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not with this method (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The body is larger than the limit, in bytes (413).
    #[error("request body larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// The Content-Type is not one the route accepts (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The model is not loaded (yet) or is unloading (503).
    #[error("{0}")]
    NotReady(String),
    /// The server cannot take this request now (the model's queue is full, or the request bodies in
    /// flight use the whole body budget): retry after that many seconds (429 on V2 and /predict, 503 on
    /// MLflow).
    #[error("{reason}; retry after {retry_after_s} s")]
    Overloaded {
        /// What is full, e.g. "the model's queue is full".
        reason: &'static str,
        /// Seconds the client should wait, sent as `Retry-After`.
        retry_after_s: u64,
    },
    /// The request body did not arrive in time: the client stalled or sent too slowly (408; the
    /// connection is closed after the answer).
    #[error("{0}")]
    BodyTimeout(String),
    /// The request waited past its deadline and was not computed (504).
    #[error("{0}")]
    Timeout(String),
    /// A fault of the server or the model, not of the client (500).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status of this error on protocol `p`.
    pub fn status(&self, p: Protocol) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::InvalidParameter(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Overloaded { .. } => match p {
                Protocol::Mlflow => StatusCode::SERVICE_UNAVAILABLE,
                Protocol::V2 | Protocol::Predict => StatusCode::TOO_MANY_REQUESTS,
            },
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// MLflow's `error_code` for this error (as `mlflow.protos.databricks_pb2` names them).
    pub fn mlflow_error_code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "BAD_REQUEST",
            ApiError::InvalidParameter(_) => "INVALID_PARAMETER_VALUE",
            ApiError::Unauthorized(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "PERMISSION_DENIED",
            ApiError::NotFound(_) => "RESOURCE_DOES_NOT_EXIST",
            ApiError::MethodNotAllowed(_) => "BAD_REQUEST",
            ApiError::PayloadTooLarge(_) => "INVALID_PARAMETER_VALUE",
            ApiError::UnsupportedMediaType(_) => "BAD_REQUEST",
            ApiError::NotReady(_) => "TEMPORARILY_UNAVAILABLE",
            ApiError::Overloaded { .. } => "REQUEST_LIMIT_EXCEEDED",
            ApiError::BodyTimeout(_) | ApiError::Timeout(_) => "DEADLINE_EXCEEDED",
            ApiError::Internal(_) => "INTERNAL_ERROR",
        }
    }

    /// The answer for this error on protocol `p`: status, JSON body and (for `Overloaded`) `Retry-After`.
    pub fn to_encoded(&self, p: Protocol) -> Encoded {
        let message = self.to_string();
        let body = match p {
            Protocol::Mlflow => serde_json::json!({
                "error_code": self.mlflow_error_code(),
                "message": message,
            }),
            Protocol::V2 | Protocol::Predict => serde_json::json!({ "error": message }),
        };
        let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
        if let ApiError::Overloaded { retry_after_s, .. } = self {
            headers.push((header::RETRY_AFTER, HeaderValue::from(*retry_after_s)));
        }
        if let ApiError::Unauthorized(_) = self {
            headers.push((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"homeml admin\""),
            ));
        }
        if let ApiError::BodyTimeout(_) = self {
            headers.push((header::CONNECTION, HeaderValue::from_static("close")));
        }
        Encoded {
            status: self.status(p),
            content_type: crate::protocol::JSON,
            body: Bytes::from(body.to_string()),
            headers,
        }
    }
}

impl From<FlavorError> for ApiError {
    /// Client errors ([`FlavorError::is_client_error`]) become `BadRequest`; the rest are `Internal`.
    fn from(e: FlavorError) -> ApiError {
        if e.is_client_error() {
            ApiError::BadRequest(e.to_string())
        } else {
            ApiError::Internal(e.to_string())
        }
    }
}

impl From<homeml_flavor::TensorError> for ApiError {
    /// A tensor that cannot be built from request data is the client's fault.
    fn from(e: homeml_flavor::TensorError) -> ApiError {
        ApiError::BadRequest(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(e: &ApiError, p: Protocol) -> serde_json::Value {
        serde_json::from_slice(&e.to_encoded(p).body).unwrap()
    }

    #[test]
    fn statuses_per_protocol() {
        let cases = [
            (ApiError::BadRequest("x".into()), 400, 400),
            (ApiError::InvalidParameter("x".into()), 400, 400),
            (ApiError::Unauthorized("x".into()), 401, 401),
            (ApiError::Forbidden("x".into()), 403, 403),
            (ApiError::NotFound("x".into()), 404, 404),
            (ApiError::MethodNotAllowed("x".into()), 405, 405),
            (ApiError::PayloadTooLarge(10), 413, 413),
            (ApiError::UnsupportedMediaType("x".into()), 415, 415),
            (ApiError::NotReady("x".into()), 503, 503),
            (
                ApiError::Overloaded {
                    reason: "full",
                    retry_after_s: 1,
                },
                503,
                429,
            ),
            (ApiError::BodyTimeout("x".into()), 408, 408),
            (ApiError::Timeout("x".into()), 504, 504),
            (ApiError::Internal("x".into()), 500, 500),
        ];
        for (e, mlflow, v2) in cases {
            assert_eq!(e.status(Protocol::Mlflow).as_u16(), mlflow, "{e:?}");
            assert_eq!(e.status(Protocol::V2).as_u16(), v2, "{e:?}");
            assert_eq!(e.status(Protocol::Predict).as_u16(), v2, "{e:?}");
            assert_eq!(e.to_encoded(Protocol::V2).status.as_u16(), v2);
        }
    }

    #[test]
    fn mlflow_body_has_error_code_and_message() {
        let b = body(
            &ApiError::BadRequest("column x missing".into()),
            Protocol::Mlflow,
        );
        assert_eq!(b["error_code"], "BAD_REQUEST");
        assert_eq!(b["message"], "column x missing");
        let b = body(&ApiError::InvalidParameter("bad".into()), Protocol::Mlflow);
        assert_eq!(b["error_code"], "INVALID_PARAMETER_VALUE");
    }

    #[test]
    fn v2_and_predict_bodies_have_error() {
        for p in [Protocol::V2, Protocol::Predict] {
            let b = body(&ApiError::NotFound("no model m".into()), p);
            assert_eq!(b, serde_json::json!({"error": "no model m"}));
        }
    }

    #[test]
    fn overloaded_sends_retry_after() {
        for p in [Protocol::Mlflow, Protocol::V2, Protocol::Predict] {
            let enc = ApiError::Overloaded {
                reason: "the model's queue is full",
                retry_after_s: 2,
            }
            .to_encoded(p);
            assert_eq!(enc.headers.len(), 1);
            assert_eq!(enc.headers[0].0, header::RETRY_AFTER);
            assert_eq!(enc.headers[0].1, "2");
        }
        let queue_full = ApiError::Overloaded {
            reason: "the model's queue is full",
            retry_after_s: 2,
        };
        assert_eq!(
            body(&queue_full, Protocol::V2)["error"],
            "the model's queue is full; retry after 2 s"
        );
        assert!(ApiError::Timeout("t".into())
            .to_encoded(Protocol::V2)
            .headers
            .is_empty());
    }

    #[test]
    fn flavor_errors_split_client_and_server_faults() {
        let e: ApiError = FlavorError::InvalidInput("bad shape".into()).into();
        assert_eq!(e, ApiError::BadRequest("bad shape".into()));
        let e: ApiError = FlavorError::Engine("boom".into()).into();
        assert!(matches!(e, ApiError::Internal(m) if m.contains("boom")));
    }
}
