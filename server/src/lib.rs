//! homeml-server: a hyper/tokio inference server for MLmodel-described models.
//!
//! The way of one prediction: accept ([`http`]: keep-alive, limits) -> route ([`router`]) -> decode
//! into a typed batch checked against the model's signature ([`protocol`]) -> enqueue on the model's
//! [`batcher`] -> one model call on a compute thread -> split the rows back -> encode in the request's
//! protocol. Every error is an [`error::ApiError`] mapped to one status per protocol.
//!
//! - [`admin`]: the admin token of the model-management routes.
//! - [`config`]: [`ServerConfig`] and [`ModelConfig`], from flags or `serve.toml`.
//! - [`http`]: [`Server::start`] and [`ServerHandle`] (address, graceful shutdown).
//! - [`router`]: the routing table (MLflow scoring, KServe V2, `/predict`, `/metrics`).
//! - [`batcher`]: per-model adaptive batching with a bounded queue and deadlines.
//! - [`manager`]: models loaded, unloaded and reloaded at run time; readiness.
//! - [`resolve`]: model URIs to model directories.
//! - [`metrics`]: Prometheus metrics.
//! - `missing`: requests holding missing values (NaN) refused for models that cannot use them.
//! - [`flavors`]: the built-in flavors ([`builtin_registry`]).
//! - [`protocol`]: decoding requests and encoding answers for MLflow scoring, KServe V2 and `/predict`.
//! - [`decode`]: the one entry point from a request's protocol, headers and body to model inputs.
//! - [`error`]: the one mapping from errors to HTTP statuses and bodies per protocol.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use homeml_server::{builtin_registry, ModelConfig, Server, ServerConfig};
//! let mut config = ServerConfig { port: 0, ..ServerConfig::default() };
//! config.models.push(ModelConfig::new("/path/to/model-dir"));
//! let server = Server::start(config, builtin_registry()).await?;
//! println!("listening on {}", server.addr());
//! server.shutdown_and_wait().await;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod admin;
pub mod batcher;
mod body;
mod budget;
pub mod config;
mod conns;
pub mod decode;
pub mod error;
pub mod flavors;
pub mod http;
pub mod manager;
pub mod metrics;
mod missing;
pub mod protocol;
pub mod resolve;
pub mod router;
pub mod shutdown;

pub use admin::AdminToken;
pub use config::{Limits, ModelConfig, ServerConfig};
pub use flavors::builtin_registry;
pub use http::{Server, ServerError, ServerHandle};
