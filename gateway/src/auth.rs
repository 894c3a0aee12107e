//! API keys (kept only as SHA-256 hashes) with their allowed apps, and per-key token-bucket rate limits.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hyper::header::{HeaderMap, HeaderName};
use sha2::{Digest, Sha256};

use crate::config::{parse_sha256_hex, AuthConfig, RateLimitConfig};
use crate::error::GatewayError;

/// A token bucket.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(cfg: &RateLimitConfig) -> Self {
        let burst = cfg.burst.unwrap_or(cfg.requests_per_second.max(1.0));
        Self {
            rate: cfg.requests_per_second,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes a token, or says in how many whole seconds (at least 1) one will be there.
    pub fn try_acquire(&self) -> Result<(), u64> {
        let Ok(mut s) = self.state.lock() else {
            return Err(1);
        };
        let now = Instant::now();
        let elapsed = now.duration_since(s.1).as_secs_f64();
        s.1 = now;
        s.0 = (s.0 + elapsed * self.rate).min(self.burst);
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - s.0) / self.rate;
            Err((wait.ceil() as u64).max(1))
        }
    }
}

/// One known key.
#[derive(Debug)]
pub struct ApiKey {
    /// Its name (for logs and metrics; never the key).
    pub name: String,
    all_apps: bool,
    apps: HashSet<String>,
    limiter: Option<TokenBucket>,
}

impl ApiKey {
    /// Whether this key may call `app`.
    pub fn allows(&self, app: &str) -> bool {
        self.all_apps || self.apps.contains(app)
    }
}

/// Errors building the key table.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A key's environment variable is not set.
    #[error("API key {key:?}: environment variable {var} is not set")]
    MissingEnv {
        /// Key name.
        key: String,
        /// Variable name.
        var: String,
    },
    /// A key's hash is malformed.
    #[error("API key {0:?}: sha256 must be 64 hex digits")]
    BadHash(String),
    /// The header name is invalid.
    #[error("invalid API key header {0:?}")]
    BadHeader(String),
    /// Two entries have the same key.
    #[error("API keys {0:?} and {1:?} are the same key")]
    Duplicate(String, String),
}

/// The key table.
#[derive(Debug)]
pub struct Auth {
    header: HeaderName,
    keys: HashMap<[u8; 32], Arc<ApiKey>>,
}

/// Hex SHA-256 of a key: what goes in the config or keys file.
pub fn hash_key_hex(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Auth {
    /// Builds the table; keys given by `env` are read and hashed now (the raw key is not kept).
    pub fn new(cfg: &AuthConfig) -> Result<Self, AuthError> {
        let header = HeaderName::from_bytes(cfg.header.as_bytes())
            .map_err(|_| AuthError::BadHeader(cfg.header.clone()))?;
        let mut keys: HashMap<[u8; 32], Arc<ApiKey>> = HashMap::new();
        for k in &cfg.keys {
            let hash = match (&k.sha256, &k.env) {
                (Some(h), _) => {
                    parse_sha256_hex(h).ok_or_else(|| AuthError::BadHash(k.name.clone()))?
                }
                (None, Some(var)) => {
                    let raw = std::env::var(var).map_err(|_| AuthError::MissingEnv {
                        key: k.name.clone(),
                        var: var.clone(),
                    })?;
                    Sha256::digest(raw.trim().as_bytes()).into()
                }
                (None, None) => return Err(AuthError::BadHash(k.name.clone())),
            };
            let limit = k.rate_limit.or(cfg.rate_limit);
            let key = Arc::new(ApiKey {
                name: k.name.clone(),
                all_apps: k.apps.iter().any(|a| a == "*"),
                apps: k.apps.iter().cloned().collect(),
                limiter: limit.as_ref().map(TokenBucket::new),
            });
            if let Some(prev) = keys.insert(hash, key) {
                return Err(AuthError::Duplicate(prev.name.clone(), k.name.clone()));
            }
        }
        Ok(Self { header, keys })
    }

    /// The header carrying the key.
    pub fn header(&self) -> &HeaderName {
        &self.header
    }

    /// Authenticates a request for `app`: 401 when the key is missing or unknown (not told apart),
    /// 403 when it may not call the app, 429 when its bucket is empty.
    pub fn check(&self, headers: &HeaderMap, app: &str) -> Result<Arc<ApiKey>, GatewayError> {
        let presented = headers
            .get(&self.header)
            .map(|v| v.as_bytes())
            .filter(|v| !v.is_empty())
            .ok_or(GatewayError::Unauthorized)?;
        let hash: [u8; 32] = Sha256::digest(presented).into();
        let key = self.keys.get(&hash).ok_or(GatewayError::Unauthorized)?;
        if !key.allows(app) {
            return Err(GatewayError::Forbidden);
        }
        if let Some(bucket) = &key.limiter {
            bucket
                .try_acquire()
                .map_err(|retry_after_secs| GatewayError::RateLimited { retry_after_secs })?;
        }
        Ok(key.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeyConfig;

    fn cfg() -> AuthConfig {
        AuthConfig {
            header: "x-api-key".into(),
            keys_file: None,
            rate_limit: Some(RateLimitConfig {
                requests_per_second: 0.001,
                burst: Some(2.0),
            }),
            keys: vec![
                KeyConfig {
                    name: "a".into(),
                    sha256: Some(hash_key_hex("secret-a")),
                    env: None,
                    apps: vec!["iris".into()],
                    rate_limit: None,
                },
                KeyConfig {
                    name: "b".into(),
                    sha256: Some(hash_key_hex("secret-b")),
                    env: None,
                    apps: vec!["*".into()],
                    rate_limit: Some(RateLimitConfig {
                        requests_per_second: 1000.0,
                        burst: None,
                    }),
                },
            ],
        }
    }

    fn headers(key: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-api-key", key.parse().unwrap());
        h
    }

    #[test]
    fn checks_keys_apps_and_limits() {
        let auth = Auth::new(&cfg()).unwrap();
        assert!(matches!(
            auth.check(&HeaderMap::new(), "iris"),
            Err(GatewayError::Unauthorized)
        ));
        assert!(matches!(
            auth.check(&headers("nope"), "iris"),
            Err(GatewayError::Unauthorized)
        ));
        assert!(matches!(
            auth.check(&headers("secret-a"), "other"),
            Err(GatewayError::Forbidden)
        ));
        assert_eq!(auth.check(&headers("secret-a"), "iris").unwrap().name, "a");
        auth.check(&headers("secret-a"), "iris").unwrap();
        match auth.check(&headers("secret-a"), "iris") {
            Err(GatewayError::RateLimited { retry_after_secs }) => assert!(retry_after_secs >= 1),
            other => panic!("{other:?}"),
        }
        for _ in 0..50 {
            auth.check(&headers("secret-b"), "other").unwrap();
        }
    }

    #[test]
    fn reads_raw_keys_from_the_environment() {
        // The only test of this crate's unit tests that touches the environment.
        std::env::set_var("HOMEML_GATEWAY_UNIT_TEST_KEY", "env-secret");
        let mut c = cfg();
        c.keys[0].sha256 = None;
        c.keys[0].env = Some("HOMEML_GATEWAY_UNIT_TEST_KEY".into());
        let auth = Auth::new(&c).unwrap();
        assert_eq!(
            auth.check(&headers("env-secret"), "iris").unwrap().name,
            "a"
        );
        c.keys[0].env = Some("HOMEML_GATEWAY_UNIT_TEST_KEY_UNSET".into());
        assert!(matches!(Auth::new(&c), Err(AuthError::MissingEnv { .. })));
    }

    #[test]
    fn hashes_like_sha256sum() {
        assert_eq!(
            hash_key_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
