//! The gateway itself: routes, the prediction path (auth -> body limit -> validate -> pick upstream ->
//! call with retries on connect failure -> map the answer), shadow traffic, and the HTTP server.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{OnceCell, Semaphore};
use tracing::{debug, info, warn};

use crate::access_log::{AccessLog, AccessLogFormat, AccessRecord};
pub use crate::answer::Body;
use crate::answer::{error_response, json_bytes_response, json_response, PredictAnswer};
use crate::auth::{Auth, AuthError};
use crate::client::{parse_base_url, CallError, UpstreamClient};
use crate::config::{AppConfig, GatewayConfig, MlflowFormat, Protocol, UpstreamConfig};
use crate::error::GatewayError;
use crate::features::{FeatureSet, Rows};
use crate::metrics::Metrics;
use crate::output::{OutputMapping, Prediction};
use crate::protocol::{self, Answer, InputDatatype};
use crate::routing::{pick, sticky_hash, Health, RetryBudget, SplitRng};

/// Shadow calls in flight at most; beyond that, copies are dropped (the shadow must never slow the app).
const MAX_SHADOW_IN_FLIGHT: usize = 64;

/// Errors building a gateway from a config.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A config value is wrong.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The API keys cannot be loaded.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// An app cannot be compiled.
    #[error("app {app}: {message}")]
    App {
        /// The app.
        app: String,
        /// What is wrong.
        message: String,
    },
}

/// One model server behind an app.
#[derive(Debug)]
pub struct Upstream {
    /// Name for logs and metrics.
    pub name: String,
    /// Its protocol.
    pub protocol: Protocol,
    /// The model name on the server.
    pub model: String,
    /// The model version, if pinned.
    pub version: Option<String>,
    timeout: Duration,
    client: UpstreamClient,
    health: Health,
    /// Input tensor name learnt from V2 metadata.
    input_name: OnceCell<String>,
    infer_uri: Uri,
    metadata_uri: Uri,
}

impl Upstream {
    fn new(
        cfg: &UpstreamConfig,
        name: String,
        app: &AppConfig,
        gw: &GatewayConfig,
    ) -> Result<Self, String> {
        let base = parse_base_url(&cfg.url)?;
        let model = cfg.model.clone().unwrap_or_else(|| app.name.clone());
        let mut model_path = format!("/v2/models/{}", encode_path_segment(&model));
        if let Some(v) = &cfg.version {
            model_path.push_str(&format!("/versions/{}", encode_path_segment(v)));
        }
        let infer_path = match cfg.protocol {
            Protocol::V2 => format!("{model_path}/infer"),
            Protocol::Mlflow => "/invocations".to_string(),
        };
        let client = UpstreamClient::new(
            base,
            Duration::from_millis(cfg.connect_timeout_ms),
            Duration::from_millis(gw.server.pool_idle_timeout_ms),
            gw.server.pool_max_idle_per_host,
        );
        Ok(Self {
            name,
            protocol: cfg.protocol,
            model,
            version: cfg.version.clone(),
            timeout: Duration::from_millis(cfg.timeout_ms),
            health: Health::new(app.health),
            input_name: OnceCell::new(),
            infer_uri: client.uri(&infer_path)?,
            metadata_uri: client.uri(&model_path)?,
            client,
        })
    }
}

fn encode_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An app compiled from its config.
#[derive(Debug)]
pub struct App {
    /// Name.
    pub name: String,
    /// Route.
    pub route: String,
    /// Its features.
    pub features: FeatureSet,
    /// Its output mapping.
    pub mapping: OutputMapping,
    feature_names: Vec<String>,
    input_name: Option<String>,
    datatype: InputDatatype,
    mlflow_format: MlflowFormat,
    upstreams: Vec<Arc<Upstream>>,
    weights: Vec<u32>,
    shadow: Option<Arc<Upstream>>,
    budget: RetryBudget,
    sticky_header: Option<HeaderName>,
    needs_key: bool,
}

impl App {
    /// Compiles an app of a checked config.
    pub fn new(cfg: &AppConfig, gw: &GatewayConfig) -> Result<Self, BuildError> {
        let err = |message: String| BuildError::App {
            app: cfg.name.clone(),
            message,
        };
        let features =
            FeatureSet::new(cfg.features.clone(), gw.server.max_batch_rows).map_err(err)?;
        let datatype = match &cfg.input.datatype {
            Some(d) => {
                InputDatatype::parse(d).ok_or_else(|| err(format!("unknown datatype {d}")))?
            }
            None => InputDatatype::Fp32,
        };
        let mut upstreams = Vec::new();
        for (i, u) in cfg.upstreams.iter().enumerate() {
            upstreams.push(Arc::new(
                Upstream::new(u, u.name_or(&cfg.name, i), cfg, gw).map_err(err)?,
            ));
        }
        let shadow = match &cfg.shadow {
            Some(u) => {
                let name = u
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{}-shadow", cfg.name));
                Some(Arc::new(Upstream::new(u, name, cfg, gw).map_err(err)?))
            }
            None => None,
        };
        let sticky_header = match &cfg.sticky_header {
            Some(h) => Some(
                HeaderName::from_bytes(h.as_bytes())
                    .map_err(|_| err(format!("invalid sticky header {h:?}")))?,
            ),
            None => None,
        };
        Ok(Self {
            name: cfg.name.clone(),
            route: cfg.route(),
            feature_names: cfg.features.iter().map(|f| f.name.clone()).collect(),
            features,
            mapping: OutputMapping::new(&cfg.output),
            input_name: cfg.input.name.clone(),
            datatype,
            mlflow_format: cfg.input.mlflow_format.unwrap_or(MlflowFormat::Inputs),
            weights: cfg.upstreams.iter().map(|u| u.weight).collect(),
            upstreams,
            shadow,
            budget: RetryBudget::new(cfg.retry),
            sticky_header,
            needs_key: gw.auth.is_some() && cfg.auth,
        })
    }

    /// The upstreams.
    pub fn upstreams(&self) -> &[Arc<Upstream>] {
        &self.upstreams
    }

    /// Builds the upstream request body for `rows` (the request path's encoding step); a V2 body asks
    /// for the probabilities output only `with_probabilities`.
    pub fn upstream_body(
        &self,
        up: &Upstream,
        rows: &Rows,
        input_name: &str,
        request_id: &str,
        with_probabilities: bool,
    ) -> Vec<u8> {
        match up.protocol {
            Protocol::V2 => protocol::v2_request_body(
                rows,
                input_name,
                self.datatype,
                request_id,
                &self.mapping.requested_outputs(with_probabilities),
            ),
            Protocol::Mlflow => {
                let cols: Vec<&str> = self.feature_names.iter().map(String::as_str).collect();
                protocol::mlflow_request_body(rows, self.mlflow_format, &cols)
            }
        }
    }
}

/// Why one upstream call failed.
#[derive(Debug)]
enum Failure {
    Call(CallError),
    Status(StatusCode, String),
    Answer(String),
}

impl Failure {
    fn kind(&self) -> &'static str {
        match self {
            Failure::Call(CallError::Connect(_)) => "connect",
            Failure::Call(CallError::Timeout) => "timeout",
            Failure::Call(CallError::Transport(_)) => "transport",
            Failure::Status(..) => "status",
            Failure::Answer(_) => "answer",
        }
    }

    /// Whether passive health counts it (an upstream's 4xx is a config mismatch, not ill health).
    fn counts_for_health(&self) -> bool {
        !matches!(self, Failure::Status(s, _) if s.is_client_error())
    }

    fn into_error(self, upstream: &str) -> GatewayError {
        let upstream = upstream.to_string();
        match self {
            Failure::Call(CallError::Timeout) => GatewayError::UpstreamTimeout { upstream },
            Failure::Call(e) => GatewayError::Upstream {
                upstream,
                message: e.to_string(),
            },
            Failure::Status(s, body) => GatewayError::Upstream {
                upstream,
                message: format!("answered {}: {}", s.as_u16(), body),
            },
            Failure::Answer(message) => GatewayError::Upstream { upstream, message },
        }
    }
}

/// The gateway: compiled apps, keys, metrics and the generated docs.
#[derive(Debug)]
pub struct Gateway {
    apps: Vec<Arc<App>>,
    routes: HashMap<String, usize>,
    auth: Option<Auth>,
    metrics: Arc<Metrics>,
    body_limits: crate::body::BodyLimits,
    openapi: Bytes,
    docs: Bytes,
    docs_csp: String,
    rng: SplitRng,
    shadow_slots: Arc<Semaphore>,
    ids: RequestIds,
    access_log: Option<AccessLog>,
}

/// Ids for requests that arrive without one: 32 hex digits, a random per-process prefix and a
/// counter (a random UUID per request costs a `getrandom` system call each time).
#[derive(Debug)]
struct RequestIds {
    prefix: u64,
    next: AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        let (prefix, start) = uuid::Uuid::new_v4().as_u64_pair();
        Self {
            prefix,
            next: AtomicU64::new(start),
        }
    }

    fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        // By hand: `format!("{:016x}{:016x}")` cost ~1.8k instructions per request.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut id = [0u8; 32];
        for (i, v) in [self.prefix, n].into_iter().enumerate() {
            for (j, d) in id[i * 16..(i + 1) * 16].iter_mut().enumerate() {
                *d = HEX[((v >> (60 - 4 * j)) & 0xf) as usize];
            }
        }
        // Hex digits are ASCII.
        std::str::from_utf8(&id).unwrap_or_default().to_owned()
    }
}

fn request_id_of(req: &Request<Incoming>, ids: &RequestIds) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| ids.next())
}

fn wants_probabilities(query: Option<&str>) -> Result<bool, GatewayError> {
    let Some(q) = query else { return Ok(false) };
    for pair in q.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, "true"));
        if k == "probabilities" {
            return match v {
                "true" | "1" | "" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(GatewayError::Validation {
                    field: "probabilities".into(),
                    message: format!("expected true or false, got {v:?}"),
                }),
            };
        }
    }
    Ok(false)
}

impl Gateway {
    /// Builds a gateway from a checked config (reads API keys from the environment where configured).
    /// Its access log (unless `[server] access_log = false`) goes to stderr as text lines and follows
    /// the `tracing` filter: see [`Self::with_access_log`].
    pub fn new(cfg: &GatewayConfig) -> Result<Arc<Self>, BuildError> {
        Self::with_access_log(cfg, || AccessLog::stderr(AccessLogFormat::Text))
    }

    /// Builds a gateway whose access log is `access_log` (used unless `[server] access_log = false`;
    /// built only then). The log is written out when the gateway stops serving and when it is dropped.
    pub fn with_access_log(
        cfg: &GatewayConfig,
        access_log: impl FnOnce() -> AccessLog,
    ) -> Result<Arc<Self>, BuildError> {
        cfg.check()?;
        let mut apps = Vec::new();
        let mut routes = HashMap::new();
        for (i, a) in cfg.apps.iter().enumerate() {
            apps.push(Arc::new(App::new(a, cfg)?));
            routes.insert(a.route(), i);
        }
        let auth = cfg.auth.as_ref().map(Auth::new).transpose()?;
        let doc = crate::openapi::document(cfg);
        let docs = crate::openapi::docs_page(cfg, &doc);
        Ok(Arc::new(Self {
            apps,
            routes,
            auth,
            metrics: Arc::new(Metrics::new()),
            body_limits: crate::body::BodyLimits {
                max_bytes: cfg.server.max_body_bytes,
                timeout: Duration::from_millis(cfg.server.body_read_timeout_ms),
                min_rate: cfg.server.body_min_rate_bytes_per_s,
            },
            openapi: Bytes::from(serde_json::to_vec_pretty(&doc).unwrap_or_default()),
            docs: Bytes::from(docs),
            docs_csp: crate::openapi::docs_content_security_policy(),
            rng: SplitRng::new(),
            shadow_slots: Arc::new(Semaphore::new(MAX_SHADOW_IN_FLIGHT)),
            ids: RequestIds::new(),
            access_log: cfg.server.access_log.then(access_log),
        }))
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The apps.
    pub fn apps(&self) -> &[Arc<App>] {
        &self.apps
    }

    /// Answers one HTTP request.
    pub async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        let started = Instant::now();
        let request_id = request_id_of(&req, &self.ids);
        if let Some(&i) = self.routes.get(req.uri().path()) {
            let app = self.apps[i].clone();
            if req.method() != Method::POST {
                let e = GatewayError::MethodNotAllowed;
                self.metrics
                    .request(&app.name, "none", e.status().as_u16(), started.elapsed());
                return error_response(&e, &request_id);
            }
            let (resp, upstream) = match self.predict(&app, req, &request_id).await {
                Ok((body, up)) => (json_bytes_response(StatusCode::OK, body, &request_id), up),
                Err((e, up)) => (error_response(&e, &request_id), up),
            };
            let status = resp.status().as_u16();
            let upstream = upstream.as_deref().unwrap_or("none");
            self.metrics
                .request(&app.name, upstream, status, started.elapsed());
            if let Some(log) = &self.access_log {
                log.log(&AccessRecord {
                    request_id: &request_id,
                    app: &app.name,
                    upstream,
                    status,
                    latency_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                });
            }
            return resp;
        }
        let path = req.uri().path().to_string();
        let resp = match (req.method(), path.as_str()) {
            (&Method::GET, "/health") => {
                json_response(StatusCode::OK, &json!({"status": "ok"}), &request_id)
            }
            (&Method::GET, "/metrics") => {
                let mut r = Response::new(Full::new(Bytes::from(self.metrics.render())));
                r.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                r
            }
            (&Method::GET, "/openapi.json") => {
                let mut r = Response::new(Full::new(self.openapi.clone()));
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                r
            }
            (&Method::GET, "/docs") | (&Method::GET, "/docs/") => {
                let mut r = Response::new(Full::new(self.docs.clone()));
                let h = r.headers_mut();
                h.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                // Issue 20.2: the page's security headers (see `openapi::docs_content_security_policy`).
                if let Ok(v) = HeaderValue::from_str(&self.docs_csp) {
                    h.insert(hyper::header::CONTENT_SECURITY_POLICY, v);
                }
                h.insert(
                    hyper::header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                );
                h.insert(
                    hyper::header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                );
                h.insert(
                    hyper::header::X_FRAME_OPTIONS,
                    HeaderValue::from_static("DENY"),
                );
                r
            }
            (_, "/health" | "/metrics" | "/openapi.json" | "/docs") => {
                error_response(&GatewayError::MethodNotAllowed, &request_id)
            }
            _ => error_response(&GatewayError::NotFound(path.clone()), &request_id),
        };
        debug!(request_id = %request_id, path = %path, status = resp.status().as_u16(), "request");
        resp
    }

    async fn read_body(&self, req: Request<Incoming>) -> Result<Bytes, GatewayError> {
        crate::body::read_body(req, self.body_limits).await
    }

    async fn predict(
        &self,
        app: &Arc<App>,
        req: Request<Incoming>,
        request_id: &str,
    ) -> Result<(Vec<u8>, Option<String>), (GatewayError, Option<String>)> {
        if app.needs_key {
            if let Some(auth) = &self.auth {
                auth.check(req.headers(), &app.name)
                    .map_err(|e| (e, None))?;
            }
        }
        let with_probs = wants_probabilities(req.uri().query()).map_err(|e| (e, None))?;
        let sticky = app
            .sticky_header
            .as_ref()
            .and_then(|h| req.headers().get(h).map(|v| sticky_hash(v.as_bytes())));
        let body = self.read_body(req).await.map_err(|e| (e, None))?;
        // Plain bodies are read straight into rows; anything else (every error included) through a
        // parsed `Value` and `validate`, as before.
        let rows = match app.features.validate_plain(&body) {
            Some(rows) => rows,
            None => {
                let parsed: Value = serde_json::from_slice(&body).map_err(|e| {
                    (
                        GatewayError::BadRequest(format!("the body is not valid JSON: {e}")),
                        None,
                    )
                })?;
                app.features.validate(&parsed).map_err(|e| (e, None))?
            }
        };

        app.budget.deposit();
        let mut tried: Vec<usize> = Vec::new();
        let mut retries = 0u32;
        loop {
            let Some(i) = pick(
                &app.weights,
                &|i| app.upstreams[i].health.is_available(),
                &tried,
                sticky,
                &self.rng,
            )
            .or_else(|| {
                // Every upstream has been tried: retry the last one rather than none.
                tried.last().copied()
            }) else {
                return Err((GatewayError::NoUpstream, None));
            };
            let up = app.upstreams[i].clone();
            match self.call(app, &up, &rows, request_id, with_probs).await {
                Ok(answer) => {
                    let preds = app
                        .mapping
                        .map(&answer, rows.len(), with_probs)
                        .map_err(|m| {
                            self.metrics.upstream_error(&up.name, "answer");
                            (
                                GatewayError::Upstream {
                                    upstream: up.name.clone(),
                                    message: m,
                                },
                                Some(up.name.clone()),
                            )
                        })?;
                    if let Some(shadow) = &app.shadow {
                        self.spawn_shadow(app, shadow, &rows, &preds, request_id);
                    }
                    let out = PredictAnswer {
                        preds: &preds,
                        single: rows.single,
                        model_name: answer.model_name.as_deref().unwrap_or(&up.model),
                        model_version: answer.model_version.as_deref().or(up.version.as_deref()),
                        upstream: &up.name,
                        request_id,
                    }
                    .to_json();
                    return Ok((out, Some(up.name.clone())));
                }
                Err(f) => {
                    let retryable = matches!(f, Failure::Call(CallError::Connect(_)));
                    warn!(request_id, app = %app.name, upstream = %up.name, kind = f.kind(),
                          error = ?f, "upstream call failed");
                    if retryable && retries < app.budget.max_retries() && app.budget.try_withdraw()
                    {
                        retries += 1;
                        self.metrics.retry(&app.name);
                        if !tried.contains(&i) {
                            tried.push(i);
                        }
                        continue;
                    }
                    return Err((f.into_error(&up.name), Some(up.name.clone())));
                }
            }
        }
    }

    /// One upstream call with health and metrics bookkeeping.
    async fn call(
        &self,
        app: &App,
        up: &Upstream,
        rows: &Rows,
        request_id: &str,
        with_probabilities: bool,
    ) -> Result<Answer, Failure> {
        let started = Instant::now();
        let result = call_upstream(app, up, rows, request_id, with_probabilities).await;
        self.metrics.upstream_latency(&up.name, started.elapsed());
        match &result {
            Ok(_) => up.health.success(),
            Err(f) => {
                self.metrics.upstream_error(&up.name, f.kind());
                if f.counts_for_health() && up.health.failure() {
                    self.metrics.ejection(&up.name);
                    warn!(upstream = %up.name, failures = up.health.threshold(), cooldown = ?up.health.cooldown(),
                          "upstream skipped after consecutive failures");
                }
            }
        }
        result
    }

    fn spawn_shadow(
        &self,
        app: &Arc<App>,
        shadow: &Arc<Upstream>,
        rows: &Rows,
        primary: &[Prediction],
        request_id: &str,
    ) {
        let Ok(permit) = self.shadow_slots.clone().try_acquire_owned() else {
            debug!(request_id, app = %app.name, "shadow copy dropped: too many in flight");
            return;
        };
        let app = app.clone();
        let shadow = shadow.clone();
        let rows = rows.clone();
        let primary: Vec<Value> = primary.iter().map(|p| p.label.clone()).collect();
        let request_id = request_id.to_string();
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let result = call_upstream(&app, &shadow, &rows, &request_id, false).await;
            match result.and_then(|a| {
                app.mapping
                    .map(&a, rows.len(), false)
                    .map_err(Failure::Answer)
            }) {
                Ok(preds) => {
                    let labels: Vec<Value> = preds.into_iter().map(|p| p.label).collect();
                    let differ = labels.iter().zip(&primary).filter(|(a, b)| a != b).count();
                    metrics.shadow(&app.name, differ > 0, false);
                    if differ > 0 {
                        info!(request_id = %request_id, app = %app.name, shadow = %shadow.name,
                              rows = rows.len(), differ, primary = ?primary, shadow_labels = ?labels,
                              "shadow disagrees");
                    } else {
                        debug!(request_id = %request_id, app = %app.name, shadow = %shadow.name, "shadow agrees");
                    }
                }
                Err(f) => {
                    metrics.upstream_error(&shadow.name, f.kind());
                    metrics.shadow(&app.name, false, true);
                    warn!(request_id = %request_id, app = %app.name, shadow = %shadow.name,
                          error = ?f, "shadow call failed");
                }
            }
        });
    }

    /// Serves HTTP/1.1 on `listener` until `shutdown` completes, then lets open requests finish.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(s) => s,
                        Err(e) => {
                            warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let this = self.clone();
                    let service = hyper::service::service_fn(move |req| {
                        let this = this.clone();
                        async move { Ok::<_, Infallible>(this.handle(req).await) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service);
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            debug!(peer = %peer, error = %e, "connection closed with an error");
                        }
                    });
                }
                _ = &mut shutdown => break,
            }
        }
        drop(listener);
        tokio::select! {
            _ = graceful.shutdown() => {}
            _ = tokio::time::sleep(Duration::from_secs(10)) => {
                warn!("connections still open after 10 s; closing");
            }
        }
        // Every finished request's line, now rather than at the next flush (blocking, briefly, once).
        if let Some(log) = &self.access_log {
            log.flush();
        }
        Ok(())
    }
}

/// Calls one upstream: learns its input name if needed, sends the rows, reads the answer.
async fn call_upstream(
    app: &App,
    up: &Upstream,
    rows: &Rows,
    request_id: &str,
    with_probabilities: bool,
) -> Result<Answer, Failure> {
    let input_name = match up.protocol {
        Protocol::V2 => match &app.input_name {
            Some(n) => n.as_str(),
            None => up
                .input_name
                .get_or_try_init(|| fetch_input_name(up, request_id))
                .await?
                .as_str(),
        },
        Protocol::Mlflow => "",
    };
    let body = app.upstream_body(up, rows, input_name, request_id, with_probabilities);
    let (status, answer) = up
        .client
        .call(
            Method::POST,
            &up.infer_uri,
            Some(Bytes::from(body)),
            request_id,
            up.timeout,
        )
        .await
        .map_err(Failure::Call)?;
    if !status.is_success() {
        return Err(Failure::Status(status, upstream_message(&answer)));
    }
    let parsed = match up.protocol {
        Protocol::V2 => protocol::parse_v2_answer(&answer),
        Protocol::Mlflow => protocol::parse_mlflow_answer(&answer),
    };
    parsed.map_err(Failure::Answer)
}

/// Reads the first input's name from `GET /v2/models/{m}`.
async fn fetch_input_name(up: &Upstream, request_id: &str) -> Result<String, Failure> {
    let (status, body) = up
        .client
        .call(Method::GET, &up.metadata_uri, None, request_id, up.timeout)
        .await
        .map_err(Failure::Call)?;
    if !status.is_success() {
        return Err(Failure::Status(status, upstream_message(&body)));
    }
    let name = protocol::v2_metadata_input_name(&body).ok_or_else(|| {
        Failure::Answer(format!(
            "model metadata at {} names no input; set input.name in the app config",
            up.metadata_uri.path()
        ))
    })?;
    info!(upstream = %up.name, input = %name, "input tensor name from model metadata");
    Ok(name)
}

/// A short, printable excerpt of an upstream error body.
fn upstream_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let msg = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| {
            v.get("error")
                .and_then(Value::as_str)
                .or_else(|| v.get("message").and_then(Value::as_str))
                .map(str::to_string)
        })
        .unwrap_or_else(|| text.into_owned());
    msg.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_probabilities_flag() {
        assert!(!wants_probabilities(None).unwrap());
        assert!(wants_probabilities(Some("probabilities=true")).unwrap());
        assert!(wants_probabilities(Some("a=b&probabilities")).unwrap());
        assert!(!wants_probabilities(Some("probabilities=0")).unwrap());
        assert!(wants_probabilities(Some("probabilities=maybe")).is_err());
    }

    #[test]
    fn generated_request_ids_are_unique_32_hex_digits() {
        let ids = RequestIds::new();
        let (a, b) = (ids.next(), ids.next());
        assert_ne!(a, b);
        for id in [&a, &b] {
            assert_eq!(id.len(), 32, "{id}");
            assert!(id.bytes().all(|c| c.is_ascii_hexdigit()), "{id}");
        }
        assert_eq!(a[..16], b[..16], "one process prefix");
        assert_ne!(RequestIds::new().next()[..16], a[..16]);
        let ids = RequestIds {
            prefix: 0x0123_4567_89ab_cdef,
            next: AtomicU64::new(u64::MAX),
        };
        assert_eq!(ids.next(), "0123456789abcdefffffffffffffffff");
        assert_eq!(ids.next(), "0123456789abcdef0000000000000000");
        let ids = RequestIds {
            prefix: 0xfedc_ba98_7654_3210,
            next: AtomicU64::new(0x0a),
        };
        assert_eq!(
            ids.next(),
            format!("{:016x}{:016x}", 0xfedc_ba98_7654_3210u64, 0x0a)
        );
    }

    #[test]
    fn encodes_path_segments() {
        assert_eq!(encode_path_segment("iris-v1.2"), "iris-v1.2");
        assert_eq!(encode_path_segment("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn extracts_upstream_messages() {
        assert_eq!(upstream_message(br#"{"error":"bad shape"}"#), "bad shape");
        assert_eq!(upstream_message(b"plain"), "plain");
    }
}
