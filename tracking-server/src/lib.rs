//! homeml's MLflow tracking server: MLflow's REST API (`/api/2.0/mlflow/...`, the UI's
//! `/ajax-api/...`), the artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/...`), `/health` and
//! `/version`, over the [`TrackingStore`] and [`ArtifactStore`] traits of `homeml-tracking`.
//!
//! The server keeps no state of its own: every request reads and writes the stores, so two servers
//! on one store are correct.

#![warn(missing_docs)]

pub mod auth;
pub mod error;
mod graphql;
pub mod handlers;
mod http;
pub mod json;
pub mod request;
pub mod routes;
mod transfer;
pub mod ui;
pub mod validate;

use std::net::SocketAddr;
use std::sync::Arc;

use homeml_tracking::artifacts::ArtifactStore;
use homeml_tracking::TrackingStore;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use http::MLFLOW_VERSION;

/// How to run the server.
pub struct Config {
    /// Address to bind (`127.0.0.1`).
    pub host: String,
    /// Port (0: any free port).
    pub port: u16,
    /// The tracking store.
    pub store: Arc<dyn TrackingStore>,
    /// The artifact store behind `mlflow-artifacts:/` (`None`: artifacts are not served).
    pub artifacts: Option<Arc<dyn ArtifactStore>>,
    /// A prefix before every route (`--static-prefix`), e.g. `/mlflow`; empty for none.
    pub static_prefix: String,
    /// Largest artifact upload in bytes.
    pub max_artifact_bytes: usize,
    /// The local folders holding the stores (absolute): local artifact locations must be inside.
    pub local_roots: Vec<std::path::PathBuf>,
    /// Basic-auth users (`--auth FILE`); `None`: no authentication.
    pub users: Option<Arc<auth::Users>>,
    /// Refuse every write (`--read-only`).
    pub read_only: bool,
    /// What `/` shows: MLflow's UI bundle, homeml's own pages, or nothing.
    pub ui: ui::UiSource,
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// host:port.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A bad static prefix.
    #[error("invalid --static-prefix '{0}': it must start with '/' and not end with '/'")]
    Prefix(String),
}

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    done: watch::Receiver<bool>,
}

impl ServerHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and lets requests in flight finish; see [`ServerHandle::wait`].
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Completes once the server has stopped.
    pub async fn wait(&self) {
        let mut rx = self.done.clone();
        let _ = rx.wait_for(|d| *d).await;
    }
}

/// Binds and starts serving (within a tokio runtime).
pub async fn start(config: Config) -> Result<ServerHandle, StartError> {
    let prefix = config.static_prefix.clone();
    if !prefix.is_empty() && (!prefix.starts_with('/') || prefix.ends_with('/')) {
        return Err(StartError::Prefix(prefix));
    }
    let bind = format!("{}:{}", config.host, config.port);
    let listener = TcpListener::bind((config.host.as_str(), config.port))
        .await
        .map_err(|source| StartError::Bind {
            addr: bind.clone(),
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr: bind, source })?;
    let app = Arc::new(http::App {
        ctx: handlers::Ctx {
            store: config.store,
            artifacts: config.artifacts,
            local_roots: config.local_roots,
        },
        static_prefix: prefix,
        max_artifact_bytes: config.max_artifact_bytes,
        users: config.users,
        read_only: config.read_only,
        ui: config.ui,
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (done_tx, done) = watch::channel(false);
    tokio::spawn(http::accept_loop(listener, app, shutdown_rx, done_tx));
    tracing::info!(%addr, "homeml tracking server listening");
    Ok(ServerHandle {
        addr,
        shutdown,
        done,
    })
}
