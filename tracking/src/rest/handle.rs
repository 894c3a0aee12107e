//! The [`RestStore`] handle (a server's address and credentials) and the artifact-URI rule of the
//! server's proxy, shared by the store, logging and download modules.

use super::artifacts::ProxyArtifacts;
use super::http;
use crate::error::Result;

/// An MLflow tracking server as a tracking store. Cheap to clone; blocking.
#[derive(Debug, Clone)]
pub struct RestStore {
    pub(super) http: http::Http,
}

impl RestStore {
    /// A store talking to the server at `uri` (`http(s)://host:port[/prefix]`). Nothing is sent
    /// until the first call.
    pub fn open(uri: &str) -> Result<RestStore> {
        Ok(RestStore {
            http: http::Http::new(uri)?,
        })
    }

    /// The server's address (credentials left out).
    pub fn uri(&self) -> &str {
        self.http.base()
    }

    /// The server's artifact proxy.
    pub fn artifacts(&self) -> ProxyArtifacts {
        ProxyArtifacts {
            http: self.http.clone(),
        }
    }
}

/// The proxy path of an artifact URI the server's proxy serves: `mlflow-artifacts:/x/y` (also
/// `mlflow-artifacts://host:port/x/y`) gives `x/y`; anything else `None`.
pub fn proxy_path(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("mlflow-artifacts:")?;
    let rest = match rest.strip_prefix("//") {
        Some(r) => r.split_once('/').map(|(_, p)| p).unwrap_or(""),
        None => rest,
    };
    Some(rest.trim_matches('/').to_string())
}
