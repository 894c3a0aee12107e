//! `homeml serve`: serve one model (`-m URI`) or several (`--config serve.toml`) over HTTP.
//!
//! Flags override the file: host and port always; the batching flags apply to the `-m` model and, when
//! given, to every model of the file. `-h` is the host (as in `mlflow models serve`); help is `--help`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use homeml_server::{builtin_registry, AdminToken, ModelConfig, Server, ServerConfig};

/// Arguments of `homeml serve`.
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct ServeArgs {
    /// The model: a model URI (`models:/name@alias`, `models:/name/3`, `runs:/id/model`) or directory.
    #[arg(short = 'm', long = "model-uri", env = "HOMEML_MODEL_URI")]
    pub model_uri: Option<String>,
    /// Port to listen on (0 picks a free one).
    #[arg(short = 'p', long, env = "HOMEML_PORT")]
    pub port: Option<u16>,
    /// Address to listen on.
    #[arg(short = 'h', long, env = "HOMEML_HOST")]
    pub host: Option<String>,
    /// The name to serve the `-m` model under (default: its registered name, else its directory name).
    #[arg(long)]
    pub name: Option<String>,
    /// A serve.toml with several models and their settings.
    #[arg(long, env = "HOMEML_SERVE_CONFIG")]
    pub config: Option<PathBuf>,
    /// A bundle written by `homeml build`: serves its `serve.toml` with the model at `model/`.
    #[arg(long, env = "HOMEML_BUNDLE", conflicts_with_all = ["config", "model_uri"])]
    pub bundle: Option<PathBuf>,
    /// Load every flavor plugin (`.so`) in this folder; a library that is refused is logged and skipped.
    #[arg(long, env = "HOMEML_PLUGIN_DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// The tracking store resolving `models:/` and `runs:/` URIs: a path, file://, a database
    /// (sqlite:///path.db, postgresql://...; proxied model files are read from
    /// MLFLOW_ARTIFACTS_DESTINATION), or a tracking server's http(s):// URL (models are downloaded
    /// through its artifact proxy into --model-cache-dir; an alias is followed by polling every
    /// --reload-interval-s). Models whose artifacts are in an object store (s3://, gs://, az://) are
    /// downloaded from it into --model-cache-dir, with the cloud's usual credentials.
    #[arg(long, env = "MLFLOW_TRACKING_URI")]
    pub tracking_uri: Option<String>,
    /// Where models fetched from a tracking server or an object store are cached [default:
    /// ~/.cache/homeml/models].
    #[arg(long, env = "HOMEML_MODEL_CACHE")]
    pub model_cache_dir: Option<PathBuf>,
    /// Most rows per model call [default: 256].
    #[arg(long, env = "HOMEML_MAX_BATCH_ROWS")]
    pub max_batch_rows: Option<usize>,
    /// Milliseconds the batcher waits for more rows after the first [default: 0, never wait].
    #[arg(long, env = "HOMEML_MAX_QUEUE_DELAY_MS")]
    pub max_queue_delay_ms: Option<u64>,
    /// Requests that may wait per model; beyond it 429 (V2) / 503 (MLflow) [default: 1024].
    #[arg(long, env = "HOMEML_QUEUE_CAPACITY")]
    pub queue_capacity: Option<usize>,
    /// Compute threads per model [default: 1].
    #[arg(long, env = "HOMEML_WORKERS")]
    pub workers: Option<usize>,
    /// Microseconds: batches estimated cheaper than this run on the async runtime thread instead of a
    /// compute thread; 0: always the compute threads [default: 50].
    #[arg(long, env = "HOMEML_INLINE_BUDGET_US")]
    pub inline_budget_us: Option<u64>,
    /// Deadline of a prediction in milliseconds; 0 disables it [default: 30000].
    #[arg(long, env = "HOMEML_REQUEST_TIMEOUT_MS")]
    pub request_timeout_ms: Option<u64>,
    /// Engine for flavors with several (e.g. `tract` or `ort` for onnx).
    #[arg(long, env = "HOMEML_ENGINE")]
    pub engine: Option<String>,
    /// Re-resolve the model URI this often and swap in new versions [default: 30 for aliases/stages].
    #[arg(long, env = "HOMEML_RELOAD_INTERVAL_S")]
    pub reload_interval_s: Option<u64>,
    /// Largest request body in bytes [default: 33554432].
    #[arg(long, env = "HOMEML_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Memory of all requests in flight in bytes (bodies as read, decoded inputs, answers until sent);
    /// a request that does not fit gets 429 (V2) / 503 (MLflow) with Retry-After [default: 268435456].
    #[arg(long, env = "HOMEML_MAX_INFLIGHT_BODY_BYTES")]
    pub max_inflight_body_bytes: Option<usize>,
    /// Connections served at once; past it the longest-idle keep-alive connection is closed, and when
    /// none is idle further ones get 503 with Retry-After at once [default: 1024].
    #[arg(long, env = "HOMEML_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Extra connections kept for health probes and /metrics only [default: 32].
    #[arg(long, env = "HOMEML_PROBE_CONNECTIONS")]
    pub probe_connections: Option<usize>,
    /// Close keep-alive connections idle this long, in ms [default: 5000].
    #[arg(long, env = "HOMEML_IDLE_TIMEOUT_MS")]
    pub idle_timeout_ms: Option<u64>,
    /// Longest wait for a request body's next bytes, and the base of its deadline, in ms; past it 408
    /// [default: 10000].
    #[arg(long, env = "HOMEML_BODY_READ_TIMEOUT_MS")]
    pub body_read_timeout_ms: Option<u64>,
    /// Slowest average rate of a request body: its deadline grows 1 s per this many bytes; 0: no
    /// rate [default: 65536].
    #[arg(long, env = "HOMEML_BODY_MIN_RATE")]
    pub body_min_rate: Option<u64>,
    /// The bearer token the model-management routes (`/v2/repository/...`) need; without one they work
    /// on a loopback address only (403 elsewhere). Prefer the env var or --admin-token-file: a flag's
    /// value shows in the process list.
    #[arg(
        long,
        env = "HOMEML_ADMIN_TOKEN",
        hide_env_values = true,
        conflicts_with = "admin_token_file"
    )]
    pub admin_token: Option<String>,
    /// A file holding the admin token (its whole content, trimmed).
    #[arg(long, env = "HOMEML_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

impl ServeArgs {
    /// The server configuration these arguments describe.
    pub fn to_config(&self) -> anyhow::Result<ServerConfig> {
        let mut cfg = match (&self.config, &self.bundle) {
            (Some(path), _) => ServerConfig::from_toml_file(path)?,
            (None, Some(dir)) => {
                let mut cfg =
                    ServerConfig::from_toml_file(&crate::bundle::serve_config_path(dir)?)?;
                // A bundle's model paths are relative to the bundle.
                for m in &mut cfg.models {
                    if !m.uri.contains(":/") && std::path::Path::new(&m.uri).is_relative() {
                        m.uri = dir.join(&m.uri).display().to_string();
                    }
                }
                cfg
            }
            (None, None) => ServerConfig::default(),
        };
        if let Some(h) = &self.host {
            cfg.host = h.clone();
        }
        if let Some(p) = self.port {
            cfg.port = p;
        }
        if self.tracking_uri.is_some() {
            cfg.tracking_uri = self.tracking_uri.clone();
        }
        if self.model_cache_dir.is_some() {
            cfg.model_cache_dir = self.model_cache_dir.clone();
        }
        if let Some(v) = self.max_body_bytes {
            cfg.limits.max_body_bytes = v;
        }
        if let Some(v) = self.max_inflight_body_bytes {
            cfg.limits.max_inflight_body_bytes = v;
        }
        if let Some(v) = self.max_connections {
            cfg.limits.max_connections = v;
        }
        if let Some(v) = self.probe_connections {
            cfg.limits.probe_connections = v;
        }
        if let Some(v) = self.idle_timeout_ms {
            cfg.limits.idle_timeout = Duration::from_millis(v);
        }
        if let Some(v) = self.body_read_timeout_ms {
            cfg.limits.body_read_timeout = Duration::from_millis(v);
        }
        if let Some(v) = self.body_min_rate {
            cfg.limits.body_min_rate = v;
        }
        if let Some(v) = self.request_timeout_ms {
            cfg.limits.request_timeout = (v > 0).then(|| Duration::from_millis(v));
        }
        if let Some(t) = &self.admin_token {
            cfg.admin_token =
                Some(AdminToken::new(t).ok_or_else(|| anyhow::anyhow!("--admin-token is empty"))?);
        }
        if let Some(path) = &self.admin_token_file {
            cfg.admin_token = Some(AdminToken::from_file(path).map_err(anyhow::Error::msg)?);
        }
        if let Some(uri) = &self.model_uri {
            let mut m = ModelConfig::new(uri.clone());
            m.name = self.name.clone();
            cfg.models.push(m);
        } else if self.name.is_some() {
            anyhow::bail!("--name names the -m model: give -m too");
        }
        for m in &mut cfg.models {
            if let Some(v) = self.max_batch_rows {
                m.max_batch_rows = v;
            }
            if let Some(v) = self.max_queue_delay_ms {
                m.max_queue_delay = Duration::from_millis(v);
            }
            if let Some(v) = self.queue_capacity {
                m.queue_capacity = v;
            }
            if let Some(v) = self.workers {
                m.workers = v;
            }
            if let Some(v) = self.inline_budget_us {
                m.inline_budget = Duration::from_micros(v);
            }
            if self.engine.is_some() {
                m.engine = self.engine.clone();
            }
            if let Some(v) = self.reload_interval_s {
                m.reload_interval = Some(Duration::from_secs(v));
            }
        }
        if cfg.models.is_empty() {
            anyhow::bail!(
                "nothing to serve: give a model with -m URI or several with --config serve.toml"
            );
        }
        cfg.validate()?;
        Ok(cfg)
    }
}

/// Runs `homeml serve` until SIGTERM or SIGINT, then drains in-flight requests.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let cfg = args.to_config()?;
    let mut registry = builtin_registry();
    if let Some(dir) = &args.plugin_dir {
        for (path, result) in homeml_flavor::plugin::load_plugin_dir(&mut registry, dir) {
            match result {
                Ok(flavors) => tracing::info!(plugin = %path.display(), ?flavors, "plugin loaded"),
                Err(e) => tracing::warn!(plugin = %path.display(), error = %e, "plugin refused"),
            }
        }
    }
    crate::alloc::spawn_collector();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("homeml-io")
        .on_thread_park(crate::alloc::collect_now_and_then)
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let handle = Server::start(cfg, registry).await?;
        println!("homeml serving on http://{}", handle.addr());
        tokio::select! {
            _ = homeml_server::shutdown::signal() => handle.shutdown(),
            _ = handle.wait() => {}
        }
        handle.wait().await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn the_admin_token_comes_from_the_flag_or_a_file() {
        let cfg = Cli::try_parse_from(["serve", "-m", "/tmp/m", "--admin-token", "abc"])
            .unwrap()
            .serve
            .to_config()
            .unwrap();
        assert_eq!(cfg.admin_token, AdminToken::new("abc"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n").unwrap();
        let cfg = Cli::try_parse_from(["serve", "-m", "/tmp/m", "--admin-token-file"])
            .map(|_| ())
            .err();
        assert!(cfg.is_some(), "--admin-token-file needs a value");
        let cfg = Cli::try_parse_from([
            "serve",
            "-m",
            "/tmp/m",
            "--admin-token-file",
            file.to_str().unwrap(),
        ])
        .unwrap()
        .serve
        .to_config()
        .unwrap();
        assert_eq!(cfg.admin_token, AdminToken::new("from-file"));
        assert!(Cli::try_parse_from([
            "serve",
            "-m",
            "/tmp/m",
            "--admin-token",
            "a",
            "--admin-token-file",
            file.to_str().unwrap(),
        ])
        .is_err());
        std::fs::write(&file, "\n").unwrap();
        let err = Cli::try_parse_from([
            "serve",
            "-m",
            "/tmp/m",
            "--admin-token-file",
            file.to_str().unwrap(),
        ])
        .unwrap()
        .serve
        .to_config()
        .unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
    }

    #[test]
    fn dash_h_is_the_host_and_flags_fill_the_model() {
        let cli = Cli::try_parse_from([
            "serve",
            "-m",
            "/tmp/model",
            "-h",
            "0.0.0.0",
            "-p",
            "9001",
            "--max-batch-rows",
            "32",
            "--request-timeout-ms",
            "0",
            "--inline-budget-us",
            "0",
            "--max-inflight-body-bytes",
            "67108864",
            "--max-connections",
            "8",
            "--name",
            "iris",
        ])
        .unwrap();
        let cfg = cli.serve.to_config().unwrap();
        assert_eq!(cfg.host, "0.0.0.0");
        assert_eq!(cfg.port, 9001);
        assert_eq!(cfg.limits.request_timeout, None);
        assert_eq!(cfg.models.len(), 1);
        assert_eq!(cfg.models[0].max_batch_rows, 32);
        assert_eq!(cfg.models[0].inline_budget, Duration::ZERO);
        assert_eq!(cfg.limits.max_inflight_body_bytes, 64 << 20);
        assert_eq!(cfg.limits.max_connections, 8);
        assert_eq!(cfg.models[0].name.as_deref(), Some("iris"));
    }

    #[test]
    fn the_inline_budget_flag_overrides_every_model_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.toml");
        std::fs::write(
            &path,
            "[[models]]\nname = \"a\"\nuri = \"/tmp/a\"\ninline_budget_us = 200\n[[models]]\nname = \"b\"\nuri = \"/tmp/b\"\n",
        )
        .unwrap();
        let from_file = Cli::try_parse_from(["serve", "--config", path.to_str().unwrap()])
            .unwrap()
            .serve
            .to_config()
            .unwrap();
        assert_eq!(
            from_file.models[0].inline_budget,
            Duration::from_micros(200)
        );
        assert_eq!(from_file.models[1].inline_budget, Duration::from_micros(50));
        let flagged = Cli::try_parse_from([
            "serve",
            "--config",
            path.to_str().unwrap(),
            "--inline-budget-us",
            "7",
        ])
        .unwrap()
        .serve
        .to_config()
        .unwrap();
        for m in &flagged.models {
            assert_eq!(m.inline_budget, Duration::from_micros(7), "{:?}", m.name);
        }
    }

    #[test]
    fn needs_a_model() {
        let cli = Cli::try_parse_from(["serve"]).unwrap();
        assert!(cli.serve.to_config().is_err());
    }
}
