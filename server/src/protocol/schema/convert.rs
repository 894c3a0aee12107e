//! Conversion of request cells (JSON values or CSV text) to typed elements, with errors that name the
//! value and its position.

use homeml_flavor::{DType, TensorData};
use homeml_numjson::{number_to_f64, number_to_i64, whole};
use serde_json::Value;

use crate::error::ApiError;

/// One cell of request data, borrowed from the parsed body.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    /// A JSON value (number, string, bool, null, ...).
    Json(&'a Value),
    /// A CSV field (parsed according to the target type).
    Text(&'a str),
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
