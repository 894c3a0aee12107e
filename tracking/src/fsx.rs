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
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, CWD};

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

/// Scratch state for reading many small store files on one thread: one file buffer and one
/// folder-entry buffer reused for every file and folder (no allocation per file), and whether a
/// short `read` ends a file (see [`short_read_is_eof`]).
pub(crate) struct Reader {
    buf: Vec<u8>,
    dir_buf: Vec<MaybeUninit<u8>>,
    short_read_is_eof: bool,
}

impl Reader {
    /// A reader that reads every file until `read` returns 0 (right on every filesystem).
    pub(crate) fn new() -> Reader {
        Reader::with_short_read_eof(false)
    }

    /// A reader that, when `short_read_is_eof`, takes a `read` that returned less than it asked
    /// for as the end of the file and skips the last `read` (the one returning 0) of each file.
    pub(crate) fn with_short_read_eof(short_read_is_eof: bool) -> Reader {
        Reader {
            buf: Vec::with_capacity(8192),
            dir_buf: Vec::new(),
            short_read_is_eof,
        }
    }

    /// Reads the open file `fd` whole into the reused buffer.
    fn read_fd(&mut self, fd: &OwnedFd) -> std::io::Result<&[u8]> {
        self.buf.clear();
        loop {
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(self.buf.capacity().max(4096));
            }
            let asked = self.buf.capacity() - self.buf.len();
            match rustix::io::read(fd, rustix::buffer::spare_capacity(&mut self.buf)) {
                Ok(0) => break,
                Ok(n) if n < asked && self.short_read_is_eof => break,
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(&self.buf)
    }
}

/// Filesystems whose regular-file `read` goes through the page cache and returns less than asked
/// only at the end of the file (Linux `filemap_read`/`shmem_file_read_iter` loop until the buffer
/// is full or the end is reached): ext2/3/4, xfs, btrfs, tmpfs, overlayfs, f2fs.
const SHORT_READ_IS_EOF: [u64; 6] = [
    0xEF53,      // ext2/3/4
    0x5846_5342, // xfs
    0x9123_683E, // btrfs
    0x0102_1994, // tmpfs
    0x794C_7630, // overlayfs
    0xF2F5_2010, // f2fs
];

/// Whether a short `read` of a regular file under `dir` means its end: true on the local
/// filesystems of [`SHORT_READ_IS_EOF`], false on any other (NFS, FUSE, ...) and when `statfs`
/// fails, so readers there keep reading until `read` returns 0.
pub(crate) fn short_read_is_eof(dir: &Path) -> bool {
    rustix::fs::statfs(dir)
        .ok()
        .and_then(|st| u64::try_from(st.f_type).ok())
        .is_some_and(|t| SHORT_READ_IS_EOF.contains(&t))
}

/// A folder held open: its files and sub-folders are opened relative to it (`openat`), so the
/// kernel resolves one name per file instead of the whole path, which is most of the cost of
/// opening the many tiny files of a run (params, tags, metrics).
pub(crate) struct OpenDir {
    fd: OwnedFd,
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
        OpenDir::open_at(CWD, path, || path.to_path_buf())
    }

    /// Opens `name` relative to `base`; `path` (its full path) is only built when needed.
    fn open_at<P: rustix::path::Arg>(
        base: impl AsFd,
        name: P,
        path: impl FnOnce() -> PathBuf,
    ) -> Result<Option<OpenDir>> {
        match rustix::fs::openat(base, name, OpenDir::DIR_FLAGS, Mode::empty()) {
            Ok(fd) => Ok(Some(OpenDir { fd, path: path() })),
            Err(e) => {
                let e = std::io::Error::from(e);
                if is_missing(&e) {
                    Ok(None)
                } else {
                    Err(TrackingError::io(path(), e))
                }
            }
        }
    }

    /// The folder's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the sub-folder `name`; `Ok(None)` when it does not exist or is not a folder.
    /// `name` may hold `/` (a folder further down).
    pub(crate) fn sub(&self, name: &str) -> Result<Option<OpenDir>> {
        OpenDir::open_at(&self.fd, name, || self.path.join(name))
    }

    /// Reads the file `name` (it may hold `/`: a file further down) as UTF-8 text into the
    /// reader's buffer; `Ok(None)` when it does not exist.
    pub(crate) fn read_text<'r>(&self, rd: &'r mut Reader, name: &str) -> Result<Option<&'r str>> {
        let flags = OFlags::RDONLY | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
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
        let bytes = rd
            .read_fd(&fd)
            .map_err(|e| TrackingError::io(self.path.join(name), e))?;
        std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|e| TrackingError::Corrupt {
                kind: "text",
                path: self.path.join(name),
                message: e.to_string(),
            })
    }

    /// The names of the folder's entries (without `.` and `..`), each with whether it is a folder
    /// (symlinks followed), sorted. Names that are not UTF-8 are skipped, as [`list_names`] does.
    /// A folder removed while it is read has no more entries.
    pub(crate) fn names(&self, rd: &mut Reader) -> Result<Vec<(String, bool)>> {
        // 32 KiB: most folders of a store come back in one `getdents64`.
        if rd.dir_buf.len() < 32 * 1024 {
            rd.dir_buf.resize(32 * 1024, MaybeUninit::uninit());
        }
        let mut out = Vec::with_capacity(16);
        let mut entries = RawDir::new(&self.fd, &mut rd.dir_buf);
        while let Some(entry) = entries.next() {
            let entry = match entry {
                Ok(entry) => entry,
                // The folder was removed while held open (a run deleted meanwhile): it has no
                // more entries, and the files of those already listed are gone too.
                Err(rustix::io::Errno::NOENT) => break,
                Err(e) => return Err(TrackingError::io(&self.path, e.into())),
            };
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
                    rustix::fs::statat(&self.fd, name, AtFlags::empty())
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
    read_kv(&mut Reader::new(), OpenDir::open(dir)?)
}

/// [`read_kv_dir`] on a folder already open (`None`: a missing folder, no keys).
pub(crate) fn read_kv(
    rd: &mut Reader,
    dir: Option<OpenDir>,
) -> Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    for_each_file_rec(rd, dir, |key, text, _| {
        out.insert(key, text.to_owned());
        Ok(())
    })?;
    Ok(out)
}

/// Calls `f(key, text, folder)` for every file under `dir` (slash-separated keys for sub-folders,
/// sorted within each folder; `folder` is the file's folder); temporary files are skipped.
/// `None` (a missing folder) has no files.
pub(crate) fn for_each_file_rec(
    rd: &mut Reader,
    dir: Option<OpenDir>,
    mut f: impl FnMut(String, &str, &Path) -> Result<()>,
) -> Result<()> {
    if let Some(d) = dir {
        for_each_file_into(rd, &d, "", &mut f)?;
    }
    Ok(())
}

fn for_each_file_into(
    rd: &mut Reader,
    dir: &OpenDir,
    prefix: &str,
    f: &mut impl FnMut(String, &str, &Path) -> Result<()>,
) -> Result<()> {
    for (name, is_dir) in dir.names(rd)? {
        if name.starts_with(".homeml-tmp-") {
            continue;
        }
        if is_dir {
            if let Some(sub) = dir.sub(&name)? {
                let key = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                for_each_file_into(rd, &sub, &key, f)?;
            }
        } else if let Some(text) = dir.read_text(rd, &name)? {
            let key = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            f(key, text, dir.path())?;
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
    fn readers_read_whole_files_of_every_size() {
        let d = tempfile::tempdir().unwrap();
        let sizes = [
            0usize, 1, 100, 4095, 4096, 4097, 8191, 8192, 8193, 100_000, 1_000_003,
        ];
        for n in sizes {
            let text: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            std::fs::write(d.path().join(format!("f{n}")), &text).unwrap();
        }
        let dir = OpenDir::open(d.path()).unwrap().unwrap();
        // One reader per mode, reused across files of growing and shrinking sizes.
        for short in [false, true] {
            let mut rd = Reader::with_short_read_eof(short);
            for n in sizes.iter().chain(sizes.iter().rev()) {
                let want = std::fs::read_to_string(d.path().join(format!("f{n}"))).unwrap();
                let got = dir.read_text(&mut rd, &format!("f{n}")).unwrap().unwrap();
                assert_eq!(got.len(), *n, "short {short}");
                assert_eq!(got, want);
            }
            assert!(dir.read_text(&mut rd, "missing").unwrap().is_none());
        }
    }

    #[test]
    fn short_reads_end_files_only_on_known_local_filesystems() {
        // /proc is not one of them; the temporary folder's filesystem is what `statfs` says.
        assert!(!short_read_is_eof(Path::new("/proc/self")));
        assert!(!short_read_is_eof(Path::new("/no/such/folder")));
        let d = tempfile::tempdir().unwrap();
        let st = rustix::fs::statfs(d.path()).unwrap();
        let local = u64::try_from(st.f_type).is_ok_and(|t| SHORT_READ_IS_EOF.contains(&t));
        assert_eq!(short_read_is_eof(d.path()), local);
    }

    #[test]
    fn names_of_a_large_folder_span_several_getdents() {
        let d = tempfile::tempdir().unwrap();
        // ~3000 entries of ~40 bytes each: more than one 32 KiB buffer.
        let mut want = Vec::new();
        for i in 0..3000 {
            let name = format!("entry-with-a-longish-name-{i:05}");
            if i % 10 == 0 {
                fs::create_dir(d.path().join(&name)).unwrap();
            } else {
                fs::write(d.path().join(&name), "x").unwrap();
            }
            want.push((name, i % 10 == 0));
        }
        want.sort();
        let dir = OpenDir::open(d.path()).unwrap().unwrap();
        let mut rd = Reader::new();
        assert_eq!(dir.names(&mut rd).unwrap(), want);
        assert_eq!(list_names(d.path()).unwrap(), want);
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
