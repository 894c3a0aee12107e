//! Named features in, a row-major numeric batch out: the validation step of a request.
//!
//! A request body is one JSON object or a list of objects. Each object must hold exactly the app's
//! features (unknown fields are refused), with the configured types and bounds; absent optional
//! features take their default. Errors name the field (`sepal_length`, or `[3].sepal_length` in a batch).

use serde_json::Value;

use homeml_numjson::Scanner;

use crate::error::GatewayError;
pub use crate::feature_spec::check_value;
use crate::feature_spec::{toml_to_json, FeatureConfig, FeatureType};

/// A validated batch: `rows` rows of `width` values, row-major, in the app's feature order.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// The values, row-major.
    pub values: Vec<f64>,
    /// Values per row (the number of features).
    pub width: usize,
    /// Whether the request was a single object (not a list).
    pub single: bool,
}

impl Rows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.values.len().checked_div(self.width).unwrap_or(0)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// One row.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.width..(i + 1) * self.width]
    }
}

/// An app's features, ready to validate requests.
#[derive(Debug, Clone)]
pub struct FeatureSet {
    features: Vec<FeatureConfig>,
    /// The value of an absent feature: its default, NaN for an optional float without one, None if required.
    fill: Vec<Option<f64>>,
    max_rows: usize,
}

impl FeatureSet {
    /// Builds the set; `features` must have passed [`crate::config::GatewayConfig::check`].
    pub fn new(features: Vec<FeatureConfig>, max_rows: usize) -> Result<Self, String> {
        let mut fill = Vec::with_capacity(features.len());
        for f in &features {
            let v = match &f.default {
                Some(d) => Some(
                    check_value(f, &toml_to_json(d))
                        .map_err(|e| format!("{}: default {e}", f.name))?,
                ),
                None if !f.required => match f.kind {
                    FeatureType::Float => Some(f64::NAN),
                    _ => {
                        return Err(format!(
                            "{}: an optional non-float feature needs a default",
                            f.name
                        ))
                    }
                },
                None => None,
            };
            fill.push(v);
        }
        Ok(Self {
            features,
            fill,
            max_rows,
        })
    }

    /// The features in order.
    pub fn features(&self) -> &[FeatureConfig] {
        &self.features
    }

    /// Whether a feature must be sent.
    pub fn is_required(&self, i: usize) -> bool {
        self.fill[i].is_none()
    }

    /// Validates a parsed request body into rows.
    pub fn validate(&self, body: &Value) -> Result<Rows, GatewayError> {
        let width = self.features.len();
        match body {
            Value::Object(obj) => {
                let mut values = Vec::with_capacity(width);
                self.push_row(obj, None, &mut values)?;
                Ok(Rows {
                    values,
                    width,
                    single: true,
                })
            }
            Value::Array(items) => {
                if items.is_empty() {
                    return Err(GatewayError::Validation {
                        field: "$".into(),
                        message: "empty batch".into(),
                    });
                }
                if items.len() > self.max_rows {
                    return Err(GatewayError::Validation {
                        field: "$".into(),
                        message: format!(
                            "batch of {} rows, at most {} allowed",
                            items.len(),
                            self.max_rows
                        ),
                    });
                }
                let mut values = Vec::with_capacity(width * items.len());
                for (i, item) in items.iter().enumerate() {
                    let Value::Object(obj) = item else {
                        return Err(GatewayError::Validation {
                            field: format!("[{i}]"),
                            message: "expected an object of features".into(),
                        });
                    };
                    self.push_row(obj, Some(i), &mut values)?;
                }
                Ok(Rows {
                    values,
                    width,
                    single: false,
                })
            }
            _ => Err(GatewayError::Validation {
                field: "$".into(),
                message: "expected an object of features or a list of them".into(),
            }),
        }
    }

    /// Reads a plain request body straight from its bytes, without a `serde_json::Value` tree: an
    /// object (or a non-empty list of at most `max_rows` objects) of float features only, each key a
    /// feature at most once (printable ASCII, no escapes), each value a number within its bounds,
    /// absent features with a fill value. `None` for anything else, valid or not: then parse the body
    /// and call [`Self::validate`], whose rows (and errors) are the reference; where this returns
    /// rows, `validate` returns the same (the tests compare both).
    pub fn validate_plain(&self, body: &[u8]) -> Option<Rows> {
        let width = self.features.len();
        if width > 128 || self.features.iter().any(|f| f.kind != FeatureType::Float) {
            return None;
        }
        let mut s = Scanner::new(body);
        let rows = match s.peek()? {
            b'{' => {
                let mut values = Vec::with_capacity(width);
                self.plain_row(&mut s, &mut values)?;
                Rows {
                    values,
                    width,
                    single: true,
                }
            }
            b'[' => {
                let mut values = Vec::with_capacity(width * 4);
                let mut n = 0usize;
                s.array(|s| {
                    n += 1;
                    if n > self.max_rows {
                        return None;
                    }
                    self.plain_row(s, &mut values)
                })?;
                if n == 0 {
                    return None;
                }
                Rows {
                    values,
                    width,
                    single: false,
                }
            }
            _ => return None,
        };
        s.at_end().then_some(rows)
    }

    fn plain_row(&self, s: &mut Scanner<'_>, out: &mut Vec<f64>) -> Option<()> {
        let start = out.len();
        out.resize(start + self.features.len(), f64::NAN);
        let mut seen = 0u128;
        s.object(|s, key| {
            let k = self
                .features
                .iter()
                .position(|f| f.name.as_bytes() == key)?;
            if seen & (1 << k) != 0 {
                return None;
            }
            seen |= 1 << k;
            let x = s.number()?;
            let f = &self.features[k];
            if f.min.is_some_and(|lo| x < lo) || f.max.is_some_and(|hi| x > hi) {
                return None;
            }
            out[start + k] = x;
            Some(())
        })?;
        for (k, fill) in self.fill.iter().enumerate() {
            if seen & (1 << k) == 0 {
                out[start + k] = (*fill)?;
            }
        }
        Some(())
    }

    fn push_row(
        &self,
        obj: &serde_json::Map<String, Value>,
        index: Option<usize>,
        out: &mut Vec<f64>,
    ) -> Result<(), GatewayError> {
        let field = |name: &str| match index {
            Some(i) => format!("[{i}].{name}"),
            None => name.to_string(),
        };
        let mut seen = 0usize;
        for (f, fill) in self.features.iter().zip(&self.fill) {
            match obj.get(&f.name) {
                Some(v) if !v.is_null() => {
                    seen += 1;
                    let x = check_value(f, v).map_err(|message| GatewayError::Validation {
                        field: field(&f.name),
                        message,
                    })?;
                    out.push(x);
                }
                present => {
                    if present.is_some() {
                        seen += 1;
                    }
                    match fill {
                        Some(x) => out.push(*x),
                        None => {
                            return Err(GatewayError::Validation {
                                field: field(&f.name),
                                message: "missing required feature".into(),
                            })
                        }
                    }
                }
            }
        }
        if seen != obj.len() {
            if let Some(unknown) = obj
                .keys()
                .find(|k| !self.features.iter().any(|f| &f.name == *k))
            {
                return Err(GatewayError::Validation {
                    field: field(unknown),
                    message: "unknown field".into(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn feature(name: &str, kind: FeatureType) -> FeatureConfig {
        FeatureConfig {
            name: name.into(),
            kind,
            required: true,
            default: None,
            min: None,
            max: None,
            categories: vec![],
            description: None,
        }
    }

    fn set() -> FeatureSet {
        let mut a = feature("a", FeatureType::Float);
        a.min = Some(0.0);
        a.max = Some(10.0);
        let b = feature("b", FeatureType::Int);
        let mut c = feature("c", FeatureType::Bool);
        c.default = Some(toml::Value::Boolean(true));
        let mut d = feature("d", FeatureType::String);
        d.categories = vec!["x".into(), "y".into()];
        let mut e = feature("e", FeatureType::Float);
        e.required = false;
        FeatureSet::new(vec![a, b, c, d, e], 3).unwrap()
    }

    fn err_field(r: Result<Rows, GatewayError>) -> (String, String) {
        match r {
            Err(GatewayError::Validation { field, message }) => (field, message),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn iris() -> FeatureSet {
        let fs = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
            .iter()
            .map(|n| {
                let mut f = feature(n, FeatureType::Float);
                f.min = Some(0.0);
                f.max = Some(30.0);
                f
            })
            .collect::<Vec<_>>();
        let mut fs = fs;
        fs[3].required = false;
        fs[3].default = Some(toml::Value::Float(1.0));
        let mut opt = feature("note", FeatureType::Float);
        opt.required = false;
        fs.push(opt);
        FeatureSet::new(fs, 3).unwrap()
    }

    /// Where the plain reader gives rows, validating the parsed body gives the same rows.
    fn same(set: &FeatureSet, body: &[u8]) -> bool {
        let fast = set.validate_plain(body);
        if let Some(rows) = &fast {
            let v: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
                panic!("plain reader took {}: {e}", String::from_utf8_lossy(body))
            });
            assert_eq!(
                format!("{:?}", Ok::<_, String>(rows)),
                format!("{:?}", set.validate(&v).map_err(|e| e.to_string())),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        fast.is_some()
    }

    const PLAIN_BODIES: &[&str] = &[
        r#"{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}"#,
        r#" { "petal_width" : 2 , "sepal_length" : 6.5E0 , "petal_length" : 5.0 , "sepal_width" : 3 } "#,
        r#"{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4}"#,
        r#"{"sepal_length":0,"sepal_width":-0,"petal_length":30,"petal_width":1e-400,"note":-7}"#,
        r#"[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2},{"sepal_length":7.7,"sepal_width":2.6,"petal_length":6.9}]"#,
    ];

    #[test]
    fn plain_bodies_are_read_directly_as_validate_reads_them() {
        let set = iris();
        for b in PLAIN_BODIES {
            assert!(same(&set, b.as_bytes()), "{b}");
        }
        // Left to serde + validate (errors, or forms the plain reader does not take).
        for b in [
            "",
            "{}",
            "[]",
            r#"[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4},{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4},{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4},{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4}]"#,
            r#"{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"sepal_length":5.1}"#,
            r#"{"sepal_length":50,"sepal_width":3.5,"petal_length":1.4}"#,
            r#"{"sepal_length":5.1,"sepal_width":3.5}"#,
            r#"{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"colour":1}"#,
            r#"{"sepal_length":"5.1","sepal_width":3.5,"petal_length":1.4}"#,
            r#"{"sepal_length":null,"sepal_width":3.5,"petal_length":1.4}"#,
            r#"{"sepal_l\u0065ngth":5.1,"sepal_width":3.5,"petal_length":1.4}"#,
            r#"{"sepal_length":1e400,"sepal_width":3.5,"petal_length":1.4}"#,
            r#"{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4} x"#,
            r#"[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4},5]"#,
        ] {
            assert!(!same(&iris(), b.as_bytes()), "{b}");
        }
        // Apps with other feature types always take the Value path.
        assert!(set_plain_refused());
    }

    fn set_plain_refused() -> bool {
        set()
            .validate_plain(br#"{"a":1,"b":2,"c":true,"d":"x"}"#)
            .is_none()
    }

    #[test]
    fn mutated_bodies_read_as_validate_reads_them() {
        let set = iris();
        let mut edits = crate::mutator::Mutator::new(0x9e37_79b9_7f4a_7c15u64);
        let mut fast = 0;
        for b in PLAIN_BODIES {
            for _ in 0..2000 {
                let b = edits.mutate(b.as_bytes());
                fast += usize::from(same(&set, &b));
            }
        }
        assert!(fast > 100, "{fast}");
    }

    #[test]
    fn validates_one_object_in_order_with_defaults() {
        let rows = set()
            .validate(&json!({"d": "y", "b": 3, "a": 1.5}))
            .unwrap();
        assert!(rows.single);
        assert_eq!(rows.len(), 1);
        assert_eq!(&rows.values[..4], &[1.5, 3.0, 1.0, 1.0]);
        assert!(rows.values[4].is_nan());
    }

    #[test]
    fn validates_a_batch() {
        let rows = set()
            .validate(&json!([{"a": 1, "b": 2, "d": "x", "e": 0.5}, {"a": 2, "b": 3, "c": false, "d": "y"}]))
            .unwrap();
        assert!(!rows.single);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows.row(0), &[1.0, 2.0, 1.0, 0.0, 0.5]);
        assert_eq!(&rows.row(1)[..4], &[2.0, 3.0, 0.0, 1.0]);
    }

    #[test]
    fn names_the_offending_field() {
        let s = set();
        let (f, m) = err_field(s.validate(&json!({"b": 1, "d": "x"})));
        assert_eq!((f.as_str(), m.as_str()), ("a", "missing required feature"));
        let (f, m) = err_field(s.validate(&json!({"a": 1, "b": 1, "d": "x", "zz": 1})));
        assert_eq!((f.as_str(), m.as_str()), ("zz", "unknown field"));
        let (f, m) = err_field(s.validate(&json!({"a": "1", "b": 1, "d": "x"})));
        assert_eq!(f, "a");
        assert!(m.contains("expected a number"), "{m}");
        let (f, m) = err_field(s.validate(&json!({"a": 11, "b": 1, "d": "x"})));
        assert_eq!(f, "a");
        assert!(m.contains("maximum"), "{m}");
        let (f, _) = err_field(s.validate(&json!({"a": 1, "b": 1.5, "d": "x"})));
        assert_eq!(f, "b");
        let (f, m) = err_field(s.validate(&json!({"a": 1, "b": 1, "d": "z"})));
        assert_eq!(f, "d");
        assert!(m.contains("not one of"), "{m}");
        let (f, _) = err_field(
            s.validate(&json!([{"a": 1, "b": 1, "d": "x"}, {"a": -1, "b": 1, "d": "x"}])),
        );
        assert_eq!(f, "[1].a");
        let (f, _) = err_field(s.validate(&json!([{"a": 1, "b": 1, "d": "x"}, 3])));
        assert_eq!(f, "[1]");
        let (f, m) = err_field(s.validate(&json!([{}, {}, {}, {}])));
        assert_eq!(f, "$");
        assert!(m.contains("at most 3"), "{m}");
        let (f, _) = err_field(s.validate(&json!(5)));
        assert_eq!(f, "$");
    }

    #[test]
    fn null_means_absent() {
        let rows = set()
            .validate(&json!({"a": 1, "b": 1, "d": "x", "c": null}))
            .unwrap();
        assert_eq!(rows.values[2], 1.0);
        let (f, _) = err_field(set().validate(&json!({"a": null, "b": 1, "d": "x"})));
        assert_eq!(f, "a");
    }
}
