//! Unit tests of the text model parser.

use super::*;

/// Two iterations of a binary model on 3 features: tree 0 splits feature 0 (numeric, NaN missing type,
/// default left) then feature 2 (zero missing type); tree 1 is categorical on feature 1 (categories 1, 3).
pub(crate) const BINARY: &str = "tree
version=v4
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=2
objective=binary sigmoid:1
feature_names=a b c
feature_infos=[0:1] 0:1:3 [0:1]
tree_sizes=1 1

Tree=0
num_leaves=3
num_cat=0
split_feature=0 2
split_gain=1 1
threshold=0.5 1.5
decision_type=10 4
left_child=1 -1
right_child=-2 -3
leaf_value=0.1 0.2 0.30000000000000004
leaf_weight=1 1 1
leaf_count=1 1 1
internal_value=0 0
internal_weight=1 1
internal_count=1 1
is_linear=0
shrinkage=1


Tree=1
num_leaves=2
num_cat=1
split_feature=1
split_gain=1
threshold=0
decision_type=1
left_child=-1
right_child=-2
leaf_value=1 -1
leaf_weight=1 1
leaf_count=1 1
internal_value=0
internal_weight=1
internal_count=1
cat_boundaries=0 1
cat_threshold=10
is_linear=0
shrinkage=0.1


end of trees

feature_importances:
a=1

parameters:
[boosting: gbdt]
end of parameters

pandas_categorical:null
";

fn raw(m: &TextModel, row: &[f64]) -> f64 {
    let mut out = vec![0.0];
    m.forest.predict_raw(row, 1, m.forest.n_trees(), &mut out);
    out[0]
}

#[test]
fn parses_and_walks_numeric_and_categorical_splits() {
    let m = TextModel::parse(BINARY).unwrap();
    assert_eq!(m.iterations(), 2);
    assert_eq!(m.objective, Objective::Sigmoid(1.0));
    assert_eq!(m.feature_names, ["a", "b", "c"]);
    assert!(!m.pandas_categorical && !m.average_output);
    let nan = f64::NAN;
    // tree 0: x0 <= 0.5 -> node 1 (x2 <= 1.5 -> 0.1 else 0.3); else 0.2. NaN x0 -> default left.
    // node 1 has the zero missing type, default right: NaN and 0 in x2 go right (0.3).
    // tree 1: x1 in {1, 3} -> 1 else -1.
    let cases = [
        ([0.0, 1.0, 1.0], 0.1 + 1.0),
        ([0.9, 3.0, 1.0], 0.2 + 1.0),
        ([0.0, 2.0, 2.0], 0.30000000000000004 - 1.0),
        ([nan, 3.5, 1.0], 0.1 + 1.0),
        ([0.0, nan, nan], 0.30000000000000004 - 1.0),
        ([0.0, -1.0, 0.0], 0.30000000000000004 - 1.0),
    ];
    for (row, want) in cases {
        assert_eq!(raw(&m, &row), want, "{row:?}");
    }
}

#[test]
fn objectives_transform_like_lightgbm() {
    let t = |o: &str, x: &[f64]| {
        let (_, obj) = Objective::parse(o).unwrap();
        let mut v = x.to_vec();
        obj.apply(&mut v);
        v
    };
    assert_eq!(t("regression", &[-2.0]), [-2.0]);
    assert_eq!(t("regression sqrt", &[-2.0]), [-4.0]);
    assert_eq!(t("poisson", &[0.0]), [1.0]);
    assert_eq!(
        t("binary sigmoid:2", &[0.5]),
        [1.0 / (1.0 + (-1.0f64).exp())]
    );
    assert_eq!(t("cross_entropy_lambda", &[0.0]), [2f64.ln()]);
    let p = t("multiclass num_class:3", &[1.0, 1.0, 1.0]);
    assert!(p.iter().all(|v| (v - 1.0 / 3.0).abs() < 1e-15), "{p:?}");
    let err = Objective::parse("foo_bar").unwrap_err();
    assert!(err.contains("unknown objective \"foo_bar\""), "{err}");
}

#[test]
fn refuses_damaged_and_unsupported_models() {
    let cases = [
        (
            BINARY.replace("version=v4", "version=v9"),
            "\"v9\" is not one homeml reads",
        ),
        (
            BINARY.replace("objective=binary sigmoid:1", "objective=wavelet"),
            "unknown objective \"wavelet\"",
        ),
        (
            BINARY[..BINARY.find("Tree=1").unwrap()].to_string(),
            "truncated",
        ),
        (BINARY.replace("is_linear=0", "is_linear=1"), "linear trees"),
        (
            BINARY.replace("left_child=1 -1", "left_child=1 -7"),
            "leaf 6 is out of range",
        ),
        (
            BINARY.replace("split_feature=0 2", "split_feature=0 5"),
            "feature 5",
        ),
        (
            BINARY.replace("threshold=0.5 1.5", "threshold=0.5"),
            "threshold has 1 values",
        ),
        ("hello".to_string(), "not a LightGBM text model"),
    ];
    for (text, want) in cases {
        let err = TextModel::parse(&text).unwrap_err();
        assert!(err.contains(want), "{want}: {err}");
    }
}

#[test]
fn single_leaf_trees_and_pandas_categories() {
    let text = BINARY.replace(
        "pandas_categorical:null",
        "pandas_categorical:[[\"a\", \"b\"]]",
    );
    assert!(TextModel::parse(&text).unwrap().pandas_categorical);
    let one = "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nmax_feature_idx=0\nobjective=regression\n\nTree=0\nnum_leaves=1\nnum_cat=0\nsplit_feature=\nthreshold=\ndecision_type=\nleft_child=\nright_child=\nleaf_value=2.5\nis_linear=0\nshrinkage=1\n\n\nend of trees\n";
    let m = TextModel::parse(one).unwrap();
    assert_eq!(raw(&m, &[7.0]), 2.5);
}
