//! Nested lists of numbers: the shape rules shared by both tiers ([`Nest`]), and the scanner tier's
//! reader of nested float lists ([`scan_floats`]).

use crate::buffer::{Buffer, Kind};
use crate::scanner::Scanner;

/// The most list dimensions read (deeper data is left to the caller's general path).
pub const MAX_DIMS: usize = 8;

/// A nested list of numbers being read, with the shape rules of a regular tensor: the shape is the
/// lengths along the first elements, every list at a depth has the first one's length, and every number
/// sits at the same depth.
#[derive(Debug)]
pub struct Nest {
    buf: Buffer,
    /// The length of the first list met at each depth.
    dims: [Option<usize>; MAX_DIMS],
    /// The number of dimensions, known from the first number (or the first empty list) met.
    ndim: Option<usize>,
}

impl Nest {
    /// An empty nest filling `buf`.
    pub fn new(buf: Buffer) -> Nest {
        Nest {
            buf,
            dims: [None; MAX_DIMS],
            ndim: None,
        }
    }

    /// May a list start at `depth`?
    #[inline]
    pub fn open(&self, depth: usize) -> bool {
        depth < MAX_DIMS && self.ndim.is_none_or(|n| depth < n)
    }

    /// A list at `depth` ended after `count` elements: is it as long as the first at its depth?
    #[inline]
    pub fn close(&mut self, depth: usize, count: usize) -> bool {
        if count == 0 && self.ndim.is_none() {
            self.ndim = Some(depth + 1);
        }
        match self.dims[depth] {
            None => {
                self.dims[depth] = Some(count);
                true
            }
            Some(n) => n == count,
        }
    }

    /// May a number sit at `depth`?
    #[inline]
    pub fn leaf(&mut self, depth: usize) -> bool {
        *self.ndim.get_or_insert(depth) == depth
    }

    /// The buffer being filled.
    #[inline]
    pub fn buf(&mut self) -> &mut Buffer {
        &mut self.buf
    }

    /// The shape and the elements, once the value has been read (`None` if nothing fixed the number of
    /// dimensions, i.e. nothing was read).
    pub fn finish(self) -> Option<(Vec<usize>, Buffer)> {
        let ndim = self.ndim?;
        let shape = self.dims[..ndim]
            .iter()
            .copied()
            .collect::<Option<Vec<usize>>>()?;
        Some((shape, self.buf))
    }
}

/// The rest of a list at `depth` whose `[` was just read, numbers as floats.
fn list(s: &mut Scanner<'_>, nest: &mut Nest, depth: usize) -> Option<()> {
    if !nest.open(depth) {
        return None;
    }
    let mut count = 0usize;
    if !s.eat(b']') {
        loop {
            if s.eat(b'[') {
                list(s, nest, depth + 1)?;
            } else {
                let x = s.number()?;
                if !nest.leaf(depth + 1) || !nest.buf.push_f64(x) {
                    return None;
                }
            }
            count += 1;
            if s.eat(b',') {
                continue;
            }
            if s.eat(b']') {
                break;
            }
            return None;
        }
    }
    nest.close(depth, count).then_some(())
}

/// A regular nested list of numbers (after whitespace, starting with its `[`) read by the scanner into a
/// float buffer of `kind`, with room reserved for a document of `body_len` bytes: its shape and
/// elements. `None` for an integer `kind` and for anything [`Scanner::number`] or [`Nest`] refuses.
pub fn scan_floats(
    s: &mut Scanner<'_>,
    kind: Kind,
    body_len: usize,
) -> Option<(Vec<usize>, Buffer)> {
    if !kind.is_float() || !s.eat(b'[') {
        return None;
    }
    let mut nest = Nest::new(Buffer::new(kind, body_len));
    list(s, &mut nest, 0)?;
    nest.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str, kind: Kind) -> Option<(Vec<usize>, Buffer)> {
        let mut s = Scanner::new(text.as_bytes());
        scan_floats(&mut s, kind, text.len()).filter(|_| s.at_end())
    }

    #[test]
    fn regular_lists_read_with_their_shape() {
        assert_eq!(
            scan(" [[5.1, 3.5], [1.4 ,0.2]] ", Kind::F64),
            Some((vec![2, 2], Buffer::F64(vec![5.1, 3.5, 1.4, 0.2])))
        );
        assert_eq!(
            scan("[1, 2]", Kind::F32),
            Some((vec![2], Buffer::F32(vec![1.0, 2.0])))
        );
        assert_eq!(scan("[]", Kind::F32), Some((vec![0], Buffer::F32(vec![]))));
        assert_eq!(
            scan("[[], []]", Kind::F32),
            Some((vec![2, 0], Buffer::F32(vec![])))
        );
        let deep = "[".repeat(MAX_DIMS) + "1" + &"]".repeat(MAX_DIMS);
        assert_eq!(
            scan(&deep, Kind::F64).map(|(s, _)| s),
            Some(vec![1; MAX_DIMS])
        );
    }

    #[test]
    fn ragged_deep_or_non_numeric_lists_are_refused() {
        for bad in [
            "[[1, 2], [3]]",
            "[[1], 2]",
            "[1, [2]]",
            "[[], [1]]",
            "[1, null]",
            "[1, \"2\"]",
            "[1e400]",
            "[1,]",
            "[1",
        ] {
            assert_eq!(scan(bad, Kind::F64), None, "{bad}");
        }
        let deep = "[".repeat(MAX_DIMS + 1) + "1" + &"]".repeat(MAX_DIMS + 1);
        assert_eq!(scan(&deep, Kind::F64), None);
        assert_eq!(scan("[1, 2]", Kind::I64), None);
    }
}
