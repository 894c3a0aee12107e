//! Signature enforcement: turning decoded request data into the model's input tensors.
//!
//! The protocol decoders produce a [`Payload`] (a frame of columns, one unnamed tensor, or named
//! tensors); [`assemble`] checks it against the model and builds an [`InferInput`]:
//!
//! - **Named-column signature** (MLflow column schema, e.g. from `infer_signature(DataFrame)`): columns
//!   are found by name in any order (positionally when the request has no names), a missing required
//!   column or an unknown column is a 400 that names it, each column is converted to its signature type
//!   (ints widen to floats; a fraction for an integer column, a string for a number column, ... are
//!   400s naming the column and row). The columns then become the model's inputs: when the model has
//!   one 2-D input (what skl2onnx exports), the columns are stacked in signature order into
//!   `[rows, columns]` of the input's dtype; when the model has one input per column, each column goes
//!   to the input of the same name.
//! - **Tensor signature or none**: tensors are matched to the model's inputs (one unnamed tensor for a
//!   one-input model, else by name), converted to the input's dtype, and their shapes checked against
//!   the model's input shapes (and the signature's): a wrong rank or dimension is a 400 naming the input
//!   and the dimension. A frame sent to a one-input model is stacked in the frame's column order, as
//!   MLflow's ONNX pyfunc does with `DataFrame.values`.
//!
//! Layout: [`payload`] (the decoded data), [`convert`] (cells and their conversion to typed elements), `columns` (the
//! named-column path), `tensors` (the tensor path); this module only dispatches between the two paths.

use crate::error::ApiError;
use crate::protocol::{InferInput, ModelInfo};

mod columns;
pub mod convert;
pub mod payload;
mod tensors;
#[cfg(test)]
mod tests;

pub(crate) use columns::column_signature;
pub use columns::is_dataframe_for_mlflow;
pub use convert::{convert_cells, Cell};
pub use payload::{flatten, Column, Data, Payload, Values};
pub use tensors::check_shape;

/// Checks `payload` against `model`'s signature and builds its input tensors.
pub fn assemble(payload: Payload<'_>, model: &ModelInfo) -> Result<InferInput, ApiError> {
    let input = match columns::column_signature(model) {
        Some(cols) if !columns::names_model_inputs(&payload, cols, model) => {
            columns::assemble_columns(payload, cols, model)?
        }
        _ => tensors::assemble_tensors(payload, model)?,
    };
    Ok(input)
}
