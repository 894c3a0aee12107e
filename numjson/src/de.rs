//! The serde tier: nested numeric lists read by visitors over serde_json's own parser (the same float
//! algorithm, the same `1e400` refusal, the same `-0` as a `Value`), for documents the scanner leaves.
//!
//! A visitor that meets something it does not read fails with [`give_up`]'s marker error; callers turn
//! any error into "take the general path" (see [`parse`]), never into a message for a client.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde_json::Number;

use crate::buffer::{Buffer, Kind};
use crate::nested::Nest;

/// The marker error of "leave this document to the general path" (never shown to anyone).
pub fn give_up<E: de::Error>() -> E {
    E::custom("not a shape the direct decoder reads")
}

/// Reads one value at `depth` of a nested list.
struct Level<'n> {
    nest: &'n mut Nest,
    depth: usize,
}

impl Level<'_> {
    fn leaf<E: de::Error>(self, n: &Number) -> Result<(), E> {
        if !self.nest.leaf(self.depth) || !self.nest.buf().push(n) {
            return Err(give_up());
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Level<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Level<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or a list")
    }

    // serde_json's `Value` makes its numbers the same way from these three calls.
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.leaf(&Number::from(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.leaf(&Number::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        // `Value` turns a non-finite float into null (serde_json's parser never yields one).
        match Number::from_f64(v) {
            Some(n) => self.leaf(&n),
            None => Err(give_up()),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let d = self.depth;
        if !self.nest.open(d) {
            return Err(give_up());
        }
        let mut count = 0usize;
        while seq
            .next_element_seed(Level {
                nest: &mut *self.nest,
                depth: d + 1,
            })?
            .is_some()
        {
            count += 1;
        }
        if !self.nest.close(d, count) {
            return Err(give_up());
        }
        Ok(())
    }
}

/// The buffer to fill: of `kind`, or raw numbers when `kind` is `None`.
fn buffer(kind: Option<Kind>, body_len: usize) -> Buffer {
    match kind {
        Some(kind) => Buffer::new(kind, body_len),
        None => Buffer::raw(body_len),
    }
}

/// Reads a regular nested numeric list (or a lone number, with shape `[]`) into a buffer of `kind`
/// (raw numbers when `kind` is `None`), reserving for a document of `body_len` bytes.
pub fn read_nested<'de, D: Deserializer<'de>>(
    deserializer: D,
    kind: Option<Kind>,
    body_len: usize,
) -> Result<(Vec<usize>, Buffer), D::Error> {
    let mut nest = Nest::new(buffer(kind, body_len));
    Level {
        nest: &mut nest,
        depth: 0,
    }
    .deserialize(deserializer)?;
    nest.finish().ok_or_else(give_up)
}

/// Reads the elements of a list whose start a visitor has met (`visit_seq`), as [`read_nested`] reads
/// the whole list.
pub fn read_nested_seq<'de, A: SeqAccess<'de>>(
    seq: A,
    kind: Kind,
    body_len: usize,
) -> Result<(Vec<usize>, Buffer), A::Error> {
    let mut nest = Nest::new(Buffer::new(kind, body_len));
    Level {
        nest: &mut nest,
        depth: 0,
    }
    .visit_seq(seq)?;
    nest.finish().ok_or_else(give_up)
}

/// [`read_nested`] as a seed, e.g. for a map value (`map.next_value_seed(NestedSeed { .. })`).
#[derive(Debug, Clone, Copy)]
pub struct NestedSeed {
    /// The element type (`None`: raw numbers).
    pub kind: Option<Kind>,
    /// The document's length, for the reservation.
    pub body_len: usize,
}

impl<'de> DeserializeSeed<'de> for NestedSeed {
    type Value = (Vec<usize>, Buffer);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        read_nested(deserializer, self.kind, self.body_len)
    }
}

/// Runs `visitor` over the whole of `body` as serde_json's `from_slice` does (trailing bytes refused);
/// `None` for any error, the [`give_up`] marker included.
pub fn parse<'de, V: Visitor<'de>>(body: &'de [u8], visitor: V) -> Option<V::Value> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = de.deserialize_any(visitor).ok()?;
    de.end().ok()?;
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nested::scan_floats;
    use crate::scanner::Scanner;

    struct Whole(Option<Kind>);

    impl<'de> Visitor<'de> for Whole {
        type Value = (Vec<usize>, Buffer);

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            read_nested_seq(seq, self.0.unwrap_or(Kind::F64), 0)
        }
    }

    fn read(text: &str, kind: Option<Kind>) -> Option<(Vec<usize>, Buffer)> {
        let mut de = serde_json::Deserializer::from_str(text);
        let v = read_nested(&mut de, kind, text.len()).ok()?;
        de.end().ok()?;
        Some(v)
    }

    #[test]
    fn both_tiers_read_alike_and_integers_convert() {
        for text in [
            "[[5.1, 3.5], [1.4, 0.2]]",
            "[1, -0, 1e22, 9007199254740993]",
            "[[]]",
        ] {
            for kind in [Kind::F32, Kind::F64] {
                let mut s = Scanner::new(text.as_bytes());
                assert_eq!(
                    scan_floats(&mut s, kind, 0),
                    read(text, Some(kind)),
                    "{text}"
                );
                assert_eq!(
                    parse(text.as_bytes(), Whole(Some(kind))),
                    read(text, Some(kind)),
                    "{text}"
                );
            }
        }
        assert_eq!(
            read("[[1, 2.0]]", Some(Kind::I32)),
            Some((vec![1, 2], Buffer::I32(vec![1, 2])))
        );
        assert_eq!(read("[[1, 2.5]]", Some(Kind::I64)), None);
        assert_eq!(
            read("7", Some(Kind::I64)),
            Some((vec![], Buffer::I64(vec![7])))
        );
        let (shape, raw) = read("[3, 4.5]", None).expect("raw numbers");
        assert_eq!(shape, [2]);
        assert_eq!(raw.convert(Kind::F32), Some(Buffer::F32(vec![3.0, 4.5])));
        assert_eq!(read("[1e400]", Some(Kind::F64)), None);
        assert_eq!(read("[[1], [2, 3]]", Some(Kind::F64)), None);
        assert_eq!(parse(b"[1] x", Whole(None)), None);
    }
}
