//! The model registry in `registered_models`, `registered_model_tags`, `registered_model_aliases`,
//! `model_versions` and `model_version_tags`. As MLflow's SQL registry: a deleted version stays
//! as a `Deleted_Internal` row (so its number is never reused) and is hidden everywhere.

use std::collections::BTreeMap;

use super::common::{first, marks, Engine, Row, Val, R};
use super::db::Conn;
use super::handle::SqlStore;
use super::search::{self, KeyTable, Target};
use crate::api::{validate, CreateModelVersion, CreateRegisteredModel, Page, SearchRegistry};
use crate::entities::{ModelVersion, RegisteredModel, Stage};
use crate::error::{Result, TrackingError};
use crate::names;
use crate::search::{parse_filter, Dialect, KeyType};
use crate::util;

const DELETED: &str = "Deleted_Internal";
/// Most registered models one search page holds (MLflow's limit).
const MAX_MODELS_PER_PAGE: usize = 1000;
/// Most model versions one search page holds (MLflow's limit).
const MAX_VERSIONS_PER_PAGE: usize = 200_000;

const RM_COLS: &str = "rm.name, rm.description, rm.creation_time, rm.last_updated_time";
const MV_COLS: &str = "mv.name, mv.version, mv.source, mv.run_id, mv.storage_location, mv.current_stage, mv.description, mv.status, mv.creation_time, mv.last_updated_time";

/// The logged model a version's source names (`models:/m-...`).
fn model_id_of(source: &str) -> Option<String> {
    source
        .strip_prefix("models:/")
        .filter(|id| id.starts_with("m-") && !id.contains('/'))
        .map(str::to_string)
}

fn rm_from_row(r: &Row) -> RegisteredModel {
    RegisteredModel {
        name: r[0].text().unwrap_or_default(),
        description: r[1].text().filter(|d| !d.is_empty()),
        creation_timestamp: r[2].int(),
        last_updated_timestamp: r[3].int(),
        tags: BTreeMap::new(),
        aliases: BTreeMap::new(),
    }
}

fn mv_from_row(r: &Row) -> ModelVersion {
    let source = r[2].text().unwrap_or_default();
    ModelVersion {
        name: r[0].text().unwrap_or_default(),
        version: r[1].int().unwrap_or(0).max(0) as u64,
        model_id: model_id_of(&source),
        source,
        run_id: r[3].text().filter(|s| !s.is_empty()),
        storage_location: r[4].text(),
        current_stage: r[5]
            .text()
            .and_then(|s| Stage::parse(&s))
            .unwrap_or(Stage::None),
        description: r[6].text().filter(|d| !d.is_empty()),
        status: r[7].text().unwrap_or_else(|| "READY".into()),
        creation_timestamp: r[8].int(),
        last_updated_timestamp: r[9].int(),
        tags: BTreeMap::new(),
        aliases: Vec::new(),
    }
}

fn rm_details(c: &mut Conn, mut models: Vec<RegisteredModel>) -> R<Vec<RegisteredModel>> {
    if models.is_empty() {
        return Ok(models);
    }
    let names: Vec<Val> = models.iter().map(|m| Val::from(&m.name)).collect();
    let m = marks(names.len());
    let mut tags: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for r in c.query(
        &format!("SELECT name, \"key\", value FROM registered_model_tags WHERE name IN ({m})"),
        &names,
    )? {
        if let (Some(n), Some(k)) = (r[0].text(), r[1].text()) {
            tags.entry(n)
                .or_default()
                .insert(k, r[2].text().unwrap_or_default());
        }
    }
    let mut aliases: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for r in c.query(
        &format!("SELECT name, alias, version FROM registered_model_aliases WHERE name IN ({m})"),
        &names,
    )? {
        if let (Some(n), Some(a), Some(v)) = (r[0].text(), r[1].text(), r[2].int()) {
            aliases.entry(n).or_default().insert(a, v.max(0) as u64);
        }
    }
    for model in &mut models {
        model.tags = tags.remove(&model.name).unwrap_or_default();
        model.aliases = aliases.remove(&model.name).unwrap_or_default();
    }
    Ok(models)
}

fn mv_details(c: &mut Conn, mut versions: Vec<ModelVersion>) -> R<Vec<ModelVersion>> {
    if versions.is_empty() {
        return Ok(versions);
    }
    let mut names: Vec<Val> = versions.iter().map(|m| Val::from(&m.name)).collect();
    names.dedup();
    let m = marks(names.len());
    let mut tags: BTreeMap<(String, i64), BTreeMap<String, String>> = BTreeMap::new();
    for r in c.query(
        &format!(
            "SELECT name, version, \"key\", value FROM model_version_tags WHERE name IN ({m})"
        ),
        &names,
    )? {
        if let (Some(n), Some(v), Some(k)) = (r[0].text(), r[1].int(), r[2].text()) {
            tags.entry((n, v))
                .or_default()
                .insert(k, r[3].text().unwrap_or_default());
        }
    }
    let mut aliases: BTreeMap<(String, i64), Vec<String>> = BTreeMap::new();
    for r in c.query(
        &format!("SELECT name, version, alias FROM registered_model_aliases WHERE name IN ({m}) ORDER BY alias"),
        &names,
    )? {
        if let (Some(n), Some(v), Some(a)) = (r[0].text(), r[1].int(), r[2].text()) {
            aliases.entry((n, v)).or_default().push(a);
        }
    }
    for mv in &mut versions {
        let key = (mv.name.clone(), mv.version as i64);
        mv.tags = tags.remove(&key).unwrap_or_default();
        mv.aliases = aliases.remove(&key).unwrap_or_default();
    }
    Ok(versions)
}

fn get_rm(c: &mut Conn, name: &str) -> R<RegisteredModel> {
    let rows = c.query(
        &format!("SELECT {RM_COLS} FROM registered_models rm WHERE rm.name = ?"),
        &[name.into()],
    )?;
    rm_details(c, rows.iter().map(rm_from_row).collect())?
        .into_iter()
        .next()
        .ok_or_else(|| TrackingError::not_found("registered model", name).into())
}

fn get_mv(c: &mut Conn, name: &str, version: u64) -> R<ModelVersion> {
    let rows = c.query(
        &format!("SELECT {MV_COLS} FROM model_versions mv WHERE mv.name = ? AND mv.version = ? AND mv.current_stage != '{DELETED}'"),
        &[name.into(), (version as i64).into()],
    )?;
    mv_details(c, rows.iter().map(mv_from_row).collect())?
        .into_iter()
        .next()
        .ok_or_else(|| {
            TrackingError::not_found("model version", format!("{name} version {version}")).into()
        })
}

fn touch_rm(c: &mut Conn, name: &str) -> R<()> {
    c.exec(
        "UPDATE registered_models SET last_updated_time = ? WHERE name = ?",
        &[util::now_ms().into(), name.into()],
    )?;
    Ok(())
}

fn touch_mv(c: &mut Conn, name: &str, version: u64) -> R<()> {
    c.exec(
        "UPDATE model_versions SET last_updated_time = ? WHERE name = ? AND version = ?",
        &[util::now_ms().into(), name.into(), (version as i64).into()],
    )?;
    Ok(())
}

struct RmTarget;

impl Target for RmTarget {
    fn attribute(&self, key: &str) -> Option<String> {
        Some(
            match key {
                "name" => "rm.name",
                "description" => "rm.description",
                "creation_timestamp" => "rm.creation_time",
                "last_updated_timestamp" => "rm.last_updated_time",
                _ => return None,
            }
            .to_string(),
        )
    }
    fn key_table(&self, key_type: KeyType) -> Option<KeyTable> {
        (key_type == KeyType::Tag).then_some(KeyTable {
            table: "registered_model_tags",
            link: "k.name = rm.name",
            key: "\"key\"",
            value: "value",
            nan: None,
        })
    }
}

struct MvTarget;

impl Target for MvTarget {
    fn attribute(&self, key: &str) -> Option<String> {
        Some(
            match key {
                "name" => "mv.name",
                "run_id" => "mv.run_id",
                "source" => "mv.source",
                "model_id" => {
                    "(CASE WHEN mv.source LIKE 'models:/m-%' THEN substr(mv.source, 9) END)"
                }
                "current_stage" => "mv.current_stage",
                "description" => "mv.description",
                "version" => "mv.version",
                "creation_timestamp" => "mv.creation_time",
                "last_updated_timestamp" => "mv.last_updated_time",
                _ => return None,
            }
            .to_string(),
        )
    }
    fn key_table(&self, key_type: KeyType) -> Option<KeyTable> {
        (key_type == KeyType::Tag).then_some(KeyTable {
            table: "model_version_tags",
            link: "k.name = mv.name AND k.version = mv.version",
            key: "\"key\"",
            value: "value",
            nan: None,
        })
    }
}

impl SqlStore {
    pub(crate) fn sql_create_registered_model(
        &self,
        req: CreateRegisteredModel,
    ) -> Result<RegisteredModel> {
        names::validate_model_name(&req.name)?;
        for (k, v) in &req.tags {
            validate::tag(k, v)?;
        }
        let uri = self.uri.clone();
        self.write(|c| {
            let taken = c.query("SELECT name FROM registered_models WHERE name = ?", &[req.name.as_str().into()])?;
            if !taken.is_empty() {
                return Err(TrackingError::AlreadyExists {
                    kind: "registered model",
                    name: req.name.clone(),
                    path: uri.clone().into(),
                }
                .into());
            }
            let now = util::now_ms();
            c.exec(
                "INSERT INTO registered_models (name, creation_time, last_updated_time, description, workspace) VALUES (?, ?, ?, ?, 'default')",
                &[req.name.as_str().into(), now.into(), now.into(), req.description.clone().filter(|d| !d.is_empty()).into()],
            )?;
            for (k, v) in &req.tags {
                c.exec(
                    "INSERT INTO registered_model_tags (\"key\", value, name, workspace) VALUES (?, ?, ?, 'default')",
                    &[k.into(), v.into(), req.name.as_str().into()],
                )?;
            }
            get_rm(c, &req.name)
        })
    }

    pub(crate) fn sql_get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        self.read(|c| get_rm(c, name))
    }

    pub(crate) fn sql_search_registered_models(
        &self,
        req: &SearchRegistry,
    ) -> Result<Page<RegisteredModel>> {
        let max = if req.max_results == 0 {
            100
        } else {
            req.max_results
        };
        if max > MAX_MODELS_PER_PAGE {
            return Err(search::bad_max_results(max, MAX_MODELS_PER_PAGE));
        }
        let filter = parse_filter(
            req.filter.as_deref().unwrap_or(""),
            Dialect::RegisteredModels,
        )
        .map_err(search::search_error)?;
        let orders = search::parse_orders(&req.order_by, Dialect::RegisteredModels)?;
        let offset = search::offset(req.page_token.as_deref())?;
        let mut params = Vec::new();
        let mut conds = vec!["1 = 1".to_string()];
        conds.extend(search::where_sql(&RmTarget, &filter, &mut params)?);
        let order = search::order_sql(&RmTarget, &orders, "rm.name ASC", &mut params)?;
        params.push(Val::Int((max + 1) as i64));
        params.push(Val::Int(offset as i64));
        let sql = format!(
            "SELECT {RM_COLS} FROM registered_models rm WHERE {} ORDER BY {order} LIMIT ? OFFSET ?",
            conds.join(" AND ")
        );
        self.read(|c| {
            let rows = c.query(&sql, &params)?;
            let page = search::page_of(rows.iter().map(rm_from_row).collect(), max, offset);
            Ok(Page {
                items: rm_details(c, page.items)?,
                next_page_token: page.next_page_token,
            })
        })
    }

    pub(crate) fn sql_update_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
    ) -> Result<RegisteredModel> {
        self.write(|c| {
            get_rm(c, name)?;
            c.exec(
                "UPDATE registered_models SET description = ?, last_updated_time = ? WHERE name = ?",
                &[description.filter(|d| !d.is_empty()).into(), util::now_ms().into(), name.into()],
            )?;
            get_rm(c, name)
        })
    }

    pub(crate) fn sql_rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
    ) -> Result<RegisteredModel> {
        names::validate_model_name(new_name)?;
        let uri = self.uri.clone();
        self.write(|c| {
            get_rm(c, name)?;
            let taken = c.query(
                "SELECT name FROM registered_models WHERE name = ?",
                &[new_name.into()],
            )?;
            if !taken.is_empty() {
                return Err(TrackingError::AlreadyExists {
                    kind: "registered model",
                    name: new_name.to_string(),
                    path: uri.clone().into(),
                }
                .into());
            }
            let now = util::now_ms();
            // The parent first: PostgreSQL cascades to the children itself (ON UPDATE CASCADE);
            // SQLite, where SQLAlchemy leaves foreign keys off, needs the explicit updates.
            c.exec(
                "UPDATE registered_models SET name = ?, last_updated_time = ? WHERE name = ?",
                &[new_name.into(), now.into(), name.into()],
            )?;
            for table in [
                "model_versions",
                "registered_model_tags",
                "model_version_tags",
                "registered_model_aliases",
            ] {
                c.exec(
                    &format!("UPDATE {table} SET name = ? WHERE name = ?"),
                    &[new_name.into(), name.into()],
                )?;
            }
            get_rm(c, new_name)
        })
    }

    pub(crate) fn sql_delete_registered_model(&self, name: &str) -> Result<()> {
        self.write(|c| {
            get_rm(c, name)?;
            for table in [
                "model_version_tags",
                "registered_model_aliases",
                "model_versions",
                "registered_model_tags",
                "registered_models",
            ] {
                c.exec(
                    &format!("DELETE FROM {table} WHERE name = ?"),
                    &[name.into()],
                )?;
            }
            Ok(())
        })
    }

    pub(crate) fn sql_set_registered_model_tag(
        &self,
        name: &str,
        key: &str,
        value: &str,
    ) -> Result<()> {
        validate::tag(key, value)?;
        self.write(|c| {
            get_rm(c, name)?;
            c.exec("DELETE FROM registered_model_tags WHERE name = ? AND \"key\" = ?", &[name.into(), key.into()])?;
            c.exec(
                "INSERT INTO registered_model_tags (\"key\", value, name, workspace) VALUES (?, ?, ?, 'default')",
                &[key.into(), value.into(), name.into()],
            )?;
            touch_rm(c, name)
        })
    }

    pub(crate) fn sql_delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        self.write(|c| {
            get_rm(c, name)?;
            let n = c.exec(
                "DELETE FROM registered_model_tags WHERE name = ? AND \"key\" = ?",
                &[name.into(), key.into()],
            )?;
            if n == 0 {
                return Err(TrackingError::not_found("registered model tag", key).into());
            }
            touch_rm(c, name)
        })
    }

    pub(crate) fn sql_latest_versions(
        &self,
        name: &str,
        stages: &[Stage],
    ) -> Result<Vec<ModelVersion>> {
        self.read(|c| {
            get_rm(c, name)?;
            let rows = c.query(
                &format!("SELECT {MV_COLS} FROM model_versions mv WHERE mv.name = ? AND mv.current_stage != '{DELETED}' ORDER BY mv.version"),
                &[name.into()],
            )?;
            let mut latest: BTreeMap<&'static str, ModelVersion> = BTreeMap::new();
            for mv in rows.iter().map(mv_from_row) {
                if !stages.is_empty() && !stages.contains(&mv.current_stage) {
                    continue;
                }
                latest.insert(mv.current_stage.as_str(), mv);
            }
            let mut out: Vec<ModelVersion> = latest.into_values().collect();
            out.sort_by_key(|mv| mv.version);
            mv_details(c, out)
        })
    }

    pub(crate) fn sql_create_model_version(&self, req: CreateModelVersion) -> Result<ModelVersion> {
        for (k, v) in &req.tags {
            validate::tag(k, v)?;
        }
        self.write(|c| {
            if c.engine() == Engine::Postgres {
                // Writers of one model take turns here, so max(version) + 1 is free (SQLite's
                // BEGIN IMMEDIATE already serializes every writer).
                c.query(
                    "SELECT name FROM registered_models WHERE name = ? FOR UPDATE",
                    &[req.name.as_str().into()],
                )?;
            }
            get_rm(c, &req.name)?;
            let mut run_id = req.run_id.clone().filter(|r| !r.is_empty());
            let model_id = req.model_id.clone().filter(|m| !m.is_empty()).or_else(|| model_id_of(&req.source));
            let mut storage = req.source.clone();
            if let Some(id) = &model_id {
                if let Ok(m) = super::logged_models::get(c, id, true) {
                    storage = m.artifact_location.clone();
                    run_id = run_id.or(m.source_run_id.clone());
                }
            }
            let max = first(c.query("SELECT max(version) FROM model_versions WHERE name = ?", &[req.name.as_str().into()])?)
                .and_then(|v| v.int())
                .unwrap_or(0);
            let version = max + 1;
            let now = util::now_ms();
            c.exec(
                "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, source, run_id, status, status_message, run_link, storage_location, workspace) VALUES (?, ?, ?, ?, ?, NULL, 'None', ?, ?, 'READY', NULL, ?, ?, 'default')",
                &[
                    req.name.as_str().into(),
                    version.into(),
                    now.into(),
                    now.into(),
                    req.description.clone().filter(|d| !d.is_empty()).into(),
                    req.source.as_str().into(),
                    run_id.clone().into(),
                    req.run_link.clone().filter(|l| !l.is_empty()).into(),
                    storage.as_str().into(),
                ],
            )?;
            for (k, v) in &req.tags {
                c.exec(
                    "INSERT INTO model_version_tags (\"key\", value, name, version, workspace) VALUES (?, ?, ?, ?, 'default')",
                    &[k.into(), v.into(), req.name.as_str().into(), version.into()],
                )?;
            }
            touch_rm(c, &req.name)?;
            let mut mv = get_mv(c, &req.name, version as u64)?;
            if mv.model_id.is_none() {
                mv.model_id = model_id.clone();
            }
            Ok(mv)
        })
    }

    pub(crate) fn sql_get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        self.read(|c| get_mv(c, name, version))
    }

    pub(crate) fn sql_search_model_versions(
        &self,
        req: &SearchRegistry,
    ) -> Result<Page<ModelVersion>> {
        let max = if req.max_results == 0 {
            10_000
        } else {
            req.max_results
        };
        if max > MAX_VERSIONS_PER_PAGE {
            return Err(search::bad_max_results(max, MAX_VERSIONS_PER_PAGE));
        }
        let filter = parse_filter(req.filter.as_deref().unwrap_or(""), Dialect::ModelVersions)
            .map_err(search::search_error)?;
        let orders = search::parse_orders(&req.order_by, Dialect::ModelVersions)?;
        let offset = search::offset(req.page_token.as_deref())?;
        let mut params = Vec::new();
        let mut conds = vec![format!("mv.current_stage != '{DELETED}'")];
        conds.extend(search::where_sql(&MvTarget, &filter, &mut params)?);
        let order = search::order_sql(
            &MvTarget,
            &orders,
            "mv.last_updated_time DESC, mv.name ASC, mv.version DESC",
            &mut params,
        )?;
        params.push(Val::Int((max + 1) as i64));
        params.push(Val::Int(offset as i64));
        let sql = format!(
            "SELECT {MV_COLS} FROM model_versions mv WHERE {} ORDER BY {order} LIMIT ? OFFSET ?",
            conds.join(" AND ")
        );
        self.read(|c| {
            let rows = c.query(&sql, &params)?;
            let page = search::page_of(rows.iter().map(mv_from_row).collect(), max, offset);
            Ok(Page {
                items: mv_details(c, page.items)?,
                next_page_token: page.next_page_token,
            })
        })
    }

    pub(crate) fn sql_update_model_version(
        &self,
        name: &str,
        version: u64,
        description: Option<&str>,
    ) -> Result<ModelVersion> {
        self.write(|c| {
            get_mv(c, name, version)?;
            c.exec(
                "UPDATE model_versions SET description = ?, last_updated_time = ? WHERE name = ? AND version = ?",
                &[description.filter(|d| !d.is_empty()).into(), util::now_ms().into(), name.into(), (version as i64).into()],
            )?;
            get_mv(c, name, version)
        })
    }

    pub(crate) fn sql_transition_stage(
        &self,
        name: &str,
        version: u64,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<ModelVersion> {
        self.write(|c| {
            get_mv(c, name, version)?;
            let now = util::now_ms();
            if archive_existing && matches!(stage, Stage::Staging | Stage::Production) {
                c.exec(
                    "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = ? WHERE name = ? AND version != ? AND current_stage = ?",
                    &[now.into(), name.into(), (version as i64).into(), stage.as_str().into()],
                )?;
            }
            c.exec(
                "UPDATE model_versions SET current_stage = ?, last_updated_time = ? WHERE name = ? AND version = ?",
                &[stage.as_str().into(), now.into(), name.into(), (version as i64).into()],
            )?;
            touch_rm(c, name)?;
            get_mv(c, name, version)
        })
    }

    pub(crate) fn sql_delete_model_version(&self, name: &str, version: u64) -> Result<()> {
        self.write(|c| {
            get_mv(c, name, version)?;
            let v = version as i64;
            c.exec("DELETE FROM registered_model_aliases WHERE name = ? AND version = ?", &[name.into(), v.into()])?;
            c.exec(
                &format!("UPDATE model_versions SET current_stage = '{DELETED}', last_updated_time = ?, description = NULL, user_id = NULL, source = 'REDACTED-SOURCE-PATH', run_id = 'REDACTED-RUN-ID', run_link = 'REDACTED-RUN-LINK', status_message = NULL WHERE name = ? AND version = ?"),
                &[util::now_ms().into(), name.into(), v.into()],
            )?;
            touch_rm(c, name)
        })
    }

    pub(crate) fn sql_set_model_version_tag(
        &self,
        name: &str,
        version: u64,
        key: &str,
        value: &str,
    ) -> Result<()> {
        validate::tag(key, value)?;
        self.write(|c| {
            get_mv(c, name, version)?;
            let v = version as i64;
            c.exec("DELETE FROM model_version_tags WHERE name = ? AND version = ? AND \"key\" = ?", &[name.into(), v.into(), key.into()])?;
            c.exec(
                "INSERT INTO model_version_tags (\"key\", value, name, version, workspace) VALUES (?, ?, ?, ?, 'default')",
                &[key.into(), value.into(), name.into(), v.into()],
            )?;
            touch_mv(c, name, version)
        })
    }

    pub(crate) fn sql_delete_model_version_tag(
        &self,
        name: &str,
        version: u64,
        key: &str,
    ) -> Result<()> {
        self.write(|c| {
            get_mv(c, name, version)?;
            let n = c.exec(
                "DELETE FROM model_version_tags WHERE name = ? AND version = ? AND \"key\" = ?",
                &[name.into(), (version as i64).into(), key.into()],
            )?;
            if n == 0 {
                return Err(TrackingError::not_found("model version tag", key).into());
            }
            touch_mv(c, name, version)
        })
    }

    pub(crate) fn sql_download_uri(&self, name: &str, version: u64) -> Result<String> {
        let mv = self.sql_get_model_version(name, version)?;
        Ok(mv
            .storage_location
            .filter(|s| !s.is_empty())
            .unwrap_or(mv.source))
    }

    pub(crate) fn sql_set_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        names::validate_alias_settable(alias)?;
        self.write(|c| {
            get_mv(c, name, version)?;
            c.exec("DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?", &[name.into(), alias.into()])?;
            c.exec(
                "INSERT INTO registered_model_aliases (alias, version, name, workspace) VALUES (?, ?, ?, 'default')",
                &[alias.into(), (version as i64).into(), name.into()],
            )?;
            touch_rm(c, name)
        })
    }

    pub(crate) fn sql_delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        names::validate_alias(alias)?;
        self.write(|c| {
            get_rm(c, name)?;
            c.exec(
                "DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?",
                &[name.into(), alias.into()],
            )?;
            touch_rm(c, name)
        })
    }

    pub(crate) fn sql_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        names::validate_alias(alias)?;
        self.read(|c| {
            get_rm(c, name)?;
            if alias.eq_ignore_ascii_case("latest") {
                let v = first(c.query(
                    &format!("SELECT max(version) FROM model_versions WHERE name = ? AND current_stage != '{DELETED}'"),
                    &[name.into()],
                )?)
                .and_then(|v| v.int())
                .ok_or_else(|| TrackingError::not_found("model version", format!("{name}@latest")))?;
                return get_mv(c, name, v as u64);
            }
            let v = first(c.query(
                "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?",
                &[name.into(), alias.into()],
            )?)
            .and_then(|v| v.int())
            .ok_or_else(|| TrackingError::not_found("alias", format!("{name}@{alias}")))?;
            get_mv(c, name, v as u64)
        })
    }
}
