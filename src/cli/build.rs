//! `homeml build`.

/// Arguments of `homeml build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {}

/// Runs `homeml build`.
pub fn run(_args: BuildArgs) -> anyhow::Result<()> {
    anyhow::bail!("homeml build is not built yet")
}
