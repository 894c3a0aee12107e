//! The HTTP server: accepting connections, limits, and graceful shutdown.
//!
//! One hyper HTTP/1.1 connection per TCP stream, with keep-alive. Protection:
//! - at most `max_connections` connections are served at once (a semaphore). When one more arrives,
//!   the keep-alive connection idle the longest is closed to make room for it (see [`crate::conns`],
//!   counted in `homeml_idle_connections_closed_total`); when none is idle, it takes one of
//!   `probe_connections` reserved slots, served only for health probes and `/metrics` (other routes
//!   get the 503 below), so probes are never locked out by busy clients; past those too, it is
//!   answered `503 Service Unavailable` with `Retry-After: 1`, `Connection: close` and a JSON body at
//!   once, without its request being parsed or a hyper connection being started, then closed with a
//!   lingering close so the client can read the answer (counted in `homeml_connections_rejected_total`);
//! - a keep-alive connection idle for `idle_timeout` is closed;
//! - a client has `header_read_timeout` to send a request's headers, else the connection is closed
//!   (slowloris), and `body_read_timeout` / `body_min_rate` to send its body (see [`crate::body`]);
//! - bodies larger than `max_body_bytes` get 413 without being read, and the requests in flight hold
//!   at most `max_inflight_body_bytes` of memory (see [`crate::budget`]).
//!
//! Graceful shutdown ([`ServerHandle::shutdown`], or a signal in the CLI) stops accepting, lets every
//! request in flight finish (closing idle keep-alive connections), waits at most `shutdown_grace`, then
//! stops the model reloaders and lets the batchers drain.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use homeml_flavor::FlavorRegistry;
use http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::budget::AnswerBody;
use crate::config::{ConfigError, Limits, ServerConfig};
use crate::conns::Conns;
use crate::manager::{ManagerError, ModelManager};
use crate::metrics::Metrics;
use crate::resolve::Resolver;
use crate::router::{self, AppState};

/// Errors starting a server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// host:port.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A model could not be loaded.
    #[error(transparent)]
    Model(#[from] ManagerError),
}

/// The inference server.
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Binds `config.host:config.port` (port 0 picks a free port), loads every configured model with
    /// `registry` (each on a blocking thread; while loading, health checks answer 503), and serves.
    /// Fails if the address cannot be bound or a model cannot be loaded. Must be called within a tokio
    /// runtime.
    pub async fn start(
        config: ServerConfig,
        registry: FlavorRegistry,
    ) -> Result<ServerHandle, ServerError> {
        config.validate()?;
        let bind = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind((config.host.as_str(), config.port))
            .await
            .map_err(|source| ServerError::Bind {
                addr: bind.clone(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: bind.clone(),
            source,
        })?;
        let metrics = Arc::new(Metrics::new());
        let manager = Arc::new(ModelManager::new(
            Arc::new(registry),
            Resolver::new(config.tracking_uri.clone())
                .with_cache_dir(config.model_cache_dir.clone()),
            metrics.clone(),
        ));
        let state = Arc::new(AppState {
            manager: manager.clone(),
            metrics: metrics.clone(),
            limits: config.limits.clone(),
            admin: crate::admin::AdminGuard::new(config.admin_token.clone(), addr.ip()),
        });
        if matches!(state.admin, crate::admin::AdminGuard::Closed { .. }) {
            tracing::warn!(
                addr = %addr,
                "the model-management routes (/v2/repository/*) answer 403: this address is reachable from other machines and no admin token is set (--admin-token, HOMEML_ADMIN_TOKEN or --admin-token-file)"
            );
        }
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (done_tx, done_rx) = watch::channel(false);
        tokio::spawn(accept_loop(
            listener,
            state,
            config.limits.clone(),
            shutdown_rx,
            done_tx,
        ));
        let handle = ServerHandle {
            addr,
            shutdown_tx,
            done_rx,
            manager,
            metrics,
        };
        for model in config.models {
            if let Err(e) = handle.manager.add(model).await {
                handle.shutdown();
                handle.wait().await;
                return Err(e.into());
            }
        }
        tracing::info!(addr = %addr, models = ?handle.manager.names(), "homeml serving");
        Ok(handle)
    }
}

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    shutdown_tx: watch::Sender<bool>,
    done_rx: watch::Receiver<bool>,
    manager: Arc<ModelManager>,
    metrics: Arc<Metrics>,
}

impl ServerHandle {
    /// The address the server listens on (with the port picked when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The models, for lifecycle operations from the process itself.
    pub fn manager(&self) -> &Arc<ModelManager> {
        &self.manager
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Starts a graceful shutdown: stop accepting, finish requests in flight. Returns at once; see
    /// [`ServerHandle::wait`].
    pub fn shutdown(&self) {
        self.shutdown_tx.send_replace(true);
    }

    /// Completes when the server has stopped (after [`ServerHandle::shutdown`] and the drain).
    pub async fn wait(&self) {
        let mut rx = self.done_rx.clone();
        let _ = rx.wait_for(|done| *done).await;
    }

    /// Shuts down gracefully and waits for the drain.
    pub async fn shutdown_and_wait(self) {
        self.shutdown();
        self.wait().await;
    }
}

async fn wait_for_shutdown(rx: &mut watch::Receiver<bool>) {
    // An error means the handle is gone: shut down too.
    let _ = rx.wait_for(|stop| *stop).await;
}

/// How long a connection past `max_connections` is kept after its answer: the time to write the answer,
/// then to read and discard what the client sent until it closes (a lingering close).
const REJECT_LINGER: Duration = Duration::from_secs(2);

/// Refused connections lingering at once at most; past that a refused connection is closed at once.
const MAX_LINGERING: usize = 1024;

/// How long a connection that made an idle one close waits for its slot before falling back to the
/// probe reserve or the refusal.
const EVICT_WAIT: Duration = Duration::from_secs(1);

/// How often at most the accept loop logs that it refuses connections.
const REJECT_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The whole answer to a connection past `max_connections`.
fn over_limit_response(max: usize) -> Vec<u8> {
    let body = serde_json::json!({
        "error": format!(
            "too many connections: this server serves at most {max} at once; retry later"
        )
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answers a connection past `max_connections` with `response` without parsing its request, and closes
/// it the way nginx's lingering close does: once the request's first bytes are in, send the answer and a
/// FIN, then read and discard what the client sends until it closes (or [`REJECT_LINGER`] passes). Closing a socket with unread request bytes
/// would make the kernel send a reset, and a reset makes the client drop the 503 it has not read yet
/// (measured: 96% of refusals reached a load tester as "connection reset" before this). At most
/// [`MAX_LINGERING`] refused connections linger at once, so a connection storm holds bounded memory.
fn reject(mut stream: TcpStream, response: &Arc<[u8]>, lingering: &Arc<Semaphore>) {
    let Ok(permit) = lingering.clone().try_acquire_owned() else {
        return; // too many lingering already: close at once
    };
    let response = response.clone();
    tokio::spawn(async move {
        let _permit = permit;
        let _ = tokio::time::timeout(REJECT_LINGER, async {
            let mut sink = [0u8; 4096];
            // Answer once the request has begun to arrive: an answer that comes before the request
            // is "an unexpected message" to clients such as hyper's, not a 503.
            if stream.read(&mut sink).await? == 0 {
                return Ok(());
            }
            stream.write_all(&response).await?;
            stream.shutdown().await?;
            while stream.read(&mut sink).await? > 0 {}
            Ok::<_, std::io::Error>(())
        })
        .await;
    });
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<AppState>,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
    done: watch::Sender<bool>,
) {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS) as u32;
    let slots = Arc::new(Semaphore::new(max as usize));
    let over_limit: Arc<[u8]> = over_limit_response(max as usize).into();
    let lingering = Arc::new(Semaphore::new(MAX_LINGERING));
    let probe_slots = Arc::new(Semaphore::new(
        limits.probe_connections.min(Semaphore::MAX_PERMITS),
    ));
    let conns = Conns::new();
    let serve = {
        let (state, limits, conns) = (state.clone(), limits.clone(), conns.clone());
        let (over_limit, shutdown) = (over_limit.clone(), shutdown.clone());
        move |stream: TcpStream,
              peer: SocketAddr,
              permit: OwnedSemaphorePermit,
              probe_only: bool| {
            let _ = stream.set_nodelay(true);
            tokio::spawn(serve_connection(
                stream,
                peer,
                Served {
                    state: state.clone(),
                    limits: limits.clone(),
                    conns: conns.clone(),
                    probe_only,
                    over_limit: over_limit.clone(),
                },
                shutdown.clone(),
                permit,
            ));
        }
    };
    // Refusals since the last log line, and when that was.
    let mut refused_unlogged = 0u64;
    let mut last_log: Option<Instant> = None;
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = wait_for_shutdown(&mut shutdown) => break,
        };
        if let Ok(permit) = slots.clone().try_acquire_owned() {
            serve(stream, peer, permit, false);
            continue;
        }
        if conns.evict_idlest() {
            // The idlest connection closes at once; this one takes its slot (the semaphore hands
            // released permits to waiters first).
            state
                .metrics
                .idle_connections_closed
                .fetch_add(1, Ordering::Relaxed);
            let slots = slots.clone();
            let probe_slots = probe_slots.clone();
            let over_limit = over_limit.clone();
            let lingering = lingering.clone();
            let metrics = state.metrics.clone();
            let serve = serve.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(EVICT_WAIT, slots.acquire_owned()).await {
                    Ok(Ok(permit)) => serve(stream, peer, permit, false),
                    _ => match probe_slots.try_acquire_owned() {
                        Ok(permit) => serve(stream, peer, permit, true),
                        Err(_) => {
                            reject(stream, &over_limit, &lingering);
                            metrics.connections_rejected.fetch_add(1, Ordering::Relaxed);
                        }
                    },
                }
            });
            continue;
        }
        if let Ok(permit) = probe_slots.clone().try_acquire_owned() {
            serve(stream, peer, permit, true);
            continue;
        }
        {
            reject(stream, &over_limit, &lingering);
            state
                .metrics
                .connections_rejected
                .fetch_add(1, Ordering::Relaxed);
            refused_unlogged += 1;
            if last_log.is_none_or(|t| t.elapsed() >= REJECT_LOG_INTERVAL) {
                tracing::warn!(
                    max_connections = max,
                    refused = refused_unlogged,
                    peer = %peer,
                    "connections past max_connections answered 503 (logged at most every 10 s)"
                );
                refused_unlogged = 0;
                last_log = Some(Instant::now());
            }
        }
    }
    drop(listener);
    tracing::info!("no longer accepting connections; finishing requests in flight");
    if tokio::time::timeout(limits.shutdown_grace, slots.acquire_many(max))
        .await
        .is_err()
    {
        tracing::warn!(
            grace_s = limits.shutdown_grace.as_secs_f64(),
            "requests still in flight after the grace period; closing"
        );
    }
    state.manager.stop_reloaders();
    tracing::info!("server stopped");
    done.send_replace(true);
}

/// What a connection's task needs besides its stream.
struct Served {
    state: Arc<AppState>,
    limits: Limits,
    conns: Arc<Conns>,
    /// Taken from the probe reserve: only health probes and `/metrics` are served.
    probe_only: bool,
    over_limit: Arc<[u8]>,
}

/// The routes a connection of the probe reserve serves.
fn is_probe_path(path: &str) -> bool {
    matches!(
        path,
        "/ping" | "/health" | "/v2/health/live" | "/v2/health/ready" | "/metrics"
    )
}

/// The answer of a probe-reserve connection to another route: the over-limit 503, closing.
fn probe_only_refusal(over_limit: &[u8]) -> Response<AnswerBody> {
    let body = over_limit
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(&[][..], |i| &over_limit[i + 4..]);
    let mut resp = Response::new(AnswerBody::new(Bytes::copy_from_slice(body)));
    *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    served: Served,
    mut shutdown: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let Served {
        state,
        limits,
        conns,
        probe_only,
        over_limit,
    } = served;
    let registered = Arc::new(conns.register());
    let reg = registered.clone();
    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
        let state = state.clone();
        let reg = reg.clone();
        let over_limit = over_limit.clone();
        async move {
            let guard = reg.busy();
            if probe_only && !is_probe_path(req.uri().path()) {
                state
                    .metrics
                    .connections_rejected
                    .fetch_add(1, Ordering::Relaxed);
                return Ok::<_, Infallible>(probe_only_refusal(&over_limit));
            }
            let mut resp = router::handle(state, req).await;
            resp.body_mut().guard(Box::new(guard));
            Ok::<_, Infallible>(resp)
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(!probe_only)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let state = registered.conn().clone();
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = wait_for_shutdown(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
        _ = state.close_requested() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
        _ = registered.idle_for(limits.idle_timeout) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
    }
}
