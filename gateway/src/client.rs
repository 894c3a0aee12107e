//! A pooled keep-alive HTTP/1.1 client for one upstream, telling connect failures (safe to retry)
//! apart from timeouts and answers (never retried).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

/// Largest upstream answer read, in bytes.
const MAX_ANSWER_BYTES: usize = 64 << 20;

/// A plain-HTTP base URL: `http://host:port[/prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    /// `host:port`.
    pub authority: String,
    /// Path prefix without a trailing slash (often empty).
    pub prefix: String,
}

/// Parses a base URL; only `http://` is supported.
pub fn parse_base_url(url: &str) -> Result<BaseUrl, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?}: only http:// URLs are supported"))?;
    let (authority, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(format!("{url:?}: no host"));
    }
    authority
        .parse::<hyper::http::uri::Authority>()
        .map_err(|e| format!("{url:?}: {e}"))?;
    if prefix.contains(['?', '#']) {
        return Err(format!("{url:?}: no query or fragment allowed"));
    }
    Ok(BaseUrl {
        authority: authority.to_string(),
        prefix: prefix.to_string(),
    })
}

/// Why an upstream call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// No connection could be made: nothing was sent, so a retry is safe.
    #[error("connect failed: {0}")]
    Connect(String),
    /// The call did not finish in time (the upstream may have acted on it).
    #[error("timed out")]
    Timeout,
    /// The connection broke after the request was sent, or the answer was unreadable.
    #[error("{0}")]
    Transport(String),
}

/// One upstream's client with its own connection pool.
#[derive(Clone)]
pub struct UpstreamClient {
    client: Client<HttpConnector, Full<Bytes>>,
    base: BaseUrl,
}

impl std::fmt::Debug for UpstreamClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamClient")
            .field("base", &self.base)
            .finish()
    }
}

impl UpstreamClient {
    /// Builds a client; connections are kept alive and pooled.
    pub fn new(
        base: BaseUrl,
        connect_timeout: Duration,
        pool_idle_timeout: Duration,
        pool_max_idle: usize,
    ) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(pool_idle_timeout)
            .pool_max_idle_per_host(pool_max_idle)
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .build(connector);
        Self { client, base }
    }

    /// The base URL.
    pub fn base(&self) -> &BaseUrl {
        &self.base
    }

    /// The absolute URI of `path` on this upstream, built once and reused for every call.
    pub fn uri(&self, path: &str) -> Result<Uri, String> {
        let uri = format!("http://{}{}{}", self.base.authority, self.base.prefix, path);
        uri.parse().map_err(|e| format!("{uri:?}: {e}"))
    }

    /// Sends one request to `uri` (from [`UpstreamClient::uri`]) and reads the whole answer, all
    /// within `timeout`.
    pub async fn call(
        &self,
        method: Method,
        uri: &Uri,
        body: Option<Bytes>,
        request_id: &str,
        timeout: Duration,
    ) -> Result<(StatusCode, Bytes), CallError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri.clone())
            .header(hyper::header::ACCEPT, "application/json");
        if let Ok(v) = hyper::header::HeaderValue::from_str(request_id) {
            builder = builder.header("x-request-id", v);
        }
        if body.is_some() {
            builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let req = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| CallError::Transport(format!("bad request to {uri}: {e}")))?;
        let fut = async {
            let resp = self.client.request(req).await.map_err(|e| {
                if e.is_connect() {
                    CallError::Connect(error_chain(&e))
                } else {
                    CallError::Transport(error_chain(&e))
                }
            })?;
            let status = resp.status();
            let body = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| CallError::Transport(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok((status, body))
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(CallError::Timeout),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        assert_eq!(
            parse_base_url("http://127.0.0.1:3000").unwrap(),
            BaseUrl {
                authority: "127.0.0.1:3000".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            parse_base_url("http://svc:80/model/").unwrap().prefix,
            "/model"
        );
        assert!(parse_base_url("https://x").is_err());
        assert!(parse_base_url("http://").is_err());
        assert!(parse_base_url("http://a b").is_err());
    }
}
