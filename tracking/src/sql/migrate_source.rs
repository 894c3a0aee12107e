//! The reading side of `homeml tracking migrate`: an MLflow file store (`mlruns/`) turned into the
//! rows MLflow's schema holds, one experiment (or the whole registry) at a time, as
//! `mlflow migrate-filestore` (MLflow 3.17.2, `mlflow/store/fs2db`) maps them: run statuses as
//! names, NaN metric values as `0.0` with `is_nan`, infinities as ±`f64::MAX`, model inputs and run
//! outputs as `inputs` rows, random `dataset_uuid`/`input_uuid`s (the file store keeps none).
//!
//! Unlike MLflow, an unreadable meta file or a malformed metric line is an error (naming the file)
//! instead of a warning and a silently missing object, and rows that repeat a primary key (the same
//! metric value logged twice at one timestamp and step) are kept once instead of failing the whole
//! copy.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::common::Val;
use crate::error::{Result, TrackingError};
use crate::fsx;
use crate::meta::Meta;

/// A table the migration writes, with its columns in insert order and its primary key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Table {
    Experiments,
    ExperimentTags,
    Runs,
    Params,
    Tags,
    Metrics,
    LatestMetrics,
    Datasets,
    Inputs,
    InputTags,
    LoggedModels,
    LoggedModelParams,
    LoggedModelTags,
    LoggedModelMetrics,
    RegisteredModels,
    RegisteredModelTags,
    ModelVersions,
    ModelVersionTags,
    RegisteredModelAliases,
}

impl Table {
    /// Every table, in an order that satisfies the foreign keys.
    pub(crate) const ALL: [Table; 19] = [
        Table::Experiments,
        Table::ExperimentTags,
        Table::Runs,
        Table::Params,
        Table::Tags,
        Table::Metrics,
        Table::LatestMetrics,
        Table::Datasets,
        Table::Inputs,
        Table::InputTags,
        Table::LoggedModels,
        Table::LoggedModelParams,
        Table::LoggedModelTags,
        Table::LoggedModelMetrics,
        Table::RegisteredModels,
        Table::RegisteredModelTags,
        Table::ModelVersions,
        Table::ModelVersionTags,
        Table::RegisteredModelAliases,
    ];

    /// The table's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Experiments => "experiments",
            Table::ExperimentTags => "experiment_tags",
            Table::Runs => "runs",
            Table::Params => "params",
            Table::Tags => "tags",
            Table::Metrics => "metrics",
            Table::LatestMetrics => "latest_metrics",
            Table::Datasets => "datasets",
            Table::Inputs => "inputs",
            Table::InputTags => "input_tags",
            Table::LoggedModels => "logged_models",
            Table::LoggedModelParams => "logged_model_params",
            Table::LoggedModelTags => "logged_model_tags",
            Table::LoggedModelMetrics => "logged_model_metrics",
            Table::RegisteredModels => "registered_models",
            Table::RegisteredModelTags => "registered_model_tags",
            Table::ModelVersions => "model_versions",
            Table::ModelVersionTags => "model_version_tags",
            Table::RegisteredModelAliases => "registered_model_aliases",
        }
    }

    /// The columns written, in the order of a row's values (the others keep their defaults).
    pub(crate) fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Experiments => &[
                "experiment_id",
                "name",
                "artifact_location",
                "lifecycle_stage",
                "creation_time",
                "last_update_time",
            ],
            Table::ExperimentTags => &["key", "value", "experiment_id"],
            Table::Runs => &[
                "run_uuid",
                "name",
                "source_type",
                "source_name",
                "entry_point_name",
                "user_id",
                "status",
                "start_time",
                "end_time",
                "deleted_time",
                "source_version",
                "lifecycle_stage",
                "artifact_uri",
                "experiment_id",
            ],
            Table::Params | Table::Tags => &["key", "value", "run_uuid"],
            Table::Metrics | Table::LatestMetrics => {
                &["key", "value", "timestamp", "step", "is_nan", "run_uuid"]
            }
            Table::Datasets => &[
                "dataset_uuid",
                "experiment_id",
                "name",
                "digest",
                "dataset_source_type",
                "dataset_source",
                "dataset_schema",
                "dataset_profile",
            ],
            Table::Inputs => &[
                "input_uuid",
                "source_type",
                "source_id",
                "destination_type",
                "destination_id",
                "step",
            ],
            Table::InputTags => &["input_uuid", "name", "value"],
            Table::LoggedModels => &[
                "model_id",
                "experiment_id",
                "name",
                "artifact_location",
                "creation_timestamp_ms",
                "last_updated_timestamp_ms",
                "status",
                "lifecycle_stage",
                "model_type",
                "source_run_id",
                "status_message",
            ],
            Table::LoggedModelParams => &["model_id", "experiment_id", "param_key", "param_value"],
            Table::LoggedModelTags => &["model_id", "experiment_id", "tag_key", "tag_value"],
            Table::LoggedModelMetrics => &[
                "model_id",
                "metric_name",
                "metric_timestamp_ms",
                "metric_step",
                "metric_value",
                "experiment_id",
                "run_id",
                "dataset_uuid",
                "dataset_name",
                "dataset_digest",
            ],
            Table::RegisteredModels => {
                &["name", "creation_time", "last_updated_time", "description"]
            }
            Table::RegisteredModelTags => &["key", "value", "name"],
            Table::ModelVersions => &[
                "name",
                "version",
                "creation_time",
                "last_updated_time",
                "description",
                "user_id",
                "current_stage",
                "source",
                "storage_location",
                "run_id",
                "run_link",
                "status",
                "status_message",
            ],
            Table::ModelVersionTags => &["key", "value", "name", "version"],
            Table::RegisteredModelAliases => &["name", "alias", "version"],
        }
    }

    /// The positions (in [`Table::columns`]) of the primary key.
    fn key(self) -> &'static [usize] {
        match self {
            Table::Experiments | Table::Runs | Table::LoggedModels | Table::RegisteredModels => {
                &[0]
            }
            Table::ExperimentTags | Table::Params | Table::Tags => &[0, 2],
            Table::Metrics => &[0, 1, 2, 3, 4, 5],
            Table::LatestMetrics => &[0, 5],
            Table::Datasets => &[1, 2, 3],
            Table::Inputs => &[1, 2, 3, 4],
            Table::InputTags => &[0, 1],
            Table::LoggedModelParams | Table::LoggedModelTags => &[0, 2],
            Table::LoggedModelMetrics => &[0, 1, 2, 3, 6],
            Table::RegisteredModelTags => &[0, 2],
            Table::ModelVersions | Table::RegisteredModelAliases => &[0, 1],
            Table::ModelVersionTags => &[0, 2, 3],
        }
    }
}

/// Rows to insert, per table, each primary key once.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    pub(crate) by_table: BTreeMap<Table, Vec<Vec<Val>>>,
    seen: HashSet<(Table, String)>,
    /// Rows left out because they repeated a primary key.
    pub(crate) duplicates: u64,
}

impl Rows {
    /// Adds a row; false (and nothing added) when its primary key is there already.
    fn push(&mut self, t: Table, row: Vec<Val>) -> bool {
        let key: Vec<&Val> = t.key().iter().filter_map(|i| row.get(*i)).collect();
        if !self.seen.insert((t, format!("{key:?}"))) {
            self.duplicates += 1;
            return false;
        }
        self.by_table.entry(t).or_default().push(row);
        true
    }

    /// How many rows of `t`.
    pub(crate) fn count(&self, t: Table) -> u64 {
        self.by_table.get(&t).map_or(0, |v| v.len() as u64)
    }
}

/// An experiment folder of the store (active, or deleted under `.trash`).
#[derive(Debug, Clone)]
pub(crate) struct ExperimentDir {
    /// The id (the folder's name, an integer).
    pub(crate) id: i64,
    /// The folder.
    pub(crate) dir: PathBuf,
}

/// The folder that holds the experiments: `<source>/mlruns` when there is one, else `source` when
/// it looks like a store (numbered folders, `.trash` or `models`), as MLflow resolves it.
pub(crate) fn resolve_mlruns(source: &Path) -> Result<PathBuf> {
    let nested = source.join("mlruns");
    if nested.is_dir() {
        return Ok(nested);
    }
    let looks = fsx::list_names(source)?.iter().any(|(name, is_dir)| {
        *is_dir && (name.parse::<i64>().is_ok() || name == ".trash" || name == "models")
    });
    if looks {
        return Ok(source.to_path_buf());
    }
    Err(TrackingError::BadStore {
        path: source.to_path_buf(),
        reason: "no mlruns folder and no experiment folders in it: not an MLflow file store".into(),
    })
}

fn numbered(dir: &Path) -> Result<Vec<ExperimentDir>> {
    let mut out: Vec<ExperimentDir> = fsx::list_names(dir)?
        .into_iter()
        .filter(|(_, is_dir)| *is_dir)
        .filter_map(|(name, _)| {
            let id = name.parse::<i64>().ok()?;
            Some(ExperimentDir {
                id,
                dir: dir.join(name),
            })
        })
        .collect();
    out.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(out)
}

/// The experiments in MLflow's order: the active ones by folder name, then the deleted ones.
pub(crate) fn experiments(mlruns: &Path) -> Result<Vec<ExperimentDir>> {
    let mut out = numbered(mlruns)?;
    out.extend(numbered(&mlruns.join(".trash"))?);
    Ok(out)
}

/// The registered models' folders (`<mlruns>/models/<name>`).
pub(crate) fn registered_models(mlruns: &Path) -> Result<Vec<PathBuf>> {
    let dir = mlruns.join("models");
    Ok(subdirs(&dir)?.into_iter().map(|n| dir.join(n)).collect())
}

fn subdirs(dir: &Path) -> Result<Vec<String>> {
    Ok(fsx::list_names(dir)?
        .into_iter()
        .filter(|(_, d)| *d)
        .map(|(n, _)| n)
        .collect())
}

/// Folders of an experiment that are not runs.
const RESERVED: [&str; 5] = ["tags", "datasets", "traces", "models", ".trash"];

/// A meta file that must parse; `None` when it is missing.
fn meta(dir: &Path, kind: &'static str) -> Result<Option<Meta>> {
    Meta::read_opt(&dir.join("meta.yaml"), kind)
}

/// A field as text: missing → `default`, null → NULL, numbers and booleans as Python's `str`.
fn text(m: &Meta, key: &str, default: Option<&str>) -> Val {
    match m.0.get(key) {
        None => default.map_or(Val::Null, Val::from),
        Some(v) => value_text(v),
    }
}

fn value_text(v: &Value) -> Val {
    match v {
        Value::Null => Val::Null,
        Value::String(s) => Val::Text(s.clone()),
        Value::Bool(b) => Val::Text(if *b { "True" } else { "False" }.into()),
        Value::Number(n) => Val::Text(n.to_string()),
        other => Val::Text(other.to_string()),
    }
}

/// A field as an integer: missing → `default`, null → NULL.
fn int(m: &Meta, key: &str, default: Option<i64>) -> Val {
    match m.0.get(key) {
        None => default.map_or(Val::Null, Val::Int),
        Some(Value::Null) => Val::Null,
        Some(_) => m.int(key).map_or_else(|| text(m, key, None), Val::Int),
    }
}

/// `text` with Python's `a or b`: an empty or missing value falls through to the next key.
fn first_text(m: &Meta, keys: &[&str]) -> Val {
    for k in keys {
        if let Val::Text(s) = text(m, k, None) {
            if !s.is_empty() {
                return Val::Text(s);
            }
        }
    }
    Val::Null
}

fn corrupt(path: &Path, message: String) -> TrackingError {
    TrackingError::Corrupt {
        kind: "metric",
        path: path.to_path_buf(),
        message,
    }
}

/// A metric file's lines under `dir` (keys with `/` for sub-folders).
fn metric_files(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    fsx::for_each_file_rec(
        &mut fsx::Reader::new(),
        fsx::OpenDir::open(dir)?,
        |k, t, _| {
            out.push((k, t.to_owned()));
            Ok(())
        },
    )?;
    Ok(out)
}

fn run_metrics(rows: &mut Rows, dir: &Path, run_id: &str) -> Result<()> {
    for (key, body) in metric_files(dir)? {
        let path = dir.join(&key);
        // The latest value: the greatest (step, timestamp, value), the first of equals.
        let mut latest: Option<(i64, i64, f64, bool)> = None;
        for line in body.lines() {
            // The file store's own reader of a metric line, so that what is copied is what the
            // file store (and the check after the copy) reads.
            let point = crate::metrics::parse_line(line)
                .ok_or_else(|| corrupt(&path, format!("malformed metric line {line:?}")))?;
            let (ts, step) = (point.timestamp, point.step);
            let (value, is_nan) = super::common::sanitize(point.value);
            rows.push(
                Table::Metrics,
                vec![
                    key.as_str().into(),
                    value.into(),
                    ts.into(),
                    step.into(),
                    is_nan.into(),
                    run_id.into(),
                ],
            );
            let newer = match latest {
                None => true,
                Some((s, t, v, _)) => {
                    (step, ts, value).partial_cmp(&(s, t, v)) == Some(std::cmp::Ordering::Greater)
                }
            };
            if newer {
                latest = Some((step, ts, value, is_nan));
            }
        }
        if let Some((step, ts, value, is_nan)) = latest {
            rows.push(
                Table::LatestMetrics,
                vec![
                    key.as_str().into(),
                    value.into(),
                    ts.into(),
                    step.into(),
                    is_nan.into(),
                    run_id.into(),
                ],
            );
        }
    }
    Ok(())
}

/// MLflow's `RunStatus.to_string` of the file store's numbers.
fn run_status(m: &Meta) -> Val {
    match m.0.get("status") {
        None => "RUNNING".into(),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(1) => "RUNNING".into(),
            Some(2) => "SCHEDULED".into(),
            Some(3) => "FINISHED".into(),
            Some(4) => "FAILED".into(),
            Some(5) => "KILLED".into(),
            _ => Val::Text(n.to_string()),
        },
        Some(Value::Null) => "None".into(),
        Some(v) => value_text(v),
    }
}

fn run(rows: &mut Rows, run_dir: &Path, exp_id: i64) -> Result<Option<String>> {
    let Some(m) = meta(run_dir, "run")? else {
        return Ok(None);
    };
    let Val::Text(run_id) = first_text(&m, &["run_uuid", "run_id"]) else {
        return Err(TrackingError::Corrupt {
            kind: "run",
            path: run_dir.join("meta.yaml"),
            message: "no run_uuid or run_id".into(),
        });
    };
    let source_type = match m.0.get("source_type") {
        Some(Value::String(s)) => s.clone(),
        _ => "LOCAL".into(),
    };
    rows.push(
        Table::Runs,
        vec![
            run_id.as_str().into(),
            first_text(&m, &["run_name", "name"]),
            source_type.into(),
            text(&m, "source_name", Some("")),
            text(&m, "entry_point_name", Some("")),
            text(&m, "user_id", None),
            run_status(&m),
            int(&m, "start_time", None),
            int(&m, "end_time", None),
            int(&m, "deleted_time", None),
            text(&m, "source_version", Some("")),
            text(&m, "lifecycle_stage", Some("active")),
            text(&m, "artifact_uri", None),
            exp_id.into(),
        ],
    );
    for (table, folder) in [(Table::Params, "params"), (Table::Tags, "tags")] {
        for (k, v) in fsx::read_kv_dir(&run_dir.join(folder))? {
            rows.push(table, vec![k.into(), v.into(), run_id.as_str().into()]);
        }
    }
    run_metrics(rows, &run_dir.join("metrics"), &run_id)?;
    Ok(Some(run_id))
}

fn datasets_and_inputs(rows: &mut Rows, exp: &ExperimentDir) -> Result<()> {
    let ds_dir = exp.dir.join("datasets");
    let mut uuids: HashMap<String, String> = HashMap::new();
    for name in subdirs(&ds_dir)? {
        let Some(m) = meta(&ds_dir.join(&name), "dataset")? else {
            continue;
        };
        let uuid = match text(&m, "dataset_uuid", None) {
            Val::Text(s) if !s.is_empty() => s,
            _ => uuid::Uuid::new_v4().to_string(),
        };
        uuids.insert(name, uuid.clone());
        rows.push(
            Table::Datasets,
            vec![
                uuid.into(),
                exp.id.into(),
                text(&m, "name", Some("")),
                text(&m, "digest", Some("")),
                text(&m, "source_type", Some("")),
                text(&m, "source", Some("")),
                text(&m, "schema", None),
                text(&m, "profile", None),
            ],
        );
    }
    for run_id in subdirs(&exp.dir)? {
        if RESERVED.contains(&run_id.as_str()) {
            continue;
        }
        let inputs = exp.dir.join(&run_id).join("inputs");
        for name in subdirs(&inputs)? {
            let Some(m) = meta(&inputs.join(&name), "run input")? else {
                continue;
            };
            let source_id = match text(&m, "source_id", Some("")) {
                Val::Text(s) => s,
                _ => String::new(),
            };
            let input_uuid = uuid::Uuid::new_v4().to_string();
            let row: Vec<Val> = match text(&m, "source_type", Some("DATASET")) {
                Val::Text(t) if t == "DATASET" => {
                    let Some(ds) = uuids.get(&source_id) else {
                        continue;
                    };
                    vec![
                        input_uuid.as_str().into(),
                        "DATASET".into(),
                        ds.into(),
                        "RUN".into(),
                        run_id.as_str().into(),
                        0i64.into(),
                    ]
                }
                Val::Text(t) if t == "MODEL" => vec![
                    input_uuid.as_str().into(),
                    "RUN_INPUT".into(),
                    run_id.as_str().into(),
                    "MODEL_INPUT".into(),
                    source_id.into(),
                    0i64.into(),
                ],
                _ => continue,
            };
            if !rows.push(Table::Inputs, row) {
                continue;
            }
            if let Some(Value::Object(tags)) = m.0.get("tags") {
                for (k, v) in tags {
                    let v = match value_text(v) {
                        Val::Null => Val::Text("None".into()),
                        v => v,
                    };
                    rows.push(
                        Table::InputTags,
                        vec![input_uuid.as_str().into(), k.as_str().into(), v],
                    );
                }
            }
        }
        let outputs = exp.dir.join(&run_id).join("outputs");
        for model_id in subdirs(&outputs)? {
            let Some(m) = meta(&outputs.join(&model_id), "run output")? else {
                continue;
            };
            rows.push(
                Table::Inputs,
                vec![
                    uuid::Uuid::new_v4().to_string().into(),
                    "RUN_OUTPUT".into(),
                    run_id.as_str().into(),
                    "MODEL_OUTPUT".into(),
                    model_id.into(),
                    int(&m, "step", Some(0)),
                ],
            );
        }
    }
    Ok(())
}

/// A logged model's status as MLflow's number (names too, which MLflow's own copy cannot read).
fn logged_model_status(m: &Meta) -> i64 {
    match m.0.get("status") {
        None => 1,
        Some(Value::String(s)) => {
            let name = s.trim_start_matches("LOGGED_MODEL_");
            match name {
                "UNSPECIFIED" | "STATUS_UNSPECIFIED" => 0,
                "PENDING" => 1,
                "READY" => 2,
                "FAILED" | "UPLOAD_FAILED" => 3,
                other => other.parse().unwrap_or(1),
            }
        }
        Some(_) => m.int("status").unwrap_or(1),
    }
}

fn logged_models(rows: &mut Rows, exp: &ExperimentDir) -> Result<()> {
    let dir = exp.dir.join("models");
    for name in subdirs(&dir)? {
        let model_dir = dir.join(&name);
        let Some(m) = meta(&model_dir, "logged model")? else {
            continue;
        };
        let model_id = match text(&m, "model_id", Some(&name)) {
            Val::Text(s) => s,
            _ => name.clone(),
        };
        rows.push(
            Table::LoggedModels,
            vec![
                model_id.as_str().into(),
                exp.id.into(),
                text(&m, "name", Some("")),
                text(&m, "artifact_location", Some("")),
                int(&m, "creation_timestamp", Some(0)),
                int(&m, "last_updated_timestamp", Some(0)),
                logged_model_status(&m).into(),
                text(&m, "lifecycle_stage", Some("active")),
                text(&m, "model_type", None),
                text(&m, "source_run_id", None),
                text(&m, "status_message", None),
            ],
        );
        for (table, folder) in [
            (Table::LoggedModelParams, "params"),
            (Table::LoggedModelTags, "tags"),
        ] {
            for (k, v) in fsx::read_kv_dir(&model_dir.join(folder))? {
                rows.push(
                    table,
                    vec![model_id.as_str().into(), exp.id.into(), k.into(), v.into()],
                );
            }
        }
        for (key, body) in metric_files(&model_dir.join("metrics"))? {
            for line in body.lines() {
                let parts: Vec<&str> = line.trim().split(' ').collect();
                let (ts, val, step, run_id, ds_name, ds_digest) = match parts.as_slice() {
                    [ts, val, step, run] => (*ts, *val, *step, *run, None, None),
                    [ts, val, step, run, n, d] => (*ts, *val, *step, *run, Some(*n), Some(*d)),
                    _ => {
                        tracing::warn!(model = %model_id, key = %key, line = %line, "skipping a malformed logged model metric line, as MLflow does");
                        continue;
                    }
                };
                let path = model_dir.join("metrics").join(&key);
                let bad = || corrupt(&path, format!("malformed metric line {line:?}"));
                let ts: i64 = ts.parse().map_err(|_| bad())?;
                let step: i64 = step.parse().map_err(|_| bad())?;
                let value = crate::util::parse_py_float(val).ok_or_else(bad)?;
                rows.push(
                    Table::LoggedModelMetrics,
                    vec![
                        model_id.as_str().into(),
                        key.as_str().into(),
                        ts.into(),
                        step.into(),
                        value.into(),
                        exp.id.into(),
                        run_id.into(),
                        Val::Null,
                        ds_name.into(),
                        ds_digest.into(),
                    ],
                );
            }
        }
    }
    Ok(())
}

/// One experiment's rows: `None` when its folder has no meta file (skipped, with its runs).
#[derive(Debug)]
pub(crate) struct ExperimentRows {
    /// The rows.
    pub(crate) rows: Rows,
    /// Its runs' ids.
    pub(crate) run_ids: Vec<String>,
}

/// How many traces an experiment has (folders under `traces/`; not copied).
pub(crate) fn trace_count(exp: &ExperimentDir) -> Result<usize> {
    Ok(subdirs(&exp.dir.join("traces"))?.len())
}

/// Reads one experiment with its runs, datasets, inputs, outputs and logged models.
pub(crate) fn read_experiment(exp: &ExperimentDir) -> Result<Option<ExperimentRows>> {
    let Some(m) = meta(&exp.dir, "experiment")? else {
        tracing::warn!(folder = %exp.dir.display(), "skipping an experiment folder without meta.yaml");
        return Ok(None);
    };
    let mut rows = Rows::default();
    rows.push(
        Table::Experiments,
        vec![
            exp.id.into(),
            text(&m, "name", Some(&format!("experiment_{}", exp.id))),
            text(&m, "artifact_location", None),
            text(&m, "lifecycle_stage", Some("active")),
            int(&m, "creation_time", None),
            int(&m, "last_update_time", None),
        ],
    );
    for (k, v) in fsx::read_kv_dir(&exp.dir.join("tags"))? {
        rows.push(
            Table::ExperimentTags,
            vec![k.into(), v.into(), exp.id.into()],
        );
    }
    let mut run_ids = Vec::new();
    for name in subdirs(&exp.dir)? {
        if RESERVED.contains(&name.as_str()) || !exp.dir.join(&name).join("meta.yaml").is_file() {
            continue;
        }
        if let Some(id) = run(&mut rows, &exp.dir.join(&name), exp.id)? {
            run_ids.push(id);
        }
    }
    datasets_and_inputs(&mut rows, exp)?;
    logged_models(&mut rows, exp)?;
    Ok(Some(ExperimentRows { rows, run_ids }))
}

/// Reads the whole model registry; also returns the registered models' names.
pub(crate) fn read_registry(mlruns: &Path) -> Result<(Rows, Vec<String>)> {
    let mut rows = Rows::default();
    let mut names = Vec::new();
    for dir in registered_models(mlruns)? {
        let Some(m) = meta(&dir, "registered model")? else {
            continue;
        };
        let dir_name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = match text(&m, "name", Some(&dir_name)) {
            Val::Text(s) => s,
            _ => dir_name.clone(),
        };
        names.push(name.clone());
        rows.push(
            Table::RegisteredModels,
            vec![
                name.as_str().into(),
                int(&m, "creation_timestamp", None),
                int(&m, "last_updated_timestamp", None),
                text(&m, "description", None),
            ],
        );
        for (k, v) in fsx::read_kv_dir(&dir.join("tags"))? {
            rows.push(
                Table::RegisteredModelTags,
                vec![k.into(), v.into(), name.as_str().into()],
            );
        }
        for vdir in subdirs(&dir)? {
            if !vdir.starts_with("version-") {
                continue;
            }
            let vpath = dir.join(&vdir);
            let Some(v) = meta(&vpath, "model version")? else {
                continue;
            };
            let version = v.int("version").ok_or_else(|| TrackingError::Corrupt {
                kind: "model version",
                path: vpath.join("meta.yaml"),
                message: "field 'version' is missing or not a number".into(),
            })?;
            rows.push(
                Table::ModelVersions,
                vec![
                    name.as_str().into(),
                    version.into(),
                    int(&v, "creation_timestamp", None),
                    int(&v, "last_updated_timestamp", None),
                    text(&v, "description", None),
                    text(&v, "user_id", None),
                    text(&v, "current_stage", Some("None")),
                    text(&v, "source", None),
                    text(&v, "storage_location", None),
                    text(&v, "run_id", None),
                    text(&v, "run_link", None),
                    text(&v, "status", Some("READY")),
                    text(&v, "status_message", None),
                ],
            );
            for (k, val) in fsx::read_kv_dir(&vpath.join("tags"))? {
                rows.push(
                    Table::ModelVersionTags,
                    vec![k.into(), val.into(), name.as_str().into(), version.into()],
                );
            }
        }
        let aliases = dir.join("aliases");
        for (alias, is_dir) in fsx::list_names(&aliases)? {
            if is_dir {
                continue;
            }
            let body = fsx::read_opt(&aliases.join(&alias))?.unwrap_or_default();
            let Ok(version) = body.trim().parse::<i64>() else {
                continue;
            };
            rows.push(
                Table::RegisteredModelAliases,
                vec![name.as_str().into(), alias.into(), version.into()],
            );
        }
    }
    Ok((rows, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with_metric(body: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("loss"), body).unwrap();
        d
    }

    #[test]
    fn metric_values_are_kept_as_mlflow_keeps_them() {
        let d = dir_with_metric("1 0.5 0\n2 nan 1\n3 inf 2\n4 -inf 3\n5 0.25 3\n5 0.25 3\n");
        let mut rows = Rows::default();
        run_metrics(&mut rows, d.path(), "r").unwrap();
        let values: Vec<(Val, Val)> = rows.by_table[&Table::Metrics]
            .iter()
            .map(|r| (r[1].clone(), r[4].clone()))
            .collect();
        assert_eq!(
            values,
            [
                (Val::Real(0.5), Val::Int(0)),
                (Val::Real(0.0), Val::Int(1)),
                (Val::Real(f64::MAX), Val::Int(0)),
                (Val::Real(f64::MIN), Val::Int(0)),
                (Val::Real(0.25), Val::Int(0)),
            ]
        );
        // The repeated line is kept once; the latest value is the one of the greatest step.
        assert_eq!(rows.duplicates, 1);
        let latest = &rows.by_table[&Table::LatestMetrics];
        assert_eq!(latest.len(), 1);
        assert_eq!(latest[0][1], Val::Real(0.25));
        assert_eq!(latest[0][2], Val::Int(5));
    }

    #[test]
    fn a_malformed_metric_line_names_the_file() {
        let d = dir_with_metric("1 0.5 0\nnot a metric\n");
        let err = run_metrics(&mut Rows::default(), d.path(), "r").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("malformed metric line"), "{msg}");
        assert!(msg.contains("loss"), "{msg}");
    }

    #[test]
    fn run_statuses_are_names() {
        for (n, name) in [
            (1, "RUNNING"),
            (2, "SCHEDULED"),
            (3, "FINISHED"),
            (4, "FAILED"),
            (5, "KILLED"),
        ] {
            let m = Meta(
                serde_json::json!({ "status": n })
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            );
            assert_eq!(run_status(&m), Val::Text(name.into()));
        }
    }
}
