//! Loading: [`XgBoostFlavor`] reads the file the `xgboost` flavor entry names; [`XgBoostModel`]
//! predicts as XGBoost's Python API does for the entry's `model_class`.

use std::path::Path;
use std::sync::Arc;

use homeml_flavor::tabular::TabularIo;
use homeml_flavor::{Flavor, FlavorError, IoSpec, LoadContext, Model, Tensor, TensorData};
use homeml_tree_ensemble::tabular_io;
use serde_json::Value;

use crate::model::{BoosterModel, Objective};
use crate::{ubjson, FLAVOR_NAME};

/// The most bytes a model file may have.
const MAX_FILE_BYTES: u64 = 2 << 30;

/// The `xgboost` flavor.
#[derive(Debug, Default, Clone, Copy)]
pub struct XgBoostFlavor;

impl XgBoostFlavor {
    /// The flavor.
    pub fn new() -> XgBoostFlavor {
        XgBoostFlavor
    }
}

impl Flavor for XgBoostFlavor {
    fn name(&self) -> &str {
        FLAVOR_NAME
    }

    fn version(&self) -> &str {
        concat!(
            env!("CARGO_PKG_VERSION"),
            " (XGBoost 1.x-3.x models, UBJSON and JSON)"
        )
    }

    fn load(&self, ctx: &LoadContext<'_>) -> Result<Arc<dyn Model>, FlavorError> {
        let path = ctx.data_path("data")?;
        let model_class = ctx
            .flavor_config
            .get("model_class")
            .and_then(Value::as_str)
            .unwrap_or("xgboost.core.Booster");
        let format = ctx
            .flavor_config
            .get("model_format")
            .and_then(Value::as_str);
        let model = XgBoostModel::read(&path, format, model_class, ctx)?;
        tracing::debug!(
            path = %path.display(),
            trees = model.booster.forest.n_trees(),
            objective = %model.booster.objective_name,
            model_class,
            "loaded xgboost model"
        );
        Ok(Arc::new(model))
    }
}

/// What the model answers, as `mlflow.pyfunc` does for the model class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// `Booster.predict` (and the scikit-learn regressors and rankers): f32 `[-1]` or `[-1, classes]`.
    Values,
    /// `XGBClassifier.predict`: class indices, i64 `[-1]`.
    Labels,
}

/// A loaded XGBoost model.
#[derive(Debug)]
pub struct XgBoostModel {
    booster: BoosterModel,
    /// Trees used: those of the iterations predicted with.
    n_trees: usize,
    answer: Answer,
    io: TabularIo,
}

fn invalid(path: &Path, e: impl std::fmt::Display) -> FlavorError {
    FlavorError::InvalidModel(format!("{}: {e}", path.display()))
}

impl XgBoostModel {
    fn read(
        path: &Path,
        format: Option<&str>,
        model_class: &str,
        ctx: &LoadContext<'_>,
    ) -> Result<XgBoostModel, FlavorError> {
        let len = std::fs::metadata(path)
            .map_err(|e| FlavorError::io(path, e))?
            .len();
        if len > MAX_FILE_BYTES {
            return Err(invalid(path, format!("{len} bytes: too large")));
        }
        let bytes = std::fs::read(path).map_err(|e| FlavorError::io(path, e))?;
        let doc = decode(&bytes, format).map_err(|e| invalid(path, e))?;
        let booster = BoosterModel::from_value(&doc).map_err(|e| invalid(path, e))?;
        let answer = match model_class {
            "xgboost.sklearn.XGBClassifier" | "xgboost.sklearn.XGBRFClassifier" => Answer::Labels,
            c if c.starts_with("xgboost.") => Answer::Values,
            other => {
                return Err(invalid(
                    path,
                    format!("model_class {other:?} is not an XGBoost model class"),
                ))
            }
        };
        if answer == Answer::Labels && booster.objective == Objective::Identity {
            return Err(invalid(
                path,
                format!(
                    "a classifier with objective {:?} has no classes",
                    booster.objective_name
                ),
            ));
        }
        // The scikit-learn API predicts up to the best iteration; Booster.predict uses every tree.
        let iterations = match (answer, model_class, booster.best_iteration) {
            (_, c, Some(best)) if c != "xgboost.core.Booster" => {
                (best + 1).min(booster.iterations())
            }
            _ => booster.iterations(),
        };
        let n_trees = booster.iteration_indptr[iterations];
        let io = tabular_io(FLAVOR_NAME, ctx, booster.forest.n_features())
            .map_err(|e| invalid(path, e))?;
        let mut model = XgBoostModel {
            booster,
            n_trees,
            answer,
            io,
        };
        let probe = model.predict_rows(1, vec![0.0; model.io.n_features()])?;
        let name = match answer {
            Answer::Values => "prediction",
            Answer::Labels => "label",
        };
        model.io.set_outputs_from_probe(&[name], &probe)?;
        Ok(model)
    }

    /// Predicts `rows` rows of row-major f64 features (NaN: missing). Features are rounded to f32
    /// first, as XGBoost stores its input.
    pub fn predict_rows(
        &self,
        rows: usize,
        mut features: Vec<f64>,
    ) -> Result<Vec<Tensor>, FlavorError> {
        self.io.check_features(rows, &features)?;
        for x in &mut features {
            *x = f64::from(*x as f32);
        }
        let b = &self.booster;
        let groups = b.forest.n_groups();
        let mut raw: Vec<f64> = (0..rows)
            .flat_map(|_| b.base_margin.iter().map(|&m| f64::from(m)))
            .collect();
        b.forest
            .predict_raw(&features, rows, self.n_trees, &mut raw);
        let mut out: Vec<f32> = raw.into_iter().map(|v| v as f32).collect();
        for row in out.chunks_exact_mut(groups) {
            b.objective.apply(row);
        }
        let tensor = match (self.answer, b.objective) {
            (Answer::Values, Objective::SoftMax) => Tensor::new(
                vec![rows],
                TensorData::F32(out.chunks_exact(groups).map(|r| argmax(r) as f32).collect()),
            )?,
            (Answer::Values, _) if groups == 1 => Tensor::new(vec![rows], TensorData::F32(out))?,
            (Answer::Values, _) => Tensor::f32_matrix(rows, groups, out)?,
            (Answer::Labels, _) if groups == 1 => Tensor::new(
                vec![rows],
                TensorData::I64(out.iter().map(|&p| i64::from(p > 0.5)).collect()),
            )?,
            (Answer::Labels, _) => Tensor::new(
                vec![rows],
                TensorData::I64(out.chunks_exact(groups).map(|r| argmax(r) as i64).collect()),
            )?,
        };
        Ok(vec![tensor])
    }
}

/// The first index of the largest value (numpy's argmax).
fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// The model document of a `.ubj` or `.json` file. `format` is the flavor entry's `model_format`;
/// without one the bytes decide (JSON text starts with `{"` or whitespace).
fn decode(bytes: &[u8], format: Option<&str>) -> Result<Value, String> {
    let looks_json = bytes.first() == Some(&b'{')
        && bytes
            .get(1)
            .is_some_and(|b| *b == b'"' || b.is_ascii_whitespace());
    match format {
        Some("json") => {
            serde_json::from_slice(bytes).map_err(|e| format!("not an XGBoost JSON model: {e}"))
        }
        Some("ubj") => ubjson::parse(bytes),
        None if looks_json => {
            serde_json::from_slice(bytes).map_err(|e| format!("not an XGBoost JSON model: {e}"))
        }
        None if bytes.first() == Some(&b'{') => ubjson::parse(bytes),
        Some(f) => Err(format!(
            "model_format {f:?}: XGBoost's legacy binary format is not read by homeml; save the model with model_format=\"ubj\" or \"json\""
        )),
        None => Err(
            "neither an XGBoost UBJSON nor a JSON model (XGBoost's legacy binary format is not read by homeml)".into(),
        ),
    }
}

impl Model for XgBoostModel {
    fn inputs(&self) -> &[IoSpec] {
        self.io.inputs()
    }

    fn outputs(&self) -> &[IoSpec] {
        self.io.outputs()
    }

    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError> {
        let (rows, features) = self.io.take_features(inputs)?;
        if rows == 0 {
            return self.io.empty_outputs();
        }
        self.predict_rows(rows, features)
    }

    fn accepts_missing_values(&self) -> bool {
        true
    }
}
