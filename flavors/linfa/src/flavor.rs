//! Loading: [`LinfaFlavor`] reads a model directory; [`LinfaPredictor`] runs the model.

use std::sync::Arc;

use homeml_flavor::stored::{load_stored, StoredTabular};
use homeml_flavor::tabular::{catch_engine_panic, TabularIo};
use homeml_flavor::{Flavor, FlavorError, IoSpec, LoadContext, Model, Tensor, TensorData};
use linfa::prelude::Predict;
use ndarray::{Array1, Array2};

use crate::model::{decode, encode, CompiledForest, LinfaModel};
use crate::{DATA_FILE, FLAVOR_NAME, INPUT_NAME, LINFA_VERSION};

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
        let predictor = load_stored::<LinfaPredictor>(ctx)?;
        tracing::debug!(
            model_type = predictor.model().model_type(),
            n_features = predictor.n_features(),
            "loaded linfa model"
        );
        Ok(Arc::new(predictor))
    }
}

/// A linfa model ready to predict: a [`Model`] over one f64 input `[-1, n_features]`.
#[derive(Debug)]
pub struct LinfaPredictor {
    model: LinfaModel,
    io: TabularIo,
    /// A random forest flattened once at load ([`crate::LinfaRandomForest::compile`]); `None` for other
    /// kinds, and for a forest that does not compile (its `predict` then reports why).
    forest: Option<CompiledForest>,
}

impl LinfaPredictor {
    /// Wraps a fitted model taking `n_features` inputs. Checks the model's dimensions against
    /// `n_features` and runs it once on a row of zeros to learn its output shapes.
    pub fn new(model: LinfaModel, n_features: usize) -> Result<LinfaPredictor, FlavorError> {
        let io = TabularIo::new(FLAVOR_NAME, INPUT_NAME, n_features)?;
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
        let forest = match &model {
            LinfaModel::RandomForest(f) => f.compile().ok(),
            _ => None,
        };
        let mut p = LinfaPredictor { model, io, forest };
        let probe = p
            .predict_rows(1, vec![0.0; n_features])
            .map_err(|e| FlavorError::InvalidModel(format!("the model does not run: {e}")))?;
        p.io.set_outputs_from_probe(p.output_names(), &probe)?;
        Ok(p)
    }

    /// The wrapped model.
    pub fn model(&self) -> &LinfaModel {
        &self.model
    }

    /// The number of input features.
    pub fn n_features(&self) -> usize {
        self.io.n_features()
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
        self.io.check_features(rows, &features)?;
        if rows == 0 {
            return self.io.empty_outputs();
        }
        let x = Array2::from_shape_vec((rows, self.io.n_features()), features)
            .map_err(|e| FlavorError::InvalidInput(e.to_string()))?;
        // linfa asserts on dimensions: a model decoded from a damaged file can panic.
        catch_engine_panic(FLAVOR_NAME, || run(&self.model, self.forest.as_ref(), &x))
    }
}

impl StoredTabular for LinfaPredictor {
    type Fitted = LinfaModel;

    const FLAVOR: &'static str = FLAVOR_NAME;
    const DATA_FILE: &'static str = DATA_FILE;
    const FORMAT: &'static str = "postcard";
    const LIBRARY_VERSION: (&'static str, &'static str) = ("linfa_version", LINFA_VERSION);

    fn encode(model: &LinfaModel, n_features: usize) -> Result<Vec<u8>, FlavorError> {
        encode(model, n_features)
    }

    fn decode(bytes: &[u8]) -> Result<(LinfaModel, u64), FlavorError> {
        decode(bytes).map(|stored| (stored.model, stored.n_features))
    }

    fn model_type(model: &LinfaModel) -> &'static str {
        model.model_type()
    }

    fn from_fitted(model: LinfaModel, n_features: usize) -> Result<Self, FlavorError> {
        LinfaPredictor::new(model, n_features)
    }

    fn classes(&self) -> Option<Vec<i64>> {
        LinfaPredictor::classes(self)
    }
}

impl Model for LinfaPredictor {
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

fn run(
    model: &LinfaModel,
    forest: Option<&CompiledForest>,
    x: &Array2<f64>,
) -> Result<Vec<Tensor>, FlavorError> {
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
            let labels = match forest {
                Some(f) => f.predict(x),
                None => m.predict(x),
            }
            .map_err(FlavorError::Engine)?;
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
