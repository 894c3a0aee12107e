//! Object-store URIs (`s3://`, `gs://`, `az://`, `abfss://`, `wasbs://`) and the configuration of
//! their clients from the environment MLflow and the clouds use:
//!
//! - S3: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` /
//!   `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` and MLflow's `MLFLOW_S3_ENDPOINT_URL` (which wins).
//!   With an endpoint, requests are path-style (MinIO, moto); `http://` endpoints are allowed.
//! - GCS: `GOOGLE_APPLICATION_CREDENTIALS` (or `GOOGLE_SERVICE_ACCOUNT*`); `STORAGE_EMULATOR_HOST`
//!   points at an emulator (unsigned requests).
//! - Azure: `AZURE_STORAGE_CONNECTION_STRING` (MLflow's), or `AZURE_STORAGE_ACCOUNT_NAME` with
//!   `AZURE_STORAGE_ACCOUNT_KEY` / `AZURE_STORAGE_ACCESS_KEY` / `AZURE_STORAGE_SAS_TOKEN`;
//!   `AZURE_STORAGE_USE_EMULATOR=true` for Azurite.
//! - Retries: `HOMEML_OBJECT_STORE_RETRIES` (default 4, at most 20) with exponential backoff from
//!   100 ms, capped at 5 s, within 60 s.
//!
//! Secrets read here are kept in [`Secrets`] so that every error message can be scrubbed of them.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};

use crate::error::{Result, TrackingError};

/// The kinds of object store a URI can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectStoreKind {
    /// Amazon S3 or an S3-compatible store (MinIO, moto, Ceph).
    S3,
    /// Google Cloud Storage.
    Gcs,
    /// Azure Blob Storage.
    Azure,
}

/// An object-store URI taken apart: kind, bucket (or container), the URL object_store is given, and
/// the key prefix under the bucket (no leading or trailing `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectUri {
    /// Which cloud.
    pub kind: ObjectStoreKind,
    /// The bucket or container.
    pub bucket: String,
    /// The key prefix inside it (`""`: the bucket's root).
    pub prefix: String,
    /// The URI as shown in messages (the bucket and prefix, nothing else).
    pub shown: String,
    /// The URL of the bucket handed to object_store's builder.
    url: String,
}

/// True when `uri` names an object store homeml can read and write.
pub fn is_object_store_uri(uri: &str) -> bool {
    ObjectUri::parse(uri).is_ok()
}

fn bad(uri: &str, reason: impl Into<String>) -> TrackingError {
    TrackingError::BadUri {
        uri: uri.into(),
        reason: reason.into(),
    }
}

impl ObjectUri {
    /// Parses `s3://bucket/prefix` (also `s3a://`), `gs://bucket/prefix`, `az://container/prefix`,
    /// `abfss://container@account.dfs.core.windows.net/prefix` and MLflow's
    /// `wasbs://container@account.blob.core.windows.net/prefix`.
    pub fn parse(uri: &str) -> Result<ObjectUri> {
        let (scheme, rest) = uri
            .split_once("://")
            .ok_or_else(|| bad(uri, "not an object-store URI (s3://, gs://, az://)"))?;
        let kind = match scheme.to_ascii_lowercase().as_str() {
            "s3" | "s3a" => ObjectStoreKind::S3,
            "gs" => ObjectStoreKind::Gcs,
            "az" | "azure" | "abfs" | "abfss" | "wasb" | "wasbs" => ObjectStoreKind::Azure,
            _ => return Err(bad(uri, "not an object-store URI (s3://, gs://, az://)")),
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.is_empty() || authority.contains(['?', '#']) || path.contains(['?', '#']) {
            return Err(bad(uri, "expected <scheme>://<bucket>/<prefix>"));
        }
        let prefix = super::path::safe_relative_path(path).map_err(|e| bad(uri, e.to_string()))?;
        let (bucket, url) = match kind {
            ObjectStoreKind::Azure => {
                let (container, account_host) = match authority.split_once('@') {
                    Some((c, h)) => (c, Some(h)),
                    None => (authority, None),
                };
                let url = match account_host {
                    // object_store knows `abfss://container@account.{dfs,blob}.core.windows.net`.
                    Some(h) => format!("abfss://{container}@{h}"),
                    None => format!("az://{container}"),
                };
                (container.to_string(), url)
            }
            _ => (authority.to_string(), format!("{scheme}://{authority}")),
        };
        if bucket.is_empty() || bucket.contains(':') {
            return Err(bad(uri, "expected <scheme>://<bucket>/<prefix>"));
        }
        let shown = if prefix.is_empty() {
            format!("{scheme}://{authority}")
        } else {
            format!("{scheme}://{authority}/{prefix}")
        };
        Ok(ObjectUri {
            kind,
            bucket,
            prefix,
            shown,
            url,
        })
    }
}

/// Credential values from the environment: never to appear in a message.
#[derive(Clone, Default)]
pub(crate) struct Secrets(Arc<Vec<String>>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} kept)", self.0.len())
    }
}

impl Secrets {
    fn from_env() -> Secrets {
        let mut v = Vec::new();
        for key in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AZURE_STORAGE_ACCOUNT_KEY",
            "AZURE_STORAGE_ACCESS_KEY",
            "AZURE_STORAGE_SAS_TOKEN",
            "AZURE_STORAGE_SAS_KEY",
            "AZURE_STORAGE_CLIENT_SECRET",
            "AZURE_CLIENT_SECRET",
            "AZURE_STORAGE_CONNECTION_STRING",
            "GOOGLE_SERVICE_ACCOUNT_KEY",
        ] {
            if let Ok(val) = std::env::var(key) {
                v.push(val);
            }
        }
        if let Ok(cs) = std::env::var("AZURE_STORAGE_CONNECTION_STRING") {
            for (k, val) in connection_string(&cs) {
                if k.eq_ignore_ascii_case("AccountKey")
                    || k.eq_ignore_ascii_case("SharedAccessSignature")
                {
                    v.push(val);
                }
            }
        }
        // Short values would scrub ordinary words.
        v.retain(|s| s.len() >= 4);
        v.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Secrets(Arc::new(v))
    }

    /// `text` with every secret replaced by `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self.0.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }
}

/// `Key=Value;Key=Value` pairs of an Azure connection string.
fn connection_string(cs: &str) -> Vec<(String, String)> {
    cs.split(';')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

/// Makes ring rustls' process-wide crypto provider, once: reqwest is built without a provider of its
/// own (see Cargo.toml), and a provider installed earlier by the embedding program is kept.
fn install_tls_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means a provider is already installed, which is what is needed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Retries of a failed request when `HOMEML_OBJECT_STORE_RETRIES` is unset.
const DEFAULT_RETRIES: usize = 4;
/// The most retries `HOMEML_OBJECT_STORE_RETRIES` may ask for.
const MAX_RETRIES: usize = 20;

/// The retries that the value of `HOMEML_OBJECT_STORE_RETRIES` asks for, and why it was not taken
/// as it is (not a count, or above [`MAX_RETRIES`]).
fn retries_from(value: Option<&str>) -> (usize, Option<String>) {
    let Some(v) = value else {
        return (DEFAULT_RETRIES, None);
    };
    match v.trim().parse::<usize>() {
        Ok(n) if n <= MAX_RETRIES => (n, None),
        Ok(n) => (
            MAX_RETRIES,
            Some(format!(
                "{n} is above the most, {MAX_RETRIES}: using {MAX_RETRIES}"
            )),
        ),
        Err(_) => (
            DEFAULT_RETRIES,
            Some(format!(
                "'{v}' is not a count of retries: using the default, {DEFAULT_RETRIES}"
            )),
        ),
    }
}

/// The bounded retries of every store: a failed request (connection error, 5xx, 429, a download
/// cut mid-body) is sent again up to `HOMEML_OBJECT_STORE_RETRIES` times (default 4, at most 20).
/// A value that is not taken as it is logs a warning, once per process.
fn retry_config() -> RetryConfig {
    let raw = env("HOMEML_OBJECT_STORE_RETRIES");
    let (max_retries, problem) = retries_from(raw.as_deref());
    if let Some(problem) = problem {
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| tracing::warn!("HOMEML_OBJECT_STORE_RETRIES: {problem}"));
    }
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            base: 2.0,
        },
        max_retries,
        retry_timeout: Duration::from_secs(60),
    }
}

fn client_options(allow_http: bool) -> ClientOptions {
    ClientOptions::new()
        .with_allow_http(allow_http)
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(120))
}

fn build_error(uri: &ObjectUri, secrets: &Secrets, e: object_store::Error) -> TrackingError {
    TrackingError::ObjectStore {
        uri: uri.shown.clone(),
        reason: format!(
            "cannot configure the client: {}",
            secrets.scrub(&e.to_string())
        ),
    }
}

/// An object_store client for the bucket of `uri`, configured from the environment, and the
/// secrets to scrub from its errors.
pub(crate) fn connect(uri: &ObjectUri) -> Result<(Arc<dyn ObjectStore>, Secrets)> {
    install_tls_crypto();
    let secrets = Secrets::from_env();
    let retry = retry_config();
    let store: Arc<dyn ObjectStore> = match uri.kind {
        ObjectStoreKind::S3 => {
            let mut b = AmazonS3Builder::from_env().with_url(&uri.url);
            let endpoint = env("MLFLOW_S3_ENDPOINT_URL")
                .or_else(|| env("AWS_ENDPOINT_URL_S3"))
                .or_else(|| env("AWS_ENDPOINT_URL"));
            let mut allow_http = false;
            if let Some(ep) = endpoint {
                allow_http = ep.starts_with("http://");
                // Path-style requests (`<endpoint>/<bucket>/<key>`), as MinIO and moto expect.
                b = b
                    .with_endpoint(ep.trim_end_matches('/'))
                    .with_virtual_hosted_style_request(false);
            }
            if env("AWS_REGION").is_none() && env("AWS_DEFAULT_REGION").is_none() {
                b = b.with_region("us-east-1");
            }
            Arc::new(
                b.with_retry(retry)
                    .with_client_options(client_options(allow_http))
                    .build()
                    .map_err(|e| build_error(uri, &secrets, e))?,
            )
        }
        ObjectStoreKind::Gcs => {
            let mut b = GoogleCloudStorageBuilder::from_env().with_url(&uri.url);
            let mut allow_http = false;
            if let Some(host) = env("STORAGE_EMULATOR_HOST") {
                let base = if host.contains("://") {
                    host
                } else {
                    format!("http://{host}")
                };
                allow_http = base.starts_with("http://");
                b = b
                    .with_base_url(base.trim_end_matches('/'))
                    .with_skip_signature(true);
            }
            Arc::new(
                b.with_retry(retry)
                    .with_client_options(client_options(allow_http))
                    .build()
                    .map_err(|e| build_error(uri, &secrets, e))?,
            )
        }
        ObjectStoreKind::Azure => {
            let mut b = MicrosoftAzureBuilder::from_env().with_url(&uri.url);
            let mut allow_http = env("AZURE_STORAGE_USE_EMULATOR").is_some_and(|v| v == "true");
            if let Some(key) = env("AZURE_STORAGE_ACCESS_KEY") {
                b = b.with_access_key(key);
            }
            if let Some(cs) = env("AZURE_STORAGE_CONNECTION_STRING") {
                for (k, v) in connection_string(&cs) {
                    match k.to_ascii_lowercase().as_str() {
                        "accountname" => b = b.with_account(v),
                        "accountkey" => b = b.with_access_key(v),
                        "blobendpoint" => {
                            allow_http |= v.starts_with("http://");
                            b = b.with_endpoint(v.trim_end_matches('/').to_string());
                        }
                        "sharedaccesssignature" => {
                            let pairs: Vec<(String, String)> = v
                                .trim_start_matches('?')
                                .split('&')
                                .filter_map(|p| p.split_once('='))
                                .map(|(a, c)| (a.to_string(), c.to_string()))
                                .collect();
                            b = b.with_sas_authorization(pairs);
                        }
                        "usedevelopmentstorage" if v.eq_ignore_ascii_case("true") => {
                            allow_http = true;
                            b = b.with_use_emulator(true);
                        }
                        _ => {}
                    }
                }
            }
            Arc::new(
                b.with_retry(retry)
                    .with_client_options(client_options(allow_http))
                    .build()
                    .map_err(|e| build_error(uri, &secrets, e))?,
            )
        }
    };
    Ok((store, secrets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_schemes_mlflow_writes() {
        let u = ObjectUri::parse("s3://bucket/some/prefix/").unwrap();
        assert_eq!(
            (
                u.kind,
                u.bucket.as_str(),
                u.prefix.as_str(),
                u.shown.as_str()
            ),
            (
                ObjectStoreKind::S3,
                "bucket",
                "some/prefix",
                "s3://bucket/some/prefix"
            )
        );
        assert_eq!(ObjectUri::parse("s3://b").unwrap().prefix, "");
        assert_eq!(
            ObjectUri::parse("gs://g/x").unwrap().kind,
            ObjectStoreKind::Gcs
        );
        let a = ObjectUri::parse("wasbs://cont@acct.blob.core.windows.net/p/q").unwrap();
        assert_eq!(
            (a.kind, a.bucket.as_str(), a.prefix.as_str()),
            (ObjectStoreKind::Azure, "cont", "p/q")
        );
        assert_eq!(a.url, "abfss://cont@acct.blob.core.windows.net");
        assert_eq!(ObjectUri::parse("az://cont/p").unwrap().url, "az://cont");
        for bad in [
            "s3://",
            "s3:///x",
            "file:///x",
            "/tmp/x",
            "s3://b/../x",
            "s3://b/x?y",
            "hdfs://n/x",
        ] {
            assert!(ObjectUri::parse(bad).is_err(), "{bad}");
        }
        assert!(is_object_store_uri("s3a://b/k"));
        assert!(!is_object_store_uri("mlflow-artifacts:/x"));
    }

    #[test]
    fn retries_are_bounded_and_bad_values_fall_back() {
        assert_eq!(retries_from(None), (DEFAULT_RETRIES, None));
        assert_eq!(retries_from(Some("0")), (0, None));
        assert_eq!(retries_from(Some(" 7 ")), (7, None));
        let (n, why) = retries_from(Some("500"));
        assert_eq!(n, MAX_RETRIES);
        assert!(why.is_some_and(|w| w.contains("500")));
        let (n, why) = retries_from(Some("-1"));
        assert_eq!(n, DEFAULT_RETRIES);
        assert!(why.is_some_and(|w| w.contains("'-1'")));
    }

    #[test]
    fn secrets_are_scrubbed_and_connection_strings_split() {
        let s = Secrets(Arc::new(vec!["SuperSecretKey".into()]));
        assert_eq!(s.scrub("bad key SuperSecretKey!"), "bad key ***!");
        let cs = connection_string("DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=abc==;BlobEndpoint=http://127.0.0.1:1/dev;");
        assert!(cs.contains(&("AccountKey".into(), "abc==".into())));
        assert!(cs.contains(&("BlobEndpoint".into(), "http://127.0.0.1:1/dev".into())));
    }
}
