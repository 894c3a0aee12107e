//! Filesystem helpers with crash-safe semantics.
//!
//! - whole-file replacement through a temporary file and a rename (readers never see a torn file);
//! - appends with `O_APPEND` and one `write` call per batch of lines (concurrent writers lose nothing);
//! - create-only writes through a hard link (the first writer wins, atomically);
//! - an advisory lock file for allocating unique names across processes.
//!
//! Temporary files live in `<root>/.trash/`, a folder MLflow lists only for sub-folders (deleted
//! experiments), so a file left by a crashed writer is never read as a tag or param.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Result, TrackingError};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh temporary path inside `tmp_dir`.
pub(crate) fn tmp_path(tmp_dir: &Path) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    tmp_dir.join(format!(
        ".homeml-tmp-{}-{}-{}",
        std::process::id(),
        n,
        uuid::Uuid::new_v4().simple()
    ))
}

fn write_tmp(tmp_dir: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let tmp = tmp_path(tmp_dir);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| TrackingError::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| TrackingError::io(&tmp, e))?;
    Ok(tmp)
}

/// Creates the parent folder of `path`.
pub(crate) fn ensure_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| TrackingError::io(parent, e))?;
    }
    Ok(())
}

/// Replaces `path` with `bytes` atomically: a temporary file in `tmp_dir`, then a rename.
pub(crate) fn atomic_write(tmp_dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    ensure_parent(path)?;
    let tmp = write_tmp(tmp_dir, bytes)?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        TrackingError::io(path, e)
    })
}

/// Writes `bytes` to `path` only if `path` does not exist; the file appears whole or not at all.
/// Returns `false` when the file existed already.
pub(crate) fn write_new(tmp_dir: &Path, path: &Path, bytes: &[u8]) -> Result<bool> {
    ensure_parent(path)?;
    let tmp = write_tmp(tmp_dir, bytes)?;
    let res = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match res {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(TrackingError::io(path, e)),
    }
}

/// Appends `text` with one `write` on an `O_APPEND` descriptor.
pub(crate) fn append(path: &Path, text: &str) -> Result<()> {
    let open = || OpenOptions::new().append(true).create(true).open(path);
    let mut f = match open() {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            ensure_parent(path)?;
            open().map_err(|e| TrackingError::io(path, e))?
        }
        Err(e) => return Err(TrackingError::io(path, e)),
    };
    // `write_all` on a regular file issues one write for the whole buffer unless interrupted.
    f.write_all(text.as_bytes())
        .map_err(|e| TrackingError::io(path, e))
}

/// Reads a file as UTF-8 text; `Ok(None)` when it does not exist.
pub(crate) fn read_opt(path: &Path) -> Result<Option<String>> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|e| TrackingError::Corrupt {
                kind: "text",
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::NotADirectory => {
            Ok(None)
        }
        Err(e) => Err(TrackingError::io(path, e)),
    }
}

/// Names of the entries of a folder (files and folders), sorted; empty when it does not exist.
pub(crate) fn list_names(dir: &Path) -> Result<Vec<(String, bool)>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::NotADirectory => {
            return Ok(Vec::new())
        }
        Err(e) => return Err(TrackingError::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| TrackingError::io(dir, e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let is_dir = match entry.file_type() {
            Ok(t) if t.is_symlink() => entry.path().is_dir(),
            Ok(t) => t.is_dir(),
            Err(_) => false,
        };
        out.push((name, is_dir));
    }
    out.sort();
    Ok(out)
}

/// Reads every file under `dir` as a key/value map: a file is a key, a sub-folder a key prefix
/// (`a/b`), as MLflow stores params and tags. Temporary files are skipped.
pub(crate) fn read_kv_dir(dir: &Path) -> Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    read_kv_into(dir, "", &mut out)?;
    Ok(out)
}

fn read_kv_into(
    dir: &Path,
    prefix: &str,
    out: &mut std::collections::BTreeMap<String, String>,
) -> Result<()> {
    for (name, is_dir) in list_names(dir)? {
        if name.starts_with(".homeml-tmp-") {
            continue;
        }
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let path = dir.join(&name);
        if is_dir {
            read_kv_into(&path, &key, out)?;
        } else if let Some(v) = read_opt(&path)? {
            out.insert(key, v);
        }
    }
    Ok(())
}

/// Lists every file under `dir` as a slash-separated relative key (metric files, tag files).
pub(crate) fn list_files_rec(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    list_files_into(dir, "", &mut out)?;
    Ok(out)
}

fn list_files_into(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<()> {
    for (name, is_dir) in list_names(dir)? {
        if name.starts_with(".homeml-tmp-") {
            continue;
        }
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        if is_dir {
            list_files_into(&dir.join(&name), &key, out)?;
        } else {
            out.push(key);
        }
    }
    Ok(())
}

/// Copies a file or a folder tree. Symlinks are followed; their targets are copied.
pub(crate) fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let meta = fs::metadata(from).map_err(|e| TrackingError::io(from, e))?;
    if meta.is_dir() {
        fs::create_dir_all(to).map_err(|e| TrackingError::io(to, e))?;
        for entry in fs::read_dir(from).map_err(|e| TrackingError::io(from, e))? {
            let entry = entry.map_err(|e| TrackingError::io(from, e))?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else {
        ensure_parent(to)?;
        fs::copy(from, to).map_err(|e| TrackingError::io(to, e))?;
    }
    Ok(())
}

/// An exclusive advisory lock on a file, released on drop.
pub(crate) struct FileLock {
    file: File,
}

impl FileLock {
    /// Blocks until the lock on `path` is held.
    pub(crate) fn acquire(path: &Path) -> Result<FileLock> {
        ensure_parent(path)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| TrackingError::io(path, e))?;
        file.lock().map_err(|e| TrackingError::io(path, e))?;
        Ok(FileLock { file })
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_new_keeps_the_first_value() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a/b");
        assert!(write_new(d.path(), &p, b"1").unwrap());
        assert!(!write_new(d.path(), &p, b"2").unwrap());
        assert_eq!(fs::read_to_string(&p).unwrap(), "1");
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let tmp = d.path().join("tmp");
        fs::create_dir(&tmp).unwrap();
        let p = d.path().join("x/meta.yaml");
        atomic_write(&tmp, &p, b"one").unwrap();
        atomic_write(&tmp, &p, b"two").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
    }

    #[test]
    fn kv_dirs_nest_with_slashes() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("a")).unwrap();
        fs::write(d.path().join("a/b"), "v1").unwrap();
        fs::write(d.path().join("c"), "v2").unwrap();
        fs::write(d.path().join(".homeml-tmp-1"), "junk").unwrap();
        let kv = read_kv_dir(d.path()).unwrap();
        assert_eq!(kv.len(), 2);
        assert_eq!(kv["a/b"], "v1");
        assert_eq!(kv["c"], "v2");
        assert!(read_kv_dir(&d.path().join("missing")).unwrap().is_empty());
    }
}
