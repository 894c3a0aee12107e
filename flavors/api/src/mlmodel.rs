//! The `MLmodel` file: the descriptor at the root of every MLflow model directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::FlavorError;
use crate::signature::{Schema, Signature};
use crate::yaml;

/// The name of the descriptor file in a model directory.
pub const MLMODEL_FILE: &str = "MLmodel";

/// The signature as MLflow stores it: JSON strings inside the YAML.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawSignature {
    /// Input schema JSON.
    #[serde(default)]
    pub inputs: Option<String>,
    /// Output schema JSON.
    #[serde(default)]
    pub outputs: Option<String>,
    /// Params schema JSON.
    #[serde(default)]
    pub params: Option<String>,
}

/// An `MLmodel` file. Fields homeml does not know are kept in `extra` and written back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MlModel {
    /// MLflow 2.x: the artifact path inside the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_path: Option<String>,
    /// Flavor name -> flavor configuration (e.g. `onnx: {data: model.onnx, ...}`).
    #[serde(default)]
    pub flavors: BTreeMap<String, Value>,
    /// MLflow 3: the logged model id (`m-<32 hex>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// A random id for this model directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_uuid: Option<String>,
    /// MLflow version that wrote the file (homeml writes the version it is compatible with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlflow_version: Option<String>,
    /// The run that logged the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Input/output schemas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<RawSignature>,
    /// Where the input example is stored (`{artifact_path: input_example.json, type: ..., ...}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved_input_example_info: Option<Value>,
    /// Creation time, `YYYY-MM-DD HH:MM:SS.ffffff` in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_time_created: Option<String>,
    /// Everything else MLflow or a flavor wrote.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl MlModel {
    /// Reads `<dir>/MLmodel`.
    pub fn read_dir(dir: &Path) -> Result<MlModel, FlavorError> {
        MlModel::read_file(&dir.join(MLMODEL_FILE))
    }

    /// Reads an MLmodel file.
    pub fn read_file(path: &Path) -> Result<MlModel, FlavorError> {
        let text = std::fs::read_to_string(path).map_err(|e| FlavorError::io(path, e))?;
        MlModel::parse(&text).map_err(|message| FlavorError::MlModel {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses MLmodel text.
    pub fn parse(text: &str) -> Result<MlModel, String> {
        let m: MlModel = yaml::from_str(text).map_err(|e| e.0)?;
        if m.flavors.is_empty() {
            return Err("it lists no flavors".into());
        }
        Ok(m)
    }

    /// The YAML text, keys sorted as MLflow writes them.
    pub fn to_yaml(&self) -> Result<String, FlavorError> {
        yaml::to_string(self).map_err(|e| FlavorError::MlModel {
            path: PathBuf::from(MLMODEL_FILE),
            message: e.0,
        })
    }

    /// Writes `<dir>/MLmodel` atomically (a temporary file, then a rename).
    pub fn write_dir(&self, dir: &Path) -> Result<(), FlavorError> {
        let text = self.to_yaml()?;
        let path = dir.join(MLMODEL_FILE);
        let tmp = dir.join(format!(".{MLMODEL_FILE}.tmp-{}", std::process::id()));
        std::fs::write(&tmp, text).map_err(|e| FlavorError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| FlavorError::io(&path, e))
    }

    /// The flavor names, sorted.
    pub fn flavor_names(&self) -> Vec<String> {
        self.flavors.keys().cloned().collect()
    }

    /// A flavor's configuration.
    pub fn flavor(&self, name: &str) -> Option<&Value> {
        self.flavors.get(name)
    }

    /// Adds or replaces a flavor.
    pub fn add_flavor(&mut self, name: &str, config: Value) -> &mut Self {
        self.flavors.insert(name.to_string(), config);
        self
    }

    /// The parsed signature, if the file has one.
    pub fn signature(&self) -> Result<Option<Signature>, FlavorError> {
        let Some(raw) = &self.signature else {
            return Ok(None);
        };
        let schema = |s: &Option<String>| -> Result<Option<Schema>, FlavorError> {
            s.as_deref().map(Schema::from_json).transpose()
        };
        let params = match raw.params.as_deref() {
            Some(p) => Some(
                serde_json::from_str(p)
                    .map_err(|e| FlavorError::Signature(format!("params are not JSON: {e}")))?,
            ),
            None => None,
        };
        Ok(Some(Signature {
            inputs: schema(&raw.inputs)?,
            outputs: schema(&raw.outputs)?,
            params,
        }))
    }

    /// Stores `signature` in MLflow's JSON-in-YAML form.
    pub fn set_signature(&mut self, signature: &Signature) -> &mut Self {
        self.signature = Some(RawSignature {
            inputs: signature.inputs.as_ref().map(Schema::to_json),
            outputs: signature.outputs.as_ref().map(Schema::to_json),
            params: signature.params.as_ref().map(Value::to_string),
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An MLmodel as MLflow 3 writes it for `mlflow.onnx.log_model`.
    const MLFLOW_ONNX: &str = r#"artifact_path: model
flavors:
  onnx:
    code: null
    data: model.onnx
    onnx_version: 1.17.0
    providers:
    - CUDAExecutionProvider
    - CPUExecutionProvider
  python_function:
    data: model.onnx
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.onnx
    python_version: 3.11.7
is_signature_from_type_hint: false
mlflow_version: 3.1.0
model_id: m-0123456789abcdef0123456789abcdef
model_size_bytes: 1234
model_uuid: 5e0c4f9e7d0d4c8f9b1d9a8d1e2f3a4b
run_id: 0123456789abcdef0123456789abcdef
saved_input_example_info:
  artifact_path: input_example.json
  serving_input_path: serving_input_example.json
  type: ndarray
signature:
  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}, "name": "X"}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}, "name": "label"}]'
  params: null
type_hint_from_example: false
utc_time_created: '2025-06-01 10:00:00.000000'
"#;

    #[test]
    fn reads_what_mlflow_writes() {
        let m = MlModel::parse(MLFLOW_ONNX).unwrap();
        assert_eq!(m.flavor_names(), vec!["onnx", "python_function"]);
        assert_eq!(m.flavor("onnx").unwrap()["data"], "model.onnx");
        assert_eq!(
            m.model_id.as_deref(),
            Some("m-0123456789abcdef0123456789abcdef")
        );
        assert_eq!(m.extra["model_size_bytes"], 1234);
        let sig = m.signature().unwrap().unwrap();
        assert!(matches!(sig.inputs, Some(Schema::Tensors(_))));
    }

    #[test]
    fn round_trips_through_yaml() {
        let m = MlModel::parse(MLFLOW_ONNX).unwrap();
        let again = MlModel::parse(&m.to_yaml().unwrap()).unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn writes_sorted_keys() {
        let m = MlModel::parse(MLFLOW_ONNX).unwrap();
        let text = m.to_yaml().unwrap();
        let top: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.starts_with('-'))
            .map(|l| l.split(':').next().unwrap_or_default())
            .collect();
        let mut sorted = top.clone();
        sorted.sort();
        assert_eq!(top, sorted);
    }

    #[test]
    fn write_and_read_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = MlModel::default();
        m.add_flavor("smartcore", serde_json::json!({"data": "model.postcard"}));
        m.set_signature(&Signature::new(
            Schema::columns(&["a", "b"], crate::ColumnType::Double),
            Schema::tensor(None, crate::DType::I64, vec![-1]),
        ));
        m.write_dir(dir.path()).unwrap();
        let back = MlModel::read_dir(dir.path()).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.signature().unwrap(), m.signature().unwrap());
    }

    #[test]
    fn rejects_garbage_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MLMODEL_FILE), "flavors: [unclosed").unwrap();
        let err = MlModel::read_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("MLmodel"), "{err}");
        std::fs::write(dir.path().join(MLMODEL_FILE), "run_id: abc\n").unwrap();
        let err = MlModel::read_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no flavors"), "{err}");
        assert!(MlModel::read_dir(&dir.path().join("missing")).is_err());
    }
}
