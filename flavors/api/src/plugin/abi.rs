//! The C ABI between homeml (the host) and a flavor plugin (a shared library).
//!
//! Everything here is `#[repr(C)]` and made of C types only: integers, raw pointers, and `extern "C"`
//! function pointers. A plugin written in C declares the same structures (see `flavors/README.md`).
//!
//! One symbol is exported by a plugin: [`ENTRY_SYMBOL`] (`homeml_flavor_plugin`), an
//! `extern "C" fn() -> *const HomemlFlavorPluginV1`. The symbol's name is not versioned on purpose:
//! the first field of the table it returns is always `abi_version: u32`, so a host can read it from a
//! plugin of any ABI version and refuse a mismatch with a message naming both versions.
//!
//! Ownership: whatever the plugin allocates (model handles, outputs, errors) the plugin frees, through
//! `unload`, `free_outputs` and `free_error`. Whatever the host passes in (strings, input tensors) is
//! borrowed for the duration of the call only.

use std::ffi::c_void;

/// The ABI version this crate speaks. A plugin reporting another version is refused at load.
pub const ABI_VERSION: u32 = 1;

/// The name of the one symbol a plugin exports.
pub const ENTRY_SYMBOL: &str = "homeml_flavor_plugin";

/// Status: success.
pub const HML_OK: i32 = 0;
/// Status: the model files are missing, corrupt or unsupported (load).
pub const HML_ERR_INVALID_MODEL: i32 = 1;
/// Status: the request's tensors do not fit the model (a client error, HTTP 400).
pub const HML_ERR_INVALID_INPUT: i32 = 2;
/// Status: the engine failed while computing.
pub const HML_ERR_ENGINE: i32 = 3;
/// Status: the plugin panicked (or threw); the message says where.
pub const HML_ERR_PANIC: i32 = 4;
/// Status: any other failure.
pub const HML_ERR_OTHER: i32 = 5;

/// Element type code: `uint8_t` holding 0 or 1 (any non-zero byte reads as true).
pub const HML_DTYPE_BOOL: u32 = 1;
/// Element type code: `int32_t`.
pub const HML_DTYPE_I32: u32 = 2;
/// Element type code: `int64_t`.
pub const HML_DTYPE_I64: u32 = 3;
/// Element type code: `float`.
pub const HML_DTYPE_F32: u32 = 4;
/// Element type code: `double`.
pub const HML_DTYPE_F64: u32 = 5;
/// Element type code: UTF-8 strings; the data pointer is an array of [`HmlStr`], one per element.
pub const HML_DTYPE_STRING: u32 = 6;

/// A borrowed UTF-8 string: a pointer and a length in bytes, not NUL-terminated.
/// `ptr` may be null only when `len` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct HmlStr {
    /// First byte.
    pub ptr: *const u8,
    /// Length in bytes.
    pub len: usize,
}

impl HmlStr {
    /// A view of `s`; valid as long as `s` is.
    pub const fn new(s: &str) -> HmlStr {
        HmlStr {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// The empty string.
    pub const fn empty() -> HmlStr {
        HmlStr {
            ptr: std::ptr::null(),
            len: 0,
        }
    }
}

/// A row-major tensor view.
///
/// `data` points to `len` elements of the type named by `dtype` (`len` = product of `shape`); for
/// [`HML_DTYPE_STRING`] it points to `len` [`HmlStr`]. `data` is aligned for its element type and may be
/// null when `len` is 0. `shape` points to `ndim` dimensions (batch first, all >= 0).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct HmlTensor {
    /// Element type code (`HML_DTYPE_*`).
    pub dtype: u32,
    /// Number of dimensions.
    pub ndim: usize,
    /// The dimensions.
    pub shape: *const i64,
    /// The elements, row-major.
    pub data: *const c_void,
    /// Number of elements.
    pub len: usize,
}

/// Outputs of one `predict` call, allocated by the plugin and released with `free_outputs`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct HmlOutputs {
    /// The output tensors, in the order of the model's outputs.
    pub tensors: *const HmlTensor,
    /// Number of tensors.
    pub len: usize,
    /// The plugin's private bookkeeping for `free_outputs`; the host never reads it.
    pub owner: *mut c_void,
}

impl HmlOutputs {
    /// No outputs (the value the host passes in before a call).
    pub const fn empty() -> HmlOutputs {
        HmlOutputs {
            tensors: std::ptr::null(),
            len: 0,
            owner: std::ptr::null_mut(),
        }
    }
}

/// An error allocated by the plugin and released with `free_error`.
#[repr(C)]
#[derive(Debug)]
pub struct HmlError {
    /// A status code (`HML_ERR_*`).
    pub code: i32,
    /// What went wrong.
    pub message: HmlStr,
}

/// One input or output of a loaded model.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct HmlIoSpec {
    /// Tensor name.
    pub name: HmlStr,
    /// Element type code.
    pub dtype: u32,
    /// Number of dimensions.
    pub ndim: usize,
    /// The dimensions; -1 marks a variable one (the batch dimension usually).
    pub shape: *const i64,
}

/// A model's inputs and outputs. The arrays belong to the model handle and live as long as it does.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct HmlModelIo {
    /// Inputs, in the order `predict` takes them.
    pub inputs: *const HmlIoSpec,
    /// Number of inputs.
    pub n_inputs: usize,
    /// Outputs, in the order `predict` returns them.
    pub outputs: *const HmlIoSpec,
    /// Number of outputs.
    pub n_outputs: usize,
}

/// `load(flavor, model_dir, mlmodel_yaml, flavor_config_json, options_json, out_model, out_error)`.
///
/// Loads one model. On success returns [`HML_OK`] and stores an opaque non-null handle in
/// `*out_model`; on failure returns an error code and may store an [`HmlError`] in `*out_error`.
pub type LoadFn = unsafe extern "C" fn(
    flavor: HmlStr,
    model_dir: HmlStr,
    mlmodel_yaml: HmlStr,
    flavor_config_json: HmlStr,
    options_json: HmlStr,
    out_model: *mut *mut c_void,
    out_error: *mut *mut HmlError,
) -> i32;

/// `model_io(model, out_io, out_error)`: describes the model's inputs and outputs.
pub type ModelIoFn = unsafe extern "C" fn(
    model: *const c_void,
    out_io: *mut HmlModelIo,
    out_error: *mut *mut HmlError,
) -> i32;

/// `predict(model, inputs, n_inputs, out_outputs, out_error)`: runs one batch.
///
/// May be called concurrently from several threads on the same handle.
pub type PredictFn = unsafe extern "C" fn(
    model: *const c_void,
    inputs: *const HmlTensor,
    n_inputs: usize,
    out_outputs: *mut HmlOutputs,
    out_error: *mut *mut HmlError,
) -> i32;

/// `free_outputs(outputs)`: releases what `predict` stored in its `out_outputs`.
pub type FreeOutputsFn = unsafe extern "C" fn(outputs: *mut HmlOutputs);

/// `free_error(error)`: releases an error a call stored in its `out_error`.
pub type FreeErrorFn = unsafe extern "C" fn(error: *mut HmlError);

/// `unload(model)`: releases a model handle; no call on it is running or will run.
pub type UnloadFn = unsafe extern "C" fn(model: *mut c_void);

/// The table a plugin's [`ENTRY_SYMBOL`] returns, ABI version 1. It and everything it points to must
/// stay valid and unchanged as long as the library is loaded.
#[repr(C)]
#[derive(Debug)]
pub struct HomemlFlavorPluginV1 {
    /// Must be [`ABI_VERSION`] (1). Always the first field, in every ABI version.
    pub abi_version: u32,
    /// The plugin's name.
    pub plugin_name: HmlStr,
    /// The plugin's version.
    pub plugin_version: HmlStr,
    /// The MLmodel flavor names the plugin serves.
    pub flavors: *const HmlStr,
    /// Number of flavor names.
    pub n_flavors: usize,
    /// Loads a model.
    pub load: Option<LoadFn>,
    /// Describes a model's inputs and outputs.
    pub model_io: Option<ModelIoFn>,
    /// Runs a model.
    pub predict: Option<PredictFn>,
    /// Frees outputs.
    pub free_outputs: Option<FreeOutputsFn>,
    /// Frees an error.
    pub free_error: Option<FreeErrorFn>,
    /// Frees a model handle.
    pub unload: Option<UnloadFn>,
}

// SAFETY: the table is immutable and points only to data that lives, unchanged, as long as the library
// (see the struct's contract), so sharing it between threads is sound.
unsafe impl Sync for HomemlFlavorPluginV1 {}
// SAFETY: as for Sync: the pointed-to data is immutable and not tied to a thread.
unsafe impl Send for HomemlFlavorPluginV1 {}

/// The type of the [`ENTRY_SYMBOL`] function. It returns null only on an internal failure.
pub type EntryFn = unsafe extern "C" fn() -> *const HomemlFlavorPluginV1;

/// The dtype code of a [`crate::DType`].
pub fn dtype_code(dtype: crate::DType) -> u32 {
    use crate::DType;
    match dtype {
        DType::Bool => HML_DTYPE_BOOL,
        DType::I32 => HML_DTYPE_I32,
        DType::I64 => HML_DTYPE_I64,
        DType::F32 => HML_DTYPE_F32,
        DType::F64 => HML_DTYPE_F64,
        DType::String => HML_DTYPE_STRING,
    }
}

/// The [`crate::DType`] of a dtype code, or `None` for an unknown code.
pub fn dtype_from_code(code: u32) -> Option<crate::DType> {
    use crate::DType;
    Some(match code {
        HML_DTYPE_BOOL => DType::Bool,
        HML_DTYPE_I32 => DType::I32,
        HML_DTYPE_I64 => DType::I64,
        HML_DTYPE_F32 => DType::F32,
        HML_DTYPE_F64 => DType::F64,
        HML_DTYPE_STRING => DType::String,
        _ => return None,
    })
}
