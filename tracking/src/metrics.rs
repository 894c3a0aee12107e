//! The metric file format: one file per key, one line `<timestamp_ms> <value> <step>` per logged value, appended with
//! `O_APPEND` and one write per call, so concurrent writers (threads or processes) lose no line.
//!
//! Reading accepts 2-, 3- and 5-field lines, NaN/inf, duplicates and a missing trailing newline.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::api::LoggedMetric;
use crate::entities::MetricValue;
use crate::error::{Result, TrackingError};
use crate::fsx;
use crate::util;

/// One metric value with its key, for batches and histories.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    /// The metric name.
    pub key: String,
    /// The value.
    pub value: f64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// The step.
    pub step: i64,
}

impl Metric {
    /// A metric value logged now.
    pub fn new(key: impl Into<String>, value: f64, step: i64) -> Metric {
        Metric {
            key: key.into(),
            value,
            timestamp: util::now_ms(),
            step,
        }
    }
}

/// The dataset of a value as its file line carries it: both name and digest, or nothing (MLflow
/// writes neither when one is missing).
fn dataset_of<'a>(name: Option<&'a str>, digest: Option<&'a str>) -> Option<(&'a str, &'a str)> {
    name.zip(digest)
}

/// The run's file line for one value (with its newline): `<ts> <value> <step>`, plus
/// ` <dataset_name> <dataset_digest>` when both are set, as MLflow's file store writes it.
pub(crate) fn format_line(
    out: &mut String,
    value: f64,
    timestamp: i64,
    step: i64,
    dataset: (Option<&str>, Option<&str>),
) {
    let _ = write!(out, "{timestamp} {} {step}", util::py_float(value));
    if let Some((name, digest)) = dataset_of(dataset.0, dataset.1) {
        let _ = write!(out, " {name} {digest}");
    }
    out.push('\n');
}

/// A logged model's file line for one value (`<exp>/models/<m-id>/metrics/<key>`):
/// `<ts> <value> <step> <run_id>`, plus ` <dataset_name> <dataset_digest>` when both are set.
pub(crate) fn format_model_line(out: &mut String, m: &LoggedMetric, run_id: &str) {
    let _ = write!(
        out,
        "{} {} {} {run_id}",
        m.timestamp,
        util::py_float(m.value),
        m.step
    );
    if let Some((name, digest)) = dataset_of(m.dataset_name.as_deref(), m.dataset_digest.as_deref())
    {
        let _ = write!(out, " {name} {digest}");
    }
    out.push('\n');
}

fn parse_timestamp(ts: &str) -> Option<i64> {
    ts.parse::<i64>()
        .ok()
        .or_else(|| ts.parse::<f64>().ok().map(|f| f as i64))
}

/// Parses one run metric line (2, 3 or 5 fields; the last two are the dataset's name and digest).
/// MLflow 3.17's file store reads the step of a 5-field line as 0; the step written is kept here.
pub(crate) fn parse_line(line: &str) -> Option<MetricValue> {
    let parts: Vec<&str> = line.split_whitespace().collect();
    let (step, dataset) = match parts.as_slice() {
        [_, _] => (0, None),
        [_, _, step] => (step.parse::<i64>().ok()?, None),
        [_, _, step, name, digest] => (step.parse::<i64>().ok()?, Some((*name, *digest))),
        _ => return None,
    };
    Some(MetricValue {
        value: util::parse_py_float(parts[1])?,
        timestamp: parse_timestamp(parts[0])?,
        step,
        dataset_name: dataset.map(|d| d.0.to_string()),
        dataset_digest: dataset.map(|d| d.1.to_string()),
    })
}

/// Parses one logged model metric line (4 or 6 fields: `<ts> <value> <step> <run_id> [<dataset>
/// <digest>]`) into a metric of `key` and `model_id`.
pub(crate) fn parse_model_line(line: &str, key: &str, model_id: &str) -> Option<LoggedMetric> {
    let parts: Vec<&str> = line.split_whitespace().collect();
    let dataset = match parts.as_slice() {
        [_, _, _, _] => None,
        [_, _, _, _, name, digest] => Some((*name, *digest)),
        _ => return None,
    };
    Some(LoggedMetric {
        key: key.to_string(),
        value: util::parse_py_float(parts[1])?,
        timestamp: parse_timestamp(parts[0])?,
        step: parts[2].parse::<i64>().ok()?,
        model_id: Some(model_id.to_string()),
        dataset_name: dataset.map(|d| d.0.to_string()),
        dataset_digest: dataset.map(|d| d.1.to_string()),
        run_id: Some(parts[3].to_string()),
    })
}

/// A logged model's metrics as MLflow answers them: for each key (in file order) the latest
/// value of each (dataset_name, dataset_digest) group, groups in order of first appearance.
pub(crate) fn model_metrics_of(
    key: &str,
    model_id: &str,
    text: &str,
    path: &Path,
) -> Result<Vec<LoggedMetric>> {
    let mut groups: Vec<LoggedMetric> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let m = parse_model_line(line, key, model_id).ok_or_else(|| {
            corrupt(
                path,
                format!(
                    "line {} is not '<timestamp> <value> <step> <run_id> [<dataset> <digest>]': {line:?}",
                    i + 1
                ),
            )
        })?;
        match groups
            .iter_mut()
            .find(|g| g.dataset_name == m.dataset_name && g.dataset_digest == m.dataset_digest)
        {
            Some(g) => {
                let newer = (m.step, m.timestamp)
                    .cmp(&(g.step, g.timestamp))
                    .then(m.value.total_cmp(&g.value));
                if newer.is_ge() {
                    *g = m;
                }
            }
            None => groups.push(m),
        }
    }
    Ok(groups)
}

/// Parses a whole metric file; a malformed line names the file and line.
pub(crate) fn parse_file(text: &str, path: &Path) -> Result<Vec<MetricValue>> {
    let mut out = Vec::new();
    for_each_value(text, |v| out.push(v)).map_err(|message| corrupt(path, message))?;
    Ok(out)
}

fn corrupt(path: &Path, message: String) -> TrackingError {
    TrackingError::Corrupt {
        kind: "metric",
        path: path.to_path_buf(),
        message,
    }
}

/// Calls `f` with each value of a metric file, in order; a malformed line is an error message
/// naming the line.
fn for_each_value(text: &str, mut f: impl FnMut(MetricValue)) -> std::result::Result<(), String> {
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v = parse_line(line).ok_or_else(|| {
            format!(
                "line {} is not '<timestamp> <value> [<step> [<dataset> <digest>]]': {line:?}",
                i + 1
            )
        })?;
        f(v);
    }
    Ok(())
}

/// Orders values as MLflow picks the latest: by (step, timestamp, value).
fn later(a: &MetricValue, b: &MetricValue) -> std::cmp::Ordering {
    (a.step, a.timestamp)
        .cmp(&(b.step, b.timestamp))
        .then(a.value.total_cmp(&b.value))
}

/// MLflow's latest value: the highest (step, timestamp, value).
pub(crate) fn latest(values: &[MetricValue]) -> Option<MetricValue> {
    values.iter().max_by(|a, b| later(a, b)).cloned()
}

/// The latest value of a metric file's text, without collecting its history. `path` names the
/// file in the error of a malformed line (it is only called then).
pub(crate) fn latest_in(
    text: &str,
    path: impl FnOnce() -> std::path::PathBuf,
) -> Result<Option<MetricValue>> {
    let mut best: Option<MetricValue> = None;
    for_each_value(text, |v| {
        if best.as_ref().is_none_or(|b| later(&v, b).is_ge()) {
            best = Some(v);
        }
    })
    .map_err(|message| corrupt(&path(), message))?;
    Ok(best)
}

/// The latest value of every metric file under an open metrics folder (`None`: a missing folder,
/// no metrics).
pub(crate) fn latest_metrics_in(
    rd: &mut fsx::Reader,
    dir: Option<fsx::OpenDir>,
) -> Result<BTreeMap<String, MetricValue>> {
    let mut out = BTreeMap::new();
    fsx::for_each_file_rec(rd, dir, |key, text, folder| {
        if let Some(v) = latest_in(text, || folder.join(key.rsplit('/').next().unwrap_or(&key)))? {
            out.insert(key, v);
        }
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_line_form() {
        let text = "1 0.5 0\n2 nan 1\n3 inf 2 ds digest\n4 -1.5\n5 1e-07 3";
        let v = parse_file(text, Path::new("m")).unwrap();
        assert_eq!(v.len(), 5);
        assert!(v[1].value.is_nan());
        assert_eq!(v[2].value, f64::INFINITY);
        assert_eq!(v[3].step, 0);
        assert_eq!(v[4].value, 1e-7);
        let bad = parse_file("1 2 3 4\n", Path::new("/x/metrics/loss")).unwrap_err();
        assert!(bad.to_string().contains("/x/metrics/loss"), "{bad}");
        assert!(parse_file("abc\n", Path::new("m")).is_err());
    }

    #[test]
    fn model_lines_keep_run_and_dataset_and_group_by_dataset() {
        let mut m = LoggedMetric {
            key: "acc".into(),
            value: 0.5,
            timestamp: 10,
            step: 1,
            model_id: Some("m-1".into()),
            dataset_name: Some("train".into()),
            dataset_digest: Some("d1".into()),
            run_id: None,
        };
        let mut s = String::new();
        format_model_line(&mut s, &m, "r1");
        m.value = 0.7;
        m.step = 2;
        (m.dataset_name, m.dataset_digest) = (None, None);
        format_model_line(&mut s, &m, "r1");
        s.push_str("5 0.9 0 r1 train d1\n");
        assert_eq!(s.lines().next(), Some("10 0.5 1 r1 train d1"));
        let got = model_metrics_of("acc", "m-1", &s, Path::new("m")).unwrap();
        let short: Vec<_> = got
            .iter()
            .map(|g| {
                (
                    g.value,
                    g.step,
                    g.dataset_name.as_deref(),
                    g.run_id.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            short,
            [
                (0.5, 1, Some("train"), Some("r1")),
                (0.7, 2, None, Some("r1"))
            ]
        );
        assert!(model_metrics_of("acc", "m-1", "1 2 3\n", Path::new("/x")).is_err());
    }

    #[test]
    fn latest_is_highest_step_then_time_then_value() {
        let v = parse_file("10 5.0 1\n20 1.0 2\n5 9.0 2\n20 0.5 2\n", Path::new("m")).unwrap();
        let l = latest(&v).unwrap();
        assert_eq!((l.step, l.timestamp, l.value), (2, 20, 1.0));
        let text = "10 5.0 1\n20 1.0 2\n5 9.0 2\n20 0.5 2\n20 nan 2\n20 -inf 2\n";
        let all = parse_file(text, Path::new("m")).unwrap();
        let streamed = latest_in(text, || "m".into()).unwrap().unwrap();
        let collected = latest(&all).unwrap();
        // NaN sorts highest under total_cmp, as both readers agree.
        assert!(streamed.value.is_nan() && collected.value.is_nan());
        assert_eq!((streamed.step, streamed.timestamp), (2, 20));
        assert_eq!(latest_in("", || "m".into()).unwrap(), None);
        let e = latest_in("1 2 3\nbad\n", || "/r/metrics/loss".into()).unwrap_err();
        assert!(
            e.to_string().contains("/r/metrics/loss") && e.to_string().contains("line 2"),
            "{e}"
        );
    }

    #[test]
    fn lines_round_trip() {
        let mut s = String::new();
        format_line(&mut s, 0.1, 1234, 7, (None, None));
        format_line(&mut s, f64::NEG_INFINITY, 1235, 8, (Some("train"), None));
        format_line(&mut s, 2.5, 1236, 9, (Some("train"), Some("ab12")));
        assert_eq!(s, "1234 0.1 7\n1235 -inf 8\n1236 2.5 9 train ab12\n");
        let v = parse_file(&s, Path::new("m")).unwrap();
        assert_eq!(v[0].value, 0.1);
        assert_eq!(
            (v[2].step, v[2].dataset_name.as_deref()),
            (9, Some("train"))
        );
        assert_eq!(v[2].dataset_digest.as_deref(), Some("ab12"));
    }
}
