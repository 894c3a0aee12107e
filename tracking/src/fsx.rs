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
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fd::AsFd;
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, CWD};

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
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::NotADirectory => {
            return Ok(None)
        }
        Err(e) => return Err(TrackingError::io(path, e)),
    };
    let bytes = read_all(&mut file).map_err(|e| TrackingError::io(path, e))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| TrackingError::Corrupt {
            kind: "text",
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// Reads a whole file. Store files are mostly tiny (a param, a tag, a meta.yaml): they are read
/// through a stack buffer with plain `read` calls, without the `statx` + `lseek` that
/// `std::fs::read` spends on sizing its buffer; a file larger than the buffer is read on with
/// `read_to_end`.
fn read_all(file: &mut File) -> std::io::Result<Vec<u8>> {
    let mut chunk = [0u8; 4096];
    let mut out = Vec::new();
    loop {
        let n = match file.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
        if n == chunk.len() {
            file.read_to_end(&mut out)?;
            return Ok(out);
        }
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

/// A folder held open: its files and sub-folders are opened relative to it (`openat`), so the
/// kernel resolves one name per file instead of the whole path, which is most of the cost of
/// opening the many tiny files of a run (params, tags, metrics).
pub(crate) struct OpenDir {
    dir: Dir,
    path: PathBuf,
}

fn is_missing(e: &std::io::Error) -> bool {
    e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::NotADirectory
}

impl OpenDir {
    const DIR_FLAGS: OFlags = OFlags::RDONLY
        .union(OFlags::DIRECTORY)
        .union(OFlags::CLOEXEC);

    /// Opens the folder at `path`; `Ok(None)` when it does not exist or is not a folder.
    pub(crate) fn open(path: &Path) -> Result<Option<OpenDir>> {
        OpenDir::open_at(CWD, path, path)
    }

    fn open_at<P: rustix::path::Arg>(
        base: impl AsFd,
        name: P,
        path: &Path,
    ) -> Result<Option<OpenDir>> {
        let fd = match rustix::fs::openat(base, name, OpenDir::DIR_FLAGS, Mode::empty()) {
            Ok(fd) => fd,
            Err(e) => {
                let e = std::io::Error::from(e);
                return if is_missing(&e) {
                    Ok(None)
                } else {
                    Err(TrackingError::io(path, e))
                };
            }
        };
        let dir = Dir::new(fd).map_err(|e| TrackingError::io(path, e.into()))?;
        Ok(Some(OpenDir {
            dir,
            path: path.to_path_buf(),
        }))
    }

    /// The folder's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the sub-folder `name`; `Ok(None)` when it does not exist or is not a folder.
    pub(crate) fn sub(&self, name: &str) -> Result<Option<OpenDir>> {
        let fd = self.fd()?;
        OpenDir::open_at(fd, name, &self.path.join(name))
    }

    fn fd(&self) -> Result<rustix::fd::BorrowedFd<'_>> {
        self.dir
            .fd()
            .map_err(|e| TrackingError::io(&self.path, e.into()))
    }

    /// Reads the file `name` as UTF-8 text; `Ok(None)` when it does not exist.
    pub(crate) fn read_file(&self, name: &str) -> Result<Option<String>> {
        let flags = OFlags::RDONLY | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(self.fd()?, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(e) => {
                let e = std::io::Error::from(e);
                return if is_missing(&e) {
                    Ok(None)
                } else {
                    Err(TrackingError::io(self.path.join(name), e))
                };
            }
        };
        let bytes = read_all(&mut File::from(fd))
            .map_err(|e| TrackingError::io(self.path.join(name), e))?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|e| TrackingError::Corrupt {
                kind: "text",
                path: self.path.join(name),
                message: e.to_string(),
            })
    }

    /// The names of the folder's entries (without `.` and `..`), each with whether it is a folder
    /// (symlinks followed), sorted. Names that are not UTF-8 are skipped, as [`list_names`] does.
    pub(crate) fn names(&mut self) -> Result<Vec<(String, bool)>> {
        let mut out = Vec::new();
        while let Some(entry) = self.dir.read() {
            let entry = entry.map_err(|e| TrackingError::io(&self.path, e.into()))?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let Ok(name) = std::str::from_utf8(name) else {
                continue;
            };
            let is_dir = match entry.file_type() {
                FileType::Directory => true,
                FileType::Symlink | FileType::Unknown => {
                    rustix::fs::statat(self.fd()?, name, AtFlags::empty())
                        .map(|st| FileType::from_raw_mode(st.st_mode).is_dir())
                        .unwrap_or(false)
                }
                _ => false,
            };
            out.push((name.to_string(), is_dir));
        }
        out.sort();
        Ok(out)
    }
}

/// Reads every file under `dir` as a key/value map: a file is a key, a sub-folder a key prefix
/// (`a/b`), as MLflow stores params and tags. Temporary files are skipped.
pub(crate) fn read_kv_dir(dir: &Path) -> Result<std::collections::BTreeMap<String, String>> {
    read_kv(OpenDir::open(dir)?)
}

/// [`read_kv_dir`] on a folder already open (`None`: a missing folder, no keys).
pub(crate) fn read_kv(dir: Option<OpenDir>) -> Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    if let Some(mut d) = dir {
        read_kv_into(&mut d, "", &mut out)?;
    }
    Ok(out)
}

fn read_kv_into(
    dir: &mut OpenDir,
    prefix: &str,
    out: &mut std::collections::BTreeMap<String, String>,
) -> Result<()> {
    for (name, is_dir) in dir.names()? {
        if name.starts_with(".homeml-tmp-") {
            continue;
        }
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        if is_dir {
            if let Some(mut sub) = dir.sub(&name)? {
                read_kv_into(&mut sub, &key, out)?;
            }
        } else if let Some(v) = dir.read_file(&name)? {
            out.insert(key, v);
        }
    }
    Ok(())
}

/// Calls `f(key, text, folder)` for every file under `dir` (slash-separated keys for sub-folders,
/// sorted within each folder; `folder` is the file's folder); temporary files are skipped.
/// `None` (a missing folder) has no files.
pub(crate) fn for_each_file_rec(
    dir: Option<OpenDir>,
    mut f: impl FnMut(&str, &str, &Path) -> Result<()>,
) -> Result<()> {
    if let Some(mut d) = dir {
        for_each_file_into(&mut d, "", &mut f)?;
    }
    Ok(())
}

fn for_each_file_into(
    dir: &mut OpenDir,
    prefix: &str,
    f: &mut impl FnMut(&str, &str, &Path) -> Result<()>,
) -> Result<()> {
    for (name, is_dir) in dir.names()? {
        if name.starts_with(".homeml-tmp-") {
            continue;
        }
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        if is_dir {
            if let Some(mut sub) = dir.sub(&name)? {
                for_each_file_into(&mut sub, &key, f)?;
            }
        } else if let Some(text) = dir.read_file(&name)? {
            f(&key, &text, dir.path())?;
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
