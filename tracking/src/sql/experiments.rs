//! Experiments in the `experiments` and `experiment_tags` tables.

use std::collections::BTreeMap;

use super::common::{first, join_uri, marks, Row, Val, R};
use super::db::Conn;
use super::handle::SqlStore;
use super::search::{self, KeyTable, Target};
use crate::api::{validate, CreateExperiment, Page, SearchExperiments};
use crate::entities::{Experiment, LifecycleStage, ViewType};
use crate::error::{Result, TrackingError};
use crate::names;
use crate::search::{parse_filter, KeyType};

const COLS: &str =
    "e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, e.last_update_time";

/// Most experiments one search page holds.
const MAX_PER_PAGE: usize = 50_000;

fn from_row(r: &Row) -> Experiment {
    let get = |i: usize| r.get(i).cloned().unwrap_or(Val::Null);
    Experiment {
        experiment_id: get(0).text().unwrap_or_default(),
        name: get(1).text().unwrap_or_default(),
        artifact_location: get(2).text().unwrap_or_default(),
        lifecycle_stage: LifecycleStage::parse(get(3).text().as_deref()),
        creation_time: get(4).int(),
        last_update_time: get(5).int(),
        tags: BTreeMap::new(),
    }
}

/// An experiment id as the integer column holds it (a non-number names no experiment).
pub(crate) fn id_val(id: &str) -> Option<Val> {
    id.trim().parse::<i64>().ok().map(Val::Int)
}

fn with_tags(c: &mut Conn, mut exps: Vec<Experiment>) -> R<Vec<Experiment>> {
    if exps.is_empty() {
        return Ok(exps);
    }
    let ids: Vec<Val> = exps
        .iter()
        .filter_map(|e| id_val(&e.experiment_id))
        .collect();
    let sql = format!(
        "SELECT experiment_id, \"key\", value FROM experiment_tags WHERE experiment_id IN ({})",
        marks(ids.len())
    );
    let mut by: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for r in c.query(&sql, &ids)? {
        let (Some(id), Some(k)) = (r[0].text(), r[1].text()) else {
            continue;
        };
        by.entry(id)
            .or_default()
            .insert(k, r[2].text().unwrap_or_default());
    }
    for e in &mut exps {
        if let Some(t) = by.remove(&e.experiment_id) {
            e.tags = t;
        }
    }
    Ok(exps)
}

/// The experiment `id` (any stage), or not found.
pub(crate) fn get(c: &mut Conn, id: &str) -> R<Experiment> {
    let Some(idv) = id_val(id) else {
        return Err(TrackingError::not_found("experiment", id).into());
    };
    let rows = c.query(
        &format!("SELECT {COLS} FROM experiments e WHERE e.experiment_id = ?"),
        &[idv],
    )?;
    let exps: Vec<Experiment> = rows.iter().map(from_row).collect();
    with_tags(c, exps)?
        .into_iter()
        .next()
        .ok_or_else(|| TrackingError::not_found("experiment", id).into())
}

/// The experiment `id`, which must be active.
pub(crate) fn get_active(c: &mut Conn, id: &str) -> R<Experiment> {
    let e = get(c, id)?;
    if e.lifecycle_stage != LifecycleStage::Active {
        return Err(TrackingError::InvalidState {
            kind: "experiment",
            name: id.to_string(),
            reason: "is deleted: it must be active".into(),
        }
        .into());
    }
    Ok(e)
}

fn touch(c: &mut Conn, id: &str) -> R<()> {
    if let Some(idv) = id_val(id) {
        c.exec(
            "UPDATE experiments SET last_update_time = ? WHERE experiment_id = ?",
            &[crate::util::now_ms().into(), idv],
        )?;
    }
    Ok(())
}

struct ExperimentTarget;

impl Target for ExperimentTarget {
    fn attribute(&self, key: &str) -> Option<String> {
        Some(
            match key {
                "name" => "e.name",
                "experiment_id" => "e.experiment_id",
                "lifecycle_stage" => "e.lifecycle_stage",
                "artifact_location" => "e.artifact_location",
                "creation_time" => "e.creation_time",
                "last_update_time" => "e.last_update_time",
                _ => return None,
            }
            .to_string(),
        )
    }
    fn key_table(&self, key_type: KeyType) -> Option<KeyTable> {
        (key_type == KeyType::Tag).then_some(KeyTable {
            table: "experiment_tags",
            link: "k.experiment_id = e.experiment_id",
            key: "\"key\"",
            value: "value",
            nan: None,
        })
    }
}

/// `lifecycle_stage` conditions of a view.
pub(crate) fn view_sql(view: ViewType, col: &str) -> String {
    match view {
        ViewType::ActiveOnly => format!("{col} = 'active'"),
        ViewType::DeletedOnly => format!("{col} = 'deleted'"),
        ViewType::All => "1 = 1".into(),
    }
}

impl SqlStore {
    pub(crate) fn sql_create_experiment(&self, req: CreateExperiment) -> Result<String> {
        names::validate_experiment_name(&req.name)?;
        for (k, v) in &req.tags {
            validate::experiment_tag(k, v)?;
        }
        let root = self.artifact_root.clone();
        let uri = self.uri.clone();
        self.write(|c| {
            let taken = c.query(
                "SELECT experiment_id FROM experiments WHERE name = ?",
                &[req.name.as_str().into()],
            )?;
            if !taken.is_empty() {
                return Err(TrackingError::AlreadyExists {
                    kind: "experiment",
                    name: req.name.clone(),
                    path: uri.clone().into(),
                }
                .into());
            }
            let now = crate::util::now_ms();
            c.exec(
                "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace) VALUES (?, ?, 'active', ?, ?, 'default')",
                &[
                    req.name.as_str().into(),
                    req.artifact_location.clone().into(),
                    now.into(),
                    now.into(),
                ],
            )?;
            let id = first(c.query(
                "SELECT experiment_id FROM experiments WHERE name = ?",
                &[req.name.as_str().into()],
            )?)
            .and_then(|v| v.int())
            .ok_or_else(|| TrackingError::not_found("experiment", req.name.clone()))?;
            if req.artifact_location.as_deref().is_none_or(str::is_empty) {
                c.exec(
                    "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
                    &[join_uri(&root, &id.to_string()).into(), id.into()],
                )?;
            }
            for (k, v) in &req.tags {
                c.exec(
                    "INSERT INTO experiment_tags (\"key\", value, experiment_id) VALUES (?, ?, ?)",
                    &[k.into(), v.into(), id.into()],
                )?;
            }
            Ok(id.to_string())
        })
    }

    pub(crate) fn sql_get_experiment(&self, id: &str) -> Result<Experiment> {
        self.read(|c| get(c, id))
    }

    pub(crate) fn sql_get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        self.read(|c| {
            let rows = c.query(
                &format!("SELECT {COLS} FROM experiments e WHERE e.name = ?"),
                &[name.into()],
            )?;
            let exps: Vec<Experiment> = rows.iter().map(from_row).collect();
            Ok(with_tags(c, exps)?.into_iter().next())
        })
    }

    pub(crate) fn sql_search_experiments(
        &self,
        req: &SearchExperiments,
    ) -> Result<Page<Experiment>> {
        if req.max_results == 0 || req.max_results > MAX_PER_PAGE {
            return Err(search::bad_max_results(req.max_results, MAX_PER_PAGE));
        }
        let filter = parse_filter(
            req.filter.as_deref().unwrap_or(""),
            crate::search::Dialect::Experiments,
        )
        .map_err(search::search_error)?;
        let orders = search::parse_orders(&req.order_by, crate::search::Dialect::Experiments)?;
        let offset = search::offset(req.page_token.as_deref())?;
        let mut params = Vec::new();
        let mut conds = vec![view_sql(req.view, "e.lifecycle_stage")];
        conds.extend(search::where_sql(&ExperimentTarget, &filter, &mut params)?);
        let order = search::order_sql(
            &ExperimentTarget,
            &orders,
            "e.creation_time DESC, e.experiment_id ASC",
            &mut params,
        )?;
        params.push(Val::Int((req.max_results + 1) as i64));
        params.push(Val::Int(offset as i64));
        let sql = format!(
            "SELECT {COLS} FROM experiments e WHERE {} ORDER BY {order} LIMIT ? OFFSET ?",
            conds.join(" AND ")
        );
        self.read(|c| {
            let rows = c.query(&sql, &params)?;
            let exps = with_tags(c, rows.iter().map(from_row).collect())?;
            Ok(search::page_of(exps, req.max_results, offset))
        })
    }

    pub(crate) fn sql_rename_experiment(&self, id: &str, new_name: &str) -> Result<()> {
        names::validate_experiment_name(new_name)?;
        let uri = self.uri.clone();
        self.write(|c| {
            get_active(c, id)?;
            let taken = c.query(
                "SELECT experiment_id FROM experiments WHERE name = ?",
                &[new_name.into()],
            )?;
            if taken.iter().any(|r| r[0].text().as_deref() != Some(id)) {
                return Err(TrackingError::AlreadyExists {
                    kind: "experiment",
                    name: new_name.to_string(),
                    path: uri.clone().into(),
                }
                .into());
            }
            c.exec(
                "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?",
                &[
                    new_name.into(),
                    crate::util::now_ms().into(),
                    id_val(id).into(),
                ],
            )?;
            Ok(())
        })
    }

    pub(crate) fn sql_set_experiment_stage(&self, id: &str, stage: LifecycleStage) -> Result<()> {
        self.write(|c| {
            let e = get(c, id)?;
            if id == crate::DEFAULT_EXPERIMENT_ID && stage == LifecycleStage::Deleted {
                return Err(TrackingError::InvalidState {
                    kind: "experiment",
                    name: id.to_string(),
                    reason: "is the default experiment and cannot be deleted".into(),
                }
                .into());
            }
            let want_from = match stage {
                LifecycleStage::Deleted => LifecycleStage::Active,
                LifecycleStage::Active => LifecycleStage::Deleted,
            };
            if e.lifecycle_stage != want_from {
                return Err(TrackingError::InvalidState {
                    kind: "experiment",
                    name: id.to_string(),
                    reason: format!("must be {} to be made {}", want_from.as_str(), stage.as_str()),
                }
                .into());
            }
            let now = crate::util::now_ms();
            c.exec(
                "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?",
                &[stage.as_str().into(), now.into(), id_val(id).into()],
            )?;
            // MLflow moves the experiment's runs with it.
            let deleted_time: Val = match stage {
                LifecycleStage::Deleted => now.into(),
                LifecycleStage::Active => Val::Null,
            };
            c.exec(
                "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ? AND lifecycle_stage = ?",
                &[
                    stage.as_str().into(),
                    deleted_time,
                    id_val(id).into(),
                    want_from.as_str().into(),
                ],
            )?;
            Ok(())
        })
    }

    pub(crate) fn sql_set_experiment_tag(&self, id: &str, key: &str, value: &str) -> Result<()> {
        validate::experiment_tag(key, value)?;
        self.write(|c| {
            get_active(c, id)?;
            c.exec(
                "DELETE FROM experiment_tags WHERE experiment_id = ? AND \"key\" = ?",
                &[id_val(id).into(), key.into()],
            )?;
            c.exec(
                "INSERT INTO experiment_tags (\"key\", value, experiment_id) VALUES (?, ?, ?)",
                &[key.into(), value.into(), id_val(id).into()],
            )?;
            touch(c, id)
        })
    }

    pub(crate) fn sql_delete_experiment_tag(&self, id: &str, key: &str) -> Result<()> {
        self.write(|c| {
            get_active(c, id)?;
            let n = c.exec(
                "DELETE FROM experiment_tags WHERE experiment_id = ? AND \"key\" = ?",
                &[id_val(id).into(), key.into()],
            )?;
            if n == 0 {
                return Err(TrackingError::not_found("experiment tag", key).into());
            }
            touch(c, id)
        })
    }
}
