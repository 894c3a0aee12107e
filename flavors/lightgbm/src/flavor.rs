//! Loading: [`LightGbmFlavor`] reads the file the `lightgbm` flavor entry names; [`LightGbmModel`]
//! predicts as LightGBM's Python API does for that kind of model.

use std::path::Path;
use std::sync::Arc;

use homeml_flavor::tabular::TabularIo;
use homeml_flavor::{Flavor, FlavorError, IoSpec, LoadContext, Model, Tensor, TensorData};
use homeml_tree_ensemble::tabular_io;

use crate::npy::NpyArray;
use crate::skops::{self, EstimatorKind};
use crate::text::TextModel;
use crate::FLAVOR_NAME;

/// LightGBM treats inputs within this of zero as zero (its dense rows drop them).
const ZERO_THRESHOLD: f64 = 1e-35;

/// The most bytes a model file may have.
const MAX_FILE_BYTES: u64 = 2 << 30;

/// The `lightgbm` flavor.
#[derive(Debug, Default, Clone, Copy)]
pub struct LightGbmFlavor;

impl LightGbmFlavor {
    /// The flavor.
    pub fn new() -> LightGbmFlavor {
        LightGbmFlavor
    }
}

impl Flavor for LightGbmFlavor {
    fn name(&self) -> &str {
        FLAVOR_NAME
    }

    fn version(&self) -> &str {
        concat!(
            env!("CARGO_PKG_VERSION"),
            " (LightGBM text model v2-v4, skops)"
        )
    }

    fn load(&self, ctx: &LoadContext<'_>) -> Result<Arc<dyn Model>, FlavorError> {
        let path = ctx.data_path("data")?;
        let model = LightGbmModel::read(&path, ctx)?;
        tracing::debug!(
            path = %path.display(),
            trees = model.text.forest.n_trees(),
            iterations = model.iterations,
            objective = %model.text.objective_name,
            "loaded lightgbm model"
        );
        Ok(Arc::new(model))
    }
}

/// What the model answers, as `mlflow.pyfunc` does for each kind of LightGBM model.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    /// A `lightgbm.Booster` (or a scikit-learn regressor/ranker): `Booster.predict`, f64 `[-1]` or
    /// `[-1, classes]`.
    Values,
    /// `LGBMClassifier.predict`: the label of the most probable class.
    Labels(NpyArray),
}

/// A loaded LightGBM model.
#[derive(Debug)]
pub struct LightGbmModel {
    text: TextModel,
    iterations: usize,
    answer: Answer,
    io: TabularIo,
}

fn invalid(path: &Path, e: impl std::fmt::Display) -> FlavorError {
    FlavorError::InvalidModel(format!("{}: {e}", path.display()))
}

impl LightGbmModel {
    /// Reads a LightGBM text model or a skops file (told apart by their first bytes).
    fn read(path: &Path, ctx: &LoadContext<'_>) -> Result<LightGbmModel, FlavorError> {
        let len = std::fs::metadata(path)
            .map_err(|e| FlavorError::io(path, e))?
            .len();
        if len > MAX_FILE_BYTES {
            return Err(invalid(path, format!("{len} bytes: too large")));
        }
        let bytes = std::fs::read(path).map_err(|e| FlavorError::io(path, e))?;
        let (text, best_iteration, answer) = if bytes.starts_with(b"PK") {
            let est = skops::read(&bytes).map_err(|e| invalid(path, e))?;
            let answer = match (est.kind, est.classes) {
                (EstimatorKind::Classifier, Some(classes)) => Answer::Labels(classes),
                _ => Answer::Values,
            };
            (est.model_text, est.best_iteration, answer)
        } else {
            let text = String::from_utf8(bytes)
                .map_err(|_| invalid(path, "neither a LightGBM text model nor a skops zip"))?;
            // Booster.save_model keeps the iterations up to the best one: all of them predict.
            (text, 0, Answer::Values)
        };
        let model = TextModel::parse(&text).map_err(|e| invalid(path, e))?;
        LightGbmModel::new(model, best_iteration, answer, ctx).map_err(|e| match e {
            FlavorError::InvalidModel(m) => invalid(path, m),
            other => other,
        })
    }

    fn new(
        text: TextModel,
        best_iteration: usize,
        answer: Answer,
        ctx: &LoadContext<'_>,
    ) -> Result<LightGbmModel, FlavorError> {
        if text.pandas_categorical {
            return Err(FlavorError::InvalidModel(
                "the model was trained on pandas category columns, which LightGBM's Python side recodes before predicting; homeml does not yet: train on integer-coded categories (categorical_feature=...)".into(),
            ));
        }
        if let Answer::Labels(classes) = &answer {
            let groups = text.forest.n_groups();
            let expected = if groups == 1 { 2 } else { groups };
            if classes.len() != expected
                || matches!(text.objective, crate::text::Objective::Identity)
            {
                return Err(FlavorError::InvalidModel(format!(
                    "a classifier with {} classes and objective {:?} ({groups} outputs)",
                    classes.len(),
                    text.objective_name
                )));
            }
        }
        let saved = text.iterations();
        let iterations = if best_iteration > 0 {
            best_iteration.min(saved)
        } else {
            saved
        };
        let io = tabular_io(FLAVOR_NAME, ctx, text.forest.n_features())?;
        let mut model = LightGbmModel {
            text,
            iterations,
            answer,
            io,
        };
        let probe = model.predict_rows(1, vec![0.0; model.io.n_features()])?;
        let name = match model.answer {
            Answer::Values => "prediction",
            Answer::Labels(_) => "label",
        };
        model.io.set_outputs_from_probe(&[name], &probe)?;
        Ok(model)
    }

    /// The number of boosting iterations used to predict.
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// Predicts `rows` rows of row-major f64 features (NaN: missing).
    pub fn predict_rows(
        &self,
        rows: usize,
        mut features: Vec<f64>,
    ) -> Result<Vec<Tensor>, FlavorError> {
        self.io.check_features(rows, &features)?;
        for x in &mut features {
            if x.abs() <= ZERO_THRESHOLD {
                *x = 0.0;
            }
        }
        let forest = &self.text.forest;
        let groups = forest.n_groups();
        let mut raw = vec![0.0; rows * groups];
        forest.predict_raw(
            &features,
            rows,
            self.iterations * self.text.trees_per_iteration,
            &mut raw,
        );
        if self.text.average_output && self.iterations > 0 {
            let n = self.iterations as f64;
            raw.iter_mut().for_each(|v| *v /= n);
        }
        for row in raw.chunks_exact_mut(groups) {
            self.text.objective.apply(row);
        }
        let values = if groups == 1 {
            Tensor::new(vec![rows], TensorData::F64(raw))?
        } else {
            Tensor::f64_matrix(rows, groups, raw)?
        };
        let out = match &self.answer {
            Answer::Values => values,
            Answer::Labels(classes) => labels(&values, groups, classes)?,
        };
        Ok(vec![out])
    }
}

/// `LGBMClassifier.predict`: the argmax of `predict_proba` (`[1 - p, p]` for a binary model), mapped
/// through the class labels.
fn labels(probs: &Tensor, groups: usize, classes: &NpyArray) -> Result<Tensor, FlavorError> {
    let TensorData::F64(p) = probs.data() else {
        return Err(FlavorError::Engine("probabilities are not f64".into()));
    };
    let index: Vec<usize> = if groups == 1 {
        p.iter().map(|&p| usize::from(p > 1.0 - p)).collect()
    } else {
        p.chunks_exact(groups)
            .map(|row| {
                let mut best = 0;
                for (i, &v) in row.iter().enumerate() {
                    if v > row[best] {
                        best = i;
                    }
                }
                best
            })
            .collect()
    };
    let n = index.len();
    let data = match classes {
        NpyArray::I64(c) => TensorData::I64(index.iter().map(|&i| c[i]).collect()),
        NpyArray::F64(c) => TensorData::F64(index.iter().map(|&i| c[i]).collect()),
        NpyArray::Bool(c) => TensorData::Bool(index.iter().map(|&i| c[i]).collect()),
        NpyArray::Str(c) => TensorData::String(index.iter().map(|&i| c[i].clone()).collect()),
    };
    Ok(Tensor::new(vec![n], data)?)
}

impl Model for LightGbmModel {
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
