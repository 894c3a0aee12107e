//! MLflow's rules for the URIs clients hand the server (mlflow/server/handlers.py and
//! store/artifact/host_policy.py, reimplemented): a model version's `source` must lie inside the
//! artifact root of the run or logged model it names and has no relative segments at any level of
//! percent-decoding; no URI may name another host for the server to connect to (SSRF,
//! GHSA-mr9f-g8qf-4w4j); an experiment's `artifact_location` is no `runs:` URI and no local folder
//! outside the server's own stores.

use std::path::{Component, Path, PathBuf};

use homeml_tracking::util::uri_to_path;

use crate::error::ApiError;
use crate::handlers::Ctx;
use crate::request::form_decode;

/// Schemes whose artifact repositories connect to the host named in the URI.
const HOST_ADDRESSED: &[&str] = &[
    "ftp", "sftp", "hdfs", "viewfs", "http", "https", "r2", "b2", "abfss",
];

/// A URI split as `urllib.parse.urlsplit` does (scheme lower-cased).
struct Parts<'a> {
    scheme: String,
    authority: Option<&'a str>,
    path: &'a str,
}

fn split(uri: &str) -> Parts<'_> {
    let scheme_end = uri.find(':').filter(|&i| {
        i > 1 // one letter is a Windows drive, not a scheme
            && uri[..i].starts_with(|c: char| c.is_ascii_alphabetic())
            && uri[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    let (scheme, rest) = match scheme_end {
        Some(i) => (uri[..i].to_ascii_lowercase(), &uri[i + 1..]),
        None => (String::new(), uri),
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    match rest.strip_prefix("//") {
        Some(r) => {
            let end = r.find('/').unwrap_or(r.len());
            Parts {
                scheme,
                authority: Some(&r[..end]),
                path: &r[end..],
            }
        }
        None => Parts {
            scheme,
            authority: None,
            path: rest,
        },
    }
}

/// Percent-decodes until nothing changes (double and triple encoding included).
fn fully_decoded(s: &str) -> String {
    let mut cur = s.to_string();
    for _ in 0..16 {
        let next = form_decode(&cur);
        if next == cur {
            break;
        }
        cur = next;
    }
    cur
}

/// The scheme when `uri` would make a server connect to a host it names.
fn host_addressed(uri: &str) -> Option<String> {
    let p = split(uri);
    let named_host = p.authority.is_some_and(|a| !a.is_empty());
    if HOST_ADDRESSED.contains(&p.scheme.as_str()) || (p.scheme == "mlflow-artifacts" && named_host)
    {
        return Some(p.scheme);
    }
    None
}

fn refuse_host(uri: &str, field: &str) -> Result<(), ApiError> {
    match host_addressed(uri) {
        Some(scheme) => Err(ApiError::invalid(format!(
            "'{field}' cannot use the '{scheme}' scheme: the scheme addresses a host other than the \
             tracking server's configured artifact storage, so the server would connect to the host \
             named in the URI. homeml server reads artifacts from its own stores only."
        ))),
        None => Ok(()),
    }
}

fn is_local(uri: &str) -> bool {
    let s = split(uri).scheme;
    s.is_empty() || s == "file"
}

/// A local URI or path as an absolute path with `.` and `..` applied lexically (no symlinks).
fn local_path(uri: &str) -> Option<PathBuf> {
    let p = if split(uri).scheme == "file" {
        uri_to_path(uri)?
    } else {
        PathBuf::from(uri)
    };
    if !p.is_absolute() {
        return None;
    }
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    Some(out)
}

/// Whether `p` is inside one of the server's own stores.
pub fn inside_local_roots(c: &Ctx, p: &Path) -> bool {
    c.local_roots.iter().any(|r| p.starts_with(r))
}

/// The path parts of a URI, each fully decoded, empty parts dropped.
fn parts_of(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|p| !p.is_empty())
        .map(fully_decoded)
        .collect()
}

/// MLflow's `_is_uri_within_root`.
fn within_root(source: &str, root: &str) -> bool {
    let (s, r) = (split(source), split(root));
    let (sp, rp) = (parts_of(s.path), parts_of(r.path));
    s.scheme == r.scheme
        && s.authority
            .unwrap_or("")
            .eq_ignore_ascii_case(r.authority.unwrap_or(""))
        && !rp.is_empty()
        && sp.len() >= rp.len()
        && sp[..rp.len()] == rp[..]
}

fn bad_source(source: &str, id_name: &str) -> ApiError {
    ApiError::invalid(format!(
        "Invalid model version source: '{source}'. The {id_name} request parameter must identify \
         the resource that contains the source."
    ))
}

/// MLflow's `_validate_non_local_source_contains_relative_paths`: no NUL, no `..` or `.`, at any
/// level of decoding; the path is absolute.
fn no_relative_parts(source: &str) -> Result<(), ApiError> {
    let decoded = fully_decoded(source);
    let p = split(&decoded);
    let path = p.path;
    let bad = decoded.contains('\0')
        || decoded.split(['/', '\\']).any(|s| s == ".." || s == ".")
        || (!path.is_empty() && !path.starts_with('/'));
    if bad {
        return Err(ApiError::invalid(format!(
            "Invalid model version source: '{source}'. If supplying a source as an http, https, \
             local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be \
             provided without relative path references present. Please provide an absolute path."
        )));
    }
    Ok(())
}

/// `models:/m-<id>`: the logged model id a source names, if it names one.
fn logged_model_of(source: &str) -> Option<String> {
    let p = split(source);
    if p.scheme != "models" {
        return None;
    }
    let parts = parts_of(p.path);
    match parts.as_slice() {
        [id] if id.starts_with("m-") => Some(id.clone()),
        _ => None,
    }
}

/// Checks a model version's `source` against the run or logged model it names, as MLflow's
/// `_validate_source_run` / `_validate_source_model` do. Returns the model id to record (taken
/// from a `models:/m-..` source when the request has none).
pub fn model_version_source(
    c: &Ctx,
    source: &str,
    run_id: Option<&str>,
    model_id: Option<&str>,
) -> Result<Option<String>, ApiError> {
    refuse_host(source, "source")?;
    let model_id = model_id
        .map(str::to_string)
        .or_else(|| logged_model_of(source));
    let (id_name, root) = match (&model_id, run_id) {
        (Some(mid), _) => (
            "model_id",
            c.store
                .get_logged_model(mid, false)
                .map(|m| m.artifact_location)
                .map_err(|_| bad_source(source, "model_id"))?,
        ),
        (None, Some(rid)) => (
            "run_id",
            c.store
                .get_run(rid)
                .map(|r| r.info.artifact_uri)
                .map_err(|_| bad_source(source, "run_id"))?,
        ),
        (None, None) => ("run_id", String::new()),
    };
    if is_local(source) {
        let inside = match (
            local_path(source),
            is_local(&root).then(|| local_path(&root)),
        ) {
            (Some(s), Some(Some(r))) => s.starts_with(&r),
            _ => false,
        };
        if inside && !root.is_empty() {
            return Ok(model_id);
        }
        return Err(ApiError::invalid(format!(
            "Invalid model version source: '{source}'. To use a local path as a model version \
             source, the {id_name} request parameter has to be specified and the local path has to \
             be contained within the artifact directory of the run specified by the {id_name}."
        )));
    }
    no_relative_parts(source)?;
    let p = split(source);
    match p.scheme.as_str() {
        "runs" => {
            let named = parts_of(p.path).into_iter().next();
            let ok = p.authority.is_none()
                && id_name == "run_id"
                && run_id.is_some()
                && named.as_deref() == run_id;
            if !ok {
                return Err(bad_source(source, id_name));
            }
        }
        "models" => {
            if p.authority.is_some() {
                return Err(bad_source(source, "model_id"));
            }
            if let Some(named) = logged_model_of(source) {
                if model_id.as_deref() != Some(named.as_str()) {
                    return Err(bad_source(source, "model_id"));
                }
            }
        }
        "mlflow-artifacts" if root.is_empty() || !within_root(source, &root) => {
            return Err(bad_source(source, id_name));
        }
        _ => {}
    }
    Ok(model_id)
}

/// Checks an experiment's `artifact_location`: no other host, no `runs:` URI, no local folder
/// outside the server's stores (the server lists and serves what is there).
pub fn artifact_location(c: &Ctx, location: &str) -> Result<(), ApiError> {
    refuse_host(location, "artifact_location")?;
    if location.starts_with("runs:") {
        return Err(ApiError::invalid(format!(
            "Artifact location cannot be a runs:/ URI. Given: '{location}'"
        )));
    }
    let decoded = fully_decoded(location);
    if decoded.contains('\0') || decoded.split(['/', '\\']).any(|s| s == "..") {
        return Err(ApiError::invalid(format!(
            "Invalid artifact location '{location}': relative path references are not allowed"
        )));
    }
    if is_local(location) {
        let inside = local_path(location).is_some_and(|p| inside_local_roots(c, &p));
        if !inside {
            return Err(ApiError::invalid(format!(
                "Invalid artifact location '{location}': a local folder must be inside this \
                 server's stores (--backend-store-uri or --artifacts-destination)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_parts_and_roots() {
        let p = split("mlflow-artifacts://evil:80/x/y?q=1");
        assert_eq!(
            (p.scheme.as_str(), p.authority, p.path),
            ("mlflow-artifacts", Some("evil:80"), "/x/y")
        );
        assert!(host_addressed("http://169.254.169.254/latest").is_some());
        assert!(host_addressed("mlflow-artifacts:/1/r/artifacts").is_none());
        assert!(host_addressed("C:/x").is_none());
        assert!(within_root(
            "mlflow-artifacts:/1/r/artifacts/model",
            "mlflow-artifacts:/1/r/artifacts"
        ));
        assert!(!within_root(
            "mlflow-artifacts:/1/other/artifacts",
            "mlflow-artifacts:/1/r/artifacts"
        ));
        assert!(no_relative_parts("mlflow-artifacts:/1/r/artifacts/%252e%252e/x").is_err());
        assert!(no_relative_parts("mlflow-artifacts:/1/r/artifacts/a%00").is_err());
        assert!(no_relative_parts("models:/m-1").is_ok());
        assert_eq!(logged_model_of("models:/m-abc").as_deref(), Some("m-abc"));
        assert_eq!(logged_model_of("models:/name/1"), None);
        assert_eq!(local_path("file:///a/b/../c"), Some(PathBuf::from("/a/c")));
    }
}
