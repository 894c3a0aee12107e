//! The file store's runs over the API: creation with the client's tags, updates, search, all-or-nothing
//! log-batch, inputs and outputs, paged metric history.

use std::collections::BTreeMap;

use serde_json::Value;

use super::query::{self, check_max_results, parse_orders, Spec};
use super::searchable::RunRow;
use crate::api::{
    validate, CreateRun, Dataset, DatasetInput, LogBatch, LoggedMetric, ModelOutput, Page,
    RunInputs, SearchRuns, UpdateRun,
};
use crate::entities::{Run, RunInfo};
use crate::error::{Result, TrackingError};
use crate::fsx;
use crate::meta::Meta;
use crate::metrics::{format_line, format_model_line};
use crate::runs::{RunDepth, TAG_RUN_NAME, TAG_USER};
use crate::search::{Dialect, KeyType};
use crate::store::{Store, META};
use crate::util;

/// Most runs one search page holds (MLflow's SEARCH_MAX_RESULTS_THRESHOLD).
pub(crate) const MAX_RUNS_PER_PAGE: usize = 50_000;

/// A stable 32-hex id of some strings (the file store's dataset and input ids): two FNV-1a hashes.
fn stable_id(parts: &[&str]) -> String {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    for p in parts {
        for byte in p.bytes().chain(std::iter::once(0)) {
            a = (a ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
            b = (b ^ u64::from(byte))
                .wrapping_mul(0x0000_0100_0000_01b3)
                .rotate_left(5);
        }
    }
    format!("{a:016x}{b:016x}")
}

impl Store {
    pub(crate) fn api_create_run(&self, req: CreateRun) -> Result<Run> {
        let exp_id = if req.experiment_id.is_empty() {
            crate::DEFAULT_EXPERIMENT_ID.to_string()
        } else {
            req.experiment_id
        };
        for (k, v) in &req.tags {
            validate::tag(k, v)?;
        }
        let run_name = req
            .run_name
            .filter(|n| !n.is_empty())
            .or_else(|| req.tags.get(TAG_RUN_NAME).cloned())
            .unwrap_or_else(util::run_name);
        let user = req
            .user_id
            .filter(|u| !u.is_empty())
            .or_else(|| req.tags.get(TAG_USER).cloned())
            .unwrap_or_default();
        let start = req.start_time.unwrap_or_else(util::now_ms);
        self.create_run_folder(&exp_id, &run_name, &user, start, req.tags)
    }

    pub(crate) fn api_update_run(&self, req: UpdateRun) -> Result<RunInfo> {
        let dir = self.active_run_dir(&req.run_id)?;
        if let Some(name) = req.run_name.as_deref().filter(|n| !n.is_empty()) {
            validate::tag(TAG_RUN_NAME, name)?;
            self.write_value(&dir.join("tags").join(TAG_RUN_NAME), name)?;
        }
        self.update_run_meta(&req.run_id, |m| {
            if let Some(s) = req.status {
                m.set("status", s.code());
            }
            if let Some(t) = req.end_time {
                m.set("end_time", t);
            }
            if let Some(name) = req.run_name.as_deref().filter(|n| !n.is_empty()) {
                m.set("run_name", name);
            }
        })?;
        self.get_run_info(&req.run_id)
    }

    pub(crate) fn api_search_runs(&self, req: &SearchRuns) -> Result<Page<Run>> {
        check_max_results(req.max_results, MAX_RUNS_PER_PAGE)?;
        let spec = Spec {
            filter: req.filter.as_deref(),
            orders: parse_orders(&req.order_by, Dialect::Runs)?,
            dialect: Dialect::Runs,
            max_results: req.max_results,
            page_token: req.page_token.as_deref(),
        };
        // Experiments that do not exist hold no runs (as MLflow's SQL store answers).
        let ids: Vec<&str> = req
            .experiment_ids
            .iter()
            .map(String::as_str)
            .filter(|id| self.experiment_dir(id).is_ok())
            .collect();
        let filter = query::parse(&spec)?;
        let needs_datasets = filter
            .clauses
            .iter()
            .any(|c| c.key_type == KeyType::Dataset);
        // A search on attributes only (the default order, start_time, run names, status...) reads
        // every run's meta.yaml, sorts and pages on that, and reads the data of the page's runs
        // only; one naming metrics, params, tags or datasets reads every run in full.
        let only_attributes = filter
            .clauses
            .iter()
            .map(|c| c.key_type)
            .chain(spec.orders.iter().map(|o| o.key_type))
            .all(|k| k == KeyType::Attribute);
        let depth = if only_attributes {
            RunDepth::Info
        } else {
            RunDepth::Full
        };
        let (folders, listed) = self.list_runs(&ids, req.view, depth)?;
        let mut rows = Vec::with_capacity(listed.len());
        for (folder, run) in listed {
            let datasets = if needs_datasets {
                self.api_run_inputs(&run.info.run_id)?
                    .dataset_inputs
                    .into_iter()
                    .map(|d| {
                        let ctx = d
                            .tags
                            .get("mlflow.data.context")
                            .cloned()
                            .unwrap_or_default();
                        (d.dataset.name, d.dataset.digest, ctx)
                    })
                    .collect()
            } else {
                Vec::new()
            };
            rows.push(RunRow {
                run,
                datasets,
                folder,
            });
        }
        let page = query::run_parsed(rows, &spec, &filter, |a, b| {
            b.run
                .info
                .start_time
                .cmp(&a.run.info.start_time)
                .then_with(|| a.run.info.run_id.cmp(&b.run.info.run_id))
        })?;
        let items = match depth {
            RunDepth::Full => page.items.into_iter().map(|r| r.run).collect(),
            RunDepth::Info => {
                let on_page: Vec<usize> = page.items.iter().map(|r| r.folder).collect();
                self.complete_runs(&folders, &on_page, req.view)?
            }
        };
        Ok(Page {
            items,
            next_page_token: page.next_page_token,
        })
    }

    /// Validates the whole batch (limits, keys, params that would change) before writing anything.
    pub(crate) fn api_log_batch(&self, run_id: &str, b: &LogBatch) -> Result<()> {
        validate::batch(b)?;
        let dir = self.active_run_dir(run_id)?;
        for (k, v) in &b.params {
            let path = dir.join("params").join(k);
            if let Some(old) = fsx::read_opt(&path)? {
                if old != *v {
                    return Err(TrackingError::ParamChanged {
                        run_id: run_id.into(),
                        key: k.clone(),
                        old,
                        new: v.clone(),
                        path,
                    });
                }
            }
        }
        for (k, v) in &b.params {
            self.write_param(run_id, &dir, k, v)?;
        }
        let model_dirs = self.metric_model_dirs(&b.metrics)?;
        let mut by_key: BTreeMap<&str, String> = BTreeMap::new();
        let mut by_model_key: BTreeMap<(&str, &str), String> = BTreeMap::new();
        for m in &b.metrics {
            format_line(
                by_key.entry(&m.key).or_default(),
                m.value,
                m.timestamp,
                m.step,
                (m.dataset_name.as_deref(), m.dataset_digest.as_deref()),
            );
            if let Some(model_id) = &m.model_id {
                let lines = by_model_key.entry((model_id, &m.key)).or_default();
                format_model_line(lines, m, run_id);
            }
        }
        for (k, lines) in by_key {
            fsx::append(&dir.join("metrics").join(k), &lines)?;
        }
        for ((model_id, k), lines) in by_model_key {
            if let Some(model_dir) = model_dirs.get(model_id) {
                fsx::append(&model_dir.join("metrics").join(k), &lines)?;
            }
        }
        for (k, v) in &b.tags {
            self.write_value(&dir.join("tags").join(k), v)?;
            if k == TAG_RUN_NAME {
                self.update_run_meta(run_id, |m| {
                    m.set("run_name", v.as_str());
                })?;
            }
        }
        Ok(())
    }

    /// The folder of each logged model that a batch's metrics name, checked before anything is
    /// written: the model must exist (MLflow's file store makes a stray folder for an unknown id,
    /// even one with `..` in it), and a dataset name or digest must hold no white space (it
    /// would split the metric line into fields no reader accepts).
    fn metric_model_dirs<'a>(
        &self,
        metrics: &'a [LoggedMetric],
    ) -> Result<BTreeMap<&'a str, std::path::PathBuf>> {
        let mut dirs = BTreeMap::new();
        for m in metrics {
            for (what, v) in [
                ("dataset_name", &m.dataset_name),
                ("dataset_digest", &m.dataset_digest),
            ] {
                if v.as_deref()
                    .is_some_and(|v| v.chars().any(char::is_whitespace))
                {
                    return Err(TrackingError::InvalidValue {
                        what: "metric dataset",
                        reason: format!(
                            "the {what} {:?} of metric '{}' contains white space, which the file store's metric lines cannot hold",
                            v.as_deref().unwrap_or_default(),
                            m.key
                        ),
                    });
                }
            }
            if let Some(id) = &m.model_id {
                if !dirs.contains_key(id.as_str()) {
                    dirs.insert(id.as_str(), self.logged_model_dir(id)?);
                }
            }
        }
        Ok(dirs)
    }

    pub(crate) fn api_metric_history(
        &self,
        run_id: &str,
        key: &str,
        max_results: Option<usize>,
        page_token: Option<&str>,
    ) -> Result<Page<LoggedMetric>> {
        let mut hist = self.metric_values(run_id, key)?;
        hist.sort_by(|a, b| {
            (a.timestamp, a.step)
                .cmp(&(b.timestamp, b.step))
                .then(a.value.total_cmp(&b.value))
        });
        let items: Vec<LoggedMetric> = hist
            .into_iter()
            .map(|m| LoggedMetric {
                key: key.to_string(),
                value: m.value,
                timestamp: m.timestamp,
                step: m.step,
                model_id: None,
                dataset_name: m.dataset_name,
                dataset_digest: m.dataset_digest,
                run_id: Some(run_id.to_string()),
            })
            .collect();
        let max = max_results.unwrap_or(usize::MAX).max(1);
        let (items, next_page_token) =
            crate::search::page::paginate(items, max, page_token).map_err(query::search_error)?;
        Ok(Page {
            items,
            next_page_token,
        })
    }

    /// Inputs in MLflow's file store layout: `<exp>/datasets/<id>/meta.yaml` for each dataset and
    /// `<run>/inputs/<input id>/meta.yaml` linking it (or a logged model) to the run.
    pub(crate) fn api_log_inputs(
        &self,
        run_id: &str,
        datasets: &[DatasetInput],
        model_ids: &[String],
    ) -> Result<()> {
        for d in datasets {
            for (k, v) in &d.tags {
                validate::tag(k, v)?;
            }
        }
        let run_dir = self.active_run_dir(run_id)?;
        let info = self.get_run_info(run_id)?;
        let exp_dir = self.experiment_dir(&info.experiment_id)?;
        for d in datasets {
            let ds = &d.dataset;
            let dataset_id = stable_id(&[&ds.name, &ds.digest]);
            let mut m = Meta::default();
            m.set("digest", ds.digest.as_str())
                .set("name", ds.name.as_str())
                .set("profile", crate::meta::opt(ds.profile.clone()))
                .set("schema", crate::meta::opt(ds.schema.clone()))
                .set("source", ds.source.as_str())
                .set("source_type", ds.source_type.as_str());
            m.write_new(
                self.tmp_dir(),
                &exp_dir.join("datasets").join(&dataset_id).join(META),
            )?;
            let tags: serde_json::Map<String, Value> = d
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            let mut link = Meta::default();
            link.set("destination_id", dataset_id.as_str())
                .set("destination_type", "RUN")
                .set("source_id", dataset_id.as_str())
                .set("source_type", "DATASET")
                .set("tags", Value::Object(tags));
            let input_id = stable_id(&[&dataset_id, run_id]);
            link.write_new(
                self.tmp_dir(),
                &run_dir.join("inputs").join(input_id).join(META),
            )?;
        }
        for model_id in model_ids {
            crate::names::validate_id("logged model id", model_id)?;
            let mut link = Meta::default();
            link.set("destination_id", model_id.as_str())
                .set("destination_type", "RUN")
                .set("source_id", model_id.as_str())
                .set("source_type", "MODEL")
                .set("tags", Value::Object(Default::default()));
            let input_id = stable_id(&[model_id, run_id]);
            link.write_new(
                self.tmp_dir(),
                &run_dir.join("inputs").join(input_id).join(META),
            )?;
        }
        Ok(())
    }

    pub(crate) fn api_run_inputs(&self, run_id: &str) -> Result<RunInputs> {
        let run_dir = self.run_dir(run_id)?;
        let inputs = run_dir.join("inputs");
        let mut out = RunInputs::default();
        let names = fsx::list_names(&inputs)?;
        if names.is_empty() {
            return Ok(out);
        }
        let info = self.get_run_info(run_id)?;
        let exp_dir = self.experiment_dir(&info.experiment_id)?;
        for (name, is_dir) in names {
            if !is_dir {
                continue;
            }
            let Some(m) = Meta::read_opt(&inputs.join(&name).join(META), "run input")? else {
                continue;
            };
            let source_id = m.str("source_id").unwrap_or_default();
            match m.str("source_type").as_deref() {
                Some("DATASET") => {
                    if crate::names::validate_id("dataset id", &source_id).is_err() {
                        continue;
                    }
                    let path = exp_dir.join("datasets").join(&source_id).join(META);
                    let Some(d) = Meta::read_opt(&path, "dataset")? else {
                        continue;
                    };
                    let tags = match m.0.get("tags") {
                        Some(Value::Object(t)) => t
                            .iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect(),
                        _ => BTreeMap::new(),
                    };
                    out.dataset_inputs.push(DatasetInput {
                        dataset: Dataset {
                            name: d.str("name").unwrap_or_default(),
                            digest: d.str("digest").unwrap_or_default(),
                            source_type: d.str("source_type").unwrap_or_default(),
                            source: d.str("source").unwrap_or_default(),
                            schema: d.str("schema"),
                            profile: d.str("profile"),
                        },
                        tags,
                    });
                }
                Some("MODEL") => out.model_inputs.push(source_id),
                _ => {}
            }
        }
        Ok(out)
    }

    pub(crate) fn api_log_outputs(&self, run_id: &str, models: &[ModelOutput]) -> Result<()> {
        let run_dir = self.active_run_dir(run_id)?;
        for o in models {
            self.logged_model_dir(&o.model_id)?;
            let mut link = Meta::default();
            link.set("destination_id", o.model_id.as_str())
                .set("destination_type", "MODEL_OUTPUT")
                .set("source_id", o.model_id.as_str())
                .set("source_type", "RUN_OUTPUT")
                .set("step", o.step)
                .set("tags", Value::Object(Default::default()));
            self.write_meta(&link, &run_dir.join("outputs").join(&o.model_id).join(META))?;
        }
        Ok(())
    }

    pub(crate) fn api_delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.delete_tag(run_id, key)
    }
}
