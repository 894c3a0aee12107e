//! Stored strings made safe to print on a terminal.
//!
//! Run names, tags, params, descriptions and experiment names come from whoever logged them. Printed
//! raw, an escape sequence in one (`ESC ] 0 ; ... BEL` retitles the window, `ESC [ 2 J` clears it,
//! `ESC ] 8` forges a link, a carriage return overwrites the line) acts on the reader's terminal. The
//! table and detail views print every stored string through [`printable`]; `--json` output is escaped
//! by JSON itself.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal raw: control characters (C0, DEL, C1, which includes the
/// one-byte CSI), and the Unicode controls that reorder or hide text (bidirectional overrides and
/// isolates, line and paragraph separators, zero-width characters used to spoof names).
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}'
        )
}

/// `s` with each unsafe character written as a Rust escape (`\u{1b}`, `\n`, `\t`, `\u{202e}`) and
/// backslashes doubled when anything was escaped; borrowed unchanged when there is nothing to escape.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) || c == '\\' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_and_keeps_the_rest() {
        assert!(matches!(printable("iris-run 7 é 日本"), Cow::Borrowed(_)));
        assert_eq!(printable("a\\b"), "a\\b");
        assert_eq!(printable("\u{1b}]0;owned\u{7}x"), "\\u{1b}]0;owned\\u{7}x");
        assert_eq!(printable("\u{1b}[2J\r\n\t"), "\\u{1b}[2J\\r\\n\\t");
        assert_eq!(printable("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(printable("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(printable("x\\\u{7f}"), "x\\\\\\u{7f}");
    }
}
