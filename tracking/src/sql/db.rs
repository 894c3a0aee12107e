//! The two SQL engines behind one small interface: a connection runs statements with positional
//! `?` parameters over dynamically typed [`Val`]ues and returns rows of them. The store's SQL is
//! written once in the subset both SQLite and PostgreSQL understand; [`Conn`] adapts placeholders
//! and types.

use crate::error::{Result, TrackingError};

/// A value bound to a statement or read from a row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    /// SQL NULL.
    Null,
    /// An integer (INTEGER, BIGINT, BOOLEAN as 0/1).
    Int(i64),
    /// A double (FLOAT).
    Real(f64),
    /// Text (VARCHAR, TEXT).
    Text(String),
}

impl Val {
    /// The value as text (`None` for NULL; numbers formatted).
    pub(crate) fn text(&self) -> Option<String> {
        match self {
            Val::Null => None,
            Val::Int(i) => Some(i.to_string()),
            Val::Real(f) => Some(f.to_string()),
            Val::Text(s) => Some(s.clone()),
        }
    }

    /// The value as an integer (`None` for NULL or text that is no number).
    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            Val::Null => None,
            Val::Int(i) => Some(*i),
            Val::Real(f) => Some(*f as i64),
            Val::Text(s) => s.trim().parse().ok(),
        }
    }

    /// The value as a double.
    pub(crate) fn real(&self) -> Option<f64> {
        match self {
            Val::Null => None,
            Val::Int(i) => Some(*i as f64),
            Val::Real(f) => Some(*f),
            Val::Text(s) => s.trim().parse().ok(),
        }
    }
}

impl From<&str> for Val {
    fn from(s: &str) -> Val {
        Val::Text(s.to_string())
    }
}
impl From<String> for Val {
    fn from(s: String) -> Val {
        Val::Text(s)
    }
}
impl From<&String> for Val {
    fn from(s: &String) -> Val {
        Val::Text(s.clone())
    }
}
impl From<i64> for Val {
    fn from(i: i64) -> Val {
        Val::Int(i)
    }
}
impl From<f64> for Val {
    fn from(f: f64) -> Val {
        Val::Real(f)
    }
}
impl From<bool> for Val {
    fn from(b: bool) -> Val {
        Val::Int(i64::from(b))
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Val {
        v.map_or(Val::Null, Into::into)
    }
}

/// One result row.
pub(crate) type Row = Vec<Val>;

/// Which engine a connection talks to (for the few statements that differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    /// SQLite through rusqlite.
    Sqlite,
    /// PostgreSQL through the postgres crate.
    Postgres,
}

/// What a database error means to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DbErrorKind {
    /// A primary key or unique constraint was violated.
    Unique,
    /// The database is busy or the transaction lost a conflict: retrying may succeed.
    Busy,
    /// Anything else.
    Other,
}

/// A database error with its kind.
#[derive(Debug)]
pub(crate) struct DbError {
    pub(crate) kind: DbErrorKind,
    pub(crate) message: String,
}

impl From<DbError> for TrackingError {
    fn from(e: DbError) -> TrackingError {
        match e.kind {
            DbErrorKind::Busy => TrackingError::Unavailable {
                reason: format!("the database is busy or unreachable, retry: {}", e.message),
            },
            _ => TrackingError::Database { message: e.message },
        }
    }
}

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

/// The first column of the first row, when there is one.
pub(crate) fn first(rows: Vec<Row>) -> Option<Val> {
    rows.into_iter().next().and_then(|r| r.into_iter().next())
}

/// `?, ?, ?` for `n` parameters (`NULL` for none, so `IN (NULL)` matches nothing).
pub(crate) fn marks(n: usize) -> String {
    if n == 0 {
        return "NULL".into();
    }
    vec!["?"; n].join(", ")
}
