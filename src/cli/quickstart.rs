//! `homeml quickstart`: the whole lifecycle in one command.
//!
//! Trains the example models ([`train`]) into the tracking store, registers each and points its alias
//! `champion` at the new version, then serves them all (`models:/<name>@champion`) with `homeml serve`'s
//! server in-process, puts the gateway in front of the iris classifier, prints the URLs and curl lines,
//! and serves until Ctrl-C. Running it again adds versions.

pub mod train;

use std::time::Instant;

use anyhow::Context;
use homeml_tracking::Tracking;
use train::{TrainOptions, Trained};

/// Arguments of `homeml quickstart`.
#[derive(Debug, clap::Args)]
pub struct QuickstartArgs {
    /// The tracking store to train into (a path or file:// URI); created when missing.
    #[arg(long, env = "MLFLOW_TRACKING_URI", default_value = "./mlruns")]
    pub tracking_uri: String,
    /// Port of the model server (0 picks a free one).
    #[arg(short = 'p', long, env = "HOMEML_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Port of the gateway (0 picks a free one).
    #[arg(long, env = "HOMEML_GATEWAY_PORT", default_value_t = 8000)]
    pub gateway_port: u16,
    /// Address both listen on.
    #[arg(long, env = "HOMEML_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Train, log and register, then exit without serving.
    #[arg(long)]
    pub no_serve: bool,
    /// Serve the models without the gateway in front.
    #[arg(long)]
    pub no_gateway: bool,
    /// Exit as soon as everything is serving (for scripts and tests).
    #[arg(long)]
    pub exit_after_ready: bool,
    /// Trees per random forest.
    #[arg(long, default_value_t = 30)]
    pub n_trees: u16,
    /// Seed of the train/validation split and the forests.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// Runs `homeml quickstart`.
pub fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    let total_steps = if args.no_serve { 5 } else { 7 };
    let step = |n: usize, what: &str| println!("[{n}/{total_steps}] {what}");

    step(
        1,
        &format!(
            "opening the tracking store {}",
            homeml_tracking::rest::redact_uri(&args.tracking_uri)
        ),
    );
    let store = Tracking::open(&args.tracking_uri).with_context(|| {
        format!(
            "opening the tracking store {}",
            homeml_tracking::rest::redact_uri(&args.tracking_uri)
        )
    })?;
    let opts = TrainOptions {
        seed: args.seed,
        n_trees: args.n_trees,
        ..TrainOptions::default()
    };
    type TrainFn = fn(&Tracking, &TrainOptions) -> anyhow::Result<Trained>;
    let jobs: [(&str, TrainFn); 4] = [
        (
            "iris-classifier (smartcore logistic regression)",
            train::train_iris_logreg,
        ),
        (
            "iris-random-forest (smartcore random forest)",
            train::train_iris_random_forest,
        ),
        (
            "diabetes-regressor (smartcore random forest regressor)",
            train::train_diabetes_regressor,
        ),
        (
            "iris-linfa (linfa logistic regression)",
            train::train_iris_linfa,
        ),
    ];
    let mut trained = Vec::new();
    for (i, (what, f)) in jobs.iter().enumerate() {
        step(i + 2, &format!("training {what} ..."));
        let t0 = Instant::now();
        let t = f(&store, &opts).with_context(|| format!("training {what}"))?;
        println!(
            "      {} {:.4}; registered {} version {} (alias @{}), run {} [{:.1}s]",
            t.headline.0,
            t.headline.1,
            t.name,
            t.version,
            train::ALIAS,
            t.run_id,
            t0.elapsed().as_secs_f64()
        );
        trained.push(t);
    }
    if args.no_serve {
        println!(
            "done: serve them with `homeml serve -m models:/iris-classifier@champion --tracking-uri {}`",
            homeml_tracking::rest::redact_uri(&args.tracking_uri)
        );
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(&args, &store, &trained, total_steps))
}

async fn serve(
    args: &QuickstartArgs,
    store: &Tracking,
    trained: &[Trained],
    total_steps: usize,
) -> anyhow::Result<()> {
    use homeml_server::{builtin_registry, ModelConfig, Server, ServerConfig};

    println!("[6/{total_steps}] starting the model server ...");
    let registry = builtin_registry();
    let mut config = ServerConfig {
        host: args.host.clone(),
        port: args.port,
        // A server's or database's URI as given (credentials in it included); a file store's absolute root.
        tracking_uri: Some(match store {
            Tracking::Rest(_) | Tracking::Sql(_) => args.tracking_uri.clone(),
            Tracking::File(_) => store.uri(),
        }),
        ..ServerConfig::default()
    };
    for t in trained {
        let mut m = ModelConfig::new(format!("models:/{}@{}", t.name, train::ALIAS));
        m.name = Some(t.name.clone());
        config.models.push(m);
    }
    let server = Server::start(config, registry)
        .await
        .context("starting the model server")?;
    let base = format!("http://{}", server.addr());
    println!("      model server on {base}");

    let gateway = if args.no_gateway {
        println!("[7/{total_steps}] gateway skipped (--no-gateway)");
        None
    } else {
        println!("[7/{total_steps}] starting the gateway ...");
        let (addr, stop) = start_gateway(&args.host, args.gateway_port, &base).await?;
        println!("      gateway on http://{addr}");
        Some((addr, stop))
    };

    print_usage(
        &base,
        gateway.as_ref().map(|(a, _)| *a),
        &homeml_tracking::rest::redact_uri(&args.tracking_uri),
    );
    println!("ready: serving until Ctrl-C");
    use std::io::Write;
    let _ = std::io::stdout().flush();

    if !args.exit_after_ready {
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        println!("stopping ...");
    }
    if let Some((_, stop)) = gateway {
        let _ = stop.send(());
    }
    server.shutdown_and_wait().await;
    Ok(())
}

/// Starts the gateway with one app, `iris`, in front of the iris classifier (KServe V2).
async fn start_gateway(
    host: &str,
    port: u16,
    upstream: &str,
) -> anyhow::Result<(std::net::SocketAddr, tokio::sync::oneshot::Sender<()>)> {
    let toml = gateway_config(upstream);
    let here = std::env::current_dir().unwrap_or_default();
    let cfg = homeml_gateway::GatewayConfig::from_toml_str(
        &toml,
        &here.join("quickstart-gateway.toml"),
        &here,
    )
    .context("the quickstart gateway config")?;
    let gateway = homeml_gateway::Gateway::new(&cfg).context("building the gateway")?;
    let listener = tokio::net::TcpListener::bind((host, port))
        .await
        .with_context(|| format!("binding the gateway to {host}:{port}"))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let stop = async {
            let _ = rx.await;
        };
        if let Err(e) = gateway.serve(listener, stop).await {
            tracing::error!(error = %e, "the gateway stopped");
        }
    });
    Ok((addr, tx))
}

/// The gateway config of the quickstart: the iris app with named features, no API keys.
fn gateway_config(upstream: &str) -> String {
    let mut s = String::from(
        "[[apps]]\nname = \"iris\"\ndescription = \"Iris species from flower measurements (cm).\"\nauth = false\n",
    );
    for f in ["sepal_length", "sepal_width", "petal_length", "petal_width"] {
        s.push_str(&format!(
            "[[apps.features]]\nname = \"{f}\"\ntype = \"float\"\nmin = 0.0\nmax = 30.0\n"
        ));
    }
    s.push_str(&format!(
        "[apps.input]\ndatatype = \"FP64\"\n\
         [apps.output]\nlabels = {:?}\nlabel_output = \"label\"\nprobabilities_output = \"probabilities\"\n\
         [[apps.upstreams]]\nname = \"iris-classifier\"\nurl = \"{upstream}\"\nprotocol = \"v2\"\nmodel = \"iris-classifier\"\ntimeout_ms = 5000\n",
        train::IRIS_SPECIES
    ));
    s
}

fn print_usage(base: &str, gateway: Option<std::net::SocketAddr>, tracking_uri: &str) {
    println!();
    println!("Models (each models:/<name>@champion):");
    for m in [
        "iris-classifier",
        "iris-random-forest",
        "diabetes-regressor",
        "iris-linfa",
    ] {
        println!("  {base}/v2/models/{m}");
    }
    println!();
    println!("MLflow scoring protocol (dataframe_split):");
    println!(
        "  curl -s {base}/models/iris-classifier/invocations -H 'content-type: application/json' \\\n    \
         -d '{{\"dataframe_split\": {{\"columns\": [\"sepal_length\", \"sepal_width\", \"petal_length\", \"petal_width\"], \"data\": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}}}}'"
    );
    println!();
    println!("KServe V2 infer (one tensor per named column of the signature):");
    println!(
        "  curl -s {base}/v2/models/iris-classifier/infer -H 'content-type: application/json' \\\n    \
         -d '{{\"inputs\": [{{\"name\": \"sepal_length\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": [5.1]}}, {{\"name\": \"sepal_width\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": [3.5]}}, {{\"name\": \"petal_length\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": [1.4]}}, {{\"name\": \"petal_width\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": [0.2]}}]}}'"
    );
    println!();
    println!("Diabetes regressor (MLflow inputs):");
    println!(
        "  curl -s {base}/models/diabetes-regressor/invocations -H 'content-type: application/json' \\\n    \
         -d '{{\"inputs\": [[0.038, 0.051, 0.062, 0.022, -0.044, -0.035, -0.043, -0.003, 0.020, -0.018]]}}'"
    );
    if let Some(g) = gateway {
        println!();
        println!("Gateway with named features:");
        println!(
            "  curl -s http://{g}/apps/iris/predict -H 'content-type: application/json' \\\n    \
             -d '{{\"sepal_length\": 5.1, \"sepal_width\": 3.5, \"petal_length\": 1.4, \"petal_width\": 0.2}}'"
        );
    }
    println!();
    if homeml_tracking::rest::is_remote_uri(tracking_uri) {
        println!("Runs and metrics: {tracking_uri} (the tracking server's UI), or homeml runs list --tracking-uri {tracking_uri}");
    } else {
        println!("Runs and metrics: homeml ui --tracking-uri {tracking_uri}   (or: MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri {tracking_uri})");
    }
    println!();
}
