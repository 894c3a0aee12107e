//! The PostgreSQL side of [`super::db::Conn`] (the synchronous `postgres` crate). Parameters are
//! bound by the type the server infers for each placeholder, so one [`Val`] fits INTEGER, BIGINT,
//! BOOLEAN, DOUBLE PRECISION and VARCHAR columns alike.

use std::error::Error as _;

use postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

use super::common::{DbError, DbErrorKind, Row, Val};

/// Maps a postgres error to its kind (SQLSTATE 23505 unique violation, 40001/40P01 conflicts,
/// 08xxx/57P0x connection and shutdown states).
pub(crate) fn db_error(e: postgres::Error) -> DbError {
    let code = e.code().map(|c| c.code().to_string()).unwrap_or_default();
    let kind = if code == "23505" {
        DbErrorKind::Unique
    } else if code == "40001"
        || code == "40P01"
        || code.starts_with("08")
        || code.starts_with("57P")
        || e.is_closed()
        || code.is_empty() && e.source().is_some_and(|s| s.is::<std::io::Error>())
    {
        DbErrorKind::Busy
    } else {
        DbErrorKind::Other
    };
    let message = match (e.as_db_error(), e.source()) {
        (Some(d), _) => format!("{}: {}", d.code().code(), d.message()),
        (None, Some(src)) => format!("{e}: {src}"),
        (None, None) => e.to_string(),
    };
    DbError { kind, message }
}

/// `?` placeholders to `$1, $2, ...` (the store's SQL has no `?` inside string literals).
fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}

impl ToSql for Val {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(i) => match *ty {
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                    i.to_string().to_sql(ty, out)
                }
                _ => i.to_sql(ty, out),
            },
            Val::Real(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                Type::INT8 => (*f as i64).to_sql(ty, out),
                Type::INT4 => (*f as i32).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => f.to_string().to_sql(ty, out),
                _ => f.to_sql(ty, out),
            },
            Val::Text(s) => match *ty {
                Type::INT8 => s.trim().parse::<i64>()?.to_sql(ty, out),
                Type::INT4 => s.trim().parse::<i32>()?.to_sql(ty, out),
                Type::FLOAT8 => s.trim().parse::<f64>()?.to_sql(ty, out),
                _ => s.as_str().to_sql(ty, out),
            },
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Any column read into a [`Val`].
struct AnyVal(Val);

impl<'a> FromSql<'a> for AnyVal {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(AnyVal(match *ty {
            Type::INT2 => Val::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::INT4 => Val::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT8 => Val::Int(i64::from_sql(ty, raw)?),
            Type::BOOL => Val::Int(i64::from(bool::from_sql(ty, raw)?)),
            Type::FLOAT4 => Val::Real(f64::from(f32::from_sql(ty, raw)?)),
            Type::FLOAT8 => Val::Real(f64::from_sql(ty, raw)?),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                Val::Text(String::from_sql(ty, raw)?)
            }
            _ => Val::Text(String::from_utf8_lossy(raw).into_owned()),
        }))
    }

    fn from_sql_null(_ty: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(AnyVal(Val::Null))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

fn refs(params: &[Val]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

pub(crate) fn exec(c: &mut postgres::Client, sql: &str, params: &[Val]) -> Result<u64, DbError> {
    let st = c.prepare(&placeholders(sql)).map_err(db_error)?;
    c.execute(&st, &refs(params)).map_err(db_error)
}

pub(crate) fn query(
    c: &mut postgres::Client,
    sql: &str,
    params: &[Val],
) -> Result<Vec<Row>, DbError> {
    let st = c.prepare(&placeholders(sql)).map_err(db_error)?;
    let rows = c.query(&st, &refs(params)).map_err(db_error)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let mut row = Vec::with_capacity(r.len());
        for i in 0..r.len() {
            let v: AnyVal = r.try_get(i).map_err(db_error)?;
            row.push(v.0);
        }
        out.push(row);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered() {
        assert_eq!(
            super::placeholders("SELECT a FROM t WHERE b = ? AND c IN (?, ?)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
        );
    }
}
