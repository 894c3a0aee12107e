//! Loading: [`SmartcoreFlavor`] reads a model directory; [`SmartcorePredictor`] runs the model.

use std::sync::Arc;

use homeml_flavor::stored::{load_stored, StoredTabular};
use homeml_flavor::tabular::{catch_engine_panic, TabularIo};
use homeml_flavor::{Flavor, FlavorError, IoSpec, LoadContext, Model, Tensor, TensorData};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;

use crate::model::{decode, encode, Matrix, SmartcoreModel};
use crate::{DATA_FILE, FLAVOR_NAME, INPUT_NAME, SMARTCORE_VERSION};

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
        let predictor = load_stored::<SmartcorePredictor>(ctx)?;
        tracing::debug!(
            model_type = predictor.model().model_type(),
            n_features = predictor.n_features(),
            "loaded smartcore model"
        );
        Ok(Arc::new(predictor))
    }
}

/// A smartcore model ready to predict: a [`Model`] over one f64 input `[-1, n_features]`.
#[derive(Debug)]
pub struct SmartcorePredictor {
    model: SmartcoreModel,
    io: TabularIo,
}

impl SmartcorePredictor {
    /// Wraps a fitted model taking `n_features` inputs. Runs it once on a row of zeros to check that the
    /// model is usable with that many features and to learn its output shapes.
    pub fn new(
        model: SmartcoreModel,
        n_features: usize,
    ) -> Result<SmartcorePredictor, FlavorError> {
        let mut p = SmartcorePredictor {
            model,
            io: TabularIo::new(FLAVOR_NAME, INPUT_NAME, n_features)?,
        };
        let probe = p
            .predict_rows(1, vec![0.0; n_features])
            .map_err(|e| FlavorError::InvalidModel(format!("the model does not run: {e}")))?;
        p.io.set_outputs_from_probe(p.output_names(), &probe)?;
        Ok(p)
    }

    /// The wrapped model.
    pub fn model(&self) -> &SmartcoreModel {
        &self.model
    }

    /// The number of input features.
    pub fn n_features(&self) -> usize {
        self.io.n_features()
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
        self.io.check_features(rows, &features)?;
        if rows == 0 {
            return self.io.empty_outputs();
        }
        let x = DenseMatrix::new(rows, self.io.n_features(), features, false)
            .map_err(|e| FlavorError::InvalidInput(e.to_string()))?;
        // smartcore indexes without checks in places: a model decoded from a damaged file can panic.
        catch_engine_panic(FLAVOR_NAME, || run(&self.model, &x, rows))
    }
}

impl StoredTabular for SmartcorePredictor {
    type Fitted = SmartcoreModel;

    const FLAVOR: &'static str = FLAVOR_NAME;
    const DATA_FILE: &'static str = DATA_FILE;
    const FORMAT: &'static str = "postcard";
    const LIBRARY_VERSION: (&'static str, &'static str) = ("smartcore_version", SMARTCORE_VERSION);

    fn encode(model: &SmartcoreModel, n_features: usize) -> Result<Vec<u8>, FlavorError> {
        encode(model, n_features)
    }

    fn decode(bytes: &[u8]) -> Result<(SmartcoreModel, u64), FlavorError> {
        decode(bytes).map(|stored| (stored.model, stored.n_features))
    }

    fn model_type(model: &SmartcoreModel) -> &'static str {
        model.model_type()
    }

    fn from_fitted(model: SmartcoreModel, n_features: usize) -> Result<Self, FlavorError> {
        SmartcorePredictor::new(model, n_features)
    }

    fn classes(&self) -> Option<Vec<i64>> {
        SmartcorePredictor::classes(self)
    }
}

impl Model for SmartcorePredictor {
    fn inputs(&self) -> &[IoSpec] {
        self.io.inputs()
    }

    fn outputs(&self) -> &[IoSpec] {
        self.io.outputs()
    }

    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError> {
        let (rows, features) = self.io.take_features(inputs)?;
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
