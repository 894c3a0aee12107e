//! The web UI of the tracking server: MLflow's own static bundle (from an installed `mlflow` wheel)
//! at `/` and `/static-files/...` the way `mlflow server` serves it, or homeml's own pages when no
//! bundle is found; the UI's non-proto routes (`/graphql`, `/get-artifact`,
//! `/model-versions/get-artifact`, `logged-models/{id}/artifacts/files`); and the security headers
//! of every HTML, static and artifact answer.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, CACHE_CONTROL, ETAG};
use hyper::{Method, Request, StatusCode};

use crate::error::{ApiError, ErrorCode};
use crate::handlers::{artifacts, Ctx};
use crate::http::{blocking, body_bytes, text, App, Resp};
use crate::request::{path_decode, Message};

/// The Content-Security-Policy of the UI's pages: what MLflow's 3.x bundle needs and no more. Its
/// scripts, styles, fonts and chunks come from this origin; emotion (the bundle's CSS-in-JS) inserts
/// `<style>` elements, hence `'unsafe-inline'` for styles only; charts and previews use `data:` and
/// `blob:` images and blob workers; nothing is framed by another site.
pub const UI_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; \
frame-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// The policy of artifact downloads: nothing in them runs, even if a browser opens one.
const ARTIFACT_CSP: &str = "default-src 'none'; sandbox; frame-ancestors 'none'";

/// Cache lifetime of the bundle's hashed files, as `mlflow server` sends it (28 days).
const STATIC_MAX_AGE: &str = "public, max-age=2419200";

/// Largest `/graphql` request body.
const MAX_GRAPHQL_BODY: usize = 1 << 20;

/// homeml's own pages: a function from a path (after the static prefix) to a status and an HTML page,
/// or `None` when it has no page there.
pub type Pages = Arc<dyn Fn(&str) -> Option<(StatusCode, String)> + Send + Sync>;

/// homeml's own pages and the Content-Security-Policy they are sent with (the renderer knows what its
/// pages hold, e.g. its stylesheet's hash; `homeml ui` sends the same policy).
#[derive(Clone)]
pub struct OwnPages {
    /// The pages.
    pub render: Pages,
    /// Their policy.
    pub csp: &'static str,
}

/// What the server shows at `/`.
#[derive(Clone, Default)]
pub enum UiSource {
    /// MLflow's built UI: a folder with `index.html` (the wheel's `mlflow/server/js/build`).
    Bundle(PathBuf),
    /// homeml's own read-only pages (no MLflow bundle was found).
    Pages(OwnPages),
    /// No web UI.
    #[default]
    Off,
}

impl std::fmt::Debug for UiSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UiSource::Bundle(p) => write!(f, "Bundle({})", p.display()),
            UiSource::Pages(_) => f.write_str("Pages"),
            UiSource::Off => f.write_str("Off"),
        }
    }
}

/// Errors finding MLflow's UI bundle.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The folder given has no `index.html`.
    #[error("--ui-static-dir {0}: no index.html there (expected the mlflow wheel's mlflow/server/js/build)")]
    NotABundle(PathBuf),
}

/// How to get MLflow's UI when it is missing (shown on homeml's pages and logged).
pub const HOW_TO_GET_MLFLOW_UI: &str = "MLflow's own UI was not found: install the mlflow wheel \
(pip install mlflow==3.17.2) into the Python on PATH or HOMEML_PYTHON, or pass --ui-static-dir \
<site-packages>/mlflow/server/js/build (env HOMEML_UI_STATIC_DIR), and restart.";

/// Finds MLflow's UI bundle: `explicit` (`--ui-static-dir`) when given, else the `mlflow` package of
/// the Python in `HOMEML_PYTHON`, or `python3`/`python` on PATH (located without importing it).
pub fn find_bundle(explicit: Option<&Path>) -> Result<Option<PathBuf>, BundleError> {
    if let Some(dir) = explicit {
        return if dir.join("index.html").is_file() {
            Ok(Some(dir.to_path_buf()))
        } else {
            Err(BundleError::NotABundle(dir.to_path_buf()))
        };
    }
    let pythons: Vec<String> = match std::env::var("HOMEML_PYTHON") {
        Ok(p) if !p.is_empty() => vec![p],
        _ => vec!["python3".into(), "python".into()],
    };
    const FIND: &str = "import importlib.util as u, os\n\
s = u.find_spec('mlflow')\n\
print(os.path.join(os.path.dirname(s.origin), 'server', 'js', 'build') if s and s.origin else '')";
    for py in pythons {
        let Ok(out) = Command::new(&py).args(["-c", FIND]).output() else {
            continue;
        };
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && !dir.as_os_str().is_empty() && dir.join("index.html").is_file() {
            return Ok(Some(dir));
        }
    }
    Ok(None)
}

/// A route of the UI (see the module doc).
#[derive(Debug)]
pub enum UiRoute {
    /// `GET /`.
    Index,
    /// `GET /static-files/<path>` (raw path).
    Static(String),
    /// Another GET path: one of homeml's pages when there is no bundle.
    Page(String),
    /// `GET|POST /graphql`.
    Graphql,
    /// `GET /get-artifact?path=&run_uuid=`.
    RunArtifact,
    /// `GET /model-versions/get-artifact?path=&name=&version=`.
    ModelVersionArtifact,
    /// `GET /ajax-api/2.0/mlflow/logged-models/{id}/artifacts/files?artifact_file_path=`.
    LoggedModelFile(String),
    /// A fixed JSON answer: the UI's probes of features this server does not run (the assistant,
    /// UI telemetry), answered as `mlflow server` answers with them off.
    Fixed(&'static str),
}

/// The probes of [`UiRoute::Fixed`]: (method, path, answer).
const FIXED: &[(&str, &str, &str)] = &[
    (
        "GET",
        "/ajax-api/3.0/mlflow/assistant/config",
        r#"{"providers":{},"projects":{},"remote_access_allowed":false}"#,
    ),
    (
        "GET",
        "/ajax-api/3.0/mlflow/assistant/providers",
        r#"{"providers":[]}"#,
    ),
    (
        "GET",
        "/ajax-api/3.0/mlflow/ui-telemetry",
        r#"{"disable_ui_events":[],"disable_ui_telemetry":true,"ui_rollout_percentage":0}"#,
    ),
    (
        "POST",
        "/ajax-api/3.0/mlflow/ui-telemetry",
        r#"{"status":"disabled"}"#,
    ),
];

/// The UI route of `method path`, if it is one (path after the static prefix, without the query).
pub fn route(method: &Method, path: &str) -> Option<UiRoute> {
    let get = method == Method::GET || method == Method::HEAD;
    if path == "/graphql" && (get || method == Method::POST) {
        return Some(UiRoute::Graphql);
    }
    if let Some((_, _, body)) = FIXED
        .iter()
        .find(|(m, p, _)| *p == path && (*m == method.as_str() || (*m == "GET" && get)))
    {
        return Some(UiRoute::Fixed(body));
    }
    if !get {
        return None;
    }
    if let Some(rest) = path
        .strip_prefix("/ajax-api/2.0/mlflow/logged-models/")
        .and_then(|r| r.strip_suffix("/artifacts/files"))
    {
        if !rest.is_empty() && !rest.contains('/') {
            return Some(UiRoute::LoggedModelFile(path_decode(rest)));
        }
    }
    Some(match path {
        "/" => UiRoute::Index,
        "/get-artifact" => UiRoute::RunArtifact,
        "/model-versions/get-artifact" => UiRoute::ModelVersionArtifact,
        p if p.starts_with("/static-files/") => UiRoute::Static(p["/static-files/".len()..].into()),
        p if p.starts_with("/experiments/")
            || p.starts_with("/runs/")
            || p.starts_with("/models/") =>
        {
            UiRoute::Page(p.into())
        }
        _ => return None,
    })
}

fn set(resp: &mut Resp, name: &'static str, value: &'static str) {
    resp.headers_mut().insert(
        HeaderName::from_static(name),
        HeaderValue::from_static(value),
    );
}

/// Adds the headers of every HTML and static answer: the CSP, no sniffing, no framing, no referrer.
pub fn security_headers(resp: &mut Resp) {
    security_headers_with(resp, UI_CSP);
}

/// [`security_headers`] with another policy.
pub fn security_headers_with(resp: &mut Resp, csp: &'static str) {
    set(resp, "content-security-policy", csp);
    set(resp, "x-content-type-options", "nosniff");
    set(resp, "x-frame-options", "DENY");
    set(resp, "referrer-policy", "no-referrer");
    set(resp, "cross-origin-opener-policy", "same-origin");
}

fn not_found(what: &str) -> ApiError {
    ApiError::new(ErrorCode::EndpointNotFound, format!("no such page: {what}"))
}

/// Answers a UI route.
pub(crate) async fn answer(
    app: &App,
    r: UiRoute,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    match r {
        UiRoute::Fixed(body) => Ok(text(StatusCode::OK, "application/json", body)),
        UiRoute::Graphql => {
            let query = req.uri().query().unwrap_or("").to_string();
            let body = if req.method() == Method::POST {
                body_bytes(req.into_body(), MAX_GRAPHQL_BODY).await?
            } else {
                Bytes::new()
            };
            let ctx = app.ctx.clone();
            let (status, v) =
                blocking(move || Ok(crate::graphql::execute(&ctx, &query, &body))).await?;
            Ok(text(status, "application/json", v.to_string()))
        }
        UiRoute::RunArtifact | UiRoute::ModelVersionArtifact | UiRoute::LoggedModelFile(_) => {
            let msg = Message::from_query(req.uri().query().unwrap_or(""));
            let ctx = app.ctx.clone();
            let (path, bytes) = blocking(move || read_artifact(&ctx, &r, &msg)).await?;
            Ok(download(&path, bytes))
        }
        UiRoute::Index => match &app.ui {
            UiSource::Bundle(dir) => {
                let dir = dir.clone();
                let etag = req_etag(&req);
                blocking(move || static_file(&dir, "index.html", "no-cache", etag.as_deref())).await
            }
            UiSource::Pages(pages) => own_page(app, pages.clone(), "/".into()).await,
            UiSource::Off => Err(not_found("/ (the web UI is off)")),
        },
        UiRoute::Static(raw) => match &app.ui {
            UiSource::Bundle(dir) => {
                let dir = dir.clone();
                let rel = path_decode(&raw);
                let etag = req_etag(&req);
                blocking(move || static_file(&dir, &rel, STATIC_MAX_AGE, etag.as_deref())).await
            }
            _ => Err(not_found(&format!("/static-files/{raw}"))),
        },
        UiRoute::Page(path) => match &app.ui {
            UiSource::Pages(pages) => own_page(app, pages.clone(), path).await,
            _ => Err(not_found(&path)),
        },
    }
}

fn req_etag(req: &Request<Incoming>) -> Option<String> {
    req.headers()
        .get(hyper::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// One of homeml's pages, with a line saying how to get MLflow's UI, its links under the prefix.
async fn own_page(app: &App, pages: OwnPages, path: String) -> Result<Resp, ApiError> {
    let prefix = app.static_prefix.clone();
    let render = pages.render.clone();
    let rendered = blocking(move || Ok(render(&path))).await?;
    let Some((status, html)) = rendered else {
        return Err(not_found("this path"));
    };
    let note = format!(
        r#"<body><p class="notice">{}</p>"#,
        HOW_TO_GET_MLFLOW_UI
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    );
    let mut html = html.replacen("<body>", &note, 1);
    if !prefix.is_empty() {
        html = html.replace("href=\"/", &format!("href=\"{prefix}/"));
    }
    let mut resp = text(status, "text/html; charset=utf-8", html);
    security_headers_with(&mut resp, pages.csp);
    set(&mut resp, "cache-control", "no-cache");
    Ok(resp)
}

/// The content type of a bundle file.
fn static_type(path: &str) -> &'static str {
    let ext = path.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" | "cjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "ico" => "image/vnd.microsoft.icon",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "eot" => "application/vnd.ms-fontobject",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// A file of the bundle; anything that is not a plain relative path inside it is 404.
fn static_file(
    root: &Path,
    rel: &str,
    cache: &'static str,
    if_none_match: Option<&str>,
) -> Result<Resp, ApiError> {
    let missing = || not_found(&format!("/static-files/{rel}"));
    if rel.is_empty()
        || rel.starts_with('/')
        || rel.contains(['\\', '\0'])
        || rel
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(missing());
    }
    let root = root.canonicalize().map_err(|_| missing())?;
    let file = root.join(rel).canonicalize().map_err(|_| missing())?;
    if !file.starts_with(&root) {
        return Err(missing());
    }
    let meta = std::fs::metadata(&file).map_err(|_| missing())?;
    if !meta.is_file() {
        return Err(missing());
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let etag = format!("\"{mtime:x}-{:x}\"", meta.len());
    let mut resp = if if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == etag)) {
        text(StatusCode::NOT_MODIFIED, static_type(rel), Bytes::new())
    } else {
        let bytes = std::fs::read(&file).map_err(|e| {
            ApiError::new(ErrorCode::InternalError, format!("cannot read {rel}: {e}"))
        })?;
        text(StatusCode::OK, static_type(rel), bytes)
    };
    security_headers(&mut resp);
    set(&mut resp, "cache-control", cache);
    if let Ok(v) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert(ETAG, v);
    }
    Ok(resp)
}

fn join(base: &str, rel: &str) -> String {
    match (base.is_empty(), rel.is_empty()) {
        (true, _) => rel.to_string(),
        (_, true) => base.to_string(),
        _ => format!("{base}/{rel}"),
    }
}

/// Reads the artifact a download route names: (its path for the name and type, its bytes).
fn read_artifact(c: &Ctx, r: &UiRoute, m: &Message) -> Result<(String, Vec<u8>), ApiError> {
    let (root_uri, rel) = match r {
        UiRoute::RunArtifact => {
            let run_id = m.req_str_any(&["run_id", "run_uuid"])?;
            let rel = m.req_str("path")?;
            (c.store.get_run(&run_id)?.info.artifact_uri, rel)
        }
        UiRoute::ModelVersionArtifact => {
            let name = m.req_str("name")?;
            let version = m.req_str("version")?;
            let v: u64 = version.parse().map_err(|_| {
                ApiError::invalid(format!("Model version must be an integer, got '{version}'"))
            })?;
            let rel = m.req_str("path")?;
            (c.store.get_model_version_download_uri(&name, v)?, rel)
        }
        UiRoute::LoggedModelFile(id) => {
            let rel = m.opt_str("artifact_file_path")?.unwrap_or_default();
            if rel.is_empty() {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    "Request must include the \"artifact_file_path\" query parameter.",
                ));
            }
            (c.store.get_logged_model(id, false)?.artifact_location, rel)
        }
        _ => return Err(not_found("artifact")),
    };
    let rel = homeml_tracking::artifacts::safe_relative_path(&rel)?;
    let (store, base) = artifacts::resolve(c, &root_uri)?;
    let full = join(&base, &rel);
    if store.list(&full).map(|l| !l.is_empty()).unwrap_or(false) {
        return Err(ApiError::invalid(format!(
            "Artifact path refers to a directory, not a file: '{rel}'"
        )));
    }
    let mut a = store.get(&full)?;
    let mut buf = Vec::with_capacity(a.size.min(64 << 20) as usize);
    std::io::Read::read_to_end(&mut a.reader, &mut buf)
        .map_err(|e| ApiError::new(ErrorCode::InternalError, format!("cannot read {rel}: {e}")))?;
    Ok((rel, buf))
}

/// The content type an artifact is served with: MLflow's guess, except that nothing is ever served
/// as HTML or script (those go out as text/plain).
pub fn artifact_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = match name.rsplit_once('.') {
        Some((_, e)) => e.to_ascii_lowercase(),
        None => name.to_string(),
    };
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "parquet" | "pkl" | "onnx" | "bin" | "npy" | "zip" | "gz" => "application/octet-stream",
        "txt" | "log" | "err" | "cfg" | "conf" | "ini" | "toml" | "yaml" | "yml" | "json"
        | "py" | "csv" | "tsv" | "md" | "rst" | "ipynb" | "MLmodel" | "MLproject" | "html"
        | "htm" | "xhtml" | "xml" | "js" | "mjs" => "text/plain",
        _ => "application/octet-stream",
    }
}

/// An artifact as a download: `Content-Disposition: attachment`, a type that never renders as a page,
/// and a sandboxing CSP.
pub fn download(path: &str, bytes: impl Into<Bytes>) -> Resp {
    let mut resp = text(StatusCode::OK, artifact_type(path), bytes);
    download_headers(&mut resp, path);
    resp
}

/// Makes `resp` (streamed or whole) an artifact download of `path`: its content type, attachment,
/// the sandboxing CSP, no sniffing, no caching.
pub(crate) fn download_headers(resp: &mut Resp, path: &str) {
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static(artifact_type(path)),
    );
    let name = path.rsplit('/').next().unwrap_or("file");
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut disposition = format!("attachment; filename=\"{ascii}\"");
    if ascii != name {
        let enc: String = name
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        disposition.push_str(&format!("; filename*=UTF-8''{enc}"));
    }
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        resp.headers_mut().insert("content-disposition", v);
    }
    set(resp, "content-security-policy", ARTIFACT_CSP);
    set(resp, "x-content-type-options", "nosniff");
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert!(matches!(route(&Method::GET, "/"), Some(UiRoute::Index)));
        assert!(matches!(
            route(&Method::POST, "/graphql"),
            Some(UiRoute::Graphql)
        ));
        assert!(route(&Method::POST, "/").is_none());
        assert!(matches!(
            route(&Method::GET, "/static-files/static/js/a.js"),
            Some(UiRoute::Static(p)) if p == "static/js/a.js"
        ));
        assert!(matches!(
            route(&Method::GET, "/ajax-api/2.0/mlflow/logged-models/m-1/artifacts/files"),
            Some(UiRoute::LoggedModelFile(id)) if id == "m-1"
        ));
        assert!(route(&Method::GET, "/api/2.0/mlflow/runs/get").is_none());
    }

    #[test]
    fn artifacts_never_render_as_pages() {
        assert_eq!(artifact_type("a/b/x.html"), "text/plain");
        assert_eq!(artifact_type("x.svg"), "image/svg+xml");
        assert_eq!(artifact_type("model/MLmodel"), "text/plain");
        assert_eq!(artifact_type("x.png"), "image/png");
        assert_eq!(artifact_type("x.weird"), "application/octet-stream");
        let r = download("d/ü \"x\".html", Bytes::from_static(b"<b>"));
        let h = r.headers();
        assert_eq!(h["content-type"], "text/plain");
        let cd = h["content-disposition"].to_str().unwrap();
        assert!(cd.starts_with("attachment; filename=\"__"), "{cd}");
        assert!(
            cd.contains("filename*=UTF-8''%C3%BC%20%22x%22.html"),
            "{cd}"
        );
        assert!(h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox"));
    }

    #[test]
    fn static_files_stay_inside_the_bundle() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<html>").unwrap();
        std::fs::create_dir(dir.path().join("static")).unwrap();
        std::fs::write(dir.path().join("static/a.js"), "1").unwrap();
        let ok = static_file(dir.path(), "static/a.js", STATIC_MAX_AGE, None).unwrap();
        assert_eq!(
            ok.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(ok.headers()["cache-control"], STATIC_MAX_AGE);
        let etag = ok.headers()["etag"].to_str().unwrap().to_string();
        let again = static_file(dir.path(), "static/a.js", STATIC_MAX_AGE, Some(&etag)).unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        for bad in [
            "../x",
            "static/../../x",
            "/etc/passwd",
            "static\\a.js",
            "static",
            "",
            "./index.html",
        ] {
            assert!(
                static_file(dir.path(), bad, STATIC_MAX_AGE, None).is_err(),
                "{bad}"
            );
        }
    }
}
