//! One feature as configured (an `[[apps.features]]` table): its type, bounds, default and categories,
//! and the check of one JSON value against it. Both the config (which checks defaults when it loads)
//! and the feature set (which validates requests) use this module; it uses neither.

use serde::Deserialize;
use serde_json::Value;

fn yes() -> bool {
    true
}

/// The type of a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureType {
    /// A JSON number.
    Float,
    /// A JSON integer.
    Int,
    /// A JSON boolean, sent as 0/1.
    Bool,
    /// A JSON string out of `categories`, sent as its index.
    String,
}

impl FeatureType {
    /// The name used in configs and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            FeatureType::Float => "float",
            FeatureType::Int => "int",
            FeatureType::Bool => "bool",
            FeatureType::String => "string",
        }
    }
}

/// One named feature.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureConfig {
    /// The field name clients send.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: FeatureType,
    /// Whether it must be present (a feature with a default is never required). Default true.
    #[serde(default = "yes")]
    pub required: bool,
    /// Value used when absent.
    #[serde(default)]
    pub default: Option<toml::Value>,
    /// Smallest allowed value (float/int).
    #[serde(default)]
    pub min: Option<f64>,
    /// Largest allowed value (float/int).
    #[serde(default)]
    pub max: Option<f64>,
    /// Allowed values of a string feature, sent as their index.
    #[serde(default)]
    pub categories: Vec<String>,
    /// A description for the OpenAPI document.
    #[serde(default)]
    pub description: Option<String>,
}

/// Converts a TOML value (a feature default) to JSON.
pub fn toml_to_json(v: &toml::Value) -> serde_json::Value {
    match v {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(a) => serde_json::Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => serde_json::Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// Checks one JSON value against a feature and returns the number sent to the model.
pub fn check_value(f: &FeatureConfig, v: &Value) -> Result<f64, String> {
    let x = match f.kind {
        FeatureType::Float => match v.as_f64() {
            Some(x) if v.is_number() => x,
            _ => return Err(format!("expected a number, got {}", kind_of(v))),
        },
        FeatureType::Int => {
            if let Some(i) = v.as_i64() {
                i as f64
            } else if let Some(u) = v.as_u64() {
                u as f64
            } else {
                return Err(format!("expected an integer, got {}", kind_of(v)));
            }
        }
        FeatureType::Bool => match v.as_bool() {
            Some(b) => f64::from(u8::from(b)),
            None => return Err(format!("expected a boolean, got {}", kind_of(v))),
        },
        FeatureType::String => {
            let Some(s) = v.as_str() else {
                return Err(format!("expected a string, got {}", kind_of(v)));
            };
            match f.categories.iter().position(|c| c == s) {
                Some(i) => i as f64,
                None => {
                    return Err(format!(
                        "{s:?} is not one of {}",
                        f.categories
                            .iter()
                            .map(|c| format!("{c:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            }
        }
    };
    if let Some(lo) = f.min {
        if x < lo {
            return Err(format!("{x} is below the minimum {lo}"));
        }
    }
    if let Some(hi) = f.max {
        if x > hi {
            return Err(format!("{x} is above the maximum {hi}"));
        }
    }
    Ok(x)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a float",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
