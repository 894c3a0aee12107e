//! MLflow's rules for artifact paths a client sends (`validate_path_is_safe`): relative, `/`-separated,
//! no `..` segment, no backslash, no NUL, no drive letter, and nothing that decodes to one of those.

use crate::error::{Result, TrackingError};
use crate::util::percent_decode;

fn refuse(path: &str, why: &str) -> TrackingError {
    TrackingError::InvalidValue {
        what: "artifact path",
        reason: format!("Invalid path '{path}': {why}"),
    }
}

fn check_plain(original: &str, p: &str) -> Result<()> {
    if p.contains('\0') {
        return Err(refuse(original, "it contains a NUL byte"));
    }
    if p.contains('\\') {
        return Err(refuse(original, "it contains a backslash"));
    }
    if p.starts_with('/') || p.starts_with('~') {
        return Err(refuse(original, "it is absolute"));
    }
    if p.get(..5).is_some_and(|s| s.eq_ignore_ascii_case("file:")) {
        return Err(refuse(original, "it is a file: URI"));
    }
    if p.contains('#') {
        return Err(refuse(original, "it contains '#'"));
    }
    let b = p.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return Err(refuse(original, "it names a drive"));
    }
    if p.split('/').any(|seg| seg == "..") {
        return Err(refuse(original, "it contains '..'"));
    }
    Ok(())
}

/// Checks a client's artifact path and returns it normalized (no `.` or empty segments, no
/// leading or trailing `/`). The empty path (the root) is allowed. A path that is already
/// percent-decoded once is also checked decoded again, so `%2e%2e` cannot smuggle a `..` through a
/// second decoding anywhere.
pub fn safe_relative_path(path: &str) -> Result<String> {
    check_plain(path, path)?;
    let mut decoded = path.to_string();
    for _ in 0..3 {
        let next = percent_decode(&decoded);
        if next == decoded {
            break;
        }
        check_plain(path, &next)?;
        decoded = next;
    }
    let norm: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    Ok(norm.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_escapes() {
        for bad in [
            "..",
            "a/../b",
            "../x",
            "/etc/passwd",
            "a\\b",
            "a\0b",
            "%2e%2e/x",
            "a/%2E%2E/b",
            "%252e%252e/x",
            "%2fetc",
            "C:/x",
            "~/x",
            "file:///etc/passwd",
            "file:%2F%2F%2Fetc",
            "a%23b",
        ] {
            assert!(safe_relative_path(bad).is_err(), "{bad}");
        }
        assert_eq!(safe_relative_path("a/./b//c/").unwrap(), "a/b/c");
        assert_eq!(safe_relative_path("").unwrap(), "");
        assert_eq!(safe_relative_path("a..b/c.txt").unwrap(), "a..b/c.txt");
        assert_eq!(safe_relative_path("100%/x").unwrap(), "100%/x");
    }
}
