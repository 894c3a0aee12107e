//! A strict scanner for the plain JSON the gateway reads on its hot path (V2 answers, request bodies):
//! it accepts only what serde_json reads the same way and returns `None` for anything else, so that
//! its callers can fall back to serde for every unusual or malformed document.

/// Nesting deeper than this is left to serde.
pub(crate) const MAX_DEPTH: usize = 32;

/// A position in a JSON document.
pub(crate) struct Scanner<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) i: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Self { b, i: 0 }
    }

    /// Whether only whitespace is left.
    pub(crate) fn end(&mut self) -> bool {
        self.ws();
        self.i == self.b.len()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    pub(crate) fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// The bytes of a string of printable ASCII without escapes (anything else goes to serde):
    /// keys and skipped strings need no UTF-8 check then.
    pub(crate) fn raw_str(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let rest = &self.b[self.i..];
        let len = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c))?;
        if rest[len] != b'"' {
            return None;
        }
        self.i += len + 1;
        Some(&rest[..len])
    }

    /// A string value (printable ASCII, no escapes).
    pub(crate) fn string(&mut self) -> Option<String> {
        std::str::from_utf8(self.raw_str()?).ok().map(str::to_owned)
    }

    /// The text of a JSON number and whether it is an integer literal.
    pub(crate) fn number_text(&mut self) -> Option<(&'a str, bool)> {
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

    /// A number as serde_json hands it to a visitor and `FlatVisitor` stores it: integers as
    /// u64/i64 (then f64), others (and integers too large for those) as correctly rounded f64.
    pub(crate) fn number(&mut self) -> Option<f64> {
        let (text, integer) = self.number_text()?;
        let v = if integer {
            if text.starts_with('-') {
                // `-0` is -0.0 for serde_json (the differential tests below check these).
                text.parse::<i64>()
                    .map(|v| if v == 0 { -0.0 } else { v as f64 })
                    .ok()
            } else {
                text.parse::<u64>().map(|v| v as f64).ok()
            }
        } else {
            None
        };
        let v = match v {
            Some(v) => v,
            None => text.parse::<f64>().ok()?,
        };
        // serde_json refuses numbers out of f64's range.
        v.is_finite().then_some(v)
    }

    pub(crate) fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.ws();
        if self.b.get(self.i..self.i + word.len())? == word {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    /// `"..."` or `null`.
    pub(crate) fn opt_string(&mut self) -> Option<Option<String>> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            Some(None)
        } else {
            Some(Some(self.string()?))
        }
    }

    /// Any value, skipped (strings under the same rules as [`Self::str`]).
    pub(crate) fn skip(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.raw_str().map(drop),
            b'{' => {
                self.i += 1;
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.raw_str()?;
                    self.eat(b':')?;
                    self.skip(depth + 1)?;
                    match self.peek()? {
                        b',' => self.i += 1,
                        b'}' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.i += 1;
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.skip(depth + 1)?;
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(drop),
        }
    }

    /// `{ ... }` calling `field(self, key)` for each key; the callback reads the value.
    pub(crate) fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, &'a [u8]) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.raw_str()?;
            self.eat(b':')?;
            field(self, key)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// `[ ... ]` calling `item(self)` for each element.
    pub(crate) fn array(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        loop {
            item(self)?;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// Deterministic random edits of JSON bodies, for the tests that hold the scanners to serde.
#[cfg(test)]
pub(crate) struct Mutator {
    seed: u64,
}

#[cfg(test)]
impl Mutator {
    /// JSON's punctuation, digits and the letters of its literals, plus a few strays.
    pub(crate) const ALPHABET: &'static [u8] = br#"{}[]",:0123456789.eE-+ ntrufalse\x_"#;

    /// A mutator with its own xorshift sequence.
    pub(crate) fn new(seed: u64) -> Mutator {
        Mutator { seed }
    }

    /// A number below `n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed % n as u64) as usize
    }

    /// `body` with one to three bytes removed, replaced or inserted from [`Mutator::ALPHABET`].
    pub(crate) fn mutate(&mut self, body: &[u8]) -> Vec<u8> {
        let mut b = body.to_vec();
        for _ in 0..1 + self.below(3) {
            let at = self.below(b.len() + 1);
            let c = Self::ALPHABET[self.below(Self::ALPHABET.len())];
            match self.below(3) {
                0 if at < b.len() => {
                    b.remove(at);
                }
                1 if at < b.len() => b[at] = c,
                _ => b.insert(at, c),
            }
        }
        b
    }
}
