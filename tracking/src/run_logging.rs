//! Logging to a run: metric values, params (write-once) and tags, one at a time or in a batch.

use std::collections::BTreeMap;
use std::path::Path;

use crate::entities::MetricValue;
use crate::error::{Result, TrackingError};
use crate::fsx;
use crate::metrics::{format_line, latest, parse_file, Metric};
use crate::names;
use crate::runs::TAG_RUN_NAME;
use crate::store::{Store, META};
use crate::util;

impl Store {
    /// Logs one metric value (`timestamp_ms` defaults to now).
    pub fn log_metric(
        &self,
        run_id: &str,
        key: &str,
        value: f64,
        step: i64,
        timestamp_ms: Option<i64>,
    ) -> Result<()> {
        names::validate_key("metric key", key)?;
        let dir = self.active_run_dir(run_id)?;
        let mut line = String::with_capacity(48);
        format_line(
            &mut line,
            value,
            timestamp_ms.unwrap_or_else(util::now_ms),
            step,
            (None, None),
        );
        fsx::append(&dir.join("metrics").join(key), &line)
    }

    /// Logs metrics, params and tags of one run in one call. Every key is checked before anything
    /// is written; each metric file gets one append holding all of its lines.
    pub fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<()> {
        for m in metrics {
            names::validate_key("metric key", &m.key)?;
        }
        for k in params.keys() {
            names::validate_key("param key", k)?;
        }
        for k in tags.keys() {
            names::validate_key("tag key", k)?;
        }
        let dir = self.active_run_dir(run_id)?;
        for (k, v) in params {
            self.write_param(run_id, &dir, k, v)?;
        }
        let mut by_key: BTreeMap<&str, String> = BTreeMap::new();
        for m in metrics {
            format_line(
                by_key.entry(&m.key).or_default(),
                m.value,
                m.timestamp,
                m.step,
                (None, None),
            );
        }
        for (k, lines) in by_key {
            fsx::append(&dir.join("metrics").join(k), &lines)?;
        }
        for (k, v) in tags {
            self.write_value(&dir.join("tags").join(k), v)?;
            if k == TAG_RUN_NAME {
                let path = dir.join(META);
                let mut m = self.read_meta(&path, "run", run_id)?;
                m.set("run_name", v.as_str());
                self.write_meta(&m, &path)?;
            }
        }
        Ok(())
    }

    /// Every logged value of a metric, in logging order (duplicates included, as MLflow returns them).
    /// A metric never logged gives an empty list.
    pub fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        Ok(self
            .metric_values(run_id, key)?
            .into_iter()
            .map(|v| Metric {
                key: key.to_string(),
                value: v.value,
                timestamp: v.timestamp,
                step: v.step,
            })
            .collect())
    }

    /// Every logged value of a metric with its dataset, in logging order.
    pub(crate) fn metric_values(&self, run_id: &str, key: &str) -> Result<Vec<MetricValue>> {
        names::validate_key("metric key", key)?;
        let path = self.run_dir(run_id)?.join("metrics").join(key);
        let Some(text) = fsx::read_opt(&path)? else {
            return Ok(Vec::new());
        };
        parse_file(&text, &path)
    }

    /// The latest value of a metric, if logged.
    pub fn get_latest_metric(&self, run_id: &str, key: &str) -> Result<Option<MetricValue>> {
        Ok(latest(&self.metric_values(run_id, key)?))
    }

    /// Logs a param. Params are immutable: the same value again is fine, another value is
    /// [`TrackingError::ParamChanged`].
    pub fn log_param(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        names::validate_key("param key", key)?;
        let dir = self.active_run_dir(run_id)?;
        self.write_param(run_id, &dir, key, value)
    }

    pub(crate) fn write_param(
        &self,
        run_id: &str,
        dir: &Path,
        key: &str,
        value: &str,
    ) -> Result<()> {
        let path = dir.join("params").join(key);
        if fsx::write_new(self.tmp_dir(), &path, value.as_bytes())? {
            return Ok(());
        }
        let old = fsx::read_opt(&path)?.unwrap_or_default();
        if old == value {
            Ok(())
        } else {
            Err(TrackingError::ParamChanged {
                run_id: run_id.into(),
                key: key.into(),
                old,
                new: value.into(),
                path,
            })
        }
    }

    /// Sets a tag (replacing its value). Setting `mlflow.runName` also renames the run.
    pub fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        names::validate_key("tag key", key)?;
        let dir = self.active_run_dir(run_id)?;
        self.write_value(&dir.join("tags").join(key), value)?;
        if key == TAG_RUN_NAME {
            self.update_run_meta(run_id, |m| {
                m.set("run_name", value);
            })?;
        }
        Ok(())
    }

    /// Deletes a tag; a missing tag is [`TrackingError::NotFound`], as in MLflow.
    pub fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        names::validate_key("tag key", key)?;
        let path = self.active_run_dir(run_id)?.join("tags").join(key);
        std::fs::remove_file(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                TrackingError::not_found_at("tag", key, &path)
            } else {
                TrackingError::io(&path, e)
            }
        })
    }
}
