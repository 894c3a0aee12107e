//! Request decoding and answer encoding, one module per protocol.
//!
//! Each protocol module turns a request body into an [`InferInput`] (tensors in the model's input order,
//! checked against the model's signature) plus a [`ResponsePlan`] (how the answer must be shaped), and
//! turns the model's output tensors back into an [`Encoded`] answer:
//!
//! - [`mlflow`]: MLflow scoring (`POST /invocations`: `dataframe_split`, `dataframe_records`, `instances`,
//!   `inputs`, `text/csv`).
//! - [`v2`]: KServe V2 / Open Inference Protocol REST, with Triton's binary tensor extension
//!   ([`v2::binary`]).
//! - [`predict`]: `POST /predict` with a bare 2-D JSON array.
//!
//! Each protocol owns its request shapes. The common numeric JSON requests are read straight into typed
//! tensors by the protocol's direct reader (`mlflow::fast`, `v2::fast`, `predict::try_predict`), built
//! on `homeml-numjson`, with the same results as the general path through a parsed `serde_json::Value`
//! (which all other requests, and all errors, take).
//!
//! Shared pieces, which import no protocol module: this module (the types every protocol speaks),
//! [`schema`] (signature enforcement and assembly of model inputs), [`records`] (lists of records),
//! `direct` (numjson buffers as tensors) and [`json`] (JSON encoding of tensors, including the encoding
//! of non-finite floats). No protocol module imports another's internals, and this module imports none
//! of its children: `scripts/import-graph.py` checks that the import graph has no circle.

use bytes::Bytes;
use homeml_flavor::{IoSpec, Model, Signature, Tensor};
use http::{HeaderName, HeaderValue, StatusCode};

#[cfg(test)]
mod differential;
pub(crate) mod direct;
pub mod json;
pub mod mlflow;
mod nonfinite;
pub mod predict;
pub mod records;
pub mod schema;
pub mod v2;

/// The JSON content type of answers.
pub const JSON: &str = "application/json";

/// What the protocols need to know about a served model.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// The name the model is served under.
    pub name: String,
    /// Its version (a registry version number, or `1` for a plain directory).
    pub version: String,
    /// The flavor that loaded it (`onnx`, `smartcore`, ...), shown as the V2 `platform`.
    pub platform: String,
    /// The model's inputs, in the order [`Model::predict`] takes them.
    pub inputs: Vec<IoSpec>,
    /// The model's outputs, in the order [`Model::predict`] returns them.
    pub outputs: Vec<IoSpec>,
    /// The signature from MLmodel, if any.
    pub signature: Option<Signature>,
}

impl ModelInfo {
    /// Describes `model` served as `name`/`version`, loaded by flavor `platform`.
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        platform: impl Into<String>,
        model: &dyn Model,
        signature: Option<Signature>,
    ) -> ModelInfo {
        ModelInfo {
            name: name.into(),
            version: version.into(),
            platform: platform.into(),
            inputs: model.inputs().to_vec(),
            outputs: model.outputs().to_vec(),
            signature,
        }
    }

    /// Describes a model loaded by a [`homeml_flavor::FlavorRegistry`]; the signature comes from its
    /// MLmodel (an unreadable signature is treated as absent and logged).
    pub fn from_loaded(
        name: impl Into<String>,
        version: impl Into<String>,
        loaded: &homeml_flavor::LoadedModel,
    ) -> ModelInfo {
        let name = name.into();
        let signature = match loaded.mlmodel.signature() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(model = %name, error = %e, "ignoring the model's unreadable signature");
                None
            }
        };
        ModelInfo::new(
            name,
            version,
            loaded.flavor.clone(),
            loaded.model.as_ref(),
            signature,
        )
    }
}

/// Tensors in the model's input order, each with `rows` rows (batch-first).
#[derive(Debug, Clone, PartialEq)]
pub struct InferInput {
    /// One tensor per model input, in [`ModelInfo::inputs`] order.
    pub tensors: Vec<Tensor>,
    /// Rows in the batch (the first dimension of every tensor).
    pub rows: usize,
}

/// How the answer to one request must be encoded.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponsePlan {
    /// MLflow `/invocations`.
    Mlflow(MlflowPlan),
    /// KServe V2 `infer`.
    V2(V2Plan),
    /// `/predict`.
    Predict,
}

/// The request form an MLflow answer depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MlflowInputKind {
    /// `dataframe_split`, `dataframe_records` or `text/csv`: a pandas DataFrame in MLflow.
    DataFrame,
    /// `instances` or `inputs`: a numpy array or a dict of them in MLflow.
    Tensor,
}

/// How to shape an MLflow `/invocations` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct MlflowPlan {
    /// The form the request came in.
    pub input_kind: MlflowInputKind,
}

/// One output a V2 request asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestedOutput {
    /// Output name.
    pub name: String,
    /// Send it as a binary tensor (Triton's `binary_data` output parameter).
    pub binary: bool,
}

/// How to shape a V2 `infer` answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct V2Plan {
    /// The request's `id`, echoed back.
    pub id: Option<String>,
    /// Outputs asked for, in order; `None` means all of the model's outputs.
    pub outputs: Option<Vec<RequestedOutput>>,
    /// Send every output as binary (Triton's `binary_data_output` request parameter), unless an output
    /// says otherwise.
    pub binary_default: bool,
}

/// An encoded answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// HTTP status (200 normally).
    pub status: StatusCode,
    /// Content-Type.
    pub content_type: &'static str,
    /// Body.
    pub body: Bytes,
    /// Extra headers (e.g. `Retry-After`, `Inference-Header-Content-Length`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Encoded {
    /// A 200 JSON answer with `body`.
    pub fn json(body: impl Into<Bytes>) -> Encoded {
        Encoded {
            status: StatusCode::OK,
            content_type: JSON,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// A 200 JSON answer holding `value`.
    pub fn json_value(value: &serde_json::Value) -> Encoded {
        Encoded::json(value.to_string())
    }
}

/// True when a Content-Type header value's media type (parameters dropped, case ignored) is `expected`
/// (lowercase): [`media_type`] without its allocation, for the hot path.
pub(crate) fn media_type_is(content_type: &str, expected: &str) -> bool {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case(expected)
}

/// The media type of a Content-Type header value: lowercased, parameters (`; charset=...`) dropped.
pub(crate) fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_drops_parameters() {
        assert_eq!(
            media_type("Application/JSON; charset=utf-8"),
            "application/json"
        );
        assert_eq!(media_type("text/csv"), "text/csv");
        assert_eq!(media_type(""), "");
        for ct in [
            "Application/JSON; charset=utf-8",
            "text/csv",
            "",
            " application/json ;x",
        ] {
            for expected in ["application/json", "text/csv", ""] {
                assert_eq!(
                    media_type_is(ct, expected),
                    media_type(ct) == expected,
                    "{ct}"
                );
            }
        }
    }
}
