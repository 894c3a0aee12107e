//! Typed element buffers: the numbers of a document converted to their element type as they are read.

use serde_json::Number;

use crate::number::{number_to_f64, number_to_i64};

/// Elements reserved up front at most (a guess from the body length; a buffer grows past it).
const MAX_RESERVE: usize = 1 << 16;

/// The element types a [`Buffer`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `f32` (read as the nearest `f64`, then rounded with `as`).
    F32,
    /// `f64`.
    F64,
    /// `i32` (an integer element in the `i32` range).
    I32,
    /// `i64`.
    I64,
}

impl Kind {
    /// Whether the elements are floats (what [`crate::Scanner`]'s number reader yields).
    pub fn is_float(self) -> bool {
        matches!(self, Kind::F32 | Kind::F64)
    }
}

/// A typed element buffer.
#[derive(Debug, Clone, PartialEq)]
pub enum Buffer {
    /// `f32` elements.
    F32(Vec<f32>),
    /// `f64` elements.
    F64(Vec<f64>),
    /// `i32` elements.
    I32(Vec<i32>),
    /// `i64` elements.
    I64(Vec<i64>),
    /// Numbers kept as read, for data met before its element type is known ([`Buffer::convert`] types
    /// them later, exactly as they would have been read).
    Raw(Vec<Number>),
}

/// The capacity to reserve for a document of `body_len` bytes: each number takes at least two bytes
/// (a digit and a separator).
fn reserve(body_len: usize) -> usize {
    (body_len / 2).min(MAX_RESERVE)
}

impl Buffer {
    /// An empty buffer of `kind`, with room for the numbers a document of `body_len` bytes can hold (up
    /// to a bound).
    pub fn new(kind: Kind, body_len: usize) -> Buffer {
        let cap = reserve(body_len);
        match kind {
            Kind::F32 => Buffer::F32(Vec::with_capacity(cap)),
            Kind::F64 => Buffer::F64(Vec::with_capacity(cap)),
            Kind::I32 => Buffer::I32(Vec::with_capacity(cap)),
            Kind::I64 => Buffer::I64(Vec::with_capacity(cap)),
        }
    }

    /// An empty buffer of raw numbers (see [`Buffer::Raw`]).
    pub fn raw(body_len: usize) -> Buffer {
        Buffer::Raw(Vec::with_capacity(reserve(body_len)))
    }

    /// The element type (`None` for raw numbers).
    pub fn kind(&self) -> Option<Kind> {
        Some(match self {
            Buffer::F32(_) => Kind::F32,
            Buffer::F64(_) => Kind::F64,
            Buffer::I32(_) => Kind::I32,
            Buffer::I64(_) => Kind::I64,
            Buffer::Raw(_) => return None,
        })
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            Buffer::F32(v) => v.len(),
            Buffer::F64(v) => v.len(),
            Buffer::I32(v) => v.len(),
            Buffer::I64(v) => v.len(),
            Buffer::Raw(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `n` converted with [`number_to_f64`] / [`number_to_i64`] (and, for `i32`, a range
    /// check); false when the conversion refuses it (nothing is appended then).
    #[inline]
    pub fn push(&mut self, n: &Number) -> bool {
        match self {
            Buffer::F32(v) => match number_to_f64(n) {
                Some(x) => {
                    v.push(x as f32);
                    true
                }
                None => false,
            },
            Buffer::F64(v) => match number_to_f64(n) {
                Some(x) => {
                    v.push(x);
                    true
                }
                None => false,
            },
            Buffer::I64(v) => match number_to_i64(n) {
                Ok(x) => {
                    v.push(x);
                    true
                }
                Err(_) => false,
            },
            Buffer::I32(v) => match number_to_i64(n).ok().and_then(|x| i32::try_from(x).ok()) {
                Some(x) => {
                    v.push(x);
                    true
                }
                None => false,
            },
            Buffer::Raw(v) => {
                v.push(n.clone());
                true
            }
        }
    }

    /// Appends a float as [`Buffer::push`] appends the same number (float buffers only; false for the
    /// others).
    #[inline]
    pub fn push_f64(&mut self, x: f64) -> bool {
        match self {
            Buffer::F32(v) => v.push(x as f32),
            Buffer::F64(v) => v.push(x),
            _ => return false,
        }
        true
    }

    /// The elements as `kind`: raw numbers are converted now (`None` if one is refused), typed
    /// elements must already be of `kind`.
    pub fn convert(self, kind: Kind) -> Option<Buffer> {
        match self {
            Buffer::Raw(numbers) => {
                let mut typed = Buffer::new(kind, 0);
                typed.reserve(numbers.len());
                for n in &numbers {
                    if !typed.push(n) {
                        return None;
                    }
                }
                Some(typed)
            }
            typed => (typed.kind() == Some(kind)).then_some(typed),
        }
    }

    fn reserve(&mut self, n: usize) {
        match self {
            Buffer::F32(v) => v.reserve(n),
            Buffer::F64(v) => v.reserve(n),
            Buffer::I32(v) => v.reserve(n),
            Buffer::I64(v) => v.reserve(n),
            Buffer::Raw(v) => v.reserve(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(text: &str) -> Number {
        serde_json::from_str(text).expect("a number")
    }

    #[test]
    fn push_converts_or_refuses() {
        let mut b = Buffer::new(Kind::I32, 10);
        assert!(b.push(&num("2147483647")));
        assert!(!b.push(&num("2147483648")));
        assert!(b.push(&num("4.0")));
        assert!(!b.push(&num("4.5")));
        assert_eq!(b, Buffer::I32(vec![i32::MAX, 4]));
        let mut f = Buffer::new(Kind::F32, 10);
        assert!(f.push(&num("0.1")) && f.push_f64(0.1));
        assert_eq!(f, Buffer::F32(vec![0.1, 0.1]));
        assert!(!Buffer::new(Kind::I64, 0).push_f64(1.0));
    }

    #[test]
    fn raw_numbers_convert_later_as_they_would_have_been_read() {
        let mut raw = Buffer::raw(100);
        for t in ["1", "2.0", "-3"] {
            assert!(raw.push(&num(t)));
        }
        assert_eq!(raw.kind(), None);
        assert_eq!(
            raw.clone().convert(Kind::I64),
            Some(Buffer::I64(vec![1, 2, -3]))
        );
        assert_eq!(
            raw.clone().convert(Kind::F64),
            Some(Buffer::F64(vec![1.0, 2.0, -3.0]))
        );
        let mut frac = Buffer::raw(0);
        frac.push(&num("0.5"));
        assert_eq!(frac.convert(Kind::I32), None);
        // A typed buffer converts only to its own kind.
        assert_eq!(Buffer::F32(vec![1.0]).convert(Kind::F64), None);
        assert_eq!(
            Buffer::F32(vec![1.0]).convert(Kind::F32),
            Some(Buffer::F32(vec![1.0]))
        );
        assert_eq!(Buffer::new(Kind::F64, 0).len(), 0);
    }
}
