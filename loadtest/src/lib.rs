//! `homeml-loadtest`: an HTTP/1.1 keep-alive load generator with HDR latency histograms.
//!
//! Two load models are supported:
//!
//! * **closed loop** — `connections` virtual clients, each sending its next request as soon as the
//!   previous answer has arrived;
//! * **open loop** — a fixed `rate` of requests per second spread over the connections. Every request
//!   has an *intended* send time on a fixed schedule and its latency is measured from that time, so a
//!   server that stalls is charged for every request it delayed (the "coordinated omission"
//!   correction popularised by wrk2).
//!
//! The entry point is [`run`] (async) or [`run_blocking`] (builds its own small tokio runtime). The
//! result is a [`Report`], which renders as text ([`Report::to_text`]), JSON (serde) and an SVG
//! percentile plot ([`svg::render`]).
#![warn(missing_docs)]

pub mod body;
pub mod config;
pub mod report;
mod runner;
pub mod svg;

pub use body::{BodySpec, Protocol};
pub use config::{parse_duration, Config, Mode, Target};
pub use report::{ErrorCounts, LatencySummary, Report, REPORT_SCHEMA};
pub use runner::{run, run_blocking};

/// Errors of the load tester.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid (bad URL, zero connections, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A request body could not be read or built.
    #[error("request body: {0}")]
    Body(String),
    /// The tokio runtime could not be built.
    #[error("runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// The latency histogram could not be created or merged.
    #[error("histogram: {0}")]
    Histogram(String),
    /// A load task failed unexpectedly.
    #[error("load task: {0}")]
    Task(String),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
