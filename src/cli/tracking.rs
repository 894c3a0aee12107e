//! `homeml experiments|runs|models`: the terminal view of the tracking store.

use std::collections::BTreeMap;

use anyhow::Context;
use homeml_tracking::{util, ModelVersion, Run, RunStatus, Stage, Tracking, ViewType};
use serde::Serialize;

use super::text::printable;

/// Where the store is and how to print.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// The tracking store: a path, a file:// URI, a database (sqlite:///path.db, postgresql://...), or
    /// a tracking server's http(s):// URL (as MLflow's
    /// MLFLOW_TRACKING_URI; MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN authenticate).
    #[arg(
        long,
        env = "MLFLOW_TRACKING_URI",
        default_value = "./mlruns",
        global = true
    )]
    tracking_uri: String,
    /// Print JSON (for scripts) instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

impl StoreArgs {
    fn open(&self) -> anyhow::Result<Tracking> {
        Tracking::open(&self.tracking_uri).with_context(|| {
            format!(
                "opening the tracking store {}",
                homeml_tracking::rest::redact_uri(&self.tracking_uri)
            )
        })
    }
}

/// Arguments of `homeml experiments`.
#[derive(Debug, clap::Args)]
pub struct ExperimentsArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: ExperimentsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ExperimentsCommand {
    /// List experiments.
    List {
        /// Include deleted experiments.
        #[arg(long)]
        all: bool,
    },
    /// Create an experiment and print its id.
    Create {
        /// The experiment name.
        name: String,
    },
}

/// Arguments of `homeml runs`.
#[derive(Debug, clap::Args)]
pub struct RunsArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: RunsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum RunsCommand {
    /// List runs: id, name, status, start, duration, latest metrics.
    List {
        /// Only this experiment (name or id); all active experiments when absent.
        #[arg(long, short = 'e')]
        experiment: Option<String>,
        /// Include deleted runs.
        #[arg(long)]
        all: bool,
    },
    /// Show one run: its info, params, latest metrics, tags and logged models.
    Show {
        /// The run id.
        run_id: String,
    },
}

/// Arguments of `homeml models`.
#[derive(Debug, clap::Args)]
pub struct ModelsArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ModelsCommand {
    /// List registered models with their latest version and aliases.
    List,
    /// Show a registered model and its versions.
    Show {
        /// The registered model name.
        name: String,
    },
    /// Set or delete an alias.
    Alias {
        #[command(subcommand)]
        command: AliasCommand,
    },
    /// Move a version to a stage (None, Staging, Production, Archived).
    Stage {
        /// The registered model name.
        name: String,
        /// The version.
        version: u64,
        /// The stage.
        stage: Stage,
        /// Archive the other versions in that stage.
        #[arg(long)]
        archive_existing: bool,
    },
}

#[derive(Debug, clap::Subcommand)]
enum AliasCommand {
    /// Point ALIAS at VERSION.
    Set {
        /// The registered model name.
        name: String,
        /// The alias.
        alias: String,
        /// The version.
        version: u64,
    },
    /// Remove ALIAS.
    Delete {
        /// The registered model name.
        name: String,
        /// The alias.
        alias: String,
    },
}

fn print_json<T: Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Prints an aligned table.
fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    // Every cell through `printable`: stored strings never reach the terminal raw.
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| printable(c).into_owned()).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        println!("{}", out.trim_end());
    };
    line(headers.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn fmt_time(ms: Option<i64>) -> String {
    ms.map(util::format_ms).unwrap_or_else(|| "-".into())
}

fn fmt_duration(run: &Run) -> String {
    let Some(start) = run.info.start_time else {
        return "-".into();
    };
    let end = match (run.info.end_time, run.info.status) {
        (Some(e), _) => e,
        (None, RunStatus::Running) => util::now_ms(),
        (None, _) => return "-".into(),
    };
    let ms = (end - start).max(0);
    if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    } else {
        format!("{}h{:02}m", ms / 3_600_000, (ms / 60_000) % 60)
    }
}

fn fmt_value(v: f64) -> String {
    if v.is_finite() && v.abs() >= 1e-3 && v.abs() < 1e6 {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        util::py_float(v)
    }
}

/// Runs `homeml experiments`.
pub fn experiments(args: ExperimentsArgs) -> anyhow::Result<()> {
    let store = args.store.open()?;
    match args.command {
        ExperimentsCommand::List { all } => {
            let view = if all {
                ViewType::All
            } else {
                ViewType::ActiveOnly
            };
            let exps = store.list_experiments_view(view)?;
            if args.store.json {
                return print_json(&exps);
            }
            let rows: Vec<Vec<String>> = exps
                .iter()
                .map(|e| {
                    vec![
                        e.experiment_id.clone(),
                        e.name.clone(),
                        e.lifecycle_stage.as_str().to_string(),
                        fmt_time(e.creation_time),
                        e.artifact_location.clone(),
                    ]
                })
                .collect();
            print_table(&["ID", "NAME", "STAGE", "CREATED", "ARTIFACTS"], &rows);
        }
        ExperimentsCommand::Create { name } => {
            let id = store.create_experiment(&name)?;
            if args.store.json {
                return print_json(&serde_json::json!({"experiment_id": id, "name": name}));
            }
            println!("{id}");
        }
    }
    Ok(())
}

/// Runs `homeml runs`.
pub fn runs(args: RunsArgs) -> anyhow::Result<()> {
    let store = args.store.open()?;
    match args.command {
        RunsCommand::List { experiment, all } => {
            let ids: Vec<String> = match experiment {
                Some(e) => match store.get_experiment_by_name(&e)? {
                    Some(x) => vec![x.experiment_id],
                    None => vec![
                        store
                            .get_experiment(&e)
                            .with_context(|| format!("no experiment named or numbered '{e}'"))?
                            .experiment_id,
                    ],
                },
                None => store
                    .list_experiments()?
                    .into_iter()
                    .map(|e| e.experiment_id)
                    .collect(),
            };
            let view = if all {
                ViewType::All
            } else {
                ViewType::ActiveOnly
            };
            let runs = store.search_runs_view(&ids, view)?;
            if args.store.json {
                return print_json(&runs);
            }
            let rows: Vec<Vec<String>> = runs
                .iter()
                .map(|r| {
                    let metrics = r
                        .data
                        .metrics
                        .iter()
                        .map(|(k, v)| format!("{k}={}", fmt_value(v.value)))
                        .collect::<Vec<_>>()
                        .join(" ");
                    vec![
                        r.info.run_id.clone(),
                        r.info.run_name.clone(),
                        r.info.status.as_str().to_string(),
                        fmt_time(r.info.start_time),
                        fmt_duration(r),
                        metrics,
                    ]
                })
                .collect();
            print_table(
                &["RUN ID", "NAME", "STATUS", "START", "DURATION", "METRICS"],
                &rows,
            );
        }
        RunsCommand::Show { run_id } => {
            let run = store.get_run(&run_id)?;
            if args.store.json {
                return print_json(&run);
            }
            let i = &run.info;
            println!("run:         {}", printable(&i.run_id));
            println!("name:        {}", printable(&i.run_name));
            println!("experiment:  {}", printable(&i.experiment_id));
            println!("status:      {}", i.status);
            println!("lifecycle:   {}", i.lifecycle_stage.as_str());
            println!("user:        {}", printable(&i.user_id));
            println!("start:       {}", fmt_time(i.start_time));
            println!("end:         {}", fmt_time(i.end_time));
            println!("duration:    {}", fmt_duration(&run));
            println!("artifacts:   {}", printable(&i.artifact_uri));
            section("params", &run.data.params);
            let metrics: BTreeMap<String, String> = run
                .data
                .metrics
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        format!("{} (step {})", util::py_float(v.value), v.step),
                    )
                })
                .collect();
            section("metrics", &metrics);
            section("tags", &run.data.tags);
            if !run.model_outputs.is_empty() {
                println!("models:");
                for m in &run.model_outputs {
                    println!("  models:/{}", printable(&m.to_string()));
                }
            }
        }
    }
    Ok(())
}

fn section(title: &str, kv: &BTreeMap<String, String>) {
    if kv.is_empty() {
        return;
    }
    println!("{title}:");
    let kv: Vec<_> = kv
        .iter()
        .map(|(k, v)| (printable(k), printable(v)))
        .collect();
    let w = kv.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    for (k, v) in kv {
        println!("  {k:<w$}  {v}");
    }
}

fn version_row(v: &ModelVersion) -> Vec<String> {
    vec![
        v.version.to_string(),
        v.current_stage.as_str().to_string(),
        v.aliases.join(","),
        fmt_time(v.creation_timestamp),
        v.run_id.clone().unwrap_or_else(|| "-".into()),
        v.source.clone(),
    ]
}

/// Runs `homeml models`.
pub fn models(args: ModelsArgs) -> anyhow::Result<()> {
    let store = args.store.open()?;
    let json = args.store.json;
    match args.command {
        ModelsCommand::List => {
            let models = store.list_registered_models()?;
            #[derive(Serialize)]
            struct Row {
                #[serde(flatten)]
                model: homeml_tracking::RegisteredModel,
                latest_version: Option<u64>,
            }
            let mut out = Vec::new();
            for m in models {
                let latest = store.latest_version(&m.name, None)?.map(|v| v.version);
                out.push(Row {
                    model: m,
                    latest_version: latest,
                });
            }
            if json {
                return print_json(&out);
            }
            let rows: Vec<Vec<String>> = out
                .iter()
                .map(|r| {
                    vec![
                        r.model.name.clone(),
                        r.latest_version
                            .map(|v| v.to_string())
                            .unwrap_or_else(|| "-".into()),
                        r.model
                            .aliases
                            .iter()
                            .map(|(a, v)| format!("{a}->{v}"))
                            .collect::<Vec<_>>()
                            .join(" "),
                        fmt_time(r.model.last_updated_timestamp),
                        r.model.description.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            print_table(
                &["NAME", "LATEST", "ALIASES", "UPDATED", "DESCRIPTION"],
                &rows,
            );
        }
        ModelsCommand::Show { name } => {
            let model = store.get_registered_model(&name)?;
            let versions = store.search_model_versions(Some(&name))?;
            if json {
                return print_json(&serde_json::json!({"model": model, "versions": versions}));
            }
            println!("name:         {}", printable(&model.name));
            if let Some(d) = &model.description {
                println!("description:  {}", printable(d));
            }
            println!("updated:      {}", fmt_time(model.last_updated_timestamp));
            section("tags", &model.tags);
            let aliases: BTreeMap<String, String> = model
                .aliases
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect();
            section("aliases", &aliases);
            let rows: Vec<Vec<String>> = versions.iter().map(version_row).collect();
            println!();
            print_table(
                &["VERSION", "STAGE", "ALIASES", "CREATED", "RUN", "SOURCE"],
                &rows,
            );
        }
        ModelsCommand::Alias { command } => match command {
            AliasCommand::Set {
                name,
                alias,
                version,
            } => {
                store.set_alias(&name, &alias, version)?;
                let v = store.get_model_version(&name, version)?;
                if json {
                    return print_json(&v);
                }
                println!("{name}@{alias} -> version {version}");
            }
            AliasCommand::Delete { name, alias } => {
                store.delete_alias(&name, &alias)?;
                if json {
                    return print_json(
                        &serde_json::json!({"name": name, "alias": alias, "deleted": true}),
                    );
                }
                println!("deleted {name}@{alias}");
            }
        },
        ModelsCommand::Stage {
            name,
            version,
            stage,
            archive_existing,
        } => {
            let v = store.transition_stage(&name, version, stage, archive_existing)?;
            if json {
                return print_json(&v);
            }
            println!("{name} version {version} -> {}", v.current_stage);
        }
    }
    Ok(())
}
