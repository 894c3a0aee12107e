//! Runs in `runs`, `params`, `tags`, `metrics` + `latest_metrics`, and their inputs and outputs in
//! `inputs`, `input_tags` and `datasets`, as MLflow's SQL store keeps them.

use std::collections::BTreeMap;

use super::common::{join_uri, marks, sanitize, unsanitize, Row, Val, R};
use super::db::Conn;
use super::experiments::{get_active as get_active_experiment, id_val, view_sql};
use super::handle::SqlStore;
use super::search::{self, KeyTable, Target};
use crate::api::{
    validate, CreateRun, Dataset, DatasetInput, LogBatch, LoggedMetric, ModelOutput, Page,
    RunInputs, SearchRuns, UpdateRun,
};
use crate::entities::{LifecycleStage, MetricValue, Run, RunData, RunInfo, RunStatus};
use crate::error::{Result, TrackingError};
use crate::runs::{TAG_RUN_NAME, TAG_USER};
use crate::search::{parse_filter, Dialect, KeyType};
use crate::util;

/// Most runs one search page holds (MLflow's SEARCH_MAX_RESULTS_THRESHOLD).
const MAX_RUNS_PER_PAGE: usize = 50_000;

const COLS: &str = "r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage, r.deleted_time";

fn info_from_row(r: &Row) -> RunInfo {
    let get = |i: usize| r.get(i).cloned().unwrap_or(Val::Null);
    RunInfo {
        run_id: get(0).text().unwrap_or_default(),
        run_name: get(1).text().unwrap_or_default(),
        experiment_id: get(2).text().unwrap_or_default(),
        user_id: get(3).text().unwrap_or_default(),
        status: get(4)
            .text()
            .and_then(|s| s.parse::<RunStatus>().ok())
            .unwrap_or(RunStatus::Running),
        start_time: get(5).int(),
        end_time: get(6).int(),
        artifact_uri: get(7).text().unwrap_or_default(),
        lifecycle_stage: LifecycleStage::parse(get(8).text().as_deref()),
        deleted_time: get(9).int(),
    }
}

/// The info of run `id`, or not found.
pub(crate) fn get_info(c: &mut Conn, id: &str) -> R<RunInfo> {
    let rows = c.query(
        &format!("SELECT {COLS} FROM runs r WHERE r.run_uuid = ?"),
        &[id.into()],
    )?;
    rows.first()
        .map(info_from_row)
        .ok_or_else(|| TrackingError::not_found("run", id).into())
}

/// The info of run `id`, which must be active.
pub(crate) fn get_active_info(c: &mut Conn, id: &str) -> R<RunInfo> {
    let info = get_info(c, id)?;
    if info.lifecycle_stage != LifecycleStage::Active {
        return Err(TrackingError::InvalidState {
            kind: "run",
            name: id.to_string(),
            reason: "must be in the 'active' state, it is deleted".into(),
        }
        .into());
    }
    Ok(info)
}

/// Full runs (params, tags, latest metrics, outputs) for infos, in their order.
fn with_data(c: &mut Conn, infos: Vec<RunInfo>) -> R<Vec<Run>> {
    if infos.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Val> = infos.iter().map(|i| Val::from(&i.run_id)).collect();
    let m = marks(ids.len());
    let mut data: BTreeMap<String, RunData> = BTreeMap::new();
    for r in c.query(
        &format!("SELECT run_uuid, \"key\", value FROM params WHERE run_uuid IN ({m})"),
        &ids,
    )? {
        if let (Some(id), Some(k)) = (r[0].text(), r[1].text()) {
            data.entry(id)
                .or_default()
                .params
                .insert(k, r[2].text().unwrap_or_default());
        }
    }
    for r in c.query(
        &format!("SELECT run_uuid, \"key\", value FROM tags WHERE run_uuid IN ({m})"),
        &ids,
    )? {
        if let (Some(id), Some(k)) = (r[0].text(), r[1].text()) {
            data.entry(id)
                .or_default()
                .tags
                .insert(k, r[2].text().unwrap_or_default());
        }
    }
    for r in c.query(
        &format!("SELECT run_uuid, \"key\", value, timestamp, step, is_nan FROM latest_metrics WHERE run_uuid IN ({m})"),
        &ids,
    )? {
        if let (Some(id), Some(k)) = (r[0].text(), r[1].text()) {
            data.entry(id).or_default().metrics.insert(
                k,
                // MLflow's SQL `latest_metrics` keeps no dataset (unlike its file store's lines).
                MetricValue::new(
                    unsanitize(r[2].real(), r[5].int()),
                    r[3].int().unwrap_or(0),
                    r[4].int().unwrap_or(0),
                ),
            );
        }
    }
    let mut outputs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in c.query(
        &format!("SELECT source_id, destination_id FROM inputs WHERE source_type = 'RUN_OUTPUT' AND destination_type = 'MODEL_OUTPUT' AND source_id IN ({m}) ORDER BY step, destination_id"),
        &ids,
    )? {
        if let (Some(id), Some(model)) = (r[0].text(), r[1].text()) {
            outputs.entry(id).or_default().push(model);
        }
    }
    Ok(infos
        .into_iter()
        .map(|info| Run {
            data: data.remove(&info.run_id).unwrap_or_default(),
            model_outputs: outputs.remove(&info.run_id).unwrap_or_default(),
            info,
        })
        .collect())
}

/// Run `id` with its data.
pub(crate) fn get_run(c: &mut Conn, id: &str) -> R<Run> {
    let info = get_info(c, id)?;
    Ok(with_data(c, vec![info])?.remove(0))
}

struct RunTarget;

impl Target for RunTarget {
    fn attribute(&self, key: &str) -> Option<String> {
        Some(
            match key {
                "run_id" => "r.run_uuid",
                "run_name" => "r.name",
                "status" => "r.status",
                "user_id" => "r.user_id",
                "artifact_uri" => "r.artifact_uri",
                "lifecycle_stage" => "r.lifecycle_stage",
                "experiment_id" => "r.experiment_id",
                "start_time" => "r.start_time",
                "end_time" => "r.end_time",
                _ => return None,
            }
            .to_string(),
        )
    }
    fn key_table(&self, key_type: KeyType) -> Option<KeyTable> {
        let (table, nan) = match key_type {
            KeyType::Metric => ("latest_metrics", Some("is_nan")),
            KeyType::Param => ("params", None),
            KeyType::Tag => ("tags", None),
            _ => return None,
        };
        Some(KeyTable {
            table,
            link: "k.run_uuid = r.run_uuid",
            key: "\"key\"",
            value: "value",
            nan,
        })
    }
    fn dataset(&self, key: &str) -> Option<(String, &'static str)> {
        let base = "SELECT 1 FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id = r.run_uuid";
        Some(match key {
            "name" => (format!("EXISTS ({base} AND {{cmp}})"), "d.name"),
            "digest" => (format!("EXISTS ({base} AND {{cmp}})"), "d.digest"),
            "context" => (
                "EXISTS (SELECT 1 FROM inputs i JOIN input_tags t ON t.input_uuid = i.input_uuid WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id = r.run_uuid AND t.name = 'mlflow.data.context' AND {cmp})".to_string(),
                "t.value",
            ),
            _ => return None,
        })
    }
}

impl SqlStore {
    pub(crate) fn sql_create_run(&self, req: CreateRun) -> Result<Run> {
        let exp_id = if req.experiment_id.is_empty() {
            crate::DEFAULT_EXPERIMENT_ID.to_string()
        } else {
            req.experiment_id.clone()
        };
        for (k, v) in &req.tags {
            validate::tag(k, v)?;
        }
        let name_tag = req.tags.get(TAG_RUN_NAME).cloned();
        let run_name = req
            .run_name
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| name_tag.clone())
            .unwrap_or_else(util::run_name);
        if let (Some(given), Some(tag)) = (req.run_name.as_deref(), name_tag.as_deref()) {
            if !given.is_empty() && given != tag {
                return Err(TrackingError::InvalidValue {
                    what: "request",
                    reason: format!("Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='{given}', mlflow.runName='{tag}')."),
                });
            }
        }
        let user = req
            .user_id
            .clone()
            .filter(|u| !u.is_empty())
            .or_else(|| req.tags.get(TAG_USER).cloned())
            .unwrap_or_default();
        let start = req.start_time.unwrap_or_else(util::now_ms);
        let mut tags = req.tags.clone();
        tags.entry(TAG_RUN_NAME.into()).or_insert(run_name.clone());
        let run_id = util::hex_id();
        self.write(|c| {
            let exp = get_active_experiment(c, &exp_id)?;
            let artifact_uri = join_uri(&join_uri(&exp.artifact_location, &run_id), "artifacts");
            c.exec(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time) VALUES (?, ?, 'UNKNOWN', '', '', ?, 'RUNNING', ?, NULL, '', 'active', ?, ?, NULL)",
                &[
                    run_id.as_str().into(),
                    run_name.as_str().into(),
                    user.as_str().into(),
                    start.into(),
                    artifact_uri.into(),
                    id_val(&exp_id).into(),
                ],
            )?;
            for (k, v) in &tags {
                c.exec(
                    "INSERT INTO tags (\"key\", value, run_uuid) VALUES (?, ?, ?)",
                    &[k.into(), v.into(), run_id.as_str().into()],
                )?;
            }
            get_run(c, &run_id)
        })
    }

    pub(crate) fn sql_get_run(&self, id: &str) -> Result<Run> {
        self.read(|c| get_run(c, id))
    }

    pub(crate) fn sql_update_run(&self, req: UpdateRun) -> Result<RunInfo> {
        if let Some(name) = req.run_name.as_deref().filter(|n| !n.is_empty()) {
            validate::tag(TAG_RUN_NAME, name)?;
        }
        self.write(|c| {
            let info = get_active_info(c, &req.run_id)?;
            let status = req.status.unwrap_or(info.status);
            let end = req.end_time.or(info.end_time);
            let name = req
                .run_name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or(info.run_name.clone());
            c.exec(
                "UPDATE runs SET status = ?, end_time = ?, name = ? WHERE run_uuid = ?",
                &[
                    status.as_str().into(),
                    end.into(),
                    name.as_str().into(),
                    req.run_id.as_str().into(),
                ],
            )?;
            if req.run_name.as_deref().is_some_and(|n| !n.is_empty()) {
                set_tag(c, &req.run_id, TAG_RUN_NAME, &name)?;
            }
            get_info(c, &req.run_id)
        })
    }

    pub(crate) fn sql_set_run_stage(&self, id: &str, stage: LifecycleStage) -> Result<()> {
        self.write(|c| {
            get_info(c, id)?;
            let deleted: Val = match stage {
                LifecycleStage::Deleted => util::now_ms().into(),
                LifecycleStage::Active => Val::Null,
            };
            c.exec(
                "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_uuid = ?",
                &[stage.as_str().into(), deleted, id.into()],
            )?;
            Ok(())
        })
    }

    pub(crate) fn sql_search_runs(&self, req: &SearchRuns) -> Result<Page<Run>> {
        if req.max_results == 0 || req.max_results > MAX_RUNS_PER_PAGE {
            return Err(search::bad_max_results(req.max_results, MAX_RUNS_PER_PAGE));
        }
        let filter = parse_filter(req.filter.as_deref().unwrap_or(""), Dialect::Runs)
            .map_err(search::search_error)?;
        let orders = search::parse_orders(&req.order_by, Dialect::Runs)?;
        let offset = search::offset(req.page_token.as_deref())?;
        let exp_ids: Vec<Val> = req
            .experiment_ids
            .iter()
            .filter_map(|id| id_val(id))
            .collect();
        let mut params = exp_ids.clone();
        let mut conds = vec![
            format!("r.experiment_id IN ({})", marks(exp_ids.len())),
            view_sql(req.view, "r.lifecycle_stage"),
        ];
        conds.extend(search::where_sql(&RunTarget, &filter, &mut params)?);
        let order = search::order_sql(
            &RunTarget,
            &orders,
            "r.start_time DESC, r.run_uuid ASC",
            &mut params,
        )?;
        params.push(Val::Int((req.max_results + 1) as i64));
        params.push(Val::Int(offset as i64));
        let sql = format!(
            "SELECT {COLS} FROM runs r WHERE {} ORDER BY {order} LIMIT ? OFFSET ?",
            conds.join(" AND ")
        );
        self.read(|c| {
            let infos: Vec<RunInfo> = c.query(&sql, &params)?.iter().map(info_from_row).collect();
            let page = search::page_of(infos, req.max_results, offset);
            Ok(Page {
                items: with_data(c, page.items)?,
                next_page_token: page.next_page_token,
            })
        })
    }

    /// One transaction: params checked against what is stored, metrics inserted (a value logged
    /// twice is kept once) with `latest_metrics` moved forward, tags replaced.
    pub(crate) fn sql_log_batch(&self, run_id: &str, b: &LogBatch) -> Result<()> {
        validate::batch(b)?;
        let uri = self.uri.clone();
        self.write(|c| {
            let info = get_active_info(c, run_id)?;
            for (k, v) in &b.params {
                let old = c.query(
                    "SELECT value FROM params WHERE run_uuid = ? AND \"key\" = ?",
                    &[run_id.into(), k.into()],
                )?;
                match old.first().and_then(|r| r[0].text()) {
                    Some(old) if old != *v => {
                        return Err(TrackingError::ParamChanged {
                            run_id: run_id.into(),
                            key: k.clone(),
                            old,
                            new: v.clone(),
                            path: format!("{uri} (params)").into(),
                        }
                        .into())
                    }
                    Some(_) => {}
                    None => {
                        c.exec(
                            "INSERT INTO params (\"key\", value, run_uuid) VALUES (?, ?, ?)",
                            &[k.into(), v.into(), run_id.into()],
                        )?;
                    }
                }
            }
            log_metrics(c, &info, &b.metrics)?;
            for (k, v) in &b.tags {
                set_tag(c, run_id, k, v)?;
                if k == TAG_RUN_NAME {
                    c.exec(
                        "UPDATE runs SET name = ? WHERE run_uuid = ?",
                        &[v.into(), run_id.into()],
                    )?;
                }
            }
            Ok(())
        })
    }

    pub(crate) fn sql_delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.write(|c| {
            get_active_info(c, run_id)?;
            let n = c.exec(
                "DELETE FROM tags WHERE run_uuid = ? AND \"key\" = ?",
                &[run_id.into(), key.into()],
            )?;
            if n == 0 {
                return Err(TrackingError::not_found("run tag", key).into());
            }
            Ok(())
        })
    }

    pub(crate) fn sql_metric_history(
        &self,
        run_id: &str,
        key: &str,
        max_results: Option<usize>,
        page_token: Option<&str>,
    ) -> Result<Page<LoggedMetric>> {
        let offset = search::offset(page_token)?;
        let mut params: Vec<Val> = vec![run_id.into(), key.into()];
        let mut sql = "SELECT \"key\", value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? AND \"key\" = ? ORDER BY timestamp, step, value, is_nan".to_string();
        if let Some(max) = max_results {
            sql.push_str(" LIMIT ? OFFSET ?");
            params.push(Val::Int(max as i64 + 1));
            params.push(Val::Int(offset as i64));
        }
        self.read(|c| {
            get_info(c, run_id)?;
            let items: Vec<LoggedMetric> = c
                .query(&sql, &params)?
                .iter()
                .map(|r| LoggedMetric {
                    key: r[0].text().unwrap_or_default(),
                    value: unsanitize(r[1].real(), r[4].int()),
                    timestamp: r[2].int().unwrap_or(0),
                    step: r[3].int().unwrap_or(0),
                    model_id: None,
                    dataset_name: None,
                    dataset_digest: None,
                    run_id: Some(run_id.to_string()),
                })
                .collect();
            Ok(match max_results {
                Some(max) => search::page_of(items, max, offset),
                None => Page {
                    items,
                    next_page_token: None,
                },
            })
        })
    }

    pub(crate) fn sql_log_inputs(
        &self,
        run_id: &str,
        datasets: &[DatasetInput],
        model_ids: &[String],
    ) -> Result<()> {
        for m in model_ids {
            crate::names::validate_id("logged model id", m)?;
        }
        self.write(|c| {
            let info = get_active_info(c, run_id)?;
            let exp = id_val(&info.experiment_id);
            for d in datasets {
                let ds = &d.dataset;
                let found = c.query(
                    "SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?",
                    &[exp.clone().into(), ds.name.as_str().into(), ds.digest.as_str().into()],
                )?;
                let dataset_uuid = match found.first().and_then(|r| r[0].text()) {
                    Some(u) => u,
                    None => {
                        let u = util::hex_id();
                        c.exec(
                            "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, dataset_source, dataset_schema, dataset_profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            &[
                                u.as_str().into(),
                                exp.clone().into(),
                                ds.name.as_str().into(),
                                ds.digest.as_str().into(),
                                ds.source_type.as_str().into(),
                                ds.source.as_str().into(),
                                ds.schema.clone().into(),
                                ds.profile.clone().into(),
                            ],
                        )?;
                        u
                    }
                };
                let linked = c.query(
                    "SELECT input_uuid FROM inputs WHERE source_type = 'DATASET' AND source_id = ? AND destination_type = 'RUN' AND destination_id = ?",
                    &[dataset_uuid.as_str().into(), run_id.into()],
                )?;
                if linked.is_empty() {
                    let input_uuid = util::hex_id();
                    c.exec(
                        "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) VALUES (?, 'DATASET', ?, 'RUN', ?, 0)",
                        &[input_uuid.as_str().into(), dataset_uuid.as_str().into(), run_id.into()],
                    )?;
                    for (k, v) in &d.tags {
                        c.exec(
                            "INSERT INTO input_tags (input_uuid, name, value) VALUES (?, ?, ?)",
                            &[input_uuid.as_str().into(), k.into(), v.into()],
                        )?;
                    }
                }
            }
            for m in model_ids {
                c.exec(
                    "DELETE FROM inputs WHERE source_type = 'RUN_INPUT' AND source_id = ? AND destination_type = 'MODEL_INPUT' AND destination_id = ?",
                    &[run_id.into(), m.into()],
                )?;
                c.exec(
                    "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) VALUES (?, 'RUN_INPUT', ?, 'MODEL_INPUT', ?, 0)",
                    &[util::hex_id().into(), run_id.into(), m.into()],
                )?;
            }
            Ok(())
        })
    }

    pub(crate) fn sql_run_inputs(&self, run_id: &str) -> Result<RunInputs> {
        self.read(|c| {
            get_info(c, run_id)?;
            let mut out = RunInputs::default();
            let rows = c.query(
                "SELECT i.input_uuid, d.name, d.digest, d.dataset_source_type, d.dataset_source, d.dataset_schema, d.dataset_profile FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id = ? ORDER BY d.name, d.digest",
                &[run_id.into()],
            )?;
            for r in rows {
                let input_uuid = r[0].text().unwrap_or_default();
                let tags = c
                    .query(
                        "SELECT name, value FROM input_tags WHERE input_uuid = ?",
                        &[input_uuid.into()],
                    )?
                    .into_iter()
                    .filter_map(|t| Some((t[0].text()?, t[1].text().unwrap_or_default())))
                    .collect();
                out.dataset_inputs.push(DatasetInput {
                    dataset: Dataset {
                        name: r[1].text().unwrap_or_default(),
                        digest: r[2].text().unwrap_or_default(),
                        source_type: r[3].text().unwrap_or_default(),
                        source: r[4].text().unwrap_or_default(),
                        schema: r[5].text(),
                        profile: r[6].text(),
                    },
                    tags,
                });
            }
            out.model_inputs = c
                .query(
                    "SELECT destination_id FROM inputs WHERE source_type = 'RUN_INPUT' AND source_id = ? AND destination_type = 'MODEL_INPUT' ORDER BY destination_id",
                    &[run_id.into()],
                )?
                .into_iter()
                .filter_map(|r| r[0].text())
                .collect();
            Ok(out)
        })
    }

    pub(crate) fn sql_log_outputs(&self, run_id: &str, models: &[ModelOutput]) -> Result<()> {
        self.write(|c| {
            get_active_info(c, run_id)?;
            for o in models {
                super::logged_models::get(c, &o.model_id, true)?;
                c.exec(
                    "DELETE FROM inputs WHERE source_type = 'RUN_OUTPUT' AND source_id = ? AND destination_type = 'MODEL_OUTPUT' AND destination_id = ?",
                    &[run_id.into(), o.model_id.as_str().into()],
                )?;
                c.exec(
                    "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) VALUES (?, 'RUN_OUTPUT', ?, 'MODEL_OUTPUT', ?, ?)",
                    &[util::hex_id().into(), run_id.into(), o.model_id.as_str().into(), o.step.into()],
                )?;
            }
            Ok(())
        })
    }
}

/// Replaces a run tag.
fn set_tag(c: &mut Conn, run_id: &str, key: &str, value: &str) -> R<()> {
    c.exec(
        "DELETE FROM tags WHERE run_uuid = ? AND \"key\" = ?",
        &[run_id.into(), key.into()],
    )?;
    c.exec(
        "INSERT INTO tags (\"key\", value, run_uuid) VALUES (?, ?, ?)",
        &[key.into(), value.into(), run_id.into()],
    )?;
    Ok(())
}

/// Inserts metric values (one already stored is skipped, as MLflow does), moves each key's
/// `latest_metrics` row to the highest (step, timestamp, value), and records values logged for a
/// logged model in `logged_model_metrics`.
fn log_metrics(c: &mut Conn, info: &RunInfo, metrics: &[LoggedMetric]) -> R<()> {
    let mut latest: BTreeMap<&str, (i64, i64, f64, bool)> = BTreeMap::new();
    for m in metrics {
        let (value, is_nan) = sanitize(m.value);
        c.exec(
            "INSERT INTO metrics (\"key\", value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &[
                m.key.as_str().into(),
                value.into(),
                m.timestamp.into(),
                info.run_id.as_str().into(),
                m.step.into(),
                is_nan.into(),
            ],
        )?;
        let cand = (m.step, m.timestamp, value, is_nan);
        let e = latest.entry(m.key.as_str()).or_insert(cand);
        if (cand.0, cand.1, cand.2) > (e.0, e.1, e.2) {
            *e = cand;
        }
        if let Some(model_id) = m.model_id.as_deref().filter(|s| !s.is_empty()) {
            c.exec(
                "INSERT INTO logged_model_metrics (model_id, metric_name, metric_timestamp_ms, metric_step, metric_value, experiment_id, run_id, dataset_uuid, dataset_name, dataset_digest) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?) ON CONFLICT DO NOTHING",
                &[
                    model_id.into(),
                    m.key.as_str().into(),
                    m.timestamp.into(),
                    m.step.into(),
                    if is_nan { Val::Null } else { value.into() },
                    id_val(&info.experiment_id).into(),
                    info.run_id.as_str().into(),
                    m.dataset_name.clone().into(),
                    m.dataset_digest.clone().into(),
                ],
            )?;
        }
    }
    for (key, (step, ts, value, is_nan)) in latest {
        c.exec(
            "INSERT INTO latest_metrics (\"key\", value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (\"key\", run_uuid) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp, step = excluded.step, is_nan = excluded.is_nan \
             WHERE (excluded.step > latest_metrics.step) OR (excluded.step = latest_metrics.step AND excluded.timestamp > latest_metrics.timestamp) OR (excluded.step = latest_metrics.step AND excluded.timestamp = latest_metrics.timestamp AND excluded.value > latest_metrics.value)",
            &[
                key.into(),
                value.into(),
                ts.into(),
                step.into(),
                is_nan.into(),
                info.run_id.as_str().into(),
            ],
        )?;
    }
    Ok(())
}
