//! `homeml quickstart`.

/// Arguments of `homeml quickstart`.
#[derive(Debug, clap::Args)]
pub struct QuickstartArgs {}

/// Runs `homeml quickstart`.
pub fn run(_args: QuickstartArgs) -> anyhow::Result<()> {
    anyhow::bail!("homeml quickstart is not built yet")
}
