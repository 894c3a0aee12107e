//! JSON encoding of tensors, written straight into a byte buffer.
//!
//! # Non-finite floats
//!
//! JSON has no NaN or infinity, and MLflow's scoring server emits bare `NaN`, which strict parsers refuse.
//! homeml always writes valid JSON:
//!
//! - NaN is written as `null`;
//! - +infinity as the string `"Infinity"` and -infinity as `"-Infinity"` (the spellings that Python's
//!   `float()`, JavaScript's `Number()` and Rust's `str::parse::<f64>()` all read back).
//!
//! The request decoders accept the same encodings (and `"NaN"`, `"inf"`, `"-inf"`) for float inputs.

use homeml_flavor::{Tensor, TensorData};

/// Writes a JSON string literal (quoted and escaped).
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_non_finite(out: &mut Vec<u8>, x: f64) {
    if x.is_nan() {
        out.extend_from_slice(b"null");
    } else if x > 0.0 {
        out.extend_from_slice(b"\"Infinity\"");
    } else {
        out.extend_from_slice(b"\"-Infinity\"");
    }
}

/// Writes an f64 (shortest round-trip form; see the module docs for non-finite values).
pub fn write_f64(out: &mut Vec<u8>, x: f64) {
    if x.is_finite() {
        // Writing a finite float into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &x);
    } else {
        write_non_finite(out, x);
    }
}

/// Writes an f32 in its own shortest round-trip form (`0.1`, not `0.10000000149011612`).
pub fn write_f32(out: &mut Vec<u8>, x: f32) {
    if x.is_finite() {
        let _ = serde_json::to_writer(&mut *out, &x);
    } else {
        write_non_finite(out, x as f64);
    }
}

fn write_int(out: &mut Vec<u8>, x: i64) {
    let _ = serde_json::to_writer(&mut *out, &x);
}

/// Writes elements `start..end` of `data`, comma-separated, without brackets.
pub fn write_elements(out: &mut Vec<u8>, data: &TensorData, start: usize, end: usize) {
    macro_rules! each {
        ($v:expr, $x:ident => $w:expr) => {
            for (i, $x) in $v[start..end].iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                $w;
            }
        };
    }
    match data {
        TensorData::Bool(v) => {
            each!(v, x => out.extend_from_slice(if *x { b"true" } else { b"false" }))
        }
        TensorData::I32(v) => each!(v, x => write_int(out, *x as i64)),
        TensorData::I64(v) => each!(v, x => write_int(out, *x)),
        TensorData::F32(v) => each!(v, x => write_f32(out, *x)),
        TensorData::F64(v) => each!(v, x => write_f64(out, *x)),
        TensorData::String(v) => each!(v, x => write_str(out, x)),
    }
}

/// Writes one element of `data` at `index`.
pub fn write_element(out: &mut Vec<u8>, data: &TensorData, index: usize) {
    write_elements(out, data, index, index + 1);
}

/// Writes the tensor as a flat JSON list (row-major), as V2 `data` holds it.
pub fn write_flat(out: &mut Vec<u8>, t: &Tensor) {
    out.push(b'[');
    write_elements(out, t.data(), 0, t.len());
    out.push(b']');
}

/// Writes the tensor as nested JSON lists following its shape (numpy's `tolist()`); a 0-D tensor is
/// written as its one value.
pub fn write_nested(out: &mut Vec<u8>, t: &Tensor) {
    write_nested_dims(out, t.data(), t.shape(), 0);
}

/// Writes elements from `offset` as nested lists of shape `dims`.
fn write_nested_dims(out: &mut Vec<u8>, data: &TensorData, dims: &[usize], offset: usize) {
    match dims {
        [] => write_element(out, data, offset),
        [n] => {
            out.push(b'[');
            write_elements(out, data, offset, offset + n);
            out.push(b']');
        }
        [n, rest @ ..] => {
            let stride: usize = rest.iter().product();
            out.push(b'[');
            for i in 0..*n {
                if i > 0 {
                    out.push(b',');
                }
                write_nested_dims(out, data, rest, offset + i * stride);
            }
            out.push(b']');
        }
    }
}

/// Writes row `row` of a batch-first tensor: its one value when rows hold a single element
/// (shape `[n]` or `[n, 1]`), else the row's nested lists.
pub fn write_row(out: &mut Vec<u8>, t: &Tensor, row: usize) {
    let row_len = t.row_len();
    let dims = t.shape().get(1..).unwrap_or(&[]);
    if row_len == 1 && dims.iter().all(|&d| d == 1) {
        write_element(out, t.data(), row);
    } else {
        write_nested_dims(out, t.data(), dims, row * row_len);
    }
}

/// Writes a batch-first tensor as a list with one entry per row: a 1-D list of values when rows hold
/// one element each (`[n]` or `[n, 1]`: what MLflow/pandas give for a column), nested lists otherwise.
pub fn write_rows(out: &mut Vec<u8>, t: &Tensor) {
    let row_len = t.row_len();
    let dims = t.shape().get(1..).unwrap_or(&[]);
    if t.shape().is_empty() {
        out.push(b'[');
        write_element(out, t.data(), 0);
        out.push(b']');
    } else if row_len == 1 && dims.iter().all(|&d| d == 1) {
        out.push(b'[');
        write_elements(out, t.data(), 0, t.rows());
        out.push(b']');
    } else {
        write_nested(out, t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use homeml_flavor::Tensor;

    fn s(f: impl Fn(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(
            s(|o| write_str(o, "a\"b\\c\nd\u{1}é")),
            "\"a\\\"b\\\\c\\nd\\u0001é\""
        );
        let back: String = serde_json::from_str(&s(|o| write_str(o, "x\t\u{1f}y"))).unwrap();
        assert_eq!(back, "x\t\u{1f}y");
    }

    #[test]
    fn non_finite_floats_are_valid_json() {
        let t = Tensor::new(
            vec![4],
            TensorData::F64(vec![1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY]),
        )
        .unwrap();
        let text = s(|o| write_flat(o, &t));
        assert_eq!(text, r#"[1.5,null,"Infinity","-Infinity"]"#);
        serde_json::from_str::<serde_json::Value>(&text).unwrap();
        let t = Tensor::new(vec![2], TensorData::F32(vec![f32::NAN, 0.1])).unwrap();
        assert_eq!(s(|o| write_flat(o, &t)), "[null,0.1]");
    }

    #[test]
    fn nested_follows_the_shape() {
        let t = Tensor::new(vec![2, 1, 2], TensorData::I64(vec![1, 2, 3, 4])).unwrap();
        assert_eq!(s(|o| write_nested(o, &t)), "[[[1,2]],[[3,4]]]");
        let b = Tensor::new(vec![2], TensorData::Bool(vec![true, false])).unwrap();
        assert_eq!(s(|o| write_nested(o, &b)), "[true,false]");
        let scalar = Tensor::new(vec![], TensorData::F32(vec![2.0])).unwrap();
        assert_eq!(s(|o| write_nested(o, &scalar)), "2.0");
    }

    #[test]
    fn rows_flatten_single_column_outputs() {
        let col = Tensor::new(vec![3, 1], TensorData::F32(vec![1.0, 2.0, 3.0])).unwrap();
        assert_eq!(s(|o| write_rows(o, &col)), "[1.0,2.0,3.0]");
        let m = Tensor::f32_matrix(2, 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(s(|o| write_rows(o, &m)), "[[1.0,2.0],[3.0,4.0]]");
        assert_eq!(s(|o| write_row(o, &m, 1)), "[3.0,4.0]");
        assert_eq!(s(|o| write_row(o, &col, 2)), "3.0");
        let strs = Tensor::new(vec![1], TensorData::String(vec!["a".into()])).unwrap();
        assert_eq!(s(|o| write_rows(o, &strs)), "[\"a\"]");
    }
}
