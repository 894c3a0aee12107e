//! `homeml ui`.

/// Arguments of `homeml ui`.
#[derive(Debug, clap::Args)]
pub struct UiArgs {}

/// Runs `homeml ui`.
pub fn run(_args: UiArgs) -> anyhow::Result<()> {
    anyhow::bail!("homeml ui is not built yet")
}
