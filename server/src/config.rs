//! Server and per-model settings: built from flags or read from `serve.toml`.
//!
//! ```toml
//! host = "127.0.0.1"
//! port = 8080
//! tracking_uri = "mlruns"          # optional; else MLFLOW_TRACKING_URI / ./mlruns; or http(s)://
//! model_cache_dir = "/var/cache/homeml"  # optional: models fetched from a tracking server
//! admin_token_file = "/run/secrets/homeml-admin"  # optional (or admin_token = "..."): the bearer token
//!                                  # of /v2/repository/*; without one those routes work on loopback only
//!
//! [limits]
//! max_body_bytes = 33554432
//! max_inflight_body_bytes = 268435456   # memory of all requests in flight (bodies, decoded inputs,
//!                                       # answers); beyond: 429 (V2) / 503 (MLflow)
//! max_connections = 1024           # past it the longest-idle keep-alive connection is closed; when none
//!                                  # is idle, further connections get 503 + Retry-After and are closed
//! probe_connections = 32           # extra connections for health probes and /metrics only
//! idle_timeout_ms = 5000           # keep-alive connections idle this long are closed
//! header_read_timeout_ms = 10000
//! body_read_timeout_ms = 10000     # longest wait for a body's next bytes, and the base of its deadline
//! body_min_rate_bytes_per_s = 65536  # the body deadline grows 1 s per this many bytes; 0: no rate
//! request_timeout_ms = 30000
//!
//! [[models]]
//! name = "iris"                    # optional: the registered name, else the directory name
//! uri = "models:/iris-classifier@champion"
//! max_batch_rows = 256
//! max_queue_delay_ms = 0           # 0: never wait when idle
//! queue_capacity = 1024            # requests waiting; beyond it: 429 (V2) / 503 (MLflow)
//! workers = 1                      # threads computing batches of this model
//! inline_budget_us = 50            # batches estimated cheaper run on the runtime thread; 0: never
//! engine = "tract"                 # optional, flavor-specific
//! reload_interval_s = 30           # optional: re-resolve the URI and swap in new versions
//! ```

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::admin::AdminToken;
use crate::batcher::BatcherSettings;

/// Errors reading a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TOML is invalid or has unknown keys.
    #[error("invalid server config: {0}")]
    Parse(String),
    /// A value is out of range or two models clash.
    #[error("invalid server config: {0}")]
    Invalid(String),
}

/// Limits that protect the server from clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body; larger ones get 413 without being read.
    pub max_body_bytes: usize,
    /// The memory budget of the requests in flight, in bytes, over all requests: the body bytes read
    /// so far (reserved as they arrive), the decoded inputs, and the answers until they are sent (the
    /// name is older than that meaning). A request that does not fit gets the overload answer (429 on
    /// V2 and /predict, 503 on MLflow, with `Retry-After`) at the step where it stops fitting, and
    /// readiness answers 503 while a largest allowed body would not fit. At least `max_body_bytes`.
    pub max_inflight_body_bytes: usize,
    /// Connections served at once. When a connection arrives past it, the keep-alive connection idle
    /// the longest is closed to make room; when none is idle, the new connection is answered `503`
    /// with `Retry-After` at once, without its request being read, and closed.
    pub max_connections: usize,
    /// Connections past `max_connections` kept for health probes (`/ping`, `/health`, `/v2/health/*`)
    /// and `/metrics`: a connection that finds the main slots busy with requests takes one of these,
    /// and is served only if its first request is one of those routes (else 503).
    pub probe_connections: usize,
    /// A keep-alive connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// Time a client has to send a request's headers (against slowloris); the connection is closed after.
    pub header_read_timeout: Duration,
    /// The longest wait for the next bytes of a request body, and the base of the whole body's
    /// deadline; past either, the request gets 408 and the connection is closed.
    pub body_read_timeout: Duration,
    /// The slowest average rate a body may arrive at, in bytes per second: the body's deadline is
    /// `body_read_timeout` plus one second per this many bytes received (Apache's `MinRate`). Zero: no
    /// rate, only the wait for the next bytes is bounded.
    pub body_min_rate: u64,
    /// Deadline of a prediction from its arrival: past it the request gets 504 and is not computed.
    pub request_timeout: Option<Duration>,
    /// How long a graceful shutdown waits for in-flight requests before closing connections.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 32 * 1024 * 1024,
            max_inflight_body_bytes: 256 * 1024 * 1024,
            max_connections: 1024,
            probe_connections: 32,
            idle_timeout: Duration::from_secs(5),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            body_min_rate: 64 * 1024,
            request_timeout: Some(Duration::from_secs(30)),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// One served model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelConfig {
    /// The name clients use (`/v2/models/{name}`); `None`: the registered name from the URI, else the
    /// directory name.
    pub name: Option<String>,
    /// A model URI (`models:/x@alias`, `models:/x/Production`, `runs:/..`) or a model directory.
    pub uri: String,
    /// Most rows in one model call. A request with more rows runs alone.
    pub max_batch_rows: usize,
    /// How long the batcher waits for more rows after the first; zero: never wait.
    pub max_queue_delay: Duration,
    /// Requests that may wait in the queue; beyond it requests are refused at once.
    pub queue_capacity: usize,
    /// Threads computing this model's batches.
    pub workers: usize,
    /// The engine, for flavors with several (e.g. `tract` or `ort`).
    pub engine: Option<String>,
    /// Re-resolve the URI this often and swap in a new version when it moved.
    pub reload_interval: Option<Duration>,
    /// Batches estimated to take at most this long are computed on the async runtime instead of a
    /// compute thread (see [`crate::batcher`]); zero always uses the compute threads.
    pub inline_budget: Duration,
}

impl ModelConfig {
    /// A model with default settings.
    pub fn new(uri: impl Into<String>) -> ModelConfig {
        ModelConfig {
            name: None,
            uri: uri.into(),
            max_batch_rows: 256,
            max_queue_delay: Duration::ZERO,
            queue_capacity: 1024,
            workers: 1,
            engine: None,
            reload_interval: None,
            inline_budget: BatcherSettings::default().inline_budget,
        }
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let what = self.name.as_deref().unwrap_or(&self.uri);
        if self.uri.trim().is_empty() {
            return Err(ConfigError::Invalid("a model has an empty uri".into()));
        }
        if self.max_batch_rows == 0 || self.queue_capacity == 0 || self.workers == 0 {
            return Err(ConfigError::Invalid(format!(
                "model {what}: max_batch_rows, queue_capacity and workers must be at least 1"
            )));
        }
        if self.reload_interval == Some(Duration::ZERO) {
            return Err(ConfigError::Invalid(format!(
                "model {what}: reload_interval must be positive"
            )));
        }
        if let Some(name) = &self.name {
            if name.is_empty() || name.contains('/') {
                return Err(ConfigError::Invalid(format!(
                    "model name {name:?} must be non-empty and have no '/'"
                )));
            }
        }
        Ok(())
    }
}

/// Everything `Server::start` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to listen on.
    pub host: String,
    /// Port; 0 picks a free one (see `ServerHandle::addr`).
    pub port: u16,
    /// The models, each served under its own name.
    pub models: Vec<ModelConfig>,
    /// Protection limits.
    pub limits: Limits,
    /// The tracking store that resolves `models:/` and `runs:/` URIs.
    pub tracking_uri: Option<String>,
    /// Where models fetched from an `http(s)://` tracking server are kept (default
    /// `homeml_tracking::rest::default_cache_dir()`).
    pub model_cache_dir: Option<std::path::PathBuf>,
    /// The bearer token of the model-management routes (see [`crate::admin`]); `None`: open on a
    /// loopback address, 403 on any other.
    pub admin_token: Option<AdminToken>,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            host: "127.0.0.1".into(),
            port: 8080,
            models: Vec::new(),
            limits: Limits::default(),
            tracking_uri: None,
            model_cache_dir: None,
            admin_token: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    host: Option<String>,
    port: Option<u16>,
    tracking_uri: Option<String>,
    model_cache_dir: Option<std::path::PathBuf>,
    admin_token: Option<String>,
    admin_token_file: Option<String>,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    models: Vec<FileModel>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_body_bytes: Option<usize>,
    max_inflight_body_bytes: Option<usize>,
    max_connections: Option<usize>,
    probe_connections: Option<usize>,
    idle_timeout_ms: Option<u64>,
    header_read_timeout_ms: Option<u64>,
    body_read_timeout_ms: Option<u64>,
    body_min_rate_bytes_per_s: Option<u64>,
    request_timeout_ms: Option<u64>,
    shutdown_grace_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileModel {
    name: Option<String>,
    uri: String,
    max_batch_rows: Option<usize>,
    max_queue_delay_ms: Option<u64>,
    queue_capacity: Option<usize>,
    workers: Option<usize>,
    engine: Option<String>,
    reload_interval_s: Option<u64>,
    inline_budget_us: Option<u64>,
}

impl ServerConfig {
    /// Parses `serve.toml` text. Missing values take the defaults; unknown keys are refused.
    pub fn from_toml_str(text: &str) -> Result<ServerConfig, ConfigError> {
        let file: FileConfig =
            toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        let mut cfg = ServerConfig::default();
        if let Some(h) = file.host {
            cfg.host = h;
        }
        if let Some(p) = file.port {
            cfg.port = p;
        }
        cfg.tracking_uri = file.tracking_uri;
        cfg.model_cache_dir = file.model_cache_dir;
        cfg.admin_token = match (file.admin_token, file.admin_token_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid(
                    "give admin_token or admin_token_file, not both".into(),
                ))
            }
            (Some(t), None) => Some(
                AdminToken::new(&t)
                    .ok_or_else(|| ConfigError::Invalid("admin_token is empty".into()))?,
            ),
            (None, Some(path)) => {
                Some(AdminToken::from_file(Path::new(&path)).map_err(ConfigError::Invalid)?)
            }
            (None, None) => None,
        };
        let l = &mut cfg.limits;
        if let Some(v) = file.limits.max_body_bytes {
            l.max_body_bytes = v;
        }
        if let Some(v) = file.limits.max_inflight_body_bytes {
            l.max_inflight_body_bytes = v;
        }
        if let Some(v) = file.limits.max_connections {
            l.max_connections = v;
        }
        if let Some(v) = file.limits.header_read_timeout_ms {
            l.header_read_timeout = Duration::from_millis(v);
        }
        if let Some(v) = file.limits.probe_connections {
            l.probe_connections = v;
        }
        if let Some(v) = file.limits.idle_timeout_ms {
            l.idle_timeout = Duration::from_millis(v);
        }
        if let Some(v) = file.limits.body_read_timeout_ms {
            l.body_read_timeout = Duration::from_millis(v);
        }
        if let Some(v) = file.limits.body_min_rate_bytes_per_s {
            l.body_min_rate = v;
        }
        if let Some(v) = file.limits.request_timeout_ms {
            l.request_timeout = (v > 0).then(|| Duration::from_millis(v));
        }
        if let Some(v) = file.limits.shutdown_grace_ms {
            l.shutdown_grace = Duration::from_millis(v);
        }
        for m in file.models {
            let mut mc = ModelConfig::new(m.uri);
            mc.name = m.name;
            if let Some(v) = m.max_batch_rows {
                mc.max_batch_rows = v;
            }
            if let Some(v) = m.max_queue_delay_ms {
                mc.max_queue_delay = Duration::from_millis(v);
            }
            if let Some(v) = m.queue_capacity {
                mc.queue_capacity = v;
            }
            if let Some(v) = m.workers {
                mc.workers = v;
            }
            mc.engine = m.engine;
            mc.reload_interval = m.reload_interval_s.map(Duration::from_secs);
            if let Some(v) = m.inline_budget_us {
                mc.inline_budget = Duration::from_micros(v);
            }
            cfg.models.push(mc);
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and parses a `serve.toml` file.
    pub fn from_toml_file(path: &Path) -> Result<ServerConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        ServerConfig::from_toml_str(&text)
    }

    /// Checks limits and every model.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.limits.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "max_connections must be at least 1".into(),
            ));
        }
        if self.limits.max_inflight_body_bytes < self.limits.max_body_bytes {
            return Err(ConfigError::Invalid(format!(
                "max_inflight_body_bytes ({}) must be at least max_body_bytes ({}): a body of the largest allowed size could never be read",
                self.limits.max_inflight_body_bytes, self.limits.max_body_bytes
            )));
        }
        if self.limits.header_read_timeout.is_zero()
            || self.limits.body_read_timeout.is_zero()
            || self.limits.idle_timeout.is_zero()
        {
            return Err(ConfigError::Invalid(
                "header_read_timeout, body_read_timeout and idle_timeout must be positive".into(),
            ));
        }
        for m in &self.models {
            m.validate()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_file() {
        let cfg = ServerConfig::from_toml_str(
            r#"
            host = "0.0.0.0"
            port = 9000
            tracking_uri = "mlruns"
            [limits]
            max_body_bytes = 1000
            max_inflight_body_bytes = 5000
            request_timeout_ms = 0
            [[models]]
            name = "iris"
            uri = "models:/iris@champion"
            max_batch_rows = 64
            max_queue_delay_ms = 2
            reload_interval_s = 5
            inline_budget_us = 0
            [[models]]
            uri = "/tmp/m"
            "#,
        )
        .unwrap();
        assert_eq!(cfg.host, "0.0.0.0");
        assert_eq!(cfg.port, 9000);
        assert_eq!(cfg.limits.max_body_bytes, 1000);
        assert_eq!(cfg.limits.max_inflight_body_bytes, 5000);
        assert_eq!(cfg.limits.max_connections, 1024);
        assert_eq!(cfg.limits.request_timeout, None);
        assert_eq!(cfg.limits.body_read_timeout, Duration::from_secs(10));
        assert_eq!(cfg.limits.body_min_rate, 65536);
        let timeouts = ServerConfig::from_toml_str(
            "[limits]\nbody_read_timeout_ms = 2500\nbody_min_rate_bytes_per_s = 0\nidle_timeout_ms = 700\nprobe_connections = 4\n",
        )
        .unwrap();
        assert_eq!(
            timeouts.limits.body_read_timeout,
            Duration::from_millis(2500)
        );
        assert_eq!(timeouts.limits.body_min_rate, 0);
        assert_eq!(timeouts.limits.idle_timeout, Duration::from_millis(700));
        assert_eq!(timeouts.limits.probe_connections, 4);
        assert!(ServerConfig::from_toml_str("[limits]\nbody_read_timeout_ms = 0\n").is_err());
        assert_eq!(cfg.models.len(), 2);
        assert_eq!(cfg.models[0].name.as_deref(), Some("iris"));
        assert_eq!(cfg.models[0].max_queue_delay, Duration::from_millis(2));
        assert_eq!(cfg.models[0].reload_interval, Some(Duration::from_secs(5)));
        assert_eq!(cfg.models[0].inline_budget, Duration::ZERO);
        assert_eq!(cfg.models[1].max_batch_rows, 256);
        assert_eq!(cfg.models[1].inline_budget, Duration::from_micros(50));
        assert_eq!(cfg.models[1].name, None);
    }

    #[test]
    fn the_example_file_parses() {
        let cfg = ServerConfig::from_toml_str(include_str!("../../examples/serve.toml")).unwrap();
        assert_eq!(cfg.models.len(), 2);
        assert_eq!(cfg.models[1].max_queue_delay, Duration::from_millis(2));
        assert_eq!(cfg.limits.request_timeout, Some(Duration::from_secs(30)));
    }

    #[test]
    fn the_admin_token_from_the_file_or_inline() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("t");
        std::fs::write(&token, "tok\n").unwrap();
        let cfg = ServerConfig::from_toml_str(&format!(
            "admin_token_file = {:?}\n",
            token.to_str().unwrap()
        ))
        .unwrap();
        assert_eq!(cfg.admin_token, AdminToken::new("tok"));
        let cfg = ServerConfig::from_toml_str("admin_token = \"x\"\n").unwrap();
        assert_eq!(cfg.admin_token, AdminToken::new("x"));
        assert!(ServerConfig::from_toml_str("admin_token = \"\"\n").is_err());
        assert!(ServerConfig::from_toml_str("admin_token_file = \"/nonexistent/t\"\n").is_err());
        assert_eq!(ServerConfig::from_toml_str("").unwrap().admin_token, None);
    }

    #[test]
    fn refuses_unknown_keys_and_bad_values() {
        assert!(ServerConfig::from_toml_str("prot = 1").is_err());
        let err =
            ServerConfig::from_toml_str("[[models]]\nuri = \"x\"\nworkers = 0\n").unwrap_err();
        assert!(err.to_string().contains("workers"), "{err}");
        assert!(ServerConfig::from_toml_str("[[models]]\nuri = \"x\"\nname = \"a/b\"\n").is_err());
        let err = ServerConfig::from_toml_str(
            "[limits]\nmax_body_bytes = 1000\nmax_inflight_body_bytes = 999\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("max_inflight_body_bytes"), "{err}");
    }
}
