//! Model URIs over REST and the local model cache: `models:/name@alias`, `models:/name/<version |
//! stage | latest>`, `models:/m-<id>` and `runs:/<run>/<path>` are resolved with the server's registry
//! and run APIs to an artifact location: one the server's proxy serves, whose files are downloaded
//! into `<cache>/<key>/`, or an object store the client reads directly (a non-proxied `s3://`
//! artifact root, as with the mlflow client), downloaded into the same cache by
//! [`crate::artifacts::fetch_model_dir`].
//!
//! Never a half-written model: files are written into a temporary folder beside the cache entry,
//! each checked against the size the server's listing gave (and hashed), then the folder is renamed
//! into place whole with a manifest (`.homeml-download.json`: sizes and SHA-256 of every file). An
//! entry is reused only when its manifest is there and every file still has its size; a failed or
//! interrupted download leaves no entry (its temporary folder is removed, or swept by the next
//! download). A cache entry is keyed by the server and the artifact location, which names one logged
//! model or run folder: a moved alias resolves to another location, hence another entry.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::handle::{proxy_path, RestStore};
use crate::api::{LoggedModelStatus, SearchLoggedModels, TrackingStore};
use crate::artifacts::cache_entry::{entry_is_complete, hex, sweep_stale, DOWNLOAD_MANIFEST};
use crate::artifacts::location::Place;
use crate::artifacts::store::ArtifactStore;
use crate::entities::{ModelVersion, ResolvedModel, Stage};
use crate::error::{Result, TrackingError};

const MLMODEL: &str = "MLmodel";
/// Most files of one model (a bound against a hostile listing).
const MAX_FILES: usize = 100_000;

/// The default model cache: `$HOMEML_MODEL_CACHE`, else `$XDG_CACHE_HOME/homeml/models`, else
/// `~/.cache/homeml/models`, else `<tmp>/homeml-models`.
pub fn default_cache_dir() -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(p) = var("HOMEML_MODEL_CACHE") {
        return p;
    }
    if let Some(p) = var("XDG_CACHE_HOME") {
        return p.join("homeml/models");
    }
    if let Some(p) = var("HOME") {
        return p.join(".cache/homeml/models");
    }
    std::env::temp_dir().join("homeml-models")
}

fn bad(uri: &str, reason: impl Into<String>) -> TrackingError {
    TrackingError::BadUri {
        uri: uri.into(),
        reason: reason.into(),
    }
}

/// Where the files of a model folder are, seen from a client of the server.
enum Source {
    /// Behind the server's artifact proxy, by proxy path.
    Proxy(String),
    /// In an object store the client reads directly (with its own credentials, as the mlflow client
    /// does for a non-proxied `s3://` artifact root), or in a folder this machine sees.
    Direct(Place),
}

impl Source {
    /// The source of an artifact location, for the model URI `uri`.
    fn of(uri: &str, location: &str) -> Result<Source> {
        if let Some(p) = proxy_path(location) {
            return Ok(Source::Proxy(p));
        }
        match Place::of(uri, location) {
            Ok(Place::Local(p)) if !p.is_dir() => Err(unserved(uri, location)),
            Ok(place) => Ok(Source::Direct(place)),
            Err(_) => Err(unserved(uri, location)),
        }
    }
}

/// What a model URI names on the server, before downloading.
struct Target {
    /// Where the model folder is.
    source: Source,
    registered_name: Option<String>,
    version: Option<u64>,
    run_id: Option<String>,
    model_id: Option<String>,
}

impl RestStore {
    /// Resolves a `models:/` or `runs:/` URI over REST and downloads the model into `cache_dir`
    /// (reusing a complete entry). The returned path holds the `MLmodel`.
    pub fn resolve_model_uri(&self, uri: &str, cache_dir: &Path) -> Result<ResolvedModel> {
        let t = self.target(uri, 0)?;
        let path = match &t.source {
            Source::Proxy(p) => {
                let path = self.download(p, cache_dir)?;
                if !path.join(MLMODEL).is_file() {
                    return Err(TrackingError::not_found(
                        "model directory",
                        format!("{uri} ({p} on {} has no MLmodel)", self.uri()),
                    ));
                }
                path
            }
            Source::Direct(place) => place.model_dir(uri, cache_dir)?,
        };
        Ok(ResolvedModel {
            path,
            registered_name: t.registered_name,
            version: t.version,
            run_id: t.run_id,
            model_id: t.model_id,
        })
    }

    fn target(&self, uri: &str, depth: u32) -> Result<Target> {
        if depth > 4 {
            return Err(bad(
                uri,
                "the URI refers to itself through registry sources",
            ));
        }
        if let Some(rest) = uri.strip_prefix("models:/") {
            let rest = rest.trim_start_matches('/').trim_end_matches('/');
            let (head, tail) = match rest.split_once('/') {
                Some((h, t)) => (h, Some(t)),
                None => (rest, None),
            };
            if let Some((name, alias)) = head.split_once('@') {
                if tail.is_some() {
                    return Err(bad(uri, "expected models:/<name>@<alias>"));
                }
                let mv = self.get_model_version_by_alias(name, alias)?;
                return self.version_target(uri, mv, depth);
            }
            let Some(sel) = tail else {
                let lm = self.ready_logged_model(head)?;
                return Ok(Target {
                    source: Source::of(uri, &lm.artifact_location)?,
                    registered_name: None,
                    version: None,
                    run_id: lm.source_run_id,
                    model_id: Some(lm.model_id),
                });
            };
            let mv = if let Ok(v) = sel.parse::<u64>() {
                self.get_model_version(head, v)?
            } else {
                let stages: Vec<Stage> = if sel.eq_ignore_ascii_case("latest") {
                    Vec::new()
                } else {
                    vec![Stage::parse(sel).ok_or_else(|| {
                        bad(
                            uri,
                            format!("'{sel}' is not a version, 'latest' or a stage"),
                        )
                    })?]
                };
                self.get_latest_versions(head, &stages)?
                    .into_iter()
                    .max_by_key(|v| v.version)
                    .ok_or_else(|| {
                        TrackingError::not_found("model version", format!("{head}/{sel}"))
                    })?
            };
            return self.version_target(uri, mv, depth);
        }
        if let Some(rest) = uri.strip_prefix("runs:/") {
            let (run_id, sub) = rest
                .trim_start_matches('/')
                .split_once('/')
                .ok_or_else(|| bad(uri, "expected runs:/<run_id>/<path>"))?;
            let sub = crate::artifacts::path::safe_relative_path(sub.trim_end_matches('/'))?;
            let run = self.get_run(run_id)?;
            let source = match Source::of(uri, &run.info.artifact_uri)? {
                Source::Proxy(base) => Source::Proxy(join(&base, &sub)),
                Source::Direct(place) => Source::Direct(place.join(uri, &sub)?),
            };
            let has_mlmodel = match &source {
                Source::Proxy(path) => self
                    .artifacts()
                    .list(path)?
                    .iter()
                    .any(|f| !f.is_dir && f.path.rsplit('/').next() == Some(MLMODEL)),
                Source::Direct(place) => place.has_mlmodel()?,
            };
            if has_mlmodel {
                return Ok(Target {
                    source,
                    registered_name: None,
                    version: None,
                    run_id: Some(run_id.to_string()),
                    model_id: None,
                });
            }
            // MLflow 3: a logged model of that name from this run.
            let mut token = None;
            loop {
                let page = self.search_logged_models(&SearchLoggedModels {
                    experiment_ids: vec![run.info.experiment_id.clone()],
                    filter: Some(format!("name = '{}'", sub.replace('\'', "\\'"))),
                    max_results: 100,
                    page_token: token,
                    ..Default::default()
                })?;
                if let Some(lm) = page
                    .items
                    .into_iter()
                    .find(|m| m.source_run_id.as_deref() == Some(run_id))
                {
                    let lm = self.ready_logged_model(&lm.model_id)?;
                    return Ok(Target {
                        source: Source::of(uri, &lm.artifact_location)?,
                        registered_name: None,
                        version: None,
                        run_id: Some(run_id.to_string()),
                        model_id: Some(lm.model_id),
                    });
                }
                match page.next_page_token {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
            return Err(TrackingError::not_found("model directory", uri));
        }
        Err(bad(
            uri,
            "expected models:/ or runs:/ with an http(s):// tracking URI",
        ))
    }

    /// A logged model whose upload is finished: a PENDING one may have only some of its files.
    fn ready_logged_model(&self, model_id: &str) -> Result<crate::api::LoggedModelInfo> {
        let lm = self.get_logged_model(model_id, false)?;
        match lm.status {
            LoggedModelStatus::Pending | LoggedModelStatus::Failed => {
                Err(TrackingError::InvalidState {
                    kind: "logged model",
                    name: model_id.to_string(),
                    reason: format!(
                        "is {} (its files are being uploaded, or the upload failed)",
                        lm.status
                    ),
                })
            }
            _ => Ok(lm),
        }
    }

    fn version_target(&self, uri: &str, mv: ModelVersion, depth: u32) -> Result<Target> {
        if let Some(mid) = &mv.model_id {
            self.ready_logged_model(mid)?;
        }
        let location = self.get_model_version_download_uri(&mv.name, mv.version)?;
        let mut found = if location.starts_with("models:/") || location.starts_with("runs:/") {
            Some(self.target(&location, depth + 1)?)
        } else {
            Source::of(uri, &location).ok().map(|source| Target {
                source,
                registered_name: None,
                version: None,
                run_id: None,
                model_id: None,
            })
        };
        // A version whose files the proxy does not serve: its logged model may be.
        if found.is_none() {
            if let Some(mid) = &mv.model_id {
                found = self.target(&format!("models:/{mid}"), depth + 1).ok();
            }
        }
        let t = found.ok_or_else(|| unserved(uri, &location))?;
        Ok(Target {
            source: t.source,
            registered_name: Some(mv.name),
            version: Some(mv.version),
            run_id: mv.run_id.or(t.run_id),
            model_id: mv.model_id.or(t.model_id),
        })
    }

    /// The cache entry of the proxy folder `path`: reused when complete, else downloaded.
    fn download(&self, path: &str, cache_dir: &Path) -> Result<PathBuf> {
        let key = {
            let mut h = Sha256::new();
            h.update(self.uri().as_bytes());
            h.update(b"\n");
            h.update(path.as_bytes());
            hex(&h.finalize()[..16])
        };
        let entry = cache_dir.join(&key);
        if entry_is_complete(&entry) {
            tracing::debug!(entry = %entry.display(), path, "model cache hit");
            return Ok(entry);
        }
        std::fs::create_dir_all(cache_dir).map_err(|e| TrackingError::io(cache_dir, e))?;
        sweep_stale(cache_dir, &key);
        let tmp = cache_dir.join(format!(
            ".tmp-{key}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let result = self.fill(path, &tmp).and_then(|m| {
            // Not a model (yet): cache nothing, so that a later resolve looks again.
            if tmp.join(MLMODEL).is_file() {
                Ok(m)
            } else {
                Err(TrackingError::not_found(
                    "model directory",
                    format!("{path} on {} (no MLmodel)", self.uri()),
                ))
            }
        });
        let manifest = match result {
            Ok(m) => m,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        let write_manifest = || -> Result<()> {
            let mp = tmp.join(DOWNLOAD_MANIFEST);
            let text = serde_json::to_vec_pretty(&serde_json::json!({
                "server": self.uri(),
                "path": path,
                "files": manifest,
            }))
            .map_err(|e| TrackingError::InvalidValue {
                what: "download manifest",
                reason: e.to_string(),
            })?;
            std::fs::write(&mp, text).map_err(|e| TrackingError::io(&mp, e))
        };
        if let Err(e) = write_manifest() {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        if entry.exists() {
            // An incomplete entry (no manifest, or a file changed since): replace it.
            let _ = std::fs::remove_dir_all(&entry);
        }
        if let Err(e) = std::fs::rename(&tmp, &entry) {
            let _ = std::fs::remove_dir_all(&tmp);
            // Another process may have completed the same entry meanwhile.
            if entry_is_complete(&entry) {
                return Ok(entry);
            }
            return Err(TrackingError::io(&entry, e));
        }
        tracing::info!(entry = %entry.display(), path, server = self.uri(), "model downloaded");
        Ok(entry)
    }

    /// Downloads every file under the proxy folder `path` into `dest`; returns (relative path ->
    /// size and SHA-256).
    fn fill(&self, path: &str, dest: &Path) -> Result<BTreeMap<String, serde_json::Value>> {
        let artifacts = self.artifacts();
        let mut out = BTreeMap::new();
        let mut dirs = vec![String::new()];
        std::fs::create_dir_all(dest).map_err(|e| TrackingError::io(dest, e))?;
        while let Some(rel_dir) = dirs.pop() {
            for f in artifacts.list(&join(path, &rel_dir))? {
                let name = f.path.rsplit('/').next().unwrap_or(&f.path).to_string();
                if name.is_empty() || name == "." || name == ".." || name == DOWNLOAD_MANIFEST {
                    continue;
                }
                let rel = join(&rel_dir, &name);
                let rel = crate::artifacts::path::safe_relative_path(&rel)?;
                if f.is_dir {
                    let d = dest.join(&rel);
                    std::fs::create_dir_all(&d).map_err(|e| TrackingError::io(&d, e))?;
                    dirs.push(rel);
                    continue;
                }
                if out.len() >= MAX_FILES {
                    return Err(TrackingError::Download {
                        what: path.to_string(),
                        reason: format!("more than {MAX_FILES} files"),
                    });
                }
                let (size, sha) =
                    self.fetch_file(&join(path, &rel), &dest.join(&rel), f.file_size)?;
                out.insert(rel, serde_json::json!({"size": size, "sha256": sha}));
            }
        }
        Ok(out)
    }

    fn fetch_file(&self, src: &str, dest: &Path, listed: Option<u64>) -> Result<(u64, String)> {
        let mut reader = self.artifacts().get(src)?;
        let mut file = std::fs::File::create(dest).map_err(|e| TrackingError::io(dest, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut n: u64 = 0;
        loop {
            let k = reader
                .reader
                .read(&mut buf)
                .map_err(|e| TrackingError::Download {
                    what: src.to_string(),
                    reason: format!("after {n} bytes: {e}"),
                })?;
            if k == 0 {
                break;
            }
            hasher.update(&buf[..k]);
            file.write_all(&buf[..k])
                .map_err(|e| TrackingError::io(dest, e))?;
            n += k as u64;
        }
        file.sync_all().map_err(|e| TrackingError::io(dest, e))?;
        for (what, want) in [
            ("the listing", listed),
            ("Content-Length", Some(reader.size).filter(|s| *s > 0)),
        ] {
            if let Some(want) = want {
                if want != n {
                    return Err(TrackingError::Download {
                        what: src.to_string(),
                        reason: format!("{n} bytes received, {what} says {want}"),
                    });
                }
            }
        }
        Ok((n, hex(&hasher.finalize())))
    }
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

fn unserved(uri: &str, location: &str) -> TrackingError {
    bad(
        uri,
        format!(
            "its files are at '{location}', which is neither behind the tracking server's artifact \
             proxy (mlflow-artifacts:/...), nor in an object store (s3://, gs://, az://), nor a folder \
             on this machine"
        ),
    )
}
