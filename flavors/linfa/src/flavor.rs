//! Loading: [`LinfaFlavor`] reads a model directory; [`LinfaPredictor`] runs the model.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use homeml_flavor::{DType, Flavor, FlavorError, IoSpec, LoadContext, Model, Tensor, TensorData};
use linfa::prelude::Predict;
use ndarray::{Array1, Array2};

use crate::model::{decode, LinfaModel};
use crate::{FLAVOR_NAME, INPUT_NAME};

/// The `linfa` flavor: loads `model.postcard` written by [`crate::save_model`].
#[derive(Debug, Default, Clone, Copy)]
pub struct LinfaFlavor;

impl LinfaFlavor {
    /// The flavor.
    pub fn new() -> LinfaFlavor {
        LinfaFlavor
    }
}

impl Flavor for LinfaFlavor {
    fn name(&self) -> &str {
        FLAVOR_NAME
    }

    fn version(&self) -> &str {
        concat!(env!("CARGO_PKG_VERSION"), " (linfa 0.8)")
    }

    fn load(&self, ctx: &LoadContext<'_>) -> Result<Arc<dyn Model>, FlavorError> {
        let path = ctx.data_path("data")?;
        let bytes = std::fs::read(&path).map_err(|e| FlavorError::io(&path, e))?;
        let stored = decode(&bytes)
            .map_err(|e| FlavorError::InvalidModel(format!("{}: {e}", path.display())))?;
        let declared = ctx.config_str("model_type")?;
        if declared != stored.model.model_type() {
            return Err(FlavorError::InvalidModel(format!(
                "{}: MLmodel says model_type {declared:?} but the file holds a {}",
                path.display(),
                stored.model.model_type()
            )));
        }
        let n_features = usize::try_from(stored.n_features).map_err(|_| {
            FlavorError::InvalidModel(format!("{}: feature count out of range", path.display()))
        })?;
        let predictor = LinfaPredictor::new(stored.model, n_features)?;
        tracing::debug!(
            model_type = predictor.model().model_type(),
            n_features,
            "loaded linfa model"
        );
        Ok(Arc::new(predictor))
    }
}

/// A linfa model ready to predict: a [`Model`] over one f64 input `[-1, n_features]`.
#[derive(Debug)]
pub struct LinfaPredictor {
    model: LinfaModel,
    n_features: usize,
    inputs: Vec<IoSpec>,
    outputs: Vec<IoSpec>,
}

impl LinfaPredictor {
    /// Wraps a fitted model taking `n_features` inputs. Checks the model's dimensions against
    /// `n_features` and runs it once on a row of zeros to learn its output shapes.
    pub fn new(model: LinfaModel, n_features: usize) -> Result<LinfaPredictor, FlavorError> {
        if n_features == 0 || n_features > 1 << 20 {
            return Err(FlavorError::InvalidModel(format!(
                "a linfa model needs between 1 and 2^20 features, not {n_features}"
            )));
        }
        let model_features = match &model {
            LinfaModel::LogisticRegression(m) => Some(m.params().nrows()),
            LinfaModel::LinearRegression(m) => Some(m.params().len()),
            LinfaModel::KMeans(m) => Some(m.centroids().ncols()),
            LinfaModel::DecisionTree(_) | LinfaModel::RandomForest(_) => None,
        };
        if let Some(f) = model_features.filter(|&f| f != n_features) {
            return Err(FlavorError::InvalidModel(format!(
                "the {} was fitted on {f} features, the model directory says {n_features}",
                model.model_type()
            )));
        }
        let mut p = LinfaPredictor {
            model,
            n_features,
            inputs: vec![IoSpec::new(
                INPUT_NAME,
                DType::F64,
                vec![-1, n_features as i64],
            )],
            outputs: Vec::new(),
        };
        let probe = p
            .predict_rows(1, vec![0.0; n_features])
            .map_err(|e| FlavorError::InvalidModel(format!("the model does not run: {e}")))?;
        p.outputs = p
            .output_names()
            .iter()
            .zip(&probe)
            .map(|(name, t)| {
                let mut shape: Vec<i64> = t.shape().iter().map(|&d| d as i64).collect();
                shape[0] = -1;
                IoSpec::new(*name, t.dtype(), shape)
            })
            .collect();
        Ok(p)
    }

    /// The wrapped model.
    pub fn model(&self) -> &LinfaModel {
        &self.model
    }

    /// The number of input features.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The class labels, in the order of the `probabilities` columns (logistic regression only).
    pub fn classes(&self) -> Option<Vec<i64>> {
        match &self.model {
            LinfaModel::LogisticRegression(m) => {
                Some(m.classes().iter().map(|&c| c as i64).collect())
            }
            _ => None,
        }
    }

    fn output_names(&self) -> &'static [&'static str] {
        match &self.model {
            LinfaModel::LogisticRegression(_) => &["label", "probabilities"],
            LinfaModel::DecisionTree(_) | LinfaModel::RandomForest(_) => &["label"],
            LinfaModel::LinearRegression(_) => &["prediction"],
            LinfaModel::KMeans(_) => &["cluster"],
        }
    }

    /// Predicts `rows` rows given row-major f64 features (`rows * n_features` values).
    pub fn predict_rows(
        &self,
        rows: usize,
        features: Vec<f64>,
    ) -> Result<Vec<Tensor>, FlavorError> {
        if features.len() != rows * self.n_features {
            return Err(FlavorError::InvalidInput(format!(
                "expected {rows} rows of {} features ({} values), got {} values",
                self.n_features,
                rows * self.n_features,
                features.len()
            )));
        }
        if rows == 0 {
            return self.empty_outputs();
        }
        let x = Array2::from_shape_vec((rows, self.n_features), features)
            .map_err(|e| FlavorError::InvalidInput(e.to_string()))?;
        // linfa asserts on dimensions: a model decoded from a damaged file can panic. Such a panic is the
        // model's fault, reported as an engine error rather than taking the worker down.
        match catch_unwind(AssertUnwindSafe(|| run(&self.model, &x))) {
            Ok(result) => result,
            Err(panic) => Err(FlavorError::Engine(format!(
                "linfa panicked: {}",
                panic_message(&panic)
            ))),
        }
    }

    fn empty_outputs(&self) -> Result<Vec<Tensor>, FlavorError> {
        self.outputs
            .iter()
            .map(|spec| {
                let mut shape: Vec<usize> = spec.shape.iter().map(|&d| d.max(0) as usize).collect();
                shape[0] = 0;
                Ok(Tensor::new(
                    shape,
                    TensorData::with_capacity(spec.dtype, 0),
                )?)
            })
            .collect()
    }
}

impl Model for LinfaPredictor {
    fn inputs(&self) -> &[IoSpec] {
        &self.inputs
    }

    fn outputs(&self) -> &[IoSpec] {
        &self.outputs
    }

    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError> {
        let [input]: [Tensor; 1] = inputs.try_into().map_err(|v: Vec<Tensor>| {
            FlavorError::InvalidInput(format!(
                "the linfa model takes 1 input tensor, got {}",
                v.len()
            ))
        })?;
        if input.shape().len() != 2 || input.shape()[1] != self.n_features {
            return Err(FlavorError::InvalidInput(format!(
                "input {INPUT_NAME:?} must have shape [-1, {}], got {:?}",
                self.n_features,
                input.shape()
            )));
        }
        let rows = input.rows();
        let TensorData::F64(features) = input.cast(DType::F64)?.into_data() else {
            return Err(FlavorError::Engine("cast to f64 gave another dtype".into()));
        };
        self.predict_rows(rows, features)
    }
}

fn run(model: &LinfaModel, x: &Array2<f64>) -> Result<Vec<Tensor>, FlavorError> {
    match model {
        LinfaModel::LogisticRegression(m) => {
            let labels: Array1<usize> = m.predict(x);
            let probs = m.predict_probabilities(x);
            let (r, c) = probs.dim();
            let probs: Vec<f64> = probs.iter().copied().collect();
            Ok(vec![
                label_tensor(labels)?,
                Tensor::f64_matrix(r, c, probs)?,
            ])
        }
        LinfaModel::LinearRegression(m) => {
            let pred: Array1<f64> = m.predict(x);
            Ok(vec![Tensor::new(
                vec![pred.len()],
                TensorData::F64(pred.to_vec()),
            )?])
        }
        LinfaModel::DecisionTree(m) => {
            let labels: Array1<usize> = m.predict(x);
            Ok(vec![label_tensor(labels)?])
        }
        LinfaModel::RandomForest(m) => {
            let labels = m.predict(x).map_err(FlavorError::Engine)?;
            Ok(vec![label_tensor(labels)?])
        }
        LinfaModel::KMeans(m) => {
            let clusters: Array1<usize> = m.predict(x);
            Ok(vec![label_tensor(clusters)?])
        }
    }
}

fn label_tensor(labels: Array1<usize>) -> Result<Tensor, FlavorError> {
    let v: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    Ok(Tensor::new(vec![v.len()], TensorData::I64(v))?)
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}
