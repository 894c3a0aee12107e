//! Starting the `ort` engine (cargo feature `ort`): a missing ONNX Runtime library, a file that is not a
//! library, a library without ONNX Runtime's entry point and one older than 1.23 are each a clear error,
//! never an abort; after them the real library still loads and serves.
//!
//! One test in its own binary: ONNX Runtime is loaded once per process, so the refusals must come before
//! the successful load, in this order.
#![cfg(feature = "ort")]

#[path = "it/common.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use homeml_flavor::Model;
use homeml_onnx::ort_engine::{dylib_path, OrtModel};

/// Builds a shared library from C source with the system C compiler (the linker Rust itself uses).
fn build_library(dir: &Path, name: &str, source: &str) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    let lib = dir.join(format!("{name}.so"));
    std::fs::write(&src, source).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?}: {e}"));
    assert!(
        out.status.success(),
        "{cc} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lib
}

/// A library exporting ONNX Runtime's `OrtGetApiBase` that reports `version` (and has no API: any call
/// past the version check would crash).
fn fake_onnxruntime(dir: &Path, version: &str) -> PathBuf {
    let source = format!(
        r#"
typedef struct OrtApiBase {{
    const void *(*GetApi)(unsigned int version);
    const char *(*GetVersionString)(void);
}} OrtApiBase;
static const void *get_api(unsigned int version) {{ (void)version; return 0; }}
static const char *version_string(void) {{ return "{version}"; }}
static const OrtApiBase base = {{ get_api, version_string }};
const OrtApiBase *OrtGetApiBase(void) {{ return &base; }}
"#
    );
    // The file name does not carry the version: an error naming it got it from the library.
    build_library(dir, "libfakeonnxruntime", &source)
}

#[test]
fn library_problems_are_errors_then_the_real_library_loads() {
    let real = common::ort_dylib();
    let (models, _) = common::models();
    let model = models.join("logreg.onnx");
    let tmp = tempfile::tempdir().unwrap();
    let load = |lib: &Path| OrtModel::load(&model, lib, 1).map(|_| ()).unwrap_err();

    // Where the library comes from: the per-model setting first, else ORT_DYLIB_PATH, else a clear error.
    let saved = std::env::var_os("ORT_DYLIB_PATH");
    std::env::remove_var("ORT_DYLIB_PATH");
    let e = dylib_path(None).unwrap_err();
    assert!(e.to_string().contains("ORT_DYLIB_PATH"), "{e}");
    std::env::set_var("ORT_DYLIB_PATH", "/from/env/libonnxruntime.so.1.32.0");
    assert_eq!(
        dylib_path(None).unwrap(),
        Path::new("/from/env/libonnxruntime.so.1.32.0")
    );
    assert_eq!(
        dylib_path(Some("/per/model.so")).unwrap(),
        Path::new("/per/model.so")
    );
    match saved {
        Some(v) => std::env::set_var("ORT_DYLIB_PATH", v),
        None => std::env::remove_var("ORT_DYLIB_PATH"),
    }

    // A missing path.
    let e = load(Path::new("/nonexistent/libonnxruntime.so.1.32.0"));
    assert!(e.to_string().contains("does not exist"), "{e}");
    assert!(e.to_string().contains("ORT_DYLIB_PATH"), "{e}");

    // A file that is not a library at all.
    let junk = tmp.path().join("libonnxruntime.so.1.32.0");
    std::fs::write(&junk, b"\x7fELF but not really a shared object").unwrap();
    let e = load(&junk);
    assert!(e.to_string().contains("cannot load ONNX Runtime"), "{e}");
    assert!(e.to_string().contains(&junk.display().to_string()), "{e}");

    // A real shared library that is not ONNX Runtime.
    let other = build_library(
        tmp.path(),
        "libnotort",
        "int not_onnxruntime(void) { return 42; }\n",
    );
    let e = load(&other);
    assert!(e.to_string().contains("OrtGetApiBase"), "{e}");

    // ONNX Runtime 1.22 (older than the API homeml needs): refused before any API call.
    let old = fake_onnxruntime(tmp.path(), "1.22.0");
    let e = load(&old);
    assert!(e.to_string().contains("1.22.0"), "{e}");
    assert!(e.to_string().contains(">= 1.23"), "{e}");

    // None of that stuck: the real library loads and predicts like onnxruntime.
    let m = OrtModel::load(&model, &real, 2).unwrap();
    let reference = common::reference("logreg");
    let (_, input) = reference["inputs"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    let out = m.predict(vec![common::tensor(input)]).unwrap();
    let label = reference["output_order"][0].as_str().unwrap();
    common::compare(&out[0], &common::tensor(&reference["outputs"][label])).unwrap();
}
