//! `POST /predict`: the old BentoML service's protocol.
//!
//! The request is a bare JSON 2-D array of rows (`[[5.1, 3.5, 1.4, 0.2], ...]`); a list of records
//! (`[{"sepal_length": 5.1, ...}]`) is accepted too for models with a named-column signature. The answer
//! is a bare JSON array of the model's first output (for classifiers, the label), one entry per row: a
//! value for `[-1]` and `[-1, 1]` outputs, a list otherwise. Non-finite floats are encoded as described
//! in [`super::json`]. Missing Content-Type is read as JSON; another type than JSON is 415.
//!
//! A regular 2-D numeric list is read directly into a typed tensor ([`try_predict`]: `homeml-numjson`'s
//! scanner, then its serde tier); the rest, and every error, through a parsed `serde_json::Value`.

use std::fmt;

use homeml_flavor::Tensor;
use homeml_numjson::de::{parse, read_nested_seq};
use homeml_numjson::nested::scan_floats;
use homeml_numjson::{Buffer, Kind, Scanner};
use serde::de::{SeqAccess, Visitor};
use serde_json::Value;

use super::schema::{self, flatten, Payload};
use super::{
    direct, json, media_type, media_type_is, Encoded, InferInput, ModelInfo, ResponsePlan, JSON,
};
use crate::error::ApiError;

/// Decodes a `/predict` request for `model`.
pub fn decode(
    content_type: Option<&str>,
    body: &[u8],
    model: &ModelInfo,
) -> Result<(InferInput, ResponsePlan), ApiError> {
    let media = match content_type {
        Some(ct) if !media_type_is(ct, JSON) => media_type(ct),
        _ => String::new(),
    };
    if !matches!(media.as_str(), "" | "application/json") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "content type {media:?} is not supported: send application/json"
        )));
    }
    if let Some(input) = try_predict(body, model) {
        return Ok((input, ResponsePlan::Predict));
    }
    decode_value(body, model)
}

/// The scanner tier: a bare list, the whole body, numbers read into a float buffer of `kind`.
pub(crate) fn scan(body: &[u8], kind: Kind) -> Option<(Vec<usize>, Buffer)> {
    let mut s = Scanner::new(body);
    let read = scan_floats(&mut s, kind, body.len())?;
    s.at_end().then_some(read)
}

/// Reads a bare list, as the whole body.
struct BareList {
    kind: Kind,
    body_len: usize,
}

impl<'de> Visitor<'de> for BareList {
    type Value = (Vec<usize>, Buffer);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        read_nested_seq(seq, self.kind, self.body_len)
    }
}

/// The serde tier: a bare list of numbers of `kind`, as the whole body.
pub(crate) fn read(body: &[u8], kind: Kind) -> Option<(Vec<usize>, Buffer)> {
    parse(
        body,
        BareList {
            kind,
            body_len: body.len(),
        },
    )
}

/// `/predict` with a regular 2-D numeric list, decoded and checked as [`decode_value`] decodes it;
/// `None` leaves the request to the value path (which then writes any error message).
pub fn try_predict(body: &[u8], model: &ModelInfo) -> Option<InferInput> {
    let kind = direct::unnamed_kind(model)?;
    let (shape, buf) = match scan(body, kind) {
        Some(scanned) => scanned,
        None => read(body, kind)?,
    };
    if shape.len() != 2 {
        return None;
    }
    schema::assemble(direct::unnamed_payload(shape, buf)?, model).ok()
}

/// Decodes a `/predict` JSON body through a parsed `serde_json::Value` (the reference path, which writes
/// every error message).
pub(crate) fn decode_value(
    body: &[u8],
    model: &ModelInfo,
) -> Result<(InferInput, ResponsePlan), ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    let Value::Array(rows) = &value else {
        return Err(ApiError::BadRequest(
            "the body must be a JSON list of rows, e.g. [[5.1, 3.5, 1.4, 0.2]]".into(),
        ));
    };
    let payload = if rows.first().is_some_and(Value::is_object) {
        super::records::frame(rows, &super::records::key_order(body, None), "row")?
    } else {
        let data = flatten(&value, "rows")?;
        if data.shape.len() != 2 {
            return Err(ApiError::BadRequest(format!(
                "the body must be a 2-D list of rows, got shape {:?}",
                data.shape
            )));
        }
        Payload::Tensor(data)
    };
    Ok((schema::assemble(payload, model)?, ResponsePlan::Predict))
}

/// Encodes the first output as a bare JSON array, one entry per row.
pub fn encode(
    outputs: Vec<Tensor>,
    model: &ModelInfo,
    plan: &ResponsePlan,
) -> Result<Encoded, ApiError> {
    if !matches!(plan, ResponsePlan::Predict) {
        return Err(ApiError::Internal(
            "a /predict answer was asked for a request of another protocol".into(),
        ));
    }
    let Some(first) = outputs.first() else {
        return Err(ApiError::Internal(format!(
            "model {} returned no outputs",
            model.name
        )));
    };
    let mut out = Vec::with_capacity(16 + first.len() * 12);
    json::write_rows(&mut out, first);
    Ok(Encoded::json(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use homeml_flavor::{ColumnType, DType, IoSpec, Schema, Signature, TensorData};

    fn model(signature: Option<Signature>) -> ModelInfo {
        ModelInfo {
            name: "iris".into(),
            version: "1".into(),
            platform: "onnx".into(),
            inputs: vec![IoSpec::new("X", DType::F32, vec![-1, 2])],
            outputs: vec![
                IoSpec::new("label", DType::I64, vec![-1]),
                IoSpec::new("probabilities", DType::F32, vec![-1, 2]),
            ],
            signature,
        }
    }

    #[test]
    fn bare_rows_in_bare_labels_out() {
        let m = model(None);
        let (input, plan) = decode(None, b"[[1, 2], [3.5, 4]]", &m).unwrap();
        assert_eq!(input.rows, 2);
        assert_eq!(
            input.tensors[0].data(),
            &TensorData::F32(vec![1.0, 2.0, 3.5, 4.0])
        );
        let outputs = vec![
            Tensor::new(vec![2], TensorData::I64(vec![1, 0])).unwrap(),
            Tensor::f32_matrix(2, 2, vec![0.1, 0.9, 0.8, 0.2]).unwrap(),
        ];
        let e = encode(outputs, &m, &plan).unwrap();
        assert_eq!(&e.body[..], b"[1,0]");
        let reg = vec![Tensor::f32_matrix(2, 1, vec![1.5, f32::NAN]).unwrap()];
        assert_eq!(&encode(reg, &m, &plan).unwrap().body[..], b"[1.5,null]");
    }

    #[test]
    fn records_for_named_columns() {
        let sig = Signature {
            inputs: Some(Schema::columns(&["a", "b"], ColumnType::Double)),
            outputs: None,
            params: None,
        };
        let m = model(Some(sig));
        let (input, _) = decode(Some("application/json"), br#"[{"b": 2, "a": 1}]"#, &m).unwrap();
        assert_eq!(input.tensors[0].data(), &TensorData::F32(vec![1.0, 2.0]));
        let e = decode(None, br#"[{"a": 1}]"#, &m).unwrap_err();
        assert!(e.to_string().contains("missing column \"b\""), "{e}");
    }

    #[test]
    fn errors() {
        let m = model(None);
        for body in [
            &b"{\"inputs\": 1}"[..],
            b"[1, 2]",
            b"nope",
            b"[[1, 2, 3]]",
            b"[[1], [2, 3]]",
        ] {
            let e = decode(None, body, &m).unwrap_err();
            assert!(matches!(e, ApiError::BadRequest(_)), "{e:?}");
        }
        let e = decode(Some("text/csv"), b"1,2", &m).unwrap_err();
        assert!(matches!(e, ApiError::UnsupportedMediaType(_)));
    }
}
