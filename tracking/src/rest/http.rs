//! The REST store's HTTP plumbing: one blocking client per tracking server (ureq, keep-alive), the
//! credentials MLflow's client takes from its environment, MLflow's request conventions (query strings
//! for GET, JSON bodies otherwise), and MLflow's error JSON mapped back to [`TrackingError`]s.
//!
//! Credentials never reach a log line, an error or a `Debug` output: a URI's `user:password@` is
//! taken out of the address at once, and the header value is kept in a type that prints redacted.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use crate::error::{Result, TrackingError};
use crate::util::percent_decode;

/// The `Authorization` header value; its `Debug` never shows it.
#[derive(Clone)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What a failed call says, before the caller names the object it was about.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server answered with an error status (MLflow's JSON when it sent one).
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// No usable answer: TLS, timeout, a body that is not JSON.
    Transport(String),
    /// The request never reached the server (connection refused or failed): safe to send again.
    Unreachable(String),
}

fn transport(e: ureq::Error) -> Failure {
    match &e {
        ureq::Error::ConnectionFailed => Failure::Unreachable(e.to_string()),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            Failure::Unreachable(e.to_string())
        }
        _ => Failure::Transport(e.to_string()),
    }
}

/// The object a call is about, for [`Failure::into_error`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct About<'a> {
    pub kind: &'static str,
    pub name: &'a str,
}

impl Failure {
    /// The tracking crate's error for this failure of a call about `about` to `server` `endpoint`.
    pub(crate) fn into_error(
        self,
        server: &str,
        endpoint: &str,
        about: About<'_>,
    ) -> TrackingError {
        match self {
            Failure::Transport(reason) | Failure::Unreachable(reason) => TrackingError::Transport {
                server: server.to_string(),
                reason: format!("{endpoint}: {reason}"),
            },
            Failure::Api {
                status,
                code,
                message,
            } => match code.as_str() {
                "RESOURCE_DOES_NOT_EXIST" => TrackingError::NotFound {
                    kind: about.kind,
                    name: about.name.to_string(),
                    path: None,
                },
                "RESOURCE_ALREADY_EXISTS" => TrackingError::AlreadyExists {
                    kind: about.kind,
                    name: about.name.to_string(),
                    path: PathBuf::from(format!("{server}/{endpoint}")),
                },
                // The message stands alone (the server maps "request" back to its reason).
                "INVALID_PARAMETER_VALUE" | "BAD_REQUEST" => TrackingError::InvalidValue {
                    what: "request",
                    reason: message,
                },
                "INVALID_STATE" => TrackingError::InvalidState {
                    kind: about.kind,
                    name: about.name.to_string(),
                    reason: message,
                },
                _ => TrackingError::Remote {
                    server: server.to_string(),
                    status,
                    code,
                    message,
                },
            },
        }
    }
}

/// A tracking server's address and a client for it.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    /// `http(s)://host:port[/prefix]`, without credentials or a trailing `/`.
    base: String,
    agent: ureq::Agent,
    auth: Option<Secret>,
    retries: u32,
}

fn bad_uri(uri: &str, reason: &str) -> TrackingError {
    TrackingError::BadUri {
        uri: redact(uri),
        reason: reason.into(),
    }
}

/// `uri` with any `user:password@` replaced by `***@`.
pub(crate) fn redact(uri: &str) -> String {
    match split_userinfo(uri) {
        Some((scheme, Some(_), rest)) => format!("{scheme}://***@{rest}"),
        _ => uri.to_string(),
    }
}

/// (scheme, userinfo, host-and-path) of an `http(s)://` URI.
fn split_userinfo(uri: &str) -> Option<(&str, Option<&str>, &str)> {
    let (scheme, rest) = uri.split_once("://")?;
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => Some((scheme, Some(&rest[..at]), &rest[at + 1..])),
        None => Some((scheme, None, rest)),
    }
}

/// Percent-encodes one path segment or query value (RFC 3986 unreserved characters stay).
pub(crate) fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Percent-encodes a `/`-separated path, segment by segment.
pub(crate) fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_component)
        .collect::<Vec<_>>()
        .join("/")
}

fn env_nonempty(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

impl Http {
    /// A client for the server at `uri` (`http://` or `https://`). Credentials: the URI's
    /// `user:password@`, else `MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD` (basic), else
    /// `MLFLOW_TRACKING_TOKEN` (bearer). `MLFLOW_HTTP_REQUEST_TIMEOUT` (seconds, default 120) bounds
    /// each request.
    pub(crate) fn new(uri: &str) -> Result<Http> {
        let (scheme, userinfo, rest) =
            split_userinfo(uri).ok_or_else(|| bad_uri(uri, "expected http:// or https://"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(bad_uri(uri, "expected http:// or https://"));
        }
        let rest = rest.trim_end_matches('/');
        let host = rest.split('/').next().unwrap_or("");
        if host.is_empty() {
            return Err(bad_uri(uri, "the URI names no host"));
        }
        if rest.contains(['?', '#']) {
            return Err(bad_uri(uri, "a tracking URI has no query or fragment"));
        }
        let basic = |user: &str, password: &str| {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            Secret(format!("Basic {token}"))
        };
        let auth = match userinfo {
            Some(info) => {
                let (u, p) = info.split_once(':').unwrap_or((info, ""));
                Some(basic(&percent_decode(u), &percent_decode(p)))
            }
            None => match (
                env_nonempty("MLFLOW_TRACKING_USERNAME"),
                env_nonempty("MLFLOW_TRACKING_PASSWORD"),
                env_nonempty("MLFLOW_TRACKING_TOKEN"),
            ) {
                (Some(u), Some(p), _) => Some(basic(&u, &p)),
                (_, _, Some(t)) => Some(Secret(format!("Bearer {t}"))),
                _ => None,
            },
        };
        let timeout = env_nonempty("MLFLOW_HTTP_REQUEST_TIMEOUT")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(120);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(timeout.max(1))))
            .user_agent(concat!("homeml/", env!("CARGO_PKG_VERSION")))
            .tls_config(super::tls::from_env()?)
            .build()
            .into();
        let retries = env_nonempty("MLFLOW_HTTP_REQUEST_MAX_RETRIES")
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(3)
            .min(10);
        Ok(Http {
            base: format!("{scheme}://{rest}"),
            agent,
            auth,
            retries,
        })
    }

    /// The server's address, credentials left out (for messages).
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    fn with_auth<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.auth {
            Some(Secret(v)) => req.header("Authorization", v.as_str()),
            None => req,
        }
    }

    /// Runs `call` again after 0.5 s, 1 s, 2 s, ... (`MLFLOW_HTTP_REQUEST_MAX_RETRIES` times, default
    /// 3) while it did not reach the server, and, when `idempotent`, while the server answers 429,
    /// 502, 503 or 504 (as MLflow's client retries).
    fn with_retries<T>(
        &self,
        idempotent: bool,
        mut call: impl FnMut() -> std::result::Result<T, Failure>,
    ) -> std::result::Result<T, Failure> {
        let mut attempt = 0;
        loop {
            let r = call();
            let again = match &r {
                Err(Failure::Unreachable(_)) => true,
                Err(Failure::Api { status, .. }) => {
                    idempotent && matches!(status, 429 | 502 | 503 | 504)
                }
                _ => false,
            };
            if !again || attempt >= self.retries {
                return r;
            }
            let wait = Duration::from_millis(500 << attempt.min(6));
            tracing::debug!(server = %self.base, attempt, ?wait, "tracking server not answering; retrying");
            std::thread::sleep(wait);
            attempt += 1;
        }
    }

    /// `GET path?query`, the answer's JSON (an object).
    pub(crate) fn get_json(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> std::result::Result<Value, Failure> {
        self.with_retries(true, || {
            let mut req = self.with_auth(self.agent.get(self.url(path)));
            for (k, v) in query {
                req = req.query(*k, v);
            }
            json_answer(req.call())
        })
    }

    /// `method path` with a JSON body, the answer's JSON (an object).
    pub(crate) fn send_json(
        &self,
        method: &str,
        path: &str,
        body: &Value,
    ) -> std::result::Result<Value, Failure> {
        let bytes = serde_json::to_vec(body).map_err(|e| Failure::Transport(e.to_string()))?;
        self.with_retries(false, || {
            let url = self.url(path);
            let req = match method {
                "POST" => self.agent.post(url),
                "PATCH" => self.agent.patch(url),
                "PUT" => self.agent.put(url),
                _ => self.agent.delete(url).force_send_body(),
            };
            json_answer(
                self.with_auth(req)
                    .content_type("application/json")
                    .send(&bytes[..]),
            )
        })
    }

    /// `GET path` answered with raw bytes: the open body, with its length when the server said it.
    pub(crate) fn get_raw(
        &self,
        path: &str,
    ) -> std::result::Result<(Option<u64>, Box<dyn Read + Send>), Failure> {
        self.with_retries(true, || {
            let resp = self
                .with_auth(self.agent.get(self.url(path)))
                .call()
                .map_err(transport)?;
            let status = resp.status().as_u16();
            if !(200..300).contains(&status) {
                return Err(error_answer(status, resp));
            }
            let len = resp.body().content_length();
            Ok((
                len,
                Box::new(resp.into_body().into_reader()) as Box<dyn Read + Send>,
            ))
        })
    }

    /// `PUT path` with raw bytes (artifact uploads): the status only.
    pub(crate) fn put_raw(
        &self,
        path: &str,
        body: &mut dyn Read,
    ) -> std::result::Result<(), Failure> {
        let resp = self
            .with_auth(self.agent.put(self.url(path)))
            .content_type("application/octet-stream")
            .send(ureq::SendBody::from_reader(body))
            .map_err(transport)?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(error_answer(status, resp));
        }
        Ok(())
    }

    /// `DELETE path` without a body: the status only.
    pub(crate) fn delete_raw(&self, path: &str) -> std::result::Result<(), Failure> {
        let resp = self.with_retries(false, || {
            self.with_auth(self.agent.delete(self.url(path)))
                .call()
                .map_err(transport)
        })?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(error_answer(status, resp));
        }
        Ok(())
    }
}

/// Largest JSON answer read (a search page of 50,000 runs fits).
const MAX_JSON_BYTES: u64 = 1 << 30;

fn json_answer(
    resp: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> std::result::Result<Value, Failure> {
    let mut resp = resp.map_err(transport)?;
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(error_answer(status, resp));
    }
    let text = resp
        .body_mut()
        .with_config()
        .limit(MAX_JSON_BYTES)
        .read_to_string()
        .map_err(|e| Failure::Transport(format!("reading the answer: {e}")))?;
    if text.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(Failure::Transport(
            "the answer is JSON but not an object".into(),
        )),
        Err(e) => Err(Failure::Transport(format!(
            "the answer is not JSON ({e}); is this an MLflow tracking server?"
        ))),
    }
}

/// MLflow's `{"error_code", "message"}`, or a code from the status when the body is not that (as
/// the MLflow client does: 404 ENDPOINT_NOT_FOUND, 400 BAD_REQUEST, else INTERNAL_ERROR).
fn error_answer(status: u16, mut resp: ureq::http::Response<ureq::Body>) -> Failure {
    let text = resp
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .unwrap_or_default();
    let parsed = serde_json::from_str::<Value>(&text).ok();
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let code = field("error_code").unwrap_or_else(|| {
        match status {
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "ENDPOINT_NOT_FOUND",
            400 => "BAD_REQUEST",
            _ => "INTERNAL_ERROR",
        }
        .to_string()
    });
    let message = field("message").unwrap_or_else(|| {
        let mut t: String = text.chars().take(200).collect();
        if t.trim().is_empty() {
            t = format!("HTTP {status}");
        }
        t
    });
    Failure::Api {
        status,
        code,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_the_address_and_never_print() {
        let h = Http::new("http://alice:s%40cret@127.0.0.1:5000/").unwrap();
        assert_eq!(h.base(), "http://127.0.0.1:5000");
        let dbg = format!("{h:?}");
        assert!(!dbg.contains("cret") && !dbg.contains("YWxpY2"), "{dbg}");
        let expected = base64::engine::general_purpose::STANDARD.encode("alice:s@cret");
        assert_eq!(
            h.auth.as_ref().map(|s| s.0.clone()),
            Some(format!("Basic {expected}"))
        );
        assert_eq!(
            redact("https://u:p@host:1/x"),
            "https://***@host:1/x".to_string()
        );
        let err = Http::new("ftp://u:p@host").unwrap_err().to_string();
        assert!(!err.contains("u:p"), "{err}");
    }

    /// A loopback listener answering each connection with the next of `answers` (status, body),
    /// then closing it; returns its address and the count of requests it saw.
    fn answering(
        answers: Vec<(u16, &'static str)>,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = seen.clone();
        std::thread::spawn(move || {
            for (status, body) in answers {
                let Ok((mut s, _)) = listener.accept() else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = write!(
                    s,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (addr, seen)
    }

    #[test]
    fn reads_are_retried_on_503_and_writes_are_not() {
        let busy = r#"{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}"#;
        let (addr, seen) = answering(vec![(503, busy), (200, r#"{"ok": 1}"#)]);
        let mut h = Http::new(&format!("http://{addr}")).unwrap();
        h.retries = 2;
        let v = h.get_json("api/2.0/mlflow/x", &[]).unwrap();
        assert_eq!(v["ok"], 1);
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 2);

        let (addr, seen) = answering(vec![(503, busy), (200, "{}")]);
        let mut h = Http::new(&format!("http://{addr}")).unwrap();
        h.retries = 2;
        match h.send_json("POST", "api/2.0/mlflow/x", &serde_json::json!({})) {
            Err(Failure::Api {
                status: 503, code, ..
            }) => assert_eq!(code, "TEMPORARILY_UNAVAILABLE"),
            other => panic!("{other:?}"),
        }
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn paths_are_encoded_by_segment() {
        assert_eq!(encode_path("1/a b/c%d"), "1/a%20b/c%25d");
        assert_eq!(encode_component("name@x"), "name%40x");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%41b"), "Ab");
    }
}
