//! tract glue for homeml's linear ops: the ONNX node parsers for `LinearClassifier`, `LinearRegressor`,
//! `Normalizer` and `Scaler`, their inference-time expansions and the typed ops that run
//! [`super::linear`]'s models in one pass.

use std::sync::Arc;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::attrs;
use super::linear::{rows_cols, LinearClassifier, LinearError, LinearRegressor, Norm, Scale};
use super::tree::{ClassLabels, Labels, PostTransform};

fn post_transform(node: &NodeProto) -> TractResult<PostTransform> {
    let post = attrs::string_opt(node, "post_transform")?.unwrap_or_else(|| "NONE".into());
    PostTransform::parse(&post).ok_or_else(|| format_err!("unknown post_transform {post:?}"))
}

fn linear_err(node: &NodeProto) -> impl Fn(LinearError) -> TractError + '_ {
    move |e| format_err!("{} node {:?}: {e}", node.op_type, node.name)
}

/// Parses an ai.onnx.ml `LinearClassifier` node into homeml's implementation.
pub fn linear_classifier(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let ints = attrs::ints(node, "classlabels_ints");
    let strs = attrs::strings_opt(node, "classlabels_strings")?.unwrap_or_default();
    let labels = match (ints.is_empty(), strs.is_empty()) {
        (false, false) => bail!(
            "LinearClassifier node {:?}: only one of classlabels_ints and classlabels_strings may be set",
            node.name
        ),
        (true, false) => ClassLabels::Str(strs),
        _ => ClassLabels::Int(ints),
    };
    let c = LinearClassifier::new(
        attrs::floats(node, "coefficients"),
        attrs::floats(node, "intercepts"),
        labels,
        post_transform(node)?,
    )
    .map_err(linear_err(node))?;
    Ok((
        expand(LinearExpansion(Arc::new(Linear::Classifier(c)))),
        vec![],
    ))
}

/// Parses an ai.onnx.ml `LinearRegressor` node into homeml's implementation.
pub fn linear_regressor(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let targets = attrs::int_opt(node, "targets").unwrap_or(1);
    let targets =
        usize::try_from(targets).map_err(|_| format_err!("targets {targets} is negative"))?;
    let r = LinearRegressor::new(
        attrs::floats(node, "coefficients"),
        attrs::floats(node, "intercepts"),
        targets,
        post_transform(node)?,
    )
    .map_err(linear_err(node))?;
    Ok((
        expand(LinearExpansion(Arc::new(Linear::Regressor(r)))),
        vec![],
    ))
}

/// Parses an ai.onnx.ml `Normalizer` node into homeml's implementation.
pub fn normalizer(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let norm = attrs::string_opt(node, "norm")?.unwrap_or_else(|| "MAX".into());
    let norm = Norm::parse(&norm)
        .ok_or_else(|| format_err!("Normalizer node {:?}: unknown norm {norm:?}", node.name))?;
    Ok((
        expand(LinearExpansion(Arc::new(Linear::Normalizer(norm)))),
        vec![],
    ))
}

/// Parses an ai.onnx.ml `Scaler` node into homeml's implementation.
pub fn scaler(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let s = Scale::new(attrs::floats(node, "offset"), attrs::floats(node, "scale"))
        .map_err(linear_err(node))?;
    Ok((expand(LinearExpansion(Arc::new(Linear::Scaler(s)))), vec![]))
}

/// One of homeml's linear ops.
#[derive(Debug, Clone, PartialEq)]
pub enum Linear {
    /// `LinearClassifier`: labels and scores.
    Classifier(LinearClassifier),
    /// `LinearRegressor`: `[N, targets]`.
    Regressor(LinearRegressor),
    /// `Normalizer`: same shape as the input, f32.
    Normalizer(Norm),
    /// `Scaler`: same shape as the input, f32.
    Scaler(Scale),
}

impl Linear {
    fn label_type(&self) -> Option<DatumType> {
        match self {
            Linear::Classifier(c) => Some(match c.labels() {
                ClassLabels::Int(_) => DatumType::I64,
                ClassLabels::Str(_) => DatumType::String,
            }),
            _ => None,
        }
    }

    fn op_name(&self) -> &'static str {
        match self {
            Linear::Classifier(_) => "LinearClassifier",
            Linear::Regressor(_) => "LinearRegressor",
            Linear::Normalizer(_) => "Normalizer",
            Linear::Scaler(_) => "Scaler",
        }
    }
}

/// The inference-model form: type rules, then wiring of [`LinearOp`].
#[derive(Debug, Clone)]
struct LinearExpansion(Arc<Linear>);

impl Expansion for LinearExpansion {
    fn name(&self) -> StaticName {
        format!("Homeml{}", self.0.op_name()).into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(if self.0.label_type().is_some() { 2 } else { 1 })
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        match &*self.0 {
            Linear::Classifier(c) => {
                check_output_arity(outputs, 2)?;
                if let Some(dt) = self.0.label_type() {
                    s.equals(&outputs[0].datum_type, dt)?;
                }
                s.equals(&outputs[0].rank, 1)?;
                s.equals(&outputs[1].datum_type, DatumType::F32)?;
                s.equals(&outputs[1].rank, 2)?;
                s.equals(&outputs[1].shape[1], c.score_width().to_dim())?;
                s.given(&inputs[0].rank, move |s, rank| {
                    if rank == 2 {
                        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
                        s.equals(&outputs[1].shape[0], &inputs[0].shape[0])?;
                    } else {
                        s.equals(&outputs[0].shape[0], 1.to_dim())?;
                        s.equals(&outputs[1].shape[0], 1.to_dim())?;
                    }
                    Ok(())
                })?;
            }
            Linear::Regressor(r) => {
                check_output_arity(outputs, 1)?;
                s.equals(&outputs[0].datum_type, DatumType::F32)?;
                s.equals(&outputs[0].rank, 2)?;
                s.equals(&outputs[0].shape[1], r.weights().targets().to_dim())?;
                s.given(&inputs[0].rank, move |s, rank| {
                    if rank == 2 {
                        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
                    } else {
                        s.equals(&outputs[0].shape[0], 1.to_dim())?;
                    }
                    Ok(())
                })?;
            }
            Linear::Normalizer(_) | Linear::Scaler(_) => {
                check_output_arity(outputs, 1)?;
                s.equals(&outputs[0].datum_type, DatumType::F32)?;
                s.equals(&inputs[0].rank, &outputs[0].rank)?;
                s.equals(&inputs[0].shape, &outputs[0].shape)?;
            }
        }
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, LinearOp(self.0.clone()), inputs)
    }
}

/// The typed op: runs a [`Linear`] on a `[N, C]` or `[C]` input (f32, f64, i64 or i32).
#[derive(Debug, Clone)]
pub struct LinearOp(pub Arc<Linear>);

impl PartialEq for LinearOp {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for LinearOp {}

impl Op for LinearOp {
    fn name(&self) -> StaticName {
        format!("Homeml{}", self.0.op_name()).into()
    }

    op_as_typed_op!();
}

/// The input as f32 values (borrowed when it already is f32).
fn as_f32(input: &TValue) -> TractResult<std::borrow::Cow<'_, Tensor>> {
    if input.datum_type() == DatumType::F32 {
        Ok(std::borrow::Cow::Borrowed(&**input))
    } else {
        Ok(std::borrow::Cow::Owned(
            input.cast_to::<f32>()?.into_owned(),
        ))
    }
}

fn f32_tensor(shape: &[usize], data: Vec<f32>) -> TractResult<TValue> {
    Ok(tract_ndarray::ArrayD::from_shape_vec(shape, data)?.into_tvalue())
}

impl EvalOp for LinearOp {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let shape = input.shape().to_vec();
        let op = self.0.op_name();
        let to_err = |e: LinearError| format_err!("{op}: {e}");
        match &*self.0 {
            Linear::Classifier(c) => {
                let (rows, cols) = rows_cols(&shape, op).map_err(to_err)?;
                let x = as_f32(&input)?;
                let x = x.try_as_plain_ram()?.as_slice::<f32>()?;
                let (labels, scores) = c.eval(x, rows, cols).map_err(to_err)?;
                let scores = f32_tensor(&[rows, c.score_width()], scores)?;
                let labels = match labels {
                    Labels::Int(l) => tract_ndarray::Array1::from_vec(l).into_tvalue(),
                    Labels::Str(l) => tract_ndarray::Array1::from_vec(l).into_tvalue(),
                };
                Ok(tvec!(labels, scores))
            }
            Linear::Regressor(r) => {
                let (rows, cols) = rows_cols(&shape, op).map_err(to_err)?;
                let x = as_f32(&input)?;
                let x = x.try_as_plain_ram()?.as_slice::<f32>()?;
                let out = r.eval(x, rows, cols).map_err(to_err)?;
                Ok(tvec!(f32_tensor(&[rows, r.weights().targets()], out)?))
            }
            Linear::Normalizer(norm) => {
                let (_, cols) = rows_cols(&shape, op).map_err(to_err)?;
                let mut y = input.into_tensor();
                if y.datum_type() != DatumType::F32 {
                    y = y.cast_to::<f32>()?.into_owned();
                }
                let mut plain = y.try_as_plain_ram_mut()?;
                norm.apply(plain.as_slice_mut::<f32>()?, cols);
                Ok(tvec!(y.into_tvalue()))
            }
            Linear::Scaler(s) => {
                let cols = shape.last().copied().unwrap_or(1);
                let mut out = vec![0f32; input.len()];
                let plain = input.try_as_plain_ram()?;
                match input.datum_type() {
                    DatumType::F32 => s.apply_f32(plain.as_slice::<f32>()?, cols, &mut out),
                    DatumType::F64 => s.apply_f64(plain.as_slice::<f64>()?, cols, &mut out),
                    DatumType::I32 => s.apply_f64(plain.as_slice::<i32>()?, cols, &mut out),
                    DatumType::I64 => {
                        let x: Vec<f64> =
                            plain.as_slice::<i64>()?.iter().map(|&v| v as f64).collect();
                        s.apply_f64(&x, cols, &mut out)
                    }
                    _ => {
                        let x = input.cast_to::<f32>()?;
                        s.apply_f32(x.try_as_plain_ram()?.as_slice::<f32>()?, cols, &mut out)
                    }
                }
                .map_err(to_err)?;
                Ok(tvec!(f32_tensor(&shape, out)?))
            }
        }
    }
}

impl TypedOp for LinearOp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let input = inputs[0];
        let n = if input.rank() == 1 {
            1.to_dim()
        } else {
            input.shape[0].clone()
        };
        Ok(match &*self.0 {
            Linear::Classifier(c) => {
                let scores = f32::fact([n.clone(), c.score_width().to_dim()]);
                match c.labels() {
                    ClassLabels::Int(_) => tvec!(i64::fact([n]), scores),
                    ClassLabels::Str(_) => tvec!(String::fact([n]), scores),
                }
            }
            Linear::Regressor(r) => tvec!(f32::fact([n, r.weights().targets().to_dim()])),
            Linear::Normalizer(_) | Linear::Scaler(_) => {
                tvec!(f32::fact(input.shape.iter().cloned().collect::<TVec<_>>()))
            }
        })
    }

    as_op!();
}
