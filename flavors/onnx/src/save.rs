//! The save side: an MLflow model directory with the `onnx` and `python_function` flavors, laid out as
//! `mlflow.onnx.save_model` / `log_model` (MLflow 3.17) writes it.

use std::path::Path;

use homeml_flavor::signature::TensorSpec;
use homeml_flavor::{FlavorError, MlModel, ModelDirWriter, Schema, Signature};
use serde_json::{json, Value};

use crate::graph::GraphIo;

/// The `onnx` package version written as `onnx_version` (the version homeml's tests pin).
pub const ONNX_FORMAT_VERSION: &str = "1.23.2";
const ONNXRUNTIME_VERSION: &str = "1.32.0";
const MLFLOW_VERSION: &str = homeml_flavor::save::MLFLOW_FORMAT_VERSION;
const PYTHON_VERSION: &str = "3.11.7";
const DATA_FILE: &str = "model.onnx";

/// Writes an MLflow model directory at `dir` (which must not exist or be empty) holding `onnx_file` as
/// `model.onnx`, with the `onnx` flavor and a `python_function` flavor (`loader_module: mlflow.onnx`)
/// plus the environment files MLflow writes (`conda.yaml`, `python_env.yaml`, `requirements.txt`).
///
/// Without `signature`, one is derived from the ONNX graph (a tensor signature with the graph's input and
/// output names, dtypes and shapes, -1 for variable dimensions). `input_example` is either a list of rows
/// (saved as an ndarray example) or `{"columns": [...], "data": [[...], ...]}` (a dataframe example).
pub fn save_model(
    dir: &Path,
    onnx_file: &Path,
    signature: Option<&Signature>,
    input_example: Option<&Value>,
) -> Result<MlModel, FlavorError> {
    // Validate the file before writing anything.
    let io = GraphIo::from_file(onnx_file)?;
    let size = std::fs::metadata(onnx_file)
        .map_err(|e| FlavorError::io(onnx_file, e))?
        .len();
    let mut w = ModelDirWriter::create(dir)?;
    w.copy_file(onnx_file, DATA_FILE)?;
    w.write_file("conda.yaml", conda_yaml().as_bytes())?;
    w.write_file("python_env.yaml", python_env_yaml().as_bytes())?;
    w.write_file("requirements.txt", requirements().as_bytes())?;
    w.flavor(
        "onnx",
        json!({
            "code": null,
            "data": DATA_FILE,
            "onnx_session_options": null,
            "onnx_version": ONNX_FORMAT_VERSION,
            "providers": ["CUDAExecutionProvider", "CPUExecutionProvider"],
        }),
    );
    w.flavor(
        "python_function",
        json!({
            "data": DATA_FILE,
            "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
            "loader_module": "mlflow.onnx",
            "python_version": PYTHON_VERSION,
        }),
    );
    let derived;
    let signature = match signature {
        Some(s) => s,
        None => {
            derived = signature_of(&io);
            &derived
        }
    };
    w.signature(signature);
    if let Some(example) = input_example {
        match example {
            Value::Array(_) => {
                w.input_example_ndarray(example)?;
            }
            Value::Object(obj) => {
                let columns = obj.get("columns").and_then(Value::as_array);
                let data = obj.get("data").and_then(Value::as_array);
                let (Some(columns), Some(data)) = (columns, data) else {
                    return Err(FlavorError::InvalidInput(
                        "an input example object needs \"columns\" and \"data\"".into(),
                    ));
                };
                let names: Vec<&str> = columns.iter().filter_map(Value::as_str).collect();
                if names.len() != columns.len() {
                    return Err(FlavorError::InvalidInput(
                        "input example columns must be strings".into(),
                    ));
                }
                let rows: Vec<Vec<Value>> = data
                    .iter()
                    .map(|r| r.as_array().cloned().unwrap_or_default())
                    .collect();
                w.input_example_dataframe(&names, &rows)?;
            }
            _ => {
                return Err(FlavorError::InvalidInput(
                    "an input example must be a list of rows or {\"columns\", \"data\"}".into(),
                ))
            }
        }
    }
    w.extra("model_size_bytes", json!(size));
    w.extra("prompts", Value::Null);
    w.finish()
}

/// The tensor signature an ONNX graph declares.
pub fn signature_of(io: &GraphIo) -> Signature {
    let schema = |values: &[crate::graph::GraphValue]| {
        Schema::Tensors(
            values
                .iter()
                .map(|v| TensorSpec {
                    name: Some(v.io.name.clone()),
                    dtype: v.io.dtype,
                    dtype_name: v.io.dtype.numpy_name().to_string(),
                    shape: v.io.shape.clone(),
                })
                .collect(),
        )
    };
    Signature::new(schema(&io.inputs), schema(&io.outputs))
}

fn requirements() -> String {
    format!(
        "mlflow=={MLFLOW_VERSION}\nnumpy\nonnx=={ONNX_FORMAT_VERSION}\nonnxruntime=={ONNXRUNTIME_VERSION}"
    )
}

fn conda_yaml() -> String {
    format!(
        "channels:\n- conda-forge\ndependencies:\n- python={PYTHON_VERSION}\n- pip<=26.3\n- pip:\n  \
         - mlflow=={MLFLOW_VERSION}\n  - numpy\n  - onnx=={ONNX_FORMAT_VERSION}\n  \
         - onnxruntime=={ONNXRUNTIME_VERSION}\nname: mlflow-env\n"
    )
}

fn python_env_yaml() -> String {
    format!(
        "python: {PYTHON_VERSION}\nbuild_dependencies:\n- pip==26.3\n- setuptools==65.5.0\n- wheel\n\
         dependencies:\n- -r requirements.txt\n"
    )
}
