//! The HTTP side: the accept loop (one hyper HTTP/1.1 connection per stream, keep-alive, graceful
//! shutdown, as `homeml-server` does it), request dispatch to the routes, bodies with limits, and the
//! artifact proxy's transfers. Store calls run on blocking threads.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::{self, Role, Users};
use crate::error::{ApiError, ErrorCode};
use crate::handlers::{artifacts, Ctx, Handler};
use crate::request::{path_decode, Message};
use crate::routes::{route, Route};
use crate::transfer;

/// The MLflow version whose API this server speaks (`GET /version`).
pub const MLFLOW_VERSION: &str = "3.17.2";

/// Largest JSON request body.
const MAX_JSON_BODY: usize = 64 << 20;

/// Shared by every connection.
pub(crate) struct App {
    pub(crate) ctx: Ctx,
    pub(crate) static_prefix: String,
    pub(crate) max_artifact_bytes: usize,
    pub(crate) users: Option<Arc<Users>>,
    pub(crate) read_only: bool,
    pub(crate) ui: crate::ui::UiSource,
}

/// Every answer's body: whole (JSON, text) or streamed (artifact downloads).
pub(crate) type Body = UnsyncBoxBody<Bytes, std::io::Error>;
pub(crate) type Resp = Response<Body>;

pub(crate) fn whole(body: impl Into<Bytes>) -> Body {
    Full::new(body.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub(crate) fn text(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(whole(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn ok_json(v: &Value) -> Resp {
    text(StatusCode::OK, "application/json", v.to_string())
}

fn error(e: &ApiError) -> Resp {
    let mut r = text(e.status(), "application/json", e.body());
    if e.code == ErrorCode::Unauthenticated {
        r.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("Basic realm=\"mlflow\""),
        );
    }
    r
}

/// Refuses a request the caller may not make: 401 without valid credentials when `--auth` is on,
/// 403 for a write by a read-only user or to a `--read-only` server. `/health` and `/version`
/// are open.
async fn authorize(
    app: &App,
    req: &Request<Incoming>,
    path: &str,
    r: &Route,
) -> Result<(), ApiError> {
    if matches!(r, Route::Health | Route::Version) {
        return Ok(());
    }
    let mut role = Role::Admin;
    let mut who = String::new();
    if let Some(users) = app.users.clone() {
        let header = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // Argon2 is slow on purpose: off the async workers.
        role = blocking(move || users.check(header.as_deref())).await?;
        who = " for this user".into();
    }
    if auth::is_write(req.method(), path, r) {
        if app.read_only {
            return Err(auth::denied(
                "Permission denied: this server is read-only (--read-only)",
            ));
        }
        if role == Role::Read {
            return Err(auth::denied(&format!(
                "Permission denied: writes are not allowed{who} (role read)"
            )));
        }
    }
    Ok(())
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(ApiError::new(
            ErrorCode::InternalError,
            format!("handler failed: {e}"),
        ))
    })
}

pub(crate) async fn body_bytes(body: Incoming, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            ErrorCode::RequestTooLarge,
            format!("request body larger than {limit} bytes"),
        )),
        Err(e) => Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("cannot read the request body: {e}"),
        )),
    }
}

async fn proto(
    app: &App,
    f: Handler,
    params: Vec<(&'static str, String)>,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let method = req.method().clone();
    let query = req.uri().query().unwrap_or("").to_string();
    let mut msg = if method == hyper::Method::GET {
        Message::from_query(&query)
    } else {
        let bytes = body_bytes(req.into_body(), MAX_JSON_BODY).await?;
        let mut m = Message::from_json(&bytes)?;
        m.merge_query(&query);
        m
    };
    for (k, v) in params {
        msg.set(k, &v);
    }
    let ctx = app.ctx.clone();
    let v = blocking(move || f(&ctx, &msg)).await?;
    Ok(ok_json(&v))
}

async fn artifact(app: &App, r: Route, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let store = app.ctx.artifacts.clone().ok_or_else(|| {
        ApiError::new(
            ErrorCode::EndpointNotFound,
            "artifacts are not served by this server (--serve-artifacts is off)",
        )
    })?;
    match r {
        Route::ArtifactList => {
            let msg = Message::from_query(req.uri().query().unwrap_or(""));
            let ctx = app.ctx.clone();
            let v = blocking(move || artifacts::proxy_list(&ctx, &msg)).await?;
            Ok(ok_json(&v))
        }
        Route::ArtifactGet(raw) => {
            let path = path_decode(&raw);
            let p = path.clone();
            let a = blocking(move || Ok(store.get(&p)?)).await?;
            let mut resp = Response::new(transfer::download(a.reader).boxed_unsync());
            resp.headers_mut()
                .insert(hyper::header::CONTENT_LENGTH, HeaderValue::from(a.size));
            crate::ui::download_headers(&mut resp, &path);
            Ok(resp)
        }
        Route::ArtifactPut(raw) => {
            let path = path_decode(&raw);
            // Refuse a bad path before reading the body.
            homeml_tracking::artifacts::safe_relative_path(&path)?;
            let declared = req
                .headers()
                .get(hyper::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            transfer::upload(
                store,
                path,
                req.into_body(),
                declared,
                app.max_artifact_bytes,
            )
            .await?;
            // MLflow answers an upload with an empty 200.
            Ok(Response::new(whole(Bytes::new())))
        }
        Route::ArtifactDelete(raw) => {
            let path = path_decode(&raw);
            blocking(move || Ok(store.delete(&path)?)).await?;
            Ok(ok_json(&json!({})))
        }
        _ => Err(ApiError::new(
            ErrorCode::EndpointNotFound,
            "no such endpoint",
        )),
    }
}

async fn handle(app: Arc<App>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    let full_path = req.uri().path().to_string();
    let path = match full_path.strip_prefix(app.static_prefix.as_str()) {
        Some(p) if !app.static_prefix.is_empty() => p.to_string(),
        _ if app.static_prefix.is_empty() => full_path.clone(),
        _ => String::new(),
    };
    let method = req.method().clone();
    let r = route(&method, &path);
    if let Err(e) = authorize(&app, &req, &path, &r).await {
        tracing::debug!(%method, path = %full_path, error = %e, "refused");
        return Ok(error(&e));
    }
    let result = match r {
        Route::Health => Ok(text(StatusCode::OK, "text/plain", "OK")),
        Route::Version => Ok(text(StatusCode::OK, "text/plain", MLFLOW_VERSION)),
        Route::ServerInfo => Ok(ok_json(&json!({
            "store_type": app.ctx.store.store_type(),
            "workspaces_enabled": false,
            "trace_archival_enabled": false,
            "multipart_uploads_enabled": false,
            "multipart_downloads_enabled": false,
        }))),
        Route::Proto(f, params) => proto(&app, f, params, req).await,
        Route::Ui(u) => crate::ui::answer(&app, u, req).await,
        Route::MethodNotAllowed => Err(ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!("method {method} is not allowed on {full_path}"),
        )),
        Route::NotFound => Err(ApiError::new(
            ErrorCode::EndpointNotFound,
            format!("no endpoint {method} {full_path}"),
        )),
        r => artifact(&app, r, req).await,
    };
    let resp = result.unwrap_or_else(|e| {
        if e.status().is_server_error() {
            tracing::error!(%method, path = %full_path, error = %e, "request failed");
        } else {
            tracing::debug!(%method, path = %full_path, error = %e, "client error");
        }
        error(&e)
    });
    let mut resp = resp;
    resp.headers_mut()
        .entry("x-content-type-options")
        .or_insert(HeaderValue::from_static("nosniff"));
    Ok(resp)
}

/// Accepts connections until `shutdown` turns true, then lets open connections finish.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
    done: watch::Sender<bool>,
) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            () = async { let _ = shutdown.wait_for(|s| *s).await; } => break,
            accepted = listener.accept() => {
                let (stream, _peer): (_, SocketAddr) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let mut stop = shutdown.clone();
                conns.spawn(async move {
                    let svc = service_fn(move |req| handle(app.clone(), req));
                    let conn = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc);
                    tokio::pin!(conn);
                    tokio::select! {
                        r = conn.as_mut() => { if let Err(e) = r { tracing::debug!(error = %e, "connection ended"); } }
                        () = async { let _ = stop.wait_for(|s| *s).await; } => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.as_mut().await;
                        }
                    }
                });
                while conns.try_join_next().is_some() {}
            }
        }
    }
    while conns.join_next().await.is_some() {}
    done.send_replace(true);
}
