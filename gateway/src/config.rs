//! The gateway's TOML configuration: server limits, API keys, and the apps with their features,
//! output mapping and upstreams.
//!
//! [`GatewayConfig::from_path`] reads and checks a file; every problem is a [`ConfigError`] naming the
//! place in the file, so a bad config fails at start-up and never at request time.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::feature_spec::check_value;
pub use crate::feature_spec::{toml_to_json, FeatureConfig, FeatureType};

/// A configuration that could not be read or does not make sense.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file (or the keys file) could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown/mistyped keys.
    #[error("invalid TOML in {path}: {message}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// What the TOML parser said.
        message: String,
    },
    /// The TOML is well-formed but a value is wrong.
    #[error("{place}: {message}")]
    Invalid {
        /// Where in the config, e.g. `apps[0].features[2]`.
        place: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(place: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        place: place.into(),
        message: message.into(),
    }
}

/// The whole gateway configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Limits of the HTTP front.
    #[serde(default)]
    pub server: ServerConfig,
    /// API keys; when absent, no app requires a key.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// The apps, each with its own route.
    #[serde(default)]
    pub apps: Vec<AppConfig>,
}

/// Limits of the HTTP front.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Largest accepted request body in bytes (413 above). Default 1 MiB.
    #[serde(default = "default_body_limit")]
    pub max_body_bytes: usize,
    /// Longest wait for a request body's next bytes, and the base of the body's deadline, in
    /// milliseconds (408 past it, the connection closed). Default 10000.
    #[serde(default = "default_body_read_timeout_ms")]
    pub body_read_timeout_ms: u64,
    /// The body's deadline grows one second per this many bytes received; 0: no rate. Default 65536.
    #[serde(default = "default_body_min_rate")]
    pub body_min_rate_bytes_per_s: u64,
    /// Largest number of rows in one batch request (422 above). Default 1024.
    #[serde(default = "default_max_batch")]
    pub max_batch_rows: usize,
    /// How long an idle pooled upstream connection is kept, in milliseconds. Default 90 s.
    #[serde(default = "default_pool_idle_ms")]
    pub pool_idle_timeout_ms: u64,
    /// Idle connections kept per upstream host. Default 64.
    #[serde(default = "default_pool_max_idle")]
    pub pool_max_idle_per_host: usize,
    /// One access log line per predict request (request id, app, upstream, status, latency), buffered
    /// and written in batches (see [`crate::access_log`]). Default true; `RUST_LOG=warn` also silences it.
    #[serde(default = "default_true")]
    pub access_log: bool,
}

fn default_body_limit() -> usize {
    1 << 20
}
fn default_body_read_timeout_ms() -> u64 {
    10_000
}
fn default_body_min_rate() -> u64 {
    64 * 1024
}
fn default_max_batch() -> usize {
    1024
}
fn default_pool_idle_ms() -> u64 {
    90_000
}
fn default_pool_max_idle() -> usize {
    64
}
fn default_true() -> bool {
    true
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: default_body_limit(),
            body_read_timeout_ms: default_body_read_timeout_ms(),
            body_min_rate_bytes_per_s: default_body_min_rate(),
            max_batch_rows: default_max_batch(),
            pool_idle_timeout_ms: default_pool_idle_ms(),
            pool_max_idle_per_host: default_pool_max_idle(),
            access_log: true,
        }
    }
}

/// API keys and their default rate limit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The request header that carries the key. Default `x-api-key`.
    #[serde(default = "default_key_header")]
    pub header: String,
    /// A TOML file with more `[[keys]]` entries (relative paths are relative to the config file).
    #[serde(default)]
    pub keys_file: Option<PathBuf>,
    /// Rate limit of every key that sets none of its own; none when absent.
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
    /// The keys.
    #[serde(default)]
    pub keys: Vec<KeyConfig>,
}

fn default_key_header() -> String {
    "x-api-key".to_string()
}

/// A keys file: `[[keys]]` entries only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysFile {
    /// The keys.
    #[serde(default)]
    pub keys: Vec<KeyConfig>,
}

/// One API key. Exactly one of `sha256` (the hex SHA-256 of the key: what is kept at rest) and `env`
/// (the name of an environment variable holding the raw key, hashed as soon as it is read) is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// A name for logs and metrics (never the key itself).
    pub name: String,
    /// Hex SHA-256 of the key.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Environment variable with the raw key.
    #[serde(default)]
    pub env: Option<String>,
    /// Apps this key may call; `"*"` for all.
    #[serde(default)]
    pub apps: Vec<String>,
    /// This key's own rate limit.
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
}

/// A token bucket: `burst` requests at once, refilled at `requests_per_second`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Refill rate.
    pub requests_per_second: f64,
    /// Bucket size; defaults to `max(1, requests_per_second)`.
    #[serde(default)]
    pub burst: Option<f64>,
}

/// One app: a route, its features, its output mapping and its upstreams.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// Name (letters, digits, `-`, `_`).
    pub name: String,
    /// A description for the OpenAPI document.
    #[serde(default)]
    pub description: Option<String>,
    /// Route; default `/apps/{name}/predict`.
    #[serde(default)]
    pub route: Option<String>,
    /// Whether an API key is needed (only meaningful with `[auth]`). Default true.
    #[serde(default = "yes")]
    pub auth: bool,
    /// Route requests with the same value of this header to the same upstream.
    #[serde(default)]
    pub sticky_header: Option<String>,
    /// The features, in the order the model expects them.
    pub features: Vec<FeatureConfig>,
    /// How the model's input tensor is named and typed.
    #[serde(default)]
    pub input: InputConfig,
    /// How the model's answer becomes a label.
    #[serde(default)]
    pub output: OutputConfig,
    /// Where predictions are made; at least one.
    pub upstreams: Vec<UpstreamConfig>,
    /// A candidate that gets a copy of the traffic; its answers are compared and logged, never returned.
    #[serde(default)]
    pub shadow: Option<UpstreamConfig>,
    /// Retries on connect failure.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Passive health checking.
    #[serde(default)]
    pub health: HealthConfig,
}

fn yes() -> bool {
    true
}

/// The model's input tensor.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// Tensor name for V2; when absent, taken from `GET /v2/models/{m}` (first input).
    #[serde(default)]
    pub name: Option<String>,
    /// V2 datatype of the tensor: FP32 (default), FP64, INT32 or INT64.
    #[serde(default)]
    pub datatype: Option<String>,
    /// MLflow request format: `inputs` (default) or `dataframe_split` (columns = feature names).
    #[serde(default)]
    pub mlflow_format: Option<MlflowFormat>,
}

/// How rows are sent to an MLflow scoring server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MlflowFormat {
    /// `{"inputs": [[...], ...]}`.
    Inputs,
    /// `{"dataframe_split": {"columns": [...], "data": [[...]]}}`.
    DataframeSplit,
}

/// How the model's answer becomes a label.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Class names by index; without them the label is the class index (or the raw value).
    #[serde(default)]
    pub labels: Vec<String>,
    /// Threshold for a model that answers one score per row: `score >= threshold` is class 1.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Name of the output holding the class index or score; default `label`, else the first output.
    #[serde(default)]
    pub label_output: Option<String>,
    /// Name of the output holding class probabilities; default `probabilities`.
    #[serde(default)]
    pub probabilities_output: Option<String>,
}

/// The upstream protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// KServe V2 / Open Inference Protocol: `POST /v2/models/{m}/infer`.
    V2,
    /// MLflow scoring: `POST /invocations`.
    Mlflow,
}

impl Protocol {
    /// The config name.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::V2 => "v2",
            Protocol::Mlflow => "mlflow",
        }
    }
}

/// One model server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Name for logs and metrics; default `<app>-<index>`.
    #[serde(default)]
    pub name: Option<String>,
    /// Base URL, `http://host:port` (plain HTTP).
    pub url: String,
    /// Protocol; default `v2`.
    #[serde(default = "default_protocol")]
    pub protocol: Protocol,
    /// The model name on the server (V2 path; reported to clients for MLflow). Default: the app name.
    #[serde(default)]
    pub model: Option<String>,
    /// The model version: V2 calls `/versions/{v}`; reported to clients for MLflow.
    #[serde(default)]
    pub version: Option<String>,
    /// Relative share of the traffic. Default 1.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Whole-call timeout in milliseconds (504 when over). Default 5000.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// TCP connect timeout in milliseconds. Default 1000.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
}

fn default_protocol() -> Protocol {
    Protocol::V2
}
fn default_weight() -> u32 {
    1
}
fn default_timeout_ms() -> u64 {
    5000
}
fn default_connect_timeout_ms() -> u64 {
    1000
}

/// Retries on connect failure (never on timeouts or answers): at most `max_retries` per request, and
/// across requests at most `budget_ratio` retries per request plus `min_retries_per_second`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Retries of one request. Default 2.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// Retries earned per request. Default 0.2.
    #[serde(default = "default_budget_ratio")]
    pub budget_ratio: f64,
    /// Retries always allowed per second. Default 10.
    #[serde(default = "default_min_retries")]
    pub min_retries_per_second: f64,
}

fn default_max_retries() -> u32 {
    2
}
fn default_budget_ratio() -> f64 {
    0.2
}
fn default_min_retries() -> f64 {
    10.0
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: default_max_retries(),
            budget_ratio: default_budget_ratio(),
            min_retries_per_second: default_min_retries(),
        }
    }
}

/// Passive health: after `failure_threshold` consecutive failures (connect errors, timeouts, 5xx,
/// unreadable answers) an upstream is skipped for `cooldown_ms`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// Consecutive failures before skipping. Default 5.
    #[serde(default = "default_failure_threshold")]
    pub failure_threshold: u32,
    /// How long to skip, in milliseconds. Default 10 s.
    #[serde(default = "default_cooldown_ms")]
    pub cooldown_ms: u64,
}

fn default_failure_threshold() -> u32 {
    5
}
fn default_cooldown_ms() -> u64 {
    10_000
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            failure_threshold: default_failure_threshold(),
            cooldown_ms: default_cooldown_ms(),
        }
    }
}

impl GatewayConfig {
    /// Reads, parses and checks a config file; a `keys_file` is read relative to it.
    pub fn from_path(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml_str(&text, path, base)
    }

    /// Parses and checks config text; `path` names it in errors, `base_dir` resolves `keys_file`.
    pub fn from_toml_str(text: &str, path: &Path, base_dir: &Path) -> Result<Self, ConfigError> {
        let mut config: GatewayConfig = toml::from_str(text).map_err(|e| ConfigError::Toml {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if let Some(auth) = config.auth.as_mut() {
            if let Some(file) = auth.keys_file.clone() {
                let file = if file.is_absolute() {
                    file
                } else {
                    base_dir.join(file)
                };
                let text = std::fs::read_to_string(&file).map_err(|source| ConfigError::Io {
                    path: file.clone(),
                    source,
                })?;
                let keys: KeysFile = toml::from_str(&text).map_err(|e| ConfigError::Toml {
                    path: file.clone(),
                    message: e.to_string(),
                })?;
                auth.keys.extend(keys.keys);
            }
        }
        config.check()?;
        Ok(config)
    }

    /// Checks what serde cannot: names, routes, bounds, defaults, weights, key references.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.server.body_read_timeout_ms == 0 {
            return Err(invalid("server.body_read_timeout_ms", "must be > 0"));
        }
        if self.server.max_body_bytes == 0 {
            return Err(invalid("server.max_body_bytes", "must be > 0"));
        }
        if self.server.max_batch_rows == 0 {
            return Err(invalid("server.max_batch_rows", "must be > 0"));
        }
        let mut names = HashSet::new();
        let mut routes = HashSet::new();
        for (i, app) in self.apps.iter().enumerate() {
            let place = format!("apps[{i}]");
            check_name(&app.name, &format!("{place}.name"))?;
            if !names.insert(app.name.clone()) {
                return Err(invalid(
                    &place,
                    format!("duplicate app name {:?}", app.name),
                ));
            }
            let route = app.route();
            if !route.starts_with('/') || route.contains(['?', '#', ' ']) {
                return Err(invalid(
                    format!("{place}.route"),
                    format!("{route:?} is not an absolute path"),
                ));
            }
            if matches!(
                route.as_str(),
                "/health" | "/metrics" | "/openapi.json" | "/docs"
            ) {
                return Err(invalid(
                    format!("{place}.route"),
                    format!("{route} is reserved"),
                ));
            }
            if !routes.insert(route.clone()) {
                return Err(invalid(
                    format!("{place}.route"),
                    format!("duplicate route {route}"),
                ));
            }
            check_app(app, &place)?;
        }
        if let Some(auth) = &self.auth {
            if hyper::header::HeaderName::from_bytes(auth.header.as_bytes()).is_err() {
                return Err(invalid("auth.header", "not a valid header name"));
            }
            if let Some(rl) = &auth.rate_limit {
                check_rate(rl, "auth.rate_limit")?;
            }
            let mut key_names = HashSet::new();
            for (k, key) in auth.keys.iter().enumerate() {
                let place = format!("auth.keys[{k}]");
                if key.name.is_empty() || !key_names.insert(key.name.clone()) {
                    return Err(invalid(&place, "key names must be non-empty and unique"));
                }
                match (&key.sha256, &key.env) {
                    (Some(h), None) => {
                        if parse_sha256_hex(h).is_none() {
                            return Err(invalid(
                                format!("{place}.sha256"),
                                "must be 64 hex digits (the SHA-256 of the key)",
                            ));
                        }
                    }
                    (None, Some(_)) => {}
                    _ => {
                        return Err(invalid(&place, "set exactly one of `sha256` and `env`"));
                    }
                }
                for a in &key.apps {
                    if a != "*" && !names.contains(a) {
                        return Err(invalid(
                            format!("{place}.apps"),
                            format!("unknown app {a:?}"),
                        ));
                    }
                }
                if let Some(rl) = &key.rate_limit {
                    check_rate(rl, &format!("{place}.rate_limit"))?;
                }
            }
        }
        Ok(())
    }
}

impl AppConfig {
    /// The route of the app.
    pub fn route(&self) -> String {
        self.route
            .clone()
            .unwrap_or_else(|| format!("/apps/{}/predict", self.name))
    }
}

impl UpstreamConfig {
    /// The name, or `<app>-<index>` when unnamed.
    pub fn name_or(&self, app: &str, index: usize) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("{app}-{index}"))
    }
}

/// Parses 64 hex digits into 32 bytes.
pub fn parse_sha256_hex(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        let hi = (chunk[0] as char).to_digit(16)?;
        let lo = (chunk[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

fn check_name(name: &str, place: &str) -> Result<(), ConfigError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(invalid(
            place,
            format!("{name:?}: use letters, digits, '-', '_' or '.'"),
        ));
    }
    Ok(())
}

fn check_rate(rl: &RateLimitConfig, place: &str) -> Result<(), ConfigError> {
    if !(rl.requests_per_second.is_finite() && rl.requests_per_second > 0.0) {
        return Err(invalid(
            format!("{place}.requests_per_second"),
            "must be > 0",
        ));
    }
    if let Some(b) = rl.burst {
        if !(b.is_finite() && b >= 1.0) {
            return Err(invalid(format!("{place}.burst"), "must be >= 1"));
        }
    }
    Ok(())
}

fn check_app(app: &AppConfig, place: &str) -> Result<(), ConfigError> {
    if app.features.is_empty() {
        return Err(invalid(format!("{place}.features"), "at least one feature"));
    }
    let mut fnames = HashSet::new();
    for (j, f) in app.features.iter().enumerate() {
        let fp = format!("{place}.features[{j}]");
        if f.name.is_empty() || !fnames.insert(f.name.clone()) {
            return Err(invalid(
                &fp,
                format!("feature name {:?} empty or duplicated", f.name),
            ));
        }
        if let (Some(lo), Some(hi)) = (f.min, f.max) {
            if lo > hi {
                return Err(invalid(&fp, "min > max"));
            }
        }
        if f.kind == FeatureType::String && f.categories.is_empty() {
            return Err(invalid(
                &fp,
                "a string feature needs `categories` (it is sent as the category index)",
            ));
        }
        if f.kind != FeatureType::String && !f.categories.is_empty() {
            return Err(invalid(&fp, "`categories` is only for string features"));
        }
        if let Some(d) = &f.default {
            let json = toml_to_json(d);
            check_value(f, &json).map_err(|e| invalid(format!("{fp}.default"), e))?;
        }
    }
    if let Some(dt) = &app.input.datatype {
        if !matches!(dt.as_str(), "FP32" | "FP64" | "INT32" | "INT64") {
            return Err(invalid(
                format!("{place}.input.datatype"),
                "one of FP32, FP64, INT32, INT64",
            ));
        }
    }
    if let Some(t) = app.output.threshold {
        if !t.is_finite() {
            return Err(invalid(format!("{place}.output.threshold"), "not finite"));
        }
    }
    if app.upstreams.is_empty() {
        return Err(invalid(
            format!("{place}.upstreams"),
            "at least one upstream",
        ));
    }
    let mut unames = HashSet::new();
    let all = app
        .upstreams
        .iter()
        .enumerate()
        .map(|(k, u)| (format!("{place}.upstreams[{k}]"), u, k))
        .chain(
            app.shadow
                .iter()
                .map(|u| (format!("{place}.shadow"), u, usize::MAX)),
        );
    for (up, u, k) in all {
        let name = if k == usize::MAX {
            u.name
                .clone()
                .unwrap_or_else(|| format!("{}-shadow", app.name))
        } else {
            u.name_or(&app.name, k)
        };
        check_name(&name, &format!("{up}.name"))?;
        if !unames.insert(name.clone()) {
            return Err(invalid(&up, format!("duplicate upstream name {name:?}")));
        }
        crate::client::parse_base_url(&u.url).map_err(|e| invalid(format!("{up}.url"), e))?;
        if u.timeout_ms == 0 || u.connect_timeout_ms == 0 {
            return Err(invalid(&up, "timeouts must be > 0"));
        }
    }
    if app.upstreams.iter().all(|u| u.weight == 0) {
        return Err(invalid(
            format!("{place}.upstreams"),
            "at least one upstream needs a weight > 0",
        ));
    }
    if !(app.retry.budget_ratio.is_finite()
        && app.retry.budget_ratio >= 0.0
        && app.retry.min_retries_per_second.is_finite()
        && app.retry.min_retries_per_second >= 0.0)
    {
        return Err(invalid(
            format!("{place}.retry"),
            "budget values must be >= 0",
        ));
    }
    if app.health.failure_threshold == 0 {
        return Err(invalid(
            format!("{place}.health.failure_threshold"),
            "must be >= 1",
        ));
    }
    if let Some(h) = &app.sticky_header {
        if hyper::header::HeaderName::from_bytes(h.as_bytes()).is_err() {
            return Err(invalid(
                format!("{place}.sticky_header"),
                "not a valid header name",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const IRIS: &str = r#"
[[apps]]
name = "iris"
[[apps.features]]
name = "sepal_length"
type = "float"
min = 0.0
[[apps.features]]
name = "color"
type = "string"
categories = ["red", "blue"]
default = "red"
[[apps.upstreams]]
url = "http://127.0.0.1:3000"
"#;

    fn parse(text: &str) -> Result<GatewayConfig, ConfigError> {
        GatewayConfig::from_toml_str(text, Path::new("t.toml"), Path::new("."))
    }

    #[test]
    fn parses_defaults() {
        let c = parse(IRIS).unwrap();
        let app = &c.apps[0];
        assert_eq!(app.route(), "/apps/iris/predict");
        assert_eq!(app.upstreams[0].protocol, Protocol::V2);
        assert_eq!(app.upstreams[0].weight, 1);
        assert_eq!(app.upstreams[0].name_or("iris", 0), "iris-0");
        assert_eq!(c.server.max_body_bytes, 1 << 20);
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        let e = parse(&IRIS.replace("min = 0.0", "minimum = 0.0")).unwrap_err();
        assert!(e.to_string().contains("minimum"), "{e}");
        let e = parse(&IRIS.replace("default = \"red\"", "default = \"green\"")).unwrap_err();
        assert!(e.to_string().contains("features[1].default"), "{e}");
        let e = parse(&IRIS.replace("http://127.0.0.1:3000", "https://x")).unwrap_err();
        assert!(e.to_string().contains("upstreams[0].url"), "{e}");
        let e = parse(&IRIS.replace("categories = [\"red\", \"blue\"]", "")).unwrap_err();
        assert!(e.to_string().contains("categories"), "{e}");
    }

    #[test]
    fn checks_keys() {
        let text = format!(
            "{IRIS}\n[auth]\n[[auth.keys]]\nname = \"a\"\nsha256 = \"{}\"\napps = [\"iris\"]\n",
            "ab".repeat(32)
        );
        parse(&text).unwrap();
        let e = parse(&text.replace("apps = [\"iris\"]", "apps = [\"nope\"]")).unwrap_err();
        assert!(e.to_string().contains("unknown app"), "{e}");
        let e = parse(&text.replace(&"ab".repeat(32), "xyz")).unwrap_err();
        assert!(e.to_string().contains("sha256"), "{e}");
    }

    #[test]
    fn parses_hex() {
        let h = parse_sha256_hex(&"0f".repeat(32)).unwrap();
        assert!(h.iter().all(|b| *b == 0x0f));
        assert!(parse_sha256_hex("0f").is_none());
        assert!(parse_sha256_hex(&"zz".repeat(32)).is_none());
    }
}
