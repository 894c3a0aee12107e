//! The SQLite side of [`super::db::Conn`] (rusqlite, the SQLite library compiled in).

use rusqlite::types::{Value as SqlValue, ValueRef};

use super::common::{DbError, DbErrorKind, Row, Val};

/// Opens a connection with the settings every store connection gets: a busy timeout so several
/// processes take turns, foreign keys as SQLAlchemy leaves them (off), case-sensitive `LIKE` as
/// MLflow's grammar means it, and WAL so readers never wait for a writer.
pub(crate) fn open(path: &str) -> Result<rusqlite::Connection, DbError> {
    let c = rusqlite::Connection::open(path).map_err(db_error)?;
    c.busy_timeout(std::time::Duration::from_secs(60))
        .map_err(db_error)?;
    c.execute_batch("PRAGMA case_sensitive_like = ON;")
        .map_err(db_error)?;
    // WAL is a property of the file: set once, kept; refused on some file systems (then the
    // default rollback journal stays, which is correct, only slower).
    let _ = c.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()));
    Ok(c)
}

/// Maps a rusqlite error to its kind.
pub(crate) fn db_error(e: rusqlite::Error) -> DbError {
    let kind = match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            rusqlite::ErrorCode::ConstraintViolation => DbErrorKind::Unique,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                DbErrorKind::Busy
            }
            _ => DbErrorKind::Other,
        },
        _ => DbErrorKind::Other,
    };
    DbError {
        kind,
        message: e.to_string(),
    }
}

fn to_sql(v: &Val) -> SqlValue {
    match v {
        Val::Null => SqlValue::Null,
        Val::Int(i) => SqlValue::Integer(*i),
        Val::Real(f) => SqlValue::Real(*f),
        Val::Text(s) => SqlValue::Text(s.clone()),
    }
}

pub(crate) fn exec(c: &rusqlite::Connection, sql: &str, params: &[Val]) -> Result<u64, DbError> {
    let mut st = c.prepare_cached(sql).map_err(db_error)?;
    let n = st
        .execute(rusqlite::params_from_iter(params.iter().map(to_sql)))
        .map_err(db_error)?;
    Ok(n as u64)
}

pub(crate) fn query(
    c: &rusqlite::Connection,
    sql: &str,
    params: &[Val],
) -> Result<Vec<Row>, DbError> {
    let mut st = c.prepare_cached(sql).map_err(db_error)?;
    let ncol = st.column_count();
    let mut rows = st
        .query(rusqlite::params_from_iter(params.iter().map(to_sql)))
        .map_err(db_error)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db_error)? {
        let mut row = Vec::with_capacity(ncol);
        for i in 0..ncol {
            row.push(match r.get_ref(i).map_err(db_error)? {
                ValueRef::Null => Val::Null,
                ValueRef::Integer(i) => Val::Int(i),
                ValueRef::Real(f) => Val::Real(f),
                ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Val::Text(String::from_utf8_lossy(b).into_owned()),
            });
        }
        out.push(row);
    }
    Ok(out)
}
