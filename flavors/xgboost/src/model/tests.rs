//! Unit tests of the model document reader.

use serde_json::json;

use super::*;

/// A binary:logistic model on 2 features: tree 0 splits feature 0 at 0.5 (missing right), tree 1 is a
/// categorical split on feature 1 (categories 1 and 3 go right, missing left).
pub(crate) fn binary() -> Value {
    json!({
        "version": [3, 2, 0],
        "learner": {
            "attributes": {},
            "feature_names": ["a", "b"],
            "feature_types": ["float", "c"],
            "learner_model_param": {"base_score": "[2.5E-1]", "boost_from_average": "1", "num_class": "0", "num_feature": "2", "num_target": "1"},
            "objective": {"name": "binary:logistic", "reg_loss_param": {"scale_pos_weight": "1"}},
            "gradient_booster": {"name": "gbtree", "model": {
                "gbtree_model_param": {"num_parallel_tree": "1", "num_trees": "2"},
                "iteration_indptr": [0, 1, 2],
                "tree_info": [0, 0],
                "trees": [
                    {"left_children": [1, -1, -1], "right_children": [2, -1, -1], "split_indices": [0, 0, 0],
                     "split_conditions": [0.5, -0.25, 0.75], "default_left": [0, 0, 0], "split_type": [0, 0, 0],
                     "categories": [], "categories_nodes": [], "categories_segments": [], "categories_sizes": [],
                     "tree_param": {"num_nodes": "3", "size_leaf_vector": "1"}},
                    {"left_children": [1, -1, -1], "right_children": [2, -1, -1], "split_indices": [1, 0, 0],
                     "split_conditions": [0.0, 0.125, -0.125], "default_left": [1, 0, 0], "split_type": [1, 0, 0],
                     "categories": [1, 3], "categories_nodes": [0], "categories_segments": [0], "categories_sizes": [2],
                     "tree_param": {"num_nodes": "3", "size_leaf_vector": "1"}}
                ]
            }}
        }
    })
}

fn margin(m: &BoosterModel, row: &[f64], n_trees: usize) -> f64 {
    let mut out = vec![f64::from(m.base_margin[0])];
    m.forest.predict_raw(row, 1, n_trees, &mut out);
    out[0]
}

#[test]
fn reads_and_walks_a_binary_model() {
    let m = BoosterModel::from_value(&binary()).unwrap();
    assert_eq!(m.iterations(), 2);
    assert_eq!(m.objective, Objective::Logistic);
    let base = f64::from(-(1.0f32 / 0.25 - 1.0).ln());
    assert_eq!(f64::from(m.base_margin[0]), base);
    let nan = f64::NAN;
    let cases = [
        ([0.25, 1.0], -0.25 - 0.125),
        ([0.5, 2.0], 0.75 + 0.125), // 0.5 < 0.5 is false: right
        ([nan, 3.0], 0.75 - 0.125),
        ([0.0, nan], -0.25 + 0.125),
        ([0.0, -1.0], -0.25 + 0.125),
        ([0.0, 3.5], -0.25 - 0.125),
    ];
    for (row, want) in cases {
        let got = margin(&m, &row, 2) - base;
        assert!((got - want).abs() < 1e-7, "{row:?}: {got} vs {want}");
    }
    assert!((margin(&m, &[0.0, 0.0], 1) - base - -0.25).abs() < 1e-7);
}

#[test]
fn base_scores_of_each_version() {
    assert_eq!(parse_base_score(&json!("5E-1")).unwrap(), vec![0.5]);
    assert_eq!(
        parse_base_score(&json!("[0E0,1E0]")).unwrap(),
        vec![0.0, 1.0]
    );
    assert_eq!(Objective::Exp.margin(1.0), 0.0);
    let mut p = [0.0f32, 0.0];
    Objective::SoftProb.apply(&mut p);
    assert_eq!(p, [0.5, 0.5]);
}

#[test]
fn refuses_what_it_cannot_predict() {
    let set = |path: &[&str], v: Value| {
        let mut doc = binary();
        let mut cur = &mut doc;
        for k in &path[..path.len() - 1] {
            cur = &mut cur[*k];
        }
        cur[path[path.len() - 1]] = v;
        doc
    };
    let cases = [
        (
            set(&["version"], json!([4, 0, 0])),
            "format version [4, 0, 0] is not one homeml reads",
        ),
        (
            set(&["learner", "objective", "name"], json!("reg:wobble")),
            "unknown objective \"reg:wobble\"",
        ),
        (
            set(&["learner", "gradient_booster", "name"], json!("gblinear")),
            "booster \"gblinear\"",
        ),
        (
            set(
                &["learner", "learner_model_param", "num_target"],
                json!("2"),
            ),
            "multi-target",
        ),
        (
            set(
                &["learner", "learner_model_param", "num_feature"],
                json!("1"),
            ),
            "feature 1",
        ),
        (
            set(
                &["learner", "gradient_booster", "model", "tree_info"],
                json!([0]),
            ),
            "tree_info",
        ),
        (set(&["learner"], json!({})), "no learner_model_param"),
    ];
    for (doc, want) in cases {
        let err = BoosterModel::from_value(&doc).unwrap_err();
        assert!(err.contains(want), "{want}: {err}");
    }
}
