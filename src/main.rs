//! `homeml`: one binary for tracking, serving, the gateway and the whole lifecycle.
//!
//! A thin clap CLI: every subcommand lives in its own module under `cli/` and calls into the crates.

mod alloc;
mod bundle;
mod cli;
mod ui;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's malloc: the server's request path allocates a few dozen small blocks per
/// request, many freed on another thread than the one that allocated them (request tasks and the
/// batcher's workers), and glibc's malloc/free spent ~10k instructions per request there (callgrind;
/// bench/compare.md). Built without transparent huge pages (`no_thp`): with them an idle server's RSS
/// grew from 14 to 25 MB (a 2 MiB page per thread heap).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// homeml: MLflow-compatible tracking, a fast model server and a gateway, in one binary.
#[derive(Debug, Parser)]
#[command(name = "homeml", version, about, disable_help_flag = false)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, env = "HOMEML_LOG_FORMAT", value_enum, default_value_t = cli::logging::LogFormat::Text)]
    log_format: cli::logging::LogFormat,

    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Experiments in the tracking store.
    Experiments(cli::tracking::ExperimentsArgs),
    /// Runs in the tracking store.
    Runs(cli::tracking::RunsArgs),
    /// Registered models, versions, aliases and stages.
    Models(cli::tracking::ModelsArgs),
    /// Tracking store maintenance: `migrate` a file store into a database.
    Tracking(cli::migrate::TrackingArgs),
    /// The MLflow tracking server: REST API and artifact proxy over the tracking store.
    Server(cli::server::ServerArgs),
    /// Serve one model (`-m URI`) or several (`--config serve.toml`) over HTTP.
    Serve(cli::serve::ServeArgs),
    /// Run the gateway in front of model servers.
    Gateway(cli::gateway::GatewayArgs),
    /// Train, log, register and serve the iris models, then print curl lines.
    Quickstart(cli::quickstart::QuickstartArgs),
    /// Build a self-contained serving bundle for a model.
    Build(cli::build::BuildArgs),
    /// Flavors this binary can serve (built-in and plugins).
    Flavors(cli::flavors::FlavorsArgs),
    /// A read-only web page over the tracking store.
    Ui(cli::ui::UiArgs),
    /// GET an http:// URL and exit 0 on a 2xx answer (a health check for images without curl).
    Probe(cli::probe::ProbeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    cli::logging::init(cli.log_format);
    match cli.command {
        Command::Experiments(a) => cli::tracking::experiments(a),
        Command::Runs(a) => cli::tracking::runs(a),
        Command::Models(a) => cli::tracking::models(a),
        Command::Tracking(a) => cli::migrate::run(a),
        Command::Server(a) => cli::server::run(a),
        Command::Serve(a) => cli::serve::run(a),
        Command::Gateway(a) => cli::gateway::run(a),
        Command::Quickstart(a) => cli::quickstart::run(a),
        Command::Build(a) => cli::build::run(a),
        Command::Flavors(a) => cli::flavors::run(a),
        Command::Ui(a) => cli::ui::run(a),
        Command::Probe(a) => cli::probe::run(a),
    }
}
