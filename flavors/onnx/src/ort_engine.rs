//! The ONNX Runtime engine (cargo feature `ort`): the `libonnxruntime.so` of the PyPI `onnxruntime` wheel,
//! loaded at run time (`ORT_DYLIB_PATH` or `LoadOptions.extra["ort.dylib"]`), with a pool of sessions since
//! `Session::run` needs exclusive access.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use homeml_flavor::{DType, FlavorError, IoSpec, Model, Tensor, TensorData};
use ort::session::Session;
use ort::value::DynValue;

use crate::graph::GraphIo;

/// The library loaded (the first one that loaded) and the process-wide environment.
static ENVIRONMENT: Mutex<Option<(PathBuf, ort::environment::Environment)>> = Mutex::new(None);

/// Loads ONNX Runtime once per process. A missing library, a file that is not ONNX Runtime, or one older
/// than 1.23 is an error, never an abort (and a later call may try again with another path); the first
/// library that loads stays for the life of the process, and a model asking for another one gets it too.
fn environment(dylib: &Path) -> Result<ort::environment::Environment, FlavorError> {
    let mut env = ENVIRONMENT
        .lock()
        .map_err(|_| FlavorError::Engine("ONNX Runtime start-up panicked".into()))?;
    if let Some((loaded, e)) = env.as_ref() {
        if loaded != dylib {
            tracing::warn!(
                loaded = %loaded.display(),
                requested = %dylib.display(),
                "ONNX Runtime is already loaded from another library; using it"
            );
        }
        return Ok(e.clone());
    }
    if !dylib.is_file() {
        return Err(FlavorError::Engine(format!(
            "ONNX Runtime library {} does not exist (set ORT_DYLIB_PATH to the \
             onnxruntime/capi/libonnxruntime.so.* of the onnxruntime wheel)",
            dylib.display()
        )));
    }
    // `init_from` opens the library and checks its version (>= 1.23, the API level homeml is built
    // for) before any call into it; nothing is kept when it fails.
    let builder = ort::init_from(dylib).map_err(|e| {
        FlavorError::Engine(format!(
            "cannot load ONNX Runtime from {} (homeml needs ONNX Runtime >= 1.23): {e}",
            dylib.display()
        ))
    })?;
    let built = builder
        .with_name("homeml")
        .build()
        .map_err(|e| FlavorError::Engine(format!("cannot start ONNX Runtime: {e}")))?;
    tracing::info!(library = %dylib.display(), "loaded ONNX Runtime");
    *env = Some((dylib.to_path_buf(), built.clone()));
    Ok(built)
}

/// The ONNX Runtime library to load: `extra["ort.dylib"]`, else `ORT_DYLIB_PATH`.
pub fn dylib_path(extra: Option<&str>) -> Result<PathBuf, FlavorError> {
    if let Some(p) = extra {
        return Ok(PathBuf::from(p));
    }
    match std::env::var_os("ORT_DYLIB_PATH") {
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => Err(FlavorError::Engine(
            "engine \"ort\" needs ORT_DYLIB_PATH (or the ort.dylib option) naming \
             libonnxruntime.so.<version> from the onnxruntime wheel"
                .into(),
        )),
    }
}

/// An ONNX model run by ONNX Runtime through a pool of sessions.
pub struct OrtModel {
    sessions: Vec<Mutex<Session>>,
    next: AtomicUsize,
    inputs: Vec<IoSpec>,
    outputs: Vec<IoSpec>,
}

impl std::fmt::Debug for OrtModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrtModel")
            .field("sessions", &self.sessions.len())
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish()
    }
}

impl OrtModel {
    /// Loads `path` into `pool` sessions (at least one), each running on one intra-op thread.
    pub fn load(path: &Path, dylib: &Path, pool: usize) -> Result<OrtModel, FlavorError> {
        let io = GraphIo::from_file(path)?;
        let env = environment(dylib)?;
        let bytes = std::fs::read(path).map_err(|e| FlavorError::io(path, e))?;
        let mut sessions = Vec::new();
        for _ in 0..pool.max(1) {
            let err = |e: String| {
                FlavorError::InvalidModel(format!("{}: ONNX Runtime: {e}", path.display()))
            };
            let builder = Session::builder(&env).map_err(|e| err(e.to_string()))?;
            let mut builder = builder
                .with_intra_threads(1)
                .map_err(|e| err(e.to_string()))?
                .with_inter_threads(1)
                .map_err(|e| err(e.to_string()))?;
            let session = builder
                .commit_from_memory(&bytes)
                .map_err(|e| err(e.to_string()))?;
            sessions.push(Mutex::new(session));
        }
        Ok(OrtModel {
            sessions,
            next: AtomicUsize::new(0),
            inputs: io.inputs_io(),
            outputs: io.outputs_io(),
        })
    }
}

fn engine(e: impl std::fmt::Display) -> FlavorError {
    FlavorError::Engine(format!("ONNX Runtime: {e}"))
}

fn to_ort(t: Tensor, spec: &IoSpec) -> Result<DynValue, FlavorError> {
    let t = crate::tract_engine::check_input(t, spec)?;
    let (shape, data) = t.into_parts();
    let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    Ok(match data {
        TensorData::F32(v) => ort::value::Tensor::from_array((shape, v))
            .map_err(engine)?
            .into_dyn(),
        TensorData::F64(v) => ort::value::Tensor::from_array((shape, v))
            .map_err(engine)?
            .into_dyn(),
        TensorData::I64(v) => ort::value::Tensor::from_array((shape, v))
            .map_err(engine)?
            .into_dyn(),
        TensorData::I32(v) => ort::value::Tensor::from_array((shape, v))
            .map_err(engine)?
            .into_dyn(),
        TensorData::Bool(v) => ort::value::Tensor::from_array((shape, v))
            .map_err(engine)?
            .into_dyn(),
        TensorData::String(v) => ort::value::Tensor::from_string_array((shape, v.as_slice()))
            .map_err(engine)?
            .into_dyn(),
    })
}

fn from_ort(v: &DynValue, spec: &IoSpec) -> Result<Tensor, FlavorError> {
    fn dims(shape: &[i64]) -> Vec<usize> {
        shape.iter().map(|&d| d.max(0) as usize).collect()
    }
    let (shape, data) = match spec.dtype {
        DType::F32 => {
            let (s, d) = v.try_extract_tensor::<f32>().map_err(engine)?;
            (dims(s), TensorData::F32(d.to_vec()))
        }
        DType::F64 => {
            let (s, d) = v.try_extract_tensor::<f64>().map_err(engine)?;
            (dims(s), TensorData::F64(d.to_vec()))
        }
        DType::I64 => {
            let (s, d) = v.try_extract_tensor::<i64>().map_err(engine)?;
            (dims(s), TensorData::I64(d.to_vec()))
        }
        DType::I32 => {
            let (s, d) = v.try_extract_tensor::<i32>().map_err(engine)?;
            (dims(s), TensorData::I32(d.to_vec()))
        }
        DType::Bool => {
            let (s, d) = v.try_extract_tensor::<bool>().map_err(engine)?;
            (dims(s), TensorData::Bool(d.to_vec()))
        }
        DType::String => {
            let (s, d) = v.try_extract_strings().map_err(engine)?;
            (dims(s), TensorData::String(d))
        }
    };
    Ok(Tensor::new(shape, data)?)
}

impl Model for OrtModel {
    fn inputs(&self) -> &[IoSpec] {
        &self.inputs
    }

    fn outputs(&self) -> &[IoSpec] {
        &self.outputs
    }

    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError> {
        if inputs.len() != self.inputs.len() {
            return Err(FlavorError::InvalidInput(format!(
                "the model takes {} input(s), got {}",
                self.inputs.len(),
                inputs.len()
            )));
        }
        let values: Vec<(String, DynValue)> = inputs
            .into_iter()
            .zip(&self.inputs)
            .map(|(t, spec)| Ok((spec.name.clone(), to_ort(t, spec)?)))
            .collect::<Result<_, FlavorError>>()?;
        // Take a free session if there is one, else wait for the next in turn.
        let n = self.sessions.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let mut guard = None;
        for k in 0..n {
            if let Ok(g) = self.sessions[(start + k) % n].try_lock() {
                guard = Some(g);
                break;
            }
        }
        let mut session = match guard {
            Some(g) => g,
            None => self.sessions[start]
                .lock()
                .map_err(|_| engine("a session panicked earlier"))?,
        };
        let outputs = session.run(values).map_err(engine)?;
        self.outputs
            .iter()
            .map(|spec| {
                let v = outputs
                    .get(spec.name.as_str())
                    .ok_or_else(|| engine(format!("no output {:?}", spec.name)))?;
                from_ort(v, spec)
            })
            .collect()
    }
}
