//! Reading a request body: within `max_body_bytes` and the body-read timeout and minimum rate.
//!
//! The next bytes must come within `body_read_timeout_ms`, and the whole body by that plus one second
//! per `body_min_rate_bytes_per_s` bytes received (as `homeml serve` does); past either the request
//! gets 408 and the connection is closed, so a client that declares a body and stalls holds its
//! connection for a bounded time.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::CONTENT_LENGTH;
use hyper::Request;
use tokio::time::Instant;

use crate::error::GatewayError;

/// The limits of one body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimits {
    /// Largest body (413 above).
    pub(crate) max_bytes: usize,
    /// Longest wait for the next bytes, and the base of the whole body's deadline.
    pub(crate) timeout: Duration,
    /// The whole body's deadline grows one second per this many bytes; 0: no rate.
    pub(crate) min_rate: u64,
}

/// Reads `req`'s body whole.
pub(crate) async fn read_body(
    req: Request<Incoming>,
    limits: BodyLimits,
) -> Result<Bytes, GatewayError> {
    let too_large = || GatewayError::PayloadTooLarge {
        limit: limits.max_bytes,
    };
    if req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|len| len > limits.max_bytes as u64)
    {
        return Err(too_large());
    }
    let mut body = req.into_body();
    let start = Instant::now();
    let mut buf = BytesMut::new();
    loop {
        let next = Instant::now() + limits.timeout;
        let by = if limits.min_rate == 0 {
            next
        } else {
            let extra = Duration::from_secs_f64(buf.len() as f64 / limits.min_rate as f64);
            next.min(start + limits.timeout + extra)
        };
        match tokio::time::timeout_at(by, body.frame()).await {
            Err(_) => {
                return Err(GatewayError::BodyTimeout {
                    received: buf.len(),
                    waited_ms: start.elapsed().as_millis() as u64,
                })
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(GatewayError::BadRequest(format!(
                    "cannot read the body: {e}"
                )))
            }
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    if buf.len() + data.len() > limits.max_bytes {
                        return Err(too_large());
                    }
                    buf.extend_from_slice(&data);
                }
            }
        }
    }
    Ok(buf.freeze())
}
