//! homeml's own ai.onnx.ml operators, registered into tract's ONNX op table.
//!
//! tract-onnx lacks `TreeEnsembleRegressor` and `Scaler`, its `TreeEnsembleClassifier` visits every
//! leaf of every tree, and its `LinearClassifier` and `Normalizer` expand into a chain of small tract ops
//! (and differ from ONNX Runtime: no PROBIT/SOFTMAX_ZERO, another binary layout, MAX by absolute value).
//! homeml replaces them with pure-Rust implementations that follow ONNX Runtime: the tree ensembles are
//! compiled into flat node arrays and walk one root-to-leaf path per tree ([`tree`]); `LinearClassifier`,
//! `LinearRegressor`, `Normalizer` and `Scaler` each run as one pass over the rows ([`linear`]). Three
//! standard ops are replaced too: `Softmax` over a short last axis ([`softmax`]), which tract runs slowly,
//! `MatMul` by a small constant weight (a dense layer, [`dense`]), where tract's padded tiles dominate, and
//! `ArgMax` over the last axis ([`dense_argmax`]), which tract reduces through per-row array views.

mod attrs;
pub mod dense;
pub mod dense_argmax;
pub mod linear;
pub mod linear_op;
pub mod post_transform;
pub mod softmax;
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
    /// `Scaler`, so models using them do not load).
    TractOnly,
}

/// Registers homeml's operators into a tract ONNX framework, replacing tract's where it has one.
pub fn register(onnx: &mut Onnx) {
    onnx.op_register
        .insert("TreeEnsembleClassifier", tree_op::tree_classifier);
    onnx.op_register
        .insert("TreeEnsembleRegressor", tree_op::tree_regressor);
    onnx.op_register.insert("Scaler", linear_op::scaler);
    onnx.op_register
        .insert("LinearClassifier", linear_op::linear_classifier);
    onnx.op_register
        .insert("LinearRegressor", linear_op::linear_regressor);
    onnx.op_register.insert("Normalizer", linear_op::normalizer);
    // Not ai.onnx.ml: the MLP classifiers' output softmax over a few classes (see [`softmax`]).
    onnx.op_register.insert("Softmax", softmax::softmax);
    // Not ai.onnx.ml: small dense layers (`MatMul` by a constant weight, with the bias `Add` and `Relu`
    // fused in; see [`dense`]).
    onnx.op_register.insert("MatMul", dense::matmul);
    // Not ai.onnx.ml: the MLP classifiers' label head, `ArgMax` over the last axis ([`dense_argmax`]).
    onnx.op_register.insert("ArgMax", dense_argmax::arg_max);
}

/// tract's ONNX framework with the operators of `ops`.
pub fn onnx_framework(ops: OpSet) -> Onnx {
    let mut onnx = tract_onnx::onnx();
    if ops == OpSet::Homeml {
        register(&mut onnx);
    }
    onnx
}
