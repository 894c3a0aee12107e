//! One module per subcommand; each has its clap `Args` and a `run`.

pub mod build;
pub mod flavors;
pub mod gateway;
pub mod logging;
pub mod probe;
pub mod quickstart;
pub mod serve;
pub mod tracking;
pub mod ui;
