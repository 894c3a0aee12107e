//! `homeml ui`: a small read-only web page over the tracking store (experiments, runs, metric charts,
//! registered models), served with hyper. No JavaScript and no build step: HTML and inline SVG.

pub mod chart;
pub mod headers;
pub mod html;
pub mod pages;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use homeml_tracking::Store;

/// Serves the UI on `listener` until `shutdown` completes.
pub async fn serve(listener: TcpListener, store: Arc<Store>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let (stream, _) = match accepted {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "ui: accept failed");
                continue;
            }
        };
        let store = store.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(req, store.clone()));
            let conn = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = conn.serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(error = %e, "ui: connection ended");
            }
        });
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    headers::add(resp.headers_mut());
    resp
}

async fn handle(
    req: Request<Incoming>,
    store: Arc<Store>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "read-only: GET only\n".into(),
        );
        r.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("GET, HEAD"),
        );
        return Ok(r);
    }
    let path = req.uri().path().to_string();
    if path == "/health" {
        return Ok(respond(StatusCode::OK, "text/plain", "ok\n".into()));
    }
    // The store is files on disk: read it on a blocking thread.
    let rendered = tokio::task::spawn_blocking(move || render(&store, &path)).await;
    let resp = match rendered {
        Ok((status, html)) => respond(status, "text/html; charset=utf-8", html),
        Err(e) => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            format!("{e}\n"),
        ),
    };
    Ok(resp)
}

/// The page of `path` as (status, HTML): the page, a not-found page, or a store-error page (whose
/// details go to the log only). `homeml server` shows these when MLflow's UI bundle is missing.
pub fn render(store: &Store, path: &str) -> (StatusCode, String) {
    match route(store, path) {
        Ok(Some(html)) => (StatusCode::OK, html),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            html::page(
                "Not found",
                r#"<p>Nothing here. <a href="/">Back to the start.</a></p>"#,
            ),
        ),
        Err(e) => {
            tracing::error!(error = %e, "ui: reading the store failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                // The details (paths, pieces of files) go to the log only.
                html::page(
                    "Store error",
                    r#"<p>The tracking store could not be read; the server's log has the details. <a href="/">Back to the start.</a></p>"#,
                ),
            )
        }
    }
}

/// Picks the page for a path.
fn route(store: &Store, path: &str) -> pages::PageResult {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        [""] => pages::home(store),
        ["experiments", id] => match html::decode_segment(id) {
            Some(id) => pages::experiment(store, &id),
            None => Ok(None),
        },
        ["runs", id] => match html::decode_segment(id) {
            Some(id) => pages::run(store, &id),
            None => Ok(None),
        },
        ["models", name] => match html::decode_segment(name) {
            Some(name) => pages::model(store, &name),
            None => Ok(None),
        },
        _ => Ok(None),
    }
}
