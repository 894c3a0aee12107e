//! MLflow's limits on what is logged (mlflow/utils/validation.py), with its messages; every
//! [`super::TrackingStore`] implementation checks them before writing.

use crate::error::{Result, TrackingError};
use crate::names;

use super::LogBatch;

/// Longest param, metric or tag key.
pub const MAX_KEY_LENGTH: usize = 250;
/// Longest param value.
pub const MAX_PARAM_VALUE_LENGTH: usize = 6000;
/// Longest run tag value.
pub const MAX_TAG_VALUE_LENGTH: usize = 8000;
/// Longest experiment tag value.
pub const MAX_EXPERIMENT_TAG_VALUE_LENGTH: usize = 20000;
/// Most metrics in one log-batch.
pub const MAX_METRICS_PER_BATCH: usize = 1000;
/// Most params in one log-batch.
pub const MAX_PARAMS_PER_BATCH: usize = 100;
/// Most tags in one log-batch.
pub const MAX_TAGS_PER_BATCH: usize = 100;
/// Most entities in one log-batch.
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;

fn invalid(reason: String) -> TrackingError {
    TrackingError::InvalidValue {
        what: "request",
        reason,
    }
}

/// A value no longer than `limit` characters.
pub fn length(what: &str, value: &str, limit: usize) -> Result<()> {
    let n = value.chars().count();
    if n > limit {
        let shown: String = value.chars().take(250).collect();
        return Err(invalid(format!(
            "{what} '{shown}' had length {n}, which exceeded length limit of {limit}"
        )));
    }
    Ok(())
}

/// A param key and value.
pub fn param(key: &str, value: &str) -> Result<()> {
    names::validate_key("param key", key)?;
    length("Param value", value, MAX_PARAM_VALUE_LENGTH)
}

/// A run tag key and value.
pub fn tag(key: &str, value: &str) -> Result<()> {
    names::validate_key("tag key", key)?;
    length("Tag value", value, MAX_TAG_VALUE_LENGTH)
}

/// An experiment tag key and value.
pub fn experiment_tag(key: &str, value: &str) -> Result<()> {
    names::validate_key("experiment tag key", key)?;
    length("Tag value", value, MAX_EXPERIMENT_TAG_VALUE_LENGTH)
}

/// A whole log-batch: counts, keys, lengths, and no param key twice with different values.
pub fn batch(b: &LogBatch) -> Result<()> {
    let (m, p, t) = (b.metrics.len(), b.params.len(), b.tags.len());
    if m > MAX_METRICS_PER_BATCH {
        return Err(invalid(format!(
            "A batch logging request can contain at most {MAX_METRICS_PER_BATCH} metrics. Got {m} metrics. Please split up metrics across multiple requests and try again."
        )));
    }
    if p > MAX_PARAMS_PER_BATCH {
        return Err(invalid(format!(
            "A batch logging request can contain at most {MAX_PARAMS_PER_BATCH} params. Got {p} params. Please split up params across multiple requests and try again."
        )));
    }
    if t > MAX_TAGS_PER_BATCH {
        return Err(invalid(format!(
            "A batch logging request can contain at most {MAX_TAGS_PER_BATCH} tags. Got {t} tags. Please split up tags across multiple requests and try again."
        )));
    }
    if m + p + t > MAX_ENTITIES_PER_BATCH {
        return Err(invalid(format!(
            "A batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} metrics, params, and tags in total. Got {} in total.",
            m + p + t
        )));
    }
    for metric in &b.metrics {
        names::validate_key("metric key", &metric.key)?;
    }
    let mut seen: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for (k, v) in &b.params {
        param(k, v)?;
        if let Some(old) = seen.insert(k, v) {
            if old != v {
                return Err(invalid(format!(
                    "Duplicate parameter keys have been submitted: ['{k}']. Please ensure the request contains only one param value per param key."
                )));
            }
        }
    }
    for (k, v) in &b.tags {
        tag(k, v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::LoggedMetric;

    #[test]
    fn limits() {
        let metric = LoggedMetric {
            key: "m".into(),
            value: 1.0,
            timestamp: 0,
            step: 0,
            model_id: None,
            dataset_name: None,
            dataset_digest: None,
            run_id: None,
        };
        let mut b = LogBatch {
            metrics: vec![metric; 1001],
            ..Default::default()
        };
        assert!(batch(&b)
            .unwrap_err()
            .to_string()
            .contains("at most 1000 metrics"));
        b.metrics.truncate(1000);
        batch(&b).unwrap();
        b.tags.push(("t".into(), "v".into()));
        assert!(batch(&b).unwrap_err().to_string().contains("in total"));
        assert!(param("k", &"x".repeat(6001)).is_err());
        param("k", &"x".repeat(6000)).unwrap();
        assert!(param(&"k".repeat(251), "v").is_err());
        let dup = LogBatch {
            params: vec![("a".into(), "1".into()), ("a".into(), "2".into())],
            ..Default::default()
        };
        assert!(batch(&dup).is_err());
    }
}
