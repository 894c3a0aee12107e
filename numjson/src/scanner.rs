//! A strict byte scanner of plain JSON: it reads only what serde_json reads the same way (strings of
//! printable ASCII without escapes, numbers of JSON's grammar rounded exactly as serde_json rounds them)
//! and answers `None` for anything else, so that its callers fall back to serde for every unusual or
//! malformed document.

/// Nesting deeper than this is left to serde by [`Scanner::skip`].
pub const MAX_DEPTH: usize = 32;

/// Powers of ten that are exact in an `f64` (Clinger's fast path).
const EXACT_POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A position in a JSON document.
#[derive(Debug, Clone)]
pub struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    /// A scanner at the start of `b`.
    pub fn new(b: &'a [u8]) -> Self {
        Self { b, i: 0 }
    }

    /// The offset of the next byte.
    pub fn pos(&self) -> usize {
        self.i
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.b[self.i.min(self.b.len())..]
    }

    /// Skips JSON whitespace.
    #[inline]
    pub fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// Whether only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.ws();
        self.i == self.b.len()
    }

    /// The next byte after whitespace, not consumed.
    #[inline]
    pub fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    /// Skips whitespace and then `c`, if it is next.
    #[inline]
    pub fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Like [`Scanner::eat`], as an `Option` for `?`: `None` when `c` is not next.
    #[inline]
    pub fn expect(&mut self, c: u8) -> Option<()> {
        self.eat(c).then_some(())
    }

    /// Skips whitespace and then the bytes of `word` (e.g. `null`), if they are next.
    pub fn word(&mut self, word: &[u8]) -> bool {
        self.ws();
        if self.rest().starts_with(word) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    /// Like [`Scanner::word`], as an `Option` for `?`.
    pub fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.word(word).then_some(())
    }

    /// Reads ASCII digits (no whitespace first), accumulating them into `acc` (wrapping: `acc` is only
    /// meaningful while the count stays small); returns how many there were.
    #[inline]
    pub fn digits(&mut self, acc: &mut u64) -> usize {
        let start = self.i;
        while let Some(&c @ b'0'..=b'9') = self.b.get(self.i) {
            *acc = acc.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
            self.i += 1;
        }
        self.i - start
    }

    /// A non-negative integer literal of at most `max_digits` digits (no sign, fraction, exponent or
    /// leading zero), after whitespace. `max_digits` must be at most 19 for the value to be exact.
    pub fn uint(&mut self, max_digits: usize) -> Option<u64> {
        self.ws();
        let start = self.i;
        let mut n = 0u64;
        let len = self.digits(&mut n);
        if len == 0 || len > max_digits || (len > 1 && self.b[start] == b'0') {
            return None;
        }
        Some(n)
    }

    /// A JSON number (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`) after whitespace, as a finite
    /// `f64` rounded correctly (to nearest, ties to even), as serde_json reads it into a float: exactly
    /// computed when its digits fit in 2^53 and its decimal exponent is at most 22 (one correctly
    /// rounded IEEE multiplication or division of two exact values, Clinger's fast path), else by the
    /// standard library's parser. Integers read the same as their `as f64` widening; `-0` is `-0.0`.
    /// An overflow to infinity (which serde_json refuses) is `None`.
    pub fn number(&mut self) -> Option<f64> {
        self.ws();
        let start = self.i;
        let negative = self.b.get(self.i) == Some(&b'-');
        if negative {
            self.i += 1;
        }
        let mut mantissa = 0u64;
        let mut ndigits = match self.b.get(self.i) {
            Some(b'0') => {
                self.i += 1;
                if let Some(b'0'..=b'9') = self.b.get(self.i) {
                    // A leading zero is not JSON.
                    return None;
                }
                1
            }
            Some(b'1'..=b'9') => self.digits(&mut mantissa),
            _ => return None,
        };
        let mut exp10: i64 = 0;
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            let frac = self.digits(&mut mantissa);
            if frac == 0 {
                return None;
            }
            ndigits += frac;
            exp10 = -(frac as i64);
        }
        let mut exp_digits_ok = true;
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            let exp_negative = match self.b.get(self.i) {
                Some(b'-') => {
                    self.i += 1;
                    true
                }
                Some(b'+') => {
                    self.i += 1;
                    false
                }
                _ => false,
            };
            let mut e = 0u64;
            let n = self.digits(&mut e);
            if n == 0 {
                return None;
            }
            exp_digits_ok = n <= 4;
            let e = e as i64;
            exp10 += if exp_negative { -e } else { e };
        }
        if exp_digits_ok && ndigits <= 19 && mantissa <= 1 << 53 && (-22..=22).contains(&exp10) {
            let m = mantissa as f64;
            let p = EXACT_POW10[exp10.unsigned_abs() as usize];
            let x = if exp10 < 0 { m / p } else { m * p };
            return Some(if negative { -x } else { x });
        }
        // The slice is ASCII (the grammar above), so the UTF-8 check cannot fail.
        let x: f64 = std::str::from_utf8(&self.b[start..self.i])
            .ok()?
            .parse()
            .ok()?;
        x.is_finite().then_some(x)
    }

    /// The text of a JSON number after whitespace, and whether it is an integer literal (no fraction,
    /// no exponent); `None` when it is not a number of JSON's grammar.
    pub fn number_text(&mut self) -> Option<(&'a str, bool)> {
        self.ws();
        let start = self.i;
        let digits = |s: &mut Self| {
            let from = s.i;
            while s.b.get(s.i).is_some_and(u8::is_ascii_digit) {
                s.i += 1;
            }
            s.i > from
        };
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        let int_start = self.i;
        if !digits(self) || (self.b[int_start] == b'0' && self.i - int_start > 1) {
            return None;
        }
        let mut integer = true;
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            integer = false;
            if !digits(self) {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            integer = false;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        // ASCII by construction.
        let text = std::str::from_utf8(&self.b[start..self.i]).ok()?;
        Some((text, integer))
    }

    /// The bytes of a string (after whitespace) of printable ASCII without escapes; anything else is
    /// `None` (left to serde), so keys and skipped strings need no UTF-8 check.
    pub fn raw_str(&mut self) -> Option<&'a [u8]> {
        if !self.eat(b'"') {
            return None;
        }
        let rest = self.rest();
        let len = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c))?;
        if rest[len] != b'"' {
            return None;
        }
        self.i += len + 1;
        Some(&rest[..len])
    }

    /// A string under the rules of [`Scanner::raw_str`], borrowed.
    pub fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.raw_str()?).ok()
    }

    /// A string under the rules of [`Scanner::raw_str`], owned.
    pub fn string(&mut self) -> Option<String> {
        self.str().map(str::to_owned)
    }

    /// A string object key and its colon.
    pub fn key(&mut self) -> Option<&'a str> {
        let key = self.str()?;
        self.eat(b':').then_some(key)
    }

    /// `"..."` or `null`.
    pub fn opt_string(&mut self) -> Option<Option<String>> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            Some(None)
        } else {
            Some(Some(self.string()?))
        }
    }

    /// Any value at nesting `depth`, skipped (strings under the rules of [`Scanner::raw_str`], nesting
    /// up to [`MAX_DEPTH`]).
    pub fn skip(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.raw_str().map(drop),
            b'{' => self.object(|s, _| s.skip(depth + 1)),
            b'[' => self.array(|s| s.skip(depth + 1)),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(drop),
        }
    }

    /// `{ ... }` calling `field(self, key)` for each key (the raw bytes of [`Scanner::raw_str`]); the
    /// callback reads the value.
    pub fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, &'a [u8]) -> Option<()>,
    ) -> Option<()> {
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let key = self.raw_str()?;
            self.expect(b':')?;
            field(self, key)?;
            if self.eat(b',') {
                continue;
            }
            return self.expect(b'}');
        }
    }

    /// `[ ... ]` calling `item(self)` for each element.
    pub fn array(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.expect(b'[')?;
        if self.eat(b']') {
            return Some(());
        }
        loop {
            item(self)?;
            if self.eat(b',') {
                continue;
            }
            return self.expect(b']');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Numbers at the edges of the fast path and of the grammar.
    const NUMBERS: &[&str] = &[
        "0",
        "-0",
        "1",
        "-1",
        "5.1",
        "0.1",
        "0.30000000000000004",
        "1e22",
        "1e23",
        "9007199254740993",
        "9007199254740992",
        "18446744073709551616",
        "123456789.123456789",
        "4.9e-324",
        "1e-400",
        "2.2250738585072011e-308",
        "1.7976931348623157e308",
        "0.000000000000000000000000001e27",
        "1E+2",
        "2.5e-3",
        "-7e0",
        "1e0000000000000000000000001",
        "3.4028235e38",
    ];

    #[test]
    fn numbers_read_as_serde_json_reads_them() {
        for text in NUMBERS {
            let mut s = Scanner::new(text.as_bytes());
            let mine = s.number().unwrap_or_else(|| panic!("{text}"));
            assert!(s.at_end(), "{text}");
            let theirs: serde_json::Value = serde_json::from_str(text).expect("JSON");
            let theirs = theirs.as_f64().expect("a number");
            assert_eq!(mine.to_bits(), theirs.to_bits(), "{text}");
        }
        // Generated decimals: every digit count and exponent near the fast path's edges.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let digits = seed % 10u64.pow(1 + (seed % 18) as u32);
            let exp = (seed >> 40) as i64 % 60 - 30;
            let text = format!("{digits}e{exp}");
            let mine = Scanner::new(text.as_bytes()).number().expect("a number");
            let theirs: f64 = serde_json::from_str(&text).expect("JSON");
            assert_eq!(mine.to_bits(), theirs.to_bits(), "{text}");
        }
    }

    #[test]
    fn what_is_not_json_or_not_finite_is_refused() {
        for text in [
            "01", "-01", "1.", ".5", "+1", "-", "1e", "1e+", "1e400", "-1e309", "NaN", "0x1",
        ] {
            let mut s = Scanner::new(text.as_bytes());
            let read = s.number().filter(|_| s.at_end());
            assert!(read.is_none(), "{text}: {read:?}");
        }
        assert_eq!(
            Scanner::new(b"-0").number().map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
    }

    #[test]
    fn strings_objects_arrays_and_skipping() {
        let doc = br#" {"a": [1, 2.5, {"b": null}], "c": "x", "d": true, "e": {}} "#;
        let mut keys = Vec::new();
        let mut s = Scanner::new(doc);
        s.object(|s, k| {
            keys.push(std::str::from_utf8(k).ok()?.to_string());
            s.skip(1)
        })
        .expect("plain JSON");
        assert!(s.at_end());
        assert_eq!(keys, ["a", "c", "d", "e"]);
        for bad in [
            &br#"{"a\u0062": 1}"#[..],
            br#"{"a": 1,}"#,
            br#"["\u00e9"]"#,
            b"[1 2]",
            "[\"é\"]".as_bytes(),
        ] {
            let mut s = Scanner::new(bad);
            assert!(s.skip(0).filter(|_| s.at_end()).is_none(), "{bad:?}");
        }
        let mut s = Scanner::new(br#" "id" : null "#);
        assert_eq!(s.key(), Some("id"));
        assert_eq!(s.opt_string(), Some(None));
        let mut s = Scanner::new(b"[3, 012]");
        assert!(s.expect(b'[').is_some());
        assert_eq!(s.uint(19), Some(3));
        assert!(s.eat(b','));
        assert_eq!(s.uint(19), None);
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert!(Scanner::new(deep.as_bytes()).skip(0).is_none());
        let mut s = Scanner::new(b" -12.5e1 ");
        assert_eq!(s.number_text(), Some(("-12.5e1", false)));
    }
}
