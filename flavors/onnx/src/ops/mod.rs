//! homeml's own ai.onnx.ml operators, registered into tract's ONNX op table.
//!
//! tract-onnx lacks `TreeEnsembleRegressor` and `Scaler`, and its `TreeEnsembleClassifier` visits every
//! leaf of every tree. homeml replaces the three with pure-Rust implementations: the tree ensembles are
//! compiled into flat node arrays and walk one root-to-leaf path per tree ([`tree`]), and `Scaler` expands
//! into tract's own arithmetic ([`scaler`]).

mod attrs;
pub mod scaler;
pub mod tree;
pub mod tree_op;

use tract_onnx::Onnx;

/// Which implementation of the ai.onnx.ml ops to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpSet {
    /// homeml's operators where it has them (the default).
    #[default]
    Homeml,
    /// tract's stock operators only (for comparison in benchmarks; lacks `TreeEnsembleRegressor` and
    /// `Scaler`).
    TractOnly,
}

/// Registers homeml's operators into a tract ONNX framework, replacing tract's where it has one.
pub fn register(onnx: &mut Onnx) {
    onnx.op_register
        .insert("TreeEnsembleClassifier", tree_op::tree_classifier);
    onnx.op_register
        .insert("TreeEnsembleRegressor", tree_op::tree_regressor);
    onnx.op_register.insert("Scaler", scaler::scaler);
}

/// tract's ONNX framework with the operators of `ops`.
pub fn onnx_framework(ops: OpSet) -> Onnx {
    let mut onnx = tract_onnx::onnx();
    if ops == OpSet::Homeml {
        register(&mut onnx);
    }
    onnx
}
