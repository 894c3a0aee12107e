//! The security headers of every answer of `homeml ui`.
//!
//! The pages are HTML with one inline stylesheet and inline SVG charts, no scripts, no images, no
//! forms, no frames. The Content-Security-Policy allows exactly that and nothing else: `default-src
//! 'none'` with the stylesheet admitted by its SHA-256 hash (so an injected `<style>` or `style=` would
//! not apply, and an injected `<script>` or `<img>` would not load), `frame-ancestors 'none'` (no
//! page may frame these: no clickjacking), `base-uri 'none'` and `form-action 'none'`. Besides:
//! `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` (run and model names in URLs stay
//! on this origin), `X-Frame-Options: DENY` for browsers without CSP level 2, and
//! `Cross-Origin-Opener-Policy: same-origin`.

use std::sync::OnceLock;

use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

use super::html::STYLE;

/// The Content-Security-Policy of every UI answer.
pub fn content_security_policy() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = base64(&Sha256::digest(STYLE.as_bytes()));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        )
    })
}

/// Adds the security headers to an answer's headers.
pub fn add(headers: &mut HeaderMap) {
    if let Ok(v) = HeaderValue::from_str(content_security_policy()) {
        headers.insert(hyper::header::CONTENT_SECURITY_POLICY, v);
    }
    let fixed: [(HeaderName, &'static str); 4] = [
        (hyper::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (hyper::header::REFERRER_POLICY, "no-referrer"),
        (hyper::header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// Standard base64 with padding (RFC 4648), as CSP hash sources are written.
fn base64(bytes: &[u8]) -> String {
    use base64ct::Encoding;
    base64ct::Base64::encode_string(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (input, want) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input), want);
        }
    }

    #[test]
    fn the_policy_names_the_stylesheet() {
        let csp = content_security_policy();
        assert!(
            csp.starts_with("default-src 'none'; style-src 'sha256-"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"));
    }
}
