//! YAML in the style MLflow (PyYAML `safe_dump`) reads and writes: block style, sorted keys.

use serde::{de::DeserializeOwned, Serialize};

/// A YAML (de)serialization failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct YamlError(pub String);

/// Parses YAML text into `T`.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    serde_saphyr::from_str(text).map_err(|e| YamlError(e.to_string()))
}

/// Writes `value` as block-style YAML with every mapping's keys sorted, as PyYAML's `safe_dump` does.
///
/// The value goes through `serde_json::Value` (whose maps are sorted) so nested maps are sorted too.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, YamlError> {
    let sorted = serde_json::to_value(value).map_err(|e| YamlError(e.to_string()))?;
    serde_saphyr::to_string(&sorted).map_err(|e| YamlError(e.to_string()))
}
