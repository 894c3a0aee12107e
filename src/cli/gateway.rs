//! `homeml gateway`.

/// Arguments of `homeml gateway`.
#[derive(Debug, clap::Args)]
pub struct GatewayArgs {}

/// Runs `homeml gateway`.
pub fn run(_args: GatewayArgs) -> anyhow::Result<()> {
    anyhow::bail!("homeml gateway is not built yet")
}
