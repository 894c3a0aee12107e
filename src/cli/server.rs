//! `homeml server`: the MLflow tracking server (REST API, artifact proxy, MLflow's web UI or homeml's
//! own pages) on a file store or a SQL database.

use std::sync::Arc;

use anyhow::Context;
use homeml_tracking::artifacts::{
    is_object_store_uri, open_artifact_store, ArtifactStore, LocalArtifactStore,
};
use homeml_tracking::TrackingStore;
use homeml_tracking_server::ui::{self, UiSource};

/// Arguments of `homeml server` (MLflow's flag names and defaults).
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct ServerArgs {
    /// The tracking store: a path or file:// URI (a file store), or a database with MLflow's schema:
    /// sqlite:///path.db, postgresql://user:pass@host:port/db.
    #[arg(long, env = "MLFLOW_BACKEND_STORE_URI", default_value = "./mlruns")]
    backend_store_uri: String,
    /// Where proxied artifacts (`mlflow-artifacts:/`) are kept: a path, a file:// URI, or an object
    /// store: `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix` (credentials and
    /// endpoints from the usual AWS_*, GOOGLE_*, AZURE_* and MLFLOW_S3_ENDPOINT_URL variables).
    #[arg(
        long,
        env = "MLFLOW_ARTIFACTS_DESTINATION",
        default_value = "./mlartifacts"
    )]
    artifacts_destination: String,
    /// The artifact root of new experiments (`mlflow-artifacts:/` proxies through this server).
    #[arg(
        long,
        env = "MLFLOW_DEFAULT_ARTIFACT_ROOT",
        default_value = "mlflow-artifacts:/"
    )]
    default_artifact_root: String,
    /// Address to listen on.
    #[arg(short = 'h', long, env = "MLFLOW_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(short = 'p', long, env = "MLFLOW_PORT", default_value_t = 5000)]
    port: u16,
    /// Serve the artifact proxy (`--serve-artifacts false` turns it off).
    #[arg(long, env = "MLFLOW_SERVE_ARTIFACTS", default_value_t = true, action = clap::ArgAction::Set)]
    serve_artifacts: bool,
    /// A prefix before every route, e.g. `/mlflow`.
    #[arg(long, env = "MLFLOW_STATIC_PREFIX", default_value = "")]
    static_prefix: String,
    /// MLflow's built UI (the mlflow wheel's `mlflow/server/js/build`); by default it is looked up in
    /// the Python of HOMEML_PYTHON or on PATH, and homeml's own pages are shown without it.
    #[arg(long, env = "HOMEML_UI_STATIC_DIR")]
    ui_static_dir: Option<std::path::PathBuf>,
    /// Serve no web UI at all.
    #[arg(long)]
    no_ui: bool,
    /// Largest artifact upload in MiB.
    #[arg(long, env = "HOMEML_MAX_ARTIFACT_MB", default_value_t = 4096)]
    max_artifact_mb: usize,
    /// Basic auth: a users file, one `name:role:hash` a line (role `admin` or `read`; the hash from
    /// `homeml server --hash-password`).
    #[arg(long, env = "HOMEML_AUTH_FILE")]
    auth: Option<std::path::PathBuf>,
    /// Refuse every write (403): serve a store for reading only.
    #[arg(long, env = "HOMEML_READ_ONLY")]
    read_only: bool,
    /// Print the Argon2id hash of a password read from stdin (for the --auth file), then exit.
    #[arg(long)]
    hash_password: bool,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

/// Runs `homeml server` until Ctrl-C or SIGTERM.
pub fn run(args: ServerArgs) -> anyhow::Result<()> {
    if args.hash_password {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        let password = line.trim_end_matches(['\n', '\r']);
        anyhow::ensure!(
            !password.is_empty(),
            "the password read from stdin is empty"
        );
        println!("{}", homeml_tracking_server::auth::hash_password(password)?);
        return Ok(());
    }
    let users = match &args.auth {
        Some(path) => Some(Arc::new(homeml_tracking_server::auth::Users::load(path)?)),
        None => None,
    };
    if users.is_none() && !is_loopback(&args.host) {
        tracing::warn!(
            host = %args.host,
            "homeml server listens on a non-loopback address without --auth: anyone who can reach \
             it can read every experiment, run and artifact{}. Use --auth FILE (basic auth with \
             read and admin users){} or --host 127.0.0.1.",
            if args.read_only { "" } else { " and write or delete them" },
            if args.read_only { "" } else { ", --read-only" },
        );
    }
    let (store, file_store) = open_store(&args)?;
    let mut artifacts_root = None;
    let ui = if args.no_ui {
        UiSource::Off
    } else {
        match ui::find_bundle(args.ui_static_dir.as_deref())? {
            Some(dir) => {
                tracing::info!(dir = %dir.display(), "serving MLflow's UI");
                UiSource::Bundle(dir)
            }
            None => {
                eprintln!("{}", ui::HOW_TO_GET_MLFLOW_UI);
                match file_store.clone() {
                    Some(pages_store) => {
                        let pages: ui::Pages =
                            Arc::new(move |path: &str| Some(crate::ui::render(&pages_store, path)));
                        UiSource::Pages(ui::OwnPages {
                            render: pages,
                            csp: crate::ui::headers::content_security_policy(),
                        })
                    }
                    None => {
                        eprintln!(
                            "(homeml's own pages read a file store: no web UI on a SQL store)"
                        );
                        UiSource::Off
                    }
                }
            }
        }
    };
    let artifacts: Option<Arc<dyn ArtifactStore>> = if args.serve_artifacts {
        let context = || {
            format!(
                "opening the artifact destination {}",
                args.artifacts_destination
            )
        };
        if is_object_store_uri(&args.artifacts_destination) {
            Some(open_artifact_store(&args.artifacts_destination).with_context(context)?)
        } else {
            let a = LocalArtifactStore::open(&args.artifacts_destination).with_context(context)?;
            artifacts_root = Some(a.root().to_path_buf());
            Some(Arc::new(a) as Arc<dyn ArtifactStore>)
        }
    } else {
        None
    };
    let mut local_roots: Vec<std::path::PathBuf> =
        file_store.iter().map(|s| s.root().to_path_buf()).collect();
    if let Some(a) = &artifacts_root {
        local_roots.push(a.clone());
    }
    let local_roots = local_roots
        .into_iter()
        .map(|p| std::fs::canonicalize(&p).unwrap_or(p))
        .collect();
    // Memory back to the OS when the server goes quiet (src/alloc.rs): the store's work runs on the
    // blocking pool, whose threads leave after a second without work and free their heaps then; a
    // worker collects its own heap every time it parks (see `alloc::collect` for why not less often).
    crate::alloc::spawn_collector();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("homeml-tracking")
        .thread_keep_alive(std::time::Duration::from_secs(1))
        .on_thread_park(crate::alloc::collect)
        .on_thread_stop(crate::alloc::collect_all)
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let handle = homeml_tracking_server::start(homeml_tracking_server::Config {
            host: args.host.clone(),
            port: args.port,
            store,
            artifacts,
            static_prefix: args.static_prefix.clone(),
            max_artifact_bytes: args.max_artifact_mb.saturating_mul(1 << 20),
            local_roots,
            users,
            read_only: args.read_only,
            ui,
        })
        .await?;
        println!(
            "homeml tracking server listening on http://{}",
            handle.addr()
        );
        tokio::select! {
            () = crate::cli::shutdown_signal() => handle.shutdown(),
            () = handle.wait() => {}
        }
        handle.wait().await;
        anyhow::Ok(())
    })
}

/// The store behind the API, and the same store as a file store when it is one.
type OpenedStore = (Arc<dyn TrackingStore>, Option<Arc<homeml_tracking::Store>>);

/// The tracking store of `--backend-store-uri`: a SQL database (`sqlite:///`, `postgresql://`) or
/// the file store; the file store also as itself, for homeml's own pages.
fn open_store(args: &ServerArgs) -> anyhow::Result<OpenedStore> {
    let uri = &args.backend_store_uri;
    let shown = homeml_tracking::util::strip_url_credentials(uri);
    if homeml_tracking::sql::is_sql_uri(uri) {
        let store = homeml_tracking::SqlStore::open_with_artifact_root(
            uri,
            Some(&args.default_artifact_root),
        )
        .with_context(|| format!("opening the tracking database {shown}"))?;
        return Ok((Arc::new(store), None));
    }
    let store =
        homeml_tracking::Store::open_with_artifact_root(uri, Some(&args.default_artifact_root))
            .with_context(|| format!("opening the tracking store {shown}"))?;
    let store = Arc::new(store);
    Ok((store.clone(), Some(store)))
}

/// Whether a `--host` value only listens on this machine.
fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}
