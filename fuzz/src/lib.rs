//! What the fuzz targets share: the models the request decoders are fuzzed against.

use homeml_flavor::{ColumnType, DType, IoSpec, Schema, Signature, TensorSpec};
use homeml_server::protocol::ModelInfo;

/// Three model shapes the decoders treat differently: one matrix input under a named-column signature
/// (the quickstart's iris models), one input per column (skl2onnx exports of tables), and a tensor
/// signature (a plain ONNX export).
pub fn models() -> Vec<ModelInfo> {
    let outputs = vec![
        IoSpec::new("label", DType::I64, vec![-1]),
        IoSpec::new("probabilities", DType::F32, vec![-1, 3]),
    ];
    let columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
    let matrix = ModelInfo {
        name: "iris".into(),
        version: "1".into(),
        platform: "onnx".into(),
        inputs: vec![IoSpec::new("X", DType::F32, vec![-1, 4])],
        outputs: outputs.clone(),
        signature: Some(Signature {
            inputs: Some(Schema::columns(&columns, ColumnType::Double)),
            outputs: None,
            params: None,
        }),
    };
    let mut per_column = matrix.clone();
    per_column.name = "per-column".into();
    per_column.inputs = columns
        .iter()
        .map(|c| IoSpec::new(*c, DType::F64, vec![-1, 1]))
        .collect();
    let tensor = ModelInfo {
        name: "tensor".into(),
        version: "1".into(),
        platform: "onnx".into(),
        inputs: vec![IoSpec::new("input", DType::F32, vec![-1, 2])],
        outputs,
        signature: Some(Signature {
            inputs: Some(Schema::Tensors(vec![TensorSpec {
                name: None,
                dtype: DType::F32,
                dtype_name: "float32".into(),
                shape: vec![-1, 2],
            }])),
            outputs: None,
            params: None,
        }),
    };
    vec![matrix, per_column, tensor]
}
