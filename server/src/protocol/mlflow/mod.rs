//! MLflow scoring protocol: `POST /invocations`, as `mlflow models serve` speaks it.
//!
//! Requests: `application/json` (also when the Content-Type header is missing, where MLflow answers 500)
//! holding exactly one of `dataframe_split`, `dataframe_records`, `instances`, `inputs`, plus an optional
//! `params` object (accepted, and ignored as MLflow does for models without a params schema); or
//! `text/csv` with or without a header row. Other content types are 415.
//!
//! Answers are shaped as MLflow 3's pyfunc scoring server shapes them (checked against
//! `mlflow models serve --env-manager local`, MLflow 3.17):
//!
//! - For ONNX models (MLflow's `mlflow.onnx` pyfunc): when MLflow hands the model a pandas DataFrame
//!   (the model has a named-column signature, or it has no signature and the request is a frame) the
//!   answer is a list of records, one per row: `{"predictions": [{"variable": 10.2}, ...]}`; otherwise a
//!   dict of all named outputs as nested lists: `{"predictions": {"label": [0, 2], "probabilities":
//!   [[...], [...]]}}`. (For a multi-output model with a column signature MLflow itself fails, because
//!   pandas cannot build a frame from outputs of different lengths; homeml answers records whose
//!   multi-value outputs are lists.)
//! - For other flavors (no MLflow pyfunc to copy; they behave like MLflow's sklearn pyfunc): one output
//!   is a list with one entry per row, a bare value for `[-1]` and `[-1, 1]` outputs:
//!   `{"predictions": [0, 2]}`; several outputs are a dict of such lists.
//!
//! Non-finite floats are encoded as described in [`super::json`].
//!
//! The common numeric `inputs`/`instances` bodies are read directly into typed tensors ([`fast`]).

use std::borrow::Cow;

use bytes::Bytes;
use homeml_flavor::Tensor;
use serde_json::Value;

use super::schema::{self, flatten, Cell, Column, Data, Payload};
use super::{
    json, media_type, media_type_is, Encoded, InferInput, MlflowInputKind, MlflowPlan, ModelInfo,
    ResponsePlan, JSON,
};
use crate::error::ApiError;

pub(crate) mod fast;

/// The input fields of which a JSON request must hold exactly one.
pub const INPUT_FIELDS: [&str; 4] = [
    "dataframe_split",
    "dataframe_records",
    "instances",
    "inputs",
];

/// Decodes a `/invocations` request for `model`.
pub fn decode(
    content_type: Option<&str>,
    body: &[u8],
    model: &ModelInfo,
) -> Result<(InferInput, ResponsePlan), ApiError> {
    if content_type.is_none_or(|ct| media_type_is(ct, JSON)) {
        return decode_json(body, model);
    }
    let media = content_type.map(media_type).unwrap_or_default();
    match media.as_str() {
        "" | "application/json" => decode_json(body, model),
        "text/csv" => decode_csv(body, model),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "content type {other:?} is not supported: send application/json or text/csv"
        ))),
    }
}

/// The answer's shape for a request decoded into `payload`.
pub(crate) fn plan(payload: &Payload<'_>, model: &ModelInfo) -> ResponsePlan {
    let input_kind = if schema::is_dataframe_for_mlflow(payload, model) {
        MlflowInputKind::DataFrame
    } else {
        MlflowInputKind::Tensor
    };
    ResponsePlan::Mlflow(MlflowPlan { input_kind })
}

/// Decodes a JSON body: the common numeric `inputs`/`instances` requests directly into typed tensors
/// ([`try_mlflow`]), the rest (and every request with an error) through a parsed `serde_json::Value`.
fn decode_json(body: &[u8], model: &ModelInfo) -> Result<(InferInput, ResponsePlan), ApiError> {
    if let Some(decoded) = try_mlflow(body, model) {
        return Ok(decoded);
    }
    decode_json_value(body, model)
}

/// MLflow `/invocations` JSON with `inputs` or `instances` as a regular numeric list, for a model whose
/// unnamed input is read directly ([`fast`]), decoded and checked as [`decode_json_value`] decodes it;
/// `None` leaves the request to the value path (which then writes any error message).
pub fn try_mlflow(body: &[u8], model: &ModelInfo) -> Option<(InferInput, ResponsePlan)> {
    let (payload, params) = fast::payload(body, model)?;
    let plan = plan(&payload, model);
    let input = schema::assemble(payload, model).ok()?;
    if params {
        tracing::debug!(model = %model.name, "ignoring inference params: the model takes none");
    }
    Some((input, plan))
}

/// Decodes a JSON body through a parsed `serde_json::Value` (the reference path, which writes every
/// error message).
pub(crate) fn decode_json_value(
    body: &[u8],
    model: &ModelInfo,
) -> Result<(InferInput, ResponsePlan), ApiError> {
    // Bare NaN/Infinity (Python's json, MLflow's scoring server) are read too, as missing/infinite.
    let value: Value = serde_json::from_slice(body)
        .or_else(|e| match super::nonfinite::rewrite(body) {
            Some(fixed) => serde_json::from_slice(&fixed).map_err(|_| e),
            None => Err(e),
        })
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(map) = &value else {
        return Err(ApiError::BadRequest(format!(
            "the body must be a JSON object with exactly one of the fields {}",
            INPUT_FIELDS.join(", ")
        )));
    };
    let present: Vec<&str> = INPUT_FIELDS
        .iter()
        .copied()
        .filter(|f| map.contains_key(*f))
        .collect();
    let [field] = present.as_slice() else {
        return Err(ApiError::BadRequest(format!(
            "the body must be a JSON object with exactly one of the fields {}; got {}",
            INPUT_FIELDS.join(", "),
            if present.is_empty() {
                "none".to_string()
            } else {
                present.join(", ")
            }
        )));
    };
    if let Some(params) = map.get("params") {
        if !params.is_object() {
            return Err(ApiError::InvalidParameter(
                "`params` must be a JSON object".into(),
            ));
        }
        tracing::debug!(model = %model.name, "ignoring inference params: the model takes none");
    }
    let data = &map[*field];
    let payload = match *field {
        "dataframe_split" => dataframe_split(data)?,
        "dataframe_records" => records(data, body, "dataframe_records")?,
        _ => tf_serving(data, body, field)?,
    };
    let plan = plan(&payload, model);
    Ok((schema::assemble(payload, model)?, plan))
}

/// `{"columns": [...], "data": [[...], ...], "index": [...]}` (pandas' `split` orient).
fn dataframe_split(v: &Value) -> Result<Payload<'_>, ApiError> {
    let Value::Object(obj) = v else {
        return Err(ApiError::BadRequest(
            "dataframe_split must be an object with `data` and optionally `columns`".into(),
        ));
    };
    let rows = match obj.get("data") {
        Some(Value::Array(rows)) => rows,
        _ => {
            return Err(ApiError::BadRequest(
                "dataframe_split.data must be a list of rows".into(),
            ))
        }
    };
    let names: Option<Vec<String>> = match obj.get("columns") {
        None | Some(Value::Null) => None,
        Some(Value::Array(cols)) => Some(
            cols.iter()
                .map(|c| match c {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
        ),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "dataframe_split.columns must be a list of names".into(),
            ))
        }
    };
    let ncols = match (&names, rows.first()) {
        (Some(n), _) => n.len(),
        (None, Some(Value::Array(first))) => first.len(),
        (None, Some(_)) => 1,
        (None, None) => 0,
    };
    let mut cols: Vec<Vec<Cell<'_>>> = (0..ncols).map(|_| Vec::with_capacity(rows.len())).collect();
    for (r, row) in rows.iter().enumerate() {
        match row {
            Value::Array(items) => {
                if items.len() != ncols {
                    return Err(ApiError::BadRequest(format!(
                        "dataframe_split row {r} has {} values where {ncols} columns were expected",
                        items.len()
                    )));
                }
                for (col, item) in cols.iter_mut().zip(items) {
                    col.push(Cell::Json(item));
                }
            }
            // A single column may be given as a list of values.
            scalar if ncols == 1 => cols[0].push(Cell::Json(scalar)),
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "dataframe_split row {r} is not a list"
                )))
            }
        }
    }
    let nrows = rows.len();
    let columns = cols
        .into_iter()
        .enumerate()
        .map(|(j, cells)| Column {
            name: names.as_ref().and_then(|n| n.get(j).cloned()),
            data: Data::cells(vec![nrows], cells),
        })
        .collect();
    Ok(Payload::Frame {
        columns,
        rows: nrows,
    })
}

/// A list of `{column: value}` records (pandas' `records` orient), columns in the body's key order.
fn records<'a>(v: &'a Value, body: &[u8], field: &str) -> Result<Payload<'a>, ApiError> {
    let Value::Array(rows) = v else {
        return Err(ApiError::BadRequest(format!(
            "{field} must be a list of records"
        )));
    };
    super::records::frame(rows, &super::records::key_order(body, Some(field)), field)
}

/// TF-serving style `instances` / `inputs`: a (nested) list, a dict of named lists, or a list of records.
fn tf_serving<'a>(v: &'a Value, body: &[u8], field: &str) -> Result<Payload<'a>, ApiError> {
    match v {
        Value::Object(map) => {
            let mut named = Vec::with_capacity(map.len());
            for (name, value) in map {
                named.push((name.clone(), flatten(value, &format!("{field}.{name}"))?));
            }
            Ok(Payload::Named(named))
        }
        Value::Array(items) if items.first().is_some_and(Value::is_object) => {
            records(v, body, field)
        }
        Value::Array(_) => Ok(Payload::Tensor(flatten(v, field)?)),
        _ => Err(ApiError::BadRequest(format!(
            "{field} must be a list or an object of named lists"
        ))),
    }
}

/// Splits CSV text into records of fields (RFC 4180: quoted fields, `""` escapes, CRLF or LF).
fn parse_csv(text: &str) -> Result<Vec<Vec<Cow<'_, str>>>, ApiError> {
    let mut rows = Vec::new();
    let mut row: Vec<Cow<'_, str>> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    let n = bytes.len();
    let mut line_has_content = false;
    while i < n {
        if bytes[i] == b'"' {
            // Quoted field.
            let mut value = String::new();
            let mut j = i + 1;
            let mut closed = false;
            while j < n {
                if bytes[j] == b'"' {
                    if j + 1 < n && bytes[j + 1] == b'"' {
                        value.push('"');
                        j += 2;
                        continue;
                    }
                    closed = true;
                    j += 1;
                    break;
                }
                let start = j;
                while j < n && bytes[j] != b'"' {
                    j += 1;
                }
                value.push_str(&text[start..j]);
            }
            if !closed {
                return Err(ApiError::BadRequest(format!(
                    "CSV line {}: unterminated quoted field",
                    rows.len() + 1
                )));
            }
            row.push(Cow::Owned(value));
            line_has_content = true;
            i = j;
            if i < n && !matches!(bytes[i], b',' | b'\n' | b'\r') {
                return Err(ApiError::BadRequest(format!(
                    "CSV line {}: text after a closing quote",
                    rows.len() + 1
                )));
            }
        } else {
            let start = i;
            while i < n && !matches!(bytes[i], b',' | b'\n' | b'\r') {
                i += 1;
            }
            row.push(Cow::Borrowed(&text[start..i]));
            line_has_content |= i > start;
        }
        if i < n && bytes[i] == b',' {
            i += 1;
            line_has_content = true;
            if i == n {
                row.push(Cow::Borrowed(""));
            }
            continue;
        }
        // End of line or input.
        if i < n && bytes[i] == b'\r' {
            i += 1;
        }
        if i < n && bytes[i] == b'\n' {
            i += 1;
        }
        if line_has_content {
            rows.push(std::mem::take(&mut row));
        } else {
            row.clear();
        }
        line_has_content = false;
    }
    if line_has_content {
        rows.push(row);
    }
    Ok(rows)
}

fn looks_numeric(field: &str) -> bool {
    let t = field.trim();
    t.is_empty()
        || t.parse::<f64>().is_ok()
        || matches!(t, "NaN" | "nan" | "inf" | "-inf" | "Infinity" | "-Infinity")
}

fn decode_csv(body: &[u8], model: &ModelInfo) -> Result<(InferInput, ResponsePlan), ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::BadRequest(format!("the CSV body is not UTF-8: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let records = parse_csv(text)?;
    let Some(first) = records.first() else {
        return Err(ApiError::BadRequest("the CSV body has no rows".into()));
    };
    // The first line is a header when it names the signature's columns, or (without a column
    // signature, or with only numeric columns) when none of its fields is a number.
    let col_names: Option<Vec<&str>> =
        match model.signature.as_ref().and_then(|s| s.inputs.as_ref()) {
            Some(homeml_flavor::Schema::Columns(cols)) => {
                Some(cols.iter().filter_map(|c| c.name.as_deref()).collect())
            }
            _ => None,
        };
    let all_names = col_names
        .as_ref()
        .is_some_and(|names| first.iter().all(|f| names.contains(&f.trim())));
    let numeric_only = match model.signature.as_ref().and_then(|s| s.inputs.as_ref()) {
        Some(homeml_flavor::Schema::Columns(cols)) => cols
            .iter()
            .all(|c| c.ty.dtype().is_some_and(|d| d.is_float() || d.is_int())),
        _ => model
            .inputs
            .iter()
            .all(|s| s.dtype.is_float() || s.dtype.is_int()),
    };
    let has_header = all_names || (numeric_only && !first.iter().any(|f| looks_numeric(f)));
    let (header, data) = if has_header {
        (Some(first), &records[1..])
    } else {
        (None, &records[..])
    };
    let ncols = first.len();
    let mut cols: Vec<Vec<Cell<'_>>> = (0..ncols).map(|_| Vec::with_capacity(data.len())).collect();
    for (r, rec) in data.iter().enumerate() {
        if rec.len() != ncols {
            return Err(ApiError::BadRequest(format!(
                "CSV line {} has {} fields where {ncols} were expected",
                r + 1 + usize::from(has_header),
                rec.len()
            )));
        }
        for (col, field) in cols.iter_mut().zip(rec) {
            col.push(Cell::Text(field.as_ref()));
        }
    }
    let nrows = data.len();
    let columns = cols
        .into_iter()
        .enumerate()
        .map(|(j, cells)| Column {
            name: header.and_then(|h| h.get(j)).map(|n| n.trim().to_string()),
            data: Data::cells(vec![nrows], cells),
        })
        .collect();
    let payload = Payload::Frame {
        columns,
        rows: nrows,
    };
    let plan = plan(&payload, model);
    Ok((schema::assemble(payload, model)?, plan))
}

fn output_name(model: &ModelInfo, i: usize) -> Cow<'_, str> {
    match model.outputs.get(i) {
        Some(spec) => Cow::Borrowed(spec.name.as_str()),
        None => Cow::Owned(format!("output_{i}")),
    }
}

/// Encodes the model's outputs as MLflow's `{"predictions": ...}` (see the module docs for the shapes).
pub fn encode(
    outputs: Vec<Tensor>,
    model: &ModelInfo,
    plan: &ResponsePlan,
) -> Result<Encoded, ApiError> {
    let kind = match plan {
        ResponsePlan::Mlflow(p) => p.input_kind,
        _ => {
            return Err(ApiError::Internal(
                "an MLflow answer was asked for a request of another protocol".into(),
            ))
        }
    };
    let Some(first) = outputs.first() else {
        return Err(ApiError::Internal("the model returned no outputs".into()));
    };
    let mut out = Vec::with_capacity(64 + outputs.iter().map(|t| t.len() * 12).sum::<usize>());
    out.extend_from_slice(b"{\"predictions\":");
    let onnx = model.platform == "onnx";
    if onnx && kind == MlflowInputKind::DataFrame {
        let rows = first.rows();
        if let Some(bad) = outputs.iter().find(|t| t.rows() != rows) {
            return Err(ApiError::Internal(format!(
                "the model's outputs have different row counts ({rows} and {})",
                bad.rows()
            )));
        }
        out.push(b'[');
        for r in 0..rows {
            if r > 0 {
                out.push(b',');
            }
            out.push(b'{');
            for (i, t) in outputs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json::write_str(&mut out, &output_name(model, i));
                out.push(b':');
                json::write_row(&mut out, t, r);
            }
            out.push(b'}');
        }
        out.push(b']');
    } else if onnx || outputs.len() > 1 {
        out.push(b'{');
        for (i, t) in outputs.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::write_str(&mut out, &output_name(model, i));
            out.push(b':');
            if onnx {
                json::write_nested(&mut out, t);
            } else {
                json::write_rows(&mut out, t);
            }
        }
        out.push(b'}');
    } else {
        json::write_rows(&mut out, first);
    }
    out.push(b'}');
    Ok(Encoded::json(out))
}

/// The body of `GET /version`: homeml's version, as text.
pub fn version_body() -> Encoded {
    Encoded {
        status: http::StatusCode::OK,
        content_type: "text/plain; charset=utf-8",
        body: Bytes::from_static(env!("CARGO_PKG_VERSION").as_bytes()),
        headers: Vec::new(),
    }
}

/// The body of `GET /ping` and `GET /health` when the model is ready (MLflow answers a newline).
pub fn ping_body() -> Encoded {
    Encoded::json(Bytes::from_static(b"\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use homeml_flavor::{ColumnType, DType, IoSpec, Schema, Signature, TensorData};
    use serde_json::json;

    fn iris(signature: Option<Signature>, platform: &str) -> ModelInfo {
        ModelInfo {
            name: "iris".into(),
            version: "1".into(),
            platform: platform.into(),
            inputs: vec![IoSpec::new("X", DType::F32, vec![-1, 4])],
            outputs: vec![
                IoSpec::new("label", DType::I64, vec![-1]),
                IoSpec::new("probabilities", DType::F32, vec![-1, 3]),
            ],
            signature,
        }
    }

    fn col_sig() -> Option<Signature> {
        Some(Signature {
            inputs: Some(Schema::columns(
                &["sepal_length", "sepal_width", "petal_length", "petal_width"],
                ColumnType::Double,
            )),
            outputs: None,
            params: None,
        })
    }

    fn tensor_sig() -> Option<Signature> {
        Some(Signature {
            inputs: Some(Schema::tensor(None, DType::F32, vec![-1, 4])),
            outputs: None,
            params: None,
        })
    }

    const ROW0: [f32; 4] = [5.1, 3.5, 1.4, 0.2];
    const ROWS2: [f32; 8] = [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3];

    fn ok(ct: Option<&str>, body: &str, m: &ModelInfo) -> (InferInput, ResponsePlan) {
        decode(ct, body.as_bytes(), m).unwrap_or_else(|e| panic!("{body}: {e}"))
    }

    fn err(ct: Option<&str>, body: &str, m: &ModelInfo) -> ApiError {
        match decode(ct, body.as_bytes(), m) {
            Ok(r) => panic!("{body} decoded to {r:?}"),
            Err(e) => e,
        }
    }

    fn x(input: &InferInput) -> &TensorData {
        input.tensors[0].data()
    }

    const J: Option<&str> = Some("application/json");

    #[test]
    fn dataframe_split_by_name_in_any_order() {
        let m = iris(col_sig(), "onnx");
        let (input, plan) = ok(
            J,
            r#"{"dataframe_split": {"columns": ["petal_width","sepal_length","sepal_width","petal_length"], "data": [[0.2,5.1,3.5,1.4],[2.3,6.7,3.0,5.2]]}}"#,
            &m,
        );
        assert_eq!(x(&input), &TensorData::F32(ROWS2.to_vec()));
        assert_eq!(input.rows, 2);
        assert_eq!(
            plan,
            ResponsePlan::Mlflow(MlflowPlan {
                input_kind: MlflowInputKind::DataFrame
            })
        );
    }

    #[test]
    fn dataframe_split_without_columns_is_positional() {
        let m = iris(col_sig(), "onnx");
        let (input, _) = ok(
            J,
            r#"{"dataframe_split": {"data": [[5.1,3.5,1.4,0.2]]}}"#,
            &m,
        );
        assert_eq!(x(&input), &TensorData::F32(ROW0.to_vec()));
        let e = err(
            J,
            r#"{"dataframe_split": {"data": [[5.1,3.5,1.4,0.2],[1,2]]}}"#,
            &m,
        );
        assert!(e.to_string().contains("row 1"), "{e}");
        let e = err(J, r#"{"dataframe_split": [1]}"#, &m);
        assert!(matches!(e, ApiError::BadRequest(_)));
    }

    #[test]
    fn dataframe_records_with_int_coercion() {
        let m = iris(col_sig(), "onnx");
        let (input, _) = ok(
            None,
            r#"{"dataframe_records": [{"sepal_length":5,"sepal_width":3,"petal_length":1,"petal_width":0}]}"#,
            &m,
        );
        assert_eq!(x(&input), &TensorData::F32(vec![5.0, 3.0, 1.0, 0.0]));
        let e = err(
            J,
            r#"{"dataframe_records": [{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4}]}"#,
            &m,
        );
        assert!(
            e.to_string().contains("missing column \"petal_width\""),
            "{e}"
        );
        let e = err(
            J,
            r#"{"dataframe_records": [{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2,"extra":1}]}"#,
            &m,
        );
        assert!(e.to_string().contains("unknown column \"extra\""), "{e}");
        let e = err(
            J,
            r#"{"dataframe_records": [{"sepal_length":"a","sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}"#,
            &m,
        );
        assert!(e.to_string().contains("column \"sepal_length\""), "{e}");
        assert_eq!(e.status(crate::error::Protocol::Mlflow), 400);
    }

    #[test]
    fn records_keep_the_key_order_for_tensor_signatures() {
        // MLflow stacks a frame's columns in the request's order when the signature has no names.
        let m = iris(tensor_sig(), "onnx");
        let (input, _) = ok(
            J,
            r#"{"dataframe_records": [{"sepal_width":3.5,"sepal_length":5.1,"petal_length":1.4,"petal_width":0.2}]}"#,
            &m,
        );
        assert_eq!(x(&input), &TensorData::F32(vec![3.5, 5.1, 1.4, 0.2]));
    }

    #[test]
    fn inputs_and_instances_forms() {
        let m = iris(tensor_sig(), "onnx");
        for body in [
            r#"{"inputs": [[5.1,3.5,1.4,0.2],[6.7,3.0,5.2,2.3]]}"#,
            r#"{"instances": [[5.1,3.5,1.4,0.2],[6.7,3.0,5.2,2.3]]}"#,
            r#"{"inputs": [[5.1,3.5,1.4,0.2],[6.7,3.0,5.2,2.3]], "params": {"a": 1}}"#,
            r#"{"inputs": {"X": [[5.1,3.5,1.4,0.2],[6.7,3.0,5.2,2.3]]}}"#,
        ] {
            let (input, plan) = ok(J, body, &m);
            assert_eq!(x(&input), &TensorData::F32(ROWS2.to_vec()), "{body}");
            assert_eq!(
                plan,
                ResponsePlan::Mlflow(MlflowPlan {
                    input_kind: MlflowInputKind::Tensor
                })
            );
        }
        let e = err(J, r#"{"inputs": [[5.1,3.5,1.4]]}"#, &m);
        assert!(e.to_string().contains("dimension 1 must be 4"), "{e}");
        // Column signature: a dict of columns and a list of records both work.
        let m = iris(col_sig(), "onnx");
        for body in [
            r#"{"inputs": {"sepal_length":[5.1],"sepal_width":[3.5],"petal_length":[1.4],"petal_width":[0.2]}}"#,
            r#"{"instances": [{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}"#,
            r#"{"inputs": [[5.1,3.5,1.4,0.2]]}"#,
        ] {
            let (input, _) = ok(J, body, &m);
            assert_eq!(x(&input), &TensorData::F32(ROW0.to_vec()), "{body}");
        }
    }

    #[test]
    fn exactly_one_input_field() {
        let m = iris(tensor_sig(), "onnx");
        for body in [
            r#"{"inputs": [[1,2,3,4]], "instances": [[1,2,3,4]]}"#,
            r#"{"foo": 1}"#,
            r#"[[1,2,3,4]]"#,
        ] {
            let e = err(J, body, &m);
            assert!(
                matches!(&e, ApiError::BadRequest(msg) if msg.contains("exactly one")),
                "{e}"
            );
        }
        let e = err(J, "not json", &m);
        assert!(
            matches!(&e, ApiError::BadRequest(msg) if msg.contains("not valid JSON")),
            "{e}"
        );
        let e = err(J, r#"{"inputs": [[1,2,3,4]], "params": 3}"#, &m);
        assert!(matches!(e, ApiError::InvalidParameter(_)));
        let e = err(J, r#"{"inputs": 3}"#, &m);
        assert!(matches!(e, ApiError::BadRequest(_)));
    }

    #[test]
    fn content_types() {
        let m = iris(tensor_sig(), "onnx");
        let body = r#"{"inputs": [[5.1,3.5,1.4,0.2]]}"#;
        ok(None, body, &m);
        ok(Some("application/json; charset=utf-8"), body, &m);
        let e = err(Some("text/plain"), body, &m);
        assert!(matches!(e, ApiError::UnsupportedMediaType(_)));
        assert_eq!(e.status(crate::error::Protocol::Mlflow), 415);
    }

    #[test]
    fn csv_with_and_without_header() {
        let m = iris(col_sig(), "onnx");
        let ct = Some("text/csv");
        let (input, plan) = ok(
            ct,
            "petal_width,sepal_length,sepal_width,petal_length\r\n0.2,5.1,3.5,1.4\r\n2.3,6.7,3.0,5.2\r\n",
            &m,
        );
        assert_eq!(x(&input), &TensorData::F32(ROWS2.to_vec()));
        assert_eq!(
            plan,
            ResponsePlan::Mlflow(MlflowPlan {
                input_kind: MlflowInputKind::DataFrame
            })
        );
        let (input, _) = ok(ct, "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3", &m);
        assert_eq!(x(&input), &TensorData::F32(ROWS2.to_vec()));
        let e = err(ct, "a,b,c,d\n1,2,3,4\n", &m);
        assert!(e.to_string().contains("unknown column \"a\""), "{e}");
        let e = err(ct, "5.1,3.5,1.4\n", &m);
        assert!(e.to_string().contains("expected 4 columns"), "{e}");
        let e = err(ct, "5.1,3.5,1.4,0.2\n1,2\n", &m);
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = err(ct, "", &m);
        assert!(matches!(e, ApiError::BadRequest(_)));
        // Tensor signature: the CSV's columns are stacked in order.
        let m = iris(tensor_sig(), "onnx");
        let (input, _) = ok(ct, "a,b,c,d\n5.1,3.5,1.4,0.2\n", &m);
        assert_eq!(x(&input), &TensorData::F32(ROW0.to_vec()));
    }

    #[test]
    fn csv_quoting() {
        let rows = parse_csv("a,\"b,\"\"c\"\"\",\n\n1,2,3").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], vec!["a", "b,\"c\"", ""]);
        assert_eq!(rows[1], vec!["1", "2", "3"]);
        assert!(parse_csv("\"abc").is_err());
        assert!(parse_csv("\"a\"b,c").is_err());
    }

    fn outputs() -> Vec<Tensor> {
        vec![
            Tensor::new(vec![2], TensorData::I64(vec![0, 2])).unwrap(),
            Tensor::f32_matrix(2, 3, vec![0.5, 0.25, 0.25, 0.0, f32::NAN, 1.0]).unwrap(),
        ]
    }

    fn body(e: &Encoded) -> Value {
        assert_eq!(e.status, 200);
        serde_json::from_slice(&e.body).unwrap()
    }

    #[test]
    fn onnx_tensor_requests_answer_a_dict_of_outputs() {
        let m = iris(tensor_sig(), "onnx");
        let plan = ResponsePlan::Mlflow(MlflowPlan {
            input_kind: MlflowInputKind::Tensor,
        });
        let e = encode(outputs(), &m, &plan).unwrap();
        assert_eq!(
            body(&e),
            json!({"predictions": {"label": [0, 2], "probabilities": [[0.5, 0.25, 0.25], [0.0, null, 1.0]]}})
        );
        // A [-1, 1] regression output stays nested in the dict, as numpy's tolist() gives it.
        let mut m1 = m.clone();
        m1.outputs = vec![IoSpec::new("variable", DType::F32, vec![-1, 1])];
        let reg = vec![Tensor::f32_matrix(2, 1, vec![10.5, 13.25]).unwrap()];
        assert_eq!(
            body(&encode(reg, &m1, &plan).unwrap()),
            json!({"predictions": {"variable": [[10.5], [13.25]]}})
        );
    }

    #[test]
    fn onnx_dataframe_requests_answer_records() {
        let mut m = iris(col_sig(), "onnx");
        m.outputs = vec![IoSpec::new("variable", DType::F32, vec![-1, 1])];
        let plan = ResponsePlan::Mlflow(MlflowPlan {
            input_kind: MlflowInputKind::DataFrame,
        });
        let reg = vec![Tensor::f32_matrix(2, 1, vec![10.5, 13.25]).unwrap()];
        assert_eq!(
            body(&encode(reg, &m, &plan).unwrap()),
            json!({"predictions": [{"variable": 10.5}, {"variable": 13.25}]})
        );
        let m = iris(col_sig(), "onnx");
        assert_eq!(
            body(&encode(outputs(), &m, &plan).unwrap()),
            json!({"predictions": [
                {"label": 0, "probabilities": [0.5, 0.25, 0.25]},
                {"label": 2, "probabilities": [0.0, null, 1.0]}
            ]})
        );
    }

    #[test]
    fn other_flavors_answer_lists() {
        let m = iris(None, "smartcore");
        let plan = ResponsePlan::Mlflow(MlflowPlan {
            input_kind: MlflowInputKind::Tensor,
        });
        let one = vec![Tensor::new(vec![2, 1], TensorData::F64(vec![1.5, f64::INFINITY])).unwrap()];
        assert_eq!(
            body(&encode(one, &m, &plan).unwrap()),
            json!({"predictions": [1.5, "Infinity"]})
        );
        assert_eq!(
            body(&encode(outputs(), &m, &plan).unwrap()),
            json!({"predictions": {"label": [0, 2], "probabilities": [[0.5, 0.25, 0.25], [0.0, null, 1.0]]}})
        );
        assert!(encode(vec![], &m, &plan).is_err());
        assert!(encode(outputs(), &m, &ResponsePlan::Predict).is_err());
    }

    #[test]
    fn version_and_ping() {
        assert_eq!(version_body().body, env!("CARGO_PKG_VERSION"));
        assert_eq!(ping_body().status, 200);
    }
}
