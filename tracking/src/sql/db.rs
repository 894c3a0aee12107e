//! The two SQL engines behind one small interface: a connection runs statements with positional
//! `?` parameters over dynamically typed [`Val`]ues and returns rows of them. The store's SQL is
//! written once in the subset both SQLite and PostgreSQL understand; [`Conn`] adapts placeholders
//! and types.

use super::common::{DbError, Engine, Row, Val};

/// A connection of either engine.
pub(crate) enum Conn {
    /// SQLite.
    Sqlite(rusqlite::Connection),
    /// PostgreSQL.
    Postgres(Box<postgres::Client>),
}

impl Conn {
    /// Which engine.
    pub(crate) fn engine(&self) -> Engine {
        match self {
            Conn::Sqlite(_) => Engine::Sqlite,
            Conn::Postgres(_) => Engine::Postgres,
        }
    }

    /// Runs a statement, returning the number of rows changed.
    pub(crate) fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbError> {
        match self {
            Conn::Sqlite(c) => super::sqlite::exec(c, sql, params),
            Conn::Postgres(c) => super::pg::exec(c, sql, params),
        }
    }

    /// Runs a query, returning every row.
    pub(crate) fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, DbError> {
        match self {
            Conn::Sqlite(c) => super::sqlite::query(c, sql, params),
            Conn::Postgres(c) => super::pg::query(c, sql, params),
        }
    }

    /// Runs several statements without parameters (a schema script, `BEGIN`, ...).
    pub(crate) fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        match self {
            Conn::Sqlite(c) => c.execute_batch(sql).map_err(super::sqlite::db_error),
            Conn::Postgres(c) => c.batch_execute(sql).map_err(super::pg::db_error),
        }
    }

    /// Starts a write transaction (SQLite: `BEGIN IMMEDIATE`, taking the write lock now so two
    /// writers never deadlock on an upgrade).
    pub(crate) fn begin_write(&mut self) -> Result<(), DbError> {
        match self.engine() {
            Engine::Sqlite => self.batch("BEGIN IMMEDIATE"),
            Engine::Postgres => self.batch("BEGIN"),
        }
    }

    /// Whether the connection still works (checked before it is handed out again).
    pub(crate) fn is_broken(&mut self) -> bool {
        match self {
            Conn::Sqlite(_) => false,
            Conn::Postgres(c) => c.is_closed(),
        }
    }
}
