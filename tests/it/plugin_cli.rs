//! `homeml flavors list` with a plugin directory: built-in flavors, the example plugin's flavor with its
//! version and origin, and refused libraries reported without failing the command.

use crate::support;

use std::process::Command;

fn homeml() -> Command {
    Command::new(env!("CARGO_BIN_EXE_homeml"))
}

#[test]
fn lists_built_in_and_plugin_flavors() {
    let a = support::artifacts();
    let dir = tempfile::tempdir().unwrap();
    let good = support::install(&a.example, dir.path(), "libcentroid");
    let wrong = support::install(&a.wrong_abi, dir.path(), "libwrong");
    let dup = support::install(&a.example, dir.path(), "libzz_centroid_again");

    let out = homeml()
        .args(["flavors", "list", "--json", "--plugin-dir"])
        .arg(dir.path())
        .env_remove("HOMEML_PLUGIN_DIR")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let flavors = doc["flavors"].as_array().unwrap();
    let find = |name: &str| flavors.iter().find(|f| f["name"] == name).cloned();
    let onnx = find("onnx").expect("the built-in onnx flavor");
    assert_eq!(onnx["origin"], "built-in");
    let centroid = find("nearest_centroid").expect("the plugin flavor");
    assert_eq!(centroid["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(centroid["origin"], good.display().to_string());
    assert_eq!(centroid["kind"], "plugin");

    let errors = doc["plugin_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    let error_of = |p: &std::path::Path| {
        errors
            .iter()
            .find(|e| e["path"] == p.display().to_string())
            .map(|e| e["error"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert!(error_of(&wrong).contains("ABI version 2"));
    assert!(error_of(&dup).contains("already served by"));
}

#[test]
fn the_table_reads_the_plugin_dir_from_the_environment() {
    let a = support::artifacts();
    let dir = tempfile::tempdir().unwrap();
    support::install(&a.example, dir.path(), "libcentroid");
    let out = homeml()
        .args(["flavors", "list"])
        .env("HOMEML_PLUGIN_DIR", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("FLAVOR"), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("nearest_centroid "))
        .unwrap_or_else(|| panic!("no plugin line in {text}"));
    assert!(line.contains("libcentroid"), "{line}");
    assert!(text.lines().any(|l| l.starts_with("smartcore ")), "{text}");
}
