//! homeml-server: a hyper/tokio inference server for MLmodel-described models.
//!
//! - [`protocol`]: decoding requests and encoding answers for MLflow scoring, KServe V2 and `/predict`.
//! - [`error`]: the one mapping from errors to HTTP statuses and bodies per protocol.
#![warn(missing_docs)]

pub mod error;
pub mod protocol;
