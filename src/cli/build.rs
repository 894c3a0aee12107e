//! `homeml build`: a self-contained serving bundle for one model.

use std::path::PathBuf;

use anyhow::Context;

use crate::bundle;

/// Arguments of `homeml build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The model: `models:/name@alias`, `models:/name/3`, `runs:/<run>/model`, or a model directory.
    #[arg(short = 'm', long = "model-uri", env = "HOMEML_MODEL_URI")]
    model_uri: String,
    /// The bundle folder to write (replaced if it holds an earlier bundle).
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// The served model's name and the image name (default: the registered model's name, else the folder's).
    #[arg(long)]
    name: Option<String>,
    /// The tracking store that resolves `models:/` and `runs:/` URIs: a path, file://, or a tracking
    /// server's http(s):// URL (the model is downloaded into HOMEML_MODEL_CACHE first).
    #[arg(long, env = "MLFLOW_TRACKING_URI", default_value = "./mlruns")]
    tracking_uri: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `homeml build`.
pub fn run(args: BuildArgs) -> anyhow::Result<()> {
    let shown = homeml_tracking::rest::redact_uri(&args.tracking_uri);
    let resolved = if homeml_tracking::rest::is_remote_uri(&args.tracking_uri)
        && (args.model_uri.starts_with("models:/") || args.model_uri.starts_with("runs:/"))
    {
        // From a tracking server: downloaded (checked, whole) into the model cache, then bundled.
        homeml_tracking::RestStore::open(&args.tracking_uri)
            .with_context(|| format!("opening the tracking server {shown}"))?
            .resolve_model_uri(&args.model_uri, &homeml_tracking::rest::default_cache_dir())
            .with_context(|| format!("resolving {} on {shown}", args.model_uri))?
    } else {
        homeml_tracking::Store::open(&args.tracking_uri)
            .with_context(|| format!("opening the tracking store {shown}"))?
            .resolve_model_uri(&args.model_uri)
            .with_context(|| format!("resolving {}", args.model_uri))?
    };
    let name = match (&args.name, &resolved.registered_name) {
        (Some(n), _) => n.clone(),
        (None, Some(n)) => n.to_lowercase(),
        (None, None) => resolved
            .path
            .file_name()
            .map(|s| s.to_string_lossy().to_lowercase())
            .unwrap_or_else(|| "model".into()),
    };
    let built = bundle::build(
        &bundle::BundleSpec {
            model_dir: &resolved.path,
            name: &name,
            source_uri: &args.model_uri,
        },
        &args.output,
    )?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "dir": built.dir,
                "name": built.name,
                "version": built.version,
                "image": format!("{}:{}", built.name, built.version),
            })
        );
    } else {
        println!("bundle  {}", built.dir.display());
        println!("model   {} (from {})", built.name, args.model_uri);
        println!("version {}", built.version);
        println!(
            "image   docker build -t {}:{} {}",
            built.name,
            built.version,
            built.dir.display()
        );
        println!("serve   homeml serve --bundle {}", built.dir.display());
    }
    Ok(())
}
