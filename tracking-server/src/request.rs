//! Decoding MLflow's request messages: a JSON body (POST, PATCH, DELETE) or the query string (GET)
//! into one field map, with typed getters that give MLflow's errors for missing or mistyped fields.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::ApiError;

/// A decoded request message.
#[derive(Debug, Default)]
pub struct Message {
    fields: Map<String, Value>,
}

/// `%XX` and `+` decoding of one query-string component.
pub fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `%XX` decoding of a URL path (no `+`).
pub fn path_decode(s: &str) -> String {
    form_decode(&s.replace('+', "%2B"))
}

impl Message {
    /// The message of a query string: a key once is a string, repeated keys an array.
    pub fn from_query(query: &str) -> Message {
        let mut fields = Map::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (form_decode(k), Value::String(form_decode(v)));
            match fields.get_mut(&k) {
                Some(Value::Array(a)) => a.push(v),
                Some(old) => {
                    let first = old.take();
                    *old = Value::Array(vec![first, v]);
                }
                None => {
                    fields.insert(k, v);
                }
            }
        }
        Message { fields }
    }

    /// The message of a JSON body (empty: no fields). Anything but an object is refused.
    pub fn from_json(body: &[u8]) -> Result<Message, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Message::default());
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => Ok(Message { fields }),
            Ok(_) => Err(ApiError::invalid(
                "Invalid request body: expected a JSON object",
            )),
            Err(e) => Err(ApiError::invalid(format!(
                "Malformed JSON in request body: {e}"
            ))),
        }
    }

    /// Adds fields from the query string that the body does not have (PATCH/DELETE with both).
    pub fn merge_query(&mut self, query: &str) {
        for (k, v) in Message::from_query(query).fields {
            self.fields.entry(k).or_insert(v);
        }
    }

    /// Sets a field (path parameters).
    pub fn set(&mut self, key: &str, value: &str) {
        self.fields.insert(key.into(), Value::String(value.into()));
    }

    fn present(&self, key: &str) -> Option<&Value> {
        self.fields.get(key).filter(|v| !v.is_null())
    }

    /// An optional string field (numbers and bools are taken as their text).
    pub fn opt_str(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(v) => Err(wrong_type(key, v, "a string")),
        }
    }

    /// A required non-empty string field.
    pub fn req_str(&self, key: &str) -> Result<String, ApiError> {
        match self.opt_str(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(ApiError::missing(key)),
        }
    }

    /// The first present of several names (`run_id`, then `run_uuid`), required.
    pub fn req_str_any(&self, keys: &[&str]) -> Result<String, ApiError> {
        for k in keys {
            if let Some(s) = self.opt_str(k)?.filter(|s| !s.is_empty()) {
                return Ok(s);
            }
        }
        Err(ApiError::missing(keys.first().copied().unwrap_or("")))
    }

    /// An optional int64 (a JSON number or a string of one).
    pub fn opt_i64(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .map(Some)
                .ok_or_else(|| wrong_type(key, &Value::Number(n.clone()), "an integer")),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| wrong_type(key, &Value::String(s.clone()), "an integer")),
            Some(v) => Err(wrong_type(key, v, "an integer")),
        }
    }

    /// A required int64.
    pub fn req_i64(&self, key: &str) -> Result<i64, ApiError> {
        self.opt_i64(key)?.ok_or_else(|| ApiError::missing(key))
    }

    /// A required double: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"` (and numeric strings).
    pub fn req_f64(&self, key: &str) -> Result<f64, ApiError> {
        match self.present(key) {
            None => Err(ApiError::missing(key)),
            Some(v) => parse_double(v).ok_or_else(|| wrong_type(key, v, "a double")),
        }
    }

    /// An optional bool (`true`/`false`, also as strings).
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::invalid(format!(
                "Invalid boolean value: {v}, must be 'true' or 'false'."
            ))),
        }
    }

    /// A repeated string field (a single value counts as one).
    pub fn strings(&self, key: &str) -> Result<Vec<String>, ApiError> {
        match self.present(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    v => Err(wrong_type(key, v, "a list of strings")),
                })
                .collect(),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(v) => Err(wrong_type(key, v, "a list of strings")),
        }
    }

    /// Whether a field is absent (MLflow's `_assert_required` on a repeated field: an empty list
    /// is present).
    pub fn object_or_list_absent(&self, key: &str) -> bool {
        self.present(key).is_none()
    }

    /// A repeated message field, as JSON objects.
    pub fn objects(&self, key: &str) -> Result<Vec<Message>, ApiError> {
        match self.present(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    Value::Object(o) => Ok(Message { fields: o.clone() }),
                    v => Err(wrong_type(key, v, "a list of objects")),
                })
                .collect(),
            Some(v) => Err(wrong_type(key, v, "a list of objects")),
        }
    }

    /// An optional message field.
    pub fn object(&self, key: &str) -> Result<Option<Message>, ApiError> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::Object(o)) => Ok(Some(Message { fields: o.clone() })),
            Some(v) => Err(wrong_type(key, v, "an object")),
        }
    }

    /// A repeated `{key, value}` field as (key, value) pairs, in order.
    pub fn key_values(&self, field: &str) -> Result<Vec<(String, String)>, ApiError> {
        self.objects(field)?
            .iter()
            .map(|o| Ok((o.req_str("key")?, o.opt_str("value")?.unwrap_or_default())))
            .collect()
    }

    /// [`Message::key_values`] as a map.
    pub fn key_value_map(&self, field: &str) -> Result<BTreeMap<String, String>, ApiError> {
        Ok(self.key_values(field)?.into_iter().collect())
    }
}

/// A double as MLflow's client sends it.
pub fn parse_double(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" | "nan" => Some(f64::NAN),
            "Infinity" | "inf" => Some(f64::INFINITY),
            "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
            other => other.trim().parse::<f64>().ok(),
        },
        _ => None,
    }
}

/// MLflow's message for a field of the wrong type (`want` is what was expected; MLflow's message
/// names the type that came, as Python calls it).
fn wrong_type(key: &str, v: &Value, _want: &str) -> ApiError {
    let t = match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    };
    ApiError::invalid(format!(
        "Invalid value {v} for parameter '{key}' supplied:  Hint: Value was of type '{t}'. See the API docs for more information about request parameters."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_json() {
        let m = Message::from_query("run_ids=a&run_ids=b&metric_key=loss%20x&max_results=3&x=a+b");
        assert_eq!(m.strings("run_ids").unwrap(), vec!["a", "b"]);
        assert_eq!(m.req_str("metric_key").unwrap(), "loss x");
        assert_eq!(m.opt_i64("max_results").unwrap(), Some(3));
        assert_eq!(m.req_str("x").unwrap(), "a b");
        assert!(m.req_str("nope").unwrap_err().message.contains("'nope'"));
        let j = Message::from_json(
            br#"{"value":"NaN","step":"2","ts":1.5,"tags":[{"key":"k","value":"v"}]}"#,
        )
        .unwrap();
        assert!(j.req_f64("value").unwrap().is_nan());
        assert_eq!(j.opt_i64("step").unwrap(), Some(2));
        assert!(j.opt_i64("ts").is_err());
        assert_eq!(
            j.key_values("tags").unwrap(),
            vec![("k".into(), "v".into())]
        );
        assert!(Message::from_json(b"{bad").is_err());
        assert!(Message::from_json(b"[1]").is_err());
        assert!(Message::from_json(br#"{"tags":"x"}"#)
            .unwrap()
            .objects("tags")
            .is_err());
    }
}
