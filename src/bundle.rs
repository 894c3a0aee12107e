//! Serving bundles: a resolved model directory, a `serve.toml` and a Dockerfile in one folder, named by a
//! content hash so that the same model and config always give the same version (the image tag).

use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context};
use sha2::{Digest, Sha256};

/// The folder inside a bundle that holds the model directory.
pub const MODEL_DIR: &str = "model";
/// The bundle's server configuration.
pub const SERVE_TOML: &str = "serve.toml";
/// The bundle's manifest.
pub const MANIFEST: &str = "bundle.json";

/// What goes into a bundle.
#[derive(Debug)]
pub struct BundleSpec<'a> {
    /// The resolved model directory (holds `MLmodel`).
    pub model_dir: &'a Path,
    /// The model's name in the server and the image's name.
    pub name: &'a str,
    /// The URI the model was resolved from (recorded, not hashed).
    pub source_uri: &'a str,
}

/// A built bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The bundle folder.
    pub dir: PathBuf,
    /// The served model name.
    pub name: String,
    /// The content-addressed version: the first 16 hex digits of a SHA-256 over every model file (its
    /// relative path and bytes) and `serve.toml`.
    pub version: String,
}

/// The `serve.toml` of a bundle: the model at `model/`, listening on all interfaces.
pub fn serve_toml(name: &str) -> String {
    format!(
        "# Written by `homeml build`; served with `homeml serve --bundle <this folder>`.\n\
         host = \"0.0.0.0\"\nport = 8080\n\n[[models]]\nname = \"{name}\"\nuri = \"{MODEL_DIR}\"\n"
    )
}

/// The Dockerfile of a bundle: the homeml runtime image plus the bundle.
pub fn dockerfile() -> String {
    "# Written by `homeml build`. Build with:\n\
     #   docker build --build-arg HOMEML_IMAGE=homeml:latest -t <name>:<version> .\n\
     ARG HOMEML_IMAGE=homeml:latest\n\
     FROM ${HOMEML_IMAGE}\n\
     COPY --chown=65532:65532 . /bundle\n\
     CMD [\"serve\", \"--bundle\", \"/bundle\", \"--port\", \"8080\"]\n"
        .to_string()
}

/// Checks a model/image name: lowercase letters, digits, `-`, `_`, `.`; 1 to 128 characters.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
        && !name.starts_with(['.', '-', '_']);
    if !ok {
        bail!("bundle name {name:?} must be 1-128 of a-z, 0-9, '-', '_', '.', starting with a letter or digit");
    }
    Ok(())
}

/// Every regular file under `dir`, as (path relative to `dir` with `/` separators, absolute path), sorted.
fn list_files(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let entry = entry.with_context(|| format!("reading {}", d.display()))?;
            let path = entry.path();
            let meta =
                std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let rel = path
                    .strip_prefix(dir)
                    .with_context(|| format!("{} is outside {}", path.display(), dir.display()))?;
                let rel = rel
                    .components()
                    .map(|c| match c {
                        Component::Normal(s) => Ok(s.to_string_lossy().into_owned()),
                        _ => bail!("unexpected path component in {}", rel.display()),
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?
                    .join("/");
                out.push((rel, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The content version of a set of files: SHA-256 over each (relative path, length, bytes), in order.
pub fn content_version<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut hasher = Sha256::new();
    for (rel, bytes) in files {
        hasher.update(rel.as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    let digest = hasher.finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Writes a bundle into `out`. `out` must not exist, be empty, or hold an earlier bundle (which is replaced).
pub fn build(spec: &BundleSpec<'_>, out: &Path) -> anyhow::Result<Bundle> {
    check_name(spec.name)?;
    if !spec.model_dir.join("MLmodel").is_file() {
        bail!(
            "{} is not a model directory (no MLmodel)",
            spec.model_dir.display()
        );
    }
    if out.exists() {
        let mut entries =
            std::fs::read_dir(out).with_context(|| format!("reading {}", out.display()))?;
        let empty = entries.next().is_none();
        if !empty && !out.join(MANIFEST).is_file() {
            bail!(
                "{} is not empty and is not a homeml bundle: refusing to overwrite it",
                out.display()
            );
        }
    }
    let files = list_files(spec.model_dir)?;
    let mut contents = Vec::with_capacity(files.len());
    for (rel, path) in &files {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        contents.push((format!("{MODEL_DIR}/{rel}"), bytes));
    }
    let serve = serve_toml(spec.name);
    let version = content_version(
        contents
            .iter()
            .map(|(r, b)| (r.as_str(), b.as_slice()))
            .chain(std::iter::once((SERVE_TOML, serve.as_bytes()))),
    );

    // Write everything into a fresh sibling folder, then swap it in, so a failure never leaves half a bundle.
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".homeml-bundle-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a staging folder in {}", parent.display()))?;
    for (rel, bytes) in &contents {
        let dest = staging.path().join(rel);
        if let Some(p) = dest.parent() {
            std::fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))?;
        }
        std::fs::write(&dest, bytes).with_context(|| format!("writing {}", dest.display()))?;
    }
    std::fs::write(staging.path().join(SERVE_TOML), &serve)?;
    std::fs::write(staging.path().join("Dockerfile"), dockerfile())?;
    std::fs::write(staging.path().join(".dockerignore"), "bundle.json\n")?;
    let manifest = serde_json::json!({
        "name": spec.name,
        "version": version,
        "image": format!("{}:{}", spec.name, version),
        "source_uri": spec.source_uri,
        "files": contents.iter().map(|(r, _)| r).collect::<Vec<_>>(),
    });
    std::fs::write(
        staging.path().join(MANIFEST),
        serde_json::to_string_pretty(&manifest)?,
    )?;
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("replacing {}", out.display()))?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, out)
        .with_context(|| format!("moving the bundle to {}", out.display()))?;
    Ok(Bundle {
        dir: out.to_path_buf(),
        name: spec.name.to_string(),
        version,
    })
}

/// Reads a bundle's `serve.toml` path and checks the folder is a bundle (used by `homeml serve --bundle`).
pub fn serve_config_path(bundle_dir: &Path) -> anyhow::Result<PathBuf> {
    let cfg = bundle_dir.join(SERVE_TOML);
    if !cfg.is_file() || !bundle_dir.join(MODEL_DIR).join("MLmodel").is_file() {
        bail!(
            "{} is not a homeml bundle (it needs {SERVE_TOML} and {MODEL_DIR}/MLmodel; make one with `homeml build`)",
            bundle_dir.display()
        );
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_dir(root: &Path, weights: &[u8]) -> PathBuf {
        let dir = root.join("src-model");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(
            dir.join("MLmodel"),
            "flavors:\n  onnx:\n    data: model.onnx\n",
        )
        .unwrap();
        std::fs::write(dir.join("model.onnx"), weights).unwrap();
        std::fs::write(dir.join("sub/extra.txt"), "x").unwrap();
        dir
    }

    #[test]
    fn same_inputs_same_version_and_files_copied() {
        let tmp = tempfile::tempdir().unwrap();
        let src = model_dir(tmp.path(), b"weights");
        let spec = BundleSpec {
            model_dir: &src,
            name: "iris",
            source_uri: "models:/iris/1",
        };
        let a = build(&spec, &tmp.path().join("a")).unwrap();
        let b = build(&spec, &tmp.path().join("b")).unwrap();
        assert_eq!(a.version, b.version);
        assert_eq!(a.version.len(), 16);
        assert_eq!(
            std::fs::read(a.dir.join("model/sub/extra.txt")).unwrap(),
            b"x"
        );
        assert!(serve_config_path(&a.dir).is_ok());
        // Rebuilding into an existing bundle replaces it.
        let again = build(&spec, &a.dir).unwrap();
        assert_eq!(again.version, a.version);
    }

    #[test]
    fn different_weights_or_name_change_the_version() {
        let tmp = tempfile::tempdir().unwrap();
        let src = model_dir(tmp.path(), b"weights");
        let v1 = build(
            &BundleSpec {
                model_dir: &src,
                name: "iris",
                source_uri: "",
            },
            &tmp.path().join("1"),
        )
        .unwrap();
        let v2 = build(
            &BundleSpec {
                model_dir: &src,
                name: "iris2",
                source_uri: "",
            },
            &tmp.path().join("2"),
        )
        .unwrap();
        std::fs::write(src.join("model.onnx"), b"other").unwrap();
        let v3 = build(
            &BundleSpec {
                model_dir: &src,
                name: "iris",
                source_uri: "",
            },
            &tmp.path().join("3"),
        )
        .unwrap();
        assert_ne!(v1.version, v2.version);
        assert_ne!(v1.version, v3.version);
    }

    #[test]
    fn refuses_bad_names_non_models_and_foreign_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let src = model_dir(tmp.path(), b"w");
        for bad in ["", "Iris", "a/b", "../x", "-x"] {
            let spec = BundleSpec {
                model_dir: &src,
                name: bad,
                source_uri: "",
            };
            assert!(build(&spec, &tmp.path().join("o")).is_err(), "{bad}");
        }
        let spec = BundleSpec {
            model_dir: tmp.path(),
            name: "x",
            source_uri: "",
        };
        assert!(build(&spec, &tmp.path().join("o")).is_err());
        let foreign = tmp.path().join("foreign");
        std::fs::create_dir_all(&foreign).unwrap();
        std::fs::write(foreign.join("keep.txt"), "mine").unwrap();
        let spec = BundleSpec {
            model_dir: &src,
            name: "x",
            source_uri: "",
        };
        assert!(build(&spec, &foreign).is_err());
        assert!(foreign.join("keep.txt").is_file());
    }
}
