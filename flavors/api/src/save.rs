//! The save side shared by every flavor: writes an MLflow model directory (data files, input example,
//! `MLmodel`). `homeml_tracking::Store::log_model` then copies such a directory into a run.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::error::FlavorError;
use crate::mlmodel::{MlModel, MLMODEL_FILE};
use crate::signature::{Schema, Signature};

/// The MLflow version whose model format homeml writes.
pub const MLFLOW_FORMAT_VERSION: &str = "3.17.2";

/// Builds an MLflow model directory step by step; [`ModelDirWriter::finish`] writes `MLmodel` last, so a
/// directory with an `MLmodel` is always complete.
#[derive(Debug)]
pub struct ModelDirWriter {
    dir: PathBuf,
    mlmodel: MlModel,
}

impl ModelDirWriter {
    /// Starts a model directory at `dir`, which must not exist or be empty.
    pub fn create(dir: &Path) -> Result<ModelDirWriter, FlavorError> {
        if dir.exists() {
            let mut entries = std::fs::read_dir(dir).map_err(|e| FlavorError::io(dir, e))?;
            if entries.next().is_some() {
                return Err(FlavorError::io(
                    dir,
                    std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "the model directory is not empty",
                    ),
                ));
            }
        }
        std::fs::create_dir_all(dir).map_err(|e| FlavorError::io(dir, e))?;
        let mlmodel = MlModel {
            mlflow_version: Some(MLFLOW_FORMAT_VERSION.to_string()),
            utc_time_created: Some(utc_now_string()),
            ..MlModel::default()
        };
        Ok(ModelDirWriter {
            dir: dir.to_path_buf(),
            mlmodel,
        })
    }

    /// The directory being written.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a data file at `rel` (a relative path inside the directory).
    pub fn write_file(&self, rel: &str, bytes: &[u8]) -> Result<(), FlavorError> {
        let path = self.inside(rel)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| FlavorError::io(parent, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| FlavorError::io(&path, e))
    }

    /// Copies `src` to `rel` inside the directory.
    pub fn copy_file(&self, src: &Path, rel: &str) -> Result<(), FlavorError> {
        let bytes = std::fs::read(src).map_err(|e| FlavorError::io(src, e))?;
        self.write_file(rel, &bytes)
    }

    /// Adds a flavor entry.
    pub fn flavor(&mut self, name: &str, config: Value) -> &mut Self {
        self.mlmodel.add_flavor(name, config);
        self
    }

    /// Sets the signature.
    pub fn signature(&mut self, signature: &Signature) -> &mut Self {
        self.mlmodel.set_signature(signature);
        self
    }

    /// Saves a dataframe input example (`pandas_orient: split`), as MLflow does for a DataFrame example.
    pub fn input_example_dataframe(
        &mut self,
        columns: &[&str],
        rows: &[Vec<Value>],
    ) -> Result<&mut Self, FlavorError> {
        let split = json!({"columns": columns, "data": rows});
        self.write_file("input_example.json", split.to_string().as_bytes())?;
        let serving = json!({"dataframe_split": split});
        self.write_file(
            "serving_input_example.json",
            serde_json::to_string_pretty(&serving)
                .unwrap_or_default()
                .as_bytes(),
        )?;
        self.mlmodel.saved_input_example_info = Some(json!({
            "artifact_path": "input_example.json",
            "pandas_orient": "split",
            "serving_input_path": "serving_input_example.json",
            "type": "dataframe",
        }));
        Ok(self)
    }

    /// Saves an ndarray input example (a list of rows), as MLflow does for a numpy example.
    pub fn input_example_ndarray(&mut self, rows: &Value) -> Result<&mut Self, FlavorError> {
        self.write_file("input_example.json", rows.to_string().as_bytes())?;
        let serving = json!({"inputs": rows});
        self.write_file(
            "serving_input_example.json",
            serde_json::to_string_pretty(&serving)
                .unwrap_or_default()
                .as_bytes(),
        )?;
        self.mlmodel.saved_input_example_info = Some(json!({
            "artifact_path": "input_example.json",
            "serving_input_path": "serving_input_example.json",
            "type": "ndarray",
        }));
        Ok(self)
    }

    /// Saves rows of a tabular model as its input example: a dataframe example with `columns` when the
    /// signature names them, else an ndarray example. Every row must have `n_features` values.
    pub fn input_example_rows(
        &mut self,
        layout: &TabularLayout,
        rows: &[Vec<f64>],
    ) -> Result<&mut Self, FlavorError> {
        layout.check_rows(rows)?;
        let values: Vec<Vec<Value>> = rows
            .iter()
            .map(|r| r.iter().map(|v| json!(v)).collect())
            .collect();
        match &layout.columns {
            Some(names) => {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                self.input_example_dataframe(&names, &values)
            }
            None => self.input_example_ndarray(&json!(values)),
        }
    }

    /// Sets another top-level MLmodel field.
    pub fn extra(&mut self, key: &str, value: Value) -> &mut Self {
        self.mlmodel.extra.insert(key.to_string(), value);
        self
    }

    /// Writes `MLmodel` and returns it. Fails when no flavor was added.
    pub fn finish(self) -> Result<MlModel, FlavorError> {
        if self.mlmodel.flavors.is_empty() {
            return Err(FlavorError::MlModel {
                path: self.dir.join(MLMODEL_FILE),
                message: "no flavor was added".into(),
            });
        }
        self.mlmodel.write_dir(&self.dir)?;
        Ok(self.mlmodel)
    }

    fn inside(&self, rel: &str) -> Result<PathBuf, FlavorError> {
        let p = Path::new(rel);
        let bad = rel.is_empty()
            || p.is_absolute()
            || p.components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)));
        if bad {
            return Err(FlavorError::InvalidModel(format!(
                "{rel:?} is not a relative path inside the model directory"
            )));
        }
        Ok(self.dir.join(p))
    }
}

/// The input layout of a tabular model (one `[-1, F]` feature matrix), read from its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TabularLayout {
    /// Features per row.
    pub n_features: usize,
    /// The column names, for a column signature (unnamed columns get their index).
    pub columns: Option<Vec<String>>,
}

impl TabularLayout {
    /// The layout of a signature whose inputs are named columns or one `[-1, F]` tensor; `family` names
    /// the model family in the error (e.g. `smartcore`).
    pub fn from_signature(
        signature: &Signature,
        family: &str,
    ) -> Result<TabularLayout, FlavorError> {
        match &signature.inputs {
            Some(Schema::Columns(cols)) if !cols.is_empty() => Ok(TabularLayout {
                n_features: cols.len(),
                columns: Some(
                    cols.iter()
                        .enumerate()
                        .map(|(i, c)| c.name.clone().unwrap_or_else(|| i.to_string()))
                        .collect(),
                ),
            }),
            Some(Schema::Tensors(ts))
                if ts.len() == 1 && ts[0].shape.len() == 2 && ts[0].shape[1] > 0 =>
            {
                Ok(TabularLayout {
                    n_features: ts[0].shape[1] as usize,
                    columns: None,
                })
            }
            _ => Err(FlavorError::Signature(format!(
                "a {family} model needs a signature whose inputs are named columns or one [-1, F] tensor"
            ))),
        }
    }

    /// Checks that every input example row has `n_features` values.
    pub fn check_rows(&self, rows: &[Vec<f64>]) -> Result<(), FlavorError> {
        match rows.iter().find(|r| r.len() != self.n_features) {
            Some(bad) => Err(FlavorError::InvalidInput(format!(
                "an input example row has {} values, the signature has {} features",
                bad.len(),
                self.n_features
            ))),
            None => Ok(()),
        }
    }
}

/// The current UTC time as MLflow writes `utc_time_created`: `YYYY-MM-DD HH:MM:SS.ffffff`.
pub fn utc_now_string() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format_utc_micros(now.as_micros() as i64)
}

/// Formats microseconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS.ffffff` (UTC).
pub fn format_utc_micros(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{frac:06}",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{ColumnType, Schema};
    use crate::tensor::DType;

    #[test]
    fn formats_utc_like_mlflow() {
        assert_eq!(format_utc_micros(0), "1970-01-01 00:00:00.000000");
        assert_eq!(
            format_utc_micros(1_709_251_199_123_456),
            "2024-02-29 23:59:59.123456"
        );
    }

    #[test]
    fn writes_a_complete_model_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("model");
        let mut w = ModelDirWriter::create(&dir).unwrap();
        w.write_file("model.bin", b"abc").unwrap();
        w.flavor("smartcore", json!({"data": "model.bin"}));
        w.signature(&Signature::new(
            Schema::columns(&["a", "b"], ColumnType::Double),
            Schema::tensor(None, DType::I64, vec![-1]),
        ));
        w.input_example_dataframe(&["a", "b"], &[vec![json!(1.0), json!(2.0)]])
            .unwrap();
        let m = w.finish().unwrap();
        let back = MlModel::read_dir(&dir).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.saved_input_example_info.unwrap()["type"], "dataframe");
        let ex: Value =
            serde_json::from_slice(&std::fs::read(dir.join("serving_input_example.json")).unwrap())
                .unwrap();
        assert_eq!(ex["dataframe_split"]["columns"][1], "b");
    }

    #[test]
    fn refuses_escaping_paths_and_non_empty_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        let w = ModelDirWriter::create(tmp.path()).unwrap();
        assert!(w.write_file("../x", b"").is_err());
        assert!(w.write_file("/etc/x", b"").is_err());
        w.write_file("a/b.bin", b"1").unwrap();
        assert!(ModelDirWriter::create(tmp.path()).is_err());
        assert!(ModelDirWriter::create(&tmp.path().join("empty"))
            .unwrap()
            .finish()
            .is_err());
    }
}
