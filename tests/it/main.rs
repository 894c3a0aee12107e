//! The root crate's integration tests as one binary (one module per former `tests/*.rs` file): the workspace is linked once, not once per file.

mod backend;
mod common;
#[path = "../../flavors/plugin-example/tests/it/support.rs"]
mod support;

mod deploy_lint;
mod deploy_manifests;
mod deploy_variants;
mod gateway_serve;
mod missing_values;
mod object_store_faults;
mod object_store_gcs;
mod object_store_s3;
mod plugin_cli;
mod plugin_serve;
mod plugin_truncated;
mod plugin_tutorial;
mod quickstart;
mod serve_alias_reload;
mod serve_memory;
#[cfg(feature = "ort")]
mod serve_ort;
mod sql_schema;
mod tracking_hostile;
mod tracking_migrate;
mod tracking_remote;
mod tracking_server;
mod tracking_server_auth;
mod tracking_server_concurrency;
mod tracking_server_diff;
mod tracking_server_interop;
mod tracking_server_security;
mod tracking_sql_cli;
mod tracking_sql_concurrency;
mod tracking_sql_interop;
mod tracking_ui;
mod trees;
mod ui;
