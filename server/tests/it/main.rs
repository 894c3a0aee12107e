//! homeml-server's integration tests as one binary, one module per concern.

mod protocol_common;
mod support;

mod admin;
mod batching;
mod hardening;
mod lifecycle;
mod limits;
mod missing;
mod protocol_http;
mod protocol_interop;
