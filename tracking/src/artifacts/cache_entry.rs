//! One entry of the local model cache: the manifest (`.homeml-download.json`: size and SHA-256 of
//! every file) that marks an entry complete, the check that an entry on disk still matches it, and
//! the sweep of temporary folders that downloads of gone processes left. Shared by the REST
//! resolver's proxy downloads and the object-store downloads of [`super::fetch_model_dir`].

use std::path::Path;

/// The manifest file of a complete cache entry.
pub const DOWNLOAD_MANIFEST: &str = ".homeml-download.json";

/// Lower-case hex of `bytes` (a digest in a manifest or a cache key).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// True when `entry` has its manifest and every file in it has the size it lists.
pub(crate) fn entry_is_complete(entry: &Path) -> bool {
    let Ok(text) = std::fs::read(entry.join(DOWNLOAD_MANIFEST)) else {
        return false;
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&text) else {
        return false;
    };
    let Some(files) = v.get("files").and_then(|f| f.as_object()) else {
        return false;
    };
    files.iter().all(|(rel, meta)| {
        let size = meta.get("size").and_then(|s| s.as_u64());
        super::path::safe_relative_path(rel).is_ok()
            && std::fs::metadata(entry.join(rel))
                .is_ok_and(|m| m.is_file() && Some(m.len()) == size)
    })
}

/// Removes temporary folders of `key` left by downloads of processes that are gone.
pub(crate) fn sweep_stale(cache_dir: &Path, key: &str) {
    let Ok(rd) = std::fs::read_dir(cache_dir) else {
        return;
    };
    let prefix = format!(".tmp-{key}-");
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        let alive = pid
            .is_some_and(|p| p == std::process::id() || Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_complete_only_with_its_manifest_and_every_size() {
        let tmp = tempfile::tempdir().unwrap();
        let entry = tmp.path().join("e");
        std::fs::create_dir_all(entry.join("sub")).unwrap();
        std::fs::write(entry.join("MLmodel"), "flavors: {}\n").unwrap();
        std::fs::write(entry.join("sub/w.bin"), [1u8, 2, 3]).unwrap();
        assert!(!entry_is_complete(&entry), "no manifest");
        let manifest = serde_json::json!({"files": {
            "MLmodel": {"size": 12, "sha256": ""},
            "sub/w.bin": {"size": 3, "sha256": ""},
        }});
        std::fs::write(entry.join(DOWNLOAD_MANIFEST), manifest.to_string()).unwrap();
        assert!(entry_is_complete(&entry));
        std::fs::write(entry.join("sub/w.bin"), [1u8, 2]).unwrap();
        assert!(!entry_is_complete(&entry), "a file changed size");
        let escaping = serde_json::json!({"files": {"../x": {"size": 0}}});
        std::fs::write(entry.join(DOWNLOAD_MANIFEST), escaping.to_string()).unwrap();
        assert!(
            !entry_is_complete(&entry),
            "a manifest naming a path outside"
        );
    }

    #[test]
    fn stale_temporary_folders_of_gone_processes_are_swept() {
        let tmp = tempfile::tempdir().unwrap();
        let gone = tmp.path().join(".tmp-k-4000000000-x");
        let mine = tmp.path().join(format!(".tmp-k-{}-y", std::process::id()));
        let other_key = tmp.path().join(".tmp-j-4000000000-x");
        for d in [&gone, &mine, &other_key] {
            std::fs::create_dir_all(d).unwrap();
        }
        sweep_stale(tmp.path(), "k");
        assert!(!gone.exists() && mine.exists() && other_key.exists());
    }
}
