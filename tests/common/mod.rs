//! Helpers shared by the root crate's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The test venv's Python: `$HOMEML_PYTHON`, else `<root>/.venv/bin/python`. Panics with the fix when absent.
pub fn python() -> PathBuf {
    let p = std::env::var_os("HOMEML_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "{} is missing: run `bash scripts/setup-venv.sh` (or `bash scripts/test.sh`)",
        p.display()
    );
    p
}

/// A tool installed in the test venv (`hadolint`, `check-jsonschema`, `kubectl`, ...).
pub fn venv_tool(name: &str) -> PathBuf {
    let py = python();
    let bin = py.parent().unwrap_or(Path::new("."));
    let tool = bin.join(name);
    assert!(
        tool.exists(),
        "{} is missing from the test venv",
        tool.display()
    );
    tool
}

/// Runs a command and returns its stdout; panics with stdout and stderr when it fails.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
