//! homeml-gateway: typed apps with named features in front of model servers.
//!
//! Clients send named features (`{"sepal_length": 5.1, ...}`) to an app's route; the gateway checks
//! them against the app's typed features, builds the model server's request (KServe V2 or MLflow
//! scoring), routes it to one of the app's upstreams (weighted A/B, sticky, passive health, retries on
//! connect failure, timeouts, an optional shadow), and maps the answer to labels. It speaks HTTP only
//! and depends on no serving crate.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = homeml_gateway::GatewayConfig::from_path(std::path::Path::new("gateway.toml"))?;
//! let gateway = homeml_gateway::Gateway::new(&cfg)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! gateway.serve(listener, std::future::pending()).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod access_log;
mod answer;
pub mod auth;
mod body;
pub mod client;
pub mod config;
pub mod error;
pub mod feature_spec;
pub mod features;
pub mod gateway;
pub mod metrics;
#[cfg(test)]
mod mutator;
pub mod openapi;
pub mod output;
pub mod protocol;
pub mod routing;

pub use access_log::{AccessLog, AccessLogFormat};
pub use config::GatewayConfig;
pub use error::GatewayError;
pub use gateway::{App, BuildError, Gateway};
