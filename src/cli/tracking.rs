//! `homeml experiments|runs|models`: the terminal view of the tracking store.

/// Arguments of `homeml experiments`.
#[derive(Debug, clap::Args)]
pub struct ExperimentsArgs {}
/// Arguments of `homeml runs`.
#[derive(Debug, clap::Args)]
pub struct RunsArgs {}
/// Arguments of `homeml models`.
#[derive(Debug, clap::Args)]
pub struct ModelsArgs {}

/// Runs `homeml experiments`.
pub fn experiments(_args: ExperimentsArgs) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
/// Runs `homeml runs`.
pub fn runs(_args: RunsArgs) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
/// Runs `homeml models`.
pub fn models(_args: ModelsArgs) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
