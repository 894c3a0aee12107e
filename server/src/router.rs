//! Routes: which handler answers which method and path, and the handlers themselves.
//!
//! | route | method | protocol |
//! |---|---|---|
//! | `/ping`, `/health` (200 when every model is ready, else 503), `/version` | GET | MLflow |
//! | `/invocations` | POST | MLflow |
//! | `/models/{m}/invocations` | POST | MLflow |
//! | `/v2`, `/v2/health/live`, `/v2/health/ready` | GET | V2 |
//! | `/v2/models/{m}[/versions/{v}]`, `.../ready` | GET | V2 |
//! | `/v2/models/{m}[/versions/{v}]/infer` | POST | V2 |
//! | `/v2/repository/index`, `/v2/repository/models/{m}/load`, `.../unload` | POST | V2 |
//! | `/predict`, `/models/{m}/predict` | POST | bare arrays |
//! | `/metrics` | GET | Prometheus text |
//!
//! The `/v2/repository/...` routes manage models: they need the admin token when one is set, and
//! answer 403 without one on a non-loopback address (see [`crate::admin`]).
//!
//! `POST /invocations` and `POST /predict` serve the only model of a single-model server. With several
//! models, name one with the `x-model-name` header or use `/models/{m}/invocations` and
//! `/models/{m}/predict`. Unknown paths answer 404; a known path with another method answers 405 with
//! `Allow`. GET routes also answer HEAD.
//!
//! Request bodies are read whole (see [`crate::body`]: size limit, body-read timeout and minimum rate,
//! memory reserved as the bytes arrive). A prediction then holds its share of the in-flight memory
//! budget (see [`crate::budget`]) for its decoded inputs and its answer, until the answer is sent; a
//! request that does not fit gets the overload answer, 429 on V2 and /predict or 503 on MLflow with
//! `Retry-After`. `/health` and `/v2/health/ready` answer 503 while the budget could not take a
//! largest allowed body (`/ping` and `/v2/health/live` do not: they say the process is up).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::body::{budget_full, read_body};
use crate::budget::{self, AnswerBody, Reservation};
use crate::config::Limits;
use crate::error::{ApiError, Protocol};
use crate::manager::{ManagerError, ModelManager, ModelState, ServedVersion};
use crate::metrics::Metrics;
use crate::protocol::{self, Encoded};

/// The header that picks a model for `/invocations` and `/predict` on a multi-model server.
pub const MODEL_NAME_HEADER: &str = "x-model-name";

/// V2 protocol extensions this server implements.
const V2_EXTENSIONS: &[&str] = &["binary_tensor_data", "model_repository"];

/// What every request handler shares.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) manager: Arc<ModelManager>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) limits: Limits,
    pub(crate) admin: crate::admin::AdminGuard,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Ping,
    Health,
    Version,
    Invocations(Option<String>),
    Predict(Option<String>),
    Metrics,
    V2Server,
    V2Live,
    V2Ready,
    V2Model(String, Option<String>),
    V2ModelReady(String, Option<String>),
    V2Infer(String, Option<String>),
    RepoIndex,
    RepoLoad(String),
    RepoUnload(String),
}

const GET: &[Method] = &[Method::GET, Method::HEAD];
const POST: &[Method] = &[Method::POST];

impl Route {
    fn protocol(&self) -> Protocol {
        match self {
            Route::Ping | Route::Health | Route::Version | Route::Invocations(_) => {
                Protocol::Mlflow
            }
            Route::Predict(_) | Route::Metrics => Protocol::Predict,
            _ => Protocol::V2,
        }
    }

    fn methods(&self) -> &'static [Method] {
        match self {
            Route::Ping
            | Route::Health
            | Route::Version
            | Route::Metrics
            | Route::V2Server
            | Route::V2Live
            | Route::V2Ready
            | Route::V2Model(..)
            | Route::V2ModelReady(..) => GET,
            _ => POST,
        }
    }
}

fn parse_route(path: &str) -> Option<Route> {
    // The longest route has 6 segments; a path with more matches none (no allocation per request).
    let mut buf = [""; 7];
    let mut n = 0;
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        if n == buf.len() {
            return None;
        }
        buf[n] = seg;
        n += 1;
    }
    let s = |x: &str| x.to_string();
    Some(match &buf[..n] {
        ["ping"] => Route::Ping,
        ["health"] => Route::Health,
        ["version"] => Route::Version,
        ["invocations"] => Route::Invocations(None),
        ["models", m, "invocations"] => Route::Invocations(Some(s(m))),
        ["predict"] => Route::Predict(None),
        ["models", m, "predict"] => Route::Predict(Some(s(m))),
        ["metrics"] => Route::Metrics,
        ["v2"] => Route::V2Server,
        ["v2", "health", "live"] => Route::V2Live,
        ["v2", "health", "ready"] => Route::V2Ready,
        ["v2", "models", m] => Route::V2Model(s(m), None),
        ["v2", "models", m, "versions", v] => Route::V2Model(s(m), Some(s(v))),
        ["v2", "models", m, "ready"] => Route::V2ModelReady(s(m), None),
        ["v2", "models", m, "versions", v, "ready"] => Route::V2ModelReady(s(m), Some(s(v))),
        ["v2", "models", m, "infer"] => Route::V2Infer(s(m), None),
        ["v2", "models", m, "versions", v, "infer"] => Route::V2Infer(s(m), Some(s(v))),
        ["v2", "repository", "index"] => Route::RepoIndex,
        ["v2", "repository", "models", m, "load"] => Route::RepoLoad(s(m)),
        ["v2", "repository", "models", m, "unload"] => Route::RepoUnload(s(m)),
        _ => return None,
    })
}

fn guess_protocol(path: &str) -> Protocol {
    if path.starts_with("/v2") {
        Protocol::V2
    } else if path.starts_with("/invocations") || path.ends_with("/invocations") {
        Protocol::Mlflow
    } else {
        Protocol::Predict
    }
}

fn to_response(enc: Encoded) -> Response<AnswerBody> {
    let mut resp = Response::new(AnswerBody::new(enc.body));
    *resp.status_mut() = enc.status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(enc.content_type),
    );
    for (k, v) in enc.headers {
        h.append(k, v);
    }
    resp
}

fn empty_ok() -> Encoded {
    Encoded {
        status: StatusCode::OK,
        content_type: protocol::JSON,
        body: Bytes::new(),
        headers: Vec::new(),
    }
}

/// Answers one request. Never fails: every error becomes its protocol's error answer.
pub(crate) async fn handle(state: Arc<AppState>, req: Request<Incoming>) -> Response<AnswerBody> {
    let started = Instant::now();
    // A cheap clone (the path's bytes are shared) that outlives `req`, for messages.
    let uri = req.uri().clone();
    let path = uri.path();
    let Some(route) = parse_route(path) else {
        let p = guess_protocol(path);
        let err = ApiError::NotFound(format!("no route {} {path}", req.method()));
        state
            .metrics
            .record_request("", "other", 404, started.elapsed());
        return to_response(err.to_encoded(p));
    };
    let proto = route.protocol();
    let allowed = route.methods();
    if !allowed.contains(req.method()) {
        let names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
        let allow = names.join(", ");
        let err =
            ApiError::MethodNotAllowed(format!("{path} accepts {allow}, not {}", req.method()));
        let mut enc = err.to_encoded(proto);
        if let Ok(v) = HeaderValue::from_str(&allow) {
            enc.headers.push((header::ALLOW, v));
        }
        state
            .metrics
            .record_request("", proto.as_str(), 405, started.elapsed());
        return to_response(enc);
    }
    let mut model_label = String::new();
    let mut held = None;
    let result = dispatch(&state, route, req, started, &mut model_label, &mut held).await;
    let enc = result.unwrap_or_else(|e| {
        if matches!(e, ApiError::Internal(_)) {
            tracing::warn!(path = %path, model = %model_label, error = %e, "request failed");
        }
        e.to_encoded(proto)
    });
    let label = if path == "/metrics" {
        "other"
    } else {
        proto.as_str()
    };
    state
        .metrics
        .record_request(&model_label, label, enc.status.as_u16(), started.elapsed());
    let mut resp = to_response(enc);
    if let Some(r) = held {
        resp.body_mut().hold(r);
    }
    resp
}

/// Why the server is not ready to take a largest allowed request now, if it is not.
fn memory_starved(state: &AppState) -> Option<String> {
    let l = &state.limits;
    budget::starved(&state.metrics, l.max_inflight_body_bytes, l.max_body_bytes).map(
        |(used, limit)| {
            format!(
                "the requests in flight hold {used} of the {limit} bytes of the memory budget: a {} byte request would not fit",
                l.max_body_bytes
            )
        },
    )
}

/// `Ok` when every model is ready and the memory budget can take a largest request.
fn readiness(state: &AppState) -> Result<(), ApiError> {
    let mgr = &state.manager;
    if !mgr.all_ready() {
        return Err(ApiError::NotReady(not_ready_reason(mgr)));
    }
    match memory_starved(state) {
        Some(reason) => Err(ApiError::NotReady(reason)),
        None => Ok(()),
    }
}

async fn dispatch(
    state: &AppState,
    route: Route,
    req: Request<Incoming>,
    started: Instant,
    model_label: &mut String,
    held: &mut Option<Reservation>,
) -> Result<Encoded, ApiError> {
    let mgr = &state.manager;
    if matches!(
        route,
        Route::RepoIndex | Route::RepoLoad(_) | Route::RepoUnload(_)
    ) {
        state.admin.check(req.headers())?;
    }
    match route {
        Route::Ping => Ok(if mgr.all_ready() {
            protocol::mlflow::ping_body()
        } else {
            ApiError::NotReady(not_ready_reason(mgr)).to_encoded(Protocol::Mlflow)
        }),
        Route::Health => Ok(match readiness(state) {
            Ok(()) => protocol::mlflow::ping_body(),
            Err(e) => e.to_encoded(Protocol::Mlflow),
        }),
        Route::Version => Ok(protocol::mlflow::version_body()),
        Route::Metrics => Ok(Encoded {
            status: StatusCode::OK,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: Bytes::from(state.metrics.render()),
            headers: Vec::new(),
        }),
        Route::V2Server => Ok(protocol::v2::server_metadata(V2_EXTENSIONS)),
        Route::V2Live => Ok(empty_ok()),
        Route::V2Ready => readiness(state).map(|()| empty_ok()),
        Route::V2Model(m, v) => {
            let version = served(mgr, &m, v.as_deref(), model_label)?;
            Ok(crate::missing::annotate_metadata(
                protocol::v2::model_metadata(&version.info),
                version.accepts_missing_values,
            ))
        }
        Route::V2ModelReady(m, v) => {
            served(mgr, &m, v.as_deref(), model_label)?;
            Ok(empty_ok())
        }
        Route::Invocations(m) => {
            let name = match m {
                Some(m) => m,
                None => pick_model(mgr, &req)?,
            };
            infer(
                state,
                Protocol::Mlflow,
                &name,
                None,
                req,
                started,
                model_label,
                held,
            )
            .await
        }
        Route::Predict(m) => {
            let name = match m {
                Some(m) => m,
                None => pick_model(mgr, &req)?,
            };
            infer(
                state,
                Protocol::Predict,
                &name,
                None,
                req,
                started,
                model_label,
                held,
            )
            .await
        }
        Route::V2Infer(m, v) => {
            infer(
                state,
                Protocol::V2,
                &m,
                v.as_deref(),
                req,
                started,
                model_label,
                held,
            )
            .await
        }
        Route::RepoIndex => {
            let (parts, body) = req.into_parts();
            let body = read_body(state, &parts.headers, body).await?;
            let only_ready = if body.bytes.iter().all(u8::is_ascii_whitespace) {
                false
            } else {
                let v: serde_json::Value = serde_json::from_slice(&body.bytes)
                    .map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))?;
                v.get("ready")
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false)
            };
            let index: Vec<_> = mgr
                .index()
                .into_iter()
                .filter(|(_, _, s, _)| !only_ready || s == ModelState::Ready.as_str())
                .collect();
            Ok(protocol::v2::repository_index(&index))
        }
        Route::RepoLoad(m) => {
            if mgr.get(&m).is_some() {
                *model_label = m.clone();
            }
            mgr.load(&m).await.map_err(manager_error)?;
            Ok(empty_ok())
        }
        Route::RepoUnload(m) => {
            if mgr.get(&m).is_some() {
                *model_label = m.clone();
            }
            mgr.unload(&m).await.map_err(manager_error)?;
            Ok(empty_ok())
        }
    }
}

fn manager_error(e: ManagerError) -> ApiError {
    match e {
        ManagerError::UnknownModel(_) => ApiError::NotFound(e.to_string()),
        ManagerError::DuplicateName(_) | ManagerError::Load { .. } => {
            ApiError::Internal(e.to_string())
        }
    }
}

fn not_ready_reason(mgr: &ModelManager) -> String {
    let waiting: Vec<String> = mgr
        .slots()
        .iter()
        .filter_map(|s| {
            let st = s.state();
            (st != ModelState::Ready).then(|| format!("{}: {}", s.name(), st.reason()))
        })
        .collect();
    if waiting.is_empty() {
        "no model is configured".into()
    } else {
        format!("not every model is ready ({})", waiting.join("; "))
    }
}

/// The model for `/invocations` or `/predict` without a name in the path.
fn pick_model(mgr: &ModelManager, req: &Request<Incoming>) -> Result<String, ApiError> {
    if let Some(h) = req.headers().get(MODEL_NAME_HEADER) {
        return h.to_str().map(str::to_string).map_err(|_| {
            ApiError::BadRequest(format!("the {MODEL_NAME_HEADER} header is not text"))
        });
    }
    if let Some(only) = mgr.sole_name() {
        return Ok(only);
    }
    let names = mgr.names();
    match names.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(ApiError::NotReady("no model is served".into())),
        _ => Err(ApiError::BadRequest(format!(
            "this server serves several models ({}): name one with the {MODEL_NAME_HEADER} header or use /models/{{name}}/...",
            names.join(", ")
        ))),
    }
}

/// The version serving `name` (and `version`, when asked for one).
fn served(
    mgr: &ModelManager,
    name: &str,
    version: Option<&str>,
    model_label: &mut String,
) -> Result<Arc<ServedVersion>, ApiError> {
    let slot = mgr
        .get(name)
        .ok_or_else(|| ApiError::NotFound(format!("model {name:?} is not served here")))?;
    *model_label = name.to_string();
    let current = slot.current().ok_or_else(|| {
        ApiError::NotReady(format!(
            "model {name:?} is not ready: {}",
            slot.state().reason()
        ))
    })?;
    if let Some(v) = version {
        if v != current.info.version {
            return Err(ApiError::NotFound(format!(
                "model {name:?} has no version {v:?} loaded (serving version {})",
                current.info.version
            )));
        }
    }
    Ok(current)
}

#[allow(clippy::too_many_arguments)]
async fn infer(
    state: &AppState,
    proto: Protocol,
    name: &str,
    version: Option<&str>,
    req: Request<Incoming>,
    started: Instant,
    model_label: &mut String,
    held: &mut Option<Reservation>,
) -> Result<Encoded, ApiError> {
    let served = served(&state.manager, name, version, model_label)?;
    let (parts, body) = req.into_parts();
    let body = read_body(state, &parts.headers, body).await?;
    let info = &served.info;
    let (input, plan) = crate::decode::request(proto, &parts.headers, &body.bytes, info)?;
    crate::missing::check(&input, info, served.accepts_missing_values)?;
    // The memory budget, step by step: the decoded inputs must fit beside the body; then the body's
    // bytes are given back, and the answer's estimate from the outputs' shapes must fit beside the
    // inputs before the model runs.
    let crate::body::Body {
        bytes,
        held: mut reservation,
    } = body;
    let body_len = bytes.len();
    if !reservation.grow(budget::tensor_bytes(&input.tensors)) {
        return Err(budget_full(state));
    }
    drop(bytes);
    reservation.shrink(body_len);
    if !reservation.grow(budget::answer_estimate(&info.outputs, input.rows)) {
        return Err(budget_full(state));
    }
    let deadline = state
        .limits
        .request_timeout
        .map(|t| tokio::time::Instant::from_std(started + t));
    let outputs = served
        .batcher
        .infer(input.tensors, input.rows, deadline)
        .await?;
    // The inputs are gone; the outputs and their encoding are what the request holds now.
    if !reservation.resize(budget::encoding_estimate(&outputs)) {
        return Err(budget_full(state));
    }
    let enc = match proto {
        Protocol::Mlflow => protocol::mlflow::encode(outputs, info, &plan),
        Protocol::V2 => protocol::v2::encode_infer(outputs, info, &plan),
        Protocol::Predict => protocol::predict::encode(outputs, info, &plan),
    }?;
    // Until it is sent, the answer holds its own length.
    reservation.resize(enc.body.len());
    *held = Some(reservation);
    Ok(enc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(parse_route("/ping"), Some(Route::Ping));
        assert_eq!(
            parse_route("/v2/models/iris/versions/3/infer"),
            Some(Route::V2Infer("iris".into(), Some("3".into())))
        );
        assert_eq!(
            parse_route("/v2/repository/models/iris/unload"),
            Some(Route::RepoUnload("iris".into()))
        );
        assert_eq!(
            parse_route("/models/a/invocations"),
            Some(Route::Invocations(Some("a".into())))
        );
        assert_eq!(parse_route("/nope"), None);
        assert_eq!(parse_route("/v2/models/a/b"), None);
        assert_eq!(Route::Ping.methods(), GET);
        assert_eq!(Route::RepoIndex.methods(), POST);
        assert_eq!(Route::Invocations(None).protocol(), Protocol::Mlflow);
        assert_eq!(Route::V2Ready.protocol(), Protocol::V2);
    }
}
