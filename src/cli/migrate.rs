//! `homeml tracking migrate`: copies an MLflow file store into a SQL database on MLflow's schema
//! (homeml_tracking::sql::migrate), prints what it copied and what the check compared.

use std::path::PathBuf;

use anyhow::Context;

/// Arguments of `homeml tracking`.
#[derive(Debug, clap::Args)]
pub struct TrackingArgs {
    #[command(subcommand)]
    command: TrackingCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TrackingCommand {
    /// Copy a file store (mlruns/) into a database on MLflow's schema, then check the copy.
    ///
    /// The same rows as `mlflow migrate-filestore` (MLflow 3.17.2), into SQLite or PostgreSQL, in
    /// one transaction: a migration that stops (killed, a corrupt file) leaves nothing, and the
    /// same command can simply be run again. The target must be empty: rows in experiments, runs
    /// or registered_models are refused, except the untouched Default experiment a tracking
    /// server creates, which the store's experiment 0 replaces. At the end the row counts of every
    /// table and a sample of values (experiments, runs with params, tags and metric histories,
    /// inputs, registered models, versions and aliases) are read back through both stores and
    /// compared; a difference exits non-zero naming it. Traces are not copied (refused unless
    /// --skip-traces).
    Migrate(MigrateArgs),
}

/// Arguments of `homeml tracking migrate`.
#[derive(Debug, clap::Args)]
struct MigrateArgs {
    /// The file store: the mlruns folder, or a folder holding mlruns/.
    #[arg(long = "from", value_name = "DIR")]
    from: PathBuf,
    /// The database: sqlite:///path.db (relative), sqlite:////abs/path.db, or
    /// postgresql://user:pass@host:port/db.
    #[arg(long = "to", value_name = "URI")]
    to: String,
    /// Copy everything but the traces of a store that has some.
    #[arg(long)]
    skip_traces: bool,
    /// Runs per experiment whose values the final check compares.
    #[arg(long, default_value_t = 20)]
    check_runs: usize,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `homeml tracking`.
pub fn run(args: TrackingArgs) -> anyhow::Result<()> {
    match args.command {
        TrackingCommand::Migrate(a) => migrate(a),
    }
}

fn migrate(a: MigrateArgs) -> anyhow::Result<()> {
    let opts = homeml_tracking::sql::MigrateOptions {
        skip_traces: a.skip_traces,
        sample_runs: a.check_runs.max(1),
    };
    let shown = homeml_tracking::util::strip_url_credentials(&a.to);
    let r = homeml_tracking::sql::migrate(&a.from, &a.to, &opts)
        .with_context(|| format!("migrating the file store {} into {shown}", a.from.display()))?;
    if a.json {
        let v = serde_json::json!({
            "source": r.source,
            "target": r.target,
            "experiments_copied": r.experiments_copied,
            "replaced_default": r.replaced_default,
            "counts": r.counts,
            "duplicates": r.duplicates,
            "renumbered": r.renumbered,
            "runs_compared": r.runs_compared,
            "versions_compared": r.versions_compared,
            "traces_skipped": r.traces_skipped,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("migrated {} -> {}", r.source.display(), r.target);
    println!("experiments: {} copied", r.experiments_copied);
    if r.replaced_default {
        println!("the target's empty Default experiment was replaced by the store's experiment 0");
    }
    for (table, n) in &r.counts {
        println!("  {table:<26} {n:>10}");
    }
    if r.duplicates > 0 {
        println!("rows repeating a primary key, kept once: {}", r.duplicates);
    }
    for (from, to) in &r.renumbered {
        println!("experiment {from} is experiment {to} in the database (32-bit ids)");
    }
    if r.traces_skipped > 0 {
        println!("traces left out: {}", r.traces_skipped);
    }
    println!(
        "checked: row counts of every table; {} runs and {} model versions compared value by value",
        r.runs_compared, r.versions_compared
    );
    Ok(())
}
