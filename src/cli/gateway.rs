//! `homeml gateway`: typed apps with named features in front of model servers.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

/// Arguments of `homeml gateway`.
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct GatewayArgs {
    /// The gateway config (TOML): apps, features, upstreams, keys.
    #[arg(long, env = "HOMEML_GATEWAY_CONFIG")]
    config: PathBuf,
    /// Port to listen on (0 picks a free one).
    #[arg(short = 'p', long, env = "HOMEML_GATEWAY_PORT", default_value_t = 8000)]
    port: u16,
    /// Address to listen on.
    #[arg(
        short = 'h',
        long,
        env = "HOMEML_GATEWAY_HOST",
        default_value = "127.0.0.1"
    )]
    host: String,
    /// Async runtime threads [default: one per core]. On a machine shared with the model server, 1 leaves
    /// the server more of the cores (bench/gateway.md: 1 thread met the 60% throughput target where the
    /// default did not).
    #[arg(long, env = "HOMEML_GATEWAY_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

/// Runs `homeml gateway` until Ctrl-C or SIGTERM.
pub fn run(args: GatewayArgs) -> anyhow::Result<()> {
    let cfg = homeml_gateway::GatewayConfig::from_path(&args.config)
        .with_context(|| format!("loading {}", args.config.display()))?;
    // The access log (`[server] access_log`, on by default) is buffered and written in batches, in the
    // format of the other log lines; `RUST_LOG=warn` silences it like any info line.
    let format = match crate::cli::logging::format() {
        crate::cli::logging::LogFormat::Text => homeml_gateway::AccessLogFormat::Text,
        crate::cli::logging::LogFormat::Json => homeml_gateway::AccessLogFormat::Json,
    };
    let gateway = homeml_gateway::Gateway::with_access_log(&cfg, || {
        homeml_gateway::AccessLog::stderr(format)
    })
    .context("building the gateway")?;
    let addr: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .or_else(|_| {
            use std::net::ToSocketAddrs;
            (args.host.as_str(), args.port)
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| std::io::Error::other("no address"))
        })
        .with_context(|| format!("resolving {}:{}", args.host, args.port))?;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        builder.worker_threads(usize::from(n));
    }
    let runtime = builder
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let local = listener.local_addr()?;
        let apps: Vec<String> = gateway
            .apps()
            .iter()
            .map(|a| format!("{} -> POST {}", a.name, a.route))
            .collect();
        tracing::info!(addr = %local, apps = ?apps, "homeml gateway listening (docs at /docs)");
        // One line on stdout with the address, as `homeml serve` prints, for scripts and tests.
        println!("homeml gateway listening on http://{local}");
        gateway.serve(listener, shutdown_signal()).await?;
        tracing::info!("homeml gateway stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
