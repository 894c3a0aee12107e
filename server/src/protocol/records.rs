//! Lists of records (`[{"column": value, ...}, ...]`, pandas' `records` orient) as frames.
//!
//! `serde_json::Value` keeps object keys sorted, but the order of a record's keys is the order of the
//! frame's columns (pandas keeps it, and MLflow stacks a frame's columns in that order for models with a
//! tensor signature). [`key_order`] reads the keys' first-seen order from the raw body.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::schema::{Cell, Column, Data, Payload};
use crate::error::ApiError;

/// Keys of every object of a list, in first-seen order (empty for anything else).
struct ListKeys(Vec<String>);

/// Keys of one object, in order (empty for anything else).
struct ObjKeys(Vec<String>);

struct ObjKeysVisitor;

macro_rules! ignore_scalars {
    ($out:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($out)
        }
    };
}

impl<'de> Visitor<'de> for ObjKeysVisitor {
    type Value = ObjKeys;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    ignore_scalars!(ObjKeys(Vec::new()));
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ObjKeys, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(ObjKeys(Vec::new()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ObjKeys, A::Error> {
        let mut keys = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            map.next_value::<IgnoredAny>()?;
            keys.push(k);
        }
        Ok(ObjKeys(keys))
    }
}

impl<'de> de::Deserialize<'de> for ObjKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ObjKeys, D::Error> {
        d.deserialize_any(ObjKeysVisitor)
    }
}

struct ListKeysVisitor;

impl<'de> Visitor<'de> for ListKeysVisitor {
    type Value = ListKeys;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    ignore_scalars!(ListKeys(Vec::new()));
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ListKeys, A::Error> {
        let mut keys: Vec<String> = Vec::new();
        while let Some(ObjKeys(obj)) = seq.next_element::<ObjKeys>()? {
            for k in obj {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        Ok(ListKeys(keys))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ListKeys, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(ListKeys(Vec::new()))
    }
}

impl<'de> de::Deserialize<'de> for ListKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ListKeys, D::Error> {
        d.deserialize_any(ListKeysVisitor)
    }
}

/// The top-level object's field `field`, read as [`ListKeys`].
struct FieldKeys<'f>(&'f str);

impl<'de> de::DeserializeSeed<'de> for FieldKeys<'_> {
    type Value = Vec<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<String>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldKeys<'_> {
    type Value = Vec<String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    ignore_scalars!(Vec::new());
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Vec::new())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
        let mut found = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            if k == self.0 {
                found = map.next_value::<ListKeys>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// The keys of the records in `body` (at the top level, or under the top-level object's `field`) in
/// first-seen order; empty when the body is not of that form.
pub fn key_order(body: &[u8], field: Option<&str>) -> Vec<String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let keys = match field {
        Some(f) => de::DeserializeSeed::deserialize(FieldKeys(f), &mut de),
        None => <ListKeys as de::Deserialize>::deserialize(&mut de).map(|k| k.0),
    };
    keys.unwrap_or_default()
}

/// A frame from a list of records, columns in `order` (keys not in `order` follow, sorted). A key
/// missing from a record is a missing value (`null`: NaN for float columns), as pandas reads it.
pub fn frame<'a>(rows: &'a [Value], order: &[String], what: &str) -> Result<Payload<'a>, ApiError> {
    static NULL: Value = Value::Null;
    let mut names: Vec<&'a str> = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        let Value::Object(rec) = row else {
            return Err(ApiError::BadRequest(format!(
                "{what} entry {r} is not an object"
            )));
        };
        for k in rec.keys() {
            if !names.contains(&k.as_str()) {
                names.push(k);
            }
        }
    }
    let rank = |name: &str| order.iter().position(|o| o == name).unwrap_or(usize::MAX);
    names.sort_by_key(|n| rank(n));
    let nrows = rows.len();
    let columns = names
        .into_iter()
        .map(|name| Column {
            name: Some(name.to_string()),
            data: Data::cells(
                vec![nrows],
                rows.iter()
                    .map(|row| Cell::Json(row.get(name).unwrap_or(&NULL)))
                    .collect(),
            ),
        })
        .collect();
    Ok(Payload::Frame {
        columns,
        rows: nrows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_key_order() {
        let body = br#"{"params": {"z": 1}, "dataframe_records": [{"b": 1, "a": [1, {"q": 2}]}, {"c": null, "a": 2}]}"#;
        assert_eq!(
            key_order(body, Some("dataframe_records")),
            vec!["b", "a", "c"]
        );
        assert_eq!(key_order(br#"[{"y": 1, "x": 2}]"#, None), vec!["y", "x"]);
        assert!(key_order(br#"[[1, 2]]"#, None).is_empty());
        assert!(key_order(br#"{"inputs": [[1]]}"#, Some("inputs")).is_empty());
        assert!(key_order(b"nope", None).is_empty());
    }

    #[test]
    fn frame_follows_the_order() {
        let rows: Vec<Value> =
            serde_json::from_str(r#"[{"b": 1, "a": 2}, {"a": 3, "c": 4}]"#).unwrap();
        let Payload::Frame { columns, rows: n } =
            frame(&rows, &["b".into(), "a".into(), "c".into()], "x").unwrap()
        else {
            panic!()
        };
        assert_eq!(n, 2);
        let names: Vec<_> = columns.iter().map(|c| c.name.clone().unwrap()).collect();
        assert_eq!(names, vec!["b", "a", "c"]);
        let rows: Vec<Value> = serde_json::from_str(r#"[{"a": 1}, 5]"#).unwrap();
        assert!(frame(&rows, &[], "x").is_err());
    }
}
