//! Shared by the integration tests: runs tests/python/onnx_models.py once per test binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use homeml_flavor::{DType, Tensor, TensorData};
use serde_json::Value;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python interpreter with the pinned packages.
pub fn python() -> PathBuf {
    match std::env::var_os("HOMEML_PYTHON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => workspace().join(".venv/bin/python"),
    }
}

struct Generated {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    names: Vec<String>,
}

static MODELS: OnceLock<Generated> = OnceLock::new();

/// The directory holding the generated `.onnx` files and references, and the model names.
pub fn models() -> (&'static Path, &'static [String]) {
    let g = MODELS.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let script = workspace().join("tests/python/onnx_models.py");
        let out = Command::new(python())
            .arg(&script)
            .arg(&dir)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {}: {e} (set HOMEML_PYTHON)", python().display())
            });
        assert!(
            out.status.success(),
            "{} failed:\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let names: Vec<String> =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        Generated {
            _tmp: tmp,
            dir,
            names,
        }
    });
    (&g.dir, &g.names)
}

/// The reference JSON of a model.
pub fn reference(name: &str) -> Value {
    let (dir, _) = models();
    serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap()).unwrap()
}

/// A tensor from the reference JSON form `{"dtype", "shape", "data"}`.
pub fn tensor(v: &Value) -> Tensor {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let data = v["data"].as_array().unwrap();
    let dtype = DType::from_numpy_name(v["dtype"].as_str().unwrap()).unwrap();
    let data = match dtype {
        DType::F32 => TensorData::F32(data.iter().map(|x| x.as_f64().unwrap() as f32).collect()),
        DType::F64 => TensorData::F64(data.iter().map(|x| x.as_f64().unwrap()).collect()),
        DType::I64 => TensorData::I64(data.iter().map(|x| x.as_i64().unwrap()).collect()),
        DType::I32 => TensorData::I32(data.iter().map(|x| x.as_i64().unwrap() as i32).collect()),
        DType::Bool => TensorData::Bool(data.iter().map(|x| x.as_bool().unwrap()).collect()),
        DType::String => TensorData::String(
            data.iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect(),
        ),
    };
    Tensor::new(shape, data).unwrap()
}

/// True when `got` matches `want` within 1e-5, absolute or relative (either suffices).
pub fn close(got: f64, want: f64) -> bool {
    let diff = (got - want).abs();
    diff <= 1e-5 || diff <= 1e-5 * want.abs()
}

/// Compares two tensors: same shape; integers, bools and strings equal; floats [`close`].
/// Returns a description of the first difference.
pub fn compare(got: &Tensor, want: &Tensor) -> Result<(), String> {
    if got.shape() != want.shape() {
        return Err(format!("shape {:?} != {:?}", got.shape(), want.shape()));
    }
    let as_f64 = |t: &Tensor| -> Option<Vec<f64>> {
        match t.data() {
            TensorData::F32(v) => Some(v.iter().map(|&x| x as f64).collect()),
            TensorData::F64(v) => Some(v.clone()),
            _ => None,
        }
    };
    match (as_f64(got), as_f64(want)) {
        (Some(g), Some(w)) => {
            for (i, (a, b)) in g.iter().zip(&w).enumerate() {
                if !close(*a, *b) {
                    return Err(format!("element {i}: {a} != {b}"));
                }
            }
            Ok(())
        }
        _ if got.data() == want.data() => Ok(()),
        _ => Err(format!("{:?} != {:?}", got.data(), want.data())),
    }
}

/// The ONNX Runtime library for the `ort` engine: `ORT_DYLIB_PATH`, else the `libonnxruntime.so.*` of
/// the onnxruntime wheel in `<workspace>/.venv`.
pub fn ort_dylib() -> PathBuf {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let lib = workspace().join(".venv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|pythons| {
        pythons.flatten().find_map(|py| {
            let capi = py.path().join("site-packages/onnxruntime/capi");
            std::fs::read_dir(capi)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .find(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("libonnxruntime.so."))
                })
        })
    });
    found.unwrap_or_else(|| {
        panic!(
            "no libonnxruntime.so.* under {}: set ORT_DYLIB_PATH",
            lib.display()
        )
    })
}
