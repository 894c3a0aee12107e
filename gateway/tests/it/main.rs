//! homeml-gateway's integration tests as one binary, one module per concern.

mod common;

mod access_log;
mod client;
mod gateway;
