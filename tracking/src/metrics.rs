//! The metric file format: one file per key, one line `<timestamp_ms> <value> <step>` per logged value, appended with
//! `O_APPEND` and one write per call, so concurrent writers (threads or processes) lose no line.
//!
//! Reading accepts 2-, 3- and 5-field lines, NaN/inf, duplicates and a missing trailing newline.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

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

/// The file line for one value (with its newline).
pub(crate) fn format_line(out: &mut String, value: f64, timestamp: i64, step: i64) {
    let _ = writeln!(out, "{timestamp} {} {step}", util::py_float(value));
}

/// Parses one metric line (2, 3 or 5 fields).
pub(crate) fn parse_line(line: &str) -> Option<MetricValue> {
    let mut parts = line.split_whitespace();
    let ts = parts.next()?;
    let value = util::parse_py_float(parts.next()?)?;
    let step = match parts.next() {
        Some(s) => s.parse::<i64>().ok()?,
        None => 0,
    };
    let rest = parts.count();
    if rest != 0 && rest != 2 {
        return None;
    }
    let timestamp = ts
        .parse::<i64>()
        .ok()
        .or_else(|| ts.parse::<f64>().ok().map(|f| f as i64))?;
    Some(MetricValue {
        value,
        timestamp,
        step,
    })
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
    values.iter().copied().max_by(later)
}

/// The latest value of a metric file's text, without collecting its history. `path` names the
/// file in the error of a malformed line (it is only called then).
pub(crate) fn latest_in(
    text: &str,
    path: impl FnOnce() -> std::path::PathBuf,
) -> Result<Option<MetricValue>> {
    let mut best: Option<MetricValue> = None;
    for_each_value(text, |v| {
        if best.is_none_or(|b| later(&v, &b).is_ge()) {
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
        format_line(&mut s, 0.1, 1234, 7);
        format_line(&mut s, f64::NEG_INFINITY, 1235, 8);
        assert_eq!(s, "1234 0.1 7\n1235 -inf 8\n");
        let v = parse_file(&s, Path::new("m")).unwrap();
        assert_eq!(v[0].value, 0.1);
    }
}
