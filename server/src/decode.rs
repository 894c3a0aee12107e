//! The one entry point from a request's protocol, headers and body to decoded model inputs.
//!
//! The router calls it for every prediction, and the fuzz targets of `fuzz/` call it too: it is the
//! stable surface over [`crate::protocol`]'s per-protocol decoders (which may be reorganized), taking
//! what arrives on the wire (a body, its headers) and giving what goes to the batcher (tensors in the
//! model's input order) or the client error to answer.

use http::{header, HeaderMap};

use crate::error::{ApiError, Protocol};
use crate::protocol::{self, InferInput, ModelInfo, ResponsePlan};

/// Decodes one prediction request for `model`: the inputs, checked against the model's signature, and
/// how the answer must be shaped. Never panics, whatever the bytes.
pub fn request(
    proto: Protocol,
    headers: &HeaderMap,
    body: &[u8],
    model: &ModelInfo,
) -> Result<(InferInput, ResponsePlan), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    match proto {
        Protocol::Mlflow => protocol::mlflow::decode(content_type, body, model),
        Protocol::V2 => protocol::v2::decode_infer(headers, body, model),
        Protocol::Predict => protocol::predict::decode(content_type, body, model),
    }
}
