//! Missing values: a request whose float inputs hold NaN is refused for a model that cannot use them.
//!
//! Every protocol decodes a missing value into NaN: JSON `null` and the strings `"NaN"`/`"nan"` in a
//! float input, an empty CSV field, a column a frame leaves out, NaN in a V2 binary tensor. Most models
//! then answer confidently (a logistic regression's label 0, a forest's majority leaf), so for a model
//! whose [`homeml_flavor::Model::accepts_missing_values`] is false the server refuses the request with a
//! 400 naming the first row and column holding one, before it reaches the batcher: one bad request never
//! fails the requests batched with it. Models that do use missing values (tree ensembles that learnt a
//! default direction) get the NaN as sent.

use homeml_flavor::{IoSpec, Schema, TensorData};
use serde_json::Value;

use crate::error::ApiError;
use crate::protocol::{Encoded, InferInput, ModelInfo};

/// The first NaN of a float tensor: its flat index.
fn first_nan(data: &TensorData) -> Option<usize> {
    match data {
        TensorData::F32(v) => v.iter().position(|x| x.is_nan()),
        TensorData::F64(v) => v.iter().position(|x| x.is_nan()),
        _ => None,
    }
}

/// Refuses `input` when it holds a missing value (NaN in a float input) and the model does not accept
/// missing values; `Ok` otherwise. One pass over the float inputs, stopping at the first NaN.
pub(crate) fn check(input: &InferInput, model: &ModelInfo, accepts: bool) -> Result<(), ApiError> {
    if accepts {
        return Ok(());
    }
    for (k, tensor) in input.tensors.iter().enumerate() {
        let Some(at) = first_nan(tensor.data()) else {
            continue;
        };
        let row_len = tensor.row_len().max(1);
        let (row, col) = (at / row_len, at % row_len);
        let spec = model.inputs.get(k);
        return Err(ApiError::BadRequest(format!(
            "row {row}, {} holds a missing value (null, NaN or an empty field), and model {:?} does not accept missing values: fill it in or leave the row out",
            describe(model, spec, k, col, row_len),
            model.name,
        )));
    }
    Ok(())
}

/// Names the column of element `col` (within a row of `row_len` elements) of the model's input `k`: the
/// signature's column name where the signature says which one it is, else the input's name and position.
fn describe(
    model: &ModelInfo,
    spec: Option<&IoSpec>,
    k: usize,
    col: usize,
    row_len: usize,
) -> String {
    let input_name = spec.map_or_else(|| format!("#{k}"), |s| s.name.clone());
    let columns = match model.signature.as_ref().and_then(|s| s.inputs.as_ref()) {
        Some(Schema::Columns(cols)) => Some(cols),
        _ => None,
    };
    if let Some(cols) = columns {
        // One input per column: the input carries that column alone (by name, or by position).
        if model.inputs.len() > 1 && row_len == 1 {
            let by_name = cols
                .iter()
                .any(|c| c.name.as_deref() == Some(input_name.as_str()));
            if by_name {
                return format!("column {input_name:?}");
            }
            if let Some(name) = cols.get(k).and_then(|c| c.name.as_deref()) {
                return format!("column {name:?}");
            }
        }
        // One matrix input holding every column in order.
        if model.inputs.len() == 1 && cols.len() == row_len {
            if let Some(name) = cols.get(col).and_then(|c| c.name.as_deref()) {
                return format!("column {name:?} (input {input_name:?}, position {col})");
            }
        }
    }
    if row_len == 1 {
        format!("input {input_name:?}")
    } else {
        format!("input {input_name:?}, column {col}")
    }
}

/// Adds `parameters.accepts_missing_values` to a V2 model metadata answer (the Open Inference Protocol's
/// optional `parameters` of a model's metadata), so clients can see whether NaN is refused.
pub(crate) fn annotate_metadata(mut enc: Encoded, accepts: bool) -> Encoded {
    let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(&enc.body) else {
        return enc;
    };
    let params = map
        .entry("parameters")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Value::Object(p) = params {
        p.insert("accepts_missing_values".into(), Value::Bool(accepts));
    }
    enc.body = Value::Object(map).to_string().into();
    enc
}

#[cfg(test)]
mod tests {
    use super::*;
    use homeml_flavor::{ColumnType, DType, Signature, Tensor};

    fn model(inputs: Vec<IoSpec>, cols: Option<&[&str]>) -> ModelInfo {
        ModelInfo {
            name: "iris".into(),
            version: "1".into(),
            platform: "onnx".into(),
            inputs,
            outputs: vec![IoSpec::new("label", DType::I64, vec![-1])],
            signature: cols.map(|c| Signature {
                inputs: Some(Schema::columns(c, ColumnType::Double)),
                outputs: None,
                params: None,
            }),
        }
    }

    fn input(tensors: Vec<Tensor>) -> InferInput {
        let rows = tensors[0].rows();
        InferInput { tensors, rows }
    }

    #[test]
    fn a_nan_in_a_matrix_names_its_row_and_signature_column() {
        let m = model(
            vec![IoSpec::new("X", DType::F32, vec![-1, 3])],
            Some(&["a", "b", "c"]),
        );
        let x = Tensor::f32_matrix(2, 3, vec![1.0, 2.0, 3.0, 4.0, f32::NAN, 6.0]).unwrap();
        let e = check(&input(vec![x.clone()]), &m, false).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ApiError::BadRequest(_)));
        assert!(
            msg.starts_with("row 1, column \"b\" (input \"X\", position 1)"),
            "{msg}"
        );
        assert!(msg.contains("does not accept missing values"), "{msg}");
        assert!(check(&input(vec![x]), &m, true).is_ok());
    }

    #[test]
    fn without_a_signature_the_input_and_position_are_named() {
        let m = model(vec![IoSpec::new("X", DType::F64, vec![-1, 2])], None);
        let x = Tensor::f64_matrix(2, 2, vec![1.0, 2.0, 3.0, f64::NAN]).unwrap();
        let msg = check(&input(vec![x]), &m, false).unwrap_err().to_string();
        assert!(msg.starts_with("row 1, input \"X\", column 1 "), "{msg}");
    }

    #[test]
    fn one_input_per_column_names_the_column() {
        let m = model(
            vec![
                IoSpec::new("a", DType::F32, vec![-1, 1]),
                IoSpec::new("b", DType::F32, vec![-1, 1]),
            ],
            Some(&["a", "b"]),
        );
        let a = Tensor::f32_matrix(2, 1, vec![1.0, 2.0]).unwrap();
        let b = Tensor::f32_matrix(2, 1, vec![1.0, f32::NAN]).unwrap();
        let msg = check(&input(vec![a, b]), &m, false)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("row 1, column \"b\" "), "{msg}");
    }

    #[test]
    fn finite_and_infinite_values_and_integers_pass() {
        let m = model(vec![IoSpec::new("X", DType::F32, vec![-1, 2])], None);
        let x = Tensor::f32_matrix(1, 2, vec![f32::INFINITY, -1.0]).unwrap();
        assert!(check(&input(vec![x]), &m, false).is_ok());
        let i = Tensor::new(vec![1, 2], TensorData::I64(vec![1, 2])).unwrap();
        assert!(check(&input(vec![i]), &m, false).is_ok());
    }

    #[test]
    fn metadata_gets_the_parameter() {
        let enc = Encoded::json(r#"{"name":"iris","inputs":[]}"#);
        let v: Value = serde_json::from_slice(&annotate_metadata(enc, false).body).unwrap();
        assert_eq!(
            v["parameters"]["accepts_missing_values"],
            Value::Bool(false)
        );
        assert_eq!(v["name"], "iris");
    }
}
