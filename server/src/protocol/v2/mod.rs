//! KServe V2 / Open Inference Protocol over REST, with Triton's binary tensor extension ([`binary`]).
//!
//! `infer` requests: `{"id", "parameters", "inputs": [{"name", "shape", "datatype", "data" | parameters
//! {"binary_data_size"}}], "outputs": [{"name", "parameters": {"binary_data"}}]}`. `data` may be flat
//! (row-major) or nested. Datatypes: BOOL, UINT8..64, INT8..64, FP16 and BF16 (converted to FP32),
//! FP32, FP64, BYTES (UTF-8 text). An input's datatype must convert to the model's without loss of kind:
//! integers and booleans widen to floats, INT32 to INT64, and FP64 narrows to FP32 (what MLflow's ONNX
//! pyfunc does too); floats never become integers and text never becomes numbers. Inputs are matched
//! by name to the model's inputs, or, for models with a named-column signature, to the columns.
//!
//! Answers: `{"model_name", "model_version", "id", "outputs": [{"name", "datatype", "shape", "data"}]}`
//! with flat `data`, or binary outputs after the JSON. Non-finite floats in JSON `data` are encoded as
//! described in [`super::json`].
//!
//! Layout: [`datatype`] (the datatypes), [`request`] (checking and decoding a request's fields),
//! [`fast`] (the direct reader of the common numeric requests), [`binary`] (Triton's binary tensors).

use bytes::Bytes;
use homeml_flavor::Tensor;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::protocol::{json, Encoded, InferInput, ModelInfo, ResponsePlan, JSON};

pub mod binary;
pub mod datatype;
pub(crate) mod fast;
pub(crate) mod request;

pub use datatype::Datatype;

use binary::HEADER_LENGTH;
use request::{decode_request, InputList};

fn header_length(headers: &HeaderMap, body_len: usize) -> Result<Option<usize>, ApiError> {
    let Some(v) = headers.get(HEADER_LENGTH) else {
        return Ok(None);
    };
    let n = v
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .ok_or_else(|| {
            ApiError::BadRequest("Inference-Header-Content-Length is not a number".into())
        })?;
    if n > body_len {
        return Err(ApiError::BadRequest(format!(
            "Inference-Header-Content-Length {n} exceeds the body's {body_len} bytes"
        )));
    }
    Ok(Some(n))
}

/// Decodes an `infer` request for `model`.
///
/// The common numeric requests are read directly into typed tensors ([`try_v2`]); the rest, and
/// every request with an error, go through a parsed `serde_json::Value`.
pub fn decode_infer(
    headers: &HeaderMap,
    body: &[u8],
    model: &ModelInfo,
) -> Result<(InferInput, ResponsePlan), ApiError> {
    let json_len = header_length(headers, body.len())?;
    let (json_part, binary_part) = match json_len {
        Some(n) => body.split_at(n),
        None => (body, &[][..]),
    };
    if let Some(decoded) = try_v2(json_part, binary_part, model) {
        return Ok(decoded);
    }
    decode_infer_value(json_part, binary_part, model)
}

/// A V2 `infer` request whose inputs are JSON numeric tensors (or binary tensors) that the direct
/// reader ([`fast`]) reads, decoded and checked as [`decode_infer_value`] decodes it; `json` is the JSON
/// part of the body and `binary` what follows it. `None` leaves the request to the value path (which
/// then writes any error message).
pub fn try_v2(json: &[u8], binary: &[u8], model: &ModelInfo) -> Option<(InferInput, ResponsePlan)> {
    let req = fast::read(json, binary)?;
    let mut inputs = req.inputs?;
    let fields = fast::fields(&mut inputs);
    decode_request(
        req.id.as_ref(),
        req.parameters.as_ref(),
        Some(InputList::Fields(fields)),
        req.outputs.as_ref(),
        binary,
        model,
    )
    .ok()
}

/// Decodes an `infer` request through a parsed `serde_json::Value` (the reference path, which writes
/// every error message).
pub(crate) fn decode_infer_value(
    json_part: &[u8],
    binary_part: &[u8],
    model: &ModelInfo,
) -> Result<(InferInput, ResponsePlan), ApiError> {
    let value: Value = serde_json::from_slice(json_part).map_err(|e| {
        ApiError::BadRequest(format!("the inference request is not valid JSON: {e}"))
    })?;
    let Value::Object(req) = &value else {
        return Err(ApiError::BadRequest(
            "the inference request must be a JSON object".into(),
        ));
    };
    decode_request(
        req.get("id"),
        req.get("parameters"),
        req.get("inputs").map(InputList::Json),
        req.get("outputs"),
        binary_part,
        model,
    )
}

/// Encodes the model's outputs as a V2 `infer` answer (binary outputs after the JSON when asked).
pub fn encode_infer(
    outputs: Vec<Tensor>,
    model: &ModelInfo,
    plan: &ResponsePlan,
) -> Result<Encoded, ApiError> {
    let ResponsePlan::V2(plan) = plan else {
        return Err(ApiError::Internal(
            "a V2 answer was asked for a request of another protocol".into(),
        ));
    };
    let index = |name: &str| model.outputs.iter().position(|s| s.name == name);
    let chosen: Vec<(usize, bool)> = match &plan.outputs {
        Some(list) => list
            .iter()
            .map(|o| {
                index(&o.name)
                    .map(|i| (i, o.binary))
                    .ok_or_else(|| ApiError::BadRequest(format!("unknown output {:?}", o.name)))
            })
            .collect::<Result<_, _>>()?,
        None => (0..outputs.len())
            .map(|i| (i, plan.binary_default))
            .collect(),
    };
    let mut out = Vec::with_capacity(128 + outputs.iter().map(|t| t.len() * 12).sum::<usize>());
    let mut bin = Vec::new();
    out.extend_from_slice(b"{\"model_name\":");
    json::write_str(&mut out, &model.name);
    out.extend_from_slice(b",\"model_version\":");
    json::write_str(&mut out, &model.version);
    if let Some(id) = &plan.id {
        out.extend_from_slice(b",\"id\":");
        json::write_str(&mut out, id);
    }
    out.extend_from_slice(b",\"outputs\":[");
    for (k, (i, binary)) in chosen.iter().enumerate() {
        let t = outputs
            .get(*i)
            .ok_or_else(|| ApiError::Internal(format!("the model returned no output {i}")))?;
        if k > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"name\":");
        let name = model
            .outputs
            .get(*i)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| format!("output_{i}"));
        json::write_str(&mut out, &name);
        out.extend_from_slice(b",\"datatype\":\"");
        out.extend_from_slice(t.dtype().v2_name().as_bytes());
        out.extend_from_slice(b"\",\"shape\":");
        let _ = serde_json::to_writer(&mut out, t.shape());
        if *binary {
            let before = bin.len();
            binary::encode_tensor(t, &mut bin);
            out.extend_from_slice(b",\"parameters\":{\"binary_data_size\":");
            let _ = serde_json::to_writer(&mut out, &(bin.len() - before));
            out.push(b'}');
        } else {
            out.extend_from_slice(b",\"data\":");
            json::write_flat(&mut out, t);
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    if bin.is_empty() && !chosen.iter().any(|(_, b)| *b) {
        return Ok(Encoded::json(out));
    }
    let json_len = out.len();
    out.extend_from_slice(&bin);
    Ok(Encoded {
        status: StatusCode::OK,
        content_type: "application/octet-stream",
        body: Bytes::from(out),
        headers: vec![(
            HeaderName::from_static(HEADER_LENGTH),
            HeaderValue::from(json_len),
        )],
    })
}

/// `GET /v2`: server metadata with the extensions the server supports.
pub fn server_metadata(extensions: &[&str]) -> Encoded {
    Encoded::json_value(&json!({
        "name": "homeml",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": extensions,
    }))
}

fn io_json(spec: &homeml_flavor::IoSpec) -> Value {
    json!({"name": spec.name, "datatype": spec.dtype.v2_name(), "shape": spec.shape})
}

/// `GET /v2/models/{m}[/versions/{v}]`: model metadata.
pub fn model_metadata(model: &ModelInfo) -> Encoded {
    Encoded::json_value(&json!({
        "name": model.name,
        "versions": [model.version],
        "platform": model.platform,
        "inputs": model.inputs.iter().map(io_json).collect::<Vec<_>>(),
        "outputs": model.outputs.iter().map(io_json).collect::<Vec<_>>(),
    }))
}

/// `POST /v2/repository/index`: `(name, version, state, reason)` per model; an empty reason is left out.
pub fn repository_index(models: &[(String, String, String, String)]) -> Encoded {
    let list: Vec<Value> = models
        .iter()
        .map(|(name, version, state, reason)| {
            let mut m = Map::new();
            m.insert("name".into(), json!(name));
            m.insert("version".into(), json!(version));
            m.insert("state".into(), json!(state));
            if !reason.is_empty() {
                m.insert("reason".into(), json!(reason));
            }
            Value::Object(m)
        })
        .collect();
    Encoded {
        status: StatusCode::OK,
        content_type: JSON,
        body: Bytes::from(Value::Array(list).to_string()),
        headers: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use homeml_flavor::{ColumnType, DType, IoSpec, Schema, Signature, TensorData};

    fn model() -> ModelInfo {
        ModelInfo {
            name: "iris".into(),
            version: "3".into(),
            platform: "onnx".into(),
            inputs: vec![IoSpec::new("X", DType::F32, vec![-1, 2])],
            outputs: vec![
                IoSpec::new("label", DType::I64, vec![-1]),
                IoSpec::new("probabilities", DType::F32, vec![-1, 2]),
            ],
            signature: None,
        }
    }

    fn decode(body: &str) -> Result<(InferInput, ResponsePlan), ApiError> {
        decode_infer(&HeaderMap::new(), body.as_bytes(), &model())
    }

    fn outputs() -> Vec<Tensor> {
        vec![
            Tensor::new(vec![2], TensorData::I64(vec![1, 0])).unwrap(),
            Tensor::f32_matrix(2, 2, vec![0.25, 0.75, f32::NAN, 0.5]).unwrap(),
        ]
    }

    #[test]
    fn json_inputs_flat_or_nested_with_id_echo() {
        for data in ["[1, 2, 3, 4]", "[[1, 2], [3, 4]]"] {
            let body = format!(
                r#"{{"id": "req-1", "inputs": [{{"name": "X", "shape": [2, 2], "datatype": "FP32", "data": {data}}}]}}"#
            );
            let (input, plan) = decode(&body).unwrap();
            assert_eq!(input.rows, 2);
            assert_eq!(
                input.tensors[0].data(),
                &TensorData::F32(vec![1.0, 2.0, 3.0, 4.0])
            );
            let ResponsePlan::V2(p) = &plan else { panic!() };
            assert_eq!(p.id.as_deref(), Some("req-1"));
            let e = encode_infer(outputs(), &model(), &plan).unwrap();
            assert_eq!(e.status, 200);
            assert!(e.headers.is_empty());
            let v: Value = serde_json::from_slice(&e.body).unwrap();
            assert_eq!(
                v,
                json!({"model_name": "iris", "model_version": "3", "id": "req-1", "outputs": [
                    {"name": "label", "datatype": "INT64", "shape": [2], "data": [1, 0]},
                    {"name": "probabilities", "datatype": "FP32", "shape": [2, 2], "data": [0.25, 0.75, null, 0.5]}
                ]})
            );
        }
    }

    #[test]
    fn int_and_fp64_inputs_convert_but_bytes_do_not() {
        let (input, _) = decode(
            r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "INT64", "data": [1, 2]}]}"#,
        )
        .unwrap();
        assert_eq!(input.tensors[0].data(), &TensorData::F32(vec![1.0, 2.0]));
        let (input, _) = decode(
            r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP64", "data": [1.5, 2]}]}"#,
        )
        .unwrap();
        assert_eq!(input.tensors[0].data(), &TensorData::F32(vec![1.5, 2.0]));
        let e = decode(r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "BYTES", "data": ["a", "b"]}]}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("BYTES does not match the model's FP32"),
            "{e}"
        );
        let e = decode(
            r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP17", "data": [1, 2]}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown datatype"), "{e}");
        let e = decode(r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "UINT8", "data": [1, 300]}]}"#).unwrap_err();
        assert!(e.to_string().contains("out of the range of UINT8"), "{e}");
        let e = decode(r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "INT64", "data": [1, 2.5]}]}"#).unwrap_err();
        assert!(e.to_string().contains("integer"), "{e}");
    }

    #[test]
    fn shape_errors_name_the_dimension() {
        let e = decode(r#"{"inputs": [{"name": "X", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}"#).unwrap_err();
        assert!(
            e.to_string().contains("input \"X\": dimension 1 must be 2"),
            "{e}"
        );
        let e = decode(r#"{"inputs": [{"name": "X", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3]}]}"#).unwrap_err();
        assert!(e.to_string().contains("needs 4 values"), "{e}");
        let e = decode(
            r#"{"inputs": [{"name": "X", "shape": [-1, 2], "datatype": "FP32", "data": [1, 2]}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("non-negative"), "{e}");
        let e = decode(
            r#"{"inputs": [{"name": "Y", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown input \"Y\""), "{e}");
        let e = decode(r#"{"inputs": []}"#).unwrap_err();
        assert!(e.to_string().contains("missing input \"X\""), "{e}");
        for bad in [
            r#"{}"#,
            r#"[]"#,
            "nope",
            r#"{"inputs": [{"shape": [1], "datatype": "FP32", "data": [1]}]}"#,
            r#"{"id": 5, "inputs": []}"#,
        ] {
            assert!(
                matches!(decode(bad).unwrap_err(), ApiError::BadRequest(_)),
                "{bad}"
            );
        }
    }

    #[test]
    fn requested_outputs_select_and_order() {
        let (_, plan) = decode(
            r#"{"inputs": [{"name": "X", "shape": [2, 2], "datatype": "FP32", "data": [1,2,3,4]}], "outputs": [{"name": "probabilities"}]}"#,
        )
        .unwrap();
        let v: Value =
            serde_json::from_slice(&encode_infer(outputs(), &model(), &plan).unwrap().body)
                .unwrap();
        assert_eq!(v["outputs"].as_array().unwrap().len(), 1);
        assert_eq!(v["outputs"][0]["name"], "probabilities");
        assert!(v.get("id").is_none());
        let e = decode(
            r#"{"inputs": [{"name": "X", "shape": [2, 2], "datatype": "FP32", "data": [1,2,3,4]}], "outputs": [{"name": "nope"}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown output \"nope\""), "{e}");
        let e = decode(
            r#"{"inputs": [{"name": "X", "shape": [2, 2], "datatype": "FP32", "data": [1,2,3,4]}], "outputs": [{"name": "label", "parameters": {"class_count": 2}}]}"#,
        )
        .unwrap_err();
        assert!(matches!(e, ApiError::InvalidParameter(_)));
    }

    #[test]
    fn binary_inputs_and_outputs() {
        let json_part = r#"{"inputs": [{"name": "X", "shape": [2, 2], "datatype": "FP32", "parameters": {"binary_data_size": 16}}], "outputs": [{"name": "label", "parameters": {"binary_data": true}}, {"name": "probabilities", "parameters": {"binary_data": false}}]}"#;
        let mut body = json_part.as_bytes().to_vec();
        for x in [1.0f32, 2.0, 3.0, 4.0] {
            body.extend_from_slice(&x.to_le_bytes());
        }
        let mut headers = HeaderMap::new();
        headers.insert(HEADER_LENGTH, HeaderValue::from(json_part.len()));
        let (input, plan) = decode_infer(&headers, &body, &model()).unwrap();
        assert_eq!(
            input.tensors[0].data(),
            &TensorData::F32(vec![1.0, 2.0, 3.0, 4.0])
        );
        let e = encode_infer(outputs(), &model(), &plan).unwrap();
        assert_eq!(e.content_type, "application/octet-stream");
        let (hname, hval) = &e.headers[0];
        assert_eq!(hname.as_str(), HEADER_LENGTH);
        let n: usize = hval.to_str().unwrap().parse().unwrap();
        let v: Value = serde_json::from_slice(&e.body[..n]).unwrap();
        assert_eq!(v["outputs"][0]["parameters"]["binary_data_size"], 16);
        assert!(v["outputs"][0].get("data").is_none());
        assert_eq!(v["outputs"][1]["data"], json!([0.25, 0.75, null, 0.5]));
        let tail = &e.body[n..];
        assert_eq!(tail.len(), 16);
        assert_eq!(i64::from_le_bytes(tail[..8].try_into().unwrap()), 1);
        // Too few or too many binary bytes are client errors.
        let e = decode_infer(&headers, &body[..body.len() - 4], &model()).unwrap_err();
        assert!(e.to_string().contains("exceeds"), "{e}");
        let mut longer = body.clone();
        longer.push(0);
        let e = decode_infer(&headers, &longer, &model()).unwrap_err();
        assert!(e.to_string().contains("1 bytes of binary data"), "{e}");
        let mut bad = HeaderMap::new();
        bad.insert(HEADER_LENGTH, HeaderValue::from_static("x"));
        assert!(decode_infer(&bad, &body, &model()).is_err());
        bad.insert(HEADER_LENGTH, HeaderValue::from(body.len() + 1));
        assert!(decode_infer(&bad, &body, &model()).is_err());
    }

    #[test]
    fn binary_data_output_makes_all_outputs_binary() {
        let (_, plan) = decode(
            r#"{"parameters": {"binary_data_output": true}, "inputs": [{"name": "X", "shape": [2, 2], "datatype": "FP32", "data": [1,2,3,4]}]}"#,
        )
        .unwrap();
        let e = encode_infer(outputs(), &model(), &plan).unwrap();
        let n: usize = e.headers[0].1.to_str().unwrap().parse().unwrap();
        assert_eq!(e.body.len() - n, 16 + 16);
        let e = decode(r#"{"parameters": {"binary_data_output": 1}, "inputs": []}"#).unwrap_err();
        assert!(matches!(e, ApiError::InvalidParameter(_)));
    }

    #[test]
    fn inputs_named_after_signature_columns() {
        let mut m = model();
        m.signature = Some(Signature {
            inputs: Some(Schema::columns(&["a", "b"], ColumnType::Double)),
            outputs: None,
            params: None,
        });
        let body = r#"{"inputs": [{"name": "b", "shape": [2], "datatype": "FP64", "data": [2, 4]}, {"name": "a", "shape": [2, 1], "datatype": "INT64", "data": [1, 3]}]}"#;
        let (input, _) = decode_infer(&HeaderMap::new(), body.as_bytes(), &m).unwrap();
        assert_eq!(
            input.tensors[0].data(),
            &TensorData::F32(vec![1.0, 2.0, 3.0, 4.0])
        );
        let body =
            r#"{"inputs": [{"name": "a", "shape": [2], "datatype": "FP64", "data": [2, 4]}]}"#;
        let e = decode_infer(&HeaderMap::new(), body.as_bytes(), &m).unwrap_err();
        assert!(e.to_string().contains("missing column \"b\""), "{e}");
        // The model's own input, as the metadata lists it, is accepted too and checked by shape.
        let body = r#"{"inputs": [{"name": "X", "shape": [2, 2], "datatype": "FP64", "data": [1, 2, 3, 4]}]}"#;
        let (input, _) = decode_infer(&HeaderMap::new(), body.as_bytes(), &m).unwrap();
        assert_eq!(
            input.tensors[0].data(),
            &TensorData::F32(vec![1.0, 2.0, 3.0, 4.0])
        );
        let body = r#"{"inputs": [{"name": "X", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]}"#;
        assert!(decode_infer(&HeaderMap::new(), body.as_bytes(), &m).is_err());
    }

    #[test]
    fn metadata_documents() {
        let v: Value = serde_json::from_slice(&model_metadata(&model()).body).unwrap();
        assert_eq!(
            v,
            json!({"name": "iris", "versions": ["3"], "platform": "onnx",
                "inputs": [{"name": "X", "datatype": "FP32", "shape": [-1, 2]}],
                "outputs": [{"name": "label", "datatype": "INT64", "shape": [-1]},
                            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]}]})
        );
        let v: Value =
            serde_json::from_slice(&server_metadata(&["binary_tensor_data"]).body).unwrap();
        assert_eq!(v["name"], "homeml");
        assert_eq!(v["extensions"], json!(["binary_tensor_data"]));
        let idx = repository_index(&[
            ("iris".into(), "3".into(), "READY".into(), String::new()),
            (
                "big".into(),
                "1".into(),
                "UNAVAILABLE".into(),
                "load failed".into(),
            ),
        ]);
        let v: Value = serde_json::from_slice(&idx.body).unwrap();
        assert_eq!(
            v,
            json!([{"name": "iris", "version": "3", "state": "READY"},
                   {"name": "big", "version": "1", "state": "UNAVAILABLE", "reason": "load failed"}])
        );
    }
}
