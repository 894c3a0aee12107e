//! The artifact store trait (where artifact bytes live, addressed by checked relative paths) and the
//! reader of one artifact file.

use std::io::Read;

use crate::entities::FileInfo;
use crate::error::Result;

/// An open artifact file being read.
pub struct ArtifactReader {
    /// Its size in bytes.
    pub size: u64,
    /// Its bytes.
    pub reader: Box<dyn Read + Send>,
}

impl std::fmt::Debug for ArtifactReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactReader")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// Where artifact bytes live, addressed by `/`-separated relative paths checked by
/// [`super::safe_relative_path`] (no `..`, not absolute, no backslash or NUL, no encoded escapes). Methods
/// block.
pub trait ArtifactStore: Send + Sync {
    /// Writes the file at `path` from `body` (parents created); it appears whole or not at all.
    /// Returns the number of bytes written.
    fn put(&self, path: &str, body: &mut dyn Read) -> Result<u64>;
    /// [`ArtifactStore::put`] from bytes in memory.
    fn put_bytes(&self, path: &str, bytes: &[u8]) -> Result<u64> {
        let mut r = bytes;
        self.put(path, &mut r)
    }
    /// Opens the file at `path`: not found when absent, invalid when it is a folder.
    fn get(&self, path: &str) -> Result<ArtifactReader>;
    /// The entries directly under the folder `dir` (`""`: the root), with paths relative to the
    /// root; empty when the folder does not exist.
    fn list(&self, dir: &str) -> Result<Vec<FileInfo>>;
    /// Deletes a file or a folder with everything under it (absent: not found).
    fn delete(&self, path: &str) -> Result<()>;
}
