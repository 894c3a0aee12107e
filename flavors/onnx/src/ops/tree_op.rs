//! tract glue for homeml's tree ensembles: the ONNX node parsers, the inference-time expansion and the
//! typed op that runs a [`TreeEnsemble`].

use std::sync::Arc;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::attrs;
use super::tree::{
    Aggregate, ClassLabels, EnsembleKind, Labels, NodeMode, PostTransform, TreeAttributes,
    TreeEnsemble,
};

fn parse_attributes(node: &NodeProto, leaf_prefix: &str) -> TractResult<TreeAttributes> {
    let modes = attrs::strings_opt(node, "nodes_modes")?.unwrap_or_default();
    let nodes_modes = modes
        .iter()
        .map(|m| NodeMode::parse(m).ok_or_else(|| format_err!("unknown node mode {m:?}")))
        .collect::<TractResult<Vec<_>>>()?;
    let post = attrs::string_opt(node, "post_transform")?.unwrap_or_else(|| "NONE".into());
    let post_transform = PostTransform::parse(&post)
        .ok_or_else(|| format_err!("unknown post_transform {post:?}"))?;
    let agg = attrs::string_opt(node, "aggregate_function")?.unwrap_or_else(|| "SUM".into());
    let aggregate =
        Aggregate::parse(&agg).ok_or_else(|| format_err!("unknown aggregate_function {agg:?}"))?;
    let leaf = |s: &str| format!("{leaf_prefix}_{s}");
    Ok(TreeAttributes {
        nodes_treeids: attrs::ints(node, "nodes_treeids"),
        nodes_nodeids: attrs::ints(node, "nodes_nodeids"),
        nodes_featureids: attrs::ints(node, "nodes_featureids"),
        nodes_modes,
        nodes_values: attrs::floats_or_tensor(node, "nodes_values")?,
        nodes_truenodeids: attrs::ints(node, "nodes_truenodeids"),
        nodes_falsenodeids: attrs::ints(node, "nodes_falsenodeids"),
        nodes_missing_value_tracks_true: attrs::ints(node, "nodes_missing_value_tracks_true"),
        leaf_treeids: attrs::ints(node, &leaf("treeids")),
        leaf_nodeids: attrs::ints(node, &leaf("nodeids")),
        leaf_ids: attrs::ints(node, &leaf("ids")),
        leaf_weights: attrs::floats_or_tensor(node, &leaf("weights"))?,
        base_values: attrs::floats_or_tensor(node, "base_values")?,
        post_transform,
        aggregate,
    })
}

/// Parses an ai.onnx.ml `TreeEnsembleClassifier` node into homeml's implementation.
pub fn tree_classifier(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let attributes = parse_attributes(node, "class")?;
    let ints = attrs::ints(node, "classlabels_int64s");
    let strs = attrs::strings_opt(node, "classlabels_strings")?;
    let labels = match strs {
        Some(s) if !s.is_empty() => {
            if !ints.is_empty() {
                bail!("both classlabels_int64s and classlabels_strings are set");
            }
            ClassLabels::Str(s)
        }
        _ => ClassLabels::Int(ints),
    };
    let ensemble = TreeEnsemble::compile(&attributes, EnsembleKind::Classifier { labels })?;
    Ok((expand(TreeExpansion(Arc::new(ensemble))), vec![]))
}

/// Parses an ai.onnx.ml `TreeEnsembleRegressor` node into homeml's implementation.
pub fn tree_regressor(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let attributes = parse_attributes(node, "target")?;
    let n_targets = attrs::int_opt(node, "n_targets").unwrap_or(1);
    let n_targets =
        usize::try_from(n_targets).map_err(|_| format_err!("n_targets {n_targets} is negative"))?;
    let ensemble = TreeEnsemble::compile(&attributes, EnsembleKind::Regressor { n_targets })?;
    Ok((expand(TreeExpansion(Arc::new(ensemble))), vec![]))
}

/// The inference-model form: type rules, then wiring of [`TreeEnsembleOp`].
#[derive(Debug, Clone)]
struct TreeExpansion(Arc<TreeEnsemble>);

impl TreeExpansion {
    fn label_type(&self) -> Option<DatumType> {
        match self.0.kind() {
            EnsembleKind::Classifier {
                labels: ClassLabels::Int(_),
            } => Some(DatumType::I64),
            EnsembleKind::Classifier {
                labels: ClassLabels::Str(_),
            } => Some(DatumType::String),
            EnsembleKind::Regressor { .. } => None,
        }
    }
}

impl Expansion for TreeExpansion {
    fn name(&self) -> StaticName {
        match self.0.kind() {
            EnsembleKind::Classifier { .. } => "HomemlTreeEnsembleClassifier".into(),
            EnsembleKind::Regressor { .. } => "HomemlTreeEnsembleRegressor".into(),
        }
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(if self.label_type().is_some() { 2 } else { 1 })
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        let scores = if let Some(dt) = self.label_type() {
            check_output_arity(outputs, 2)?;
            s.equals(&outputs[0].datum_type, dt)?;
            s.equals(&outputs[0].rank, 1)?;
            s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
            &outputs[1]
        } else {
            check_output_arity(outputs, 1)?;
            &outputs[0]
        };
        s.equals(&scores.datum_type, DatumType::F32)?;
        s.equals(&scores.rank, 2)?;
        s.equals(&scores.shape[0], &inputs[0].shape[0])?;
        s.equals(&scores.shape[1], self.0.n_outputs().to_dim())?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, TreeEnsembleOp(self.0.clone()), inputs)
    }
}

/// The typed op: runs a compiled [`TreeEnsemble`] on a `[N, F]` input (f32, f64, i64 or i32).
#[derive(Debug, Clone)]
pub struct TreeEnsembleOp(pub Arc<TreeEnsemble>);

impl PartialEq for TreeEnsembleOp {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for TreeEnsembleOp {}

impl Op for TreeEnsembleOp {
    fn name(&self) -> StaticName {
        "HomemlTreeEnsemble".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{} trees, {} outputs",
            self.0.n_trees(),
            self.0.n_outputs()
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for TreeEnsembleOp {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let shape = input.shape();
        let (rows, cols) = match shape {
            [r, c] => (*r, *c),
            [c] => (1, *c),
            _ => bail!("tree ensembles take a [N, F] input, got shape {shape:?}"),
        };
        let (scores, labels) = if input.datum_type() == DatumType::F64 {
            let x = input.try_as_plain_ram()?.as_slice::<f64>()?;
            self.0.eval_f64(x, cols)?
        } else {
            let x = input.cast_to::<f32>()?;
            let x = x.try_as_plain_ram()?.as_slice::<f32>()?;
            self.0.eval_f32(x, cols)?
        };
        let k = self.0.n_outputs();
        let scores = tract_ndarray::Array2::from_shape_vec((rows, k), scores)?.into_tvalue();
        Ok(match labels {
            None => tvec!(scores),
            Some(Labels::Int(l)) => {
                tvec!(tract_ndarray::Array1::from_vec(l).into_tvalue(), scores)
            }
            Some(Labels::Str(l)) => {
                tvec!(tract_ndarray::Array1::from_vec(l).into_tvalue(), scores)
            }
        })
    }
}

impl TypedOp for TreeEnsembleOp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let n = if inputs[0].rank() == 1 {
            1.to_dim()
        } else {
            inputs[0].shape[0].clone()
        };
        let scores = f32::fact([n.clone(), self.0.n_outputs().to_dim()]);
        Ok(match self.0.kind() {
            EnsembleKind::Regressor { .. } => tvec!(scores),
            EnsembleKind::Classifier {
                labels: ClassLabels::Int(_),
            } => tvec!(i64::fact([n]), scores),
            EnsembleKind::Classifier {
                labels: ClassLabels::Str(_),
            } => tvec!(String::fact([n]), scores),
        })
    }

    as_op!();
}
