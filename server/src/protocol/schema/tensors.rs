//! The tensor signature path (or no signature): matching tensors to the model's inputs, converting them
//! to the inputs' dtypes and checking their shapes.

use homeml_flavor::{Schema, Tensor};

use super::columns::{column_as_1d, interleave, names_list};
use super::payload::{Data, Payload, Values};
use crate::error::ApiError;
use crate::protocol::{InferInput, ModelInfo};

/// True when `actual` fits `expected` (-1 = any), i.e. when [`check_shape`] passes.
fn shape_fits(expected: &[i64], actual: &[usize]) -> bool {
    expected.len() == actual.len()
        && expected
            .iter()
            .zip(actual)
            .all(|(&e, &a)| e < 0 || e as usize == a)
}

/// Checks a tensor's shape against a spec (-1 = any); errors name the input and dimension.
pub fn check_shape(what: &str, expected: &[i64], actual: &[usize]) -> Result<(), ApiError> {
    if expected.len() != actual.len() {
        return Err(ApiError::BadRequest(format!(
            "{what}: expected {} dimensions (shape {expected:?}), got {} (shape {actual:?})",
            expected.len(),
            actual.len()
        )));
    }
    for (d, (&e, &a)) in expected.iter().zip(actual).enumerate() {
        if e >= 0 && e as usize != a {
            return Err(ApiError::BadRequest(format!(
                "{what}: dimension {d} must be {e} (shape {expected:?}), got {a} (shape {actual:?})"
            )));
        }
    }
    Ok(())
}

/// The signature's tensor specs, when they line up one-to-one with the model's inputs.
fn tensor_signature(model: &ModelInfo) -> Option<&[homeml_flavor::TensorSpec]> {
    match model.signature.as_ref()?.inputs.as_ref()? {
        Schema::Tensors(ts) if ts.len() == model.inputs.len() => Some(ts),
        _ => None,
    }
}

pub(super) fn assemble_tensors(
    payload: Payload<'_>,
    model: &ModelInfo,
) -> Result<InferInput, ApiError> {
    let inputs = &model.inputs;
    let sig = tensor_signature(model);
    let input_names = || names_list(inputs.iter().map(|s| s.name.clone()));
    let mut slots: Vec<Option<Data<'_>>> = vec![None; inputs.len()];
    match payload {
        Payload::Tensor(data) => {
            if inputs.len() != 1 {
                return Err(ApiError::BadRequest(format!(
                    "the model has {} inputs ({}): send them by name",
                    inputs.len(),
                    input_names()
                )));
            }
            slots[0] = Some(data);
        }
        Payload::Named(list) => {
            for (name, data) in list {
                let i = inputs
                    .iter()
                    .position(|s| s.name == name)
                    .or_else(|| {
                        sig.and_then(|ts| {
                            ts.iter()
                                .position(|t| t.name.as_deref() == Some(name.as_str()))
                        })
                    })
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "unknown input {name:?}; the model's inputs are: {}",
                            input_names()
                        ))
                    })?;
                if slots[i].is_some() {
                    return Err(ApiError::BadRequest(format!(
                        "input {name:?} is given twice"
                    )));
                }
                slots[i] = Some(data);
            }
        }
        Payload::Frame { columns, rows } => {
            if let [spec] = inputs.as_slice() {
                // MLflow's ONNX pyfunc feeds `DataFrame.values`: the columns in frame order.
                let n = columns.len();
                let what = format!("input {:?}", spec.name);
                let mut parts = Vec::with_capacity(n);
                for (j, c) in columns.into_iter().enumerate() {
                    let cwhat = match &c.name {
                        Some(name) => format!("column {name:?}"),
                        None => format!("column {j}"),
                    };
                    let d = column_as_1d(c.data, rows, &cwhat)?;
                    parts.push(d.into_tensor(spec.dtype, &cwhat)?.into_data());
                }
                let data = interleave(parts, spec.dtype, rows)?;
                let shape = if spec.shape.len() == 1 && n == 1 {
                    vec![rows]
                } else {
                    vec![rows, n]
                };
                slots[0] = Some(Data::typed(
                    Tensor::new(shape, data)
                        .map_err(|e| ApiError::BadRequest(format!("{what}: {e}")))?,
                ));
            } else {
                for c in columns {
                    let Some(name) = c.name else {
                        return Err(ApiError::BadRequest(format!(
                            "the model has {} inputs ({}): name the columns",
                            inputs.len(),
                            input_names()
                        )));
                    };
                    let i = inputs.iter().position(|s| s.name == name).ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "unknown column {name:?}; the model's inputs are: {}",
                            input_names()
                        ))
                    })?;
                    let what = format!("column {name:?}");
                    let d = column_as_1d(c.data, rows, &what)?;
                    let d = if inputs[i].shape.len() == 2 {
                        Data {
                            shape: vec![rows, 1],
                            values: d.values,
                        }
                    } else {
                        d
                    };
                    slots[i] = Some(d);
                }
            }
        }
    }
    let mut tensors = Vec::with_capacity(inputs.len());
    let mut rows: Option<usize> = None;
    for (i, (spec, slot)) in inputs.iter().zip(slots).enumerate() {
        // The input's name for messages, written only when one is needed (this is the hot path of every
        // tensor request).
        let what = || format!("input {:?}", spec.name);
        let data = slot.ok_or_else(|| ApiError::BadRequest(format!("missing {}", what())))?;
        if !shape_fits(&spec.shape, &data.shape) {
            check_shape(&what(), &spec.shape, &data.shape)?;
        }
        if let Some(ts) = sig {
            if !shape_fits(&ts[i].shape, &data.shape) {
                check_shape(&what(), &ts[i].shape, &data.shape)?;
            }
        }
        let t = match data.values {
            // Already of the input's dtype (V2, the direct decoder): nothing to convert.
            Values::Typed(t) if t.dtype() == spec.dtype => t,
            values => Data {
                shape: data.shape,
                values,
            }
            .into_tensor(spec.dtype, &what())?,
        };
        let r = if spec.shape.is_empty() { 1 } else { t.rows() };
        match rows {
            None => rows = Some(r),
            Some(prev) if prev != r => {
                return Err(ApiError::BadRequest(format!(
                    "{} has {r} rows where the other inputs have {prev}",
                    what()
                )))
            }
            Some(_) => {}
        }
        tensors.push(t);
    }
    Ok(InferInput {
        tensors,
        rows: rows.unwrap_or(0),
    })
}
