//! The checks and decoding of a V2 `infer` request's fields (`id`, `parameters`, `inputs`, `outputs`),
//! shared by the value path (fields of a parsed `serde_json::Value`) and the direct reader
//! ([`super::fast`], which hands over fields it read itself), so that both check alike.

use homeml_flavor::{DType, Tensor};
use serde_json::Value;

use super::binary;
use super::datatype::Datatype;
use crate::error::ApiError;
use crate::protocol::schema::{self, flatten, Data, Payload, Values};
use crate::protocol::{InferInput, ModelInfo, RequestedOutput, ResponsePlan, V2Plan};

/// True when values of `from` may be given to a model input of `to`.
fn convertible(from: DType, to: DType) -> bool {
    from == to
        || (to.is_float() && (from.is_float() || from.is_int() || from == DType::Bool))
        || (from == DType::I32 && to == DType::I64)
}

pub(crate) fn bool_param(
    params: Option<&Value>,
    key: &str,
    what: &str,
) -> Result<Option<bool>, ApiError> {
    match params.and_then(|p| p.get(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::InvalidParameter(format!(
            "{what}: parameter {key:?} must be a boolean"
        ))),
    }
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
