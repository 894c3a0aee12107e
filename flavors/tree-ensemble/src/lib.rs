//! homeml-tree-ensemble: inference over ensembles of binary decision trees, the part the `lightgbm`
//! and `xgboost` flavors share.
//!
//! A flavor describes each tree as a list of [`Decision`]s with explicit child indices, in whatever
//! order its file keeps them; [`Forest::new`] checks the trees (children in range, every node reached
//! once, features in range) and lays every tree out breadth first in one flat array of 16-byte nodes
//! whose two children sit side by side (the right child is `left + 1`), the layout of treelite and
//! Triton's FIL. [`Forest::predict_raw`] adds the trees' leaf values into one accumulator per output
//! group, a block of rows at a time: every tree is walked for all rows of the block before the next
//! tree, so a tree's nodes stay in cache while the block's rows go through it.
//!
//! The split rules are those of the libraries, chosen per node ([`Missing`], [`CategoryRule`]); the
//! transforms of raw scores (sigmoid, softmax, ...) stay with each flavor.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod forest;
mod io;

pub use forest::{CategoryRule, Decision, Forest, ForestError, Missing, BLOCK_ROWS, MAX_NODES};
pub use io::{tabular_io, INPUT_NAME};

#[cfg(feature = "bench")]
pub mod bench;
