//! Every request-time error of the gateway, each mapped to one HTTP status and one JSON body shape
//! (`{"error": {"code", "message", "field"?}}`) in one place: [`GatewayError::status`] and
//! [`GatewayError::body`].

use hyper::StatusCode;

/// A request that the gateway cannot answer with a prediction.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    /// The body is not JSON of the expected shape.
    #[error("{0}")]
    BadRequest(String),
    /// A feature is missing, unknown, mistyped or out of bounds.
    #[error("{field}: {message}")]
    Validation {
        /// The offending field, e.g. `sepal_length` or `[3].sepal_length` in a batch.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The body is larger than the configured limit.
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// No key, or a key that is not known (the two are not told apart).
    #[error("a valid API key is required")]
    Unauthorized,
    /// A valid key that may not call this app.
    #[error("this API key may not call this app")]
    Forbidden,
    /// The key's token bucket is empty.
    #[error("rate limit exceeded, retry in {retry_after_secs} s")]
    RateLimited {
        /// Whole seconds until a token is available (the Retry-After header).
        retry_after_secs: u64,
    },
    /// The request body did not arrive within the body-read timeout or minimum rate (408, closes).
    #[error("the request body came too slowly: {received} bytes in {waited_ms} ms")]
    BodyTimeout {
        /// Bytes received.
        received: usize,
        /// Milliseconds waited.
        waited_ms: u64,
    },
    /// No route.
    #[error("no route for {0}")]
    NotFound(String),
    /// The route exists with another method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The upstream did not answer within its timeout.
    #[error("upstream {upstream} timed out")]
    UpstreamTimeout {
        /// The upstream's name.
        upstream: String,
    },
    /// The upstream could not be reached, or answered with an error or an unreadable body.
    #[error("upstream {upstream} failed: {message}")]
    Upstream {
        /// The upstream's name.
        upstream: String,
        /// What went wrong.
        message: String,
    },
    /// No upstream can take the request.
    #[error("no upstream available")]
    NoUpstream,
}

impl GatewayError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::BadRequest(_) => StatusCode::BAD_REQUEST,
            GatewayError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            GatewayError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::Unauthorized => StatusCode::UNAUTHORIZED,
            GatewayError::Forbidden => StatusCode::FORBIDDEN,
            GatewayError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            GatewayError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            GatewayError::NotFound(_) => StatusCode::NOT_FOUND,
            GatewayError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            GatewayError::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::Upstream { .. } => StatusCode::BAD_GATEWAY,
            GatewayError::NoUpstream => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A short machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::BadRequest(_) => "bad_request",
            GatewayError::Validation { .. } => "validation_error",
            GatewayError::PayloadTooLarge { .. } => "payload_too_large",
            GatewayError::Unauthorized => "unauthorized",
            GatewayError::Forbidden => "forbidden",
            GatewayError::RateLimited { .. } => "rate_limited",
            GatewayError::BodyTimeout { .. } => "body_timeout",
            GatewayError::NotFound(_) => "not_found",
            GatewayError::MethodNotAllowed => "method_not_allowed",
            GatewayError::UpstreamTimeout { .. } => "upstream_timeout",
            GatewayError::Upstream { .. } => "upstream_error",
            GatewayError::NoUpstream => "no_upstream",
        }
    }

    /// The JSON body: `{"error": {"code", "message", "field"?}}`.
    pub fn body(&self) -> serde_json::Value {
        let mut err = serde_json::json!({
            "code": self.code(),
            "message": self.to_string(),
        });
        if let GatewayError::Validation { field, message } = self {
            err["field"] = serde_json::Value::String(field.clone());
            err["message"] = serde_json::Value::String(message.clone());
        }
        serde_json::json!({ "error": err })
    }
}
