//! The REST store: the tracking crate over an MLflow tracking server (`homeml server` or `mlflow
//! server`) for `http://` and `https://` tracking URIs.
//!
//! - [`RestStore`] implements [`crate::TrackingStore`] with the requests MLflow's own client sends.
//! - [`ProxyArtifacts`] implements [`crate::artifacts::ArtifactStore`] over the server's artifact
//!   proxy (`/api/2.0/mlflow-artifacts/artifacts/...`), addressed like `mlflow-artifacts:/` URIs.
//! - [`RestStore::resolve_model_uri`] resolves `models:/` and `runs:/` URIs over REST and downloads
//!   the model's files into a local cache, checked against the server's listing and renamed into
//!   place whole.
//!
//! `https://` servers are verified with the webpki roots, or the CA bundle of
//! `MLFLOW_TRACKING_SERVER_CERT_PATH` / `REQUESTS_CA_BUNDLE` (`MLFLOW_TRACKING_INSECURE_TLS=true`
//! skips verification), as MLflow's client does.
//!
//! Credentials (`MLFLOW_TRACKING_USERNAME`/`PASSWORD`, `MLFLOW_TRACKING_TOKEN`, or `user:pass@` in
//! the URI) are sent on every request and appear in no log, error or `Debug` output.

mod artifacts;
pub(crate) mod download;
mod handle;
mod http;
mod logging;
mod store;
mod tls;
mod wire;

pub use crate::artifacts::cache_entry::DOWNLOAD_MANIFEST;
pub use artifacts::ProxyArtifacts;
pub use download::default_cache_dir;
pub use handle::{proxy_path, RestStore};

/// `uri` with any `user:password@` replaced by `***@` (for messages).
pub fn redact_uri(uri: &str) -> String {
    http::redact(uri)
}

/// True for the tracking URIs this module serves (`http://`, `https://`).
pub fn is_remote_uri(uri: &str) -> bool {
    let lower = uri.get(..8).unwrap_or(uri).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_uris_to_proxy_paths() {
        assert_eq!(
            proxy_path("mlflow-artifacts:/1/abc/artifacts").as_deref(),
            Some("1/abc/artifacts")
        );
        assert_eq!(
            proxy_path("mlflow-artifacts://h:5000/1/models/m-1/artifacts/").as_deref(),
            Some("1/models/m-1/artifacts")
        );
        assert_eq!(proxy_path("file:///tmp/x"), None);
        assert!(is_remote_uri("HTTPS://x"));
        assert!(!is_remote_uri("./mlruns"));
    }
}
