//! The parser: tokens to [`Filter`] and [`OrderBy`], checking keys, comparators and value types per
//! [`Dialect`] the way MLflow's `SearchUtils` does.

use super::ast::{Comparison, Dialect, Filter, KeyType, Literal, Op, OrderBy, SearchError};
use super::lexer::{tokenize, Tok};

/// How an attribute compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AttrKind {
    Str,
    Num,
}

/// The canonical name and kind of an attribute in a dialect (`None`: not an attribute there).
fn attribute(dialect: Dialect, name: &str) -> Option<(&'static str, AttrKind)> {
    use AttrKind::{Num, Str};
    let n = name.to_ascii_lowercase();
    let hit = match dialect {
        Dialect::Runs => match n.as_str() {
            "run_id" | "run_uuid" => ("run_id", Str),
            "run_name" | "name" => ("run_name", Str),
            "status" => ("status", Str),
            "user_id" | "user" => ("user_id", Str),
            "artifact_uri" => ("artifact_uri", Str),
            "lifecycle_stage" => ("lifecycle_stage", Str),
            "experiment_id" => ("experiment_id", Str),
            "start_time" | "created" => ("start_time", Num),
            "end_time" => ("end_time", Num),
            _ => return None,
        },
        Dialect::Experiments => match n.as_str() {
            "name" => ("name", Str),
            "experiment_id" => ("experiment_id", Str),
            "lifecycle_stage" => ("lifecycle_stage", Str),
            "artifact_location" => ("artifact_location", Str),
            "creation_time" => ("creation_time", Num),
            "last_update_time" => ("last_update_time", Num),
            _ => return None,
        },
        Dialect::RegisteredModels => match n.as_str() {
            "name" => ("name", Str),
            "description" => ("description", Str),
            "creation_timestamp" | "timestamp" => ("creation_timestamp", Num),
            "last_updated_timestamp" => ("last_updated_timestamp", Num),
            _ => return None,
        },
        Dialect::ModelVersions => match n.as_str() {
            "name" => ("name", Str),
            "run_id" => ("run_id", Str),
            "source" | "source_path" => ("source", Str),
            "model_id" => ("model_id", Str),
            "current_stage" => ("current_stage", Str),
            "description" => ("description", Str),
            "version" | "version_number" => ("version", Num),
            "creation_timestamp" | "timestamp" => ("creation_timestamp", Num),
            "last_updated_timestamp" => ("last_updated_timestamp", Num),
            _ => return None,
        },
        Dialect::LoggedModels => match n.as_str() {
            "name" => ("name", Str),
            "model_id" => ("model_id", Str),
            "experiment_id" => ("experiment_id", Str),
            "source_run_id" => ("source_run_id", Str),
            "status" => ("status", Str),
            "model_type" => ("model_type", Str),
            "creation_timestamp" | "creation_time" => ("creation_timestamp", Num),
            "last_updated_timestamp" => ("last_updated_timestamp", Num),
            _ => return None,
        },
    };
    Some(hit)
}

fn key_type_of(head: &str) -> Option<KeyType> {
    Some(match head.to_ascii_lowercase().as_str() {
        "metric" | "metrics" => KeyType::Metric,
        "param" | "params" | "parameter" | "parameters" => KeyType::Param,
        "tag" | "tags" => KeyType::Tag,
        "attribute" | "attributes" | "attr" | "run" => KeyType::Attribute,
        "dataset" | "datasets" => KeyType::Dataset,
        _ => return None,
    })
}

fn allowed_types(dialect: Dialect) -> &'static [KeyType] {
    match dialect {
        Dialect::Runs => &[
            KeyType::Metric,
            KeyType::Param,
            KeyType::Tag,
            KeyType::Attribute,
            KeyType::Dataset,
        ],
        Dialect::LoggedModels => &[
            KeyType::Metric,
            KeyType::Param,
            KeyType::Tag,
            KeyType::Attribute,
        ],
        Dialect::Experiments | Dialect::RegisteredModels | Dialect::ModelVersions => {
            &[KeyType::Tag, KeyType::Attribute]
        }
    }
}

/// A key: its type, canonical name, and for attributes their kind.
fn resolve_key(
    parts: &[String],
    dialect: Dialect,
) -> Result<(KeyType, String, Option<AttrKind>), SearchError> {
    let (key_type, key) = match parts {
        [one] => (KeyType::Attribute, one.clone()),
        [head, rest] => {
            let kt = key_type_of(head).ok_or_else(|| {
                SearchError(format!(
                    "Invalid entity type '{head}'. Valid values are {}",
                    type_names(dialect)
                ))
            })?;
            (kt, rest.clone())
        }
        _ => {
            return Err(SearchError(
                "Invalid identifier in search expression".into(),
            ))
        }
    };
    if !allowed_types(dialect).contains(&key_type) {
        return Err(SearchError(format!(
            "Invalid entity type '{}'. Valid values are {}",
            parts.first().map(String::as_str).unwrap_or(""),
            type_names(dialect)
        )));
    }
    if key.is_empty() {
        return Err(SearchError("Invalid identifier: the key is empty".into()));
    }
    match key_type {
        KeyType::Attribute => {
            let (name, kind) = attribute(dialect, &key)
                .ok_or_else(|| SearchError(format!("Invalid attribute key '{key}' specified")))?;
            Ok((key_type, name.to_string(), Some(kind)))
        }
        KeyType::Dataset => {
            let k = key.to_ascii_lowercase();
            if !matches!(k.as_str(), "name" | "digest" | "context") {
                return Err(SearchError(format!(
                    "Invalid dataset key '{key}'. Valid keys are name, digest and context"
                )));
            }
            Ok((key_type, k, Some(AttrKind::Str)))
        }
        _ => Ok((key_type, key, None)),
    }
}

fn type_names(dialect: Dialect) -> String {
    allowed_types(dialect)
        .iter()
        .map(|t| match t {
            KeyType::Metric => "['metric', 'metrics']",
            KeyType::Param => "['param', 'params', 'parameter', 'parameters']",
            KeyType::Tag => "['tag', 'tags']",
            KeyType::Attribute => "['attribute', 'attributes', 'attr', 'run']",
            KeyType::Dataset => "['dataset', 'datasets']",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn keyword(tok: Option<&Tok>) -> Option<String> {
    match tok {
        Some(Tok::Ident(p)) if p.len() == 1 => Some(p[0].to_ascii_uppercase()),
        _ => None,
    }
}

struct Parser {
    toks: Vec<Tok>,
    i: usize,
    dialect: Dialect,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.i).cloned();
        self.i += 1;
        t
    }

    fn op(&mut self) -> Result<Op, SearchError> {
        match self.next() {
            Some(Tok::Cmp(c)) => Ok(match c {
                "=" => Op::Eq,
                "!=" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                _ => Op::Ge,
            }),
            Some(Tok::Ident(p)) if p.len() == 1 => match p[0].to_ascii_uppercase().as_str() {
                "LIKE" => Ok(Op::Like),
                "ILIKE" => Ok(Op::ILike),
                "IN" => Ok(Op::In),
                "NOT" => match keyword(self.next().as_ref()).as_deref() {
                    Some("IN") => Ok(Op::NotIn),
                    Some("LIKE") | Some("ILIKE") => Err(SearchError(
                        "Invalid comparator 'NOT LIKE': it is not supported".into(),
                    )),
                    _ => Err(SearchError("Invalid comparator after 'NOT'".into())),
                },
                "IS" => match keyword(self.next().as_ref()).as_deref() {
                    Some("NULL") => Ok(Op::IsNull),
                    Some("NOT") => match keyword(self.next().as_ref()).as_deref() {
                        Some("NULL") => Ok(Op::IsNotNull),
                        _ => Err(SearchError("Expected NULL after 'IS NOT'".into())),
                    },
                    _ => Err(SearchError("Expected NULL or NOT NULL after 'IS'".into())),
                },
                other => Err(SearchError(format!("Invalid comparator '{other}'"))),
            },
            Some(t) => Err(SearchError(format!("Invalid comparator near {t:?}"))),
            None => Err(SearchError("Expected a comparator at the end".into())),
        }
    }

    fn list(&mut self) -> Result<Vec<String>, SearchError> {
        if self.next() != Some(Tok::LParen) {
            return Err(SearchError(
                "Expected a parenthesized list of strings after IN".into(),
            ));
        }
        let mut out = Vec::new();
        loop {
            match self.next() {
                Some(Tok::Str(s)) => out.push(s),
                Some(Tok::RParen) if out.is_empty() => break,
                _ => return Err(SearchError("While parsing a list in the query, expected string value, punctuation, or whitespace".into())),
            }
            match self.next() {
                Some(Tok::Comma) => continue,
                Some(Tok::RParen) => break,
                _ => return Err(SearchError("Expected ',' or ')' in a list".into())),
            }
        }
        Ok(out)
    }

    fn clause(&mut self) -> Result<Comparison, SearchError> {
        let parts = match self.next() {
            Some(Tok::Ident(p)) => p,
            Some(Tok::Str(s)) => vec![s],
            other => {
                return Err(SearchError(format!(
                    "Invalid clause: expected an identifier, got {}",
                    describe(other.as_ref())
                )))
            }
        };
        let (key_type, key, kind) = resolve_key(&parts, self.dialect)?;
        let op = self.op()?;
        let value = match op {
            Op::IsNull | Op::IsNotNull => Literal::None,
            Op::In | Op::NotIn => Literal::List(self.list()?),
            _ => match self.next() {
                Some(Tok::Str(s)) => Literal::Str(s),
                Some(Tok::Num(n)) => Literal::Num(n),
                other => {
                    return Err(SearchError(format!(
                        "Invalid value: expected a quoted string or a number, got {}",
                        describe(other.as_ref())
                    )))
                }
            },
        };
        check(key_type, &key, kind, op, value)
    }
}

fn describe(t: Option<&Tok>) -> String {
    match t {
        None => "the end of the filter".into(),
        Some(Tok::Ident(p)) => format!("'{}'", p.join(".")),
        Some(Tok::Str(s)) => format!("'{s}'"),
        Some(Tok::Num(n)) => format!("{n}"),
        Some(Tok::Cmp(c)) => format!("'{c}'"),
        Some(Tok::LParen) => "'('".into(),
        Some(Tok::RParen) => "')'".into(),
        Some(Tok::Comma) => "','".into(),
    }
}

/// Checks the comparator and value type of a clause against its key.
fn check(
    key_type: KeyType,
    key: &str,
    kind: Option<AttrKind>,
    op: Op,
    value: Literal,
) -> Result<Comparison, SearchError> {
    let bad_op = || {
        SearchError(format!(
            "Invalid comparator '{}' for {} '{key}'",
            op.as_str(),
            match key_type {
                KeyType::Metric => "metric",
                KeyType::Param => "param",
                KeyType::Tag => "tag",
                KeyType::Attribute => "attribute",
                KeyType::Dataset => "dataset",
            }
        ))
    };
    let numeric = matches!(key_type, KeyType::Metric) || kind == Some(AttrKind::Num);
    let ok_op = match op {
        Op::Eq | Op::Ne => true,
        Op::Lt | Op::Le | Op::Gt | Op::Ge => numeric,
        Op::Like | Op::ILike => !numeric,
        Op::In | Op::NotIn => matches!(key_type, KeyType::Attribute | KeyType::Dataset) && !numeric,
        Op::IsNull | Op::IsNotNull => {
            matches!(key_type, KeyType::Param | KeyType::Tag | KeyType::Metric)
        }
    };
    if !ok_op {
        return Err(bad_op());
    }
    let value = match value {
        Literal::Str(s) if numeric => match s.trim().parse::<f64>() {
            Ok(n) if key_type == KeyType::Attribute => Literal::Num(n),
            _ => {
                return Err(SearchError(format!(
                    "Expected numeric value type for {} '{key}'. Found '{s}'",
                    if key_type == KeyType::Metric { "metric" } else { "attribute" }
                )))
            }
        },
        Literal::Num(n) if !numeric => {
            return Err(SearchError(format!(
                "Value must be enclosed in quotes for '{key}' (found {n}): strings are compared as strings"
            )))
        }
        v => v,
    };
    Ok(Comparison {
        key_type,
        key: key.to_string(),
        op,
        value,
    })
}

/// Parses a filter string (empty or blank: match everything).
pub fn parse_filter(text: &str, dialect: Dialect) -> Result<Filter, SearchError> {
    let wrap = |e: SearchError| SearchError(format!("Error on parsing filter '{text}': {}", e.0));
    let toks = tokenize(text).map_err(wrap)?;
    let mut p = Parser {
        toks,
        i: 0,
        dialect,
    };
    let mut clauses = Vec::new();
    if p.peek().is_none() {
        return Ok(Filter { clauses });
    }
    loop {
        clauses.push(p.clause().map_err(wrap)?);
        match keyword(p.peek()).as_deref() {
            None if p.peek().is_none() => break,
            Some("AND") => {
                p.i += 1;
            }
            Some("OR") => {
                return Err(wrap(SearchError(
                    "'OR' is not supported: clauses can only be joined by 'AND'".into(),
                )))
            }
            _ => {
                return Err(wrap(SearchError(format!(
                    "Invalid clause: unexpected {}",
                    describe(p.peek())
                ))))
            }
        }
    }
    Ok(Filter { clauses })
}

/// Parses one order_by entry: `<key> [ASC|DESC]`.
pub fn parse_order_by(text: &str, dialect: Dialect) -> Result<OrderBy, SearchError> {
    let wrap = |e: SearchError| SearchError(format!("Invalid order_by clause '{text}': {}", e.0));
    let toks = tokenize(text).map_err(wrap)?;
    let mut it = toks.into_iter();
    let parts = match it.next() {
        Some(Tok::Ident(p)) => p,
        Some(Tok::Str(s)) => vec![s],
        other => {
            return Err(wrap(SearchError(format!(
                "expected a key, got {}",
                describe(other.as_ref())
            ))))
        }
    };
    let (key_type, key, _) = resolve_key(&parts, dialect).map_err(wrap)?;
    if key_type == KeyType::Dataset {
        return Err(wrap(SearchError("datasets cannot be ordered by".into())));
    }
    let ascending = match it.next() {
        None => true,
        Some(t) => match keyword(Some(&t)).as_deref() {
            Some("ASC") => true,
            Some("DESC") => false,
            _ => {
                return Err(wrap(SearchError(format!(
                    "expected ASC or DESC, got {}",
                    describe(Some(&t))
                ))))
            }
        },
    };
    if let Some(t) = it.next() {
        return Err(wrap(SearchError(format!(
            "unexpected {} after the direction",
            describe(Some(&t))
        ))));
    }
    Ok(OrderBy {
        key_type,
        key,
        ascending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_filters() {
        let f = parse_filter(
            "metrics.acc > 0.9 and params.lr = '0.1' AND tags.`mlflow.parentRunId` IS NULL AND attributes.run_id IN ('a', 'b') AND created >= 5",
            Dialect::Runs,
        )
        .unwrap();
        assert_eq!(f.clauses.len(), 5);
        assert_eq!(f.clauses[0].key_type, KeyType::Metric);
        assert_eq!(f.clauses[0].value, Literal::Num(0.9));
        assert_eq!(f.clauses[2].key, "mlflow.parentRunId");
        assert_eq!(f.clauses[2].op, Op::IsNull);
        assert_eq!(
            f.clauses[3].value,
            Literal::List(vec!["a".into(), "b".into()])
        );
        assert_eq!(f.clauses[4].key, "start_time");
        assert!(parse_filter("", Dialect::Runs).unwrap().clauses.is_empty());
        for bad in [
            "metrics.acc >>> 1",
            "metrics.acc > 'x'",
            "params.lr > '1'",
            "params.lr = 1",
            "metrics.a > 1 OR metrics.b > 1",
            "foo.bar = 'x'",
            "attributes.nope = 'x'",
            "metrics.acc",
            "metrics.acc > 1 AND",
            "tags.t = 'x' tags.u = 'y'",
            "attributes.run_id IN ('a' 'b')",
        ] {
            assert!(parse_filter(bad, Dialect::Runs).is_err(), "{bad}");
        }
    }

    #[test]
    fn other_dialects_and_order_by() {
        let f = parse_filter(
            "name ILIKE '%iris%' AND tags.`mlflow.prompt.is_prompt` != 'true'",
            Dialect::RegisteredModels,
        )
        .unwrap();
        assert_eq!(f.clauses[0].op, Op::ILike);
        assert!(parse_filter("metrics.a > 1", Dialect::Experiments).is_err());
        assert!(parse_filter("version = '2'", Dialect::ModelVersions).is_ok());
        let o = parse_order_by("metrics.acc DESC", Dialect::Runs).unwrap();
        assert_eq!(
            (o.key_type, o.key.as_str(), o.ascending),
            (KeyType::Metric, "acc", false)
        );
        let o = parse_order_by("last_update_time DESC", Dialect::Experiments).unwrap();
        assert_eq!(o.key, "last_update_time");
        assert!(parse_order_by("attributes.start_time sideways", Dialect::Runs).is_err());
        assert!(
            parse_order_by("name ASC", Dialect::RegisteredModels)
                .unwrap()
                .ascending
        );
    }
}
