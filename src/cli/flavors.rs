//! `homeml flavors`: the MLmodel flavors this binary can serve, built in and from plugins.

use std::path::PathBuf;

use homeml_flavor::plugin;

/// Arguments of `homeml flavors`.
#[derive(Debug, clap::Args)]
pub struct FlavorsArgs {
    #[command(subcommand)]
    command: FlavorsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum FlavorsCommand {
    /// List built-in and plugin flavors with their versions and origins.
    List(ListArgs),
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    /// Load every flavor plugin (shared library) in this directory too.
    #[arg(long, env = "HOMEML_PLUGIN_DIR")]
    plugin_dir: Option<PathBuf>,
    /// Print JSON (`{"flavors": [...], "plugin_errors": [...]}`) instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `homeml flavors`.
pub fn run(args: FlavorsArgs) -> anyhow::Result<()> {
    match args.command {
        FlavorsCommand::List(a) => list(a),
    }
}

fn list(args: ListArgs) -> anyhow::Result<()> {
    let mut registry = homeml_server::builtin_registry();
    let mut errors = Vec::new();
    if let Some(dir) = &args.plugin_dir {
        for (path, result) in plugin::load_plugin_dir(&mut registry, dir) {
            match result {
                Ok(names) => {
                    tracing::info!(plugin = %path.display(), flavors = ?names, "plugin loaded")
                }
                Err(e) => {
                    tracing::warn!(plugin = %path.display(), error = %e, "plugin refused");
                    errors.push((path, e.to_string()));
                }
            }
        }
    }
    let flavors = registry.list();
    if args.json {
        let doc = serde_json::json!({
            "flavors": flavors.iter().map(|f| serde_json::json!({
                "name": f.name,
                "version": f.version,
                "origin": f.origin,
                "kind": if f.origin == "built-in" { "built-in" } else { "plugin" },
            })).collect::<Vec<_>>(),
            "plugin_errors": errors.iter().map(|(path, e)| serde_json::json!({
                "path": path.display().to_string(),
                "error": e,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    let width = |f: fn(&homeml_flavor::FlavorInfo) -> &str, title: &str| {
        flavors
            .iter()
            .map(|i| f(i).chars().count())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let (wn, wv) = (
        width(|i| &i.name, "FLAVOR"),
        width(|i| &i.version, "VERSION"),
    );
    println!("{:wn$}  {:wv$}  ORIGIN", "FLAVOR", "VERSION");
    for f in &flavors {
        println!("{:wn$}  {:wv$}  {}", f.name, f.version, f.origin);
    }
    for (path, e) in &errors {
        eprintln!("refused plugin {}: {e}", path.display());
    }
    Ok(())
}
