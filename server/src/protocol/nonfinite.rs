//! The bare `NaN`, `Infinity` and `-Infinity` literals that Python's `json` module (and so MLflow's
//! scoring server) reads in request bodies, though JSON has none: [`rewrite`] turns them into what
//! homeml's decoders take for floats (`null`, i.e. a missing value, and the strings `"Infinity"` /
//! `"-Infinity"`). Only called after a body failed to parse, so valid JSON never pays for it.

/// The body with every bare non-finite literal outside strings replaced, or `None` when it has none.
pub(crate) fn rewrite(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len() + 16);
    let mut changed = false;
    let mut i = 0;
    let mut in_string = false;
    while i < body.len() {
        let b = body[i];
        if in_string {
            out.push(b);
            if b == b'\\' {
                if let Some(&next) = body.get(i + 1) {
                    out.push(next);
                    i += 1;
                }
            } else if b == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        let rest = &body[i..];
        let (token, with): (&[u8], &[u8]) = if rest.starts_with(b"NaN") {
            (b"NaN", b"null")
        } else if rest.starts_with(b"-Infinity") {
            (b"-Infinity", b"\"-Infinity\"")
        } else if rest.starts_with(b"Infinity") {
            (b"Infinity", b"\"Infinity\"")
        } else {
            if b == b'"' {
                in_string = true;
            }
            out.push(b);
            i += 1;
            continue;
        };
        out.extend_from_slice(with);
        i += token.len();
        changed = true;
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn rewrites_bare_literals_outside_strings_only() {
        let body = br#"{"inputs": [[NaN, -Infinity, Infinity, 1.5, "NaN", "a\"NaN"]]}"#;
        assert_eq!(
            String::from_utf8(rewrite(body).unwrap()).unwrap(),
            r#"{"inputs": [[null, "-Infinity", "Infinity", 1.5, "NaN", "a\"NaN"]]}"#
        );
        assert_eq!(rewrite(br#"{"inputs": [[1, "NaN"]]}"#), None);
    }
}
