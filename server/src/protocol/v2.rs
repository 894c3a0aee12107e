//! KServe V2 / Open Inference Protocol over REST, with Triton's binary tensor extension ([`super::binary`]).
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

use bytes::Bytes;
use homeml_flavor::{DType, Tensor};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{json, Map, Value};

use super::binary::{self, HEADER_LENGTH};
use super::schema::{self, flatten, Data, Payload, Values};
use super::{json, Encoded, InferInput, ModelInfo, RequestedOutput, ResponsePlan, V2Plan, JSON};
use crate::error::ApiError;

/// A KServe V2 tensor datatype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datatype {
    /// BOOL
    Bool,
    /// UINT8
    Uint8,
    /// UINT16
    Uint16,
    /// UINT32
    Uint32,
    /// UINT64
    Uint64,
    /// INT8
    Int8,
    /// INT16
    Int16,
    /// INT32
    Int32,
    /// INT64
    Int64,
    /// FP16
    Fp16,
    /// BF16 (Triton)
    Bf16,
    /// FP32
    Fp32,
    /// FP64
    Fp64,
    /// BYTES
    Bytes,
}

impl Datatype {
    /// Parses a datatype name (`FP32`, ...).
    pub fn parse(name: &str) -> Option<Datatype> {
        Some(match name {
            "BOOL" => Datatype::Bool,
            "UINT8" => Datatype::Uint8,
            "UINT16" => Datatype::Uint16,
            "UINT32" => Datatype::Uint32,
            "UINT64" => Datatype::Uint64,
            "INT8" => Datatype::Int8,
            "INT16" => Datatype::Int16,
            "INT32" => Datatype::Int32,
            "INT64" => Datatype::Int64,
            "FP16" => Datatype::Fp16,
            "BF16" => Datatype::Bf16,
            "FP32" => Datatype::Fp32,
            "FP64" => Datatype::Fp64,
            "BYTES" => Datatype::Bytes,
            _ => return None,
        })
    }

    /// The datatype name.
    pub fn name(self) -> &'static str {
        match self {
            Datatype::Bool => "BOOL",
            Datatype::Uint8 => "UINT8",
            Datatype::Uint16 => "UINT16",
            Datatype::Uint32 => "UINT32",
            Datatype::Uint64 => "UINT64",
            Datatype::Int8 => "INT8",
            Datatype::Int16 => "INT16",
            Datatype::Int32 => "INT32",
            Datatype::Int64 => "INT64",
            Datatype::Fp16 => "FP16",
            Datatype::Bf16 => "BF16",
            Datatype::Fp32 => "FP32",
            Datatype::Fp64 => "FP64",
            Datatype::Bytes => "BYTES",
        }
    }

    /// Bytes per element in binary form (`None` for BYTES, which is length-prefixed).
    pub fn size(self) -> Option<usize> {
        Some(match self {
            Datatype::Bool | Datatype::Uint8 | Datatype::Int8 => 1,
            Datatype::Uint16 | Datatype::Int16 | Datatype::Fp16 | Datatype::Bf16 => 2,
            Datatype::Uint32 | Datatype::Int32 | Datatype::Fp32 => 4,
            Datatype::Uint64 | Datatype::Int64 | Datatype::Fp64 => 8,
            Datatype::Bytes => return None,
        })
    }

    /// The homeml dtype values of this datatype are read into.
    pub fn dtype(self) -> DType {
        match self {
            Datatype::Bool => DType::Bool,
            Datatype::Uint8
            | Datatype::Uint16
            | Datatype::Int8
            | Datatype::Int16
            | Datatype::Int32 => DType::I32,
            Datatype::Uint32 | Datatype::Uint64 | Datatype::Int64 => DType::I64,
            Datatype::Fp16 | Datatype::Bf16 | Datatype::Fp32 => DType::F32,
            Datatype::Fp64 => DType::F64,
            Datatype::Bytes => DType::String,
        }
    }
}

/// True when values of `from` may be given to a model input of `to`.
fn convertible(from: DType, to: DType) -> bool {
    from == to
        || (to.is_float() && (from.is_float() || from.is_int() || from == DType::Bool))
        || (from == DType::I32 && to == DType::I64)
}

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

fn bool_param(params: Option<&Value>, key: &str, what: &str) -> Result<Option<bool>, ApiError> {
    match params.and_then(|p| p.get(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::InvalidParameter(format!(
            "{what}: parameter {key:?} must be a boolean"
        ))),
    }
}

/// Decodes an `infer` request for `model`.
///
/// The common numeric requests are read directly into typed tensors ([`super::fast`]); the rest, and
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
    if let Some(decoded) = super::fast::try_v2(json_part, binary_part, model) {
        return Ok(decoded);
    }
    decode_infer_value(json_part, binary_part, model)
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

/// A request's `inputs`: a parsed JSON value, or the inputs the direct decoder read.
pub(crate) enum InputList<'a> {
    /// The `inputs` value as parsed (checked to be a list of objects here).
    Json(&'a Value),
    /// One entry per input object.
    Fields(Vec<InputFields<'a>>),
}

/// The fields of one input object.
pub(crate) struct InputFields<'a> {
    /// `name`.
    pub(crate) name: Option<&'a Value>,
    /// `shape`.
    pub(crate) shape: Option<&'a Value>,
    /// `datatype`.
    pub(crate) datatype: Option<&'a Value>,
    /// `parameters`.
    pub(crate) parameters: Option<&'a Value>,
    /// `data`.
    pub(crate) data: InputData<'a>,
}

/// An input's `data`.
pub(crate) enum InputData<'a> {
    /// No `data` key.
    Absent,
    /// `data` as parsed JSON.
    Json(&'a Value),
    /// `data` read directly as the elements of the input's datatype (row-major).
    Decoded(homeml_flavor::TensorData),
}

/// Checks a request's fields and decodes its inputs (the part shared by the value path and the direct
/// decoder, so both check alike).
pub(crate) fn decode_request(
    id: Option<&Value>,
    parameters: Option<&Value>,
    inputs: Option<InputList<'_>>,
    outputs: Option<&Value>,
    mut binary_part: &[u8],
    model: &ModelInfo,
) -> Result<(InferInput, ResponsePlan), ApiError> {
    let id = match id {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ApiError::BadRequest("`id` must be a string".into())),
    };
    let params = match parameters {
        None | Some(Value::Null) => None,
        Some(p @ Value::Object(_)) => Some(p),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "`parameters` must be an object".into(),
            ))
        }
    };
    let binary_default = bool_param(params, "binary_data_output", "request")?.unwrap_or(false);
    let no_inputs = || ApiError::BadRequest("`inputs` must be a list of tensors".into());
    let mut named: Vec<(String, Data<'_>)> = Vec::new();
    match inputs.ok_or_else(no_inputs)? {
        InputList::Json(Value::Array(inputs)) => {
            named.reserve(inputs.len());
            for (k, input) in inputs.iter().enumerate() {
                let Value::Object(obj) = input else {
                    return Err(ApiError::BadRequest(format!("input {k} is not an object")));
                };
                let fields = InputFields {
                    name: obj.get("name"),
                    shape: obj.get("shape"),
                    datatype: obj.get("datatype"),
                    parameters: obj.get("parameters"),
                    data: obj.get("data").map_or(InputData::Absent, InputData::Json),
                };
                named.push(decode_input(fields, k, &mut binary_part, model)?);
            }
        }
        InputList::Json(_) => return Err(no_inputs()),
        InputList::Fields(list) => {
            named.reserve(list.len());
            for (k, fields) in list.into_iter().enumerate() {
                named.push(decode_input(fields, k, &mut binary_part, model)?);
            }
        }
    }
    if !binary_part.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "{} bytes of binary data after the inputs' binary_data_size",
            binary_part.len()
        )));
    }
    let outputs = match outputs {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => Some(
            list.iter()
                .map(|o| requested_output(o, model, binary_default))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err(ApiError::BadRequest("`outputs` must be a list".into())),
    };
    let input = schema::assemble(Payload::Named(named), model)?;
    Ok((
        input,
        ResponsePlan::V2(V2Plan {
            id,
            outputs,
            binary_default,
        }),
    ))
}

fn decode_input<'a>(
    fields: InputFields<'_>,
    k: usize,
    binary_part: &mut &[u8],
    model: &ModelInfo,
) -> Result<(String, Data<'a>), ApiError> {
    let name = match fields.name {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(ApiError::BadRequest(format!("input {k} has no `name`"))),
    };
    let what = InputName(&name);
    let shape: Vec<usize> = match fields.shape {
        Some(Value::Array(dims)) => dims
            .iter()
            .map(|d| {
                d.as_u64()
                    .and_then(|d| usize::try_from(d).ok())
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "{what}: shape entries must be non-negative integers"
                        ))
                    })
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(ApiError::BadRequest(format!("{what} has no `shape` list"))),
    };
    let datatype = match fields.datatype {
        Some(Value::String(s)) => Datatype::parse(s)
            .ok_or_else(|| ApiError::BadRequest(format!("{what}: unknown datatype {s:?}")))?,
        _ => return Err(ApiError::BadRequest(format!("{what} has no `datatype`"))),
    };
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| ApiError::BadRequest(format!("{what}: shape {shape:?} is too large")))?;
    // The model input (or signature column) the data will go to, for the datatype check.
    let target = model
        .inputs
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.dtype)
        .or_else(|| column_dtype(model, &name));
    if let Some(to) = target {
        if !convertible(datatype.dtype(), to) {
            return Err(ApiError::BadRequest(format!(
                "{what}: datatype {} does not match the model's {}",
                datatype.name(),
                to.v2_name()
            )));
        }
    }
    let params = fields.parameters;
    let binary_size = match params.and_then(|p| p.get("binary_data_size")) {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    ApiError::InvalidParameter(format!(
                        "{what}: binary_data_size must be a non-negative integer"
                    ))
                })?,
        ),
    };
    let tensor = if let Some(size) = binary_size {
        if !matches!(fields.data, InputData::Absent) {
            return Err(ApiError::BadRequest(format!(
                "{what} has both `data` and binary_data_size"
            )));
        }
        if size > binary_part.len() {
            return Err(ApiError::BadRequest(format!(
                "{what}: binary_data_size {size} exceeds the {} bytes of binary data left",
                binary_part.len()
            )));
        }
        let (mine, rest) = binary_part.split_at(size);
        *binary_part = rest;
        binary::decode_tensor(datatype, &shape, mine, &what.to_string())?
    } else {
        let values = match fields.data {
            InputData::Absent => return Err(ApiError::BadRequest(format!("{what} has no `data`"))),
            InputData::Json(data) => {
                let what = what.to_string();
                let flat = flatten(data, &what)?;
                let Values::Cells(cells) = flat.values else {
                    return Err(ApiError::Internal("flatten returned typed data".into()));
                };
                if cells.len() != count {
                    return Err(ApiError::BadRequest(format!(
                        "{what}: shape {shape:?} needs {count} values, `data` has {}",
                        cells.len()
                    )));
                }
                schema::convert_cells(&cells, datatype.dtype(), &what)?
            }
            InputData::Decoded(values) => {
                if values.dtype() != datatype.dtype() {
                    return Err(ApiError::Internal(format!(
                        "{what}: data read as {} for datatype {}",
                        values.dtype(),
                        datatype.name()
                    )));
                }
                if values.len() != count {
                    return Err(ApiError::BadRequest(format!(
                        "{what}: shape {shape:?} needs {count} values, `data` has {}",
                        values.len()
                    )));
                }
                values
            }
        };
        check_range(datatype, &values, &what)?;
        Tensor::new(shape, values)?
    };
    Ok((name, Data::typed(tensor)))
}

/// An input's name as messages show it (`input "X"`), written only when a message is.
struct InputName<'a>(&'a str);

impl std::fmt::Display for InputName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "input {:?}", self.0)
    }
}

/// Refuses JSON values outside a small integer datatype's range.
fn check_range(
    datatype: Datatype,
    values: &homeml_flavor::TensorData,
    what: &dyn std::fmt::Display,
) -> Result<(), ApiError> {
    let (lo, hi): (i64, i64) = match datatype {
        Datatype::Uint8 => (0, u8::MAX as i64),
        Datatype::Int8 => (i8::MIN as i64, i8::MAX as i64),
        Datatype::Uint16 => (0, u16::MAX as i64),
        Datatype::Int16 => (i16::MIN as i64, i16::MAX as i64),
        Datatype::Uint32 => (0, u32::MAX as i64),
        Datatype::Uint64 => (0, i64::MAX),
        _ => return Ok(()),
    };
    let bad = match values {
        homeml_flavor::TensorData::I32(v) => {
            v.iter().map(|&x| x as i64).find(|x| *x < lo || *x > hi)
        }
        homeml_flavor::TensorData::I64(v) => v.iter().copied().find(|x| *x < lo || *x > hi),
        _ => None,
    };
    match bad {
        Some(x) => Err(ApiError::BadRequest(format!(
            "{what}: {x} is out of the range of {}",
            datatype.name()
        ))),
        None => Ok(()),
    }
}

fn column_dtype(model: &ModelInfo, name: &str) -> Option<DType> {
    match model.signature.as_ref()?.inputs.as_ref()? {
        homeml_flavor::Schema::Columns(cols) => cols
            .iter()
            .find(|c| c.name.as_deref() == Some(name))
            .and_then(|c| c.ty.dtype()),
        _ => None,
    }
}

fn requested_output(
    o: &Value,
    model: &ModelInfo,
    binary_default: bool,
) -> Result<RequestedOutput, ApiError> {
    let name = match o.get("name") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(ApiError::BadRequest(
                "each requested output needs a `name`".into(),
            ))
        }
    };
    if !model.outputs.iter().any(|s| s.name == name) {
        return Err(ApiError::BadRequest(format!(
            "unknown output {name:?}; the model's outputs are: {}",
            model
                .outputs
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let what = format!("output {name:?}");
    let params = o.get("parameters");
    if let Some(n) = params
        .and_then(|p| p.get("class_count"))
        .and_then(Value::as_u64)
    {
        if n > 0 {
            return Err(ApiError::InvalidParameter(format!(
                "{what}: the classification extension (class_count) is not supported"
            )));
        }
    }
    let binary = bool_param(params, "binary_data", &what)?.unwrap_or(binary_default);
    Ok(RequestedOutput { name, binary })
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
    use homeml_flavor::{ColumnType, IoSpec, Schema, Signature, TensorData};

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
