//! The flattened forest (`LinfaRandomForest::compile`, used by the flavor) votes exactly as the
//! per-tree reference: each tree predicting on a copy of its feature subset, votes counted per row,
//! ties to the smallest label.

use std::collections::BTreeMap;

use homeml_flavor::{Model, Tensor, TensorData};
use homeml_linfa::linfa::prelude::*;
use homeml_linfa::linfa::Dataset;
use homeml_linfa::linfa_ensemble::EnsembleLearnerParams;
use homeml_linfa::linfa_trees::DecisionTree;
use homeml_linfa::ndarray::{Array1, Array2, Axis};
use homeml_linfa::rand::{rngs::StdRng, Rng, SeedableRng};
use homeml_linfa::{LinfaModel, LinfaPredictor, LinfaRandomForest};

/// The forest vote as homeml computed it before `compile`: `select` the tree's features, linfa's
/// tree `predict`, a `BTreeMap` of votes per row, the smallest label among the most voted.
fn reference_predict(f: &LinfaRandomForest, x: &Array2<f64>) -> Array1<usize> {
    let mut votes: Vec<BTreeMap<usize, usize>> = vec![BTreeMap::new(); x.nrows()];
    for (tree, feats) in f.trees.iter().zip(&f.tree_features) {
        let sub = x.select(Axis(1), feats);
        let pred: Array1<usize> = tree.predict(&sub);
        for (v, p) in votes.iter_mut().zip(pred.iter()) {
            *v.entry(*p).or_insert(0) += 1;
        }
    }
    votes
        .iter()
        .map(|v| {
            v.iter()
                .rev()
                .max_by_key(|(_, n)| **n)
                .map(|(l, _)| *l)
                .unwrap()
        })
        .collect()
}

/// `rows` rows of `cols` features in [-3, 3), with labels in 0..classes from a noisy rule over
/// several features, so that trees grow deep and split on many features.
fn synthetic(rows: usize, cols: usize, classes: usize, seed: u64) -> (Array2<f64>, Array1<usize>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((rows, cols), |_| rng.gen_range(-3.0..3.0));
    let y = x
        .rows()
        .into_iter()
        .map(|r| {
            let s: f64 =
                r[0] + 0.5 * r[1 % cols] - r[2 % cols] * r[3 % cols] + rng.gen_range(-0.5..0.5);
            ((s + 6.0).max(0.0) as usize * classes / 12).min(classes - 1)
        })
        .collect();
    (x, y)
}

fn forest(
    x: &Array2<f64>,
    y: &Array1<usize>,
    trees: usize,
    features: f64,
    seed: u64,
) -> LinfaRandomForest {
    let ds = Dataset::new(x.clone(), y.clone());
    let f = EnsembleLearnerParams::new_fixed_rng(
        DecisionTree::params().max_depth(Some(8)),
        StdRng::seed_from_u64(seed),
    )
    .ensemble_size(trees)
    .bootstrap_proportion(0.7)
    .feature_proportion(features)
    .fit(&ds)
    .unwrap();
    LinfaRandomForest::from(f)
}

#[test]
fn compiled_forest_votes_like_the_per_tree_reference() {
    for (cols, classes, trees, features, seed) in [
        (4, 3, 100, 0.75, 7),
        (10, 5, 60, 0.5, 11),
        (7, 2, 25, 1.0, 3),
        (12, 9, 40, 0.3, 5),
    ] {
        let (x, y) = synthetic(600, cols, classes, seed);
        let f = forest(&x, &y, trees, features, seed);
        // Rows the forest was fitted on, fresh rows, rows on the split thresholds' side edges, and
        // NaN / infinite values (NaN goes right at every split, as in linfa).
        let (mut fresh, _) = synthetic(4000, cols, classes, seed + 100);
        for (i, v) in fresh.iter_mut().enumerate() {
            match i % 97 {
                0 => *v = f64::NAN,
                1 => *v = f64::INFINITY,
                2 => *v = f64::NEG_INFINITY,
                3 => *v = 0.0,
                _ => {}
            }
        }
        let compiled = f.compile().unwrap();
        for data in [&x, &fresh] {
            let want = reference_predict(&f, data);
            let distinct: std::collections::BTreeSet<usize> = want.iter().copied().collect();
            assert!(distinct.len() >= 2, "the forest votes for one label only");
            assert_eq!(
                compiled.predict(data).unwrap(),
                want,
                "{cols} features, {classes} classes"
            );
            assert_eq!(f.predict(data).unwrap(), want);
            // Row by row (batch 1) too.
            for r in (0..data.nrows()).step_by(37) {
                let row = data.select(Axis(0), &[r]);
                assert_eq!(compiled.predict(&row).unwrap()[0], want[r]);
            }
        }
        // A column-major (non-standard layout) input gives the same votes.
        let t = fresh.t().to_owned();
        let col_major = t.t();
        assert_eq!(
            compiled.predict(&col_major.to_owned()).unwrap(),
            reference_predict(&f, &fresh)
        );
        assert_eq!(
            compiled.predict(&Array2::zeros((0, cols))).unwrap().len(),
            0
        );
    }
}

#[test]
fn the_flavor_predicts_with_the_compiled_forest() {
    let (x, y) = synthetic(500, 6, 4, 21);
    let f = forest(&x, &y, 30, 0.75, 21);
    let want = reference_predict(&f, &x);
    let p = LinfaPredictor::new(LinfaModel::RandomForest(f), 6).unwrap();
    let input = Tensor::f64_matrix(x.nrows(), 6, x.iter().copied().collect()).unwrap();
    let out = p.predict(vec![input]).unwrap();
    let labels: Vec<i64> = want.iter().map(|&l| l as i64).collect();
    assert_eq!(out[0].data(), &TensorData::I64(labels));
}

#[test]
fn broken_forests_are_errors() {
    let (x, y) = synthetic(200, 5, 3, 1);
    let f = forest(&x, &y, 5, 0.8, 1);
    // Fewer columns than a tree's features: the first such feature in tree order is named.
    let narrow = x.select(Axis(1), &[0, 1]);
    let want_bad = f
        .tree_features
        .iter()
        .flatten()
        .find(|&&c| c >= 2)
        .copied()
        .unwrap();
    assert_eq!(
        f.compile().unwrap().predict(&narrow).unwrap_err(),
        format!("a tree uses feature {want_bad} of 2")
    );
    // Trees and feature lists that do not pair up.
    let mut odd = f.clone();
    odd.tree_features.pop();
    assert!(odd.compile().unwrap_err().contains("feature lists"));
    assert!(odd.predict(&x).is_err());
    // A tree whose feature list is shorter than the features it splits on.
    let mut short = f.clone();
    for feats in &mut short.tree_features {
        feats.truncate(0);
    }
    assert!(short.compile().unwrap_err().contains("splits on feature"));
    let p = LinfaPredictor::new(LinfaModel::RandomForest(short), 5);
    assert!(p.is_err());
}
