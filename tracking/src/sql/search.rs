//! MLflow search filters and order_by lists ([`crate::search`]'s AST) translated to SQL over MLflow's
//! tables: attributes are columns, metrics/params/tags are `EXISTS` subqueries on their tables
//! (and scalar subqueries when ordering, missing values last in both directions), pages are
//! `LIMIT`/`OFFSET` with MLflow's offset tokens.

use super::common::{marks, Val};
use crate::api::Page;
use crate::error::{Result, TrackingError};
use crate::search::{
    page, parse_order_by, Comparison, Dialect, Filter, KeyType, Literal, Op, OrderBy, SearchError,
};

/// A key table of a searched object: `SELECT 1 FROM <table> k WHERE <link> AND k.<key> = ?`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyTable {
    /// The table.
    pub(crate) table: &'static str,
    /// The condition linking a row `k` of it to the searched row (`k.run_uuid = r.run_uuid`).
    pub(crate) link: &'static str,
    /// Its key column.
    pub(crate) key: &'static str,
    /// Its value column.
    pub(crate) value: &'static str,
    /// A boolean column telling that the value is NaN (metrics), if any.
    pub(crate) nan: Option<&'static str>,
}

/// How one kind of searched object maps keys to SQL.
pub(crate) trait Target {
    /// The SQL expression of an attribute (the parser's canonical name).
    fn attribute(&self, key: &str) -> Option<String>;
    /// The table of metrics, params or tags.
    fn key_table(&self, key_type: KeyType) -> Option<KeyTable>;
    /// The `EXISTS (...)` for a `datasets.<key>` clause, with `{cmp}` where the comparison on the
    /// dataset's column goes, and that column.
    fn dataset(&self, _key: &str) -> Option<(String, &'static str)> {
        None
    }
    /// A literal rewritten for an attribute's column (logged model status names to numbers).
    fn literal(&self, _key: &str, value: &Literal) -> Literal {
        value.clone()
    }
}

pub(crate) fn search_error(e: SearchError) -> TrackingError {
    TrackingError::InvalidValue {
        what: "search",
        reason: e.0,
    }
}

fn num(n: f64) -> Val {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Val::Int(n as i64)
    } else {
        Val::Real(n)
    }
}

/// `<col> <op> <value>` with its parameters (`None`: a comparison that never holds).
fn compare(col: &str, op: Op, value: &Literal, params: &mut Vec<Val>) -> String {
    let bind = |params: &mut Vec<Val>, v: &Literal| match v {
        Literal::Str(s) => params.push(Val::Text(s.clone())),
        Literal::Num(n) => params.push(num(*n)),
        _ => params.push(Val::Null),
    };
    match op {
        Op::IsNull => format!("{col} IS NULL"),
        Op::IsNotNull => format!("{col} IS NOT NULL"),
        Op::In | Op::NotIn => {
            let Literal::List(items) = value else {
                return "1 = 0".into();
            };
            if items.is_empty() {
                return if op == Op::In { "1 = 0" } else { "1 = 1" }.into();
            }
            for i in items {
                params.push(Val::Text(i.clone()));
            }
            format!(
                "{col} {} ({})",
                if op == Op::In { "IN" } else { "NOT IN" },
                marks(items.len())
            )
        }
        Op::Like => {
            bind(params, value);
            format!("{col} LIKE ?")
        }
        Op::ILike => {
            bind(params, value);
            format!("lower({col}) LIKE lower(?)")
        }
        Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            bind(params, value);
            let sym = match op {
                Op::Eq => "=",
                Op::Ne => "!=",
                Op::Lt => "<",
                Op::Le => "<=",
                Op::Gt => ">",
                _ => ">=",
            };
            format!("{col} {sym} ?")
        }
    }
}

/// One clause as a SQL condition on the searched row.
fn clause(t: &dyn Target, c: &Comparison, params: &mut Vec<Val>) -> Result<String> {
    match c.key_type {
        KeyType::Attribute => {
            let col = t
                .attribute(&c.key)
                .ok_or_else(|| TrackingError::InvalidValue {
                    what: "search",
                    reason: format!("Invalid attribute key '{}' specified", c.key),
                })?;
            let value = t.literal(&c.key, &c.value);
            Ok(compare(&col, c.op, &value, params))
        }
        KeyType::Dataset => {
            let (exists, col) = t
                .dataset(&c.key)
                .ok_or_else(|| TrackingError::InvalidValue {
                    what: "search",
                    reason: format!("Invalid dataset key '{}'", c.key),
                })?;
            let cmp = compare(col, c.op, &c.value, params);
            Ok(exists.replace("{cmp}", &cmp))
        }
        kt => {
            let k = t.key_table(kt).ok_or_else(|| TrackingError::InvalidValue {
                what: "search",
                reason: format!("Invalid entity type in clause on '{}'", c.key),
            })?;
            params.push(Val::Text(c.key.clone()));
            let head = format!(
                "SELECT 1 FROM {} k WHERE {} AND k.{} = ?",
                k.table, k.link, k.key
            );
            let col = format!("k.{}", k.value);
            Ok(match c.op {
                Op::IsNull => format!("NOT EXISTS ({head})"),
                Op::IsNotNull => format!("EXISTS ({head})"),
                op => {
                    let cmp = compare(&col, op, &c.value, params);
                    let cmp = match k.nan {
                        Some(nan) if op == Op::Ne => format!("(k.{nan} OR {cmp})"),
                        Some(nan) => format!("NOT k.{nan} AND {cmp}"),
                        None => cmp,
                    };
                    format!("EXISTS ({head} AND {cmp})")
                }
            })
        }
    }
}

/// The `AND`ed conditions of a filter (empty when it has no clauses).
pub(crate) fn where_sql(t: &dyn Target, f: &Filter, params: &mut Vec<Val>) -> Result<Vec<String>> {
    f.clauses.iter().map(|c| clause(t, c, params)).collect()
}

/// `ORDER BY` terms for an order_by list (missing values last), then the default terms.
pub(crate) fn order_sql(
    t: &dyn Target,
    orders: &[OrderBy],
    default: &str,
    params: &mut Vec<Val>,
) -> Result<String> {
    let mut terms = Vec::new();
    for o in orders {
        let expr = match o.key_type {
            KeyType::Attribute => {
                t.attribute(&o.key)
                    .ok_or_else(|| TrackingError::InvalidValue {
                        what: "search",
                        reason: format!("Invalid order_by key '{}'", o.key),
                    })?
            }
            kt => {
                let k = t.key_table(kt).ok_or_else(|| TrackingError::InvalidValue {
                    what: "search",
                    reason: format!("Invalid order_by clause on '{}'", o.key),
                })?;
                // The key appears twice (IS NULL test, then the value): bind it twice.
                params.push(Val::Text(o.key.clone()));
                params.push(Val::Text(o.key.clone()));
                let sub = format!(
                    "(SELECT k.{} FROM {} k WHERE {} AND k.{} = ? LIMIT 1)",
                    k.value, k.table, k.link, k.key
                );
                terms.push(format!("({sub} IS NULL)"));
                terms.push(format!(
                    "{sub} {}",
                    if o.ascending { "ASC" } else { "DESC" }
                ));
                continue;
            }
        };
        terms.push(format!("({expr} IS NULL)"));
        terms.push(format!(
            "{expr} {}",
            if o.ascending { "ASC" } else { "DESC" }
        ));
    }
    terms.push(default.to_string());
    Ok(terms.join(", "))
}

/// The offset a page token stands for.
pub(crate) fn offset(token: Option<&str>) -> Result<usize> {
    page::decode(token).map_err(search_error)
}

/// A page from rows fetched with `LIMIT max + 1 OFFSET offset`.
pub(crate) fn page_of<T>(mut items: Vec<T>, max: usize, offset: usize) -> Page<T> {
    let more = items.len() > max;
    items.truncate(max);
    Page {
        items,
        next_page_token: more.then(|| page::encode(offset + max)),
    }
}

pub(crate) fn bad_max_results(max: usize, limit: usize) -> TrackingError {
    TrackingError::InvalidValue {
        what: "max_results",
        reason: format!(
            "Invalid value {max} for parameter 'max_results' supplied. It must be a positive integer at most {limit}"
        ),
    }
}

pub(crate) fn parse_orders(order_by: &[String], dialect: Dialect) -> Result<Vec<OrderBy>> {
    order_by
        .iter()
        .filter(|o| !o.trim().is_empty())
        .map(|o| parse_order_by(o, dialect).map_err(search_error))
        .collect()
}
