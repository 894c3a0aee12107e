//! homeml's linear models and row transforms: the engines behind its ai.onnx.ml `LinearClassifier`,
//! `LinearRegressor`, `Normalizer` and `Scaler`.
//!
//! Each is one pass over the rows with no intermediate tensors. Semantics follow ONNX Runtime 1.32
//! (`linearclassifier.cc`, `linearregressor.cc`, `normalizer.cc`, `scaler.cc`, `ml_common.h`), checked
//! against the real onnxruntime (the unit tests below hold values it produced), including its quirks:
//!
//! - a classifier with one coefficient row and two labels answers `[1 - s, s]` with the raw score `s`
//!   whatever the post-transform (except PROBIT); with one row and no labels it answers `[s]` and labels
//!   1/0 by the sign of `s`;
//! - a regressor with one target ignores every post-transform except PROBIT; intercepts are used only when
//!   there is one per target;
//! - `Normalizer` MAX divides by the (signed) maximum, L2 computes `sign(x) * sqrt(x^2 / sum)`, and a row
//!   whose norm is 0 is copied unchanged.

use super::post_transform::{apply_transform, probit, PostTransform};
use super::tree::{ClassLabels, Labels};

/// Why a linear model cannot be built or run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct LinearError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, LinearError> {
    Err(LinearError(msg.into()))
}

/// `targets` rows of coefficients and one intercept per row: `score[t] = b[t] + sum_f x[f] * w[t, f]`.
///
/// As in ONNX Runtime the number of features is the input's column count: row `t` of the coefficients
/// starts at `t * columns`, and coefficients past `targets * columns` are ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    coefficients: Vec<f32>,
    intercepts: Vec<f32>,
    targets: usize,
}

impl Weights {
    /// `targets` coefficient rows (`coefficients.len()` must be a multiple of it) and either one intercept
    /// per target or none (zeros).
    pub fn new(
        coefficients: Vec<f32>,
        intercepts: Vec<f32>,
        targets: usize,
    ) -> Result<Weights, LinearError> {
        if targets == 0 {
            return err("a linear model needs at least one target");
        }
        if coefficients.is_empty() || !coefficients.len().is_multiple_of(targets) {
            return err(format!(
                "coefficients size ({}) must be a non-zero multiple of the number of targets ({targets})",
                coefficients.len()
            ));
        }
        let intercepts = if intercepts.len() == targets {
            intercepts
        } else {
            vec![0.0; targets]
        };
        Ok(Weights {
            coefficients,
            intercepts,
            targets,
        })
    }

    /// Number of score columns.
    pub fn targets(&self) -> usize {
        self.targets
    }

    /// The feature count the coefficients were made for (their length over the targets).
    pub fn features(&self) -> usize {
        self.coefficients.len() / self.targets
    }

    fn check_input(&self, x_len: usize, rows: usize, cols: usize) -> Result<(), LinearError> {
        if rows.checked_mul(cols) != Some(x_len) {
            return err(format!(
                "{x_len} values are not {rows} rows of {cols} columns"
            ));
        }
        if self.targets * cols > self.coefficients.len() {
            return err(format!(
                "the input has {cols} columns; the model has coefficients for {}",
                self.features()
            ));
        }
        Ok(())
    }

    /// Writes the scores of each row of `x` (`cols` columns) into `out`, `stride` floats per row starting
    /// at column `offset`.
    fn scores_into(&self, x: &[f32], cols: usize, out: &mut [f32], stride: usize, offset: usize) {
        if cols == 0 {
            for row_out in out.chunks_exact_mut(stride) {
                row_out[offset..offset + self.targets].copy_from_slice(&self.intercepts);
            }
            return;
        }
        for (row, row_out) in x.chunks_exact(cols).zip(out.chunks_exact_mut(stride)) {
            let row_out = &mut row_out[offset..offset + self.targets];
            for ((o, w), b) in row_out
                .iter_mut()
                .zip(self.coefficients.chunks_exact(cols))
                .zip(&self.intercepts)
            {
                *o = b + dot(row, w);
            }
        }
    }
}

/// A dot product with eight independent partial sums (vectorizes; the order differs from a sequential
/// sum by rounding only).
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut tail = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// The rows and columns of a `[N, C]` or `[C]` input.
pub fn rows_cols(shape: &[usize], op: &str) -> Result<(usize, usize), LinearError> {
    match shape {
        [r, c] => Ok((*r, *c)),
        [c] => Ok((1, *c)),
        _ => err(format!(
            "{op} takes a [N, C] or [C] input, got shape {shape:?}"
        )),
    }
}

/// ai.onnx.ml `LinearClassifier`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearClassifier {
    weights: Weights,
    labels: ClassLabels,
    post_transform: PostTransform,
}

impl LinearClassifier {
    /// Builds a classifier. The number of classes is the number of intercepts (or of labels when there
    /// are no intercepts). With one class the labels, if any, must be exactly two (negative, positive);
    /// with more, there must be a label per class.
    pub fn new(
        coefficients: Vec<f32>,
        intercepts: Vec<f32>,
        labels: ClassLabels,
        post_transform: PostTransform,
    ) -> Result<LinearClassifier, LinearError> {
        let targets = if intercepts.is_empty() {
            labels.len().max(1)
        } else {
            intercepts.len()
        };
        if targets == 1 {
            if !labels.is_empty() && labels.len() != 2 {
                return err(format!(
                    "a binary LinearClassifier (one coefficient row) needs exactly 2 class labels, got {}",
                    labels.len()
                ));
            }
        } else if labels.len() < targets {
            return err(format!(
                "the class labels have {} elements but the intercepts define {targets} classes",
                labels.len()
            ));
        }
        Ok(LinearClassifier {
            weights: Weights::new(coefficients, intercepts, targets)?,
            labels,
            post_transform,
        })
    }

    /// Width of the scores output: 2 for one coefficient row with two labels, else the row count.
    pub fn score_width(&self) -> usize {
        if self.adds_second_class() {
            2
        } else {
            self.weights.targets
        }
    }

    /// The labels.
    pub fn labels(&self) -> &ClassLabels {
        &self.labels
    }

    /// The weights.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    fn adds_second_class(&self) -> bool {
        self.weights.targets == 1 && self.labels.len() == 2
    }

    /// Predicts `x` (`rows` x `cols`, row-major): the labels and the scores (`score_width()` per row).
    pub fn eval(
        &self,
        x: &[f32],
        rows: usize,
        cols: usize,
    ) -> Result<(Labels, Vec<f32>), LinearError> {
        self.weights.check_input(x.len(), rows, cols)?;
        let width = self.score_width();
        let mut scores = vec![0f32; rows * width];
        let targets = self.weights.targets;
        if targets == 1 {
            // The raw score goes in the last column; the label is the sign of the raw score.
            self.weights
                .scores_into(x, cols, &mut scores, width, width - 1);
            let positive: Vec<bool> = scores
                .chunks_exact(width)
                .map(|s| s[width - 1] > 0.0)
                .collect();
            let labels = match &self.labels {
                ClassLabels::Int(l) if l.len() == 2 => {
                    Labels::Int(positive.iter().map(|&p| l[usize::from(p)]).collect())
                }
                ClassLabels::Str(l) if l.len() == 2 => Labels::Str(
                    positive
                        .iter()
                        .map(|&p| l[usize::from(p)].clone())
                        .collect(),
                ),
                ClassLabels::Str(_) => Labels::Str(
                    positive
                        .iter()
                        .map(|&p| if p { "1" } else { "0" }.to_string())
                        .collect(),
                ),
                ClassLabels::Int(_) => {
                    Labels::Int(positive.iter().map(|&p| i64::from(p)).collect())
                }
            };
            for row in scores.chunks_exact_mut(width) {
                let s = row[width - 1];
                if self.post_transform == PostTransform::Probit {
                    // ONNX Runtime leaves half of a two-column output unset here; homeml writes
                    // [1 - p, p], as it does for the other transforms.
                    let p = probit(s);
                    row[width - 1] = p;
                    if width == 2 {
                        row[0] = 1.0 - p;
                    }
                } else if width == 2 {
                    row[0] = 1.0 - s;
                }
            }
            return Ok((labels, scores));
        }
        self.weights.scores_into(x, cols, &mut scores, width, 0);
        let mut winners = Vec::with_capacity(rows);
        for row in scores.chunks_exact_mut(width) {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate().skip(1) {
                if v > row[best] {
                    best = j;
                }
            }
            winners.push(best);
            apply_transform(self.post_transform, row);
        }
        let labels = match &self.labels {
            ClassLabels::Int(l) => Labels::Int(winners.iter().map(|&w| l[w]).collect()),
            ClassLabels::Str(l) => Labels::Str(winners.iter().map(|&w| l[w].clone()).collect()),
        };
        Ok((labels, scores))
    }
}

/// ai.onnx.ml `LinearRegressor`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearRegressor {
    weights: Weights,
    post_transform: PostTransform,
}

impl LinearRegressor {
    /// Builds a regressor of `targets` outputs.
    pub fn new(
        coefficients: Vec<f32>,
        intercepts: Vec<f32>,
        targets: usize,
        post_transform: PostTransform,
    ) -> Result<LinearRegressor, LinearError> {
        Ok(LinearRegressor {
            weights: Weights::new(coefficients, intercepts, targets)?,
            post_transform,
        })
    }

    /// The weights.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// Predicts `x` (`rows` x `cols`, row-major): `targets` values per row.
    pub fn eval(&self, x: &[f32], rows: usize, cols: usize) -> Result<Vec<f32>, LinearError> {
        self.weights.check_input(x.len(), rows, cols)?;
        let t = self.weights.targets;
        let mut out = vec![0f32; rows * t];
        self.weights.scores_into(x, cols, &mut out, t, 0);
        if t > 1 {
            out.chunks_exact_mut(t)
                .for_each(|row| apply_transform(self.post_transform, row));
        } else if self.post_transform == PostTransform::Probit {
            out.iter_mut().for_each(|v| *v = probit(*v));
        }
        Ok(out)
    }
}

/// The norm of ai.onnx.ml `Normalizer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    /// Divide by the row's maximum.
    Max,
    /// Divide by the sum of absolute values.
    L1,
    /// Divide by the Euclidean norm.
    L2,
}

impl Norm {
    /// Parses `MAX`, `L1` or `L2`.
    pub fn parse(s: &str) -> Option<Norm> {
        Some(match s {
            "MAX" => Norm::Max,
            "L1" => Norm::L1,
            "L2" => Norm::L2,
            _ => return None,
        })
    }

    /// Normalizes each row of `x` (`cols` values per row) in place.
    pub fn apply(self, x: &mut [f32], cols: usize) {
        if cols == 0 {
            return;
        }
        for row in x.chunks_exact_mut(cols) {
            match self {
                Norm::Max => {
                    let max = row.iter().copied().fold(f32::MIN, f32::max);
                    if max != 0.0 {
                        row.iter_mut().for_each(|v| *v /= max);
                    }
                }
                Norm::L1 => {
                    let sum: f32 = row.iter().map(|v| v.abs()).sum();
                    if sum != 0.0 {
                        row.iter_mut().for_each(|v| *v /= sum);
                    }
                }
                Norm::L2 => {
                    let sum: f32 = row.iter().map(|v| v * v).sum();
                    if sum != 0.0 {
                        row.iter_mut().for_each(|v| {
                            let r = (*v * *v / sum).sqrt();
                            *v = if *v < 0.0 { -r } else { r };
                        });
                    }
                }
            }
        }
    }
}

/// ai.onnx.ml `Scaler`: `y = (x - offset) * scale`, per column (or one value for all columns).
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    offset: Vec<f32>,
    scale: Vec<f32>,
}

impl Scale {
    /// A scaler. A missing `offset` is zeros, a missing `scale` ones; otherwise both have one value per
    /// column or a single value.
    pub fn new(mut offset: Vec<f32>, mut scale: Vec<f32>) -> Result<Scale, LinearError> {
        if offset.is_empty() && scale.is_empty() {
            return err("Scaler has neither offset nor scale");
        }
        if offset.is_empty() {
            offset = vec![0.0; scale.len()];
        }
        if scale.is_empty() {
            scale = vec![1.0; offset.len()];
        }
        if offset.len() != scale.len() {
            if offset.len() == 1 {
                offset = vec![offset[0]; scale.len()];
            } else if scale.len() == 1 {
                scale = vec![scale[0]; offset.len()];
            } else {
                return err(format!(
                    "Scaler: offset has {} values, scale {}",
                    offset.len(),
                    scale.len()
                ));
            }
        }
        Ok(Scale { offset, scale })
    }

    /// Number of coefficients (1 applies to every column).
    pub fn width(&self) -> usize {
        self.offset.len()
    }

    fn check(&self, cols: usize) -> Result<(), LinearError> {
        let w = self.width();
        if w != 1 && w != cols {
            return err(format!(
                "Scaler has {w} coefficients for an input of {cols} columns"
            ));
        }
        Ok(())
    }

    /// Scales rows of `cols` f32 values into `out`.
    pub fn apply_f32(&self, x: &[f32], cols: usize, out: &mut [f32]) -> Result<(), LinearError> {
        self.check(cols)?;
        if self.width() == 1 {
            let (o, s) = (self.offset[0], self.scale[0]);
            x.iter()
                .zip(out.iter_mut())
                .for_each(|(x, y)| *y = (x - o) * s);
            return Ok(());
        }
        if cols == 0 {
            return Ok(());
        }
        for (row, row_out) in x.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
            for (((y, x), o), s) in row_out
                .iter_mut()
                .zip(row)
                .zip(&self.offset)
                .zip(&self.scale)
            {
                *y = (x - o) * s;
            }
        }
        Ok(())
    }

    /// Scales rows of `cols` values of any type convertible to f64, computing in f64 and rounding the
    /// result to f32 (as ONNX Runtime does for double input).
    pub fn apply_f64<T: Copy + Into<f64>>(
        &self,
        x: &[T],
        cols: usize,
        out: &mut [f32],
    ) -> Result<(), LinearError> {
        self.check(cols)?;
        let w = self.width();
        for (i, (x, y)) in x.iter().zip(out.iter_mut()).enumerate() {
            let c = if w == 1 { 0 } else { i % w };
            *y = (((*x).into() - f64::from(self.offset[c])) * f64::from(self.scale[c])) as f32;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Inputs and expected values below were produced by onnxruntime 1.32.0 (CPU) on single-node models.
    const X: [f32; 6] = [1.0, -2.0, 0.5, 0.25, -3.0, 1.0];

    fn close(got: &[f32], want: &[f32]) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= 1e-6 + 1e-6 * w.abs(),
                "{got:?} vs {want:?}"
            );
        }
    }

    fn binary(labels: ClassLabels, t: PostTransform) -> LinearClassifier {
        LinearClassifier::new(vec![0.5, 0.25], vec![0.1], labels, t).unwrap()
    }

    fn multi(t: PostTransform) -> LinearClassifier {
        LinearClassifier::new(
            vec![0.5, 0.25, -0.5, 1.0, 0.2, 0.3],
            vec![0.1, -0.2, 0.0],
            ClassLabels::Str(vec!["a".into(), "b".into(), "c".into()]),
            t,
        )
        .unwrap()
    }

    const ALL: [PostTransform; 5] = [
        PostTransform::None,
        PostTransform::Logistic,
        PostTransform::Softmax,
        PostTransform::SoftmaxZero,
        PostTransform::Probit,
    ];

    #[test]
    fn binary_one_row_two_int_labels_is_one_minus_raw_score_for_every_transform_but_probit() {
        for t in ALL {
            let (labels, scores) = binary(ClassLabels::Int(vec![3, 7]), t)
                .eval(&X, 3, 2)
                .unwrap();
            assert_eq!(labels, Labels::Int(vec![7, 7, 3]), "{t:?}");
            if t == PostTransform::Probit {
                // ONNX Runtime's probit of the raw scores (it leaves the other column unset).
                let p = [-1.281_712_9, -0.221_121_88, f32::NAN];
                assert!((scores[1] - p[0]).abs() < 1e-5 && (scores[3] - p[1]).abs() < 1e-5);
                assert!(scores[5].is_nan());
                assert!((scores[0] - (1.0 - p[0])).abs() < 1e-6);
            } else {
                close(&scores, &[0.9, 0.1, 0.5875, 0.4125, 2.15, -1.15]);
            }
        }
    }

    #[test]
    fn binary_one_row_string_labels_and_no_labels() {
        let (labels, scores) = binary(
            ClassLabels::Str(vec!["no".into(), "yes".into()]),
            PostTransform::Logistic,
        )
        .eval(&X, 3, 2)
        .unwrap();
        assert_eq!(
            labels,
            Labels::Str(vec!["yes".into(), "yes".into(), "no".into()])
        );
        close(&scores, &[0.9, 0.1, 0.5875, 0.4125, 2.15, -1.15]);
        for t in ALL {
            let c = binary(ClassLabels::Int(vec![]), t);
            assert_eq!(c.score_width(), 1);
            let (labels, scores) = c.eval(&X, 3, 2).unwrap();
            assert_eq!(labels, Labels::Int(vec![1, 1, 0]));
            if t == PostTransform::Probit {
                close(&scores[..2], &[-1.281_712_9, -0.221_121_88]);
                assert!(scores[2].is_nan());
            } else {
                close(&scores, &[0.1, 0.4125, -1.15]);
            }
        }
    }

    #[test]
    fn binary_two_rows_like_sklearn_exports() {
        let c = |t| {
            LinearClassifier::new(
                vec![-0.5, -0.25, 0.5, 0.25],
                vec![-0.1, 0.1],
                ClassLabels::Int(vec![0, 1]),
                t,
            )
            .unwrap()
        };
        let want = [
            (
                PostTransform::None,
                [-0.1, 0.1, -0.4125, 0.4125, 1.15, -1.15],
            ),
            (
                PostTransform::Logistic,
                [
                    0.475_020_83,
                    0.524_979_2,
                    0.398_312_87,
                    0.601_687_1,
                    0.759_510_9,
                    0.240_489_1,
                ],
            ),
            (
                PostTransform::Softmax,
                [
                    0.450_166,
                    0.549_833_95,
                    0.304_703_33,
                    0.695_296_6,
                    0.908_877_1,
                    0.091_122_97,
                ],
            ),
            (
                PostTransform::SoftmaxZero,
                [
                    0.450_166,
                    0.549_833_95,
                    0.304_703_33,
                    0.695_296_6,
                    0.908_877_1,
                    0.091_122_97,
                ],
            ),
        ];
        for (t, w) in want {
            let (labels, scores) = c(t).eval(&X, 3, 2).unwrap();
            assert_eq!(labels, Labels::Int(vec![1, 1, 0]), "{t:?}");
            close(&scores, &w);
        }
        let (_, p) = c(PostTransform::Probit).eval(&X, 3, 2).unwrap();
        assert!(p[0].is_nan() && (p[1] + 1.281_712_9).abs() < 1e-5);
    }

    #[test]
    fn multiclass_string_labels_every_transform() {
        let want = [
            (
                PostTransform::None,
                vec![0.1, -2.7, -0.4, 0.4125, -0.2, 0.175, -1.15, 2.3, -0.3],
            ),
            (
                PostTransform::Logistic,
                vec![
                    0.524_979_2,
                    0.062_973_35,
                    0.401_312_35,
                    0.601_687_2,
                    0.450_166,
                    0.543_638_7,
                    0.240_489_1,
                    0.908_877,
                    0.425_557_5,
                ],
            ),
            (
                PostTransform::Softmax,
                vec![
                    0.599_757_4,
                    0.036_471_29,
                    0.363_771_23,
                    0.429_075_7,
                    0.232_556_54,
                    0.338_367_8,
                    0.028_702_613,
                    0.904_143_4,
                    0.067_153_975,
                ],
            ),
            (
                PostTransform::SoftmaxZero,
                vec![
                    0.599_757_4,
                    0.036_471_29,
                    0.363_771_23,
                    0.429_075_7,
                    0.232_556_54,
                    0.338_367_8,
                    0.028_702_613,
                    0.904_143_4,
                    0.067_153_975,
                ],
            ),
        ];
        for (t, w) in want {
            let (labels, scores) = multi(t).eval(&X, 3, 2).unwrap();
            assert_eq!(
                labels,
                Labels::Str(vec!["a".into(), "a".into(), "b".into()]),
                "{t:?}"
            );
            close(&scores, &w);
        }
        let (_, p) = multi(PostTransform::Probit).eval(&X, 3, 2).unwrap();
        assert!((p[0] + 1.281_712_9).abs() < 1e-5 && p[1].is_nan());
        assert!((p[5] + 0.934_748_9).abs() < 1e-5);
    }

    #[test]
    fn multiclass_int_labels_and_ties_pick_the_first() {
        let c = LinearClassifier::new(
            vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0],
            vec![0.0, 0.0, 0.0],
            ClassLabels::Int(vec![10, 20, 30]),
            PostTransform::None,
        )
        .unwrap();
        let (labels, _) = c.eval(&[1.0, 0.5, 0.0, 2.0], 2, 2).unwrap();
        assert_eq!(labels, Labels::Int(vec![10, 30]));
        // A [C] input is one row.
        assert_eq!(rows_cols(&[2], "x").unwrap(), (1, 2));
        assert!(rows_cols(&[1, 1, 2], "x").is_err());
    }

    #[test]
    fn classifier_rejects_what_onnxruntime_rejects() {
        let int = |v: Vec<i64>| ClassLabels::Int(v);
        // Coefficients not a multiple of the classes.
        assert!(LinearClassifier::new(
            vec![1.0; 5],
            vec![0.0; 3],
            int(vec![1, 2, 3]),
            PostTransform::None
        )
        .is_err());
        // Too few labels for the classes; a binary model with 1 or 3 labels.
        assert!(LinearClassifier::new(
            vec![1.0; 4],
            vec![0.0; 2],
            int(vec![1]),
            PostTransform::None
        )
        .is_err());
        assert!(
            LinearClassifier::new(vec![1.0; 2], vec![0.0], int(vec![1]), PostTransform::None)
                .is_err()
        );
        assert!(LinearClassifier::new(
            vec![1.0; 2],
            vec![0.0],
            int(vec![1, 2, 3]),
            PostTransform::None
        )
        .is_err());
        // More input columns than coefficients per class is an error at run time; fewer uses a prefix.
        let c = LinearClassifier::new(
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            vec![0.0, 0.0],
            int(vec![0, 1]),
            PostTransform::None,
        )
        .unwrap();
        assert!(c.eval(&[1.0; 4], 1, 4).is_err());
        let (_, s) = c.eval(&[1.0, 1.0], 1, 2).unwrap();
        close(&s, &[3.0, 7.0]);
    }

    #[test]
    fn regressor_one_and_two_targets() {
        for t in ALL {
            let r = LinearRegressor::new(vec![0.5, 0.25], vec![0.1], 1, t).unwrap();
            let out = r.eval(&X, 3, 2).unwrap();
            if t == PostTransform::Probit {
                close(&out[..2], &[-1.281_712_9, -0.221_121_88]);
                assert!(out[2].is_nan());
            } else {
                // One target: ONNX Runtime ignores the other transforms.
                close(&out, &[0.1, 0.4125, -1.15]);
            }
        }
        let r2 =
            |t| LinearRegressor::new(vec![0.5, 0.25, -0.5, 1.0], vec![0.1, 0.2], 2, t).unwrap();
        close(
            &r2(PostTransform::None).eval(&X, 3, 2).unwrap(),
            &[0.1, -2.3, 0.4125, 0.2, -1.15, 2.7],
        );
        close(
            &r2(PostTransform::Logistic).eval(&X, 3, 2).unwrap(),
            &[
                0.524_979_2,
                0.091_122_955,
                0.601_687_2,
                0.549_834,
                0.240_489_1,
                0.937_026_6,
            ],
        );
        close(
            &r2(PostTransform::Softmax).eval(&X, 3, 2).unwrap(),
            &[
                0.916_827_3,
                0.083_172_71,
                0.552_925_9,
                0.447_074,
                0.020_836_348,
                0.979_163_7,
            ],
        );
        // Intercepts that are not one per target are ignored.
        let r = LinearRegressor::new(
            vec![0.5, 0.25, -0.5, 1.0],
            vec![0.1],
            2,
            PostTransform::None,
        )
        .unwrap();
        close(
            &r.eval(&X, 3, 2).unwrap(),
            &[0.0, -2.5, 0.3125, 0.0, -1.25, 2.5],
        );
        assert!(LinearRegressor::new(vec![1.0; 3], vec![], 2, PostTransform::None).is_err());
        assert!(LinearRegressor::new(vec![1.0; 2], vec![], 0, PostTransform::None).is_err());
    }

    #[test]
    fn dot_matches_a_sequential_sum() {
        let a: Vec<f32> = (0..30).map(|i| i as f32 * 0.37 - 3.0).collect();
        let b: Vec<f32> = (0..30).map(|i| (i as f32).sin()).collect();
        let seq: f64 = a
            .iter()
            .zip(&b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum();
        assert!((f64::from(dot(&a, &b)) - seq).abs() < 1e-4);
    }

    #[test]
    fn normalizer_max_l1_l2() {
        let x = [1.0, -2.0, 0.5, 0.0, 0.0, 0.0, -3.0, -1.0, -0.5];
        let run = |n: Norm| {
            let mut v = x;
            n.apply(&mut v, 3);
            v
        };
        close(
            &run(Norm::Max),
            &[1.0, -2.0, 0.5, 0.0, 0.0, 0.0, 6.0, 2.0, 1.0],
        );
        close(
            &run(Norm::L1),
            &[
                0.285_714_3,
                -0.571_428_6,
                0.142_857_15,
                0.0,
                0.0,
                0.0,
                -0.666_666_7,
                -0.222_222_22,
                -0.111_111_11,
            ],
        );
        close(
            &run(Norm::L2),
            &[
                0.436_435_8,
                -0.872_871_6,
                0.218_217_9,
                0.0,
                0.0,
                0.0,
                -0.937_042_6,
                -0.312_347_53,
                -0.156_173_77,
            ],
        );
        assert_eq!(Norm::parse("L2"), Some(Norm::L2));
        assert_eq!(Norm::parse("l2"), None);
    }

    #[test]
    fn scaler_per_column_single_value_and_f64() {
        let s = Scale::new(vec![1.0, 2.0], vec![0.5, 2.0]).unwrap();
        let mut out = [0f32; 4];
        s.apply_f32(&[3.0, 3.0, 1.0, 0.0], 2, &mut out).unwrap();
        close(&out, &[1.0, 2.0, 0.0, -4.0]);
        s.apply_f64(&[3.0f64, 3.0, 1.0, 0.0], 2, &mut out).unwrap();
        close(&out, &[1.0, 2.0, 0.0, -4.0]);
        s.apply_f64(&[3i32, 3, 1, 0], 2, &mut out).unwrap();
        close(&out, &[1.0, 2.0, 0.0, -4.0]);
        assert!(s.apply_f32(&[1.0; 3], 3, &mut [0.0; 3]).is_err());
        let one = Scale::new(vec![1.0], vec![]).unwrap();
        let mut out = [0f32; 3];
        one.apply_f32(&[1.0, 2.0, 3.0], 3, &mut out).unwrap();
        close(&out, &[0.0, 1.0, 2.0]);
        let broadcast = Scale::new(vec![1.0], vec![2.0, 3.0]).unwrap();
        assert_eq!(broadcast.width(), 2);
        assert!(Scale::new(vec![], vec![]).is_err());
        assert!(Scale::new(vec![1.0, 2.0], vec![1.0, 2.0, 3.0]).is_err());
    }
}
