//! `homeml-loadtest`: drive an HTTP server with closed- or open-loop load and report latency.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use homeml_loadtest::config::parse_header;
use homeml_loadtest::report::markdown_table;
use homeml_loadtest::svg::{self, Series};
use homeml_loadtest::{parse_duration, BodySpec, Config, Mode, Protocol, Report, Target};

/// HTTP/1.1 keep-alive load generator with HDR latency histograms.
///
/// Without a subcommand it runs a load: `homeml-loadtest -c 16 -d 10s --rows 1 --features 4
/// http://127.0.0.1:5000/invocations`.
#[derive(Parser, Debug)]
#[command(
    name = "homeml-loadtest",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a load (the same as giving no subcommand).
    Run(Box<RunArgs>),
    /// Plot the latency curves of several JSON reports into one SVG.
    Plot {
        /// Output SVG file.
        #[arg(short, long)]
        out: PathBuf,
        /// Plot title.
        #[arg(long, default_value = "latency by percentile")]
        title: String,
        /// JSON reports written with --json-out.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
    },
    /// Print a Markdown table comparing several JSON reports.
    Table {
        /// JSON reports written with --json-out.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
    },
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum ProtocolArg {
    /// `{"inputs": [[...], ...]}` (MLflow scoring protocol).
    Mlflow,
    /// KServe V2 / Open Inference Protocol tensor.
    V2,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Target URL (http:// only).
    url: Option<String>,
    /// Number of keep-alive connections (virtual clients).
    #[arg(short = 'c', long, default_value_t = 16)]
    connections: usize,
    /// Open loop: total requests per second over all connections; latency counts from each
    /// request's intended send time. Without it the load is closed loop.
    #[arg(short = 'R', long)]
    rate: Option<f64>,
    /// Measured duration (e.g. 10s, 500ms, 1m). Default 10s unless --requests is given.
    #[arg(short, long)]
    duration: Option<String>,
    /// Warm-up before measuring: requests are sent but not recorded.
    #[arg(short, long, default_value = "1s")]
    warmup: String,
    /// Stop after this many measured requests.
    #[arg(short = 'n', long)]
    requests: Option<u64>,
    /// HTTP method (default: POST with a body, GET without).
    #[arg(short, long)]
    method: Option<String>,
    /// Extra header, "Name: value" (repeatable).
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// Send this file as the body of every request.
    #[arg(long, conflicts_with = "features")]
    body_file: Option<PathBuf>,
    /// Rows per request: generated with --features, or declared for --body-file (for rows/s).
    #[arg(long, default_value_t = 1)]
    rows: usize,
    /// Generate bodies of --rows rows of this many random floats.
    #[arg(long)]
    features: Option<usize>,
    /// JSON layout of generated bodies.
    #[arg(long, value_enum, default_value = "mlflow", requires = "features")]
    protocol: ProtocolArg,
    /// Input tensor name for --protocol v2.
    #[arg(long, default_value = "input")]
    input_name: String,
    /// Seed for generated bodies.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Per-request timeout.
    #[arg(long, default_value = "10s")]
    timeout: String,
    /// TCP connect timeout.
    #[arg(long, default_value = "3s")]
    connect_timeout: String,
    /// Runtime worker threads (1 = a current-thread runtime; keep it small when the server shares
    /// the machine).
    #[arg(short, long, default_value_t = 1)]
    threads: usize,
    /// Write the report as JSON here.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Write an SVG latency-by-percentile plot here.
    #[arg(long)]
    svg_out: Option<PathBuf>,
    /// Label for the report (e.g. the server's name).
    #[arg(long)]
    label: Option<String>,
    /// No progress line on stderr.
    #[arg(short, long)]
    quiet: bool,
}

fn build_config(a: &RunArgs) -> Result<Config> {
    let Some(url) = a.url.as_deref() else {
        bail!("missing target URL (e.g. http://127.0.0.1:5000/invocations); see --help");
    };
    let mut c = Config::new(Target::parse(url)?);
    c.connections = a.connections;
    c.mode = match a.rate {
        Some(rate) => Mode::Open { rate },
        None => Mode::Closed,
    };
    c.duration = match (&a.duration, a.requests) {
        (Some(d), _) => Some(parse_duration(d).context("--duration")?),
        (None, Some(_)) => None,
        (None, None) => Some(std::time::Duration::from_secs(10)),
    };
    c.max_requests = a.requests;
    c.warmup = parse_duration(&a.warmup).context("--warmup")?;
    c.timeout = parse_duration(&a.timeout).context("--timeout")?;
    c.connect_timeout = parse_duration(&a.connect_timeout).context("--connect-timeout")?;
    if let Some(m) = &a.method {
        c.method = Some(
            hyper::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .with_context(|| format!("bad --method {m:?}"))?,
        );
    }
    for h in &a.headers {
        c.headers.push(parse_header(h)?);
    }
    if a.rows == 0 {
        bail!("--rows must be at least 1");
    }
    c.body = match (&a.body_file, a.features) {
        (Some(path), _) => BodySpec::from_file(path, a.rows as u64)?,
        (None, Some(features)) => BodySpec::Generated {
            rows: a.rows,
            features,
            protocol: match a.protocol {
                ProtocolArg::Mlflow => Protocol::Mlflow,
                ProtocolArg::V2 => Protocol::V2,
            },
            input_name: a.input_name.clone(),
            seed: a.seed,
        },
        (None, None) => BodySpec::Empty,
    };
    c.progress = !a.quiet;
    c.label = a.label.clone();
    c.validate()?;
    if a.threads == 0 {
        bail!("--threads must be at least 1");
    }
    Ok(c)
}

fn read_report(path: &Path) -> Result<Report> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a loadtest report", path.display()))
}

fn run(a: &RunArgs) -> Result<()> {
    let config = build_config(a)?;
    let report = homeml_loadtest::run_blocking(config, a.threads)?;
    print!("{}", report.to_text());
    if let Some(path) = &a.json_out {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &a.svg_out {
        let title = report.label.clone().unwrap_or_else(|| report.url.clone());
        let doc = svg::render(&title, &[Series::from_report(&report)]);
        std::fs::write(path, doc).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match &cli.command {
        None => run(&cli.run),
        Some(Command::Run(a)) => run(a),
        Some(Command::Plot {
            out,
            title,
            reports,
        }) => {
            let reports = reports
                .iter()
                .map(|p| read_report(p))
                .collect::<Result<Vec<_>>>()?;
            let series: Vec<Series<'_>> = reports.iter().map(Series::from_report).collect();
            std::fs::write(out, svg::render(title, &series))
                .with_context(|| format!("writing {}", out.display()))?;
            Ok(())
        }
        Some(Command::Table { reports }) => {
            let reports = reports
                .iter()
                .map(|p| read_report(p))
                .collect::<Result<Vec<_>>>()?;
            print!("{}", markdown_table(&reports));
            Ok(())
        }
    }
}
