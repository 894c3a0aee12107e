//! [`ArtifactStore`] on a local folder (`--artifacts-destination ./mlartifacts`): uploads go to a
//! temporary file beside the target and are renamed in whole; every path is checked to stay under the
//! root, symlinks included.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::path::safe_relative_path;
use super::store::{ArtifactReader, ArtifactStore};
use crate::entities::FileInfo;
use crate::error::{Result, TrackingError};
use crate::util;

/// Prefix of the temporary files of uploads in progress (never listed).
const TMP_PREFIX: &str = ".homeml-upload-";

/// Artifacts in a local folder.
#[derive(Debug, Clone)]
pub struct LocalArtifactStore {
    root: PathBuf,
}

impl LocalArtifactStore {
    /// The store at a path or `file://` URI (created if missing).
    pub fn open(uri_or_path: &str) -> Result<LocalArtifactStore> {
        let path = util::uri_to_path(uri_or_path).ok_or_else(|| TrackingError::BadUri {
            uri: uri_or_path.into(),
            reason: "only local paths and file:// URIs are supported as artifact destinations"
                .into(),
        })?;
        fs::create_dir_all(&path).map_err(|e| TrackingError::io(&path, e))?;
        let root = fs::canonicalize(&path).map_err(|e| TrackingError::io(&path, e))?;
        Ok(LocalArtifactStore { root })
    }

    /// The root folder (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The local path of a checked relative path.
    fn resolve(&self, path: &str) -> Result<(String, PathBuf)> {
        let rel = safe_relative_path(path)?;
        let full = if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(&rel)
        };
        Ok((rel, full))
    }

    /// Refuses a path whose existing part leads outside the root (through a symlink).
    fn check_inside(&self, original: &str, full: &Path) -> Result<()> {
        let mut existing = full.to_path_buf();
        while !existing.exists() {
            if !existing.pop() {
                break;
            }
        }
        let canon = fs::canonicalize(&existing).map_err(|e| TrackingError::io(&existing, e))?;
        if !canon.starts_with(&self.root) {
            return Err(TrackingError::InvalidValue {
                what: "artifact path",
                reason: format!("Invalid path '{original}': it leads outside the artifact root"),
            });
        }
        Ok(())
    }
}

fn not_found(path: &str, full: &Path) -> TrackingError {
    TrackingError::not_found_at("artifact", path, full)
}

impl ArtifactStore for LocalArtifactStore {
    fn put(&self, path: &str, body: &mut dyn Read) -> Result<u64> {
        let (rel, full) = self.resolve(path)?;
        if rel.is_empty() {
            return Err(TrackingError::InvalidValue {
                what: "artifact path",
                reason: "an upload needs a file path".into(),
            });
        }
        self.check_inside(path, &full)?;
        let parent = full.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&parent).map_err(|e| TrackingError::io(&parent, e))?;
        self.check_inside(path, &parent)?;
        if full.is_dir() {
            return Err(TrackingError::InvalidValue {
                what: "artifact path",
                reason: format!("'{rel}' is a folder"),
            });
        }
        let tmp = parent.join(format!("{TMP_PREFIX}{}", uuid::Uuid::new_v4().simple()));
        let result = (|| -> Result<u64> {
            let mut f = File::create(&tmp).map_err(|e| TrackingError::io(&tmp, e))?;
            let n = std::io::copy(body, &mut f).map_err(|e| TrackingError::io(&full, e))?;
            f.flush().map_err(|e| TrackingError::io(&tmp, e))?;
            fs::rename(&tmp, &full).map_err(|e| TrackingError::io(&full, e))?;
            Ok(n)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn get(&self, path: &str) -> Result<ArtifactReader> {
        let (_, full) = self.resolve(path)?;
        self.check_inside(path, &full)?;
        let meta = fs::metadata(&full).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory => {
                not_found(path, &full)
            }
            _ => TrackingError::io(&full, e),
        })?;
        if meta.is_dir() {
            return Err(TrackingError::InvalidValue {
                what: "artifact path",
                reason: format!("'{path}' is a folder, not a file"),
            });
        }
        let f = File::open(&full).map_err(|e| TrackingError::io(&full, e))?;
        Ok(ArtifactReader {
            size: meta.len(),
            reader: Box::new(f),
        })
    }

    fn list(&self, dir: &str) -> Result<Vec<FileInfo>> {
        let (rel, full) = self.resolve(dir)?;
        self.check_inside(dir, &full)?;
        let rd = match fs::read_dir(&full) {
            Ok(rd) => rd,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(Vec::new())
            }
            Err(e) => return Err(TrackingError::io(&full, e)),
        };
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| TrackingError::io(&full, e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.starts_with(TMP_PREFIX) {
                continue;
            }
            let meta = entry
                .metadata()
                .map_err(|e| TrackingError::io(entry.path(), e))?;
            out.push(FileInfo {
                path: if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                },
                is_dir: meta.is_dir(),
                file_size: (!meta.is_dir()).then_some(meta.len()),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn delete(&self, path: &str) -> Result<()> {
        let (rel, full) = self.resolve(path)?;
        if rel.is_empty() {
            return Err(TrackingError::InvalidValue {
                what: "artifact path",
                reason: "the artifact root itself cannot be deleted".into(),
            });
        }
        self.check_inside(path, &full)?;
        let meta = fs::symlink_metadata(&full).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => not_found(path, &full),
            _ => TrackingError::io(&full, e),
        })?;
        if meta.is_dir() {
            fs::remove_dir_all(&full)
        } else {
            fs::remove_file(&full)
        }
        .map_err(|e| TrackingError::io(&full, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_list_delete_stay_inside() {
        let d = tempfile::tempdir().unwrap();
        let s = LocalArtifactStore::open(d.path().join("art").to_str().unwrap()).unwrap();
        assert_eq!(s.put_bytes("1/r/artifacts/a/b.txt", b"hello").unwrap(), 5);
        let mut got = Vec::new();
        s.get("1/r/artifacts/a/b.txt")
            .unwrap()
            .reader
            .read_to_end(&mut got)
            .unwrap();
        assert_eq!(got, b"hello");
        let l = s.list("1/r/artifacts").unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!((l[0].path.as_str(), l[0].is_dir), ("1/r/artifacts/a", true));
        assert!(s.list("nope").unwrap().is_empty());
        assert!(s.get("1/r/artifacts/nope").unwrap_err().is_not_found());
        assert!(s.get("1/r/artifacts/a").is_err());
        for bad in ["../x", "/x", "%2e%2e/x", "a\\b"] {
            assert!(s.put_bytes(bad, b"x").is_err(), "{bad}");
        }
        std::os::unix::fs::symlink(d.path(), s.root().join("link")).unwrap();
        assert!(s.put_bytes("link/escaped", b"x").is_err());
        assert!(!d.path().join("escaped").exists());
        s.delete("1/r").unwrap();
        assert!(s.list("1").unwrap().is_empty());
    }
}
