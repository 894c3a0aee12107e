//! `homeml ui`: the read-only web page over the tracking store.

use std::sync::Arc;

use anyhow::Context;

/// Arguments of `homeml ui`.
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct UiArgs {
    /// The tracking store.
    #[arg(long, env = "MLFLOW_TRACKING_URI", default_value = "./mlruns")]
    tracking_uri: String,
    /// Port to listen on (0 picks a free one).
    #[arg(short = 'p', long, env = "HOMEML_UI_PORT", default_value_t = 5001)]
    port: u16,
    /// Address to listen on.
    #[arg(short = 'h', long, env = "HOMEML_UI_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

/// Runs `homeml ui` until Ctrl-C or SIGTERM.
pub fn run(args: UiArgs) -> anyhow::Result<()> {
    let store = homeml_tracking::Store::open(&args.tracking_uri)
        .with_context(|| format!("opening the tracking store {}", args.tracking_uri))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
            .await
            .with_context(|| format!("binding {}:{}", args.host, args.port))?;
        let addr = listener.local_addr()?;
        println!(
            "homeml ui listening on http://{addr}/ (store {})",
            store.root().display()
        );
        crate::ui::serve(listener, Arc::new(store), crate::cli::shutdown_signal()).await;
        anyhow::Ok(())
    })
}
