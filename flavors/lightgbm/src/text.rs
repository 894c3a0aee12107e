//! LightGBM's text model format (`Booster.save_model`, `model_to_string`): the header, the trees and the
//! objective, parsed into a [`TextModel`] whose trees are a [`Forest`].

use homeml_tree_ensemble::{CategoryRule, Decision, Forest, Missing};

/// The format versions read (`version=` in the header).
const VERSIONS: &[&str] = &["v2", "v3", "v4"];

/// The most trees a model may have (a bound on what a damaged file can make us allocate).
const MAX_TREES: usize = 1 << 22;

/// The most leaves of one tree.
const MAX_LEAVES: usize = 1 << 24;

/// How raw scores become predictions (LightGBM's `ObjectiveFunction::ConvertOutput`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective {
    /// Raw scores as they are: regression L2/L1, huber, fair, quantile, mape, ranking, custom.
    Identity,
    /// `sign(x) * x^2`: regression objectives trained with `reg_sqrt`.
    SignedSquare,
    /// `exp(x)`: poisson, gamma, tweedie.
    Exp,
    /// `1 / (1 + exp(-s x))`: binary (s = `sigmoid`), cross_entropy (s = 1).
    Sigmoid(f64),
    /// `log(1 + exp(x))`: cross_entropy_lambda.
    Log1pExp,
    /// Softmax over the classes: multiclass.
    Softmax,
    /// A sigmoid per class: multiclassova.
    SigmoidPerClass(f64),
}

impl Objective {
    /// Parses the header's `objective=` value (`binary sigmoid:1`, `multiclass num_class:3`, ...).
    pub fn parse(text: &str) -> Result<(String, Objective), String> {
        let mut words = text.split_whitespace();
        let name = words.next().unwrap_or("").to_string();
        let mut sigmoid = 1.0;
        let mut sqrt = false;
        for w in words {
            if let Some(v) = w.strip_prefix("sigmoid:") {
                sigmoid = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .ok_or_else(|| format!("objective {name:?}: bad sigmoid {v:?}"))?;
            } else if w == "sqrt" {
                sqrt = true;
            }
        }
        let objective = match name.as_str() {
            "regression" | "regression_l1" | "huber" | "fair" | "quantile" | "mape" if sqrt => {
                Objective::SignedSquare
            }
            "regression" | "regression_l1" | "huber" | "fair" | "quantile" | "mape"
            | "lambdarank" | "rank_xendcg" | "custom" | "none" | "" => Objective::Identity,
            "poisson" | "gamma" | "tweedie" => Objective::Exp,
            "binary" => Objective::Sigmoid(sigmoid),
            "cross_entropy" => Objective::Sigmoid(1.0),
            "cross_entropy_lambda" => Objective::Log1pExp,
            "multiclass" => Objective::Softmax,
            "multiclassova" => Objective::SigmoidPerClass(sigmoid),
            other => {
                return Err(format!(
                    "unknown objective {other:?}: homeml predicts regression, regression_l1, huber, fair, quantile, mape, poisson, gamma, tweedie, binary, cross_entropy, cross_entropy_lambda, multiclass, multiclassova, lambdarank and rank_xendcg models"
                ))
            }
        };
        Ok((name, objective))
    }

    /// Transforms one row of raw scores in place.
    pub fn apply(&self, row: &mut [f64]) {
        match *self {
            Objective::Identity => {}
            Objective::SignedSquare => row.iter_mut().for_each(|x| *x = x.signum() * *x * *x),
            Objective::Exp => row.iter_mut().for_each(|x| *x = x.exp()),
            Objective::Sigmoid(s) | Objective::SigmoidPerClass(s) => row
                .iter_mut()
                .for_each(|x| *x = 1.0 / (1.0 + (-s * *x).exp())),
            Objective::Log1pExp => row.iter_mut().for_each(|x| *x = x.exp().ln_1p()),
            Objective::Softmax => {
                let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mut sum = 0.0;
                for x in row.iter_mut() {
                    *x = (*x - max).exp();
                    sum += *x;
                }
                row.iter_mut().for_each(|x| *x /= sum);
            }
        }
    }
}

/// A parsed LightGBM model.
#[derive(Debug, Clone)]
pub struct TextModel {
    /// The trees; tree `i` adds to class `i % trees_per_iteration`.
    pub forest: Forest,
    /// `num_tree_per_iteration`: the classes of a multiclass model, else 1.
    pub trees_per_iteration: usize,
    /// The objective's name as written.
    pub objective_name: String,
    /// The output transform.
    pub objective: Objective,
    /// `average_output` (random forest mode): the raw score is the mean over iterations, not the sum.
    pub average_output: bool,
    /// `feature_names`.
    pub feature_names: Vec<String>,
    /// Whether the model ends with a non-empty `pandas_categorical` (categories of pandas columns that
    /// LightGBM's Python side recodes before predicting).
    pub pandas_categorical: bool,
}

impl TextModel {
    /// The number of boosting iterations saved.
    pub fn iterations(&self) -> usize {
        self.forest.n_trees() / self.trees_per_iteration
    }

    /// Parses a text model.
    pub fn parse(text: &str) -> Result<TextModel, String> {
        let mut lines = text.lines().peekable();
        match lines.next().map(str::trim) {
            Some("tree") => {}
            _ => return Err("not a LightGBM text model (it does not start with \"tree\")".into()),
        }
        if !text.contains("\nend of trees") {
            return Err("the model is truncated: no \"end of trees\"".into());
        }
        let mut header = Vec::new();
        let mut average_output = false;
        while let Some(line) = lines.peek() {
            if line.starts_with("Tree=") || line.starts_with("end of trees") {
                break;
            }
            if let Some((k, v)) = line.split_once('=') {
                header.push((k.trim(), v.trim()));
            } else if line.trim() == "average_output" {
                average_output = true;
            }
            lines.next();
        }
        let get = |key: &str| header.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let version = get("version").ok_or("the header has no version")?;
        if !VERSIONS.contains(&version) {
            return Err(format!(
                "model format version {version:?} is not one homeml reads ({}): it may be newer than LightGBM 4",
                VERSIONS.join(", ")
            ));
        }
        let int = |key: &str| -> Result<usize, String> {
            let v = get(key).ok_or_else(|| format!("the header has no {key}"))?;
            v.parse::<usize>()
                .map_err(|_| format!("{key}={v:?} is not a count"))
        };
        let num_class = int("num_class")?;
        let per_iter = int("num_tree_per_iteration")?;
        let n_features = int("max_feature_idx")?
            .checked_add(1)
            .ok_or("max_feature_idx is too large")?;
        if per_iter == 0 || num_class == 0 || per_iter > 1 << 16 {
            return Err(format!(
                "num_class={num_class}, num_tree_per_iteration={per_iter}: not a model homeml predicts"
            ));
        }
        let (objective_name, objective) = Objective::parse(get("objective").unwrap_or(""))?;
        if matches!(
            objective,
            Objective::Softmax | Objective::SigmoidPerClass(_)
        ) != (per_iter > 1)
        {
            return Err(format!(
                "objective {objective_name:?} with {per_iter} trees per iteration is not a model homeml predicts"
            ));
        }
        if header.iter().any(|(k, v)| *k == "linear_tree" && *v != "0") {
            return Err(linear_refusal());
        }
        let feature_names: Vec<String> = get("feature_names")
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();

        let mut trees = Vec::new();
        loop {
            let Some(line) = lines.next() else {
                return Err("the model is truncated: no \"end of trees\"".into());
            };
            let line = line.trim();
            if line.starts_with("end of trees") {
                break;
            }
            let Some(index) = line.strip_prefix("Tree=") else {
                continue;
            };
            if trees.len() >= MAX_TREES {
                return Err(format!("more than {MAX_TREES} trees"));
            }
            let mut fields = Vec::new();
            while let Some(l) = lines.peek() {
                let l = l.trim();
                if l.is_empty() || l.starts_with("Tree=") || l.starts_with("end of trees") {
                    break;
                }
                if let Some((k, v)) = l.split_once('=') {
                    fields.push((k, v));
                }
                lines.next();
            }
            let tree = parse_tree(&fields).map_err(|e| format!("Tree={index}: {e}"))?;
            trees.push(tree);
        }
        if trees.is_empty() || trees.len() % per_iter != 0 {
            return Err(format!(
                "{} trees is not a whole number of iterations of {per_iter} trees",
                trees.len()
            ));
        }
        let pandas_categorical = text
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("pandas_categorical:"))
            .is_some_and(|v| !matches!(v.trim(), "" | "[]" | "null"));
        let groups: Vec<usize> = (0..trees.len()).map(|i| i % per_iter).collect();
        let forest =
            Forest::new(&trees, &groups, per_iter, n_features).map_err(|e| e.to_string())?;
        Ok(TextModel {
            forest,
            trees_per_iteration: per_iter,
            objective_name,
            objective,
            average_output,
            feature_names,
            pandas_categorical,
        })
    }
}

fn linear_refusal() -> String {
    "linear trees (linear_tree=true) are not supported by homeml yet".into()
}

fn parse_list<T: std::str::FromStr>(
    fields: &[(&str, &str)],
    key: &str,
    n: usize,
) -> Result<Vec<T>, String> {
    let v = fields
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("no {key}"))?;
    let out: Vec<T> = v
        .split_whitespace()
        .map(|w| {
            w.parse::<T>()
                .map_err(|_| format!("{key}: {w:?} is not a number"))
        })
        .collect::<Result<_, _>>()?;
    if out.len() != n {
        return Err(format!("{key} has {} values, expected {n}", out.len()));
    }
    Ok(out)
}

/// One tree: internal nodes first (their indices), then leaves (`n_internal + leaf`).
fn parse_tree(fields: &[(&str, &str)]) -> Result<Vec<Decision>, String> {
    let one = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.trim())
    };
    let leaves: usize = one("num_leaves")
        .ok_or("no num_leaves")?
        .parse()
        .map_err(|_| "num_leaves is not a count")?;
    if leaves == 0 || leaves > MAX_LEAVES {
        return Err(format!("num_leaves={leaves}"));
    }
    if one("is_linear").is_some_and(|v| v != "0") {
        return Err(linear_refusal());
    }
    let leaf_value: Vec<f64> = parse_list(fields, "leaf_value", leaves)?;
    if leaves == 1 {
        return Ok(vec![Decision::Leaf(leaf_value[0])]);
    }
    let inner = leaves - 1;
    let split_feature: Vec<u32> = parse_list(fields, "split_feature", inner)?;
    let threshold: Vec<f64> = parse_list(fields, "threshold", inner)?;
    let decision_type: Vec<u8> = parse_list(fields, "decision_type", inner)?;
    let left: Vec<i64> = parse_list(fields, "left_child", inner)?;
    let right: Vec<i64> = parse_list(fields, "right_child", inner)?;
    let num_cat: usize = one("num_cat")
        .unwrap_or("0")
        .parse()
        .map_err(|_| "num_cat")?;
    let (boundaries, words): (Vec<usize>, Vec<u32>) = if num_cat > 0 {
        if num_cat > inner {
            return Err(format!("num_cat={num_cat} with {inner} splits"));
        }
        let b: Vec<usize> = parse_list(fields, "cat_boundaries", num_cat + 1)?;
        let n_words = *b.last().unwrap_or(&0);
        (b, parse_list(fields, "cat_threshold", n_words)?)
    } else {
        (Vec::new(), Vec::new())
    };
    let child = |c: i64| -> Result<usize, String> {
        if c >= 0 {
            let c = c as usize;
            (c < inner)
                .then_some(c)
                .ok_or(format!("child {c} is out of range"))
        } else {
            let leaf = (!c) as usize;
            (leaf < leaves)
                .then_some(inner + leaf)
                .ok_or(format!("leaf {leaf} is out of range"))
        }
    };
    let mut nodes = Vec::with_capacity(inner + leaves);
    for i in 0..inner {
        let (l, r) = (child(left[i])?, child(right[i])?);
        let dt = decision_type[i];
        let feature = split_feature[i];
        if dt & 1 == 1 {
            let t = threshold[i];
            let idx = t as usize;
            if !(t >= 0.0 && (idx as f64) == t && idx < num_cat) {
                return Err(format!(
                    "categorical split {i} names category set {t} of {num_cat}"
                ));
            }
            let (a, b) = (boundaries[idx], boundaries[idx + 1]);
            if a > b || b > words.len() {
                return Err(format!("cat_boundaries of split {i} are out of order"));
            }
            nodes.push(Decision::Categorical {
                feature,
                bitset: words[a..b].to_vec(),
                rule: CategoryRule::LightGbm,
                default_left: false,
                left: l,
                right: r,
            });
        } else {
            let missing = match (dt >> 2) & 3 {
                0 => Missing::AsZero,
                1 => Missing::ZeroDefault,
                2 => Missing::NanDefault,
                m => return Err(format!("split {i} has missing type {m}")),
            };
            nodes.push(Decision::Numeric {
                feature,
                threshold: threshold[i],
                strict: false,
                missing,
                default_left: dt & 2 != 0,
                left: l,
                right: r,
            });
        }
    }
    nodes.extend(leaf_value.into_iter().map(Decision::Leaf));
    Ok(nodes)
}

#[cfg(test)]
mod tests;
