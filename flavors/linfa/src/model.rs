//! The fitted linfa models this flavor stores, and their postcard file format.

use std::collections::BTreeMap;

use homeml_flavor::FlavorError;
use linfa::prelude::Predict;
use linfa_clustering::KMeans;
use linfa_ensemble::RandomForest;
use linfa_linear::FittedLinearRegression;
use linfa_logistic::MultiFittedLogisticRegression;
use linfa_nn::distance::L2Dist;
use linfa_trees::DecisionTree;
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

/// A random forest in a form that serializes: linfa-ensemble's `RandomForest` without its missing serde.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinfaRandomForest {
    /// The fitted trees.
    pub trees: Vec<DecisionTree<f64, usize>>,
    /// For each tree, the input feature indices it was fitted on (in the order it sees them).
    pub tree_features: Vec<Vec<usize>>,
}

impl From<RandomForest<f64, usize>> for LinfaRandomForest {
    fn from(forest: RandomForest<f64, usize>) -> LinfaRandomForest {
        LinfaRandomForest {
            trees: forest.models,
            tree_features: forest.model_features,
        }
    }
}

impl LinfaRandomForest {
    /// Majority vote of the trees; a tie goes to the smallest label. Fails when a tree uses a feature
    /// index outside `x`.
    pub fn predict(&self, x: &Array2<f64>) -> Result<Array1<usize>, String> {
        if self.trees.is_empty() || self.trees.len() != self.tree_features.len() {
            return Err(format!(
                "a forest of {} trees with {} feature lists",
                self.trees.len(),
                self.tree_features.len()
            ));
        }
        let mut votes: Vec<BTreeMap<usize, usize>> = vec![BTreeMap::new(); x.nrows()];
        for (tree, feats) in self.trees.iter().zip(&self.tree_features) {
            if let Some(bad) = feats.iter().find(|&&f| f >= x.ncols()) {
                return Err(format!("a tree uses feature {bad} of {}", x.ncols()));
            }
            let sub = x.select(Axis(1), feats);
            let pred: Array1<usize> = tree.predict(&sub);
            for (v, p) in votes.iter_mut().zip(pred.iter()) {
                *v.entry(*p).or_insert(0) += 1;
            }
        }
        Ok(votes
            .iter()
            .map(|v| {
                // max_by_key keeps the last maximum; iterate in reverse label order so the smallest wins.
                v.iter()
                    .rev()
                    .max_by_key(|(_, n)| **n)
                    .map(|(l, _)| *l)
                    .unwrap_or_default()
            })
            .collect())
    }
}

/// A fitted linfa model of one of the kinds this flavor serves. Classifiers use `usize` labels.
#[derive(Debug, Serialize, Deserialize)]
pub enum LinfaModel {
    /// Multinomial logistic regression (`linfa_logistic::MultiLogisticRegression`).
    LogisticRegression(MultiFittedLogisticRegression<f64, usize>),
    /// Ordinary least squares (`linfa_linear::LinearRegression`).
    LinearRegression(FittedLinearRegression<f64>),
    /// CART classification tree (`linfa_trees::DecisionTree`).
    DecisionTree(DecisionTree<f64, usize>),
    /// Bagged random forest of classification trees (from `linfa_ensemble::RandomForest`).
    RandomForest(LinfaRandomForest),
    /// k-means with Euclidean distance (`linfa_clustering::KMeans`).
    KMeans(KMeans<f64, L2Dist>),
}

impl LinfaModel {
    /// The `model_type` written in the flavor entry.
    pub fn model_type(&self) -> &'static str {
        match self {
            LinfaModel::LogisticRegression(_) => "logistic_regression",
            LinfaModel::LinearRegression(_) => "linear_regression",
            LinfaModel::DecisionTree(_) => "decision_tree_classifier",
            LinfaModel::RandomForest(_) => "random_forest_classifier",
            LinfaModel::KMeans(_) => "kmeans",
        }
    }
}

/// The current version of the postcard file layout.
pub(crate) const FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct StoredRef<'a> {
    format_version: u32,
    n_features: u64,
    model: &'a LinfaModel,
}

/// What `model.postcard` holds: a layout version, the number of input features, and the model.
#[derive(Deserialize)]
pub(crate) struct Stored {
    pub format_version: u32,
    pub n_features: u64,
    pub model: LinfaModel,
}

pub(crate) fn encode(model: &LinfaModel, n_features: usize) -> Result<Vec<u8>, FlavorError> {
    postcard::to_stdvec(&StoredRef {
        format_version: FORMAT_VERSION,
        n_features: n_features as u64,
        model,
    })
    .map_err(|e| FlavorError::InvalidModel(format!("cannot encode the linfa model: {e}")))
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Stored, FlavorError> {
    let stored: Stored = postcard::from_bytes(bytes).map_err(|e| {
        FlavorError::InvalidModel(format!("the linfa model file is not valid postcard: {e}"))
    })?;
    if stored.format_version != FORMAT_VERSION {
        return Err(FlavorError::InvalidModel(format!(
            "the linfa model file has layout version {}, this homeml reads version {FORMAT_VERSION}",
            stored.format_version
        )));
    }
    Ok(stored)
}
