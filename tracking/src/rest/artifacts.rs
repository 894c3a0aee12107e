//! [`ArtifactStore`] over a tracking server's artifact proxy: `PUT`, `GET` and `DELETE` of
//! `/api/2.0/mlflow-artifacts/artifacts/<path>`, listing with `GET ...artifacts?path=<dir>`.
//! Paths are those of `mlflow-artifacts:/<path>` URIs, checked by [`safe_relative_path`] before
//! anything is sent.

use std::io::Read;

use super::http::{encode_path, About, Http};
use super::wire;
use crate::artifacts::path::safe_relative_path;
use crate::artifacts::store::{ArtifactReader, ArtifactStore};
use crate::entities::FileInfo;
use crate::error::Result;

const PROXY: &str = "api/2.0/mlflow-artifacts/artifacts";

/// A tracking server's artifact proxy (from [`super::RestStore::artifacts`]).
#[derive(Debug, Clone)]
pub struct ProxyArtifacts {
    pub(super) http: Http,
}

fn about(path: &str) -> About<'_> {
    About {
        kind: "artifact",
        name: path,
    }
}

impl ProxyArtifacts {
    fn file_path(&self, path: &str) -> Result<String> {
        Ok(format!(
            "{PROXY}/{}",
            encode_path(&safe_relative_path(path)?)
        ))
    }
}

impl ArtifactStore for ProxyArtifacts {
    fn put(&self, path: &str, body: &mut dyn Read) -> Result<u64> {
        let endpoint = self.file_path(path)?;
        let mut counted = Counting { inner: body, n: 0 };
        self.http
            .put_raw(&endpoint, &mut counted)
            .map_err(|f| f.into_error(self.http.base(), &endpoint, about(path)))?;
        Ok(counted.n)
    }

    fn get(&self, path: &str) -> Result<ArtifactReader> {
        let endpoint = self.file_path(path)?;
        let (len, reader) = self
            .http
            .get_raw(&endpoint)
            .map_err(|f| f.into_error(self.http.base(), &endpoint, about(path)))?;
        Ok(ArtifactReader {
            size: len.unwrap_or(0),
            reader,
        })
    }

    fn list(&self, dir: &str) -> Result<Vec<FileInfo>> {
        let dir = safe_relative_path(dir)?;
        let v = self
            .http
            .get_json(PROXY, &[("path", dir.clone())])
            .map_err(|f| f.into_error(self.http.base(), PROXY, about(&dir)))?;
        // The proxy answers base names; the trait's paths are relative to the root.
        Ok(wire::file_infos(&v)
            .into_iter()
            .map(|mut f| {
                let base = f.path.rsplit('/').next().unwrap_or(&f.path).to_string();
                f.path = if dir.is_empty() {
                    base
                } else {
                    format!("{dir}/{base}")
                };
                f
            })
            .collect())
    }

    fn delete(&self, path: &str) -> Result<()> {
        let endpoint = self.file_path(path)?;
        self.http
            .delete_raw(&endpoint)
            .map_err(|f| f.into_error(self.http.base(), &endpoint, about(path)))
    }
}

/// Counts the bytes read through it.
struct Counting<'a> {
    inner: &'a mut dyn Read,
    n: u64,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}
