//! The memory budget of the requests in flight, and the answer body that holds its share until sent.
//!
//! One budget (`Limits::max_inflight_body_bytes`, in use: `Metrics::inflight_body_bytes`) covers what
//! a prediction holds at each step: the body bytes read so far (reserved as they arrive), then the
//! decoded input tensors beside the body, then (the body given back) the inputs beside an estimate of
//! the answer made from the outputs' shapes, then the output tensors and the encoded answer,
//! held until hyper has taken the answer's last bytes. A request that does not fit at a step is
//! refused there (the overload answer), before the next allocation; nothing is reserved up front
//! from a declared `Content-Length`, so a client that declares much and sends little holds little.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use homeml_flavor::{IoSpec, Tensor, TensorData};
use http_body::{Body, Frame, SizeHint};

use crate::metrics::Metrics;

/// Bytes reserved from the in-flight budget; given back when dropped.
#[derive(Debug)]
pub(crate) struct Reservation {
    metrics: Arc<Metrics>,
    limit: usize,
    bytes: usize,
}

impl Reservation {
    /// An empty reservation from the budget of `metrics`, at most `limit` bytes over all requests.
    pub(crate) fn new(metrics: Arc<Metrics>, limit: usize) -> Reservation {
        Reservation {
            metrics,
            limit,
            bytes: 0,
        }
    }

    /// Reserves `n` more bytes if the budget has room for them; else reserves nothing and returns
    /// false. One atomic add (and a subtract when refused); no lock. Two requests racing for the last
    /// bytes may both be refused, never both admitted past the limit.
    pub(crate) fn grow(&mut self, n: usize) -> bool {
        if n == 0 {
            return true;
        }
        let used = &self.metrics.inflight_body_bytes;
        let before = used.fetch_add(n, Ordering::Relaxed);
        if before.saturating_add(n) > self.limit {
            used.fetch_sub(n, Ordering::Relaxed);
            return false;
        }
        self.bytes += n;
        true
    }

    /// Gives back up to `n` bytes.
    pub(crate) fn shrink(&mut self, n: usize) {
        let n = n.min(self.bytes);
        if n > 0 {
            self.metrics
                .inflight_body_bytes
                .fetch_sub(n, Ordering::Relaxed);
            self.bytes -= n;
        }
    }

    /// Holds exactly `n` bytes: grows (false when the budget has no room, holding what it held) or
    /// shrinks.
    pub(crate) fn resize(&mut self, n: usize) -> bool {
        if n >= self.bytes {
            self.grow(n - self.bytes)
        } else {
            self.shrink(self.bytes - n);
            true
        }
    }

    /// The bytes held.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.shrink(self.bytes);
    }
}

/// Whether the budget leaves less than `needed` bytes free (readiness reports the server full).
pub(crate) fn starved(metrics: &Metrics, limit: usize, needed: usize) -> Option<(usize, usize)> {
    let used = metrics.inflight_body_bytes.load(Ordering::Relaxed);
    (used.saturating_add(needed) > limit).then_some((used, limit))
}

/// The memory of tensors' elements (strings: their bytes plus a `String` each).
pub(crate) fn tensor_bytes(tensors: &[Tensor]) -> usize {
    tensors
        .iter()
        .map(|t| match t.data() {
            TensorData::Bool(v) => v.len(),
            TensorData::I32(v) => v.len() * 4,
            TensorData::F32(v) => v.len() * 4,
            TensorData::I64(v) => v.len() * 8,
            TensorData::F64(v) => v.len() * 8,
            TensorData::String(v) => v.iter().map(|s| s.len() + 24).sum(),
        })
        .sum()
}

/// Bytes one output element takes in an answer, on average, as a JSON number with its separator:
/// shortest round-trip floats such as `0.97342813,` (single precision) or `0.12345678901234568, `;
/// strings are counted by length. Past it, the estimate made before the model runs is corrected from
/// the real outputs.
const ANSWER_BYTES_PER_VALUE: usize = 18;

/// The memory an answer of `rows` rows needs before it is computed: the output tensors and their
/// encoding, from the outputs' declared shapes (an unknown dimension past the first counts as 1).
pub(crate) fn answer_estimate(outputs: &[IoSpec], rows: usize) -> usize {
    let per_row: usize = outputs
        .iter()
        .map(|o| {
            o.shape
                .iter()
                .skip(1)
                .map(|&d| usize::try_from(d).unwrap_or(1).max(1))
                .product::<usize>()
        })
        .sum();
    rows.saturating_mul(per_row.max(1))
        .saturating_mul(8 + ANSWER_BYTES_PER_VALUE)
}

/// The memory an encoded answer holds once the outputs are computed: its outputs' elements in the
/// worst JSON form (the outputs themselves are dropped while encoding ends).
pub(crate) fn encoding_estimate(outputs: &[Tensor]) -> usize {
    tensor_bytes(outputs)
        + outputs
            .iter()
            .map(|t| match t.data() {
                TensorData::String(v) => v.iter().map(|s| s.len() * 2 + 4).sum(),
                d => d.len() * ANSWER_BYTES_PER_VALUE,
            })
            .sum::<usize>()
}

/// The largest piece of an answer handed to hyper at once: hyper queues a few pieces, so an answer
/// is given up (and its reservation returned) only when its last piece is taken.
const PIECE: usize = 64 * 1024;

/// A response body: the whole answer in memory, handed out in pieces, holding its share of the
/// memory budget (and the connection's busy mark) until the last piece is taken or it is dropped.
#[derive(Debug, Default)]
pub(crate) struct AnswerBody {
    data: Bytes,
    held: Option<Reservation>,
    guard: Option<Box<dyn Send + Sync + std::fmt::Debug>>,
}

impl AnswerBody {
    /// An answer holding no reservation.
    pub(crate) fn new(data: Bytes) -> AnswerBody {
        AnswerBody {
            data,
            held: None,
            guard: None,
        }
    }

    /// Keeps `r` until the answer is sent.
    pub(crate) fn hold(&mut self, r: Reservation) {
        self.held = Some(r);
    }

    /// Keeps `g` (dropped when the answer is sent) until the answer is sent.
    pub(crate) fn guard(&mut self, g: Box<dyn Send + Sync + std::fmt::Debug>) {
        self.guard = Some(g);
    }

    fn finish(&mut self) {
        self.held = None;
        self.guard = None;
    }
}

impl Body for AnswerBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.data.is_empty() {
            self.finish();
            return Poll::Ready(None);
        }
        let n = self.data.len().min(PIECE);
        let piece = self.data.split_to(n);
        if self.data.is_empty() {
            self.finish();
        }
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use homeml_flavor::DType;

    #[test]
    fn reservations_stay_within_the_budget_and_are_given_back() {
        let m = Arc::new(Metrics::new());
        let used = || m.inflight_body_bytes.load(Ordering::Relaxed);
        let mut a = Reservation::new(m.clone(), 100);
        assert!(a.grow(60));
        assert!(a.grow(0));
        let mut b = Reservation::new(m.clone(), 100);
        assert!(!b.grow(41), "60 + 41 is past the budget");
        assert_eq!(used(), 60, "a refused grow reserves nothing");
        assert!(b.grow(40));
        assert!(!a.grow(1));
        assert!(starved(&m, 100, 1).is_some());
        drop(a);
        assert_eq!(used(), 40);
        assert!(starved(&m, 100, 60).is_none());
        assert!(b.resize(100));
        assert!(b.resize(10));
        assert_eq!((used(), b.held()), (10, 10));
        assert!(!b.resize(101));
        assert_eq!(used(), 10, "a refused resize keeps what it held");
        drop(b);
        assert_eq!(used(), 0);
    }

    #[test]
    fn an_answer_body_gives_its_reservation_back_with_its_last_piece() {
        let m = Arc::new(Metrics::new());
        let mut r = Reservation::new(m.clone(), 1 << 30);
        assert!(r.grow(200_000));
        let mut body = AnswerBody::new(Bytes::from(vec![7u8; 200_000]));
        body.hold(r);
        assert_eq!(body.size_hint().exact(), Some(200_000));
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut total = 0;
        let mut body = Pin::new(&mut body);
        while let Poll::Ready(Some(Ok(frame))) = body.as_mut().poll_frame(&mut cx) {
            assert_eq!(
                m.inflight_body_bytes.load(Ordering::Relaxed) > 0,
                total < 196_608
            );
            total += frame.into_data().map(|d| d.len()).unwrap_or(0);
        }
        assert_eq!(total, 200_000);
        assert_eq!(m.inflight_body_bytes.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn estimates_count_elements() {
        let t = Tensor::f32_matrix(3, 4, vec![0.0; 12]).unwrap();
        assert_eq!(tensor_bytes(std::slice::from_ref(&t)), 48);
        assert_eq!(encoding_estimate(&[t]), 48 + 12 * ANSWER_BYTES_PER_VALUE);
        let outs = [
            IoSpec::new("label", DType::I64, vec![-1]),
            IoSpec::new("probabilities", DType::F32, vec![-1, 3]),
        ];
        assert_eq!(
            answer_estimate(&outs, 10),
            10 * 4 * (8 + ANSWER_BYTES_PER_VALUE)
        );
    }
}
