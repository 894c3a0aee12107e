//! A compiled tree ensemble: the engine behind homeml's `TreeEnsembleClassifier` and
//! `TreeEnsembleRegressor` (ai.onnx.ml).
//!
//! The ONNX attributes (parallel arrays of nodes and leaf weights) are compiled once into flat node arrays;
//! a prediction walks one root-to-leaf path per tree and aggregates the weights of the leaf it reaches.
//! Aggregation and post-transforms follow ONNX Runtime's implementation (`tree_ensemble_aggregator.h`,
//! `ml_common.h`) so that outputs match it, including its binary-classification conventions.

use std::collections::{BTreeMap, HashMap};

pub use super::post_transform::{apply_transform, logistic, probit, PostTransform};

/// How a branch node compares a feature with its threshold (`nodes_modes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum NodeMode {
    /// A leaf.
    Leaf = 0,
    /// `x <= v` goes to the true branch.
    BranchLeq = 1,
    /// `x < v`.
    BranchLt = 2,
    /// `x >= v`.
    BranchGte = 3,
    /// `x > v`.
    BranchGt = 4,
    /// `x == v`.
    BranchEq = 5,
    /// `x != v`.
    BranchNeq = 6,
}

impl NodeMode {
    /// Parses an ONNX mode name.
    pub fn parse(s: &str) -> Option<NodeMode> {
        Some(match s {
            "LEAF" => NodeMode::Leaf,
            "BRANCH_LEQ" => NodeMode::BranchLeq,
            "BRANCH_LT" => NodeMode::BranchLt,
            "BRANCH_GTE" => NodeMode::BranchGte,
            "BRANCH_GT" => NodeMode::BranchGt,
            "BRANCH_EQ" => NodeMode::BranchEq,
            "BRANCH_NEQ" => NodeMode::BranchNeq,
            _ => return None,
        })
    }
}

/// How the leaf weights of all trees combine (`aggregate_function`; classifiers always sum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// Sum of the weights.
    Sum,
    /// Sum divided by the number of trees.
    Average,
    /// Smallest weight.
    Min,
    /// Largest weight.
    Max,
}

impl Aggregate {
    /// Parses an ONNX aggregate_function name.
    pub fn parse(s: &str) -> Option<Aggregate> {
        Some(match s {
            "SUM" => Aggregate::Sum,
            "AVERAGE" => Aggregate::Average,
            "MIN" => Aggregate::Min,
            "MAX" => Aggregate::Max,
            _ => return None,
        })
    }
}

/// Class labels of a classifier.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassLabels {
    /// `classlabels_int64s`.
    Int(Vec<i64>),
    /// `classlabels_strings`.
    Str(Vec<String>),
}

impl ClassLabels {
    /// Number of classes.
    pub fn len(&self) -> usize {
        match self {
            ClassLabels::Int(v) => v.len(),
            ClassLabels::Str(v) => v.len(),
        }
    }

    /// True when there are no classes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The ONNX attributes of a tree ensemble, as parallel arrays (the leaf arrays are `class_*` for a
/// classifier, `target_*` for a regressor).
#[derive(Debug, Clone, PartialEq)]
pub struct TreeAttributes {
    /// `nodes_treeids`.
    pub nodes_treeids: Vec<i64>,
    /// `nodes_nodeids`.
    pub nodes_nodeids: Vec<i64>,
    /// `nodes_featureids`.
    pub nodes_featureids: Vec<i64>,
    /// `nodes_modes`.
    pub nodes_modes: Vec<NodeMode>,
    /// `nodes_values` (or `nodes_values_as_tensor`), as f64 so double thresholds stay exact.
    pub nodes_values: Vec<f64>,
    /// `nodes_truenodeids`.
    pub nodes_truenodeids: Vec<i64>,
    /// `nodes_falsenodeids`.
    pub nodes_falsenodeids: Vec<i64>,
    /// `nodes_missing_value_tracks_true` (empty: all false).
    pub nodes_missing_value_tracks_true: Vec<i64>,
    /// `class_treeids` / `target_treeids`.
    pub leaf_treeids: Vec<i64>,
    /// `class_nodeids` / `target_nodeids`.
    pub leaf_nodeids: Vec<i64>,
    /// `class_ids` / `target_ids`.
    pub leaf_ids: Vec<i64>,
    /// `class_weights` / `target_weights`.
    pub leaf_weights: Vec<f64>,
    /// `base_values` (empty when absent).
    pub base_values: Vec<f64>,
    /// `post_transform`.
    pub post_transform: PostTransform,
    /// `aggregate_function` (regressors).
    pub aggregate: Aggregate,
}

/// What the ensemble predicts.
#[derive(Debug, Clone, PartialEq)]
pub enum EnsembleKind {
    /// A classifier: outputs a label and one score per class.
    Classifier {
        /// The class labels.
        labels: ClassLabels,
    },
    /// A regressor with `n_targets` outputs.
    Regressor {
        /// Number of targets.
        n_targets: usize,
    },
}

/// Why an ensemble cannot be compiled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid tree ensemble: {0}")]
pub struct TreeError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, TreeError> {
    Err(TreeError(msg.into()))
}

/// A compiled node. For a leaf, `t`/`f` are the range of its weights in the weight arrays.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Node<T> {
    threshold: T,
    feature: u32,
    t: u32,
    f: u32,
    mode: NodeMode,
    missing_true: bool,
}

/// A threshold type: f32 for float/int inputs, f64 for double inputs (as ONNX Runtime does).
pub trait Threshold: Copy + PartialOrd + PartialEq + Send + Sync + 'static {
    /// True for NaN.
    fn is_nan(self) -> bool;
}

impl Threshold for f32 {
    #[inline(always)]
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
}

impl Threshold for f64 {
    #[inline(always)]
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
}

/// The output of a classifier for one batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    /// Integer labels.
    Int(Vec<i64>),
    /// String labels.
    Str(Vec<String>),
}

/// A compiled tree ensemble.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeEnsemble {
    nodes32: Vec<Node<f32>>,
    nodes64: Vec<Node<f64>>,
    roots: Vec<u32>,
    weight_target: Vec<u32>,
    weight_value: Vec<f64>,
    /// Every branch is BRANCH_LEQ without missing-value tracking: the fast walk applies.
    simple_leq: bool,
    n_outputs: usize,
    max_feature: usize,
    aggregate: Aggregate,
    post_transform: PostTransform,
    base_values: Vec<f64>,
    kind: EnsembleKind,
    binary_case: bool,
    weights_all_positive: bool,
}

fn to_u32(v: i64, what: &str) -> Result<u32, TreeError> {
    u32::try_from(v).or_else(|_| err(format!("{what} {v} is out of range")))
}

impl TreeEnsemble {
    /// Compiles the attributes, checking every id and the tree structure (no cycles, no dangling ids).
    pub fn compile(attrs: &TreeAttributes, kind: EnsembleKind) -> Result<TreeEnsemble, TreeError> {
        let n = attrs.nodes_nodeids.len();
        if n == 0 {
            return err("the ensemble has no nodes");
        }
        for (name, len) in [
            ("nodes_treeids", attrs.nodes_treeids.len()),
            ("nodes_featureids", attrs.nodes_featureids.len()),
            ("nodes_modes", attrs.nodes_modes.len()),
            ("nodes_values", attrs.nodes_values.len()),
            ("nodes_truenodeids", attrs.nodes_truenodeids.len()),
            ("nodes_falsenodeids", attrs.nodes_falsenodeids.len()),
        ] {
            if len != n {
                return err(format!("{name} has {len} entries, nodes_nodeids has {n}"));
            }
        }
        let tracks = &attrs.nodes_missing_value_tracks_true;
        if !tracks.is_empty() && tracks.len() != n {
            return err(format!(
                "nodes_missing_value_tracks_true has {} entries, expected {n}",
                tracks.len()
            ));
        }
        let nl = attrs.leaf_ids.len();
        for (name, len) in [
            ("leaf tree ids", attrs.leaf_treeids.len()),
            ("leaf node ids", attrs.leaf_nodeids.len()),
            ("leaf weights", attrs.leaf_weights.len()),
        ] {
            if len != nl {
                return err(format!("{name} have {len} entries, leaf ids have {nl}"));
            }
        }
        let n_outputs = match &kind {
            EnsembleKind::Classifier { labels } => {
                if labels.len() < 2 {
                    return err("a classifier needs at least two class labels");
                }
                labels.len()
            }
            EnsembleKind::Regressor { n_targets } => {
                if *n_targets == 0 {
                    return err("n_targets must be positive");
                }
                *n_targets
            }
        };
        let nb = attrs.base_values.len();
        let base_ok = nb == 0 || nb == n_outputs || (nb == 1 && n_outputs == 2);
        if !base_ok {
            return err(format!(
                "base_values has {nb} entries for {n_outputs} classes/targets"
            ));
        }

        // Index the nodes by (tree, node id); trees in increasing id order.
        let mut index: HashMap<(i64, i64), usize> = HashMap::with_capacity(n);
        let mut trees: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for i in 0..n {
            let key = (attrs.nodes_treeids[i], attrs.nodes_nodeids[i]);
            if index.insert(key, i).is_some() {
                return err(format!("node {key:?} (tree, id) is defined twice"));
            }
            trees.entry(key.0).or_default().push(i);
        }
        // Leaf weights per node.
        let mut leaf_weights: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
        for j in 0..nl {
            let key = (attrs.leaf_treeids[j], attrs.leaf_nodeids[j]);
            let Some(&i) = index.get(&key) else {
                return err(format!(
                    "a leaf weight names node {key:?}, which does not exist"
                ));
            };
            let target = attrs.leaf_ids[j];
            if target < 0 || target as usize >= n_outputs {
                return err(format!(
                    "leaf weight target {target} is out of range (0..{n_outputs})"
                ));
            }
            leaf_weights[i].push((target as u32, attrs.leaf_weights[j]));
        }

        // Lay out each tree: compiled index of input node i.
        let mut order: Vec<usize> = Vec::with_capacity(n);
        let mut compiled_ix = vec![u32::MAX; n];
        let mut roots = Vec::with_capacity(trees.len());
        for (tree_id, members) in &trees {
            // The root is the one node no other node of the tree points to.
            let mut is_child = HashMap::with_capacity(members.len());
            for &i in members {
                if attrs.nodes_modes[i] != NodeMode::Leaf {
                    for child in [attrs.nodes_truenodeids[i], attrs.nodes_falsenodeids[i]] {
                        let Some(&c) = index.get(&(*tree_id, child)) else {
                            return err(format!(
                                "node {} of tree {tree_id} points to missing node {child}",
                                attrs.nodes_nodeids[i]
                            ));
                        };
                        is_child.insert(c, ());
                    }
                }
            }
            let candidates: Vec<usize> = members
                .iter()
                .copied()
                .filter(|i| !is_child.contains_key(i))
                .collect();
            let [root] = candidates[..] else {
                return err(format!(
                    "tree {tree_id} has {} root candidates, expected exactly one",
                    candidates.len()
                ));
            };
            // Depth-first layout from the root; a node reached twice means a cycle or shared node.
            let mut stack = vec![root];
            while let Some(i) = stack.pop() {
                if compiled_ix[i] != u32::MAX {
                    return err(format!(
                        "tree {tree_id} is not a tree: node {} is reached twice",
                        attrs.nodes_nodeids[i]
                    ));
                }
                compiled_ix[i] = order.len() as u32;
                order.push(i);
                if attrs.nodes_modes[i] != NodeMode::Leaf {
                    // Push false first so the true child is laid out right after its parent.
                    for child in [attrs.nodes_falsenodeids[i], attrs.nodes_truenodeids[i]] {
                        if let Some(&c) = index.get(&(*tree_id, child)) {
                            stack.push(c);
                        }
                    }
                }
            }
            if let Some(&lost) = members.iter().find(|&&i| compiled_ix[i] == u32::MAX) {
                return err(format!(
                    "node {} of tree {tree_id} cannot be reached from the root",
                    attrs.nodes_nodeids[lost]
                ));
            }
            roots.push(compiled_ix[root]);
        }

        let mut nodes64 = Vec::with_capacity(order.len());
        let mut weight_target = Vec::new();
        let mut weight_value = Vec::new();
        let mut max_feature = 0usize;
        let mut simple_leq = true;
        for &i in &order {
            let mode = attrs.nodes_modes[i];
            let missing_true = tracks.get(i).copied().unwrap_or(0) != 0;
            let node = if mode == NodeMode::Leaf {
                let start = weight_target.len() as u32;
                for &(t, w) in &leaf_weights[i] {
                    weight_target.push(t);
                    weight_value.push(w);
                }
                Node {
                    threshold: 0.0,
                    feature: 0,
                    t: start,
                    f: weight_target.len() as u32,
                    mode,
                    missing_true,
                }
            } else {
                let feature = to_u32(attrs.nodes_featureids[i], "feature id")?;
                max_feature = max_feature.max(feature as usize);
                if mode != NodeMode::BranchLeq || missing_true {
                    simple_leq = false;
                }
                let tree = attrs.nodes_treeids[i];
                let child = |id: i64| -> Result<u32, TreeError> {
                    index
                        .get(&(tree, id))
                        .map(|&c| compiled_ix[c])
                        .filter(|&c| c != u32::MAX)
                        .ok_or_else(|| TreeError(format!("node {id} of tree {tree} is missing")))
                };
                Node {
                    threshold: attrs.nodes_values[i],
                    feature,
                    t: child(attrs.nodes_truenodeids[i])?,
                    f: child(attrs.nodes_falsenodeids[i])?,
                    mode,
                    missing_true,
                }
            };
            nodes64.push(node);
        }
        let nodes32 = nodes64
            .iter()
            .map(|n| Node {
                threshold: n.threshold as f32,
                feature: n.feature,
                t: n.t,
                f: n.f,
                mode: n.mode,
                missing_true: n.missing_true,
            })
            .collect();
        let distinct_targets: std::collections::BTreeSet<i64> =
            attrs.leaf_ids.iter().copied().collect();
        let binary_case = matches!(&kind, EnsembleKind::Classifier { labels } if labels.len() == 2)
            && distinct_targets.len() == 1;
        let weights_all_positive = attrs.leaf_weights.iter().all(|&w| w >= 0.0);
        let aggregate = match kind {
            EnsembleKind::Classifier { .. } => Aggregate::Sum,
            EnsembleKind::Regressor { .. } => attrs.aggregate,
        };
        Ok(TreeEnsemble {
            nodes32,
            nodes64,
            roots,
            weight_target,
            weight_value,
            simple_leq,
            n_outputs,
            max_feature,
            aggregate,
            post_transform: attrs.post_transform,
            base_values: attrs.base_values.clone(),
            kind,
            binary_case,
            weights_all_positive,
        })
    }

    /// Number of score columns (classes or targets).
    pub fn n_outputs(&self) -> usize {
        self.n_outputs
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.roots.len()
    }

    /// Number of features a row needs at least (largest feature id + 1).
    pub fn n_features(&self) -> usize {
        self.max_feature + 1
    }

    /// What the ensemble predicts.
    pub fn kind(&self) -> &EnsembleKind {
        &self.kind
    }

    /// Evaluates rows of f32 features (`x` is row-major, `n_cols` per row): returns the scores
    /// (`rows * n_outputs`, row-major) and, for classifiers, the labels.
    pub fn eval_f32(
        &self,
        x: &[f32],
        n_cols: usize,
    ) -> Result<(Vec<f32>, Option<Labels>), TreeError> {
        self.eval_generic(&self.nodes32, x, n_cols)
    }

    /// Evaluates rows of f64 features (thresholds compared in double precision, as ONNX Runtime does
    /// for double inputs).
    pub fn eval_f64(
        &self,
        x: &[f64],
        n_cols: usize,
    ) -> Result<(Vec<f32>, Option<Labels>), TreeError> {
        self.eval_generic(&self.nodes64, x, n_cols)
    }

    fn eval_generic<T: Threshold>(
        &self,
        nodes: &[Node<T>],
        x: &[T],
        n_cols: usize,
    ) -> Result<(Vec<f32>, Option<Labels>), TreeError> {
        if n_cols < self.n_features() {
            return err(format!(
                "the input has {n_cols} features, the trees use feature {}",
                self.max_feature
            ));
        }
        if !x.len().is_multiple_of(n_cols) {
            return err(format!(
                "{} values do not make rows of {n_cols} features",
                x.len()
            ));
        }
        let rows = x.len() / n_cols;
        let k = self.n_outputs;
        let mut scores = vec![0f32; rows * k];
        let mut labels_ix = Vec::with_capacity(if self.is_classifier() { rows } else { 0 });
        // Tree-major: one tree's nodes stay in cache while every row of the batch walks it.
        let mut acc = vec![0f64; rows * k];
        let mut has = vec![false; rows * k];
        for &root in &self.roots {
            for (r, row) in x.chunks_exact(n_cols).enumerate() {
                let leaf = if self.simple_leq {
                    walk_leq(nodes, root, row)
                } else {
                    walk_any(nodes, root, row)
                };
                let node = &nodes[leaf as usize];
                let acc = &mut acc[r * k..(r + 1) * k];
                let has = &mut has[r * k..(r + 1) * k];
                for w in node.t as usize..node.f as usize {
                    let t = self.weight_target[w] as usize;
                    let v = self.weight_value[w];
                    match self.aggregate {
                        Aggregate::Sum | Aggregate::Average => acc[t] += v,
                        Aggregate::Min => {
                            if !has[t] || v < acc[t] {
                                acc[t] = v
                            }
                        }
                        Aggregate::Max => {
                            if !has[t] || v > acc[t] {
                                acc[t] = v
                            }
                        }
                    }
                    has[t] = true;
                }
            }
        }
        for r in 0..rows {
            let out = &mut scores[r * k..(r + 1) * k];
            let a = &mut acc[r * k..(r + 1) * k];
            let h = &mut has[r * k..(r + 1) * k];
            if self.is_classifier() {
                labels_ix.push(self.finalize_classifier(a, h, out));
            } else {
                self.finalize_regressor(a, h, out);
            }
        }
        let labels = match &self.kind {
            EnsembleKind::Classifier { labels } => Some(match labels {
                ClassLabels::Int(l) => Labels::Int(
                    labels_ix
                        .iter()
                        .map(|&i| l.get(i).copied().unwrap_or(0))
                        .collect(),
                ),
                ClassLabels::Str(l) => Labels::Str(
                    labels_ix
                        .iter()
                        .map(|&i| l.get(i).cloned().unwrap_or_default())
                        .collect(),
                ),
            }),
            EnsembleKind::Regressor { .. } => None,
        };
        Ok((scores, labels))
    }

    fn is_classifier(&self) -> bool {
        matches!(self.kind, EnsembleKind::Classifier { .. })
    }

    /// ONNX Runtime's `TreeAggregatorSum/Average/Min/Max::FinalizeScores(1)`.
    fn finalize_regressor(&self, acc: &[f64], has: &[bool], out: &mut [f32]) {
        let k = self.n_outputs;
        let n_trees = self.roots.len().max(1) as f64;
        let base = |j: usize| -> f64 {
            if k == 1 {
                if self.base_values.len() == 1 {
                    self.base_values[0]
                } else {
                    0.0
                }
            } else if self.base_values.len() == k {
                self.base_values[j]
            } else {
                0.0
            }
        };
        for j in 0..k {
            let s = match self.aggregate {
                Aggregate::Sum => acc[j],
                Aggregate::Average => acc[j] / n_trees,
                Aggregate::Min | Aggregate::Max => {
                    if has[j] {
                        acc[j]
                    } else {
                        0.0
                    }
                }
            };
            out[j] = (s + base(j)) as f32;
        }
        if k == 1 {
            // ONNX Runtime applies only PROBIT to a single target.
            if self.post_transform == PostTransform::Probit {
                out[0] = probit(out[0]);
            }
        } else {
            apply_transform(self.post_transform, out);
        }
    }

    /// ONNX Runtime's `TreeAggregatorClassifier::FinalizeScores`; returns the label index.
    fn finalize_classifier(&self, acc: &mut [f64], has: &mut [bool], out: &mut [f32]) -> usize {
        let k = self.n_outputs;
        if k > 2 {
            for (j, &b) in self.base_values.iter().enumerate() {
                if !has[j] {
                    has[j] = true;
                    acc[j] = b;
                } else {
                    acc[j] += b;
                }
            }
            let mut best: Option<(usize, f64)> = None;
            for j in 0..k {
                if has[j] && best.is_none_or(|(_, w)| acc[j] > w) {
                    best = Some((j, acc[j]));
                }
            }
            for j in 0..k {
                out[j] = acc[j] as f32;
            }
            apply_transform(self.post_transform, out);
            return best.map(|(j, _)| j).unwrap_or(0);
        }
        // Binary.
        let mut write_additional = -1;
        let mut len = 2;
        match self.base_values.len() {
            2 => {
                if has[1] {
                    acc[1] = self.base_values[1] + acc[0];
                    acc[0] = -acc[1];
                    has[1] = true;
                } else {
                    acc[1] += self.base_values[1];
                    acc[0] += self.base_values[0];
                }
            }
            1 => {
                acc[0] += self.base_values[0];
                if !has[1] {
                    len = 1;
                }
            }
            _ => {
                write_additional = 3;
                if !has[1] {
                    len = 1;
                }
            }
        }
        let s0 = acc[0] as f32;
        let s1 = acc[1] as f32;
        let pos_weight = if len == 2 && has[1] {
            s1
        } else if has[0] {
            s0
        } else {
            0.0
        };
        let label = if self.binary_case {
            if self.weights_all_positive {
                if pos_weight > 0.5 {
                    write_additional = 0;
                    1
                } else {
                    write_additional = 1;
                    0
                }
            } else if pos_weight > 0.0 {
                write_additional = 2;
                1
            } else {
                write_additional = 3;
                0
            }
        } else if pos_weight > 0.0 {
            1
        } else {
            0
        };
        if len == 2 {
            out[0] = s0;
            out[1] = s1;
            apply_transform(self.post_transform, out);
        } else if self.post_transform == PostTransform::Probit {
            out[0] = probit(s0);
            out[1] = 0.0;
        } else {
            match write_additional {
                0 | 1 => {
                    out[0] = 1.0 - s0;
                    out[1] = s0;
                }
                2 | 3 => {
                    if self.post_transform == PostTransform::Logistic {
                        out[0] = logistic(-s0);
                        out[1] = logistic(s0);
                    } else {
                        out[0] = -s0;
                        out[1] = s0;
                    }
                }
                _ => {
                    out[0] = s0;
                    out[1] = 0.0;
                }
            }
        }
        label
    }
}

#[inline(always)]
fn walk_leq<T: Threshold>(nodes: &[Node<T>], root: u32, row: &[T]) -> u32 {
    let mut i = root as usize;
    loop {
        let n = &nodes[i];
        if n.mode == NodeMode::Leaf {
            return i as u32;
        }
        // The caller checked that every feature id is inside the row.
        let x = row[n.feature as usize];
        i = if x <= n.threshold { n.t } else { n.f } as usize;
    }
}

#[inline(always)]
fn walk_any<T: Threshold>(nodes: &[Node<T>], root: u32, row: &[T]) -> u32 {
    let mut i = root as usize;
    loop {
        let n = &nodes[i];
        let x = match n.mode {
            NodeMode::Leaf => return i as u32,
            _ => row[n.feature as usize],
        };
        let v = n.threshold;
        let cmp = match n.mode {
            NodeMode::BranchLeq => x <= v,
            NodeMode::BranchLt => x < v,
            NodeMode::BranchGte => x >= v,
            NodeMode::BranchGt => x > v,
            NodeMode::BranchEq => x == v,
            NodeMode::BranchNeq => x != v,
            NodeMode::Leaf => false,
        };
        let go_true = cmp || (n.missing_true && x.is_nan());
        i = if go_true { n.t } else { n.f } as usize;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One tree: x0 <= 0.5 ? leaf(1) : (x1 <= 2 ? leaf(3) : leaf(4)); node ids deliberately shuffled.
    fn attrs(modes: [NodeMode; 2]) -> TreeAttributes {
        TreeAttributes {
            nodes_treeids: vec![0, 0, 0, 0, 0],
            nodes_nodeids: vec![3, 0, 2, 1, 4],
            nodes_featureids: vec![0, 0, 1, 0, 0],
            nodes_modes: vec![
                NodeMode::Leaf,
                modes[0],
                modes[1],
                NodeMode::Leaf,
                NodeMode::Leaf,
            ],
            nodes_values: vec![0.0, 0.5, 2.0, 0.0, 0.0],
            nodes_truenodeids: vec![0, 1, 3, 0, 0],
            nodes_falsenodeids: vec![0, 2, 4, 0, 0],
            nodes_missing_value_tracks_true: vec![0, 1, 0, 0, 0],
            leaf_treeids: vec![0, 0, 0],
            leaf_nodeids: vec![1, 3, 4],
            leaf_ids: vec![0, 0, 0],
            leaf_weights: vec![10.0, 20.0, 30.0],
            base_values: vec![],
            post_transform: PostTransform::None,
            aggregate: Aggregate::Sum,
        }
    }

    fn reg(a: &TreeAttributes) -> TreeEnsemble {
        TreeEnsemble::compile(a, EnsembleKind::Regressor { n_targets: 1 }).unwrap()
    }

    #[test]
    fn walks_one_path_per_tree() {
        let e = reg(&attrs([NodeMode::BranchLeq, NodeMode::BranchLeq]));
        let (s, l) = e.eval_f32(&[0.5, 9.0, 0.6, 2.0, 0.6, 2.1], 2).unwrap();
        assert_eq!(s, vec![10.0, 20.0, 30.0]);
        assert!(l.is_none());
        // NaN follows the missing-value track of the root (true) and the plain comparison elsewhere.
        let (s, _) = e.eval_f64(&[f64::NAN, 0.0, 1.0, f64::NAN], 2).unwrap();
        assert_eq!(s, vec![10.0, 30.0]);
    }

    #[test]
    fn every_branch_mode() {
        let cases = [
            (NodeMode::BranchLt, 0.5, 20.0),
            (NodeMode::BranchGte, 0.5, 10.0),
            (NodeMode::BranchGt, 0.5, 20.0),
            (NodeMode::BranchEq, 0.5, 10.0),
            (NodeMode::BranchNeq, 0.5, 20.0),
        ];
        for (mode, x0, want) in cases {
            let e = reg(&attrs([mode, NodeMode::BranchLeq]));
            let (s, _) = e.eval_f32(&[x0, 0.0], 2).unwrap();
            assert_eq!(s, vec![want], "{mode:?}");
        }
    }

    #[test]
    fn aggregates_and_base_values() {
        let mut a = attrs([NodeMode::BranchLeq, NodeMode::BranchLeq]);
        // A second tree that is a single leaf of weight 2.
        a.nodes_treeids.push(1);
        a.nodes_nodeids.push(0);
        a.nodes_featureids.push(0);
        a.nodes_modes.push(NodeMode::Leaf);
        a.nodes_values.push(0.0);
        a.nodes_truenodeids.push(0);
        a.nodes_falsenodeids.push(0);
        a.nodes_missing_value_tracks_true.push(0);
        a.leaf_treeids.push(1);
        a.leaf_nodeids.push(0);
        a.leaf_ids.push(0);
        a.leaf_weights.push(2.0);
        a.base_values = vec![100.0];
        let x = [0.0f32, 0.0];
        for (agg, want) in [
            (Aggregate::Sum, 112.0),
            (Aggregate::Average, 106.0),
            (Aggregate::Min, 102.0),
            (Aggregate::Max, 110.0),
        ] {
            a.aggregate = agg;
            assert_eq!(reg(&a).eval_f32(&x, 2).unwrap().0, vec![want], "{agg:?}");
        }
    }

    #[test]
    fn binary_classifier_follows_onnxruntime() {
        // All weights on class 0 with LOGISTIC and one base value: gradient boosting's layout.
        let mut a = attrs([NodeMode::BranchLeq, NodeMode::BranchLeq]);
        a.leaf_weights = vec![-1.0, 0.5, 2.0];
        a.base_values = vec![0.25];
        a.post_transform = PostTransform::Logistic;
        let e = TreeEnsemble::compile(
            &a,
            EnsembleKind::Classifier {
                labels: ClassLabels::Int(vec![7, 9]),
            },
        )
        .unwrap();
        let (s, l) = e.eval_f32(&[0.0, 0.0, 1.0, 0.0], 2).unwrap();
        assert_eq!(l, Some(Labels::Int(vec![7, 9])));
        let p = logistic(-0.75);
        assert!((s[0] - logistic(0.75)).abs() < 1e-7 && (s[1] - p).abs() < 1e-7);
        assert!((s[2] - logistic(-0.75)).abs() < 1e-7);
        // Positive weights only (a random forest's layout): [1 - p, p], label when p > 0.5.
        a.leaf_weights = vec![0.2, 0.6, 0.9];
        a.base_values = vec![];
        a.post_transform = PostTransform::None;
        let e = TreeEnsemble::compile(
            &a,
            EnsembleKind::Classifier {
                labels: ClassLabels::Str(vec!["no".into(), "yes".into()]),
            },
        )
        .unwrap();
        let (s, l) = e.eval_f32(&[0.0, 0.0, 1.0, 0.0], 2).unwrap();
        assert_eq!(l, Some(Labels::Str(vec!["no".into(), "yes".into()])));
        assert!((s[0] - 0.8).abs() < 1e-6 && (s[3] - 0.6).abs() < 1e-6);
    }

    #[test]
    fn post_transforms() {
        let mut s = [1.0f32, 2.0, 3.0];
        apply_transform(PostTransform::Softmax, &mut s);
        assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-6 && s[2] > s[1]);
        let mut z = [0.0f32, 1.0];
        apply_transform(PostTransform::SoftmaxZero, &mut z);
        assert_eq!(z[0], 0.0);
        assert!((z[1] - 1.0).abs() < 1e-6);
        assert!(probit(0.5).abs() < 1e-6);
        assert!((probit(0.975) - 1.96).abs() < 1e-2);
    }

    #[test]
    fn rejects_malformed_ensembles() {
        let kind = EnsembleKind::Regressor { n_targets: 1 };
        let mut a = attrs([NodeMode::BranchLeq, NodeMode::BranchLeq]);
        a.nodes_truenodeids[1] = 42;
        assert!(TreeEnsemble::compile(&a, kind.clone()).is_err());
        let mut a = attrs([NodeMode::BranchLeq, NodeMode::BranchLeq]);
        a.nodes_falsenodeids[2] = 0; // a cycle back to the root
        assert!(TreeEnsemble::compile(&a, kind.clone()).is_err());
        let mut a = attrs([NodeMode::BranchLeq, NodeMode::BranchLeq]);
        a.leaf_ids[0] = 3;
        assert!(TreeEnsemble::compile(&a, kind.clone()).is_err());
        let mut a = attrs([NodeMode::BranchLeq, NodeMode::BranchLeq]);
        a.nodes_values.pop();
        assert!(TreeEnsemble::compile(&a, kind.clone()).is_err());
        let e = reg(&attrs([NodeMode::BranchLeq, NodeMode::BranchLeq]));
        assert!(e.eval_f32(&[0.0], 1).is_err());
    }
}
