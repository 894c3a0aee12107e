//! The training examples: each trains a model on a data set shipped with homeml, logs params and
//! `train_*`/`val_*` metrics to the tracking store, saves the model with its flavor (signature with named
//! columns, input example), logs and registers it, points the alias `champion` at the new version and
//! stores its held-out rows and predictions as the run artifact `heldout_predictions.json`.
//!
//! | function | data | model | registered as |
//! |---|---|---|---|
//! | [`train_iris_logreg`] | iris | smartcore logistic regression | `iris-classifier` |
//! | [`train_iris_random_forest`] | iris | smartcore random forest | `iris-random-forest` |
//! | [`train_diabetes_regressor`] | diabetes | smartcore random forest regressor | `diabetes-regressor` |
//! | [`train_iris_linfa`] | iris | linfa multinomial logistic regression | `iris-linfa` |

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use homeml_flavor::{ColumnType, DType, Model, Schema, Signature, TensorData, TensorSpec};
use homeml_linfa::linfa::prelude::*;
use homeml_linfa::linfa::Dataset as LinfaDataset;
use homeml_linfa::linfa_logistic::MultiLogisticRegression;
use homeml_linfa::ndarray::{Array1, Array2};
use homeml_linfa::{LinfaModel, LinfaPredictor};
use homeml_smartcore::smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use homeml_smartcore::smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use homeml_smartcore::smartcore::linalg::basic::matrix::DenseMatrix;
use homeml_smartcore::smartcore::linear::logistic_regression::{
    LogisticRegression, LogisticRegressionParameters,
};
use homeml_smartcore::{SmartcoreModel, SmartcorePredictor};
use homeml_tracking::{LogModelOptions, RunOptions, RunStatus, Tracking};
use serde_json::json;

/// The iris data set (150 rows), shipped in `data/iris.csv`.
pub const IRIS_CSV: &str = include_str!("../../../data/iris.csv");
/// The diabetes data set (442 rows), shipped in `data/diabetes.csv`.
pub const DIABETES_CSV: &str = include_str!("../../../data/diabetes.csv");
/// Iris species, by label.
pub const IRIS_SPECIES: [&str; 3] = ["setosa", "versicolor", "virginica"];
/// The experiment every example logs to.
pub const EXPERIMENT: &str = "homeml-quickstart";
/// The alias set on each new version.
pub const ALIAS: &str = "champion";

/// A numeric table: feature columns and a target (the last CSV column).
#[derive(Debug, Clone)]
pub struct Table {
    /// Feature column names.
    pub columns: Vec<String>,
    /// Features, row-major.
    pub x: Vec<f64>,
    /// Targets.
    pub y: Vec<f64>,
}

impl Table {
    /// Parses a CSV with a header row whose fields are all numbers; the last column is the target.
    pub fn parse_csv(text: &str) -> Result<Table> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header = lines.next().ok_or_else(|| anyhow!("the CSV is empty"))?;
        let mut columns: Vec<String> = header.split(',').map(|s| s.trim().to_string()).collect();
        if columns.len() < 2 {
            anyhow::bail!("the CSV needs at least one feature and a target column");
        }
        columns.pop();
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for (i, line) in lines.enumerate() {
            let vals = line
                .split(',')
                .map(|v| v.trim().parse::<f64>())
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("CSV row {}", i + 2))?;
            if vals.len() != columns.len() + 1 {
                anyhow::bail!(
                    "CSV row {} has {} fields, the header {}",
                    i + 2,
                    vals.len(),
                    columns.len() + 1
                );
            }
            x.extend_from_slice(&vals[..columns.len()]);
            y.push(vals[columns.len()]);
        }
        Ok(Table { columns, x, y })
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.y.len()
    }

    /// Feature columns.
    pub fn width(&self) -> usize {
        self.columns.len()
    }

    /// Row `i`'s features.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.width()..(i + 1) * self.width()]
    }

    /// The rows at `idx`, in that order.
    pub fn take(&self, idx: &[usize]) -> Table {
        Table {
            columns: self.columns.clone(),
            x: idx
                .iter()
                .flat_map(|&i| self.row(i).iter().copied())
                .collect(),
            y: idx.iter().map(|&i| self.y[i]).collect(),
        }
    }

    /// A seeded shuffle split: (train, validation) with `val_fraction` of the rows held out.
    pub fn split(&self, val_fraction: f64, seed: u64) -> (Table, Table) {
        let mut idx: Vec<usize> = (0..self.rows()).collect();
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        for i in (1..idx.len()).rev() {
            // xorshift64*: a fixed, dependency-free shuffle so a seed always gives the same split.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let r = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
            idx.swap(i, (r % (i as u64 + 1)) as usize);
        }
        let n_val = ((self.rows() as f64) * val_fraction).round() as usize;
        let (val, train) = idx.split_at(n_val);
        (self.take(train), self.take(val))
    }

    fn matrix(&self) -> Result<DenseMatrix<f64>> {
        DenseMatrix::new(self.rows(), self.width(), self.x.clone(), false)
            .map_err(|e| anyhow!("{e}"))
    }

    fn labels(&self) -> Vec<i64> {
        self.y.iter().map(|&v| v as i64).collect()
    }

    fn column_refs(&self) -> Vec<&str> {
        self.columns.iter().map(String::as_str).collect()
    }

    fn example(&self, n: usize) -> Vec<Vec<f64>> {
        (0..n.min(self.rows()))
            .map(|i| self.row(i).to_vec())
            .collect()
    }
}

/// What one training example produced.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The registered model name.
    pub name: String,
    /// The new version (the alias `champion` points at it).
    pub version: u64,
    /// The run.
    pub run_id: String,
    /// `val_accuracy` for classifiers, `val_rmse` for regressors.
    pub headline: (String, f64),
}

/// Hyperparameters and options shared by the examples.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Seed of the train/validation split and of the forests.
    pub seed: u64,
    /// Fraction of rows held out for validation.
    pub val_fraction: f64,
    /// Trees per forest.
    pub n_trees: u16,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            seed: 42,
            val_fraction: 0.2,
            n_trees: 30,
        }
    }
}

fn tensor_spec(name: &str, dtype: DType, shape: Vec<i64>) -> TensorSpec {
    TensorSpec {
        name: Some(name.into()),
        dtype,
        dtype_name: dtype.numpy_name().into(),
        shape,
    }
}

fn classifier_signature(table: &Table, probabilities: Option<i64>) -> Signature {
    let mut outputs = vec![tensor_spec("label", DType::I64, vec![-1])];
    if let Some(c) = probabilities {
        outputs.push(tensor_spec("probabilities", DType::F64, vec![-1, c]));
    }
    Signature::new(
        Schema::columns(&table.column_refs(), ColumnType::Double),
        Schema::Tensors(outputs),
    )
}

/// A run in progress: ends as FAILED unless [`RunGuard::finish`] is called.
struct RunGuard<'a> {
    store: &'a Tracking,
    run_id: String,
    done: bool,
}

impl RunGuard<'_> {
    fn start<'a>(store: &'a Tracking, run_name: &str, model: &str) -> Result<RunGuard<'a>> {
        let exp = store.get_or_create_experiment(EXPERIMENT)?;
        let mut tags = BTreeMap::new();
        tags.insert("homeml.example".to_string(), model.to_string());
        let run = store.start_run(
            &exp,
            RunOptions {
                name: Some(run_name.into()),
                tags,
                parent_run_id: None,
            },
        )?;
        Ok(RunGuard {
            store,
            run_id: run.id().to_string(),
            done: false,
        })
    }

    fn params(&self, params: &[(&str, String)]) -> Result<()> {
        for (k, v) in params {
            self.store.log_param(&self.run_id, k, v)?;
        }
        Ok(())
    }

    fn metric(&self, key: &str, value: f64, step: i64) -> Result<()> {
        self.store
            .log_metric(&self.run_id, key, value, step, None)?;
        Ok(())
    }

    /// Logs the model directory written by `save`, registers it as `name`, moves `champion`, and
    /// stores the held-out predictions.
    fn log_and_register(
        &self,
        name: &str,
        save: impl FnOnce(&Path) -> Result<()>,
        heldout: &Table,
        predictions: serde_json::Value,
    ) -> Result<u64> {
        let tmp = scratch_dir(name);
        let model_dir = tmp.join("model");
        let result = (|| {
            save(&model_dir)?;
            let logged = self.store.log_model(
                &self.run_id,
                "model",
                &model_dir,
                LogModelOptions {
                    register_as: Some(name.into()),
                },
            )?;
            let version = logged
                .registered_version
                .ok_or_else(|| anyhow!("{name} was logged but not registered"))?;
            self.store.set_alias(name, ALIAS, version)?;
            let record = json!({
                "model": name,
                "version": version,
                "columns": heldout.columns,
                "data": (0..heldout.rows()).map(|i| heldout.row(i).to_vec()).collect::<Vec<_>>(),
                "targets": heldout.y,
                "predictions": predictions,
            });
            self.store.log_artifact_bytes(
                &self.run_id,
                "heldout_predictions.json",
                serde_json::to_string_pretty(&record)?.as_bytes(),
            )?;
            Ok(version)
        })();
        let _ = std::fs::remove_dir_all(&tmp);
        result
    }

    fn finish(mut self) -> Result<String> {
        self.store.end_run(&self.run_id, RunStatus::Finished)?;
        self.done = true;
        Ok(self.run_id.clone())
    }
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.store.end_run(&self.run_id, RunStatus::Failed);
        }
    }
}

fn scratch_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    std::env::temp_dir().join(format!(
        "homeml-train-{name}-{}-{nanos}",
        std::process::id()
    ))
}

fn accuracy(pred: &[i64], truth: &[f64]) -> f64 {
    let ok = pred
        .iter()
        .zip(truth)
        .filter(|(p, t)| **p == **t as i64)
        .count();
    ok as f64 / truth.len().max(1) as f64
}

/// Mean negative log-likelihood of the true class, from row-major `[n, c]` probabilities.
fn log_loss(probs: &[f64], classes: usize, truth: &[f64]) -> f64 {
    let n = truth.len().max(1) as f64;
    probs
        .chunks(classes)
        .zip(truth)
        .map(|(row, &t)| -row.get(t as usize).copied().unwrap_or(0.0).max(1e-15).ln())
        .sum::<f64>()
        / n
}

fn outputs_of(model: &dyn Model, t: &Table) -> Result<Vec<homeml_flavor::Tensor>> {
    let input = homeml_flavor::Tensor::f64_matrix(t.rows(), t.width(), t.x.clone())?;
    Ok(model.predict(vec![input])?)
}

fn labels_of(out: &[homeml_flavor::Tensor]) -> Result<Vec<i64>> {
    match out.first().map(|t| t.data()) {
        Some(TensorData::I64(v)) => Ok(v.clone()),
        other => Err(anyhow!("expected i64 labels, got {other:?}")),
    }
}

fn f64s_of(out: &[homeml_flavor::Tensor], i: usize) -> Result<Vec<f64>> {
    match out.get(i).map(|t| t.data()) {
        Some(TensorData::F64(v)) => Ok(v.clone()),
        other => Err(anyhow!("expected f64 output {i}, got {other:?}")),
    }
}

/// Iris species with smartcore's multinomial logistic regression, registered as `iris-classifier`.
///
/// smartcore's L-BFGS fit reports no per-iteration loss, so the run logs one step per value of the L2
/// penalty `alpha` tried (steps 0..), with `train_accuracy`, `val_accuracy` and `val_log_loss`, then keeps
/// the best on validation.
pub fn train_iris_logreg(store: &Tracking, opts: &TrainOptions) -> Result<Trained> {
    let name = "iris-classifier";
    let data = Table::parse_csv(IRIS_CSV)?;
    let (train, val) = data.split(opts.val_fraction, opts.seed);
    let run = RunGuard::start(store, "iris-logreg-smartcore", name)?;
    let alphas = [0.0, 0.1, 1.0];
    run.params(&[
        ("library", "smartcore 0.7".into()),
        ("model", "LogisticRegression".into()),
        ("solver", "lbfgs".into()),
        ("alphas", format!("{alphas:?}")),
        ("val_fraction", opts.val_fraction.to_string()),
        ("seed", opts.seed.to_string()),
        ("train_rows", train.rows().to_string()),
        ("val_rows", val.rows().to_string()),
    ])?;
    let mut best: Option<(f64, f64, SmartcorePredictor)> = None;
    for (step, &alpha) in alphas.iter().enumerate() {
        let params = LogisticRegressionParameters::default().with_alpha(alpha);
        let m = LogisticRegression::fit(&train.matrix()?, &train.labels(), params)
            .map_err(|e| anyhow!("logistic regression fit: {e}"))?;
        let p = SmartcorePredictor::new(SmartcoreModel::LogisticRegression(m), train.width())?;
        let train_acc = accuracy(&labels_of(&outputs_of(&p, &train)?)?, &train.y);
        let out = outputs_of(&p, &val)?;
        let val_acc = accuracy(&labels_of(&out)?, &val.y);
        let val_loss = log_loss(&f64s_of(&out, 1)?, 3, &val.y);
        run.metric("train_accuracy", train_acc, step as i64)?;
        run.metric("val_accuracy", val_acc, step as i64)?;
        run.metric("val_log_loss", val_loss, step as i64)?;
        if best.as_ref().is_none_or(|(_, l, _)| val_loss < *l) {
            best = Some((alpha, val_loss, p));
        }
    }
    let (alpha, _, p) = best.ok_or_else(|| anyhow!("no model was fitted"))?;
    run.params(&[("alpha", alpha.to_string())])?;
    let out = outputs_of(&p, &val)?;
    let labels = labels_of(&out)?;
    let val_acc = accuracy(&labels, &val.y);
    run.metric("best_val_accuracy", val_acc, 0)?;
    let sig = classifier_signature(&train, Some(3));
    let example = val.example(3);
    let version = run.log_and_register(
        name,
        |dir| {
            homeml_smartcore::save_model(dir, p.model(), &sig, Some(&example))?;
            Ok(())
        },
        &val,
        json!({"label": labels, "probabilities": f64s_of(&out, 1)?}),
    )?;
    Ok(Trained {
        name: name.into(),
        version,
        run_id: run.finish()?,
        headline: ("val_accuracy".into(), val_acc),
    })
}

/// Iris species with a smartcore random forest, registered as `iris-random-forest`.
pub fn train_iris_random_forest(store: &Tracking, opts: &TrainOptions) -> Result<Trained> {
    let name = "iris-random-forest";
    let data = Table::parse_csv(IRIS_CSV)?;
    let (train, val) = data.split(opts.val_fraction, opts.seed);
    let run = RunGuard::start(store, "iris-random-forest-smartcore", name)?;
    let max_depth = 6u16;
    run.params(&[
        ("library", "smartcore 0.7".into()),
        ("model", "RandomForestClassifier".into()),
        ("n_trees", opts.n_trees.to_string()),
        ("max_depth", max_depth.to_string()),
        ("seed", opts.seed.to_string()),
        ("val_fraction", opts.val_fraction.to_string()),
    ])?;
    let params = RandomForestClassifierParameters::default()
        .with_n_trees(opts.n_trees)
        .with_max_depth(max_depth)
        .with_seed(opts.seed);
    let m = RandomForestClassifier::fit(&train.matrix()?, &train.labels(), params)
        .map_err(|e| anyhow!("random forest fit: {e}"))?;
    let p = SmartcorePredictor::new(SmartcoreModel::RandomForestClassifier(m), train.width())?;
    let train_acc = accuracy(&labels_of(&outputs_of(&p, &train)?)?, &train.y);
    let labels = labels_of(&outputs_of(&p, &val)?)?;
    let val_acc = accuracy(&labels, &val.y);
    run.metric("train_accuracy", train_acc, 0)?;
    run.metric("val_accuracy", val_acc, 0)?;
    let sig = classifier_signature(&train, None);
    let example = val.example(3);
    let version = run.log_and_register(
        name,
        |dir| {
            homeml_smartcore::save_model(dir, p.model(), &sig, Some(&example))?;
            Ok(())
        },
        &val,
        json!({ "label": labels }),
    )?;
    Ok(Trained {
        name: name.into(),
        version,
        run_id: run.finish()?,
        headline: ("val_accuracy".into(), val_acc),
    })
}

/// Diabetes progression with a smartcore random forest regressor, registered as `diabetes-regressor`.
pub fn train_diabetes_regressor(store: &Tracking, opts: &TrainOptions) -> Result<Trained> {
    let name = "diabetes-regressor";
    let data = Table::parse_csv(DIABETES_CSV)?;
    let (train, val) = data.split(opts.val_fraction, opts.seed);
    let run = RunGuard::start(store, "diabetes-random-forest-smartcore", name)?;
    let max_depth = 8u16;
    run.params(&[
        ("library", "smartcore 0.7".into()),
        ("model", "RandomForestRegressor".into()),
        ("n_trees", opts.n_trees.to_string()),
        ("max_depth", max_depth.to_string()),
        ("seed", opts.seed.to_string()),
        ("val_fraction", opts.val_fraction.to_string()),
    ])?;
    let params = RandomForestRegressorParameters::default()
        .with_n_trees(opts.n_trees as usize)
        .with_max_depth(max_depth)
        .with_seed(opts.seed);
    let m = RandomForestRegressor::fit(&train.matrix()?, &train.y, params)
        .map_err(|e| anyhow!("random forest fit: {e}"))?;
    let p = SmartcorePredictor::new(SmartcoreModel::RandomForestRegressor(m), train.width())?;
    let train_pred = f64s_of(&outputs_of(&p, &train)?, 0)?;
    let val_pred = f64s_of(&outputs_of(&p, &val)?, 0)?;
    let (train_rmse, _, _) = regression_metrics(&train_pred, &train.y);
    let (val_rmse, val_mae, val_r2) = regression_metrics(&val_pred, &val.y);
    run.metric("train_rmse", train_rmse, 0)?;
    run.metric("val_rmse", val_rmse, 0)?;
    run.metric("val_mae", val_mae, 0)?;
    run.metric("val_r2", val_r2, 0)?;
    let sig = Signature::new(
        Schema::columns(&train.column_refs(), ColumnType::Double),
        Schema::Tensors(vec![tensor_spec("prediction", DType::F64, vec![-1])]),
    );
    let example = val.example(3);
    let version = run.log_and_register(
        name,
        |dir| {
            homeml_smartcore::save_model(dir, p.model(), &sig, Some(&example))?;
            Ok(())
        },
        &val,
        json!({ "prediction": val_pred }),
    )?;
    Ok(Trained {
        name: name.into(),
        version,
        run_id: run.finish()?,
        headline: ("val_rmse".into(), val_rmse),
    })
}

/// (rmse, mae, r2).
fn regression_metrics(pred: &[f64], truth: &[f64]) -> (f64, f64, f64) {
    let n = truth.len().max(1) as f64;
    let mean = truth.iter().sum::<f64>() / n;
    let sse: f64 = pred.iter().zip(truth).map(|(p, t)| (p - t) * (p - t)).sum();
    let sst: f64 = truth.iter().map(|t| (t - mean) * (t - mean)).sum();
    let mae = pred
        .iter()
        .zip(truth)
        .map(|(p, t)| (p - t).abs())
        .sum::<f64>()
        / n;
    (
        (sse / n).sqrt(),
        mae,
        if sst > 0.0 { 1.0 - sse / sst } else { 0.0 },
    )
}

/// Iris species with linfa's multinomial logistic regression, registered as `iris-linfa`.
///
/// Logs one step per 10 L-BFGS iterations (`train_accuracy`, `val_accuracy`, `val_log_loss`): the model
/// is refitted from scratch with 10, 20, ... iterations, the curve a per-epoch log would show.
pub fn train_iris_linfa(store: &Tracking, opts: &TrainOptions) -> Result<Trained> {
    let name = "iris-linfa";
    let data = Table::parse_csv(IRIS_CSV)?;
    let (train, val) = data.split(opts.val_fraction, opts.seed);
    let run = RunGuard::start(store, "iris-logreg-linfa", name)?;
    let max_iterations = 100u64;
    run.params(&[
        ("library", "linfa 0.8".into()),
        ("model", "MultiLogisticRegression".into()),
        ("max_iterations", max_iterations.to_string()),
        ("alpha", "1.0".into()),
        ("seed", opts.seed.to_string()),
        ("val_fraction", opts.val_fraction.to_string()),
    ])?;
    let x = Array2::from_shape_vec((train.rows(), train.width()), train.x.clone())?;
    let y: Array1<usize> = train.y.iter().map(|&v| v as usize).collect();
    let ds = LinfaDataset::new(x, y);
    let mut last = None;
    for (step, iters) in (10..=max_iterations).step_by(10).enumerate() {
        let fitted = MultiLogisticRegression::default()
            .max_iterations(iters)
            .fit(&ds)
            .map_err(|e| anyhow!("linfa logistic regression fit: {e}"))?;
        let p = LinfaPredictor::new(LinfaModel::LogisticRegression(fitted), train.width())?;
        let train_acc = accuracy(&labels_of(&outputs_of(&p, &train)?)?, &train.y);
        let out = outputs_of(&p, &val)?;
        run.metric("train_accuracy", train_acc, step as i64)?;
        run.metric(
            "val_accuracy",
            accuracy(&labels_of(&out)?, &val.y),
            step as i64,
        )?;
        run.metric(
            "val_log_loss",
            log_loss(&f64s_of(&out, 1)?, 3, &val.y),
            step as i64,
        )?;
        last = Some(p);
    }
    let p = last.ok_or_else(|| anyhow!("no model was fitted"))?;
    let out = outputs_of(&p, &val)?;
    let labels = labels_of(&out)?;
    let val_acc = accuracy(&labels, &val.y);
    let sig = classifier_signature(&train, Some(3));
    let example = val.example(3);
    let version = run.log_and_register(
        name,
        |dir| {
            homeml_linfa::save_model(dir, p.model(), &sig, Some(&example))?;
            Ok(())
        },
        &val,
        json!({"label": labels, "probabilities": f64s_of(&out, 1)?}),
    )?;
    Ok(Trained {
        name: name.into(),
        version,
        run_id: run.finish()?,
        headline: ("val_accuracy".into(), val_acc),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_shipped_csvs_and_splits_reproducibly() {
        let iris = Table::parse_csv(IRIS_CSV).unwrap();
        assert_eq!((iris.rows(), iris.width()), (150, 4));
        assert_eq!(iris.columns[0], "sepal_length");
        let d = Table::parse_csv(DIABETES_CSV).unwrap();
        assert_eq!((d.rows(), d.width()), (442, 10));
        let (a, b) = iris.split(0.2, 42);
        let (c, _) = iris.split(0.2, 42);
        assert_eq!((a.rows(), b.rows()), (120, 30));
        assert_eq!(a.x, c.x);
        assert!(Table::parse_csv("a,b\n1,x\n").is_err());
    }

    #[test]
    fn examples_log_register_and_alias() {
        let tmp = std::env::temp_dir().join(format!("homeml-train-test-{}", std::process::id()));
        let store = Tracking::File(homeml_tracking::Store::open(tmp.to_string_lossy()).unwrap());
        let opts = TrainOptions {
            n_trees: 5,
            ..TrainOptions::default()
        };
        let t = train_iris_logreg(&store, &opts).unwrap();
        assert!(t.headline.1 > 0.85, "{t:?}");
        let again = train_iris_logreg(&store, &opts).unwrap();
        assert_eq!(again.version, t.version + 1);
        let rf = train_iris_random_forest(&store, &opts).unwrap();
        assert!(rf.headline.1 > 0.85, "{rf:?}");
        let d = train_diabetes_regressor(&store, &opts).unwrap();
        assert!(d.headline.1 < 80.0, "{d:?}");
        let l = train_iris_linfa(&store, &opts).unwrap();
        assert!(l.headline.1 > 0.85, "{l:?}");
        let Tracking::File(file) = &store else {
            unreachable!("a file store")
        };
        let resolved = file
            .resolve_model_uri("models:/iris-classifier@champion")
            .unwrap();
        assert!(resolved.path.join("MLmodel").exists());
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
