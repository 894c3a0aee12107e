//! Reading a request body whole: within the size limit, the body-read timeout and minimum rate, and
//! the memory budget, which each piece is reserved from as it arrives.
//!
//! - A declared `Content-Length` over `max_body_bytes` is refused (413) before reading; a body growing
//!   past it is refused as soon as it does.
//! - Each piece is reserved from the in-flight memory budget when it arrives, never the declared
//!   length up front: a client that declares 32 MB and sends ten bytes holds ten bytes. A body that
//!   outgrows the budget is refused (the overload answer) at once.
//! - The next bytes must come within `body_read_timeout`, and the whole body by `body_read_timeout`
//!   plus one second per `body_min_rate` bytes received (Apache's `RequestReadTimeout body=..,
//!   MinRate=..`); past either the request gets 408 and the connection is closed, so a stalled or
//!   trickling body holds a connection and its bytes for a bounded time.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::Instant;

use crate::budget::Reservation;
use crate::error::ApiError;
use crate::router::AppState;

/// A request body in memory, with its share of the memory budget.
#[derive(Debug)]
pub(crate) struct Body {
    /// The body.
    pub(crate) bytes: Bytes,
    /// Its reservation: the body's length, then what the request holds as it goes on.
    pub(crate) held: Reservation,
}

/// The answer to a request that does not fit the in-flight memory budget.
pub(crate) fn budget_full(state: &AppState) -> ApiError {
    state
        .metrics
        .body_budget_rejected
        .fetch_add(1, Ordering::Relaxed);
    ApiError::Overloaded {
        reason: "the requests in flight fill the server's memory budget",
        retry_after_s: 1,
    }
}

/// When the whole body must be in, given `received` bytes so far.
fn body_deadline(
    start: Instant,
    timeout: Duration,
    min_rate: u64,
    received: usize,
) -> Option<Instant> {
    if min_rate == 0 {
        return None;
    }
    let extra = Duration::from_secs_f64(received as f64 / min_rate as f64);
    Some(start + timeout + extra)
}

/// Reads the body (see the module's comment for the limits).
pub(crate) async fn read_body(
    state: &AppState,
    headers: &http::HeaderMap,
    mut body: Incoming,
) -> Result<Body, ApiError> {
    let limits = &state.limits;
    let limit = limits.max_body_bytes;
    let mut held = Reservation::new(state.metrics.clone(), limits.max_inflight_body_bytes);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let read_error = |e: &dyn std::fmt::Display| {
        ApiError::BadRequest(format!("cannot read the request body: {e}"))
    };
    let start = Instant::now();
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    let mut total = 0usize;
    loop {
        let next_wait = Instant::now() + limits.body_read_timeout;
        let by = match body_deadline(start, limits.body_read_timeout, limits.body_min_rate, total) {
            Some(d) => d.min(next_wait),
            None => next_wait,
        };
        let frame = match tokio::time::timeout_at(by, body.frame()).await {
            Ok(Some(f)) => f.map_err(|e| read_error(&e))?,
            Ok(None) => break,
            Err(_) => {
                state
                    .metrics
                    .body_read_timeouts
                    .fetch_add(1, Ordering::Relaxed);
                let waited = start.elapsed().as_secs_f64();
                return Err(ApiError::BodyTimeout(if by == next_wait {
                    format!(
                        "the request body stalled: no bytes for {:.1} s ({total} bytes received in {waited:.1} s)",
                        limits.body_read_timeout.as_secs_f64()
                    )
                } else {
                    format!(
                        "the request body came too slowly: {total} bytes in {waited:.1} s (at least {} bytes/s after the first {:.1} s)",
                        limits.body_min_rate,
                        limits.body_read_timeout.as_secs_f64()
                    )
                }));
            }
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        total = total.saturating_add(data.len());
        if total > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        if !held.grow(data.len()) {
            return Err(budget_full(state));
        }
        // One piece is kept as it is; more are joined into one buffer. With a declared length the
        // buffer is made that size at once: no doubling growth whose spare capacity and reallocation
        // copies the budget does not see (bench/hardening.md). Only the pages written become
        // resident, so a client that declares much and sends little still holds little memory.
        match (&mut first, &mut joined) {
            (None, None) => first = Some(data),
            (Some(_), None) => {
                let mut buf = match declared.and_then(|n| usize::try_from(n).ok()) {
                    Some(n) if n >= total => BytesMut::with_capacity(n),
                    _ => BytesMut::new(),
                };
                if let Some(f) = first.take() {
                    buf.extend_from_slice(&f);
                }
                buf.extend_from_slice(&data);
                joined = Some(buf);
            }
            (_, Some(buf)) => buf.extend_from_slice(&data),
        }
    }
    let bytes = match (first, joined) {
        (_, Some(buf)) => buf.freeze(),
        (Some(b), None) => b,
        (None, None) => Bytes::new(),
    };
    Ok(Body { bytes, held })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_grows_with_the_bytes_received() {
        let t0 = Instant::now();
        let ten = Duration::from_secs(10);
        assert_eq!(body_deadline(t0, ten, 0, 1 << 20), None);
        assert_eq!(body_deadline(t0, ten, 1000, 0), Some(t0 + ten));
        assert_eq!(
            body_deadline(t0, ten, 1000, 2500),
            Some(t0 + ten + Duration::from_millis(2500))
        );
    }
}
