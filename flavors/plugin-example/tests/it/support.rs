//! Finds (building when needed) the plugin libraries of homeml-plugin-example for tests. Shared by
//! the crate's tests and the root crate's `tests/it/plugin_*.rs` (through `#[path]`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The libraries the tests load.
#[derive(Debug)]
pub struct Artifacts {
    /// The nearest-centroid example plugin.
    pub example: PathBuf,
    /// The deliberately panicking plugin.
    pub panicking: PathBuf,
    /// A plugin reporting ABI version 2.
    pub wrong_abi: PathBuf,
}

fn dylib(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!(
        "{}{stem}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

/// Builds (a no-op when up to date) the example plugin and the test plugins into this test binary's
/// own target directory and profile, once per test process, and returns their paths.
pub fn artifacts() -> &'static Artifacts {
    static CELL: OnceLock<Artifacts> = OnceLock::new();
    CELL.get_or_init(|| {
        // <target>/<profile>/deps/<test binary>
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let target_dir = profile_dir.parent().unwrap();
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let workspace = workspace_root();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&workspace)
            .args([
                "build",
                "-q",
                "-p",
                "homeml-plugin-example",
                "--lib",
                "--examples",
            ])
            .env("CARGO_TARGET_DIR", target_dir);
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build for the plugins");
        assert!(status.success(), "building the plugins failed: {status}");
        let examples = profile_dir.join("examples");
        let a = Artifacts {
            example: dylib(&profile_dir, "homeml_plugin_example"),
            panicking: dylib(&examples, "panicking_plugin"),
            wrong_abi: dylib(&examples, "wrong_abi_plugin"),
        };
        for p in [&a.example, &a.panicking, &a.wrong_abi] {
            assert!(p.is_file(), "{} was not built", p.display());
        }
        a
    })
}

/// The workspace root: the nearest ancestor of this crate's manifest dir whose Cargo.toml has a
/// `[workspace]` table.
pub fn workspace_root() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let manifest = dir.join("Cargo.toml");
        if std::fs::read_to_string(&manifest).is_ok_and(|s| s.contains("[workspace]")) {
            return dir;
        }
        assert!(
            dir.pop(),
            "no workspace root above {}",
            env!("CARGO_MANIFEST_DIR")
        );
    }
}

/// Copies `lib` into `dir` under `name` (a plugin directory for `load_plugin_dir` / `--plugin-dir`).
pub fn install(lib: &Path, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(format!("{name}{}", std::env::consts::DLL_SUFFIX));
    std::fs::copy(lib, &to).unwrap();
    to
}
