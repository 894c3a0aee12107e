//! [`ArtifactStore`] on an object store (`s3://bucket/prefix`, `gs://`, `az://`) through Apache
//! Arrow's `object_store`: uploads are one PUT (or a multipart upload past 8 MiB, completed or
//! aborted whole, so an object appears whole or not at all), downloads stream, folders are key
//! prefixes. Requests run on the store's own runtime ([`super::runtime`]).

use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};

use super::path::safe_relative_path;
use super::remote::{self, ObjectUri, Secrets};
use super::runtime::block_on;
use super::store::{ArtifactReader, ArtifactStore};
use crate::entities::FileInfo;
use crate::error::{Result, TrackingError};

/// Size of one part of a multipart upload (S3 wants at least 5 MiB but the last).
const PART: usize = 8 << 20;

/// One object as listed: its path under the store's root, size and version tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEntry {
    /// The path relative to the store's root.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its ETag or version (what changes when its bytes change), when the store gives one.
    pub tag: Option<String>,
}

/// Artifacts in an object-store bucket under a key prefix.
#[derive(Debug, Clone)]
pub struct ObjectArtifactStore {
    store: Arc<dyn ObjectStore>,
    uri: ObjectUri,
    secrets: Secrets,
}

impl ObjectArtifactStore {
    /// The store at an object-store URI, configured from the environment (see
    /// [`super::remote`]). Nothing is requested yet: a wrong bucket or credentials show on first use.
    pub fn open(uri: &str) -> Result<ObjectArtifactStore> {
        let uri = ObjectUri::parse(uri)?;
        // The clients spawn their connection tasks on the runtime they run in: build them there.
        let _guard = super::runtime::handle()?.enter();
        let (store, secrets) = remote::connect(&uri)?;
        Ok(ObjectArtifactStore {
            store,
            uri,
            secrets,
        })
    }

    /// The URI of the store's root (bucket and prefix; no credentials).
    pub fn uri(&self) -> &str {
        &self.uri.shown
    }

    /// The object key of a root-relative path (already checked).
    fn key(&self, rel: &str) -> Result<ObjectPath> {
        let full = match (self.uri.prefix.is_empty(), rel.is_empty()) {
            (true, _) => rel.to_string(),
            (_, true) => self.uri.prefix.clone(),
            _ => format!("{}/{rel}", self.uri.prefix),
        };
        ObjectPath::parse(&full).map_err(|e| TrackingError::InvalidValue {
            what: "artifact path",
            reason: format!("'{rel}' is not a valid object key: {e}"),
        })
    }

    /// The root-relative path of an object key from a listing.
    fn rel_of(&self, key: &ObjectPath) -> String {
        let k = key.as_ref();
        if self.uri.prefix.is_empty() {
            return k.to_string();
        }
        k.strip_prefix(self.uri.prefix.as_str())
            .map(|r| r.trim_start_matches('/').to_string())
            .unwrap_or_else(|| k.to_string())
    }

    /// The URI of one path, for messages.
    fn shown(&self, rel: &str) -> String {
        if rel.is_empty() {
            self.uri.shown.clone()
        } else {
            format!("{}/{rel}", self.uri.shown)
        }
    }

    /// A typed error naming the URI of `rel`, with a hint at the usual causes, and no secret.
    pub(crate) fn error(&self, rel: &str, e: object_store::Error) -> TrackingError {
        let uri = self.shown(rel);
        let mut text = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            let t = s.to_string();
            if !text.contains(&t) {
                text.push_str(": ");
                text.push_str(&t);
            }
            src = s.source();
        }
        let text = self.secrets.scrub(&text);
        let lower = text.to_ascii_lowercase();
        let bucket = &self.uri.bucket;
        let hint = if lower.contains("nosuchbucket")
            || lower.contains("containernotfound")
            || lower.contains("bucket does not exist")
        {
            format!("the bucket '{bucket}' does not exist")
        } else if matches!(
            e,
            object_store::Error::Unauthenticated { .. }
                | object_store::Error::PermissionDenied { .. }
        ) || lower.contains("invalidaccesskeyid")
            || lower.contains("signaturedoesnotmatch")
            || lower.contains("accessdenied")
            || lower.contains("authenticationfailed")
        {
            "the credentials were refused (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, \
             GOOGLE_APPLICATION_CREDENTIALS or the Azure account key)"
                .to_string()
        } else if lower.contains("connect") || lower.contains("dns error") {
            "cannot reach the object store (no network, or nothing listening at the endpoint)"
                .to_string()
        } else if matches!(e, object_store::Error::Precondition { .. }) {
            "the object changed or vanished while it was being read".to_string()
        } else if matches!(e, object_store::Error::NotFound { .. }) {
            return TrackingError::NotFound {
                kind: "artifact",
                name: uri,
                path: None,
            };
        } else {
            "request failed".to_string()
        };
        TrackingError::ObjectStore {
            uri,
            reason: format!("{hint}: {text}"),
        }
    }

    /// Every object under the folder `dir` (recursively), with root-relative paths, sorted.
    pub fn list_tree(&self, dir: &str) -> Result<Vec<ObjectEntry>> {
        let rel = safe_relative_path(dir)?;
        let prefix = if rel.is_empty() && self.uri.prefix.is_empty() {
            None
        } else {
            Some(self.key(&rel)?)
        };
        let store = self.store.clone();
        let metas: Vec<ObjectMeta> =
            block_on(async move { store.list(prefix.as_ref()).try_collect::<Vec<_>>().await })?
                .map_err(|e| self.error(&rel, e))?;
        let mut out: Vec<ObjectEntry> = metas
            .into_iter()
            .map(|m| ObjectEntry {
                path: self.rel_of(&m.location),
                size: m.size,
                tag: m.e_tag.or(m.version),
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Opens `rel` only while its ETag is still `tag` (a replaced object fails the read instead of
    /// mixing two versions).
    pub fn get_if_match(&self, path: &str, tag: Option<&str>) -> Result<ArtifactReader> {
        let rel = safe_relative_path(path)?;
        let key = self.key(&rel)?;
        let store = self.store.clone();
        let opts = GetOptions {
            if_match: tag.map(str::to_string),
            ..Default::default()
        };
        let got = block_on(async move { store.get_opts(&key, opts).await })?;
        let got = match got {
            Ok(g) => g,
            Err(e @ object_store::Error::NotFound { .. }) => {
                // A folder is not a file.
                if !rel.is_empty() && !self.list(&rel)?.is_empty() {
                    return Err(TrackingError::InvalidValue {
                        what: "artifact path",
                        reason: format!("'{path}' is a folder, not a file"),
                    });
                }
                return Err(self.error(&rel, e));
            }
            Err(e) => return Err(self.error(&rel, e)),
        };
        let size = got.meta.size;
        Ok(ArtifactReader {
            size,
            reader: Box::new(ObjectReader {
                stream: Some(got.into_stream()),
                cur: Bytes::new(),
                shown: self.shown(&rel),
                secrets: self.secrets.clone(),
                read: 0,
                size,
            }),
        })
    }
}

/// A `Read` over a download's byte stream, polled on the object-store runtime one chunk at a time.
struct ObjectReader {
    stream: Option<BoxStream<'static, object_store::Result<Bytes>>>,
    cur: Bytes,
    shown: String,
    secrets: Secrets,
    read: u64,
    size: u64,
}

impl Read for ObjectReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            let Some(mut stream) = self.stream.take() else {
                return Ok(0);
            };
            let (stream, next) = block_on(async move {
                let next = stream.next().await;
                (stream, next)
            })
            .map_err(std::io::Error::other)?;
            match next {
                None => {
                    if self.read != self.size {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            format!(
                                "{}: the download ended after {} of {} bytes",
                                self.shown, self.read, self.size
                            ),
                        ));
                    }
                    return Ok(0);
                }
                Some(Ok(b)) => {
                    self.stream = Some(stream);
                    self.cur = b;
                }
                Some(Err(e)) => {
                    return Err(std::io::Error::other(format!(
                        "{}: the download failed after {} bytes: {}",
                        self.shown,
                        self.read,
                        self.secrets.scrub(&e.to_string())
                    )))
                }
            }
        }
        let n = out.len().min(self.cur.len());
        out[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        self.read += n as u64;
        Ok(n)
    }
}

/// Reads up to `PART` bytes (fewer only at the end of the body).
fn read_part(body: &mut dyn Read, shown: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(PART.min(1 << 20));
    let mut chunk = vec![0u8; 256 << 10];
    while buf.len() < PART {
        let want = (PART - buf.len()).min(chunk.len());
        match body.read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(TrackingError::ObjectStore {
                    uri: shown.to_string(),
                    reason: format!("the upload's body failed: {e}"),
                })
            }
        }
    }
    Ok(buf)
}

impl ArtifactStore for ObjectArtifactStore {
    fn put(&self, path: &str, body: &mut dyn Read) -> Result<u64> {
        let rel = safe_relative_path(path)?;
        if rel.is_empty() {
            return Err(TrackingError::InvalidValue {
                what: "artifact path",
                reason: "an upload needs a file path".into(),
            });
        }
        let key = self.key(&rel)?;
        let shown = self.shown(&rel);
        let first = read_part(body, &shown)?;
        if first.len() < PART {
            let n = first.len() as u64;
            let store = self.store.clone();
            block_on(async move { store.put(&key, PutPayload::from(first)).await })?
                .map_err(|e| self.error(&rel, e))?;
            return Ok(n);
        }
        let store = self.store.clone();
        let k = key.clone();
        let mut upload = block_on(async move { store.put_multipart(&k).await })?
            .map_err(|e| self.error(&rel, e))?;
        let mut total = 0u64;
        let mut part = first;
        let result = loop {
            total += part.len() as u64;
            let fut = upload.put_part(PutPayload::from(part));
            if let Err(e) = block_on(fut).and_then(|r| r.map_err(|e| self.error(&rel, e))) {
                break Err(e);
            }
            match read_part(body, &shown) {
                Ok(next) if next.is_empty() => break Ok(()),
                Ok(next) => part = next,
                Err(e) => break Err(e),
            }
        };
        if let Err(e) = result {
            let _ = block_on(async move { upload.abort().await });
            return Err(e);
        }
        let (mut upload, done) = block_on(async move {
            let done = upload.complete().await;
            (upload, done)
        })?;
        match done {
            Ok(_) => Ok(total),
            Err(e) => {
                let _ = block_on(async move { upload.abort().await });
                Err(self.error(&rel, e))
            }
        }
    }

    fn get(&self, path: &str) -> Result<ArtifactReader> {
        self.get_if_match(path, None)
    }

    fn list(&self, dir: &str) -> Result<Vec<FileInfo>> {
        let rel = safe_relative_path(dir)?;
        let prefix = if rel.is_empty() && self.uri.prefix.is_empty() {
            None
        } else {
            Some(self.key(&rel)?)
        };
        let store = self.store.clone();
        let listed = block_on(async move { store.list_with_delimiter(prefix.as_ref()).await })?
            .map_err(|e| self.error(&rel, e))?;
        let mut out: Vec<FileInfo> = listed
            .common_prefixes
            .iter()
            .map(|p| FileInfo {
                path: self.rel_of(p),
                is_dir: true,
                file_size: None,
            })
            .chain(listed.objects.iter().map(|m| FileInfo {
                path: self.rel_of(&m.location),
                is_dir: false,
                file_size: Some(m.size),
            }))
            .filter(|f| !f.path.is_empty())
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn delete(&self, path: &str) -> Result<()> {
        let rel = safe_relative_path(path)?;
        if rel.is_empty() {
            return Err(TrackingError::InvalidValue {
                what: "artifact path",
                reason: "the artifact root itself cannot be deleted".into(),
            });
        }
        let key = self.key(&rel)?;
        let store = self.store.clone();
        let k = key.clone();
        let head = block_on(async move { store.head(&k).await })?;
        let mut keys: Vec<ObjectPath> = match head {
            Ok(_) => vec![key.clone()],
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(self.error(&rel, e)),
        };
        let store = self.store.clone();
        let k = key.clone();
        let under: Vec<ObjectMeta> =
            block_on(async move { store.list(Some(&k)).try_collect::<Vec<_>>().await })?
                .map_err(|e| self.error(&rel, e))?;
        keys.extend(under.into_iter().map(|m| m.location));
        if keys.is_empty() {
            return Err(TrackingError::NotFound {
                kind: "artifact",
                name: self.shown(&rel),
                path: None,
            });
        }
        for k in keys {
            let store = self.store.clone();
            match block_on(async move { store.delete(&k).await })? {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.error(&rel, e)),
            }
        }
        Ok(())
    }
}
