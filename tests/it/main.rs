//! The root crate's integration tests as one binary (one module per former `tests/*.rs` file): the workspace is linked once, not once per file.

mod common;
#[path = "../../flavors/plugin-example/tests/it/support.rs"]
mod support;

mod deploy_lint;
mod deploy_manifests;
mod gateway_serve;
mod plugin_cli;
mod plugin_serve;
mod plugin_truncated;
mod plugin_tutorial;
mod quickstart;
mod serve_alias_reload;
#[cfg(feature = "ort")]
mod serve_ort;
mod tracking_hostile;
mod tracking_server;
mod trees;
mod ui;
