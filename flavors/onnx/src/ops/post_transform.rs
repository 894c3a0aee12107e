//! The post-transforms of ONNX ML ops (`post_transform`: NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO, PROBIT),
//! computed as ONNX Runtime computes them (`ml_common.h`), shared by the tree ensembles and the linear
//! classifier.

/// The transform applied to the aggregated scores (`post_transform`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostTransform {
    /// Scores as they are.
    None,
    /// Softmax over the scores of a row.
    Softmax,
    /// The logistic function of each score.
    Logistic,
    /// Softmax that leaves zero scores at zero.
    SoftmaxZero,
    /// The probit function of each score.
    Probit,
}

impl PostTransform {
    /// Parses an ONNX post_transform name.
    pub fn parse(s: &str) -> Option<PostTransform> {
        Some(match s {
            "NONE" => PostTransform::None,
            "SOFTMAX" => PostTransform::Softmax,
            "LOGISTIC" => PostTransform::Logistic,
            "SOFTMAX_ZERO" => PostTransform::SoftmaxZero,
            "PROBIT" => PostTransform::Probit,
            _ => return None,
        })
    }
}

/// ONNX Runtime's `ComputeLogistic`.
pub fn logistic(val: f32) -> f32 {
    let v = 1.0 / (1.0 + (-val.abs()).exp());
    if val < 0.0 {
        1.0 - v
    } else {
        v
    }
}

/// ONNX Runtime's `ErfInv` approximation.
fn erf_inv(x: f32) -> f32 {
    let sgn = if x < 0.0 { -1.0f32 } else { 1.0 };
    let x = (1.0 - x) * (1.0 + x);
    let log = x.ln();
    let v = 2.0 / (std::f32::consts::PI * 0.147) + 0.5 * log;
    let v2 = 1.0 / 0.147 * log;
    let v3 = -v + (v * v - v2).sqrt();
    sgn * v3.sqrt()
}

/// ONNX Runtime's `ComputeProbit`.
pub fn probit(val: f32) -> f32 {
    std::f32::consts::SQRT_2 * erf_inv(2.0 * val - 1.0)
}

/// Applies a post-transform to one row of scores, as ONNX Runtime's `write_scores` does for 2+ scores.
pub fn apply_transform(t: PostTransform, s: &mut [f32]) {
    match t {
        PostTransform::None => {}
        PostTransform::Logistic => s.iter_mut().for_each(|v| *v = logistic(*v)),
        PostTransform::Probit => s.iter_mut().for_each(|v| *v = probit(*v)),
        PostTransform::Softmax => {
            let max = s.iter().copied().fold(-f32::MAX, f32::max);
            let mut sum = 0f32;
            for v in s.iter_mut() {
                *v = (*v - max).exp();
                sum += *v;
            }
            s.iter_mut().for_each(|v| *v /= sum);
        }
        PostTransform::SoftmaxZero => {
            let max = s.iter().copied().fold(-f32::MAX, f32::max);
            let exp_neg_max = (-max).exp();
            let mut sum = 0f32;
            for v in s.iter_mut() {
                if *v > 0.000_000_1 || *v < -0.000_000_1 {
                    *v = (*v - max).exp();
                    sum += *v;
                } else {
                    *v *= exp_neg_max;
                }
            }
            s.iter_mut().for_each(|v| *v /= sum);
        }
    }
}
