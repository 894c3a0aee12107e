//! In-memory evaluation of a [`Filter`] and an order_by list over any object that can answer
//! "what is the value of this key" ([`Searchable`]). Used by the file store; a SQL store translates
//! the AST instead.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::ast::{Comparison, Filter, KeyType, Literal, Op, OrderBy};

/// The value of a key on an object.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// A string (params, tags, string attributes).
    Str(Cow<'a, str>),
    /// A number (metrics, times).
    Num(f64),
}

/// An object a filter is evaluated on.
pub trait Searchable {
    /// The value of `key` of type `key_type` (`None`: the object has no such key).
    fn value(&self, key_type: KeyType, key: &str) -> Option<Value<'_>>;

    /// Every value of a dataset key (`name`, `digest`, `context`) over the object's datasets.
    fn dataset_values(&self, _key: &str) -> Vec<String> {
        Vec::new()
    }
}

/// SQL `LIKE`: `%` any run of characters, `_` one character.
pub fn like(text: &str, pattern: &str, case_insensitive: bool) -> bool {
    let (t, p): (Vec<char>, Vec<char>) = if case_insensitive {
        (
            text.to_lowercase().chars().collect(),
            pattern.to_lowercase().chars().collect(),
        )
    } else {
        (text.chars().collect(), pattern.chars().collect())
    };
    let (mut ti, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || (p[pi] != '%' && p[pi] == t[ti])) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

fn compare_clause(c: &Comparison, v: Option<Value<'_>>) -> bool {
    match (c.op, v) {
        (Op::IsNull, v) => v.is_none(),
        (Op::IsNotNull, v) => v.is_some(),
        (_, None) => false,
        (op, Some(Value::Num(x))) => {
            let Literal::Num(y) = c.value else {
                return false;
            };
            match op {
                Op::Eq => x == y,
                Op::Ne => x != y,
                Op::Lt => x < y,
                Op::Le => x <= y,
                Op::Gt => x > y,
                Op::Ge => x >= y,
                _ => false,
            }
        }
        (op, Some(Value::Str(s))) => match (&c.value, op) {
            (Literal::Str(y), Op::Eq) => s.as_ref() == y,
            (Literal::Str(y), Op::Ne) => s.as_ref() != y,
            (Literal::Str(y), Op::Like) => like(&s, y, false),
            (Literal::Str(y), Op::ILike) => like(&s, y, true),
            (Literal::List(l), Op::In) => l.iter().any(|y| y == s.as_ref()),
            (Literal::List(l), Op::NotIn) => !l.iter().any(|y| y == s.as_ref()),
            (Literal::Num(y), Op::Eq) => s.parse::<f64>().is_ok_and(|x| x == *y),
            (Literal::Num(y), Op::Ne) => s.parse::<f64>().is_ok_and(|x| x != *y),
            _ => false,
        },
    }
}

/// Whether one clause holds for `obj`.
pub fn clause_matches(c: &Comparison, obj: &dyn Searchable) -> bool {
    if c.key_type == KeyType::Dataset {
        let values = obj.dataset_values(&c.key);
        return values
            .iter()
            .any(|v| compare_clause(c, Some(Value::Str(Cow::Borrowed(v)))));
    }
    compare_clause(c, obj.value(c.key_type, &c.key))
}

/// Whether every clause of `filter` holds for `obj`.
pub fn matches(filter: &Filter, obj: &dyn Searchable) -> bool {
    filter.clauses.iter().all(|c| clause_matches(c, obj))
}

fn cmp_values(a: &Value<'_>, b: &Value<'_>) -> Ordering {
    match (a, b) {
        (Value::Num(x), Value::Num(y)) => x.total_cmp(y),
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::Num(_), Value::Str(_)) => Ordering::Less,
        (Value::Str(_), Value::Num(_)) => Ordering::Greater,
    }
}

/// Orders two objects by an order_by list; objects missing a key come last whichever the direction.
/// Equal on every key: [`Ordering::Equal`] (the caller adds its own tie-breakers).
pub fn compare(order: &[OrderBy], a: &dyn Searchable, b: &dyn Searchable) -> Ordering {
    for o in order {
        let (va, vb) = (a.value(o.key_type, &o.key), b.value(o.key_type, &o.key));
        let ord = match (va, vb) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => {
                let ord = cmp_values(&x, &y);
                if o.ascending {
                    ord
                } else {
                    ord.reverse()
                }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{parse_filter, parse_order_by, Dialect};
    use std::collections::BTreeMap;

    struct Obj {
        metrics: BTreeMap<&'static str, f64>,
        tags: BTreeMap<&'static str, &'static str>,
        name: &'static str,
    }

    impl Searchable for Obj {
        fn value(&self, t: KeyType, key: &str) -> Option<Value<'_>> {
            match t {
                KeyType::Metric => self.metrics.get(key).map(|v| Value::Num(*v)),
                KeyType::Tag => self.tags.get(key).map(|v| Value::Str(Cow::Borrowed(*v))),
                KeyType::Attribute if key == "run_name" => {
                    Some(Value::Str(Cow::Borrowed(self.name)))
                }
                _ => None,
            }
        }
    }

    #[test]
    fn like_patterns() {
        assert!(like("iris-classifier", "%class%", false));
        assert!(like("abc", "a_c", false));
        assert!(!like("abc", "A%", false));
        assert!(like("abc", "A%", true));
        assert!(like("", "%", false));
        assert!(!like("ab", "a", false));
        assert!(like("a%b", "a%%b", false));
    }

    #[test]
    fn filters_and_orders() {
        let a = Obj {
            metrics: BTreeMap::from([("acc", 0.9)]),
            tags: BTreeMap::from([("t", "x")]),
            name: "alpha",
        };
        let b = Obj {
            metrics: BTreeMap::new(),
            tags: BTreeMap::new(),
            name: "beta",
        };
        let f = |s: &str| parse_filter(s, Dialect::Runs).unwrap();
        assert!(matches(&f("metrics.acc > 0.5"), &a));
        assert!(!matches(&f("metrics.acc > 0.5"), &b));
        assert!(!matches(&f("metrics.acc != 1"), &b));
        assert!(matches(&f("tags.t IS NULL"), &b));
        assert!(matches(&f("tags.t = 'x' AND run_name LIKE 'al%'"), &a));
        assert!(matches(&f("attributes.run_name NOT IN ('alpha')"), &b));
        let desc = [parse_order_by("metrics.acc DESC", Dialect::Runs).unwrap()];
        let asc = [parse_order_by("metrics.acc", Dialect::Runs).unwrap()];
        assert_eq!(compare(&desc, &a, &b), Ordering::Less);
        assert_eq!(compare(&asc, &a, &b), Ordering::Less, "missing comes last");
    }
}
