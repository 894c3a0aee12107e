//! `homeml flavors`.

/// Arguments of `homeml flavors`.
#[derive(Debug, clap::Args)]
pub struct FlavorsArgs {}

/// Runs `homeml flavors`.
pub fn run(_args: FlavorsArgs) -> anyhow::Result<()> {
    anyhow::bail!("homeml flavors is not built yet")
}
