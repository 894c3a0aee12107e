//! A bounded reader of UBJSON (Universal Binary JSON), the format of XGBoost's `.ubj` models, into a
//! [`serde_json::Value`]: the same document as XGBoost's JSON format, so one reader of the model serves
//! both.
//!
//! Every length is checked against the bytes left before anything is allocated, nesting is bounded, and
//! numbers are big-endian as the format says. Optimized containers (`[$d#L<n>` typed arrays, which
//! XGBoost writes for every node array) are read without per-element markers.

use serde_json::{Map, Number, Value};

/// The deepest container nesting accepted.
const MAX_DEPTH: usize = 128;

/// Parses a whole UBJSON document.
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    let mut r = Reader { bytes, pos: 0 };
    let v = r.value(0)?;
    if r.pos != bytes.len() {
        return Err(format!(
            "UBJSON: {} bytes after the document",
            bytes.len() - r.pos
        ));
    }
    Ok(v)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| format!("UBJSON: truncated at byte {}", self.pos))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        let marker = self.byte()?;
        self.typed(marker, depth)
    }

    /// A value whose marker is already read.
    fn typed(&mut self, marker: u8, depth: usize) -> Result<Value, String> {
        Ok(match marker {
            b'Z' => Value::Null,
            b'T' => Value::Bool(true),
            b'F' => Value::Bool(false),
            b'i' | b'U' | b'I' | b'l' | b'L' => Value::Number(Number::from(self.int(marker)?)),
            b'd' => {
                let b = self.take(4)?;
                float(f32::from_be_bytes([b[0], b[1], b[2], b[3]]) as f64)
            }
            b'D' => {
                let b = self.take(8)?;
                float(f64::from_be_bytes([
                    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                ]))
            }
            b'C' => Value::String(char::from(self.byte()?).to_string()),
            b'S' => Value::String(self.string()?),
            b'H' => {
                let s = self.string()?;
                float(
                    s.parse::<f64>()
                        .map_err(|_| format!("UBJSON: bad high-precision number {s:?}"))?,
                )
            }
            b'[' => self.array(depth + 1)?,
            b'{' => self.object(depth + 1)?,
            other => {
                return Err(format!(
                    "UBJSON: unknown marker {:?} at byte {}",
                    char::from(other),
                    self.pos - 1
                ))
            }
        })
    }

    fn int(&mut self, marker: u8) -> Result<i64, String> {
        Ok(match marker {
            b'i' => self.take(1)?[0] as i8 as i64,
            b'U' => self.take(1)?[0] as i64,
            b'I' => {
                let b = self.take(2)?;
                i16::from_be_bytes([b[0], b[1]]) as i64
            }
            b'l' => {
                let b = self.take(4)?;
                i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as i64
            }
            b'L' => {
                let b = self.take(8)?;
                i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            }
            other => {
                return Err(format!(
                    "UBJSON: expected an integer marker, found {:?}",
                    char::from(other)
                ))
            }
        })
    }

    /// A length: an integer value with its marker, non-negative.
    fn length(&mut self) -> Result<usize, String> {
        let m = self.byte()?;
        let n = self.int(m)?;
        usize::try_from(n).map_err(|_| format!("UBJSON: negative length {n}"))
    }

    fn string(&mut self) -> Result<String, String> {
        let n = self.length()?;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| "UBJSON: a string is not UTF-8".to_string())
    }

    /// The optional `$type` and `#count` of a container.
    fn header(&mut self) -> Result<(Option<u8>, Option<usize>), String> {
        let mut ty = None;
        if self.peek() == Some(b'$') {
            self.pos += 1;
            ty = Some(self.byte()?);
        }
        let count = if self.peek() == Some(b'#') {
            self.pos += 1;
            Some(self.length()?)
        } else if ty.is_some() {
            return Err("UBJSON: a typed container without a count".into());
        } else {
            None
        };
        Ok((ty, count))
    }

    /// The smallest number of bytes one element of type `ty` (or untyped) takes.
    fn min_size(ty: Option<u8>) -> usize {
        match ty {
            Some(b'I') => 2,
            Some(b'l') | Some(b'd') => 4,
            Some(b'L') | Some(b'D') => 8,
            Some(b'Z' | b'T' | b'F') => 0,
            _ => 1,
        }
    }

    fn check_count(&self, n: usize, ty: Option<u8>) -> Result<(), String> {
        let size = Self::min_size(ty);
        if size == 0 && n > 1 << 24 || size > 0 && n > self.left() / size {
            return Err(format!(
                "UBJSON: a container of {n} elements in {} bytes (truncated)",
                self.left()
            ));
        }
        Ok(())
    }

    fn array(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!("UBJSON: nested deeper than {MAX_DEPTH}"));
        }
        let (ty, count) = self.header()?;
        let mut items = Vec::new();
        match count {
            Some(n) => {
                self.check_count(n, ty)?;
                items.reserve(n);
                for _ in 0..n {
                    items.push(match ty {
                        Some(t) => self.typed(t, depth)?,
                        None => self.value(depth)?,
                    });
                }
            }
            None => loop {
                match self.peek() {
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    Some(b'N') => self.pos += 1,
                    Some(_) => items.push(self.value(depth)?),
                    None => return Err("UBJSON: truncated array".into()),
                }
            },
        }
        Ok(Value::Array(items))
    }

    fn object(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!("UBJSON: nested deeper than {MAX_DEPTH}"));
        }
        let (ty, count) = self.header()?;
        let mut map = Map::new();
        match count {
            Some(n) => {
                // Each entry has at least a key length.
                self.check_count(n, None)?;
                for _ in 0..n {
                    let k = self.string()?;
                    let v = match ty {
                        Some(t) => self.typed(t, depth)?,
                        None => self.value(depth)?,
                    };
                    map.insert(k, v);
                }
            }
            None => loop {
                match self.peek() {
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    Some(b'N') => self.pos += 1,
                    Some(_) => {
                        let k = self.string()?;
                        let v = self.value(depth)?;
                        map.insert(k, v);
                    }
                    None => return Err("UBJSON: truncated object".into()),
                }
            },
        }
        Ok(Value::Object(map))
    }
}

/// A float as JSON; NaN and infinities (which JSON lacks) as strings XGBoost's JSON would hold.
fn float(v: f64) -> Value {
    match Number::from_f64(v) {
        Some(n) => Value::Number(n),
        None if v.is_nan() => Value::String("NaN".into()),
        None if v > 0.0 => Value::String("inf".into()),
        None => Value::String("-inf".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_plain_and_typed_containers() {
        // {"a": [1, 2.5], "b": "xy", "c": [$d#i2 1.5 -2], "d": {$l#U1 "k": 7}, "e": true, "f": null}
        let mut doc = b"{U\x01a[U\x01D".to_vec();
        doc.extend_from_slice(&2.5f64.to_be_bytes());
        doc.extend_from_slice(b"]U\x01bSU\x02xyU\x01c[$d#i\x02");
        doc.extend_from_slice(&1.5f32.to_be_bytes());
        doc.extend_from_slice(&(-2f32).to_be_bytes());
        doc.extend_from_slice(b"U\x01d{$l#U\x01U\x01k\x00\x00\x00\x07U\x01eTU\x01fZ}");
        assert_eq!(
            parse(&doc).unwrap(),
            json!({"a": [1, 2.5], "b": "xy", "c": [1.5, -2.0], "d": {"k": 7}, "e": true, "f": null})
        );
        assert_eq!(
            parse(b"[L\x00\x00\x00\x00\x00\x00\x01\x00I\xff\xfei\xff]").unwrap(),
            json!([256, -2, -1])
        );
    }

    #[test]
    fn refuses_truncated_and_oversized_documents() {
        let cases: [&[u8]; 7] = [
            b"{U\x01a[U\x01",
            b"[$d#L\x7f\xff\xff\xff\xff\xff\xff\xff",
            b"[$d#i\x02\x00\x00",
            b"SU\x05ab",
            b"[#l\xff\xff\xff\xff",
            b"Q",
            b"TT",
        ];
        for doc in cases {
            assert!(parse(doc).is_err(), "{doc:?}");
        }
        let deep = vec![b'['; 1000];
        assert!(parse(&deep).unwrap_err().contains("deeper"));
    }
}
