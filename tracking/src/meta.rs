//! Reading and writing `meta.yaml` files (PyYAML `safe_dump` style), tolerant of what every MLflow
//! version wrote (ids as numbers or strings, missing fields, nulls).

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Result, TrackingError};
use crate::fsx;

/// A parsed meta file: its top-level mapping.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meta(pub Map<String, Value>);

impl Meta {
    /// Parses meta text; `kind` and `path` name the object in errors.
    pub(crate) fn parse(text: &str, kind: &'static str, path: &Path) -> Result<Meta> {
        let corrupt = |message: String| TrackingError::Corrupt {
            kind,
            path: path.to_path_buf(),
            message,
        };
        if text.trim().is_empty() {
            return Err(corrupt("the file is empty".into()));
        }
        let v: Value = homeml_flavor::yaml::from_str(text).map_err(|e| corrupt(e.0))?;
        match v {
            Value::Object(m) => Ok(Meta(m)),
            other => Err(corrupt(format!("expected a mapping, found {other}"))),
        }
    }

    /// Reads `path`; `Ok(None)` when it does not exist.
    pub(crate) fn read_opt(path: &Path, kind: &'static str) -> Result<Option<Meta>> {
        match fsx::read_opt(path)? {
            Some(text) => Meta::parse(&text, kind, path).map(Some),
            None => Ok(None),
        }
    }

    /// Reads `path`; a missing file is `NotFound` for `kind` `name`.
    pub(crate) fn read(path: &Path, kind: &'static str, name: &str) -> Result<Meta> {
        Meta::read_opt(path, kind)?.ok_or_else(|| TrackingError::not_found_at(kind, name, path))
    }

    /// Writes the meta atomically.
    pub(crate) fn write(&self, tmp_dir: &Path, path: &Path) -> Result<()> {
        let text = self.to_yaml(path)?;
        fsx::atomic_write(tmp_dir, path, text.as_bytes())
    }

    /// Writes the meta only if `path` does not exist yet. Returns false if it existed.
    pub(crate) fn write_new(&self, tmp_dir: &Path, path: &Path) -> Result<bool> {
        let text = self.to_yaml(path)?;
        fsx::write_new(tmp_dir, path, text.as_bytes())
    }

    fn to_yaml(&self, path: &Path) -> Result<String> {
        homeml_flavor::yaml::to_string(&Value::Object(self.0.clone())).map_err(|e| {
            TrackingError::Corrupt {
                kind: "meta",
                path: path.to_path_buf(),
                message: e.0,
            }
        })
    }

    /// Sets a field.
    pub(crate) fn set(&mut self, key: &str, v: impl Into<Value>) -> &mut Self {
        self.0.insert(key.to_string(), v.into());
        self
    }

    /// A string field; numbers are turned into strings (old MLflow wrote ids as ints).
    pub(crate) fn str(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// An integer field (accepts numeric strings).
    pub(crate) fn int(&self, key: &str) -> Option<i64> {
        match self.0.get(key)? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A string field that must be there.
    pub(crate) fn req_str(&self, key: &str, kind: &'static str, path: &Path) -> Result<String> {
        self.str(key).ok_or_else(|| TrackingError::Corrupt {
            kind,
            path: path.to_path_buf(),
            message: format!("field '{key}' is missing"),
        })
    }
}

/// `Value::Null` for `None`.
pub(crate) fn opt<T: Into<Value>>(v: Option<T>) -> Value {
    v.map(Into::into).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_pyyaml_style() {
        let mut m = Meta::default();
        m.set("name", "Default")
            .set("experiment_id", "0")
            .set("creation_time", 1795880702196i64)
            .set("end_time", Value::Null)
            .set("entry_point_name", "")
            .set("tags", Value::Array(vec![]))
            .set("artifact_location", "file:///tmp/x y/0");
        let text = m.to_yaml(Path::new("meta.yaml")).unwrap();
        let back = Meta::parse(&text, "experiment", Path::new("meta.yaml")).unwrap();
        assert_eq!(back.str("experiment_id").as_deref(), Some("0"));
        assert_eq!(back.str("entry_point_name").as_deref(), Some(""));
        assert_eq!(back.int("creation_time"), Some(1795880702196));
        // A quoted string (PyYAML reads either quote style), never the integer 0.
        assert!(
            text.contains("experiment_id: '0'") || text.contains("experiment_id: \"0\""),
            "{text}"
        );
        assert!(text.contains("end_time: null"), "{text}");
        // Keys are sorted.
        let keys: Vec<&str> = text.lines().map(|l| l.split(':').next().unwrap()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "{text}");
    }

    #[test]
    fn corrupt_files_name_the_file() {
        let e = Meta::parse("name: [x", "run", Path::new("/s/1/meta.yaml")).unwrap_err();
        assert!(e.to_string().contains("/s/1/meta.yaml"), "{e}");
        assert!(Meta::parse("", "run", Path::new("m")).is_err());
        assert!(Meta::parse("- a\n- b\n", "run", Path::new("m")).is_err());
    }
}
