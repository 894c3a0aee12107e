//! MLflow 3 logged models in `logged_models`, `logged_model_tags`, `logged_model_params` (and
//! `logged_model_metrics`, written by log-batch).

use std::collections::BTreeMap;

use super::common::{join_uri, marks, Row, Val, R};
use super::db::Conn;
use super::experiments::{get_active as get_active_experiment, id_val};
use super::handle::SqlStore;
use super::search::{self, KeyTable, Target};
use crate::api::{
    validate, CreateLoggedModel, LoggedModelInfo, LoggedModelStatus, Page, SearchLoggedModels,
};
use crate::entities::LifecycleStage;
use crate::error::{Result, TrackingError};
use crate::search::{parse_filter, parse_order_by, Dialect, KeyType, Literal, OrderBy};
use crate::util;

/// Most logged models one search page holds.
const MAX_PER_PAGE: usize = 50_000;

const COLS: &str = "m.model_id, m.experiment_id, m.name, m.artifact_location, m.creation_timestamp_ms, m.last_updated_timestamp_ms, m.status, m.lifecycle_stage, m.model_type, m.source_run_id, m.status_message";

fn from_row(r: &Row) -> LoggedModelInfo {
    let get = |i: usize| r.get(i).cloned().unwrap_or(Val::Null);
    LoggedModelInfo {
        model_id: get(0).text().unwrap_or_default(),
        experiment_id: get(1).text().unwrap_or_default(),
        name: get(2).text().unwrap_or_default(),
        artifact_location: get(3).text().unwrap_or_default(),
        creation_timestamp: get(4).int(),
        last_updated_timestamp: get(5).int(),
        status: get(6)
            .int()
            .and_then(LoggedModelStatus::from_code)
            .unwrap_or(LoggedModelStatus::Unspecified),
        lifecycle_stage: LifecycleStage::parse(get(7).text().as_deref()),
        model_type: get(8).text(),
        source_run_id: get(9).text().filter(|s| !s.is_empty()),
        status_message: get(10).text(),
        tags: BTreeMap::new(),
        params: BTreeMap::new(),
        // Not read from `logged_model_metrics` yet: the SQL store answers logged models without
        // their metrics.
        metrics: Vec::new(),
    }
}

fn with_details(c: &mut Conn, mut models: Vec<LoggedModelInfo>) -> R<Vec<LoggedModelInfo>> {
    if models.is_empty() {
        return Ok(models);
    }
    let ids: Vec<Val> = models.iter().map(|m| Val::from(&m.model_id)).collect();
    let m = marks(ids.len());
    let mut tags: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for r in c.query(
        &format!(
            "SELECT model_id, tag_key, tag_value FROM logged_model_tags WHERE model_id IN ({m})"
        ),
        &ids,
    )? {
        if let (Some(id), Some(k)) = (r[0].text(), r[1].text()) {
            tags.entry(id)
                .or_default()
                .insert(k, r[2].text().unwrap_or_default());
        }
    }
    let mut params: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for r in c.query(
        &format!("SELECT model_id, param_key, param_value FROM logged_model_params WHERE model_id IN ({m})"),
        &ids,
    )? {
        if let (Some(id), Some(k)) = (r[0].text(), r[1].text()) {
            params.entry(id).or_default().insert(k, r[2].text().unwrap_or_default());
        }
    }
    for model in &mut models {
        model.tags = tags.remove(&model.model_id).unwrap_or_default();
        model.params = params.remove(&model.model_id).unwrap_or_default();
    }
    Ok(models)
}

/// The logged model `id` (`allow_deleted`: a deleted one too), or not found.
pub(crate) fn get(c: &mut Conn, id: &str, allow_deleted: bool) -> R<LoggedModelInfo> {
    let rows = c.query(
        &format!("SELECT {COLS} FROM logged_models m WHERE m.model_id = ?"),
        &[id.into()],
    )?;
    let found = with_details(c, rows.iter().map(from_row).collect())?
        .into_iter()
        .next();
    match found {
        Some(m) if allow_deleted || m.lifecycle_stage == LifecycleStage::Active => Ok(m),
        _ => Err(TrackingError::not_found("logged model", id).into()),
    }
}

struct ModelTarget;

impl Target for ModelTarget {
    fn attribute(&self, key: &str) -> Option<String> {
        Some(
            match key {
                "name" => "m.name",
                "model_id" => "m.model_id",
                "experiment_id" => "m.experiment_id",
                "source_run_id" => "m.source_run_id",
                "status" => "m.status",
                "model_type" => "m.model_type",
                "creation_timestamp" => "m.creation_timestamp_ms",
                "last_updated_timestamp" => "m.last_updated_timestamp_ms",
                _ => return None,
            }
            .to_string(),
        )
    }
    fn key_table(&self, key_type: KeyType) -> Option<KeyTable> {
        Some(match key_type {
            KeyType::Metric => KeyTable {
                table: "logged_model_metrics",
                link: "k.model_id = m.model_id",
                key: "metric_name",
                value: "metric_value",
                nan: None,
            },
            KeyType::Param => KeyTable {
                table: "logged_model_params",
                link: "k.model_id = m.model_id",
                key: "param_key",
                value: "param_value",
                nan: None,
            },
            KeyType::Tag => KeyTable {
                table: "logged_model_tags",
                link: "k.model_id = m.model_id",
                key: "tag_key",
                value: "tag_value",
                nan: None,
            },
            _ => return None,
        })
    }
    fn literal(&self, key: &str, value: &Literal) -> Literal {
        let code = |s: &str| {
            LoggedModelStatus::parse(s)
                .map(|st| st.code().to_string())
                .unwrap_or_else(|_| s.to_string())
        };
        match (key, value) {
            ("status", Literal::Str(s)) => Literal::Str(code(s)),
            ("status", Literal::List(l)) => Literal::List(l.iter().map(|s| code(s)).collect()),
            _ => value.clone(),
        }
    }
}

impl SqlStore {
    pub(crate) fn sql_create_logged_model(
        &self,
        req: CreateLoggedModel,
    ) -> Result<LoggedModelInfo> {
        for (k, v) in &req.params {
            validate::param(k, v)?;
        }
        for (k, v) in &req.tags {
            validate::tag(k, v)?;
        }
        let model_id = format!("m-{}", util::hex_id());
        let name = req
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(util::run_name);
        self.write(|c| {
            let exp = get_active_experiment(c, &req.experiment_id)?;
            if let Some(run) = req.source_run_id.as_deref().filter(|r| !r.is_empty()) {
                let found = c.query("SELECT 1 FROM runs WHERE run_uuid = ?", &[run.into()])?;
                if found.is_empty() {
                    return Err(TrackingError::not_found("run", run).into());
                }
            }
            let location = join_uri(
                &join_uri(&join_uri(&exp.artifact_location, "models"), &model_id),
                "artifacts",
            );
            let now = util::now_ms();
            let exp_id = id_val(&req.experiment_id);
            c.exec(
                "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, NULL)",
                &[
                    model_id.as_str().into(),
                    exp_id.clone().into(),
                    name.as_str().into(),
                    location.into(),
                    now.into(),
                    now.into(),
                    LoggedModelStatus::Pending.code().into(),
                    req.model_type.clone().into(),
                    req.source_run_id.clone().filter(|r| !r.is_empty()).into(),
                ],
            )?;
            for (k, v) in &req.tags {
                c.exec(
                    "INSERT INTO logged_model_tags (model_id, experiment_id, tag_key, tag_value) VALUES (?, ?, ?, ?)",
                    &[model_id.as_str().into(), exp_id.clone().into(), k.into(), v.into()],
                )?;
            }
            for (k, v) in &req.params {
                c.exec(
                    "INSERT INTO logged_model_params (model_id, experiment_id, param_key, param_value) VALUES (?, ?, ?, ?)",
                    &[model_id.as_str().into(), exp_id.clone().into(), k.into(), v.into()],
                )?;
            }
            get(c, &model_id, false)
        })
    }

    pub(crate) fn sql_get_logged_model(
        &self,
        id: &str,
        allow_deleted: bool,
    ) -> Result<LoggedModelInfo> {
        self.read(|c| get(c, id, allow_deleted))
    }

    pub(crate) fn sql_finalize_logged_model(
        &self,
        id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModelInfo> {
        self.write(|c| {
            get(c, id, false)?;
            c.exec(
                "UPDATE logged_models SET status = ?, last_updated_timestamp_ms = ? WHERE model_id = ?",
                &[status.code().into(), util::now_ms().into(), id.into()],
            )?;
            get(c, id, false)
        })
    }

    pub(crate) fn sql_delete_logged_model(&self, id: &str) -> Result<()> {
        self.write(|c| {
            get(c, id, false)?;
            c.exec(
                "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_timestamp_ms = ? WHERE model_id = ?",
                &[util::now_ms().into(), id.into()],
            )?;
            Ok(())
        })
    }

    pub(crate) fn sql_set_logged_model_tags(
        &self,
        id: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<()> {
        for (k, v) in tags {
            validate::tag(k, v)?;
        }
        self.write(|c| {
            let m = get(c, id, false)?;
            for (k, v) in tags {
                c.exec(
                    "DELETE FROM logged_model_tags WHERE model_id = ? AND tag_key = ?",
                    &[id.into(), k.into()],
                )?;
                c.exec(
                    "INSERT INTO logged_model_tags (model_id, experiment_id, tag_key, tag_value) VALUES (?, ?, ?, ?)",
                    &[id.into(), id_val(&m.experiment_id).into(), k.into(), v.into()],
                )?;
            }
            Ok(())
        })
    }

    pub(crate) fn sql_delete_logged_model_tag(&self, id: &str, key: &str) -> Result<()> {
        crate::names::validate_key("tag key", key)?;
        self.write(|c| {
            get(c, id, false)?;
            let n = c.exec(
                "DELETE FROM logged_model_tags WHERE model_id = ? AND tag_key = ?",
                &[id.into(), key.into()],
            )?;
            if n == 0 {
                return Err(TrackingError::not_found("logged model tag", key).into());
            }
            Ok(())
        })
    }

    pub(crate) fn sql_log_logged_model_params(
        &self,
        id: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<()> {
        for (k, v) in params {
            validate::param(k, v)?;
        }
        self.write(|c| {
            let m = get(c, id, false)?;
            for (k, v) in params {
                c.exec(
                    "DELETE FROM logged_model_params WHERE model_id = ? AND param_key = ?",
                    &[id.into(), k.into()],
                )?;
                c.exec(
                    "INSERT INTO logged_model_params (model_id, experiment_id, param_key, param_value) VALUES (?, ?, ?, ?)",
                    &[id.into(), id_val(&m.experiment_id).into(), k.into(), v.into()],
                )?;
            }
            Ok(())
        })
    }

    pub(crate) fn sql_search_logged_models(
        &self,
        req: &SearchLoggedModels,
    ) -> Result<Page<LoggedModelInfo>> {
        let max = if req.max_results == 0 {
            100
        } else {
            req.max_results
        };
        if max > MAX_PER_PAGE {
            return Err(search::bad_max_results(max, MAX_PER_PAGE));
        }
        let filter = parse_filter(req.filter.as_deref().unwrap_or(""), Dialect::LoggedModels)
            .map_err(search::search_error)?;
        let mut orders: Vec<OrderBy> = Vec::new();
        for o in &req.order_by {
            let mut parsed = parse_order_by(&o.field_name, Dialect::LoggedModels)
                .map_err(search::search_error)?;
            parsed.ascending = o.ascending;
            orders.push(parsed);
        }
        let offset = search::offset(req.page_token.as_deref())?;
        let exp_ids: Vec<Val> = req
            .experiment_ids
            .iter()
            .filter_map(|i| id_val(i))
            .collect();
        let mut params = exp_ids.clone();
        let mut conds = vec![
            format!("m.experiment_id IN ({})", marks(exp_ids.len())),
            "m.lifecycle_stage = 'active'".to_string(),
        ];
        conds.extend(search::where_sql(&ModelTarget, &filter, &mut params)?);
        let order = search::order_sql(
            &ModelTarget,
            &orders,
            "m.creation_timestamp_ms DESC, m.model_id ASC",
            &mut params,
        )?;
        params.push(Val::Int((max + 1) as i64));
        params.push(Val::Int(offset as i64));
        let sql = format!(
            "SELECT {COLS} FROM logged_models m WHERE {} ORDER BY {order} LIMIT ? OFFSET ?",
            conds.join(" AND ")
        );
        self.read(|c| {
            let rows = c.query(&sql, &params)?;
            let page = search::page_of(rows.iter().map(from_row).collect(), max, offset);
            Ok(Page {
                items: with_details(c, page.items)?,
                next_page_token: page.next_page_token,
            })
        })
    }
}
