//! The named-column signature path: finding a frame's columns by name, converting each to its type,
//! and stacking them into the model's input tensors (one 2-D input, or one input per column).

use homeml_flavor::{ColSpec, DType, IoSpec, Schema, Tensor, TensorData};

use super::payload::{Column, Data, Payload, Values};
use crate::error::ApiError;
use crate::protocol::{InferInput, ModelInfo};

/// The named-column input schema of the model, when it has one.
pub(crate) fn column_signature(model: &ModelInfo) -> Option<&[ColSpec]> {
    match model.signature.as_ref()?.inputs.as_ref()? {
        Schema::Columns(cols) if !cols.is_empty() => Some(cols),
        _ => None,
    }
}

/// True when a named payload names the model's own input tensors (as V2 metadata lists them) rather than
/// signature columns: e.g. one FP64 `[-1, 4]` tensor `input` for a model whose signature has four named
/// columns. Such a request is checked against the model's inputs, so both ways the metadata invites work.
pub(super) fn names_model_inputs(
    payload: &Payload<'_>,
    cols: &[ColSpec],
    model: &ModelInfo,
) -> bool {
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

pub(super) fn names_list(names: impl Iterator<Item = String>) -> String {
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
pub(super) fn column_as_1d<'a>(
    data: Data<'a>,
    rows: usize,
    what: &str,
) -> Result<Data<'a>, ApiError> {
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

pub(super) fn assemble_columns(
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
pub(super) fn by_column(
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
pub(super) fn float_matrix_casts(
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
pub(super) fn interleave(
    parts: Vec<TensorData>,
    dtype: DType,
    rows: usize,
) -> Result<TensorData, ApiError> {
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
