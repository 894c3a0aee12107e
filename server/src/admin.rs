//! The admin token guarding the model-management routes (`/v2/repository/...`: index, load, unload).
//!
//! - With a token configured (`--admin-token`, `HOMEML_ADMIN_TOKEN`, `--admin-token-file`, or
//!   `admin_token` / `admin_token_file` in serve.toml), those routes need `Authorization: Bearer
//!   <token>`: a missing header is 401 with `WWW-Authenticate: Bearer`, a wrong token 401 as well.
//! - Without a token, on a loopback address (the default 127.0.0.1), they work as they always did:
//!   only processes on the machine can reach them.
//! - Without a token, on any other address (`--host 0.0.0.0` in a cluster), they answer 403 with a
//!   message saying how to enable them: anyone who can reach the port could otherwise unload the models.
//!
//! The token is compared in constant time (no early exit on the first differing byte, so the time of a
//! refusal says nothing about how much of a guess was right). Hand-written rather than the `subtle`
//! crate: it is a few lines over byte slices, and the server needs nothing else of `subtle`.

use std::fmt;
use std::net::IpAddr;

use http::{header, HeaderMap};

use crate::error::ApiError;

/// A secret admin token; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl AdminToken {
    /// A token; surrounding whitespace (a token file's trailing newline) is dropped. `None` for an
    /// empty token, which would guard nothing.
    pub fn new(token: &str) -> Option<AdminToken> {
        let t = token.trim();
        (!t.is_empty()).then(|| AdminToken(t.to_string()))
    }

    /// Reads a token from a file (its whole content, trimmed).
    pub fn from_file(path: &std::path::Path) -> Result<AdminToken, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the admin token file {}: {e}", path.display()))?;
        AdminToken::new(&text)
            .ok_or_else(|| format!("the admin token file {} is empty", path.display()))
    }

    /// Whether `candidate` is this token, in time that depends on the lengths only.
    fn matches(&self, candidate: &[u8]) -> bool {
        constant_time_eq(self.0.as_bytes(), candidate)
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// Byte equality that looks at every byte of both slices whatever they hold: the differences are
/// OR-ed together and tested once at the end. Only the lengths can shape the time.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    let n = a.len().max(b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0xff);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// Who may call the admin routes of a running server.
#[derive(Debug, Clone)]
pub(crate) enum AdminGuard {
    /// The routes need this bearer token.
    Token(AdminToken),
    /// No token, loopback address: open to local processes.
    Open,
    /// No token, reachable from other machines: closed.
    Closed {
        /// The address the server listens on, for the message.
        ip: IpAddr,
    },
}

impl AdminGuard {
    /// The guard of a server with `token` listening on `ip`.
    pub(crate) fn new(token: Option<AdminToken>, ip: IpAddr) -> AdminGuard {
        match token {
            Some(t) => AdminGuard::Token(t),
            None if ip.is_loopback() => AdminGuard::Open,
            None => AdminGuard::Closed { ip },
        }
    }

    /// `Ok` when the request may use an admin route.
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        match self {
            AdminGuard::Open => Ok(()),
            AdminGuard::Closed { ip } => Err(ApiError::Forbidden(format!(
                "the model-management routes are disabled: this server listens on {ip}, not only on loopback, and has no admin token; start it with --admin-token (or HOMEML_ADMIN_TOKEN, --admin-token-file, admin_token_file in serve.toml) and send Authorization: Bearer <token>"
            ))),
            AdminGuard::Token(token) => {
                let Some(value) = headers.get(header::AUTHORIZATION) else {
                    return Err(ApiError::Unauthorized(
                        "this route needs the admin token: send Authorization: Bearer <token>"
                            .into(),
                    ));
                };
                let bytes = value.as_bytes();
                let given = bytes
                    .get(..7)
                    .filter(|p| p.eq_ignore_ascii_case(b"bearer "))
                    .map(|_| bytes[7..].trim_ascii());
                match given {
                    Some(t) if token.matches(t) => Ok(()),
                    _ => Err(ApiError::Unauthorized(
                        "the admin token is wrong: send Authorization: Bearer <token>".into(),
                    )),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with_auth(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secre"));
        assert!(!constant_time_eq(b"secret", b"secret\0"));
        assert!(!constant_time_eq(b"", b"\xff"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn guards() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let any: IpAddr = "0.0.0.0".parse().unwrap();
        assert!(AdminGuard::new(None, lo).check(&HeaderMap::new()).is_ok());
        let e = AdminGuard::new(None, any)
            .check(&with_auth("Bearer x"))
            .unwrap_err();
        assert!(matches!(e, ApiError::Forbidden(ref m) if m.contains("--admin-token")));
        let g = AdminGuard::new(AdminToken::new(" s3cret\n"), any);
        assert!(g.check(&with_auth("Bearer s3cret")).is_ok());
        assert!(g.check(&with_auth("bearer s3cret")).is_ok());
        for bad in [
            "Bearer s3cre",
            "Bearer ",
            "Basic s3cret",
            "s3cret",
            "Bearer s3cret2",
        ] {
            assert!(
                matches!(g.check(&with_auth(bad)), Err(ApiError::Unauthorized(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            g.check(&HeaderMap::new()),
            Err(ApiError::Unauthorized(_))
        ));
        assert_eq!(AdminToken::new("  "), None);
        assert_eq!(
            format!("{:?}", AdminToken::new("s3cret")),
            "Some(AdminToken(<redacted>))"
        );
    }
}
