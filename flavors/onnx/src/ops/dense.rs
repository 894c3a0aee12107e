//! Dense layers: ONNX `MatMul` of a `[batch, K]` f32 input by a constant `[K, N]` weight, with the
//! following bias `Add` and `Relu` fused in (what skl2onnx emits for every layer of an
//! `MLPClassifier`/`MLPRegressor`: `MatMul`, `Add` of a `[1, N]` intercept, `Relu` on hidden layers).
//!
//! tract lowers `MatMul` to its generic matrix multiplication, which on these tiny shapes (K = 4..32
//! features, N = 1..64 hidden units) picks 64x3 AVX-512 tiles with a symbolic batch and pads most of
//! each tile; per row the work is a few hundred multiply-adds, so packing, tile stores and one
//! intermediate tensor per op dominate. homeml runs such a layer as one pass over the rows. The weights
//! are laid out once at load: for N >= [`DOT_BELOW`] in panels of 16 columns, `[K][16]` each, so that
//! each block of 16 outputs of a row accumulates `x[k] * W[k, block]` over K in registers (the loop over
//! the 16 lanes auto-vectorizes; 1.4x faster than accumulating whole `[K][N]` rows in memory on a
//! 32-64-64-3 MLP at 256 rows); transposed to `[N][K]` for narrower layers (an output layer of 1-3
//! values), each output then being a dot product over K with eight independent partial sums. The bias is added after the product (as ONNX
//! Runtime adds it after its matmul), then the activation is applied.
//!
//! homeml takes over only when the weight is a graph constant (an initializer), both operands are f32,
//! the input is 2-D with a known K, and the layer is small ([`MAX_WEIGHTS`]); every other `MatMul`
//! (a run-time weight, batched 3-D products, large layers where tract's blocked kernels win) is wired to
//! tract's own op.

use std::sync::Arc;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::math::{Add, Max};
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::matmul::MatMulInference;

/// Largest weight matrix (K x N values) homeml's dense op takes; larger layers go to tract, whose
/// blocked AVX-512 kernels are faster once each row carries enough work (measured in bench/onnx.md).
pub const MAX_WEIGHTS: usize = 64 * 64;

/// Layers with fewer outputs than this keep their weights transposed and compute each output as a dot
/// product over K (an output row of 1-7 values is too short to vectorize across N).
pub const DOT_BELOW: usize = 8;

/// Lanes of the dot product's independent accumulators (vectorized by the compiler).
const LANES: usize = 8;

/// Output columns computed together in registers (four SSE vectors).
const PANEL: usize = 16;

/// `[K][N]` row-major to panels of [`PANEL`] columns: panel `p` holds `[K][PANEL]` row-major values of
/// columns `p * PANEL ..`, the last panel padded with zeros.
fn to_panels(w: &[f32], k: usize, n: usize) -> Vec<f32> {
    let panels = n.div_ceil(PANEL);
    let mut out = vec![0f32; panels * k * PANEL];
    for (i, row) in w.chunks_exact(n).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            out[((j / PANEL) * k + i) * PANEL + j % PANEL] = v;
        }
    }
    out
}

/// `[K][N]` row-major to `[N][K]` row-major.
fn transpose(w: &[f32], k: usize, n: usize) -> Vec<f32> {
    let mut t = vec![0f32; w.len()];
    for (i, row) in w.chunks_exact(n).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            t[j * k + i] = v;
        }
    }
    t
}

/// `x . w` with [`LANES`] independent partial sums.
fn dot(x: &[f32], w: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let xs = x.chunks_exact(LANES);
    let ws = w.chunks_exact(LANES);
    let tail: f32 = xs
        .remainder()
        .iter()
        .zip(ws.remainder())
        .map(|(a, b)| a * b)
        .sum();
    for (xc, wc) in xs.zip(ws) {
        for ((a, &xv), &wv) in acc.iter_mut().zip(xc).zip(wc) {
            *a += xv * wv;
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// Errors building a [`Dense`] layer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DenseError {
    /// The weight does not hold K x N values.
    #[error("the weight holds {got} values, expected {k} x {n}")]
    WeightLen {
        /// Rows of the weight (input features).
        k: usize,
        /// Columns of the weight (outputs).
        n: usize,
        /// Values given.
        got: usize,
    },
    /// The bias does not hold N values.
    #[error("the bias holds {got} values, expected {n}")]
    BiasLen {
        /// Outputs.
        n: usize,
        /// Values given.
        got: usize,
    },
    /// K or N is zero.
    #[error("a dense layer needs at least one input and one output (K = {k}, N = {n})")]
    Empty {
        /// Input features.
        k: usize,
        /// Outputs.
        n: usize,
    },
    /// The input does not have K values per row.
    #[error("the input has shape {shape:?}; the layer expects [batch, {k}]")]
    InputShape {
        /// The input's shape.
        shape: Vec<usize>,
        /// Input features.
        k: usize,
    },
}

/// The activation applied after the bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activation {
    /// None: `Y = X W + B`.
    Identity,
    /// `max(y, 0)` (ONNX `Relu`, which tract parses as `Max` with a zero constant).
    Relu,
}

/// A dense layer `Y = act(X W + B)` with its weights laid out for row-at-a-time evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    k: usize,
    n: usize,
    /// Panels of [`PANEL`] columns (see [`to_panels`]) when N >= [`DOT_BELOW`], else transposed:
    /// `[N][K]` row-major.
    w: Vec<f32>,
    bias: Option<Vec<f32>>,
    act: Activation,
}

impl Dense {
    /// A layer from a `[K][N]` row-major weight, no bias, no activation.
    pub fn new(w: Vec<f32>, k: usize, n: usize) -> Result<Dense, DenseError> {
        if k == 0 || n == 0 {
            return Err(DenseError::Empty { k, n });
        }
        if k.checked_mul(n) != Some(w.len()) {
            return Err(DenseError::WeightLen { k, n, got: w.len() });
        }
        Ok(Dense {
            k,
            n,
            w: if n < DOT_BELOW {
                transpose(&w, k, n)
            } else {
                to_panels(&w, k, n)
            },
            bias: None,
            act: Activation::Identity,
        })
    }

    /// The same layer with `bias` (N values) added after the product, before the activation.
    pub fn with_bias(mut self, bias: Vec<f32>) -> Result<Dense, DenseError> {
        if bias.len() != self.n {
            return Err(DenseError::BiasLen {
                n: self.n,
                got: bias.len(),
            });
        }
        self.bias = Some(bias);
        Ok(self)
    }

    /// The same layer followed by `act`.
    pub fn with_activation(mut self, act: Activation) -> Dense {
        self.act = act;
        self
    }

    /// Input features (K).
    pub fn inputs(&self) -> usize {
        self.k
    }

    /// Outputs (N).
    pub fn outputs(&self) -> usize {
        self.n
    }

    /// Whether a bias is fused in.
    pub fn has_bias(&self) -> bool {
        self.bias.is_some()
    }

    /// The activation.
    pub fn activation(&self) -> Activation {
        self.act
    }

    /// Evaluates `rows` rows of `x` (`rows * K` values, row-major) into `y` (`rows * N` values).
    pub fn eval_into(&self, x: &[f32], y: &mut [f32]) -> Result<(), DenseError> {
        let rows = y.len() / self.n;
        if !y.len().is_multiple_of(self.n) || x.len() != rows * self.k {
            return Err(DenseError::InputShape {
                shape: vec![x.len()],
                k: self.k,
            });
        }
        let by_dot = self.n < DOT_BELOW;
        for (xr, yr) in x.chunks_exact(self.k).zip(y.chunks_exact_mut(self.n)) {
            if by_dot {
                for (yv, wr) in yr.iter_mut().zip(self.w.chunks_exact(self.k)) {
                    *yv = dot(xr, wr);
                }
            } else {
                let (panels, _) = self.w.as_chunks::<PANEL>();
                for (yb, panel) in yr.chunks_mut(PANEL).zip(panels.chunks_exact(self.k)) {
                    let mut acc = [0f32; PANEL];
                    for (&xv, wr) in xr.iter().zip(panel) {
                        for (a, &wv) in acc.iter_mut().zip(wr) {
                            *a += xv * wv;
                        }
                    }
                    yb.copy_from_slice(&acc[..yb.len()]);
                }
            }
            if let Some(b) = &self.bias {
                for (yv, &bv) in yr.iter_mut().zip(b) {
                    *yv += bv;
                }
            }
            if self.act == Activation::Relu {
                for yv in yr.iter_mut() {
                    *yv = yv.max(0.0);
                }
            }
        }
        Ok(())
    }

    /// Evaluates a `[rows, K]` input (row-major) into a new `[rows, N]` output.
    pub fn eval(&self, x: &[f32], rows: usize) -> Result<Vec<f32>, DenseError> {
        if x.len() != rows * self.k {
            return Err(DenseError::InputShape {
                shape: vec![rows, x.len().checked_div(rows).unwrap_or(0)],
                k: self.k,
            });
        }
        let mut y = vec![0f32; rows * self.n];
        self.eval_into(x, &mut y)?;
        Ok(y)
    }
}

/// Parses an ONNX `MatMul` node: homeml's dense op when the weight turns out constant and small,
/// tract's otherwise (decided at wiring time, when the operand facts are known).
pub fn matmul(
    _ctx: &ParsingContext,
    _node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    Ok((expand(MatMulExpansion(MatMulInference::default())), vec![]))
}

/// `MatMul` with tract's type rules (those of the wrapped op) and homeml's wiring choice.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct MatMulExpansion(MatMulInference);

impl Expansion for MatMulExpansion {
    fn name(&self) -> StaticName {
        "HomemlMatMul".into()
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
        if let Some(dense) = dense_for(model, inputs)? {
            model.wire_node(prefix, DenseOp(Arc::new(dense)), &inputs[..1])
        } else {
            self.0.wire(prefix, model, inputs)
        }
    }
}

/// homeml's layer for `MatMul(inputs[0], inputs[1])`, when it applies.
fn dense_for(model: &TypedModel, inputs: &[OutletId]) -> TractResult<Option<Dense>> {
    let [a, b] = inputs else {
        return Ok(None);
    };
    let a = model.outlet_fact(*a)?;
    let b = model.outlet_fact(*b)?;
    let Some(w) = b.konst.as_ref() else {
        return Ok(None);
    };
    if a.datum_type != DatumType::F32 || w.datum_type() != DatumType::F32 || a.rank() != 2 {
        return Ok(None);
    }
    let &[k, n] = w.shape() else {
        return Ok(None);
    };
    if a.shape[1].to_usize().ok() != Some(k) || k * n > MAX_WEIGHTS {
        return Ok(None);
    }
    let values = w.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
    Ok(Dense::new(values, k, n).ok())
}

/// The typed op: a [`Dense`] layer on a `[batch, K]` f32 input.
#[derive(Debug, Clone)]
pub struct DenseOp(pub Arc<Dense>);

impl PartialEq for DenseOp {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for DenseOp {}

impl Op for DenseOp {
    fn name(&self) -> StaticName {
        "HomemlDense".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "K={} N={} bias={} activation={:?}",
            self.0.k,
            self.0.n,
            self.0.bias.is_some(),
            self.0.act
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for DenseOp {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let shape = input.shape();
        let rows = match *shape {
            [rows, k] if k == self.0.k => rows,
            _ => bail!(
                "{}",
                DenseError::InputShape {
                    shape: shape.to_vec(),
                    k: self.0.k
                }
            ),
        };
        let plain = input.try_as_plain_ram()?;
        let y = self
            .0
            .eval(plain.as_slice::<f32>()?, rows)
            .map_err(|e| format_err!("{e}"))?;
        Ok(tvec!(tract_ndarray::Array2::from_shape_vec(
            (rows, self.0.n),
            y
        )?
        .into_tvalue()))
    }
}

/// The constant operand of a binary node whose other operand is `from`, as f32 values.
fn other_constant(model: &TypedModel, succ: &TypedNode, from: OutletId) -> Option<Arc<Tensor>> {
    let [x, y] = succ.inputs[..] else {
        return None;
    };
    let other = if x == from && y != from {
        y
    } else if y == from && x != from {
        x
    } else {
        return None;
    };
    let konst = model.outlet_fact(other).ok()?.konst.clone()?;
    (konst.datum_type() == DatumType::F32).then_some(konst)
}

impl DenseOp {
    /// The layer with the single successor `succ` folded in, when `succ` is a bias `Add` (first) or a
    /// `Relu` (`Max` with zero) that keeps the output's shape.
    fn fused_with(&self, model: &TypedModel, node: &TypedNode) -> TractResult<Option<Dense>> {
        // A product that is also a graph output stays as it is (fusing would compute the layer twice).
        if model.output_outlets()?.contains(&node.id.into()) {
            return Ok(None);
        }
        let Some(succ) = model.single_succ(node.id)? else {
            return Ok(None);
        };
        let Some(bin) = succ.op_as::<TypedBinOp>() else {
            return Ok(None);
        };
        let ours = model.outlet_fact(node.id.into())?;
        let theirs = model.outlet_fact(succ.id.into())?;
        if theirs.datum_type != DatumType::F32 || theirs.shape != ours.shape {
            return Ok(None);
        }
        let Some(konst) = other_constant(model, succ, node.id.into()) else {
            return Ok(None);
        };
        let n = self.0.n;
        let dense = &*self.0;
        if bin.0.is::<Add>() && !dense.has_bias() && dense.act == Activation::Identity {
            // [N], [1, N], or one value for every column.
            let shape = konst.shape();
            let row_shaped = match shape {
                [] => true,
                [c] => *c == n || *c == 1,
                [1, c] => *c == n || *c == 1,
                _ => false,
            };
            if !row_shaped {
                return Ok(None);
            }
            let values = konst.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
            let bias = if values.len() == n {
                values
            } else {
                vec![values[0]; n]
            };
            return Ok(dense.clone().with_bias(bias).ok());
        }
        if bin.0.is::<Max>() && dense.act == Activation::Identity && konst.len() == 1 {
            let zero = konst.try_as_plain_ram()?.as_slice::<f32>()?[0] == 0.0;
            if zero && konst.rank() <= 2 {
                return Ok(Some(dense.clone().with_activation(Activation::Relu)));
            }
        }
        Ok(None)
    }
}

impl TypedOp for DenseOp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let rows = inputs[0]
            .shape
            .first()
            .cloned()
            .ok_or_else(|| format_err!("HomemlDense takes a [batch, K] input"))?;
        Ok(tvec!(f32::fact([rows, self.0.n.to_dim()])))
    }

    fn declutter(
        &self,
        model: &TypedModel,
        node: &TypedNode,
    ) -> TractResult<Option<TypedModelPatch>> {
        match self.fused_with(model, node)? {
            Some(fused) => Ok(Some(TypedModelPatch::fuse_with_next(
                model,
                node,
                DenseOp(Arc::new(fused)),
            )?)),
            None => Ok(None),
        }
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Y = X W + B computed directly in f64.
    fn reference(x: &[f32], w: &[f32], b: Option<&[f32]>, k: usize, n: usize) -> Vec<f64> {
        let rows = x.len() / k;
        let mut y = vec![0f64; rows * n];
        for r in 0..rows {
            for j in 0..n {
                let mut s = b.map_or(0.0, |b| f64::from(b[j]));
                for i in 0..k {
                    s += f64::from(x[r * k + i]) * f64::from(w[i * n + j]);
                }
                y[r * n + j] = s;
            }
        }
        y
    }

    fn close(got: &[f32], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!(
                (f64::from(*g) - w).abs() <= 1e-5 * (1.0 + w.abs()),
                "{got:?} != {want:?}"
            );
        }
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        // A small deterministic spread of positive and negative values.
        (0..len)
            .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 250.0 - 2.0)
            .collect()
    }

    #[test]
    fn matches_a_direct_product_for_several_shapes() {
        let mut clipped = 0;
        for (k, n, rows) in [
            (4, 16, 5),
            (16, 3, 7),
            (10, 1, 3),
            (1, 1, 1),
            (33, 17, 9),
            (37, 2, 4),
            (3, 8, 2),
        ] {
            let x = values(rows * k, 1);
            let w = values(k * n, 2);
            let b = values(n, 3);
            let plain = Dense::new(w.clone(), k, n).unwrap();
            close(
                &plain.eval(&x, rows).unwrap(),
                &reference(&x, &w, None, k, n),
            );
            let biased = plain.with_bias(b.clone()).unwrap();
            close(
                &biased.eval(&x, rows).unwrap(),
                &reference(&x, &w, Some(&b), k, n),
            );
            let relu = biased.with_activation(Activation::Relu);
            let want: Vec<f64> = reference(&x, &w, Some(&b), k, n)
                .into_iter()
                .map(|v| v.max(0.0))
                .collect();
            let got = relu.eval(&x, rows).unwrap();
            close(&got, &want);
            assert!(got.iter().all(|v| *v >= 0.0));
            clipped += want.iter().filter(|v| **v == 0.0).count();
        }
        assert!(clipped > 10, "relu clipped only {clipped} values");
    }

    #[test]
    fn batch_zero_and_one() {
        let d = Dense::new(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3)
            .unwrap()
            .with_bias(vec![0.5, -0.5, 0.0])
            .unwrap();
        assert_eq!(d.eval(&[], 0).unwrap(), Vec::<f32>::new());
        // [1, 2] . [[1, 2, 3], [4, 5, 6]] = [9, 12, 15], plus the bias.
        assert_eq!(d.eval(&[1.0, 2.0], 1).unwrap(), vec![9.5, 11.5, 15.0]);
    }

    #[test]
    fn rejects_inconsistent_shapes() {
        assert_eq!(
            Dense::new(vec![0.0; 5], 2, 3),
            Err(DenseError::WeightLen { k: 2, n: 3, got: 5 })
        );
        assert_eq!(
            Dense::new(vec![], 0, 3),
            Err(DenseError::Empty { k: 0, n: 3 })
        );
        let d = Dense::new(vec![0.0; 6], 2, 3).unwrap();
        assert_eq!(
            d.clone().with_bias(vec![0.0; 2]),
            Err(DenseError::BiasLen { n: 3, got: 2 })
        );
        assert!(matches!(
            d.eval(&[0.0; 3], 1),
            Err(DenseError::InputShape { .. })
        ));
        let mut y = [0.0; 3];
        assert!(d.eval_into(&[0.0; 3], &mut y).is_err());
    }
}
