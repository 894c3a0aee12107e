//! The SQL tracking store: [`SqlStore`] implements [`crate::TrackingStore`] on MLflow's own schema
//! (the Alembic head of the pinned MLflow), in SQLite (`sqlite:///path.db`) or PostgreSQL
//! (`postgresql://user:pass@host:port/db`). Real `mlflow server` and `homeml server` can share one
//! database and read each other's writes.
//!
//! Every call takes a pooled connection; every write is one transaction (a log-batch that fails
//! writes nothing), retried whole when it lost a race with another writer (another process's
//! unique key, a PostgreSQL serialization failure). Searches are filtered, ordered and paged in
//! SQL; only the page's runs are read.

mod common;
mod db;
mod experiments;
mod handle;
mod logged_models;
mod migrate;
mod migrate_check;
mod migrate_source;
mod migrate_target;
mod pg;
mod pool;
mod registry;
mod resolve;
mod runs;
pub mod schema;
mod search;
mod sqlite;
mod store_impl;

pub use handle::{is_sql_uri, SqlStore};
pub use migrate::{migrate, MigrateError, MigrateOptions, MigrateReport};
pub use schema::ALEMBIC_HEAD;

#[cfg(test)]
mod store_tests;
