//! The bridge from `homeml-numjson`'s typed buffers to tensors, shared by the direct readers of the
//! protocols (`mlflow::fast`, `predict`, `v2::fast`): which model dtypes are read directly, a buffer as
//! tensor data, and the unnamed tensor of MLflow `inputs`/`instances` and `/predict` bodies.
//!
//! The protocols' contract for a direct reader: it answers only for a request the value path (through a
//! parsed `serde_json::Value`) accepts, with an equal result; for anything else it gives up and the
//! value path runs, which also writes every error message.

use homeml_flavor::{DType, Tensor, TensorData};
use homeml_numjson::{Buffer, Kind};

use super::schema::{self, Data, Payload};
use super::ModelInfo;

/// The buffer kind a model dtype is read into directly (`None`: booleans and strings, left to the value
/// path).
pub(crate) fn kind(dtype: DType) -> Option<Kind> {
    Some(match dtype {
        DType::F32 => Kind::F32,
        DType::F64 => Kind::F64,
        DType::I32 => Kind::I32,
        DType::I64 => Kind::I64,
        DType::Bool | DType::String => return None,
    })
}

/// A typed buffer as tensor data (`None` for raw numbers, which must be converted first).
pub(crate) fn tensor_data(buf: Buffer) -> Option<TensorData> {
    Some(match buf {
        Buffer::F32(v) => TensorData::F32(v),
        Buffer::F64(v) => TensorData::F64(v),
        Buffer::I32(v) => TensorData::I32(v),
        Buffer::I64(v) => TensorData::I64(v),
        Buffer::Raw(_) => return None,
    })
}

/// The element kind the value path converts an unnamed list to for `model` (through the model's one
/// input, or a named-column signature whose columns share one type), when the direct reader reads it.
pub(crate) fn unnamed_kind(model: &ModelInfo) -> Option<Kind> {
    let dtype = match schema::column_signature(model) {
        Some(cols) => {
            let first = cols.first()?.ty.dtype()?;
            if !cols.iter().all(|c| c.ty.dtype() == Some(first)) {
                return None;
            }
            first
        }
        None => match model.inputs.as_slice() {
            [spec] => spec.dtype,
            _ => return None,
        },
    };
    kind(dtype)
}

/// An unnamed tensor read directly, as the value path's `flatten` + `convert_cells` would give it.
pub(crate) fn unnamed_payload(shape: Vec<usize>, buf: Buffer) -> Option<Payload<'static>> {
    let t = Tensor::new(shape, tensor_data(buf)?).ok()?;
    Some(Payload::Tensor(Data::typed(t)))
}
