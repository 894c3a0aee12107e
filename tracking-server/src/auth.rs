//! Who may do what: optional HTTP basic auth from a users file (`--auth FILE`, passwords stored as
//! Argon2id hashes in the PHC format), read-only and admin users, and the server-wide `--read-only`
//! switch. The mlflow client sends `Authorization: Basic ...` on every request when
//! `MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD` are set.
//!
//! The users file holds one user a line, `name:role:hash` (`role` is `admin` or `read`), with `#`
//! comments; `homeml server --hash-password` prints a hash for a password read from stdin.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64ct::Encoding;
use hyper::Method;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ErrorCode};
use crate::routes::Route;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Reads only (GETs and searches).
    Read,
    /// Everything.
    Admin,
}

/// Errors reading a users file or hashing a password.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The file cannot be read.
    #[error("cannot read the users file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line is not `name:role:hash`.
    #[error("users file line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Hashing failed.
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// The users of `--auth`.
pub struct Users {
    users: HashMap<String, (Role, String)>,
    /// Digests of credentials already verified (Argon2 is slow on purpose: verify each once).
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users")
            .field("count", &self.users.len())
            .finish()
    }
}

/// An Argon2id hash (PHC string) of a password, with a random salt.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

impl Users {
    /// Reads a users file.
    pub fn load(path: &Path) -> Result<Users, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Users::parse(&text)
    }

    /// Parses the users file format.
    pub fn parse(text: &str) -> Result<Users, AuthError> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: &str| AuthError::Line {
                line: i + 1,
                reason: reason.into(),
            };
            let mut parts = line.splitn(3, ':');
            let (Some(name), Some(role), Some(hash)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(bad("expected name:role:hash"));
            };
            let role = match role {
                "admin" => Role::Admin,
                "read" | "read-only" | "readonly" => Role::Read,
                _ => return Err(bad("the role must be admin or read")),
            };
            if name.is_empty() {
                return Err(bad("the user name is empty"));
            }
            PasswordHash::new(hash).map_err(|e| {
                bad(&format!(
                    "not a PHC password hash ({e}); make one with `homeml server --hash-password`"
                ))
            })?;
            if users
                .insert(name.to_string(), (role, hash.to_string()))
                .is_some()
            {
                return Err(bad(&format!("user '{name}' appears twice")));
            }
        }
        if users.is_empty() {
            return Err(AuthError::Line {
                line: 0,
                reason: "the file names no user".into(),
            });
        }
        Ok(Users {
            users,
            verified: Mutex::new(HashSet::new()),
        })
    }

    /// The role of the user an `Authorization` header names; 401 without valid credentials.
    pub fn check(&self, header: Option<&str>) -> Result<Role, ApiError> {
        let unauthenticated = || {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.",
            )
        };
        let encoded = header
            .and_then(|h| {
                h.strip_prefix("Basic ")
                    .or_else(|| h.strip_prefix("basic "))
            })
            .ok_or_else(unauthenticated)?;
        let decoded =
            base64ct::Base64::decode_vec(encoded.trim()).map_err(|_| unauthenticated())?;
        let text = String::from_utf8(decoded).map_err(|_| unauthenticated())?;
        let (name, password) = text.split_once(':').ok_or_else(unauthenticated)?;
        let (role, hash) = self.users.get(name).ok_or_else(unauthenticated)?;
        let digest: [u8; 32] = Sha256::new()
            .chain_update(name.as_bytes())
            .chain_update([0u8])
            .chain_update(password.as_bytes())
            .chain_update([0u8])
            .chain_update(hash.as_bytes())
            .finalize()
            .into();
        let known = self
            .verified
            .lock()
            .map(|v| v.contains(&digest))
            .unwrap_or(false);
        if !known {
            let parsed = PasswordHash::new(hash).map_err(|_| unauthenticated())?;
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .map_err(|_| unauthenticated())?;
            if let Ok(mut v) = self.verified.lock() {
                // Bounded: a flood of distinct valid logins cannot grow it without limit.
                if v.len() > 10_000 {
                    v.clear();
                }
                v.insert(digest);
            }
        }
        Ok(*role)
    }
}

/// Whether a request changes anything (searches sent as POST only read).
pub fn is_write(method: &Method, path: &str, route: &Route) -> bool {
    match route {
        Route::Health | Route::Version | Route::ServerInfo | Route::NotFound => false,
        Route::MethodNotAllowed => false,
        // The UI's pages, static files, artifact previews and read-only GraphQL queries.
        Route::Ui(_) => false,
        Route::ArtifactList | Route::ArtifactGet(_) => false,
        Route::ArtifactPut(_) | Route::ArtifactDelete(_) => true,
        Route::Proto(..) => {
            if *method == Method::GET {
                return false;
            }
            let p = path.trim_end_matches('/');
            !(p.ends_with("/search")
                || p.ends_with("/get-latest-versions")
                || p.ends_with("experiments/search-datasets"))
        }
    }
}

/// PERMISSION_DENIED for a write the caller may not make.
pub fn denied(why: &str) -> ApiError {
    ApiError::new(ErrorCode::PermissionDenied, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_file_and_basic_header() {
        let h = hash_password("s3cret").unwrap();
        let users = Users::parse(&format!("# users\nann:admin:{h}\nbob:read:{h}\n")).unwrap();
        let basic = |u: &str, p: &str| {
            format!(
                "Basic {}",
                base64ct::Base64::encode_string(format!("{u}:{p}").as_bytes())
            )
        };
        assert_eq!(
            users.check(Some(&basic("ann", "s3cret"))).unwrap(),
            Role::Admin
        );
        assert_eq!(
            users.check(Some(&basic("ann", "s3cret"))).unwrap(),
            Role::Admin
        );
        assert_eq!(
            users.check(Some(&basic("bob", "s3cret"))).unwrap(),
            Role::Read
        );
        for bad in [
            basic("ann", "wrong"),
            basic("eve", "s3cret"),
            "Bearer x".into(),
            "Basic !!!".into(),
        ] {
            let e = users.check(Some(&bad)).unwrap_err();
            assert_eq!(e.code, ErrorCode::Unauthenticated, "{bad}");
        }
        assert!(users.check(None).is_err());
        assert!(Users::parse("ann:root:x").is_err());
        assert!(Users::parse("ann:admin:plaintext").is_err());
        assert!(Users::parse("# nobody\n").is_err());
    }
}
