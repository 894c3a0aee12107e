//! Reading ONNX node attributes, with errors (never panics) for malformed models.

use tract_onnx::pb::{AttributeProto, NodeProto, TensorProto};
use tract_onnx::tract_hir::internal::{bail, TractResult};

fn find<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

/// An integer list attribute (empty when absent).
pub fn ints(node: &NodeProto, name: &str) -> Vec<i64> {
    find(node, name).map(|a| a.ints.clone()).unwrap_or_default()
}

/// An integer attribute.
pub fn int_opt(node: &NodeProto, name: &str) -> Option<i64> {
    find(node, name).map(|a| a.i)
}

/// A string attribute.
pub fn string_opt(node: &NodeProto, name: &str) -> TractResult<Option<String>> {
    match find(node, name) {
        None => Ok(None),
        Some(a) => match std::str::from_utf8(&a.s) {
            Ok(s) => Ok(Some(s.to_string())),
            Err(_) => bail!("attribute {name} of node {:?} is not UTF-8", node.name),
        },
    }
}

/// A string list attribute (`None` when absent).
pub fn strings_opt(node: &NodeProto, name: &str) -> TractResult<Option<Vec<String>>> {
    let Some(a) = find(node, name) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(a.strings.len());
    for s in &a.strings {
        match std::str::from_utf8(s) {
            Ok(s) => out.push(s.to_string()),
            Err(_) => bail!("attribute {name} of node {:?} is not UTF-8", node.name),
        }
    }
    Ok(Some(out))
}

/// A float list attribute, or its `<name>_as_tensor` form (float or double), as f64; empty when absent.
pub fn floats_or_tensor(node: &NodeProto, name: &str) -> TractResult<Vec<f64>> {
    if let Some(a) = find(node, &format!("{name}_as_tensor")) {
        if let Some(t) = &a.t {
            return tensor_f64(t, name);
        }
    }
    Ok(find(node, name)
        .map(|a| a.floats.iter().map(|&f| f as f64).collect())
        .unwrap_or_default())
}

/// A float list attribute as f32 (empty when absent).
pub fn floats(node: &NodeProto, name: &str) -> Vec<f32> {
    find(node, name)
        .map(|a| a.floats.clone())
        .unwrap_or_default()
}

fn tensor_f64(t: &TensorProto, name: &str) -> TractResult<Vec<f64>> {
    const FLOAT: i32 = 1;
    const DOUBLE: i32 = 11;
    match t.data_type {
        FLOAT if !t.float_data.is_empty() => Ok(t.float_data.iter().map(|&f| f as f64).collect()),
        FLOAT => {
            if !t.raw_data.len().is_multiple_of(4) {
                bail!(
                    "{name}_as_tensor: raw float data of {} bytes",
                    t.raw_data.len()
                );
            }
            Ok(t.raw_data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
                .collect())
        }
        DOUBLE if !t.double_data.is_empty() => Ok(t.double_data.clone()),
        DOUBLE => {
            if !t.raw_data.len().is_multiple_of(8) {
                bail!(
                    "{name}_as_tensor: raw double data of {} bytes",
                    t.raw_data.len()
                );
            }
            Ok(t.raw_data
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect())
        }
        other => bail!("{name}_as_tensor has element type {other}, expected float or double"),
    }
}
