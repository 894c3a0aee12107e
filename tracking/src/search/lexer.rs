//! Tokens of MLflow's search strings: identifiers (with dots and backquoted parts), quoted strings,
//! numbers, comparators, parentheses and commas.

use super::ast::SearchError;

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// An identifier, possibly dotted; backquoted or double-quoted parts are unquoted
    /// (`tags.\`a.b\`` is `["tags", "a.b"]`).
    Ident(Vec<String>),
    /// A single- or double-quoted string standing alone.
    Str(String),
    /// A number.
    Num(f64),
    /// A comparator: `=`, `!=`, `<>`, `<`, `<=`, `>`, `>=`.
    Cmp(&'static str),
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// `,`.
    Comma,
}

fn quoted(chars: &[char], i: &mut usize, q: char) -> Result<String, SearchError> {
    let start = *i;
    *i += 1;
    let mut s = String::new();
    while *i < chars.len() {
        let c = chars[*i];
        if c == '\\' && *i + 1 < chars.len() && chars[*i + 1] == q {
            s.push(q);
            *i += 2;
            continue;
        }
        if c == q {
            // SQL style doubling of the quote inside a string.
            if *i + 1 < chars.len() && chars[*i + 1] == q && q != '`' {
                s.push(q);
                *i += 2;
                continue;
            }
            *i += 1;
            return Ok(s);
        }
        s.push(c);
        *i += 1;
    }
    Err(SearchError(format!(
        "Invalid filter: unterminated quote starting at character {}",
        start + 1
    )))
}

fn ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.' || c == '-' || c == ':' || c == '/'
}

/// Splits a search string into tokens.
pub(crate) fn tokenize(text: &str) -> Result<Vec<Tok>, SearchError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '=' => {
                // `==` is accepted as `=`.
                i += if chars.get(i + 1) == Some(&'=') { 2 } else { 1 };
                out.push(Tok::Cmp("="));
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::Cmp("!="));
                i += 2;
            }
            '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let op = match (c, next) {
                    ('<', Some('=')) => "<=",
                    ('>', Some('=')) => ">=",
                    ('<', Some('>')) => "!=",
                    ('<', _) => "<",
                    _ => ">",
                };
                i += if op.len() == 2 { 2 } else { 1 };
                if matches!(chars.get(i), Some('<' | '>' | '=')) {
                    return Err(SearchError(format!(
                        "Invalid comparator '{}' in filter",
                        chars[i - op.len()..=i].iter().collect::<String>()
                    )));
                }
                out.push(Tok::Cmp(op));
            }
            '\'' => out.push(Tok::Str(quoted(&chars, &mut i, '\'')?)),
            '"' | '`' => {
                // A quoted part glued to a dotted identifier (`metrics."a b"`) belongs to it.
                let part = quoted(&chars, &mut i, c)?;
                match out.last_mut() {
                    Some(Tok::Ident(parts)) if parts.last().is_some_and(|p| p.is_empty()) => {
                        if let Some(last) = parts.last_mut() {
                            *last = part;
                        }
                    }
                    _ if c == '`' => out.push(Tok::Ident(vec![part])),
                    _ => out.push(Tok::Str(part)),
                }
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+' || c == '.')
                    && chars
                        .get(i + 1)
                        .is_some_and(|d| d.is_ascii_digit() || *d == '.')) =>
            {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || chars[i] == '.'
                        || ((chars[i] == '-' || chars[i] == '+')
                            && matches!(chars[i - 1], 'e' | 'E')))
                {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                let n: f64 = s
                    .parse()
                    .map_err(|_| SearchError(format!("Invalid filter: '{s}' is not a number")))?;
                out.push(Tok::Num(n));
            }
            c if ident_char(c) => {
                let start = i;
                while i < chars.len() && ident_char(chars[i]) {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                let mut parts: Vec<String> = Vec::new();
                // Only the first dot separates the key type from the key (`tags.mlflow.runName`).
                match s.split_once('.') {
                    Some((head, rest)) => {
                        parts.push(head.to_string());
                        parts.push(rest.to_string());
                    }
                    None => parts.push(s),
                }
                out.push(Tok::Ident(parts));
            }
            _ => {
                return Err(SearchError(format!(
                    "Invalid filter: unexpected character '{c}' at position {}",
                    i + 1
                )))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let t = tokenize("metrics.acc >= -1.5e3 AND tags.`mlflow.parentRunId` = 'a''b'").unwrap();
        assert_eq!(
            t,
            vec![
                Tok::Ident(vec!["metrics".into(), "acc".into()]),
                Tok::Cmp(">="),
                Tok::Num(-1500.0),
                Tok::Ident(vec!["AND".into()]),
                Tok::Ident(vec!["tags".into(), "mlflow.parentRunId".into()]),
                Tok::Cmp("="),
                Tok::Str("a'b".into()),
            ]
        );
        assert!(tokenize("metrics.acc >>> 1").is_err());
        assert!(tokenize("name = 'abc").is_err());
        let t = tokenize("params.\"my key\" != \"v\"").unwrap();
        assert_eq!(t[0], Tok::Ident(vec!["params".into(), "my key".into()]));
        assert_eq!(t[2], Tok::Str("v".into()));
    }
}
