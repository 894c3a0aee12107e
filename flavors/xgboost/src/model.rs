//! XGBoost's model document (the JSON schema of `Booster.save_model`, shared by `.json` and `.ubj`):
//! the learner's parameters, the objective and the trees, read into a [`BoosterModel`].

use homeml_tree_ensemble::{CategoryRule, Decision, Forest, Missing};
use serde_json::Value;

/// The newest major format version read.
const MAX_MAJOR: i64 = 3;

/// The most trees a model may have.
const MAX_TREES: usize = 1 << 22;

/// Categories at or past this are never listed (XGBoost's `OutOfRangeCat`).
const MAX_CATEGORY: i64 = 1 << 24;

/// How margins become predictions (XGBoost's `PredTransform`), and how `base_score` becomes a margin
/// (`ProbToMargin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// Identity both ways: squared error and the other regression losses, ranking.
    Identity,
    /// Logit margin, sigmoid prediction: `binary:logistic`, `reg:logistic`.
    Logistic,
    /// Logit margin, raw prediction: `binary:logitraw`.
    LogitRaw,
    /// `1` when the margin is positive, else `0`: `binary:hinge`.
    Hinge,
    /// Log margin, exp prediction: `count:poisson`, `reg:gamma`, `reg:tweedie`, `survival:cox`.
    Exp,
    /// Softmax over classes: `multi:softprob`.
    SoftProb,
    /// The index of the largest margin: `multi:softmax`.
    SoftMax,
}

impl Objective {
    /// The objective of a name.
    pub fn parse(name: &str) -> Result<Objective, String> {
        Ok(match name {
            "reg:squarederror" | "reg:linear" | "reg:squaredlogerror" | "reg:pseudohubererror"
            | "reg:absoluteerror" | "reg:quantileerror" | "rank:pairwise" | "rank:ndcg"
            | "rank:map" => Objective::Identity,
            "binary:logistic" | "reg:logistic" => Objective::Logistic,
            "binary:logitraw" => Objective::LogitRaw,
            "binary:hinge" => Objective::Hinge,
            "count:poisson" | "reg:gamma" | "reg:tweedie" | "survival:cox" => Objective::Exp,
            "multi:softprob" => Objective::SoftProb,
            "multi:softmax" => Objective::SoftMax,
            other => {
                return Err(format!(
                    "unknown objective {other:?}: homeml predicts reg:squarederror, reg:squaredlogerror, reg:pseudohubererror, reg:absoluteerror, reg:quantileerror, reg:logistic, binary:logistic, binary:logitraw, binary:hinge, count:poisson, reg:gamma, reg:tweedie, survival:cox, multi:softprob, multi:softmax and rank:* models"
                ))
            }
        })
    }

    /// `base_score` as a margin.
    pub fn margin(&self, base_score: f32) -> f32 {
        match self {
            Objective::Logistic | Objective::LogitRaw => -(1.0 / base_score - 1.0).ln(),
            Objective::Exp => base_score.ln(),
            _ => base_score,
        }
    }

    /// Transforms one row of margins in place (`multi:softmax` leaves them for the caller's argmax).
    pub fn apply(&self, row: &mut [f32]) {
        match self {
            Objective::Logistic => row.iter_mut().for_each(|x| *x = 1.0 / (1.0 + (-*x).exp())),
            Objective::Hinge => row
                .iter_mut()
                .for_each(|x| *x = if *x > 0.0 { 1.0 } else { 0.0 }),
            Objective::Exp => row.iter_mut().for_each(|x| *x = x.exp()),
            Objective::SoftProb => {
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0.0f32;
                for x in row.iter_mut() {
                    *x = (*x - max).exp();
                    sum += *x;
                }
                row.iter_mut().for_each(|x| *x /= sum);
            }
            Objective::Identity | Objective::LogitRaw | Objective::SoftMax => {}
        }
    }
}

/// A parsed XGBoost model.
#[derive(Debug, Clone)]
pub struct BoosterModel {
    /// The format version written, `[major, minor, patch]`.
    pub version: Vec<i64>,
    /// The trees; each adds to the output group its `tree_info` names.
    pub forest: Forest,
    /// `iteration_indptr`: the trees of the first `i` iterations are `0..indptr[i]`.
    pub iteration_indptr: Vec<usize>,
    /// The objective's name.
    pub objective_name: String,
    /// The output transform.
    pub objective: Objective,
    /// The margin each output group starts from.
    pub base_margin: Vec<f32>,
    /// `best_iteration` from the learner's attributes (set by early stopping).
    pub best_iteration: Option<usize>,
    /// `num_class` (0 for models that are not multiclass).
    pub num_class: usize,
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Result<&'a Value, String> {
    let mut cur = v;
    for (i, key) in path.iter().enumerate() {
        cur = cur
            .get(key)
            .ok_or_else(|| format!("the model has no {}", path[..=i].join(".")))?;
    }
    Ok(cur)
}

/// XGBoost writes counts as strings (`"3"`), older writers as numbers.
fn count(v: &Value, what: &str) -> Result<usize, String> {
    match v {
        Value::String(s) => s.trim().parse::<usize>().ok(),
        Value::Number(n) => n.as_u64().map(|n| n as usize),
        _ => None,
    }
    .ok_or_else(|| format!("{what} is {v}, not a count"))
}

fn ints(tree: &Value, key: &str, t: usize) -> Result<Vec<i64>, String> {
    let arr = tree
        .get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("tree {t} has no {key}"))?;
    arr.iter()
        .map(|v| match v {
            Value::Number(n) => n.as_i64(),
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| format!("tree {t}: {key} holds a value that is not an integer"))
}

fn floats(tree: &Value, key: &str, t: usize) -> Result<Vec<f32>, String> {
    let arr = tree
        .get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("tree {t} has no {key}"))?;
    arr.iter()
        .map(|v| match v {
            Value::Number(n) => n.as_f64().map(|f| f as f32),
            Value::String(s) => s.parse::<f32>().ok(),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| format!("tree {t}: {key} holds a value that is not a number"))
}

/// `"[5E-1]"`, `"[0E0,0E0]"` (3.x) or `"5E-1"` (older).
fn parse_base_score(v: &Value) -> Result<Vec<f32>, String> {
    let s = match v {
        Value::String(s) => s.as_str(),
        Value::Number(n) => return Ok(vec![n.as_f64().unwrap_or(0.5) as f32]),
        _ => return Err(format!("base_score is {v}")),
    };
    let inner = s.trim().trim_start_matches('[').trim_end_matches(']');
    inner
        .split(',')
        .map(|p| {
            p.trim()
                .parse::<f32>()
                .map_err(|_| format!("base_score {s:?} is not a number"))
        })
        .collect()
}

impl BoosterModel {
    /// Reads the model document.
    pub fn from_value(doc: &Value) -> Result<BoosterModel, String> {
        let version: Vec<i64> = get(doc, &["version"])?
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        match version.first() {
            Some(&major) if (1..=MAX_MAJOR).contains(&major) => {}
            _ => {
                return Err(format!(
                    "model format version {version:?} is not one homeml reads (XGBoost 1.x to {MAX_MAJOR}.x): it may be newer"
                ))
            }
        }
        let learner = get(doc, &["learner"])?;
        let params = get(learner, &["learner_model_param"])?;
        let num_class = count(get(params, &["num_class"])?, "num_class")?;
        let n_features = count(get(params, &["num_feature"])?, "num_feature")?;
        if let Some(t) = params.get("num_target") {
            let t = count(t, "num_target")?;
            if t > 1 {
                return Err(format!(
                    "a model with {t} targets: multi-target models are not supported by homeml"
                ));
            }
        }
        let objective_name = get(learner, &["objective", "name"])?
            .as_str()
            .ok_or("objective.name is not a string")?
            .to_string();
        let objective = Objective::parse(&objective_name)?;
        let multi = matches!(objective, Objective::SoftProb | Objective::SoftMax);
        if multi != (num_class > 1) {
            return Err(format!(
                "objective {objective_name:?} with num_class={num_class} is not a model homeml predicts"
            ));
        }
        let n_groups = num_class.max(1);
        let mut base = parse_base_score(get(params, &["base_score"])?)?;
        if base.len() == 1 && n_groups > 1 {
            base = vec![base[0]; n_groups];
        }
        if base.len() != n_groups {
            return Err(format!(
                "base_score has {} values for {n_groups} outputs",
                base.len()
            ));
        }
        let base_margin: Vec<f32> = base.iter().map(|&b| objective.margin(b)).collect();

        let booster = get(learner, &["gradient_booster"])?;
        let (model, weights) = match booster.get("name").and_then(Value::as_str) {
            Some("gbtree") => (get(booster, &["model"])?, None),
            Some("dart") => {
                let w = floats(booster, "weight_drop", 0)?;
                (get(booster, &["gbtree", "model"])?, Some(w))
            }
            other => {
                return Err(format!(
                    "booster {:?} is not supported by homeml (gbtree and dart are)",
                    other.unwrap_or("?")
                ))
            }
        };
        let trees_json = get(model, &["trees"])?
            .as_array()
            .ok_or("trees is not a list")?;
        if trees_json.len() > MAX_TREES {
            return Err(format!("{} trees: too many", trees_json.len()));
        }
        let groups: Vec<usize> = ints(model, "tree_info", 0)
            .map_err(|_| "the model has no tree_info".to_string())?
            .into_iter()
            .map(|g| usize::try_from(g).unwrap_or(usize::MAX))
            .collect();
        if groups.len() != trees_json.len() {
            return Err(format!(
                "{} trees but {} tree_info entries",
                trees_json.len(),
                groups.len()
            ));
        }
        if weights
            .as_ref()
            .is_some_and(|w| w.len() != trees_json.len())
        {
            return Err("dart weight_drop does not give one weight per tree".into());
        }
        let mut trees = Vec::with_capacity(trees_json.len());
        for (t, tree) in trees_json.iter().enumerate() {
            let w = weights.as_ref().map_or(1.0, |w| w[t]);
            trees.push(parse_tree(tree, t, w)?);
        }
        let indptr = match model.get("iteration_indptr") {
            Some(v) => {
                let p = ints(model, "iteration_indptr", 0)
                    .map_err(|_| format!("bad iteration_indptr {v}"))?;
                let p: Vec<usize> = p
                    .into_iter()
                    .map(|x| usize::try_from(x).unwrap_or(usize::MAX))
                    .collect();
                if p.first() != Some(&0)
                    || p.last() != Some(&trees.len())
                    || p.windows(2).any(|w| w[0] > w[1])
                {
                    return Err("iteration_indptr does not cover the trees in order".into());
                }
                p
            }
            None => {
                let parallel = model
                    .get("gbtree_model_param")
                    .and_then(|p| p.get("num_parallel_tree"))
                    .map(|v| count(v, "num_parallel_tree"))
                    .transpose()?
                    .unwrap_or(1)
                    .max(1);
                let per = parallel * n_groups;
                if trees.len() % per != 0 {
                    return Err(format!(
                        "{} trees is not a whole number of iterations of {per}",
                        trees.len()
                    ));
                }
                (0..=trees.len() / per).map(|i| i * per).collect()
            }
        };
        let best_iteration = learner
            .get("attributes")
            .and_then(|a| a.get("best_iteration"))
            .map(|v| count(v, "best_iteration"))
            .transpose()?;
        let forest =
            Forest::new(&trees, &groups, n_groups, n_features.max(1)).map_err(|e| e.to_string())?;
        Ok(BoosterModel {
            version,
            forest,
            iteration_indptr: indptr,
            objective_name,
            objective,
            base_margin,
            best_iteration,
            num_class,
        })
    }

    /// The number of boosting iterations saved.
    pub fn iterations(&self) -> usize {
        self.iteration_indptr.len() - 1
    }
}

fn parse_tree(tree: &Value, t: usize, weight: f32) -> Result<Vec<Decision>, String> {
    if let Some(p) = tree
        .get("tree_param")
        .and_then(|p| p.get("size_leaf_vector"))
    {
        if count(p, "size_leaf_vector")? > 1 {
            return Err(format!(
                "tree {t} has vector leaves (multi-target), not supported"
            ));
        }
    }
    let left = ints(tree, "left_children", t)?;
    let right = ints(tree, "right_children", t)?;
    let feature = ints(tree, "split_indices", t)?;
    let cond = floats(tree, "split_conditions", t)?;
    let default_left = ints(tree, "default_left", t)?;
    let n = left.len();
    let split_type = match tree.get("split_type") {
        Some(_) => ints(tree, "split_type", t)?,
        None => vec![0; n],
    };
    for (key, len) in [
        ("right_children", right.len()),
        ("split_indices", feature.len()),
        ("split_conditions", cond.len()),
        ("default_left", default_left.len()),
        ("split_type", split_type.len()),
    ] {
        if len != n {
            return Err(format!("tree {t}: {key} has {len} values for {n} nodes"));
        }
    }
    // Categorical splits: node -> listed categories.
    let mut cats: Vec<Option<Vec<u32>>> = vec![None; n];
    if split_type.contains(&1) {
        let nodes = ints(tree, "categories_nodes", t)?;
        let segments = ints(tree, "categories_segments", t)?;
        let sizes = ints(tree, "categories_sizes", t)?;
        let values = ints(tree, "categories", t)?;
        if nodes.len() != segments.len() || nodes.len() != sizes.len() {
            return Err(format!("tree {t}: the categories_* lists differ in length"));
        }
        for ((&node, &seg), &size) in nodes.iter().zip(&segments).zip(&sizes) {
            let (node, seg, size) = (node as usize, seg as usize, size as usize);
            let list = seg
                .checked_add(size)
                .and_then(|end| values.get(seg..end))
                .filter(|_| node < n)
                .ok_or_else(|| format!("tree {t}: categories of node {node} are out of range"))?;
            let max = list.iter().copied().max().unwrap_or(0);
            if list.iter().any(|&c| !(0..MAX_CATEGORY).contains(&c)) {
                return Err(format!(
                    "tree {t}: node {node} lists a category outside 0..2^24"
                ));
            }
            let mut bits = vec![0u32; max as usize / 32 + 1];
            for &c in list {
                bits[c as usize / 32] |= 1 << (c % 32);
            }
            cats[node] = Some(bits);
        }
    }
    let child = |c: i64, i: usize| -> Result<usize, String> {
        usize::try_from(c)
            .ok()
            .filter(|&c| c < n)
            .ok_or_else(|| format!("tree {t}: node {i} has child {c} of {n} nodes"))
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if left[i] == -1 {
            out.push(Decision::Leaf(f64::from(cond[i] * weight)));
            continue;
        }
        let (l, r) = (child(left[i], i)?, child(right[i], i)?);
        let f = u32::try_from(feature[i])
            .map_err(|_| format!("tree {t}: node {i} splits feature {}", feature[i]))?;
        let dl = default_left[i] != 0;
        out.push(if split_type[i] == 1 {
            Decision::Categorical {
                feature: f,
                bitset: cats[i]
                    .take()
                    .ok_or_else(|| format!("tree {t}: categorical node {i} lists no categories"))?,
                rule: CategoryRule::XgBoost,
                default_left: dl,
                left: l,
                right: r,
            }
        } else {
            Decision::Numeric {
                feature: f,
                threshold: f64::from(cond[i]),
                strict: true,
                missing: Missing::NanDefault,
                default_left: dl,
                left: l,
                right: r,
            }
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
