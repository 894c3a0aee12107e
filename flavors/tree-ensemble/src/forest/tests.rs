//! Unit tests of the forest: layout checks and each split rule.

use super::*;

fn num(feature: u32, threshold: f64, missing: Missing, default_left: bool) -> Decision {
    Decision::Numeric {
        feature,
        threshold,
        strict: false,
        missing,
        default_left,
        left: 1,
        right: 2,
    }
}

fn stump(root: Decision) -> Vec<Decision> {
    vec![root, Decision::Leaf(-1.0), Decision::Leaf(1.0)]
}

fn predict(forest: &Forest, x: &[f64]) -> Vec<f64> {
    let rows = x.len() / forest.n_features();
    let mut out = vec![0.0; rows * forest.n_groups()];
    forest.predict_raw(x, rows, forest.n_trees(), &mut out);
    out
}

#[test]
fn numeric_missing_types_follow_lightgbm() {
    let nan = f64::NAN;
    let cases = [
        // (missing, default_left, threshold, x, expected)
        (Missing::AsZero, true, 0.5, nan, -1.0), // NaN -> 0 <= 0.5
        (Missing::AsZero, true, -0.5, nan, 1.0), // NaN -> 0 > -0.5
        (Missing::ZeroDefault, false, 0.5, nan, 1.0), // NaN -> 0 -> default right
        (Missing::ZeroDefault, false, 0.5, 1e-36, 1.0),
        (Missing::ZeroDefault, false, 0.5, 0.25, -1.0),
        (Missing::NanDefault, false, 0.5, nan, 1.0),
        (Missing::NanDefault, true, -0.5, nan, -1.0),
        (Missing::NanDefault, true, 0.5, 0.5, -1.0), // <= goes left
        (Missing::NanDefault, true, 0.5, f64::INFINITY, 1.0),
    ];
    for (missing, default_left, threshold, x, want) in cases {
        let f = Forest::new(
            &[stump(num(0, threshold, missing, default_left))],
            &[0],
            1,
            1,
        )
        .unwrap();
        assert_eq!(
            predict(&f, &[x]),
            vec![want],
            "{missing:?} {default_left} {threshold} {x}"
        );
    }
}

#[test]
fn strict_splits_send_equal_values_right() {
    let mut d = num(0, 0.5, Missing::NanDefault, true);
    if let Decision::Numeric { strict, .. } = &mut d {
        *strict = true;
    }
    let f = Forest::new(&[stump(d)], &[0], 1, 1).unwrap();
    assert_eq!(predict(&f, &[0.5, 0.25, f64::NAN]), vec![1.0, -1.0, -1.0]);
}

#[test]
fn categorical_rules() {
    // categories 1 and 33 listed
    let cat = |rule, default_left| Decision::Categorical {
        feature: 0,
        bitset: vec![0b10, 0b10],
        rule,
        default_left,
        left: 1,
        right: 2,
    };
    let xs = [1.0, 1.9, 33.0, 2.0, -0.5, -1.0, f64::NAN, 1e12, 64.0];
    let lgb = Forest::new(&[stump(cat(CategoryRule::LightGbm, true))], &[0], 1, 1).unwrap();
    // listed -> left; -0.5 truncates to 0 (not listed); NaN and negatives right.
    assert_eq!(
        predict(&lgb, &xs),
        vec![-1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    );
    let xgb = Forest::new(&[stump(cat(CategoryRule::XgBoost, false))], &[0], 1, 1).unwrap();
    // listed -> right; negative, huge and unlisted -> left; NaN -> default (right here).
    assert_eq!(
        predict(&xgb, &xs),
        vec![1.0, 1.0, 1.0, -1.0, -1.0, -1.0, 1.0, -1.0, -1.0]
    );
}

#[test]
fn groups_accumulate_per_output_over_blocks() {
    let trees = vec![
        stump(num(0, 0.0, Missing::AsZero, false)),
        stump(num(1, 0.0, Missing::AsZero, false)),
        vec![Decision::Leaf(10.0)],
    ];
    let f = Forest::new(&trees, &[0, 1, 0], 2, 2).unwrap();
    let rows = BLOCK_ROWS * 2 + 3;
    let x: Vec<f64> = (0..rows)
        .flat_map(|r| [r as f64 - 10.0, 10.0 - r as f64])
        .collect();
    let out = predict(&f, &x);
    for r in 0..rows {
        let a = if r as f64 - 10.0 <= 0.0 { -1.0 } else { 1.0 };
        let b = if 10.0 - r as f64 <= 0.0 { -1.0 } else { 1.0 };
        assert_eq!(&out[r * 2..r * 2 + 2], &[a + 10.0, b], "row {r}");
    }
    // only the first tree
    let mut one = vec![0.0; 2];
    f.predict_raw(&[5.0, 5.0], 1, 1, &mut one);
    assert_eq!(one, vec![1.0, 0.0]);
}

#[test]
fn layout_is_breadth_first_with_adjacent_children() {
    // A tree whose file order puts the right subtree first.
    let tree = vec![
        Decision::Numeric {
            feature: 0,
            threshold: 0.0,
            strict: false,
            missing: Missing::AsZero,
            default_left: false,
            left: 4,
            right: 1,
        },
        Decision::Numeric {
            feature: 0,
            threshold: 5.0,
            strict: false,
            missing: Missing::AsZero,
            default_left: false,
            left: 2,
            right: 3,
        },
        Decision::Leaf(2.0),
        Decision::Leaf(3.0),
        Decision::Leaf(1.0),
        Decision::Leaf(99.0), // unreachable: dropped
    ];
    let f = Forest::new(&[tree], &[0], 1, 1).unwrap();
    assert_eq!(f.n_nodes(), 5);
    assert_eq!(predict(&f, &[-1.0, 3.0, 7.0]), vec![1.0, 2.0, 3.0]);
}

#[test]
fn refuses_what_is_not_a_tree() {
    let cycle = vec![
        Decision::Numeric {
            feature: 0,
            threshold: 0.0,
            strict: false,
            missing: Missing::AsZero,
            default_left: false,
            left: 1,
            right: 0,
        },
        Decision::Leaf(1.0),
    ];
    let shared = vec![
        Decision::Numeric {
            feature: 0,
            threshold: 0.0,
            strict: false,
            missing: Missing::AsZero,
            default_left: false,
            left: 1,
            right: 1,
        },
        Decision::Leaf(1.0),
    ];
    let out_of_range = stump(Decision::Numeric {
        feature: 0,
        threshold: 0.0,
        strict: false,
        missing: Missing::AsZero,
        default_left: false,
        left: 1,
        right: 7,
    });
    let bad_feature = stump(num(3, 0.0, Missing::AsZero, false));
    for (tree, what) in [
        (cycle, "reached twice"),
        (shared, "reached twice"),
        (out_of_range, "child 7"),
        (bad_feature, "feature 3"),
    ] {
        let err = Forest::new(&[vec![Decision::Leaf(0.0)], tree], &[0, 0], 1, 2).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("tree 1: ") && msg.contains(what), "{msg}");
    }
    assert!(Forest::new(&[vec![]], &[0], 1, 1).is_err());
    assert!(Forest::new(&[vec![Decision::Leaf(0.0)]], &[1], 1, 1).is_err());
    assert!(Forest::new(&[vec![Decision::Leaf(0.0)]], &[0, 0], 1, 1).is_err());
    assert!(Forest::new(&[vec![Decision::Leaf(0.0)]], &[0], 1, 0).is_err());
}
