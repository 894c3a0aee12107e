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

use homeml_flavor::{ColSpec, DType, IoSpec, Schema, Tensor, TensorData};
use serde_json::{Number, Value};

use super::{InferInput, ModelInfo};
use crate::error::ApiError;

/// One cell of request data, borrowed from the parsed body.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    /// A JSON value (number, string, bool, null, ...).
    Json(&'a Value),
    /// A CSV field (parsed according to the target type).
    Text(&'a str),
}

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

    fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }

    /// Converts to a tensor of `dtype`; `what` names the column or input in error messages.
    fn into_tensor(self, dtype: DType, what: &str) -> Result<Tensor, ApiError> {
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

fn describe(cell: Cell<'_>) -> String {
    let mut s = match cell {
        Cell::Json(v) => v.to_string(),
        Cell::Text(t) => format!("{t:?}"),
    };
    if s.len() > 40 {
        let mut cut = 40;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

fn parse_float_text(t: &str) -> Option<f64> {
    let t = t.trim();
    match t {
        "" | "NaN" | "nan" | "null" => Some(f64::NAN),
        "Infinity" | "inf" | "+inf" | "+Infinity" => Some(f64::INFINITY),
        "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
        _ => t.parse::<f64>().ok(),
    }
}

/// A JSON number as a float element: what every float input reads from a JSON number (shared with the
/// direct decoder of [`super::fast`], so both read numbers alike).
pub(crate) fn number_to_f64(n: &Number) -> Option<f64> {
    n.as_f64()
}

/// A float read for an integer element: whole and within the `i64` range.
fn whole(x: f64) -> Result<i64, &'static str> {
    if x.fract() == 0.0 && x.is_finite() && x >= i64::MIN as f64 && x <= i64::MAX as f64 {
        Ok(x as i64)
    } else {
        Err("an integer (the value has a fraction or is out of range)")
    }
}

/// A JSON number as an integer element: exact integers, and floats without a fraction within the `i64`
/// range (shared with the direct decoder of [`super::fast`]).
pub(crate) fn number_to_i64(n: &Number) -> Result<i64, &'static str> {
    match n.as_i64() {
        Some(i) => Ok(i),
        None => n.as_f64().map_or(Err("an integer"), whole),
    }
}

fn to_f64(cell: Cell<'_>) -> Option<f64> {
    match cell {
        Cell::Json(Value::Number(n)) => number_to_f64(n),
        // pandas reads a missing value of a float column as NaN; homeml writes NaN as null.
        Cell::Json(Value::Null) => Some(f64::NAN),
        Cell::Json(Value::String(s)) => match s.as_str() {
            "NaN" | "Infinity" | "-Infinity" | "inf" | "-inf" => parse_float_text(s),
            _ => None,
        },
        Cell::Json(_) => None,
        Cell::Text(t) => parse_float_text(t),
    }
}

fn to_i64(cell: Cell<'_>) -> Result<i64, &'static str> {
    match cell {
        Cell::Json(Value::Number(n)) => number_to_i64(n),
        Cell::Json(_) => Err("an integer"),
        Cell::Text(t) => {
            let t = t.trim();
            match t.parse::<i64>() {
                Ok(i) => Ok(i),
                Err(_) => t.parse::<f64>().map_or(Err("an integer"), whole),
            }
        }
    }
}

fn to_bool(cell: Cell<'_>) -> Option<bool> {
    match cell {
        Cell::Json(Value::Bool(b)) => Some(*b),
        Cell::Json(Value::Number(n)) => match n.as_f64() {
            Some(0.0) => Some(false),
            Some(1.0) => Some(true),
            _ => None,
        },
        Cell::Json(_) => None,
        Cell::Text(t) => match t.trim() {
            "true" | "True" | "TRUE" | "1" => Some(true),
            "false" | "False" | "FALSE" | "0" => Some(false),
            _ => None,
        },
    }
}

fn to_string(cell: Cell<'_>) -> Option<String> {
    match cell {
        Cell::Json(Value::String(s)) => Some(s.clone()),
        Cell::Json(_) => None,
        Cell::Text(t) => Some(t.to_string()),
    }
}

/// Converts cells to elements of `dtype`; errors name `what`, the element index and the value.
pub fn convert_cells(cells: &[Cell<'_>], dtype: DType, what: &str) -> Result<TensorData, ApiError> {
    fn bad(what: &str, i: usize, cell: Cell<'_>, wanted: &str) -> ApiError {
        ApiError::BadRequest(format!(
            "{what}: value {} at position {i} is not {wanted}",
            describe(cell)
        ))
    }
    Ok(match dtype {
        DType::F64 | DType::F32 => {
            let mut v = Vec::with_capacity(cells.len());
            for (i, &c) in cells.iter().enumerate() {
                v.push(to_f64(c).ok_or_else(|| bad(what, i, c, "a number"))?);
            }
            if dtype == DType::F64 {
                TensorData::F64(v)
            } else {
                TensorData::F32(v.into_iter().map(|x| x as f32).collect())
            }
        }
        DType::I64 => {
            let mut v = Vec::with_capacity(cells.len());
            for (i, &c) in cells.iter().enumerate() {
                v.push(to_i64(c).map_err(|w| bad(what, i, c, w))?);
            }
            TensorData::I64(v)
        }
        DType::I32 => {
            let mut v = Vec::with_capacity(cells.len());
            for (i, &c) in cells.iter().enumerate() {
                let x = to_i64(c).map_err(|w| bad(what, i, c, w))?;
                v.push(i32::try_from(x).map_err(|_| bad(what, i, c, "a 32-bit integer"))?);
            }
            TensorData::I32(v)
        }
        DType::Bool => {
            let mut v = Vec::with_capacity(cells.len());
            for (i, &c) in cells.iter().enumerate() {
                v.push(to_bool(c).ok_or_else(|| bad(what, i, c, "a boolean"))?);
            }
            TensorData::Bool(v)
        }
        DType::String => {
            let mut v = Vec::with_capacity(cells.len());
            for (i, &c) in cells.iter().enumerate() {
                v.push(to_string(c).ok_or_else(|| bad(what, i, c, "a string"))?);
            }
            TensorData::String(v)
        }
    })
}

/// The named-column input schema of the model, when it has one.
pub(crate) fn column_signature(model: &ModelInfo) -> Option<&[ColSpec]> {
    match model.signature.as_ref()?.inputs.as_ref()? {
        Schema::Columns(cols) if !cols.is_empty() => Some(cols),
        _ => None,
    }
}

/// Checks `payload` against `model`'s signature and builds its input tensors.
pub fn assemble(payload: Payload<'_>, model: &ModelInfo) -> Result<InferInput, ApiError> {
    let input = match column_signature(model) {
        Some(cols) if !names_model_inputs(&payload, cols, model) => {
            assemble_columns(payload, cols, model)?
        }
        _ => assemble_tensors(payload, model)?,
    };
    Ok(input)
}

/// True when a named payload names the model's own input tensors (as V2 metadata lists them) rather than
/// signature columns: e.g. one FP64 `[-1, 4]` tensor `input` for a model whose signature has four named
/// columns. Such a request is checked against the model's inputs, so both ways the metadata invites work.
fn names_model_inputs(payload: &Payload<'_>, cols: &[ColSpec], model: &ModelInfo) -> bool {
    let Payload::Named(list) = payload else {
        return false;
    };
    !list.is_empty()
        && list.iter().all(|(name, _)| {
            model.inputs.iter().any(|s| &s.name == name)
                && !cols
                    .iter()
                    .any(|c| c.name.as_deref() == Some(name.as_str()))
        })
}

/// True when MLflow would hand this payload to the model as a pandas DataFrame (see
/// [`super::MlflowInputKind`]): always with a column signature, and for frames without a signature.
pub fn is_dataframe_for_mlflow(payload: &Payload<'_>, model: &ModelInfo) -> bool {
    if column_signature(model).is_some() {
        return true;
    }
    let has_input_schema = model
        .signature
        .as_ref()
        .is_some_and(|s| s.inputs.as_ref().is_some_and(|i| !i.is_empty()));
    matches!(payload, Payload::Frame { .. }) && !has_input_schema
}

fn names_list(names: impl Iterator<Item = String>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

/// A column spec's display name (`#3` for unnamed columns).
fn col_name(spec: &ColSpec, i: usize) -> String {
    spec.name.clone().unwrap_or_else(|| format!("#{i}"))
}

/// Turns any payload into named-or-positional columns.
fn payload_columns<'a>(
    payload: Payload<'a>,
    ncols: usize,
) -> Result<(Vec<Column<'a>>, usize), ApiError> {
    match payload {
        Payload::Frame { columns, rows } => Ok((columns, rows)),
        Payload::Named(list) => {
            let rows = list.first().map(|(_, d)| d.rows()).unwrap_or(0);
            let columns = list
                .into_iter()
                .map(|(name, data)| Column {
                    name: Some(name),
                    data,
                })
                .collect();
            Ok((columns, rows))
        }
        Payload::Tensor(data) => split_columns(data, ncols),
    }
}

/// Splits an unnamed `[rows, ncols]` (or `[rows]` for one column) tensor into positional columns.
fn split_columns(data: Data<'_>, ncols: usize) -> Result<(Vec<Column<'_>>, usize), ApiError> {
    match data.shape.as_slice() {
        [rows] if ncols == 1 => {
            let rows = *rows;
            Ok((vec![Column { name: None, data }], rows))
        }
        [rows, n] if *n == ncols => {
            let (rows, n) = (*rows, *n);
            let columns = match data.values {
                Values::Cells(cells) => (0..n)
                    .map(|j| Column {
                        name: None,
                        data: Data::cells(
                            vec![rows],
                            (0..rows).map(|r| cells[r * n + j]).collect(),
                        ),
                    })
                    .collect(),
                Values::Typed(t) => (0..n)
                    .map(|j| {
                        Ok(Column {
                            name: None,
                            data: Data::typed(take_column(&t, j, n)?),
                        })
                    })
                    .collect::<Result<_, ApiError>>()?,
            };
            Ok((columns, rows))
        }
        shape => Err(ApiError::BadRequest(format!(
            "expected a list of rows with {ncols} values each (shape [rows, {ncols}]), got shape {shape:?}"
        ))),
    }
}

/// Column `j` of a row-major `[rows, n]` tensor, as a `[rows]` tensor.
fn take_column(t: &Tensor, j: usize, n: usize) -> Result<Tensor, ApiError> {
    let rows = t.rows();
    macro_rules! pick {
        ($v:expr, $variant:ident) => {
            TensorData::$variant((0..rows).map(|r| $v[r * n + j].clone()).collect())
        };
    }
    let data = match t.data() {
        TensorData::Bool(v) => pick!(v, Bool),
        TensorData::I32(v) => pick!(v, I32),
        TensorData::I64(v) => pick!(v, I64),
        TensorData::F32(v) => pick!(v, F32),
        TensorData::F64(v) => pick!(v, F64),
        TensorData::String(v) => pick!(v, String),
    };
    Ok(Tensor::new(vec![rows], data)?)
}

/// Checks that a column's data is one value per row (`[rows]` or `[rows, 1]`) and flattens it.
fn column_as_1d<'a>(data: Data<'a>, rows: usize, what: &str) -> Result<Data<'a>, ApiError> {
    match data.shape.as_slice() {
        [r] | [r, 1] if *r == rows => Ok(Data {
            shape: vec![rows],
            values: match data.values {
                Values::Typed(t) => Values::Typed(t.reshape(vec![rows])?),
                v => v,
            },
        }),
        shape => Err(ApiError::BadRequest(format!(
            "{what}: expected one value per row ({rows} rows), got shape {shape:?}"
        ))),
    }
}

fn assemble_columns(
    payload: Payload<'_>,
    cols: &[ColSpec],
    model: &ModelInfo,
) -> Result<InferInput, ApiError> {
    match (float_matrix_casts(&payload, cols, model), payload) {
        (
            Some((col_dtype, input_dtype)),
            Payload::Tensor(Data {
                values: Values::Typed(t),
                ..
            }),
        ) => {
            let rows = t.rows();
            // Float-to-float casts do not fail.
            let tensor = t
                .cast(col_dtype)
                .and_then(|c| c.cast(input_dtype))
                .map_err(|e| ApiError::BadRequest(e.to_string()))?;
            Ok(InferInput {
                tensors: vec![tensor],
                rows,
            })
        }
        (_, payload) => by_column(payload, cols, model),
    }
}

/// The general column path of [`assemble_columns`]: the payload as columns, each checked and cast to
/// its signature type, then placed into the model's inputs.
fn by_column(
    payload: Payload<'_>,
    cols: &[ColSpec],
    model: &ModelInfo,
) -> Result<InferInput, ApiError> {
    let (columns, rows) = payload_columns(payload, cols.len())?;
    let named = columns.iter().any(|c| c.name.is_some());
    // One slot per signature column.
    let mut slots: Vec<Option<Data<'_>>> = vec![None; cols.len()];
    if named && cols.iter().all(|c| c.name.is_some()) {
        for column in columns {
            let name = column.name.unwrap_or_default();
            let Some(i) = cols
                .iter()
                .position(|c| c.name.as_deref() == Some(name.as_str()))
            else {
                return Err(ApiError::BadRequest(format!(
                    "unknown column {name:?}; the model's columns are: {}",
                    names_list(cols.iter().enumerate().map(|(i, c)| col_name(c, i)))
                )));
            };
            if slots[i].is_some() {
                return Err(ApiError::BadRequest(format!(
                    "column {name:?} is given twice"
                )));
            }
            slots[i] = Some(column.data);
        }
    } else {
        if columns.len() != cols.len() {
            return Err(ApiError::BadRequest(format!(
                "expected {} columns ({}), got {}",
                cols.len(),
                names_list(cols.iter().enumerate().map(|(i, c)| col_name(c, i))),
                columns.len()
            )));
        }
        for (slot, column) in slots.iter_mut().zip(columns) {
            *slot = Some(column.data);
        }
    }
    // Convert each column to its signature type.
    let mut typed: Vec<Option<Tensor>> = Vec::with_capacity(cols.len());
    for (i, (spec, slot)) in cols.iter().zip(slots).enumerate() {
        let what = format!("column {:?}", col_name(spec, i));
        let Some(data) = slot else {
            if spec.required {
                return Err(ApiError::BadRequest(format!(
                    "missing column {:?}",
                    col_name(spec, i)
                )));
            }
            typed.push(None);
            continue;
        };
        let dtype = spec.ty.dtype().ok_or_else(|| {
            ApiError::Internal(format!(
                "{what} has signature type {:?}, which homeml does not serve",
                spec.ty.name()
            ))
        })?;
        let data = column_as_1d(data, rows, &what)?;
        typed.push(Some(data.into_tensor(dtype, &what)?));
    }
    columns_to_inputs(typed, cols, rows, model)
}

/// The shortcut of [`assemble_columns`] for its most common request: an unnamed typed float matrix
/// `[rows, ncols]` (`{"inputs": [[5.1, 3.5, 1.4, 0.2]]}` through the direct decoder) for a model whose
/// signature columns all have one float type and whose one input is a float matrix that takes them all.
/// The column path would split the matrix into columns, cast each to the columns' type and then to the
/// input's, and weave them back; casting the whole matrix the same two ways gives the same tensor.
/// Returns those two dtypes when the shortcut applies.
fn float_matrix_casts(
    payload: &Payload<'_>,
    cols: &[ColSpec],
    model: &ModelInfo,
) -> Option<(DType, DType)> {
    let Payload::Tensor(Data {
        shape,
        values: Values::Typed(t),
    }) = payload
    else {
        return None;
    };
    let col_dtype = match cols.first()?.ty.dtype()? {
        d @ (DType::F32 | DType::F64) if cols.iter().all(|c| c.ty.dtype() == Some(d)) => d,
        _ => return None,
    };
    let Layout::Matrix(spec) = layout(cols, model) else {
        return None;
    };
    let fits = matches!(spec.dtype, DType::F32 | DType::F64)
        && matches!(t.dtype(), DType::F32 | DType::F64)
        && matches!(t.shape(), [_, n] if *n == cols.len())
        && shape.as_slice() == t.shape();
    fits.then_some((col_dtype, spec.dtype))
}

/// How signature columns map onto the model's inputs.
enum Layout<'m> {
    /// One input per column, matched by name (`by_name`) or by position.
    PerInput { by_name: bool },
    /// The one input, a `[rows, ncols]` matrix holding every column in order.
    Matrix(&'m IoSpec),
    /// Neither: the model's inputs cannot take the columns (an error of the model, not the request).
    Mismatch,
}

fn layout<'m>(cols: &[ColSpec], model: &'m ModelInfo) -> Layout<'m> {
    let inputs = &model.inputs;
    let col_index = |name: &str| cols.iter().position(|c| c.name.as_deref() == Some(name));
    let by_name = !inputs.is_empty()
        && inputs.iter().all(|spec| col_index(&spec.name).is_some())
        && (inputs.len() > 1 || cols.len() == 1);
    if by_name || (inputs.len() == cols.len() && inputs.len() > 1) {
        return Layout::PerInput { by_name };
    }
    match inputs.as_slice() {
        [spec]
            if spec.shape.len() == 2
                && (spec.shape[1] < 0 || spec.shape[1] as usize == cols.len()) =>
        {
            Layout::Matrix(spec)
        }
        _ => Layout::Mismatch,
    }
}

/// One model input per signature column, matched by name or by position ([`Layout::PerInput`]).
fn per_input(
    mut typed: Vec<Option<Tensor>>,
    cols: &[ColSpec],
    rows: usize,
    model: &ModelInfo,
    by_name: bool,
) -> Result<InferInput, ApiError> {
    let col_index = |name: &str| cols.iter().position(|c| c.name.as_deref() == Some(name));
    let mut tensors = Vec::with_capacity(model.inputs.len());
    for (k, spec) in model.inputs.iter().enumerate() {
        let i = if by_name {
            col_index(&spec.name).unwrap_or(k)
        } else {
            k
        };
        let what = format!("column {:?}", col_name(&cols[i], i));
        let column = typed
            .get_mut(i)
            .and_then(Option::take)
            .ok_or_else(|| ApiError::BadRequest(format!("missing {what}")))?;
        tensors.push(column_for_input(column, spec, rows, &what)?);
    }
    Ok(InferInput { tensors, rows })
}

/// Places typed signature columns into the model's inputs.
fn columns_to_inputs(
    typed: Vec<Option<Tensor>>,
    cols: &[ColSpec],
    rows: usize,
    model: &ModelInfo,
) -> Result<InferInput, ApiError> {
    let inputs = &model.inputs;
    let spec = match layout(cols, model) {
        Layout::PerInput { by_name } => return per_input(typed, cols, rows, model, by_name),
        Layout::Matrix(spec) => spec,
        Layout::Mismatch => {
            let [spec] = inputs.as_slice() else {
                return Err(ApiError::Internal(format!(
                    "the model's {} inputs ({}) do not match its {} signature columns",
                    inputs.len(),
                    names_list(inputs.iter().map(|s| s.name.clone())),
                    cols.len()
                )));
            };
            return Err(ApiError::Internal(format!(
                "the model's input {:?} has shape {:?}, which cannot hold the signature's {} columns",
                spec.name,
                spec.shape,
                cols.len()
            )));
        }
    };
    let ncols = cols.len();
    let mut parts = Vec::with_capacity(ncols);
    for (i, (col, c)) in typed.into_iter().zip(cols).enumerate() {
        let what = format!("column {:?}", col_name(c, i));
        let t = match col {
            Some(t) => t
                .cast(spec.dtype)
                .map_err(|e| ApiError::BadRequest(format!("{what}: {e}")))?,
            None if spec.dtype.is_float() => {
                Tensor::new(vec![rows], TensorData::F64(vec![f64::NAN; rows]))?.cast(spec.dtype)?
            }
            None => return Err(ApiError::BadRequest(format!("missing {what}"))),
        };
        parts.push(t.into_data());
    }
    let data = interleave(parts, spec.dtype, rows)?;
    let tensor = Tensor::new(vec![rows, ncols], data)?;
    Ok(InferInput {
        tensors: vec![tensor],
        rows,
    })
}

/// Shapes a 1-D column for a model input of shape `[-1]` or `[-1, 1]`.
fn column_for_input(
    column: Tensor,
    spec: &IoSpec,
    rows: usize,
    what: &str,
) -> Result<Tensor, ApiError> {
    let t = column
        .cast(spec.dtype)
        .map_err(|e| ApiError::BadRequest(format!("{what}: {e}")))?;
    match spec.shape.len() {
        0 | 1 => Ok(t),
        2 => Ok(t.reshape(vec![rows, 1])?),
        _ => Err(ApiError::Internal(format!(
            "the model's input {:?} has shape {:?}, which a column cannot fill",
            spec.name, spec.shape
        ))),
    }
}

/// Builds row-major `[rows, columns]` data from column vectors of one dtype.
fn interleave(parts: Vec<TensorData>, dtype: DType, rows: usize) -> Result<TensorData, ApiError> {
    let n = parts.len();
    let mut out = TensorData::with_capacity(dtype, rows * n);
    macro_rules! weave {
        ($variant:ident, $out:expr) => {{
            let cols: Vec<Vec<_>> = parts
                .into_iter()
                .map(|p| match p {
                    TensorData::$variant(v) => Ok(v),
                    other => Err(ApiError::Internal(format!(
                        "column of dtype {} where {} was expected",
                        other.dtype(),
                        dtype
                    ))),
                })
                .collect::<Result<_, _>>()?;
            for r in 0..rows {
                for col in &cols {
                    $out.push(col[r].clone());
                }
            }
        }};
    }
    match &mut out {
        TensorData::Bool(o) => weave!(Bool, o),
        TensorData::I32(o) => weave!(I32, o),
        TensorData::I64(o) => weave!(I64, o),
        TensorData::F32(o) => weave!(F32, o),
        TensorData::F64(o) => weave!(F64, o),
        TensorData::String(o) => weave!(String, o),
    }
    Ok(out)
}

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

fn assemble_tensors(payload: Payload<'_>, model: &ModelInfo) -> Result<InferInput, ApiError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use homeml_flavor::{ColumnType, Signature};
    use serde_json::json;

    pub(crate) fn model(inputs: Vec<IoSpec>, signature: Option<Signature>) -> ModelInfo {
        ModelInfo {
            name: "m".into(),
            version: "1".into(),
            platform: "test".into(),
            inputs,
            outputs: vec![IoSpec::new("y", DType::F32, vec![-1])],
            signature,
        }
    }

    fn iris_cols() -> ModelInfo {
        model(
            vec![IoSpec::new("X", DType::F32, vec![-1, 3])],
            Some(Signature {
                inputs: Some(Schema::columns(&["a", "b", "c"], ColumnType::Double)),
                outputs: None,
                params: None,
            }),
        )
    }

    #[test]
    fn float_matrix_shortcut_equals_the_column_path() {
        // Every combination the shortcut takes (column type x input dtype x data dtype x rows), with
        // values that f32 rounds, overflows or keeps as NaN/inf: the same tensor as column by column.
        let values = [
            0.1,
            5.1,
            -0.0,
            1e40,
            -1e-50,
            f64::NAN,
            f64::INFINITY,
            16_777_217.0,
            3.5,
        ];
        let mut taken = 0;
        for col_ty in [ColumnType::Double, ColumnType::Float] {
            for input_dtype in [DType::F32, DType::F64] {
                for width in [-1, 3] {
                    let m = model(
                        vec![IoSpec::new("X", input_dtype, vec![-1, width])],
                        Some(Signature {
                            inputs: Some(Schema::columns(&["a", "b", "c"], col_ty.clone())),
                            outputs: None,
                            params: None,
                        }),
                    );
                    let cols = column_signature(&m).unwrap();
                    for rows in [0, 1, 3] {
                        let data = &values[..rows * 3];
                        for t in [
                            Tensor::new(vec![rows, 3], TensorData::F64(data.to_vec())).unwrap(),
                            Tensor::new(
                                vec![rows, 3],
                                TensorData::F32(data.iter().map(|&x| x as f32).collect()),
                            )
                            .unwrap(),
                        ] {
                            let payload = || Payload::Tensor(Data::typed(t.clone()));
                            assert!(float_matrix_casts(&payload(), cols, &m).is_some());
                            taken += 1;
                            let fast = assemble(payload(), &m).unwrap();
                            let slow = by_column(payload(), cols, &m).unwrap();
                            assert_eq!(fast.rows, slow.rows);
                            assert_eq!(
                                format!("{:?}", fast.tensors),
                                format!("{:?}", slow.tensors),
                                "{col_ty:?} {input_dtype:?} {t:?}"
                            );
                        }
                    }
                }
            }
        }
        assert_eq!(taken, 2 * 2 * 2 * 3 * 2);
        // And what it leaves: other widths, integer columns, mixed column types, named payloads.
        let m = iris_cols();
        let cols = column_signature(&m).unwrap();
        let t4 = Tensor::new(vec![1, 4], TensorData::F64(vec![1.0; 4])).unwrap();
        assert!(float_matrix_casts(&Payload::Tensor(Data::typed(t4)), cols, &m).is_none());
        let ints = Tensor::new(vec![1, 3], TensorData::I64(vec![1; 3])).unwrap();
        assert!(float_matrix_casts(&Payload::Tensor(Data::typed(ints)), cols, &m).is_none());
        let t3 = Tensor::new(vec![1, 3], TensorData::F64(vec![1.0; 3])).unwrap();
        let named = Payload::Named(vec![("X".into(), Data::typed(t3.clone()))]);
        assert!(float_matrix_casts(&named, cols, &m).is_none());
        let mixed = model(
            vec![IoSpec::new("X", DType::F32, vec![-1, 3])],
            Some(Signature {
                inputs: Some(Schema::Columns(vec![
                    ColSpec {
                        name: Some("a".into()),
                        ty: ColumnType::Double,
                        required: true,
                    },
                    ColSpec {
                        name: Some("b".into()),
                        ty: ColumnType::Float,
                        required: true,
                    },
                    ColSpec {
                        name: Some("c".into()),
                        ty: ColumnType::Long,
                        required: true,
                    },
                ])),
                outputs: None,
                params: None,
            }),
        );
        let mixed_cols = column_signature(&mixed).unwrap();
        assert!(
            float_matrix_casts(&Payload::Tensor(Data::typed(t3)), mixed_cols, &mixed).is_none()
        );
    }

    fn frame<'a>(names: &[&str], data: &'a [Value]) -> Payload<'a> {
        let columns = names
            .iter()
            .zip(data)
            .map(|(n, v)| Column {
                name: Some(n.to_string()),
                data: flatten(v, n).unwrap(),
            })
            .collect();
        Payload::Frame {
            columns,
            rows: data[0].as_array().unwrap().len(),
        }
    }

    #[test]
    fn flatten_reads_shapes_and_refuses_ragged_lists() {
        let v = json!([[1, 2], [3, 4], [5, 6]]);
        let d = flatten(&v, "x").unwrap();
        assert_eq!(d.shape, vec![3, 2]);
        let v = json!([[1, 2], [3]]);
        let err = flatten(&v, "x").unwrap_err().to_string();
        assert!(err.contains("ragged"), "{err}");
        let v = json!([[1, 2], 3]);
        assert!(flatten(&v, "x").is_err());
        let v = json!([1, [2]]);
        assert!(flatten(&v, "x").is_err());
        assert_eq!(flatten(&json!(5), "x").unwrap().shape, Vec::<usize>::new());
        assert_eq!(flatten(&json!([]), "x").unwrap().shape, vec![0]);
    }

    #[test]
    fn columns_are_found_by_name_in_any_order_and_stacked() {
        let m = iris_cols();
        let data = [json!([3, 30]), json!([1.5, 10]), json!([2, 20])];
        let input = assemble(frame(&["c", "a", "b"], &data), &m).unwrap();
        assert_eq!(input.rows, 2);
        assert_eq!(input.tensors[0].shape(), &[2, 3]);
        assert_eq!(
            input.tensors[0].data(),
            &TensorData::F32(vec![1.5, 2.0, 3.0, 10.0, 20.0, 30.0])
        );
    }

    #[test]
    fn missing_and_unknown_columns_are_named() {
        let m = iris_cols();
        let data = [json!([1]), json!([2])];
        let err = assemble(frame(&["a", "b"], &data), &m)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing column \"c\""), "{err}");
        let data = [json!([1]), json!([2]), json!([3]), json!([4])];
        let err = assemble(frame(&["a", "b", "c", "zz"], &data), &m)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown column \"zz\""), "{err}");
    }

    #[test]
    fn bad_values_name_the_column() {
        let m = iris_cols();
        let data = [json!([1]), json!(["x"]), json!([3])];
        let err = assemble(frame(&["a", "b", "c"], &data), &m).unwrap_err();
        assert!(matches!(err, ApiError::BadRequest(_)));
        let msg = err.to_string();
        assert!(
            msg.contains("column \"b\"") && msg.contains("\"x\""),
            "{msg}"
        );
    }

    #[test]
    fn an_unnamed_matrix_maps_positionally_onto_columns() {
        let m = iris_cols();
        let v = json!([[1, 2, 3]]);
        let input = assemble(Payload::Tensor(flatten(&v, "inputs").unwrap()), &m).unwrap();
        assert_eq!(
            input.tensors[0].data(),
            &TensorData::F32(vec![1.0, 2.0, 3.0])
        );
        let v = json!([[1, 2]]);
        let err = assemble(Payload::Tensor(flatten(&v, "inputs").unwrap()), &m).unwrap_err();
        assert!(err.to_string().contains("3 values"), "{err}");
    }

    #[test]
    fn one_input_per_column_maps_by_name_with_types() {
        let sig = Signature {
            inputs: Some(Schema::Columns(vec![
                ColSpec {
                    name: Some("age".into()),
                    ty: ColumnType::Long,
                    required: true,
                },
                ColSpec {
                    name: Some("city".into()),
                    ty: ColumnType::String,
                    required: true,
                },
                ColSpec {
                    name: Some("member".into()),
                    ty: ColumnType::Boolean,
                    required: true,
                },
            ])),
            outputs: None,
            params: None,
        };
        let m = model(
            vec![
                IoSpec::new("city", DType::String, vec![-1, 1]),
                IoSpec::new("age", DType::F32, vec![-1, 1]),
                IoSpec::new("member", DType::Bool, vec![-1]),
            ],
            Some(sig),
        );
        let data = [
            json!([true, false]),
            json!([30, 40]),
            json!(["Paris", "Oslo"]),
        ];
        let input = assemble(frame(&["member", "age", "city"], &data), &m).unwrap();
        assert_eq!(input.tensors[0].shape(), &[2, 1]);
        assert_eq!(
            input.tensors[0].data(),
            &TensorData::String(vec!["Paris".into(), "Oslo".into()])
        );
        assert_eq!(input.tensors[1].data(), &TensorData::F32(vec![30.0, 40.0]));
        assert_eq!(
            input.tensors[2].data(),
            &TensorData::Bool(vec![true, false])
        );
        // A fraction in a long column is refused, naming it.
        let data = [json!([true]), json!([30.5]), json!(["Paris"])];
        let err = assemble(frame(&["member", "age", "city"], &data), &m)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("column \"age\"") && err.contains("integer"),
            "{err}"
        );
        // A number in a string column is refused.
        let data = [json!([true]), json!([30]), json!([5])];
        let err = assemble(frame(&["member", "age", "city"], &data), &m)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("column \"city\"") && err.contains("string"),
            "{err}"
        );
    }

    #[test]
    fn tensor_shapes_are_checked_per_dimension() {
        let m = model(vec![IoSpec::new("X", DType::F32, vec![-1, 4])], None);
        let v = json!([[1, 2, 3]]);
        let err = assemble(Payload::Tensor(flatten(&v, "inputs").unwrap()), &m)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("input \"X\"") && err.contains("dimension 1 must be 4"),
            "{err}"
        );
        let v = json!([1, 2, 3, 4]);
        let err = assemble(Payload::Tensor(flatten(&v, "inputs").unwrap()), &m)
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected 2 dimensions"), "{err}");
        let v = json!([[1, 2, 3, 4], [5, 6, 7, 8]]);
        let input = assemble(Payload::Tensor(flatten(&v, "inputs").unwrap()), &m).unwrap();
        assert_eq!(input.rows, 2);
        assert_eq!(input.tensors[0].dtype(), DType::F32);
    }

    #[test]
    fn tensor_signature_shapes_are_checked_too() {
        let sig = Signature {
            inputs: Some(Schema::tensor(None, DType::F32, vec![-1, 2])),
            outputs: None,
            params: None,
        };
        let m = model(vec![IoSpec::new("X", DType::F32, vec![-1, -1])], Some(sig));
        let v = json!([[1, 2, 3]]);
        let err = assemble(Payload::Tensor(flatten(&v, "inputs").unwrap()), &m).unwrap_err();
        assert!(err.to_string().contains("dimension 1 must be 2"), "{err}");
    }

    #[test]
    fn named_tensors_map_by_name() {
        let m = model(
            vec![
                IoSpec::new("a", DType::I64, vec![-1]),
                IoSpec::new("b", DType::F64, vec![-1, 2]),
            ],
            None,
        );
        let a = json!([1, 2]);
        let b = json!([[1, 2], [3, 4]]);
        let payload = Payload::Named(vec![
            ("b".into(), flatten(&b, "b").unwrap()),
            ("a".into(), flatten(&a, "a").unwrap()),
        ]);
        let input = assemble(payload, &m).unwrap();
        assert_eq!(input.tensors[0].data(), &TensorData::I64(vec![1, 2]));
        assert_eq!(input.tensors[1].shape(), &[2, 2]);
        let payload = Payload::Named(vec![("a".into(), flatten(&a, "a").unwrap())]);
        let err = assemble(payload, &m).unwrap_err().to_string();
        assert!(err.contains("missing input \"b\""), "{err}");
        let payload = Payload::Named(vec![("q".into(), flatten(&a, "q").unwrap())]);
        let err = assemble(payload, &m).unwrap_err().to_string();
        assert!(err.contains("unknown input \"q\""), "{err}");
        let short = json!([[1, 2]]);
        let payload = Payload::Named(vec![
            ("a".into(), flatten(&a, "a").unwrap()),
            ("b".into(), flatten(&short, "b").unwrap()),
        ]);
        let err = assemble(payload, &m).unwrap_err().to_string();
        assert!(err.contains("rows"), "{err}");
        // An unnamed tensor for a two-input model is refused.
        let err = assemble(Payload::Tensor(flatten(&a, "x").unwrap()), &m)
            .unwrap_err()
            .to_string();
        assert!(err.contains("2 inputs"), "{err}");
    }

    #[test]
    fn a_frame_without_signature_stacks_in_frame_order() {
        let m = model(vec![IoSpec::new("X", DType::F32, vec![-1, 2])], None);
        let data = [json!([1, 3]), json!([2, 4])];
        let input = assemble(frame(&["q", "p"], &data), &m).unwrap();
        assert_eq!(
            input.tensors[0].data(),
            &TensorData::F32(vec![1.0, 2.0, 3.0, 4.0])
        );
        let data = [json!([1]), json!([2]), json!([3])];
        let err = assemble(frame(&["q", "p", "r"], &data), &m)
            .unwrap_err()
            .to_string();
        assert!(err.contains("dimension 1 must be 2"), "{err}");
    }

    #[test]
    fn non_finite_encodings_are_read_for_float_inputs() {
        let v = json!([null, "NaN", "Infinity", "-Infinity", 1]);
        let d = flatten(&v, "x").unwrap();
        let Values::Cells(cells) = &d.values else {
            panic!()
        };
        let TensorData::F64(x) = convert_cells(cells, DType::F64, "x").unwrap() else {
            panic!()
        };
        assert!(x[0].is_nan() && x[1].is_nan());
        assert_eq!(&x[2..], &[f64::INFINITY, f64::NEG_INFINITY, 1.0]);
        assert!(convert_cells(cells, DType::I64, "x").is_err());
    }

    #[test]
    fn text_cells_parse_per_type() {
        let cells = [Cell::Text("1"), Cell::Text(" 2.0 "), Cell::Text("")];
        assert_eq!(
            convert_cells(&cells[..2], DType::I32, "c").unwrap(),
            TensorData::I32(vec![1, 2])
        );
        let TensorData::F32(v) = convert_cells(&cells, DType::F32, "c").unwrap() else {
            panic!()
        };
        assert!(v[2].is_nan());
        assert_eq!(
            convert_cells(&[Cell::Text("True"), Cell::Text("0")], DType::Bool, "c").unwrap(),
            TensorData::Bool(vec![true, false])
        );
        assert!(convert_cells(&[Cell::Text("abc")], DType::F64, "c").is_err());
    }
}
