//! Deterministic random edits of JSON bodies, for the tests that hold the scanners to serde (test code).

/// Deterministic random edits of JSON bodies, for the tests that hold the scanners to serde.
pub(crate) struct Mutator {
    seed: u64,
}

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
