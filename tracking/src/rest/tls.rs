//! TLS for `https://` tracking URIs, configured from the environment as MLflow's client reads it:
//! `MLFLOW_TRACKING_SERVER_CERT_PATH` (a PEM CA bundle, MLflow's own variable), else
//! `REQUESTS_CA_BUNDLE` (the bundle `requests` uses) replace the built-in web roots;
//! `MLFLOW_TRACKING_INSECURE_TLS=true` skips verification (refused together with a cert path, as
//! MLflow refuses it). Without any of them the webpki roots verify the server.

use std::sync::Arc;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::error::{Result, TrackingError};

fn env_nonempty(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

fn refuse(reason: String) -> TrackingError {
    TrackingError::InvalidValue {
        what: "TLS settings",
        reason,
    }
}

/// The TLS configuration of the environment.
pub(crate) fn from_env() -> Result<TlsConfig> {
    let insecure = env_nonempty("MLFLOW_TRACKING_INSECURE_TLS")
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    let cert_path = env_nonempty("MLFLOW_TRACKING_SERVER_CERT_PATH");
    if insecure && cert_path.is_some() {
        return Err(refuse(
            "When 'MLFLOW_TRACKING_INSECURE_TLS' is 'true', 'MLFLOW_TRACKING_SERVER_CERT_PATH' must not be set".into(),
        ));
    }
    let builder = TlsConfig::builder();
    if insecure {
        return Ok(builder.disable_verification(true).build());
    }
    let Some((var, path)) = cert_path
        .map(|p| ("MLFLOW_TRACKING_SERVER_CERT_PATH", p))
        .or_else(|| env_nonempty("REQUESTS_CA_BUNDLE").map(|p| ("REQUESTS_CA_BUNDLE", p)))
    else {
        return Ok(builder.build());
    };
    let pem = std::fs::read(&path).map_err(|e| refuse(format!("{var}={path}: {e}")))?;
    let certs = ca_certs(&pem).map_err(|why| refuse(format!("{var}={path}: {why}")))?;
    Ok(builder
        .root_certs(RootCerts::Specific(Arc::new(certs)))
        .build())
}

/// The certificates of a PEM bundle (keys and other items are skipped); none is an error.
fn ca_certs(pem: &[u8]) -> std::result::Result<Vec<Certificate<'static>>, String> {
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item.map_err(|e| format!("not a PEM file: {e}"))? {
            PemItem::Certificate(c) => out.push(c),
            _ => continue,
        }
    }
    if out.is_empty() {
        return Err("no certificate in the file".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_without_certificates_is_refused() {
        assert!(ca_certs(b"").unwrap_err().contains("no certificate"));
        assert!(
            ca_certs(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").is_err()
        );
    }
}
