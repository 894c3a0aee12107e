//! The plugin author's side: implement [`PluginFlavor`], add `homeml_flavor::export_flavor!(MyFlavor);`
//! and build the crate as a `cdylib`. The macro exports [`super::abi::ENTRY_SYMBOL`] with a table of
//! `extern "C"` functions generated here, each of which catches panics (a panic becomes an
//! [`HML_ERR_PANIC`] error; it never unwinds across `extern "C"`).

use std::collections::BTreeMap;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use super::abi::{
    dtype_code, HmlError, HmlIoSpec, HmlModelIo, HmlOutputs, HmlStr, HmlTensor,
    HomemlFlavorPluginV1, ABI_VERSION, HML_ERR_ENGINE, HML_ERR_INVALID_INPUT,
    HML_ERR_INVALID_MODEL, HML_ERR_OTHER, HML_ERR_PANIC, HML_OK,
};
use super::conv::{import_tensor, raw_slice, read_str, TensorExport};
use crate::error::FlavorError;
use crate::mlmodel::MlModel;
use crate::model::{IoSpec, LoadContext, LoadOptions, Model};
use crate::tensor::Tensor;

/// A flavor plugin: the one trait a plugin author implements.
///
/// The loaded [`Model`] is `Send + Sync`: the host may call `predict` on one model from several
/// threads at once (see the threading contract in `flavors/README.md`).
pub trait PluginFlavor: 'static {
    /// The plugin's name, shown by `homeml flavors list`.
    const PLUGIN_NAME: &'static str;
    /// The plugin's version (usually `env!("CARGO_PKG_VERSION")`).
    const PLUGIN_VERSION: &'static str;
    /// The MLmodel flavor names (keys under `flavors:`) this plugin serves.
    const FLAVORS: &'static [&'static str];

    /// Loads the model described by `ctx` for the MLmodel flavor `flavor` (one of [`Self::FLAVORS`]).
    fn load(flavor: &str, ctx: &LoadContext<'_>) -> Result<Arc<dyn Model>, FlavorError>;
}

/// Exports a [`PluginFlavor`] as a homeml flavor plugin: `homeml_flavor::export_flavor!(MyFlavor);`
/// once, at the root of a `cdylib` crate.
#[macro_export]
macro_rules! export_flavor {
    ($flavor:ty) => {
        /// The homeml flavor plugin entry point (ABI described in homeml_flavor::plugin::abi).
        #[unsafe(no_mangle)]
        pub extern "C" fn homeml_flavor_plugin() -> *const $crate::plugin::abi::HomemlFlavorPluginV1
        {
            static TABLE: ::std::sync::OnceLock<$crate::plugin::author::ExportedTable> =
                ::std::sync::OnceLock::new();
            $crate::plugin::author::entry::<$flavor>(&TABLE)
        }
    };
}

/// The table a plugin exports, with the storage it points into. Built once by [`entry`].
#[derive(Debug)]
pub struct ExportedTable {
    table: HomemlFlavorPluginV1,
    _flavors: Vec<HmlStr>,
}

// SAFETY: the table and the flavor-name array are never changed after construction and point only to
// `'static` strings and functions, so they may be shared between threads.
unsafe impl Sync for ExportedTable {}
// SAFETY: as for Sync.
unsafe impl Send for ExportedTable {}

impl ExportedTable {
    fn new<F: PluginFlavor>() -> ExportedTable {
        let flavors: Vec<HmlStr> = F::FLAVORS.iter().map(|s| HmlStr::new(s)).collect();
        let table = HomemlFlavorPluginV1 {
            abi_version: ABI_VERSION,
            plugin_name: HmlStr::new(F::PLUGIN_NAME),
            plugin_version: HmlStr::new(F::PLUGIN_VERSION),
            flavors: flavors.as_ptr(),
            n_flavors: flavors.len(),
            load: Some(load::<F>),
            model_io: Some(model_io),
            predict: Some(predict),
            free_outputs: Some(free_outputs),
            free_error: Some(free_error),
            unload: Some(unload),
        };
        ExportedTable {
            table,
            _flavors: flavors,
        }
    }
}

/// The body of the exported entry point (called by [`export_flavor!`]); null if building the table
/// panicked.
pub fn entry<F: PluginFlavor>(
    cell: &'static OnceLock<ExportedTable>,
) -> *const HomemlFlavorPluginV1 {
    catch_unwind(|| &cell.get_or_init(ExportedTable::new::<F>).table as *const HomemlFlavorPluginV1)
        .unwrap_or(std::ptr::null())
}

/// The ABI status code for an error.
pub fn error_code(e: &FlavorError) -> i32 {
    match e {
        FlavorError::InvalidInput(_) | FlavorError::Tensor(_) => HML_ERR_INVALID_INPUT,
        FlavorError::InvalidModel(_)
        | FlavorError::MlModel { .. }
        | FlavorError::Io { .. }
        | FlavorError::Signature(_)
        | FlavorError::NoLoadableFlavor { .. } => HML_ERR_INVALID_MODEL,
        FlavorError::Engine(_) => HML_ERR_ENGINE,
        FlavorError::DuplicateFlavor { .. } | FlavorError::Plugin(_) => HML_ERR_OTHER,
    }
}

/// An [`HmlError`] with the message it points into; `raw` first so a `*mut HmlError` is a
/// `*mut ErrorBox`.
#[repr(C)]
struct ErrorBox {
    raw: HmlError,
    message: String,
}

/// Runs `f`, turning an error or a panic into a status code and (when `out_error` is not null) an
/// allocated [`HmlError`].
fn guard(out_error: *mut *mut HmlError, f: impl FnOnce() -> Result<(), (i32, String)>) -> i32 {
    let (code, message) = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => return HML_OK,
        Ok(Err(e)) => e,
        Err(payload) => (HML_ERR_PANIC, panic_message(payload.as_ref())),
    };
    if !out_error.is_null() {
        let boxed = Box::new(ErrorBox {
            raw: HmlError {
                code,
                message: HmlStr::empty(),
            },
            message,
        });
        let ptr = Box::into_raw(boxed);
        // SAFETY: `ptr` comes from Box::into_raw just above: valid and uniquely owned here. The message
        // String's heap buffer does not move when the box is written through.
        unsafe {
            (*ptr).raw.message = HmlStr::new(&(*ptr).message);
            // SAFETY: the host passes a writable out-pointer (checked non-null above).
            *out_error = ptr.cast::<HmlError>();
        }
    }
    code
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".to_string());
    format!("the plugin panicked: {what}")
}

fn invalid_model(e: impl std::fmt::Display) -> (i32, String) {
    (HML_ERR_INVALID_MODEL, e.to_string())
}

fn parse_options(json: &str) -> Result<LoadOptions, (i32, String)> {
    if json.trim().is_empty() {
        return Ok(LoadOptions::default());
    }
    let v: Value =
        serde_json::from_str(json).map_err(|e| invalid_model(format!("options: {e}")))?;
    let mut options = LoadOptions {
        engine: v.get("engine").and_then(Value::as_str).map(str::to_string),
        threads: v
            .get("threads")
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok()),
        extra: BTreeMap::new(),
    };
    if let Some(extra) = v.get("extra").and_then(Value::as_object) {
        for (k, v) in extra {
            let s = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            options.extra.insert(k.clone(), s);
        }
    }
    Ok(options)
}

/// The options as the JSON object `load` receives (`{"engine", "threads", "extra"}`).
pub fn options_json(options: &LoadOptions) -> String {
    serde_json::json!({
        "engine": options.engine,
        "threads": options.threads,
        "extra": options.extra,
    })
    .to_string()
}

/// IO specs copied into storage the C views point into.
struct IoTable {
    _names: Vec<String>,
    _shapes: Vec<Vec<i64>>,
    specs: Vec<HmlIoSpec>,
}

impl IoTable {
    fn new(specs: &[IoSpec]) -> IoTable {
        let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
        let shapes: Vec<Vec<i64>> = specs.iter().map(|s| s.shape.clone()).collect();
        let raw = specs
            .iter()
            .zip(names.iter().zip(&shapes))
            .map(|(s, (name, shape))| HmlIoSpec {
                name: HmlStr::new(name),
                dtype: dtype_code(s.dtype),
                ndim: shape.len(),
                shape: shape.as_ptr(),
            })
            .collect();
        IoTable {
            _names: names,
            _shapes: shapes,
            specs: raw,
        }
    }
}

/// What a model handle points to.
struct ModelBox {
    model: Arc<dyn Model>,
    inputs: IoTable,
    outputs: IoTable,
}

/// What `HmlOutputs::owner` points to.
struct OutputsBox {
    _tensors: Vec<Tensor>,
    _exports: Vec<TensorExport>,
    raw: Vec<HmlTensor>,
}

unsafe extern "C" fn load<F: PluginFlavor>(
    flavor: HmlStr,
    model_dir: HmlStr,
    mlmodel_yaml: HmlStr,
    flavor_config_json: HmlStr,
    options_json: HmlStr,
    out_model: *mut *mut c_void,
    out_error: *mut *mut HmlError,
) -> i32 {
    guard(out_error, || {
        if out_model.is_null() {
            return Err((HML_ERR_OTHER, "load: out_model is null".into()));
        }
        // SAFETY (the five reads): the host passes strings valid for the duration of the call.
        let flavor = unsafe { read_str(flavor) }.map_err(invalid_model)?;
        let dir = unsafe { read_str(model_dir) }.map_err(invalid_model)?;
        let yaml = unsafe { read_str(mlmodel_yaml) }.map_err(invalid_model)?;
        let config = unsafe { read_str(flavor_config_json) }.map_err(invalid_model)?;
        let options = unsafe { read_str(options_json) }.map_err(invalid_model)?;
        if !F::FLAVORS.contains(&flavor) {
            return Err(invalid_model(format!(
                "plugin {} does not serve flavor {flavor:?} (it serves {:?})",
                F::PLUGIN_NAME,
                F::FLAVORS
            )));
        }
        let mlmodel = MlModel::parse(yaml).map_err(|e| invalid_model(format!("MLmodel: {e}")))?;
        let config: Value = serde_json::from_str(config)
            .map_err(|e| invalid_model(format!("flavor config: {e}")))?;
        let options = parse_options(options)?;
        let ctx = LoadContext {
            model_dir: Path::new(dir),
            mlmodel: &mlmodel,
            flavor_config: &config,
            options: &options,
        };
        let model = F::load(flavor, &ctx).map_err(|e| (error_code(&e), e.to_string()))?;
        let boxed = Box::new(ModelBox {
            inputs: IoTable::new(model.inputs()),
            outputs: IoTable::new(model.outputs()),
            model,
        });
        // SAFETY: `out_model` is non-null (checked) and writable per the ABI.
        unsafe { *out_model = Box::into_raw(boxed).cast::<c_void>() };
        Ok(())
    })
}

unsafe extern "C" fn model_io(
    model: *const c_void,
    out_io: *mut HmlModelIo,
    out_error: *mut *mut HmlError,
) -> i32 {
    guard(out_error, || {
        if model.is_null() || out_io.is_null() {
            return Err((HML_ERR_OTHER, "model_io: a null pointer".into()));
        }
        // SAFETY: a non-null handle comes from `load` (a leaked ModelBox) and is alive until `unload`.
        let m = unsafe { &*model.cast::<ModelBox>() };
        let io = HmlModelIo {
            inputs: m.inputs.specs.as_ptr(),
            n_inputs: m.inputs.specs.len(),
            outputs: m.outputs.specs.as_ptr(),
            n_outputs: m.outputs.specs.len(),
        };
        // SAFETY: `out_io` is non-null (checked) and writable per the ABI.
        unsafe { *out_io = io };
        Ok(())
    })
}

unsafe extern "C" fn predict(
    model: *const c_void,
    inputs: *const HmlTensor,
    n_inputs: usize,
    out_outputs: *mut HmlOutputs,
    out_error: *mut *mut HmlError,
) -> i32 {
    guard(out_error, || {
        if model.is_null() || out_outputs.is_null() {
            return Err((HML_ERR_OTHER, "predict: a null pointer".into()));
        }
        // SAFETY: a non-null handle comes from `load` and is alive until `unload`; the host never
        // unloads a handle while a call on it runs. ModelBox is only read (Model is Sync).
        let m = unsafe { &*model.cast::<ModelBox>() };
        // SAFETY: the host passes `n_inputs` tensor views valid for the call.
        let views =
            unsafe { raw_slice(inputs, n_inputs) }.map_err(|e| (HML_ERR_INVALID_INPUT, e))?;
        let mut tensors = Vec::with_capacity(views.len());
        for v in views {
            // SAFETY: each view's buffers are valid for the call (the host's side of the ABI).
            tensors.push(unsafe { import_tensor(v) }.map_err(|e| (HML_ERR_INVALID_INPUT, e))?);
        }
        let outputs = m
            .model
            .predict(tensors)
            .map_err(|e| (error_code(&e), e.to_string()))?;
        let exports: Vec<TensorExport> = outputs.iter().map(TensorExport::new).collect();
        let raw: Vec<HmlTensor> = exports.iter().map(|e| e.raw).collect();
        let boxed = Box::new(OutputsBox {
            _tensors: outputs,
            _exports: exports,
            raw,
        });
        let result = HmlOutputs {
            tensors: boxed.raw.as_ptr(),
            len: boxed.raw.len(),
            owner: Box::into_raw(boxed).cast::<c_void>(),
        };
        // SAFETY: `out_outputs` is non-null (checked) and writable per the ABI.
        unsafe { *out_outputs = result };
        Ok(())
    })
}

unsafe extern "C" fn free_outputs(outputs: *mut HmlOutputs) {
    let _ = catch_unwind(|| {
        if outputs.is_null() {
            return;
        }
        // SAFETY: the host passes the HmlOutputs `predict` filled; its owner is a leaked OutputsBox
        // or null, and is freed once (we null it).
        unsafe {
            let owner = (*outputs).owner;
            if !owner.is_null() {
                drop(Box::from_raw(owner.cast::<OutputsBox>()));
            }
            *outputs = HmlOutputs::empty();
        }
    });
}

unsafe extern "C" fn free_error(error: *mut HmlError) {
    let _ = catch_unwind(|| {
        if !error.is_null() {
            // SAFETY: every HmlError this plugin hands out is the first field of a leaked ErrorBox
            // (repr(C)), and the host frees each once.
            drop(unsafe { Box::from_raw(error.cast::<ErrorBox>()) });
        }
    });
}

unsafe extern "C" fn unload(model: *mut c_void) {
    let _ = catch_unwind(|| {
        if !model.is_null() {
            // SAFETY: a non-null handle comes from `load` and the host unloads it once, after the
            // last call on it.
            drop(unsafe { Box::from_raw(model.cast::<ModelBox>()) });
        }
    });
}
