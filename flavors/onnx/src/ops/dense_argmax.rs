//! ONNX `ArgMax` over the last axis of an f32 tensor: the label head skl2onnx puts after an
//! `MLPClassifier`'s dense layers and softmax (`ArgMax(axis=1)` of the `[batch, classes]` probabilities).
//!
//! tract reduces with an ndarray slice and view per output row; on rows of a few classes that
//! bookkeeping dominated the whole MLP (measured with `perf`: ~45% of `mlp_clf` at batch 256 once the
//! dense layers were homeml's). homeml scans each row once when the input is f32 and the axis is the last
//! one; every other case is wired to tract's own reduction.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::nn::{Reduce, Reducer};

use super::attrs;

/// Parses an ONNX `ArgMax` node (attributes as tract reads them: `axis` 0, `keepdims` 1,
/// `select_last_index` 0 by default).
pub fn arg_max(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let axis = attrs::int_opt(node, "axis").unwrap_or(0);
    let keep_dims = attrs::int_opt(node, "keepdims").unwrap_or(1) != 0;
    let take_last = attrs::int_opt(node, "select_last_index").unwrap_or(0) != 0;
    Ok((
        expand(ArgMaxExpansion(Reduce::new(
            Some(vec![axis]),
            keep_dims,
            Reducer::ArgMax(take_last),
        ))),
        vec![],
    ))
}

/// tract's `ArgMax` (type rules and fallback wiring) with homeml's row op for the last f32 axis.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct ArgMaxExpansion(Reduce);

impl Expansion for ArgMaxExpansion {
    fn name(&self) -> StaticName {
        "HomemlArgMax".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        self.0.rules(s, inputs, outputs)
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let fact = model.outlet_fact(inputs[0])?.clone();
        let rank = fact.rank() as i64;
        let axis = match self.0.axes.as_deref() {
            Some(&[a]) if a < 0 => a + rank,
            Some(&[a]) => a,
            _ => -1,
        };
        let take_last = matches!(self.0.reducer, Reducer::ArgMax(true));
        if fact.datum_type == DatumType::F32 && rank >= 1 && axis == rank - 1 {
            model.wire_node(
                prefix,
                RowArgMax {
                    keep_dims: self.0.keep_dims,
                    take_last,
                },
                inputs,
            )
        } else {
            self.0.wire(prefix, model, inputs)
        }
    }
}

/// The index of the largest value of each row of `cols` values (the first or, with `take_last`, the
/// last of equal maxima; NaN never wins). An empty row gives 0.
pub fn argmax_rows(x: &[f32], cols: usize, take_last: bool, out: &mut Vec<i64>) {
    if cols == 0 {
        return;
    }
    out.extend(x.chunks_exact(cols).map(|row| {
        let mut best = 0usize;
        let mut max = row[0];
        for (j, &v) in row.iter().enumerate().skip(1) {
            if v > max || (take_last && v == max) || (max.is_nan() && !v.is_nan()) {
                best = j;
                max = v;
            }
        }
        best as i64
    }));
}

/// The typed op: `ArgMax` over the last axis of an f32 tensor, as i64 indices.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct RowArgMax {
    /// Keep the reduced axis with length 1.
    pub keep_dims: bool,
    /// Select the last of equal maxima.
    pub take_last: bool,
}

impl Op for RowArgMax {
    fn name(&self) -> StaticName {
        "HomemlRowArgMax".into()
    }

    op_as_typed_op!();
}

impl EvalOp for RowArgMax {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let shape = input.shape();
        let Some((&cols, outer)) = shape.split_last() else {
            bail!("ArgMax over the last axis of a scalar");
        };
        if cols == 0 {
            bail!("ArgMax over an empty axis (shape {shape:?})");
        }
        let plain = input.try_as_plain_ram()?;
        let mut out = Vec::with_capacity(input.len() / cols);
        argmax_rows(plain.as_slice::<f32>()?, cols, self.take_last, &mut out);
        let mut out_shape = outer.to_vec();
        if self.keep_dims {
            out_shape.push(1);
        }
        Ok(tvec!(tract_ndarray::ArrayD::from_shape_vec(
            out_shape, out
        )?
        .into_tvalue()))
    }
}

impl TypedOp for RowArgMax {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut shape: TVec<TDim> = inputs[0].shape.iter().cloned().collect();
        shape.pop();
        if self.keep_dims {
            shape.push(1.to_dim());
        }
        Ok(tvec!(i64::fact(shape)))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_or_last_maximum_per_row() {
        let x = [0.1f32, 0.7, 0.2, 0.5, 0.5, 0.0, -1.0, -2.0, -3.0];
        let mut first = Vec::new();
        argmax_rows(&x, 3, false, &mut first);
        assert_eq!(first, vec![1, 0, 0]);
        let mut last = Vec::new();
        argmax_rows(&x, 3, true, &mut last);
        assert_eq!(last, vec![1, 1, 0]);
        let mut one = Vec::new();
        argmax_rows(&[3.0, 4.0], 1, false, &mut one);
        assert_eq!(one, vec![0, 0]);
        let mut nan = Vec::new();
        argmax_rows(&[f32::NAN, 1.0, 2.0], 3, false, &mut nan);
        assert_eq!(nan, vec![2]);
        let mut none = Vec::new();
        argmax_rows(&[], 3, false, &mut none);
        assert!(none.is_empty());
    }
}
