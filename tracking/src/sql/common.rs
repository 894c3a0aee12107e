//! The pieces every part of the SQL store shares: dynamically typed values and rows, the engines,
//! database errors with their kind, the store's inner error and result types, small SQL helpers.

use crate::error::TrackingError;

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

/// An error inside a store call: the database's (kept with its kind, for retries) or the store's.
#[derive(Debug)]
pub(crate) enum SqlErr {
    /// From the database.
    Db(DbError),
    /// From the store's own checks (boxed: the error type is large).
    Store(Box<TrackingError>),
}

impl From<DbError> for SqlErr {
    fn from(e: DbError) -> SqlErr {
        SqlErr::Db(e)
    }
}

impl From<TrackingError> for SqlErr {
    fn from(e: TrackingError) -> SqlErr {
        SqlErr::Store(Box::new(e))
    }
}

impl From<SqlErr> for TrackingError {
    fn from(e: SqlErr) -> TrackingError {
        match e {
            SqlErr::Db(d) => d.into(),
            SqlErr::Store(t) => *t,
        }
    }
}

/// The result type inside the store.
pub(crate) type R<T> = std::result::Result<T, SqlErr>;

/// `root` + `/` + `child`, keeping a scheme's `:/` (`mlflow-artifacts:/` + `0` is
/// `mlflow-artifacts:/0`).
pub(crate) fn join_uri(root: &str, child: &str) -> String {
    if root.ends_with(":/") || root.ends_with(":///") {
        return format!("{root}{child}");
    }
    format!("{}/{child}", root.trim_end_matches('/'))
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

/// MLflow clamps infinities to the largest double and stores NaN as 0 with `is_nan`.
pub(crate) fn sanitize(v: f64) -> (f64, bool) {
    if v.is_nan() {
        (0.0, true)
    } else if v.is_infinite() {
        (f64::MAX.copysign(v), false)
    } else {
        (v, false)
    }
}

/// A stored value back: NaN when `is_nan`.
pub(crate) fn unsanitize(v: Option<f64>, is_nan: Option<i64>) -> f64 {
    if is_nan.unwrap_or(0) != 0 {
        f64::NAN
    } else {
        v.unwrap_or(0.0)
    }
}
