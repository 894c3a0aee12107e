//! Model directories in an object store (`homeml serve -m s3://bucket/path/to/model`) downloaded into
//! the local model cache, keyed by content.
//!
//! The entry's key is a hash of the URI and of every object's path, size and ETag (or version), so
//! a model whose bytes change lands in a new entry and an unchanged one is reused as it is. The files
//! are written into a temporary folder beside the entry, each read only while its ETag is still the
//! one listed (an object replaced mid-download fails the download) and checked against its listed
//! size; then the folder is renamed into place whole with its manifest: never a half-written model
//! directory. A new entry of a URI copies the files whose path, size and ETag are unchanged from the
//! URI's previous entry, so a reload downloads only what changed.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::cache_entry::{entry_is_complete, hex, sweep_stale, DOWNLOAD_MANIFEST};
use super::object::{ObjectArtifactStore, ObjectEntry};
use super::path::safe_relative_path;
use crate::error::{Result, TrackingError};

const MLMODEL: &str = "MLmodel";
/// Most files of one model.
const MAX_FILES: usize = 100_000;

fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(b"\n");
    }
    hex(&h.finalize()[..16])
}

/// Downloads the model folder at the object-store URI `uri` into `cache_dir` (or reuses the complete
/// entry of the same content) and returns the entry's path, which holds the `MLmodel`.
pub fn fetch_model_dir(uri: &str, cache_dir: &Path) -> Result<PathBuf> {
    let store = ObjectArtifactStore::open(uri)?;
    let objects: Vec<ObjectEntry> = store
        .list_tree("")?
        .into_iter()
        .filter(|o| o.path != DOWNLOAD_MANIFEST)
        .collect();
    if !objects.iter().any(|o| o.path == MLMODEL) {
        return Err(TrackingError::not_found(
            "model directory",
            format!("{} (no MLmodel object under it)", store.uri()),
        ));
    }
    if objects.len() > MAX_FILES {
        return Err(TrackingError::Download {
            what: store.uri().to_string(),
            reason: format!("more than {MAX_FILES} files"),
        });
    }
    let listing: Vec<String> = objects
        .iter()
        .map(|o| format!("{}\0{}\0{}", o.path, o.size, o.tag.as_deref().unwrap_or("")))
        .collect();
    let mut parts = vec![store.uri()];
    parts.extend(listing.iter().map(String::as_str));
    let key = digest(&parts);
    let entry = cache_dir.join(&key);
    if entry_is_complete(&entry) {
        tracing::debug!(entry = %entry.display(), uri = store.uri(), "model cache hit");
        return Ok(entry);
    }
    std::fs::create_dir_all(cache_dir).map_err(|e| TrackingError::io(cache_dir, e))?;
    sweep_stale(cache_dir, &key);
    // The URI's previous entry, whose unchanged files are copied instead of downloaded.
    let latest = cache_dir.join(format!(".latest-{}", digest(&[store.uri()])));
    let previous = std::fs::read_to_string(&latest)
        .ok()
        .map(|k| cache_dir.join(k.trim()))
        .filter(|p| p != &entry && entry_is_complete(p));
    let previous_files = previous
        .as_ref()
        .and_then(|p| std::fs::read(p.join(DOWNLOAD_MANIFEST)).ok())
        .and_then(|t| serde_json::from_slice::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("files").cloned())
        .unwrap_or_default();
    let tmp = cache_dir.join(format!(
        ".tmp-{key}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let filled = fill(&store, &objects, &tmp, previous.as_deref(), &previous_files);
    let manifest = match filled {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let mp = tmp.join(DOWNLOAD_MANIFEST);
    let text = serde_json::to_vec_pretty(&serde_json::json!({
        "uri": store.uri(),
        "files": manifest,
    }))
    .map_err(|e| TrackingError::InvalidValue {
        what: "download manifest",
        reason: e.to_string(),
    })?;
    if let Err(e) = std::fs::write(&mp, text) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(TrackingError::io(&mp, e));
    }
    if entry.exists() {
        let _ = std::fs::remove_dir_all(&entry);
    }
    if let Err(e) = std::fs::rename(&tmp, &entry) {
        let _ = std::fs::remove_dir_all(&tmp);
        if entry_is_complete(&entry) {
            return Ok(entry);
        }
        return Err(TrackingError::io(&entry, e));
    }
    let _ = std::fs::write(&latest, &key);
    tracing::info!(entry = %entry.display(), uri = store.uri(), "model downloaded from the object store");
    Ok(entry)
}

/// Writes every object into `dest`: copied from `previous` when unchanged there, else downloaded.
fn fill(
    store: &ObjectArtifactStore,
    objects: &[ObjectEntry],
    dest: &Path,
    previous: Option<&Path>,
    previous_files: &serde_json::Value,
) -> Result<BTreeMap<String, serde_json::Value>> {
    let mut out = BTreeMap::new();
    std::fs::create_dir_all(dest).map_err(|e| TrackingError::io(dest, e))?;
    for o in objects {
        let rel = safe_relative_path(&o.path)?;
        if rel.is_empty() {
            continue;
        }
        let target = dest.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| TrackingError::io(parent, e))?;
        }
        let meta = serde_json::json!({"size": o.size, "tag": o.tag});
        let unchanged =
            previous.filter(|_| o.tag.is_some() && previous_files.get(&rel) == Some(&meta));
        let copied = unchanged.is_some_and(|p| {
            let src = p.join(&rel);
            std::fs::metadata(&src).is_ok_and(|m| m.len() == o.size)
                && (std::fs::hard_link(&src, &target).is_ok()
                    || std::fs::copy(&src, &target).is_ok_and(|n| n == o.size))
        });
        if !copied {
            download(store, o, &rel, &target)?;
        }
        out.insert(rel, meta);
    }
    Ok(out)
}

fn download(store: &ObjectArtifactStore, o: &ObjectEntry, rel: &str, target: &Path) -> Result<()> {
    let shown = format!("{}/{rel}", store.uri());
    let mut reader = store.get_if_match(rel, o.tag.as_deref())?;
    let mut file = std::fs::File::create(target).map_err(|e| TrackingError::io(target, e))?;
    let mut buf = vec![0u8; 256 << 10];
    let mut n: u64 = 0;
    loop {
        let k = reader
            .reader
            .read(&mut buf)
            .map_err(|e| TrackingError::Download {
                what: shown.clone(),
                reason: format!("after {n} bytes: {e}"),
            })?;
        if k == 0 {
            break;
        }
        file.write_all(&buf[..k])
            .map_err(|e| TrackingError::io(target, e))?;
        n += k as u64;
    }
    file.sync_all().map_err(|e| TrackingError::io(target, e))?;
    if n != o.size {
        return Err(TrackingError::Download {
            what: shown,
            reason: format!("{n} bytes received, the listing says {}", o.size),
        });
    }
    Ok(())
}
