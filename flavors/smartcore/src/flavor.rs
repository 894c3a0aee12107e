//! Loading: [`SmartcoreFlavor`] reads a model directory; [`SmartcorePredictor`] runs the model.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use homeml_flavor::{DType, Flavor, FlavorError, IoSpec, LoadContext, Model, Tensor, TensorData};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;

use crate::model::{decode, Matrix, SmartcoreModel};
use crate::{FLAVOR_NAME, INPUT_NAME};

/// The `smartcore` flavor: loads `model.postcard` written by [`crate::save_model`].
#[derive(Debug, Default, Clone, Copy)]
pub struct SmartcoreFlavor;

impl SmartcoreFlavor {
    /// The flavor.
    pub fn new() -> SmartcoreFlavor {
        SmartcoreFlavor
    }
}

impl Flavor for SmartcoreFlavor {
    fn name(&self) -> &str {
        FLAVOR_NAME
    }

    fn version(&self) -> &str {
        concat!(env!("CARGO_PKG_VERSION"), " (smartcore 0.7)")
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
        let predictor = SmartcorePredictor::new(stored.model, n_features)?;
        tracing::debug!(
            model_type = predictor.model().model_type(),
            n_features,
            "loaded smartcore model"
        );
        Ok(Arc::new(predictor))
    }
}

/// A smartcore model ready to predict: a [`Model`] over one f64 input `[-1, n_features]`.
#[derive(Debug)]
pub struct SmartcorePredictor {
    model: SmartcoreModel,
    n_features: usize,
    inputs: Vec<IoSpec>,
    outputs: Vec<IoSpec>,
}

impl SmartcorePredictor {
    /// Wraps a fitted model taking `n_features` inputs. Runs it once on a row of zeros to check that the
    /// model is usable with that many features and to learn its output shapes.
    pub fn new(
        model: SmartcoreModel,
        n_features: usize,
    ) -> Result<SmartcorePredictor, FlavorError> {
        if n_features == 0 || n_features > 1 << 20 {
            return Err(FlavorError::InvalidModel(format!(
                "a smartcore model needs between 1 and 2^20 features, not {n_features}"
            )));
        }
        let mut p = SmartcorePredictor {
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
    pub fn model(&self) -> &SmartcoreModel {
        &self.model
    }

    /// The number of input features.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The class labels, in the order of the `probabilities` columns, where smartcore exposes them.
    pub fn classes(&self) -> Option<Vec<i64>> {
        match &self.model {
            // `classes()` unwraps an Option: only call it once `predict` has shown the model is fitted,
            // which `new` did.
            SmartcoreModel::LogisticRegression(m) => Some(m.classes().clone()),
            _ => None,
        }
    }

    fn output_names(&self) -> &'static [&'static str] {
        match &self.model {
            SmartcoreModel::LogisticRegression(_) | SmartcoreModel::DecisionTreeClassifier(_) => {
                &["label", "probabilities"]
            }
            SmartcoreModel::RandomForestClassifier(_) => &["label"],
            SmartcoreModel::LinearRegression(_)
            | SmartcoreModel::DecisionTreeRegressor(_)
            | SmartcoreModel::RandomForestRegressor(_) => &["prediction"],
            SmartcoreModel::KMeans(_) => &["cluster"],
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
        let x = DenseMatrix::new(rows, self.n_features, features, false)
            .map_err(|e| FlavorError::InvalidInput(e.to_string()))?;
        // smartcore indexes without checks in places: a model decoded from a damaged file can panic.
        // Such a panic is the model's fault, reported as an engine error rather than taking the worker down.
        match catch_unwind(AssertUnwindSafe(|| run(&self.model, &x, rows))) {
            Ok(result) => result,
            Err(panic) => Err(FlavorError::Engine(format!(
                "smartcore panicked: {}",
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

impl Model for SmartcorePredictor {
    fn inputs(&self) -> &[IoSpec] {
        &self.inputs
    }

    fn outputs(&self) -> &[IoSpec] {
        &self.outputs
    }

    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError> {
        let [input]: [Tensor; 1] = inputs.try_into().map_err(|v: Vec<Tensor>| {
            FlavorError::InvalidInput(format!(
                "the smartcore model takes 1 input tensor, got {}",
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

fn run(model: &SmartcoreModel, x: &Matrix, rows: usize) -> Result<Vec<Tensor>, FlavorError> {
    let failed = |e: smartcore::error::Failed| FlavorError::Engine(e.to_string());
    match model {
        SmartcoreModel::LogisticRegression(m) => {
            let labels = m.predict(x).map_err(failed)?;
            let probs = logistic_probabilities(m.coefficients(), m.intercept(), x, rows)?;
            Ok(vec![label_tensor(labels)?, probs])
        }
        SmartcoreModel::DecisionTreeClassifier(m) => {
            let labels = m.predict(x).map_err(failed)?;
            let probs = m.predict_proba(x).map_err(failed)?;
            Ok(vec![label_tensor(labels)?, matrix_tensor(&probs)?])
        }
        SmartcoreModel::RandomForestClassifier(m) => {
            Ok(vec![label_tensor(m.predict(x).map_err(failed)?)?])
        }
        SmartcoreModel::LinearRegression(m) => {
            Ok(vec![value_tensor(m.predict(x).map_err(failed)?)?])
        }
        SmartcoreModel::DecisionTreeRegressor(m) => {
            Ok(vec![value_tensor(m.predict(x).map_err(failed)?)?])
        }
        SmartcoreModel::RandomForestRegressor(m) => {
            Ok(vec![value_tensor(m.predict(x).map_err(failed)?)?])
        }
        SmartcoreModel::KMeans(m) => Ok(vec![label_tensor(m.predict(x).map_err(failed)?)?]),
    }
}

fn label_tensor(labels: Vec<i64>) -> Result<Tensor, FlavorError> {
    Ok(Tensor::new(vec![labels.len()], TensorData::I64(labels))?)
}

fn value_tensor(values: Vec<f64>) -> Result<Tensor, FlavorError> {
    Ok(Tensor::new(vec![values.len()], TensorData::F64(values))?)
}

fn matrix_tensor(m: &DenseMatrix<f64>) -> Result<Tensor, FlavorError> {
    let (r, c) = m.shape();
    let mut out = Vec::with_capacity(r * c);
    for i in 0..r {
        for j in 0..c {
            out.push(*m.get((i, j)));
        }
    }
    Ok(Tensor::f64_matrix(r, c, out)?)
}

/// Class probabilities of a fitted logistic regression: the softmax of the per-class linear scores
/// (multinomial), or `[1 - p, p]` with `p = sigmoid(score)` for two classes, as smartcore's `predict` decides.
fn logistic_probabilities(
    coef: &Matrix,
    intercept: &Matrix,
    x: &Matrix,
    rows: usize,
) -> Result<Tensor, FlavorError> {
    let (k, f) = coef.shape();
    let (_, xf) = x.shape();
    if f != xf || intercept.shape().0 != k || k == 0 {
        return Err(FlavorError::Engine(format!(
            "logistic regression coefficients are {k}x{f} with {} intercepts, input has {xf} features",
            intercept.shape().0
        )));
    }
    let score = |row: usize, class: usize| -> f64 {
        let mut s = *intercept.get((class, 0));
        for j in 0..f {
            s += *x.get((row, j)) * *coef.get((class, j));
        }
        s
    };
    if k == 1 {
        let mut out = Vec::with_capacity(rows * 2);
        for i in 0..rows {
            let p = 1.0 / (1.0 + (-score(i, 0)).exp());
            out.extend([1.0 - p, p]);
        }
        return Ok(Tensor::f64_matrix(rows, 2, out)?);
    }
    let mut out = Vec::with_capacity(rows * k);
    let mut scores = vec![0.0; k];
    for i in 0..rows {
        for (c, s) in scores.iter_mut().enumerate() {
            *s = score(i, c);
        }
        let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = scores.iter().map(|s| (s - max).exp()).sum();
        out.extend(scores.iter().map(|s| (s - max).exp() / sum));
    }
    Ok(Tensor::f64_matrix(rows, k, out)?)
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
