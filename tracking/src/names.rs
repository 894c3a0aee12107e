//! Validation of names, keys and ids, with MLflow's rules. Anything that becomes part of a path is
//! checked here first, so nothing is ever written outside the store root.

use crate::error::{Result, TrackingError};

fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> TrackingError {
    TrackingError::InvalidName {
        what,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// MLflow's `path_not_unique`: the name must be its own `posixpath.normpath` and not `.`/`..`/absolute.
fn path_not_unique(name: &str) -> bool {
    if name.is_empty() || name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return true;
    }
    name.split('/').any(|seg| seg == "." || seg == "..")
}

/// A param, metric or tag key: alphanumerics, `_ - . : /` and spaces; no `..`, no leading `/`.
pub fn validate_key(what: &'static str, key: &str) -> Result<()> {
    if key.len() > 250 {
        return Err(invalid(what, key, "longer than 250 characters"));
    }
    if let Some(c) = key
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | ':' | '/')))
    {
        return Err(invalid(
            what,
            key,
            format!(
                "character {c:?} is not allowed; names may only contain alphanumerics, \
                 underscores, dashes, periods, spaces, colons and slashes"
            ),
        ));
    }
    if path_not_unique(key) {
        return Err(invalid(
            what,
            key,
            "names are stored as files and must not be empty, absolute, or contain '.'/'..' segments",
        ));
    }
    Ok(())
}

/// An experiment name: non-empty, at most 500 characters (MLflow allows `/` here: it is not a path).
pub fn validate_experiment_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(invalid("experiment name", name, "it is empty"));
    }
    if name.chars().count() > 500 {
        return Err(invalid(
            "experiment name",
            name,
            "longer than 500 characters",
        ));
    }
    Ok(())
}

/// A registered model name: not blank, no `/` or `:`, not `.`/`..`.
pub fn validate_model_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(invalid("registered model name", name, "it is empty"));
    }
    if name.contains('/') || name.contains(':') || name.contains('\0') {
        return Err(invalid(
            "registered model name",
            name,
            "names cannot contain '/' or ':'",
        ));
    }
    if path_not_unique(name) {
        return Err(invalid(
            "registered model name",
            name,
            "the name would resolve to another path",
        ));
    }
    Ok(())
}

/// An alias: `[A-Za-z0-9_-]+`, at most 255 characters.
pub fn validate_alias(alias: &str) -> Result<()> {
    if alias.is_empty() {
        return Err(invalid("alias", alias, "it is empty"));
    }
    if alias.len() > 255 {
        return Err(invalid("alias", alias, "longer than 255 characters"));
    }
    if !alias
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return Err(invalid(
            "alias",
            alias,
            "aliases may only contain alphanumerics, underscores and dashes",
        ));
    }
    Ok(())
}

/// An alias that may be set: also not `latest` and not `v<digits>` (reserved by MLflow).
pub fn validate_alias_settable(alias: &str) -> Result<()> {
    validate_alias(alias)?;
    if alias.eq_ignore_ascii_case("latest") {
        return Err(invalid("alias", alias, "'latest' is reserved"));
    }
    let mut chars = alias.chars();
    if matches!(chars.next(), Some('v' | 'V'))
        && alias.len() > 1
        && chars.all(|c| c.is_ascii_digit())
    {
        return Err(invalid(
            "alias",
            alias,
            "version aliases (v<number>) are reserved",
        ));
    }
    Ok(())
}

/// An id used as a folder name (experiment id, run id, logged model id): `[A-Za-z0-9][A-Za-z0-9_-]*`.
pub fn validate_id(what: &'static str, id: &str) -> Result<()> {
    let mut chars = id.chars();
    let ok_first = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !ok_first
        || id.len() > 256
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(invalid(
            what,
            id,
            "ids are letters, digits, '_' and '-', starting with a letter or digit",
        ));
    }
    Ok(())
}

/// A relative artifact path: no absolute path, no `..`, no empty segments.
pub fn validate_artifact_path(path: &str) -> Result<()> {
    if path.starts_with('/')
        || path.contains('\\')
        || path.contains('\0')
        || path
            .split('/')
            .any(|s| s == ".." || (s.is_empty() && !path.is_empty()))
    {
        return Err(invalid(
            "artifact path",
            path,
            "artifact paths are relative, without '..' or empty segments",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_mlflow() {
        for ok in ["lr", "a/b", "x.y-z_1", "with space", "a:b", "ünï"] {
            validate_key("param key", ok).unwrap();
        }
        for bad in [
            "",
            "/abs",
            "a/../b",
            "..",
            ".",
            "a//b",
            "a/",
            "semi;colon",
            "a\\b",
        ] {
            assert!(validate_key("param key", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn model_names_refuse_paths() {
        validate_model_name("iris-classifier v2").unwrap();
        for bad in ["", "  ", "a/b", "a:b", "..", "."] {
            assert!(validate_model_name(bad).is_err(), "{bad}");
        }
        let e = validate_model_name("../etc").unwrap_err().to_string();
        assert!(e.contains("../etc"), "{e}");
    }

    #[test]
    fn aliases() {
        validate_alias_settable("champion").unwrap();
        validate_alias_settable("v1beta").unwrap();
        for bad in ["", "latest", "LATEST", "v3", "a b", "a/b", "a.b"] {
            assert!(validate_alias_settable(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_and_artifact_paths() {
        validate_id("run id", "0123abcd").unwrap();
        validate_id("run id", "m-0123").unwrap();
        for bad in ["", "..", "a/b", "-x", "a.b"] {
            assert!(validate_id("run id", bad).is_err(), "{bad}");
        }
        validate_artifact_path("model/sub").unwrap();
        validate_artifact_path("").unwrap();
        for bad in ["/etc", "../x", "a/../../b", "a//b"] {
            assert!(validate_artifact_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn experiment_names_allow_slashes() {
        validate_experiment_name("/Users/me/exp").unwrap();
        assert!(validate_experiment_name("").is_err());
    }
}
