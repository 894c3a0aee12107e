//! ai.onnx.ml `Scaler`: `Y = (X - offset) * scale`, per column, as f32 (tract has no `Scaler`).
//!
//! It expands into tract's own cast, subtraction and multiplication, which tract optimizes and fuses.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::attrs;

/// Parses a `Scaler` node.
pub fn scaler(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let mut offset = attrs::floats(node, "offset");
    let mut scale = attrs::floats(node, "scale");
    if offset.is_empty() && scale.is_empty() {
        bail!("Scaler node {:?} has neither offset nor scale", node.name);
    }
    if offset.is_empty() {
        offset = vec![0.0; scale.len()];
    }
    if scale.is_empty() {
        scale = vec![1.0; offset.len()];
    }
    if offset.len() != scale.len() && offset.len() != 1 && scale.len() != 1 {
        bail!(
            "Scaler node {:?}: offset has {} values, scale {}",
            node.name,
            offset.len(),
            scale.len()
        );
    }
    Ok((expand(Scaler { offset, scale }), vec![]))
}

/// The `Scaler` expansion.
#[derive(Debug, Clone)]
pub struct Scaler {
    offset: Vec<f32>,
    scale: Vec<f32>,
}

impl Scaler {
    fn width(&self) -> usize {
        self.offset.len().max(self.scale.len())
    }
}

impl Expansion for Scaler {
    fn name(&self) -> StaticName {
        "HomemlScaler".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, DatumType::F32)?;
        s.equals(&inputs[0].rank, &outputs[0].rank)?;
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
        let rank = fact.rank();
        if rank == 0 {
            bail!("Scaler takes a [N, C] or [C] input, got a scalar");
        }
        if let Some(c) = fact.shape[rank - 1].as_i64() {
            let w = self.width();
            if w != 1 && c as usize != w {
                bail!("Scaler has {w} coefficients for an input of {c} columns");
            }
        }
        let mut x = inputs[0];
        if fact.datum_type != DatumType::F32 {
            x = model.wire_node(
                format!("{prefix}.cast"),
                tract_core::ops::cast::cast(DatumType::F32),
                &[x],
            )?[0];
        }
        let konst = |v: &[f32]| -> TractResult<Tensor> {
            let mut shape = vec![1usize; rank];
            shape[rank - 1] = v.len();
            Tensor::from_shape(&shape, v)
        };
        let offset = model.add_const(format!("{prefix}.offset"), konst(&self.offset)?)?;
        let scale = model.add_const(format!("{prefix}.scale"), konst(&self.scale)?)?;
        let centered = model.wire_node(
            format!("{prefix}.sub"),
            tract_core::ops::math::sub(),
            &[x, offset],
        )?[0];
        model.wire_node(
            format!("{prefix}.mul"),
            tract_core::ops::math::mul(),
            &[centered, scale],
        )
    }
}
