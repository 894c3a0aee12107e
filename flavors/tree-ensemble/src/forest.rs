//! The flattened forest: checking and laying out trees ([`Forest::new`]) and the block-at-a-time walk
//! ([`Forest::predict_raw`]).

use std::collections::VecDeque;

/// Rows walked through each tree before moving to the next one.
pub const BLOCK_ROWS: usize = 64;

/// The most nodes a forest may hold (a bound on what a damaged file can make us allocate).
pub const MAX_NODES: usize = 1 << 28;

/// The most 32-bit words all categorical splits' bitsets may hold together.
const MAX_BITSET_WORDS: usize = 1 << 26;

/// Features are kept in 24 bits of a node.
const MAX_FEATURE: u32 = (1 << 24) - 1;

/// LightGBM's `kZeroThreshold`: values within it of zero are zero for missing-as-zero splits.
const ZERO_THRESHOLD: f64 = 1e-35;

/// How a numerical split treats a missing value (NaN) and, for LightGBM's "zero" missing type, zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// NaN is replaced by 0.0 and compared like any value (LightGBM's missing type `None`).
    AsZero,
    /// NaN is replaced by 0.0, and zero (|x| <= 1e-35) takes the default child (LightGBM `Zero`).
    ZeroDefault,
    /// NaN takes the default child (LightGBM `NaN`, and XGBoost for every split).
    NanDefault,
}

/// How a categorical split reads its category and which side the listed categories go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CategoryRule {
    /// LightGBM: NaN and categories below zero after truncation go right; listed categories go left.
    LightGbm,
    /// XGBoost: NaN takes the default child; negative values, values of 2^24 and more, and categories
    /// not listed go left; listed categories go right.
    XgBoost,
}

/// One node of a tree as a flavor describes it. Children are indices into the same tree's list.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// A leaf and its value.
    Leaf(f64),
    /// `x <= threshold` (or `x < threshold` when `strict`) goes left.
    Numeric {
        /// The feature compared.
        feature: u32,
        /// The threshold.
        threshold: f64,
        /// `<` rather than `<=`.
        strict: bool,
        /// Missing-value handling.
        missing: Missing,
        /// Where a missing value goes when `missing` sends it to the default child.
        default_left: bool,
        /// Left child.
        left: usize,
        /// Right child.
        right: usize,
    },
    /// A category `c = trunc(x)` goes to one side when bit `c` of `bitset` is set.
    Categorical {
        /// The feature read.
        feature: u32,
        /// Bit `c % 32` of word `c / 32` marks category `c`.
        bitset: Vec<u32>,
        /// Which library's rule applies.
        rule: CategoryRule,
        /// Where NaN goes under [`CategoryRule::XgBoost`].
        default_left: bool,
        /// Left child.
        left: usize,
        /// Right child.
        right: usize,
    },
}

/// Why a forest cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForestError {
    /// A tree is not a tree: what is wrong, and where.
    #[error("tree {tree}: {message}")]
    BadTree {
        /// The tree's index in the file.
        tree: usize,
        /// What is wrong.
        message: String,
    },
    /// The forest as a whole does not fit (counts, bounds).
    #[error("{0}")]
    Bad(String),
}

const LEAF: u32 = 1;
const CATEGORICAL: u32 = 2;
const DEFAULT_LEFT: u32 = 4;
const STRICT: u32 = 8;
const MISSING_ZERO: u32 = 16;
const MISSING_NAN: u32 = 32;
const CAT_XGBOOST: u32 = 64;

/// One flattened node: 16 bytes. `value` is the threshold, the leaf value, or (categorical) the
/// bitset's offset and length; `left` the index of the left child (the right one is `left + 1`);
/// `meta` the feature in its low 24 bits and the flags above.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    value: f64,
    left: u32,
    meta: u32,
}

impl Node {
    fn flags(&self) -> u32 {
        self.meta >> 24
    }

    fn feature(&self) -> usize {
        (self.meta & MAX_FEATURE) as usize
    }
}

/// An ensemble of trees, each adding its leaf value to one output group (a class, for multiclass
/// models), in one flat node array.
#[derive(Debug, Clone, PartialEq)]
pub struct Forest {
    nodes: Vec<Node>,
    bitsets: Vec<u32>,
    roots: Vec<u32>,
    groups: Vec<u32>,
    n_groups: usize,
    n_features: usize,
}

impl Forest {
    /// Checks and flattens `trees`; tree `i` adds to group `groups[i]` (< `n_groups`) and reads
    /// features below `n_features`. Nodes no walk reaches are dropped.
    pub fn new(
        trees: &[Vec<Decision>],
        groups: &[usize],
        n_groups: usize,
        n_features: usize,
    ) -> Result<Forest, ForestError> {
        if trees.len() != groups.len() {
            return Err(ForestError::Bad(format!(
                "{} trees but {} tree groups",
                trees.len(),
                groups.len()
            )));
        }
        if n_groups == 0 || n_features == 0 || n_features > MAX_FEATURE as usize {
            return Err(ForestError::Bad(format!(
                "a forest needs at least one output and between 1 and 2^24 features, not {n_groups} outputs and {n_features} features"
            )));
        }
        let total: usize = trees.iter().map(Vec::len).sum();
        if total > MAX_NODES {
            return Err(ForestError::Bad(format!(
                "{total} nodes: more than the {MAX_NODES} homeml loads"
            )));
        }
        let mut forest = Forest {
            nodes: Vec::with_capacity(total),
            bitsets: Vec::new(),
            roots: Vec::with_capacity(trees.len()),
            groups: Vec::with_capacity(trees.len()),
            n_groups,
            n_features,
        };
        for (t, (tree, &group)) in trees.iter().zip(groups).enumerate() {
            if group >= n_groups {
                return Err(ForestError::BadTree {
                    tree: t,
                    message: format!("output group {group}, but the model has {n_groups}"),
                });
            }
            forest
                .add_tree(tree)
                .map_err(|message| ForestError::BadTree { tree: t, message })?;
            forest.groups.push(group as u32);
        }
        Ok(forest)
    }

    /// Lays one tree out breadth first from node 0, children side by side.
    fn add_tree(&mut self, tree: &[Decision]) -> Result<(), String> {
        if tree.is_empty() {
            return Err("the tree has no nodes".into());
        }
        let root = self.nodes.len();
        self.roots.push(root as u32);
        let mut seen = vec![false; tree.len()];
        // (index in `tree`, slot in `self.nodes`)
        let mut queue = VecDeque::from([(0usize, root)]);
        seen[0] = true;
        self.nodes.push(Node {
            value: 0.0,
            left: 0,
            meta: 0,
        });
        while let Some((i, slot)) = queue.pop_front() {
            let (node, children) = self.flatten(&tree[i])?;
            let mut node = node;
            if let Some((l, r)) = children {
                for c in [l, r] {
                    match seen.get_mut(c) {
                        None => {
                            return Err(format!(
                                "node {i} has child {c}, but the tree has {} nodes",
                                tree.len()
                            ))
                        }
                        Some(true) => {
                            return Err(format!(
                                "node {c} is reached twice (node {i} points to it)"
                            ))
                        }
                        Some(s) => *s = true,
                    }
                }
                let left = self.nodes.len();
                node.left = u32::try_from(left).map_err(|_| "too many nodes".to_string())?;
                for c in [l, r] {
                    queue.push_back((c, self.nodes.len()));
                    self.nodes.push(Node {
                        value: 0.0,
                        left: 0,
                        meta: 0,
                    });
                }
            }
            self.nodes[slot] = node;
        }
        Ok(())
    }

    /// A node without its children's slots, and its children.
    fn flatten(&mut self, d: &Decision) -> Result<(Node, Option<(usize, usize)>), String> {
        let check_feature = |f: u32| {
            if (f as usize) < self.n_features {
                Ok(f)
            } else {
                Err(format!(
                    "a split on feature {f}, but the model has {} features",
                    self.n_features
                ))
            }
        };
        Ok(match d {
            Decision::Leaf(v) => (
                Node {
                    value: *v,
                    left: 0,
                    meta: LEAF << 24,
                },
                None,
            ),
            Decision::Numeric {
                feature,
                threshold,
                strict,
                missing,
                default_left,
                left,
                right,
            } => {
                let f = check_feature(*feature)?;
                let mut flags = 0;
                if *strict {
                    flags |= STRICT;
                }
                if *default_left {
                    flags |= DEFAULT_LEFT;
                }
                flags |= match missing {
                    Missing::AsZero => 0,
                    Missing::ZeroDefault => MISSING_ZERO,
                    Missing::NanDefault => MISSING_NAN,
                };
                (
                    Node {
                        value: *threshold,
                        left: 0,
                        meta: (flags << 24) | f,
                    },
                    Some((*left, *right)),
                )
            }
            Decision::Categorical {
                feature,
                bitset,
                rule,
                default_left,
                left,
                right,
            } => {
                let f = check_feature(*feature)?;
                if self.bitsets.len() + bitset.len() > MAX_BITSET_WORDS {
                    return Err("the categorical splits' category sets are too large".into());
                }
                let offset = self.bitsets.len() as u64;
                self.bitsets.extend_from_slice(bitset);
                let mut flags = CATEGORICAL;
                if *default_left {
                    flags |= DEFAULT_LEFT;
                }
                if *rule == CategoryRule::XgBoost {
                    flags |= CAT_XGBOOST;
                }
                (
                    Node {
                        value: f64::from_bits((offset << 32) | bitset.len() as u64),
                        left: 0,
                        meta: (flags << 24) | f,
                    },
                    Some((*left, *right)),
                )
            }
        })
    }

    /// The number of trees.
    pub fn n_trees(&self) -> usize {
        self.roots.len()
    }

    /// The number of output groups.
    pub fn n_groups(&self) -> usize {
        self.n_groups
    }

    /// The number of features a row has.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The number of nodes, leaves included.
    pub fn n_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Adds the leaf values of the first `n_trees` trees for `rows` rows of `features` (row-major,
    /// `n_features` each) into `out` (row-major, `n_groups` each).
    ///
    /// # Panics
    /// When the slices' lengths do not match `rows` (callers check their inputs first).
    pub fn predict_raw(&self, features: &[f64], rows: usize, n_trees: usize, out: &mut [f64]) {
        let (f, g) = (self.n_features, self.n_groups);
        assert_eq!(features.len(), rows * f, "features of {rows} rows");
        assert_eq!(out.len(), rows * g, "outputs of {rows} rows");
        let n_trees = n_trees.min(self.roots.len());
        for start in (0..rows).step_by(BLOCK_ROWS) {
            let end = (start + BLOCK_ROWS).min(rows);
            let block = &features[start * f..end * f];
            let acc = &mut out[start * g..end * g];
            for (&root, &group) in self.roots[..n_trees].iter().zip(&self.groups[..n_trees]) {
                for (row, acc) in block.chunks_exact(f).zip(acc.chunks_exact_mut(g)) {
                    acc[group as usize] += self.leaf(root, row);
                }
            }
        }
    }

    /// The value of the leaf that `row` reaches in the tree at `root`.
    fn leaf(&self, root: u32, row: &[f64]) -> f64 {
        let mut i = root as usize;
        loop {
            let n = self.nodes[i];
            let flags = n.flags();
            if flags & LEAF != 0 {
                return n.value;
            }
            let x = row[n.feature()];
            let left = if flags & CATEGORICAL == 0 {
                numeric_left(x, n.value, flags)
            } else {
                self.categorical_left(x, n.value, flags)
            };
            i = n.left as usize + usize::from(!left);
        }
    }

    fn categorical_left(&self, x: f64, value: f64, flags: u32) -> bool {
        let bits = value.to_bits();
        let (offset, len) = ((bits >> 32) as usize, (bits & 0xFFFF_FFFF) as usize);
        let set = &self.bitsets[offset..offset + len];
        let listed = |c: f64| {
            let c = c as u64; // truncation; the callers bound c to [0, 2^31)
            set.get((c / 32) as usize)
                .is_some_and(|w| (w >> (c % 32)) & 1 == 1)
        };
        if flags & CAT_XGBOOST != 0 {
            if x.is_nan() {
                return flags & DEFAULT_LEFT != 0;
            }
            if !(0.0..16_777_216.0).contains(&x) {
                return true;
            }
            !listed(x)
        } else {
            // LightGBM: static_cast<int>(x) < 0 goes right; x86 turns values past i32 into i32::MIN.
            if x.is_nan() || x <= -1.0 || x >= 2_147_483_648.0 {
                return false;
            }
            listed(x.max(0.0))
        }
    }
}

fn numeric_left(x: f64, threshold: f64, flags: u32) -> bool {
    let mut x = x;
    if x.is_nan() {
        if flags & MISSING_NAN != 0 {
            return flags & DEFAULT_LEFT != 0;
        }
        x = 0.0;
    }
    if flags & MISSING_ZERO != 0 && (-ZERO_THRESHOLD..=ZERO_THRESHOLD).contains(&x) {
        return flags & DEFAULT_LEFT != 0;
    }
    if flags & STRICT != 0 {
        x < threshold
    } else {
        x <= threshold
    }
}

#[cfg(test)]
mod tests;
