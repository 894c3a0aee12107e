//! ONNX `Softmax` over a short last axis (skl2onnx's MLPClassifier output layer: one value per class).
//!
//! tract evaluates softmax with 64-lane vector kernels called once per row; on rows of a few classes each
//! call goes through a padded scratch buffer and the op dominates the MLP's time (measured with `perf`:
//! ~45% of `mlp_clf` at batch 256 in tract's max/softmax kernels and their thread-local scratch). homeml
//! takes over when the axis is the last one, its length is known and below [`MAX_AXIS`], and the input is
//! f32: one scalar pass per row. Every other case is wired to tract's own softmax.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::nn::{LayerSoftmax, Softmax};

use super::attrs;

/// Longest last axis homeml's softmax handles; longer ones go to tract's vector kernels.
pub const MAX_AXIS: usize = 32;

/// Parses an ONNX `Softmax` node.
pub fn softmax(
    ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let axis = attrs::int_opt(node, "axis");
    if ctx.onnx_operator_set_version < 13 {
        // Before opset 13 the input is coerced to 2-D around `axis` (default 1): tract's own op.
        let axis = axis.unwrap_or(1) as isize;
        return Ok((expand(LayerSoftmax::new(axis, true)), vec![]));
    }
    Ok((
        expand(SoftmaxExpansion {
            axis: axis.unwrap_or(-1) as isize,
        }),
        vec![],
    ))
}

/// Opset-13 softmax: homeml's row op for a short last f32 axis, tract's otherwise.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct SoftmaxExpansion {
    axis: isize,
}

impl Expansion for SoftmaxExpansion {
    fn name(&self) -> StaticName {
        "HomemlSoftmax".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let fact = model.outlet_fact(inputs[0])?.clone();
        let rank = fact.rank() as isize;
        let axis = if self.axis < 0 {
            rank + self.axis
        } else {
            self.axis
        };
        let last_len = fact.shape.last().and_then(|d| d.to_usize().ok());
        let ours = fact.datum_type == DatumType::F32
            && rank >= 1
            && axis == rank - 1
            && last_len.is_some_and(|n| (1..=MAX_AXIS).contains(&n));
        if ours {
            model.wire_node(prefix, RowSoftmax, inputs)
        } else {
            Softmax::new(self.axis).wire(prefix, model, inputs)
        }
    }
}

/// Softmax of each row of the last axis, in place, as ONNX Runtime computes it (max-shifted exponentials
/// over their sum).
pub fn softmax_rows(x: &mut [f32], cols: usize) {
    if cols == 0 {
        return;
    }
    for row in x.chunks_exact_mut(cols) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f32;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        row.iter_mut().for_each(|v| *v /= sum);
    }
}

/// The typed op: softmax over the last axis of an f32 tensor.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct RowSoftmax;

impl Op for RowSoftmax {
    fn name(&self) -> StaticName {
        "HomemlRowSoftmax".into()
    }

    op_as_typed_op!();
}

impl EvalOp for RowSoftmax {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let cols = input.shape().last().copied().unwrap_or(1);
        let mut y = input.into_tensor();
        {
            let mut plain = y.try_as_plain_ram_mut()?;
            softmax_rows(plain.as_slice_mut::<f32>()?, cols);
        }
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for RowSoftmax {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].without_value()))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sum_to_one_and_match_a_direct_computation() {
        let mut x = [1.0f32, 2.0, 3.0, -1.0, 0.0, 1000.0];
        softmax_rows(&mut x, 3);
        let e = [1f64.exp(), 2f64.exp(), 3f64.exp()];
        let s: f64 = e.iter().sum();
        for (g, w) in x[..3].iter().zip(e.iter().map(|v| v / s)) {
            assert!((f64::from(*g) - w).abs() < 1e-7, "{x:?}");
        }
        // A huge logit does not overflow: the shift by the maximum keeps it finite.
        assert_eq!(&x[3..], &[0.0, 0.0, 1.0]);
        let mut one = [5.0f32];
        softmax_rows(&mut one, 1);
        assert_eq!(one, [1.0]);
    }
}
