//! The fitted linfa models this flavor stores, and their postcard file format.

use homeml_flavor::FlavorError;
use linfa_clustering::KMeans;
use linfa_ensemble::RandomForest;
use linfa_linear::FittedLinearRegression;
use linfa_logistic::MultiFittedLogisticRegression;
use linfa_nn::distance::L2Dist;
use linfa_trees::{DecisionTree, TreeNode};
use ndarray::{Array1, Array2};
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
    ///
    /// This flattens the forest first ([`LinfaRandomForest::compile`]); to predict many times,
    /// compile once and keep the [`CompiledForest`].
    pub fn predict(&self, x: &Array2<f64>) -> Result<Array1<usize>, String> {
        self.compile()?.predict(x)
    }

    /// The forest flattened for prediction: each tree's nodes in one array, every split reading
    /// its column of the full input (the tree's feature subset mapped once, here, instead of
    /// copied out of the input for every tree at every call), leaves voting for label indices.
    /// Fails when the number of trees and feature lists differ, or a tree splits on a feature
    /// outside its list or lacks a child.
    pub fn compile(&self) -> Result<CompiledForest, String> {
        if self.trees.is_empty() || self.trees.len() != self.tree_features.len() {
            return Err(format!(
                "a forest of {} trees with {} feature lists",
                self.trees.len(),
                self.tree_features.len()
            ));
        }
        let mut labels: Vec<usize> = self
            .trees
            .iter()
            .flat_map(|t| t.iter_nodes().filter_map(|n| n.prediction()))
            .collect();
        labels.sort_unstable();
        labels.dedup();
        let mut nodes: Vec<FlatNode> = Vec::new();
        let mut roots = Vec::with_capacity(self.trees.len());
        for (t, (tree, feats)) in self.trees.iter().zip(&self.tree_features).enumerate() {
            roots.push(index(nodes.len())?);
            // (node, slot in `nodes` to fill); children are pushed after their parent.
            nodes.push(FlatNode::LEAF);
            let mut stack: Vec<(&TreeNode<f64, usize>, usize)> =
                vec![(tree.root_node(), nodes.len() - 1)];
            while let Some((node, slot)) = stack.pop() {
                if let Some(label) = node.prediction() {
                    let at = labels
                        .binary_search(&label)
                        .map_err(|_| "a leaf label is missing")?;
                    nodes[slot] = FlatNode {
                        threshold: 0.0,
                        column: at,
                        left: LEAF,
                        right: LEAF,
                    };
                    continue;
                }
                let (feature, threshold, _) = node.split();
                let column = *feats.get(feature).ok_or_else(|| {
                    format!(
                        "tree {t} splits on feature {feature} of its {} features",
                        feats.len()
                    )
                })?;
                let children = node.children();
                let child = |i: usize| children.get(i).and_then(|c| c.as_deref());
                let (Some(left), Some(right)) = (child(0), child(1)) else {
                    return Err(format!("tree {t} has a split node without two children"));
                };
                let l = nodes.len();
                nodes.push(FlatNode::LEAF);
                nodes.push(FlatNode::LEAF);
                nodes[slot] = FlatNode {
                    threshold,
                    column,
                    left: index(l)?,
                    right: index(l + 1)?,
                };
                stack.push((left, l));
                stack.push((right, l + 1));
            }
        }
        Ok(CompiledForest {
            nodes,
            roots,
            labels,
            tree_features: self.tree_features.clone(),
            max_feature: self.tree_features.iter().flatten().copied().max(),
        })
    }
}

fn index(i: usize) -> Result<u32, String> {
    u32::try_from(i)
        .ok()
        .filter(|&i| i != LEAF)
        .ok_or_else(|| format!("a forest of more than {} nodes", LEAF))
}

/// `left`/`right` of a leaf.
const LEAF: u32 = u32::MAX;

/// One node of a [`CompiledForest`]: a split (`x[column] < threshold` goes left, anything else,
/// NaN included, right, as linfa's trees decide) or a leaf (`left == LEAF`, `column` is the
/// index of its label).
#[derive(Debug, Clone, Copy)]
struct FlatNode {
    threshold: f64,
    column: usize,
    left: u32,
    right: u32,
}

impl FlatNode {
    const LEAF: FlatNode = FlatNode {
        threshold: 0.0,
        column: 0,
        left: LEAF,
        right: LEAF,
    };
}

/// A [`LinfaRandomForest`] flattened for prediction ([`LinfaRandomForest::compile`]): the same
/// votes, without copying a feature subset per tree or allocating per call and tree.
#[derive(Debug, Clone)]
pub struct CompiledForest {
    nodes: Vec<FlatNode>,
    roots: Vec<u32>,
    /// The distinct leaf labels, ascending: a vote is an index into this list.
    labels: Vec<usize>,
    tree_features: Vec<Vec<usize>>,
    max_feature: Option<usize>,
}

impl CompiledForest {
    /// Majority vote of the trees; a tie goes to the smallest label. Fails when a tree uses a feature
    /// index outside `x` (the first such feature in tree order, as [`LinfaRandomForest::predict`]
    /// reports it).
    pub fn predict(&self, x: &Array2<f64>) -> Result<Array1<usize>, String> {
        let ncols = x.ncols();
        if self.max_feature.is_some_and(|m| m >= ncols) {
            let bad = self
                .tree_features
                .iter()
                .flatten()
                .find(|&&f| f >= ncols)
                .copied()
                .unwrap_or_default();
            return Err(format!("a tree uses feature {bad} of {ncols}"));
        }
        let x = x.as_standard_layout();
        let data = x.as_slice().ok_or("the input is not contiguous")?;
        let mut votes = vec![0u32; self.labels.len()];
        let mut out = Vec::with_capacity(x.nrows());
        for r in 0..x.nrows() {
            let row = &data[r * ncols..(r + 1) * ncols];
            votes.iter_mut().for_each(|v| *v = 0);
            for &root in &self.roots {
                let mut n = &self.nodes[root as usize];
                while n.left != LEAF {
                    let next = if row[n.column] < n.threshold {
                        n.left
                    } else {
                        n.right
                    };
                    n = &self.nodes[next as usize];
                }
                votes[n.column] += 1;
            }
            // The first maximum in ascending label order: ties go to the smallest label.
            let mut best = 0;
            for (i, &v) in votes.iter().enumerate() {
                if v > votes[best] {
                    best = i;
                }
            }
            out.push(self.labels.get(best).copied().unwrap_or_default());
        }
        Ok(Array1::from(out))
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
