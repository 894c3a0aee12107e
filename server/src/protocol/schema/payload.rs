//! Decoded request data before it meets the model: the payload types ([`Payload`], [`Data`], [`Cell`],
//! [`Column`]) and the flattening of nested JSON lists into cells with a shape.

use homeml_flavor::{DType, Tensor};
use serde_json::Value;

use super::convert::{convert_cells, Cell};
use crate::error::ApiError;

/// The values of one column or tensor: cells to be parsed, or an already-typed tensor (V2).
#[derive(Debug, Clone)]
pub enum Values<'a> {
    /// Cells, row-major.
    Cells(Vec<Cell<'a>>),
    /// A typed tensor (V2 JSON with a datatype, or binary data).
    Typed(Tensor),
}

/// Data with a shape: one tensor of the request.
#[derive(Debug, Clone)]
pub struct Data<'a> {
    /// Shape, batch first.
    pub shape: Vec<usize>,
    /// The elements.
    pub values: Values<'a>,
}

impl<'a> Data<'a> {
    /// Data from cells with a shape.
    pub fn cells(shape: Vec<usize>, cells: Vec<Cell<'a>>) -> Data<'a> {
        Data {
            shape,
            values: Values::Cells(cells),
        }
    }

    /// Data from a typed tensor.
    pub fn typed(t: Tensor) -> Data<'a> {
        Data {
            shape: t.shape().to_vec(),
            values: Values::Typed(t),
        }
    }

    pub(crate) fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }

    /// Converts to a tensor of `dtype`; `what` names the column or input in error messages.
    pub(crate) fn into_tensor(self, dtype: DType, what: &str) -> Result<Tensor, ApiError> {
        match self.values {
            Values::Cells(cells) => {
                let data = convert_cells(&cells, dtype, what)?;
                Tensor::new(self.shape, data)
                    .map_err(|e| ApiError::BadRequest(format!("{what}: {e}")))
            }
            Values::Typed(t) => {
                let from = t.dtype();
                t.cast(dtype).map_err(|e| {
                    ApiError::BadRequest(format!("{what}: cannot convert {from} to {dtype}: {e}"))
                })
            }
        }
    }
}

/// One column of a frame.
#[derive(Debug, Clone)]
pub struct Column<'a> {
    /// Its name, when the request gave one.
    pub name: Option<String>,
    /// Its values: shape `[rows]` (or `[rows, 1]`).
    pub data: Data<'a>,
}

/// Decoded request data, before it is checked against the model.
#[derive(Debug, Clone)]
pub enum Payload<'a> {
    /// A table of columns (`dataframe_split`, `dataframe_records`, CSV, a list of records).
    Frame {
        /// The columns, in request order.
        columns: Vec<Column<'a>>,
        /// Rows.
        rows: usize,
    },
    /// One unnamed tensor (`inputs`/`instances` as a list, `/predict`).
    Tensor(Data<'a>),
    /// Named tensors (`inputs`/`instances` as a dict, V2 inputs).
    Named(Vec<(String, Data<'a>)>),
}

/// Flattens a nested JSON list into cells and a shape, refusing ragged lists. A non-list is a 0-D value.
pub fn flatten<'a>(value: &'a Value, what: &str) -> Result<Data<'a>, ApiError> {
    let mut shape = Vec::new();
    let mut probe = value;
    while let Value::Array(items) = probe {
        shape.push(items.len());
        match items.first() {
            Some(first) => probe = first,
            None => break,
        }
    }
    let total: usize = shape.iter().product();
    let mut cells = Vec::with_capacity(total);
    flatten_into(value, &shape, 0, &mut cells, what)?;
    Ok(Data::cells(shape, cells))
}

fn flatten_into<'a>(
    value: &'a Value,
    shape: &[usize],
    depth: usize,
    out: &mut Vec<Cell<'a>>,
    what: &str,
) -> Result<(), ApiError> {
    match (value, shape.get(depth)) {
        (Value::Array(items), Some(&n)) => {
            if items.len() != n {
                return Err(ApiError::BadRequest(format!(
                    "{what}: ragged list: dimension {depth} has {} entries where {n} were expected",
                    items.len()
                )));
            }
            for item in items {
                flatten_into(item, shape, depth + 1, out, what)?;
            }
            Ok(())
        }
        (Value::Array(_), None) => Err(ApiError::BadRequest(format!(
            "{what}: ragged list: more nesting than the {} dimensions of its first element",
            shape.len()
        ))),
        (_, Some(_)) => Err(ApiError::BadRequest(format!(
            "{what}: ragged list: a value where dimension {depth} expected a list"
        ))),
        (v, None) => {
            out.push(Cell::Json(v));
            Ok(())
        }
    }
}
