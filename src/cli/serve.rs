//! `homeml serve`.

/// Arguments of `homeml serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

/// Runs `homeml serve`.
pub fn run(_args: ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!("homeml serve is not built yet")
}
