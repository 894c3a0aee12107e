//! The file store's MLflow 3 logged models over the API, in MLflow's layout:
//! `<exp>/models/<m-id>/{meta.yaml, params/, metrics/, tags/}`, artifacts wherever the experiment's
//! artifact location says (`<location>/models/<m-id>/artifacts`).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::query::{self, check_max_results, Spec};
use crate::api::{
    validate, CreateLoggedModel, LoggedMetric, LoggedModelInfo, LoggedModelStatus, Page,
    SearchLoggedModels,
};
use crate::entities::LifecycleStage;
use crate::error::{Result, TrackingError};
use crate::fsx;
use crate::meta::Meta;
use crate::names;
use crate::search::{parse_order_by, Dialect, OrderBy};
use crate::store::{Store, META};
use crate::util;

/// Most logged models one search page holds.
const MAX_MODELS_PER_PAGE: usize = 50_000;

impl Store {
    pub(crate) fn api_create_logged_model(
        &self,
        req: CreateLoggedModel,
    ) -> Result<LoggedModelInfo> {
        let exp = self.get_active_experiment(&req.experiment_id)?;
        for (k, v) in &req.params {
            validate::param(k, v)?;
        }
        for (k, v) in &req.tags {
            validate::tag(k, v)?;
        }
        if let Some(run) = &req.source_run_id {
            self.run_dir(run)?;
        }
        let exp_dir = self.experiment_dir(&req.experiment_id)?;
        let models_dir = exp_dir.join("models");
        std::fs::create_dir_all(&models_dir).map_err(|e| TrackingError::io(&models_dir, e))?;
        let model_id = format!("m-{}", util::hex_id());
        let artifact_location = format!(
            "{}/models/{model_id}/artifacts",
            exp.artifact_location.trim_end_matches('/')
        );
        let now = util::now_ms();
        let name = req
            .name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(util::run_name);
        let mut m = Meta::default();
        m.set("artifact_location", artifact_location.as_str())
            .set("creation_timestamp", now)
            .set("experiment_id", req.experiment_id.as_str())
            .set("last_updated_timestamp", now)
            .set("lifecycle_stage", "active")
            .set("model_id", model_id.as_str())
            .set("model_type", crate::meta::opt(req.model_type))
            .set("name", name.as_str())
            .set("source_run_id", crate::meta::opt(req.source_run_id))
            .set("status", LoggedModelStatus::Pending.code())
            .set("status_message", Value::Null);
        let tmp = fsx::tmp_path(&models_dir);
        for sub in ["params", "metrics", "tags"] {
            let p = tmp.join(sub);
            std::fs::create_dir_all(&p).map_err(|e| TrackingError::io(&p, e))?;
        }
        write_values(&tmp.join("params"), &req.params)?;
        write_values(&tmp.join("tags"), &req.tags)?;
        self.write_meta(&m, &tmp.join(META))?;
        let final_dir = models_dir.join(&model_id);
        std::fs::rename(&tmp, &final_dir).map_err(|e| {
            let _ = std::fs::remove_dir_all(&tmp);
            TrackingError::io(&final_dir, e)
        })?;
        self.api_get_logged_model(&model_id, false)
    }

    fn read_logged_model_info(&self, dir: &Path, model_id: &str) -> Result<LoggedModelInfo> {
        let path = dir.join(META);
        let m = self.read_meta(&path, "logged model", model_id)?;
        let status = match m.0.get("status") {
            Some(Value::String(s)) => LoggedModelStatus::parse(s).ok(),
            _ => m.int("status").and_then(LoggedModelStatus::from_code),
        }
        .unwrap_or(LoggedModelStatus::Unspecified);
        Ok(LoggedModelInfo {
            model_id: m.str("model_id").unwrap_or_else(|| model_id.to_string()),
            experiment_id: m.req_str("experiment_id", "logged model", &path)?,
            name: m.str("name").unwrap_or_default(),
            artifact_location: m
                .str("artifact_location")
                .unwrap_or_else(|| util::file_uri(&dir.join("artifacts"))),
            creation_timestamp: m.int("creation_timestamp"),
            last_updated_timestamp: m.int("last_updated_timestamp"),
            source_run_id: m.str("source_run_id").filter(|s| !s.is_empty()),
            status,
            status_message: m.str("status_message"),
            model_type: m.str("model_type"),
            tags: fsx::read_kv_dir(&dir.join("tags"))?,
            params: fsx::read_kv_dir(&dir.join("params"))?,
            metrics: model_metrics(&dir.join("metrics"), model_id)?,
            lifecycle_stage: LifecycleStage::parse(m.str("lifecycle_stage").as_deref()),
        })
    }

    pub(crate) fn api_get_logged_model(
        &self,
        model_id: &str,
        allow_deleted: bool,
    ) -> Result<LoggedModelInfo> {
        let dir = self.logged_model_dir(model_id)?;
        let info = self.read_logged_model_info(&dir, model_id)?;
        if info.lifecycle_stage == LifecycleStage::Deleted && !allow_deleted {
            return Err(TrackingError::not_found("logged model", model_id));
        }
        Ok(info)
    }

    fn update_logged_model_meta(&self, model_id: &str, f: impl FnOnce(&mut Meta)) -> Result<()> {
        let dir = self.logged_model_dir(model_id)?;
        let path = dir.join(META);
        let mut m = self.read_meta(&path, "logged model", model_id)?;
        f(&mut m);
        m.set("last_updated_timestamp", util::now_ms());
        self.write_meta(&m, &path)
    }

    pub(crate) fn api_finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModelInfo> {
        self.api_get_logged_model(model_id, false)?;
        self.update_logged_model_meta(model_id, |m| {
            m.set("status", status.code());
        })?;
        self.api_get_logged_model(model_id, false)
    }

    pub(crate) fn api_delete_logged_model(&self, model_id: &str) -> Result<()> {
        self.api_get_logged_model(model_id, false)?;
        self.update_logged_model_meta(model_id, |m| {
            m.set("lifecycle_stage", "deleted");
        })
    }

    pub(crate) fn api_set_logged_model_tags(
        &self,
        model_id: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<()> {
        for (k, v) in tags {
            validate::tag(k, v)?;
        }
        self.api_get_logged_model(model_id, false)?;
        let dir = self.logged_model_dir(model_id)?;
        for (k, v) in tags {
            self.write_value(&dir.join("tags").join(k), v)?;
        }
        Ok(())
    }

    pub(crate) fn api_delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        names::validate_key("tag key", key)?;
        self.api_get_logged_model(model_id, false)?;
        let path = self.logged_model_dir(model_id)?.join("tags").join(key);
        std::fs::remove_file(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                TrackingError::not_found_at("logged model tag", key, &path)
            } else {
                TrackingError::io(&path, e)
            }
        })
    }

    pub(crate) fn api_log_logged_model_params(
        &self,
        model_id: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<()> {
        for (k, v) in params {
            validate::param(k, v)?;
        }
        self.api_get_logged_model(model_id, false)?;
        let dir = self.logged_model_dir(model_id)?;
        for (k, v) in params {
            self.write_value(&dir.join("params").join(k), v)?;
        }
        Ok(())
    }

    pub(crate) fn api_search_logged_models(
        &self,
        req: &SearchLoggedModels,
    ) -> Result<Page<LoggedModelInfo>> {
        let max = if req.max_results == 0 {
            100
        } else {
            req.max_results
        };
        check_max_results(max, MAX_MODELS_PER_PAGE)?;
        let mut orders: Vec<OrderBy> = Vec::new();
        for o in &req.order_by {
            let mut parsed = parse_order_by(&o.field_name, Dialect::LoggedModels)
                .map_err(query::search_error)?;
            parsed.ascending = o.ascending;
            orders.push(parsed);
        }
        let spec = Spec {
            filter: req.filter.as_deref(),
            orders,
            dialect: Dialect::LoggedModels,
            max_results: max,
            page_token: req.page_token.as_deref(),
        };
        let mut all = Vec::new();
        for exp_id in &req.experiment_ids {
            let Ok(exp_dir) = self.experiment_dir(exp_id) else {
                continue;
            };
            let models = exp_dir.join("models");
            for (name, is_dir) in fsx::list_names(&models)? {
                if !is_dir || !name.starts_with("m-") || !models.join(&name).join(META).is_file() {
                    continue;
                }
                let info = self.read_logged_model_info(&models.join(&name), &name)?;
                if info.lifecycle_stage == LifecycleStage::Active {
                    all.push(info);
                }
            }
        }
        query::run(all, &spec, |a, b| {
            b.creation_timestamp
                .cmp(&a.creation_timestamp)
                .then_with(|| a.model_id.cmp(&b.model_id))
        })
    }
}

/// A logged model's metrics (`metrics/<key>`, lines `<ts> <value> <step> <run_id> [<dataset>
/// <digest>]`): the latest value of each key and dataset, as MLflow's file store answers them.
fn model_metrics(dir: &Path, model_id: &str) -> Result<Vec<LoggedMetric>> {
    let mut out = Vec::new();
    fsx::for_each_file_rec(
        &mut fsx::Reader::new(),
        fsx::OpenDir::open(dir)?,
        |key, text, folder| {
            let file = folder.join(key.rsplit('/').next().unwrap_or(&key));
            out.extend(crate::metrics::model_metrics_of(
                &key, model_id, text, &file,
            )?);
            Ok(())
        },
    )?;
    Ok(out)
}

fn write_values(dir: &Path, values: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in values {
        let p = dir.join(k);
        fsx::ensure_parent(&p)?;
        std::fs::write(&p, v).map_err(|e| TrackingError::io(&p, e))?;
    }
    Ok(())
}
