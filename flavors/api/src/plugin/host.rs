//! The host side: loads plugin libraries and wraps them as [`Flavor`]s and [`Model`]s.

use std::collections::BTreeSet;
use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::abi::{
    dtype_from_code, EntryFn, FreeErrorFn, FreeOutputsFn, HmlError, HmlIoSpec, HmlModelIo,
    HmlOutputs, HmlStr, HmlTensor, HomemlFlavorPluginV1, LoadFn, ModelIoFn, PredictFn, UnloadFn,
    ABI_VERSION, ENTRY_SYMBOL, HML_ERR_ENGINE, HML_ERR_INVALID_INPUT, HML_ERR_INVALID_MODEL,
    HML_ERR_PANIC, HML_OK,
};
use super::author::options_json;
use super::conv::{import_tensor, raw_slice, read_str, TensorExport};
use crate::error::FlavorError;
use crate::model::{Flavor, IoSpec, LoadContext, Model};
use crate::registry::FlavorRegistry;
use crate::tensor::Tensor;

/// The entry points of a loaded plugin, copied out of its table.
#[derive(Clone, Copy)]
struct Fns {
    load: LoadFn,
    model_io: ModelIoFn,
    predict: PredictFn,
    free_outputs: FreeOutputsFn,
    free_error: FreeErrorFn,
    unload: UnloadFn,
}

/// A loaded library. Every flavor and model from it holds an `Arc` of this, so the library is
/// unloaded only after the last of them is dropped.
struct LoadedLibrary {
    fns: Fns,
    name: String,
    version: String,
    path: PathBuf,
    // Last field: dropped (dlclose) after everything else. `None` for a table linked into this process
    // (tests).
    _lib: Option<libloading::Library>,
}

/// A plugin library, loaded and checked. Register its flavors with [`register_plugin`].
#[derive(Clone)]
pub struct Plugin {
    lib: Arc<LoadedLibrary>,
    flavors: Vec<String>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.lib.name)
            .field("version", &self.lib.version)
            .field("path", &self.lib.path)
            .field("flavors", &self.flavors)
            .finish()
    }
}

impl Plugin {
    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.lib.name
    }

    /// The plugin's version.
    pub fn version(&self) -> &str {
        &self.lib.version
    }

    /// The library file.
    pub fn path(&self) -> &Path {
        &self.lib.path
    }

    /// The MLmodel flavor names it serves.
    pub fn flavor_names(&self) -> &[String] {
        &self.flavors
    }

    /// One [`Flavor`] per flavor name, each keeping the library loaded.
    pub fn flavors(&self) -> Vec<Arc<dyn Flavor>> {
        self.flavors
            .iter()
            .map(|name| {
                Arc::new(PluginFlavorHost {
                    lib: Arc::clone(&self.lib),
                    name: name.clone(),
                }) as Arc<dyn Flavor>
            })
            .collect()
    }
}

fn plugin_err(path: &Path, msg: impl std::fmt::Display) -> FlavorError {
    FlavorError::Plugin(format!("{}: {msg}", path.display()))
}

/// Loads the plugin library at `path` and checks it: the entry symbol, the ABI version, a complete
/// table, its name, version and flavor names. Nothing is registered.
///
/// Loading a library runs its initialization code: only load plugins you trust.
pub fn load_plugin(path: &Path) -> Result<Plugin, FlavorError> {
    check_file(path)?;
    // SAFETY: loading a library runs its initializers; plugins are trusted code by contract
    // (documented above and in flavors/README.md). `check_file` refused files whose structure the
    // loader would trust past their end; libloading reports other files that are not libraries.
    let lib = unsafe { libloading::Library::new(path) }
        .map_err(|e| plugin_err(path, format!("cannot load the library: {e}")))?;
    // SAFETY: the symbol, when present, is the ABI's entry function `EntryFn` (the only contract a
    // library exporting this name can mean); the Symbol borrows `lib`, which outlives the call.
    let table_ptr = unsafe {
        let entry = lib.get::<EntryFn>(ENTRY_SYMBOL).map_err(|e| {
            plugin_err(
                path,
                format!("not a homeml flavor plugin: it does not export `{ENTRY_SYMBOL}` ({e})"),
            )
        })?;
        entry()
    };
    // SAFETY: the table comes from the library's entry point and lives as long as `lib`, which
    // `from_table` keeps.
    unsafe { from_table(path, Some(lib), table_ptr) }
}

/// Refuses a library file the dynamic loader must not see: one that is not an ELF shared library
/// for this machine, or whose headers, segments or sections do not lie inside the file (a truncated
/// copy, which the loader would map past its end and the process die of SIGBUS on the first touch).
/// A bare name (no directory) is left to the loader's search path. Only checked on Linux, the
/// platform plugins are built for.
fn check_file(path: &Path) -> Result<(), FlavorError> {
    if !cfg!(target_os = "linux") || path.parent().is_none_or(|p| p.as_os_str().is_empty()) {
        return Ok(());
    }
    let bytes = std::fs::read(path)
        .map_err(|e| plugin_err(path, format!("cannot load the library: {e}")))?;
    super::elf::check_shared_library(&bytes).map_err(|reason| {
        plugin_err(
            path,
            format!("cannot load the library: not a valid shared library: {reason}"),
        )
    })
}

/// Checks a plugin table and wraps it.
///
/// # Safety
/// `table_ptr` is null or points to a table whose first field is a `u32` ABI version and which (when
/// the version matches) is a valid [`HomemlFlavorPluginV1`] living as long as `lib` (or forever when
/// `lib` is `None`).
pub(super) unsafe fn from_table(
    path: &Path,
    lib: Option<libloading::Library>,
    table_ptr: *const HomemlFlavorPluginV1,
) -> Result<Plugin, FlavorError> {
    if table_ptr.is_null() {
        return Err(plugin_err(
            path,
            "the plugin's entry point returned no table",
        ));
    }
    // SAFETY: every ABI version's table starts with `abi_version: u32`, so reading that first field
    // is valid whatever the plugin's version; the table lives as long as the library.
    let abi_version = unsafe { table_ptr.cast::<u32>().read() };
    if abi_version != ABI_VERSION {
        return Err(plugin_err(
            path,
            format!(
                "plugin ABI version {abi_version}, but this homeml speaks plugin ABI version {ABI_VERSION}: \
                 rebuild the plugin against homeml-flavor {}",
                env!("CARGO_PKG_VERSION")
            ),
        ));
    }
    // SAFETY: the version matches, so the pointer is to a `HomemlFlavorPluginV1` that lives, unchanged,
    // as long as `lib`; we copy out what we need before anything can drop `lib`.
    let table: &HomemlFlavorPluginV1 = unsafe { &*table_ptr };
    let missing = |what: &str| plugin_err(path, format!("the plugin table lacks `{what}`"));
    let fns = Fns {
        load: table.load.ok_or_else(|| missing("load"))?,
        model_io: table.model_io.ok_or_else(|| missing("model_io"))?,
        predict: table.predict.ok_or_else(|| missing("predict"))?,
        free_outputs: table.free_outputs.ok_or_else(|| missing("free_outputs"))?,
        free_error: table.free_error.ok_or_else(|| missing("free_error"))?,
        unload: table.unload.ok_or_else(|| missing("unload"))?,
    };
    let bad = |what: &str, e: String| plugin_err(path, format!("the plugin's {what}: {e}"));
    // SAFETY: the table's strings are valid for the library's lifetime; they are copied here.
    let name = unsafe { read_str(table.plugin_name) }
        .map_err(|e| bad("name", e))?
        .to_string();
    // SAFETY: as above.
    let version = unsafe { read_str(table.plugin_version) }
        .map_err(|e| bad("version", e))?
        .to_string();
    // SAFETY: `flavors` points to `n_flavors` HmlStr valid for the library's lifetime.
    let names =
        unsafe { raw_slice(table.flavors, table.n_flavors) }.map_err(|e| bad("flavor list", e))?;
    let mut flavors = Vec::with_capacity(names.len());
    let mut seen = BTreeSet::new();
    for n in names {
        // SAFETY: as above.
        let n = unsafe { read_str(*n) }.map_err(|e| bad("flavor list", e))?;
        if n.is_empty() || !seen.insert(n.to_string()) {
            return Err(plugin_err(
                path,
                format!("the plugin's flavor list has an empty or repeated name {n:?}"),
            ));
        }
        flavors.push(n.to_string());
    }
    if flavors.is_empty() {
        return Err(plugin_err(path, "the plugin serves no flavor"));
    }
    Ok(Plugin {
        lib: Arc::new(LoadedLibrary {
            fns,
            name,
            version,
            path: path.to_path_buf(),
            _lib: lib,
        }),
        flavors,
    })
}

/// Registers all of `plugin`'s flavors in `registry` with the library path as origin, or none of them:
/// a flavor name already served (by a built-in or another plugin) refuses the whole plugin with
/// [`FlavorError::DuplicateFlavor`]. Returns the flavor names registered.
pub fn register_plugin(
    registry: &mut FlavorRegistry,
    plugin: &Plugin,
) -> Result<Vec<String>, FlavorError> {
    let origin = plugin.path().display().to_string();
    let existing = registry.list();
    for name in plugin.flavor_names() {
        if let Some(info) = existing.iter().find(|i| &i.name == name) {
            return Err(FlavorError::DuplicateFlavor {
                name: name.clone(),
                existing: info.origin.clone(),
                new: origin,
            });
        }
    }
    for flavor in plugin.flavors() {
        registry.register(flavor, &origin)?;
    }
    Ok(plugin.flavor_names().to_vec())
}

/// Loads every plugin library (`*.so` on Linux, the platform's shared-library extension elsewhere) in
/// `dir`, in file-name order, and registers its flavors in `registry`. A bad library is reported in
/// the result and skipped, never fatal: the result has one entry per library (or one for `dir` itself
/// when it cannot be read) with the flavor names registered or the reason for refusing it.
pub fn load_plugin_dir(
    registry: &mut FlavorRegistry,
    dir: &Path,
) -> Vec<(PathBuf, Result<Vec<String>, FlavorError>)> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return vec![(dir.to_path_buf(), Err(FlavorError::io(dir, e)))],
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|x| x == std::env::consts::DLL_EXTENSION)
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let result = load_plugin(&path).and_then(|p| register_plugin(registry, &p));
            (path, result)
        })
        .collect()
}

/// Turns a plugin's error (code + optional message) into a [`FlavorError`], freeing the message.
fn take_error(lib: &LoadedLibrary, code: i32, err: *mut HmlError) -> FlavorError {
    let message = if err.is_null() {
        format!("error code {code} without a message")
    } else {
        // SAFETY: a non-null error comes from the plugin's call just made and is valid until we free
        // it below; its message is read (lossily) and copied before that.
        let message = unsafe {
            let e = &*err;
            match raw_slice::<u8>(e.message.ptr, e.message.len) {
                Ok(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                Err(reason) => format!("error code {code}, unreadable message: {reason}"),
            }
        };
        // SAFETY: the error was allocated by this plugin and is freed exactly once, here.
        unsafe { (lib.fns.free_error)(err) };
        message
    };
    match code {
        HML_ERR_INVALID_MODEL => FlavorError::InvalidModel(message),
        HML_ERR_INVALID_INPUT => FlavorError::InvalidInput(message),
        HML_ERR_ENGINE => FlavorError::Engine(message),
        HML_ERR_PANIC => FlavorError::Plugin(format!("plugin {}: {message}", lib.name)),
        _ => FlavorError::Plugin(format!("plugin {} (code {code}): {message}", lib.name)),
    }
}

/// One MLmodel flavor served by a plugin.
struct PluginFlavorHost {
    lib: Arc<LoadedLibrary>,
    name: String,
}

impl Flavor for PluginFlavorHost {
    fn name(&self) -> &str {
        &self.name
    }

    fn version(&self) -> &str {
        &self.lib.version
    }

    fn load(&self, ctx: &LoadContext<'_>) -> Result<Arc<dyn Model>, FlavorError> {
        let dir = ctx.model_dir.to_str().ok_or_else(|| {
            FlavorError::InvalidModel(format!(
                "{}: a plugin needs a UTF-8 model path",
                ctx.model_dir.display()
            ))
        })?;
        let yaml = ctx.mlmodel.to_yaml()?;
        let config = ctx.flavor_config.to_string();
        let options = options_json(ctx.options);
        let mut handle: *mut c_void = std::ptr::null_mut();
        let mut err: *mut HmlError = std::ptr::null_mut();
        // SAFETY: all strings outlive the call; the out-pointers are valid locals; `load` is from a
        // library `self.lib` keeps loaded.
        let code = unsafe {
            (self.lib.fns.load)(
                HmlStr::new(&self.name),
                HmlStr::new(dir),
                HmlStr::new(&yaml),
                HmlStr::new(&config),
                HmlStr::new(&options),
                &mut handle,
                &mut err,
            )
        };
        if code != HML_OK {
            return Err(take_error(&self.lib, code, err));
        }
        if handle.is_null() {
            return Err(FlavorError::Plugin(format!(
                "plugin {}: load succeeded without a model handle",
                self.lib.name
            )));
        }
        // From here the handle is owned by `model`, whose Drop unloads it (also on the errors below).
        let mut model = PluginModel {
            lib: Arc::clone(&self.lib),
            handle,
            inputs: Vec::new(),
            outputs: Vec::new(),
        };
        let mut io = HmlModelIo {
            inputs: std::ptr::null(),
            n_inputs: 0,
            outputs: std::ptr::null(),
            n_outputs: 0,
        };
        let mut err: *mut HmlError = std::ptr::null_mut();
        // SAFETY: a live handle from this plugin; valid out-pointers.
        let code = unsafe { (self.lib.fns.model_io)(handle, &mut io, &mut err) };
        if code != HML_OK {
            return Err(take_error(&self.lib, code, err));
        }
        // SAFETY: the arrays belong to the live handle (ABI contract); they are copied here.
        unsafe {
            model.inputs = read_specs(io.inputs, io.n_inputs).map_err(|e| self.bad_io(e))?;
            model.outputs = read_specs(io.outputs, io.n_outputs).map_err(|e| self.bad_io(e))?;
        }
        Ok(Arc::new(model))
    }
}

impl PluginFlavorHost {
    fn bad_io(&self, e: String) -> FlavorError {
        FlavorError::Plugin(format!(
            "plugin {}: bad model inputs/outputs: {e}",
            self.lib.name
        ))
    }
}

/// Copies IO specs out of the plugin.
///
/// # Safety
/// `ptr` must point to `len` specs whose strings and shapes are readable for the call.
unsafe fn read_specs(ptr: *const HmlIoSpec, len: usize) -> Result<Vec<IoSpec>, String> {
    // SAFETY: forwarded from the caller.
    let specs = unsafe { raw_slice(ptr, len) }?;
    let mut out = Vec::with_capacity(specs.len());
    for s in specs {
        // SAFETY: forwarded from the caller.
        let name = unsafe { read_str(s.name) }?.to_string();
        let dtype =
            dtype_from_code(s.dtype).ok_or_else(|| format!("unknown dtype code {}", s.dtype))?;
        // SAFETY: forwarded from the caller.
        let shape = unsafe { raw_slice(s.shape, s.ndim) }?.to_vec();
        out.push(IoSpec { name, dtype, shape });
    }
    Ok(out)
}

/// A model living in a plugin. Dropping it unloads the handle, then releases its hold on the library.
struct PluginModel {
    lib: Arc<LoadedLibrary>,
    handle: *mut c_void,
    inputs: Vec<IoSpec>,
    outputs: Vec<IoSpec>,
}

// SAFETY: the ABI's threading contract: a model handle may be used from any thread and `predict` may
// run concurrently on it (the author side requires `Model: Send + Sync`). The pointer is never
// dereferenced by the host.
unsafe impl Send for PluginModel {}
// SAFETY: as above.
unsafe impl Sync for PluginModel {}

impl Drop for PluginModel {
    fn drop(&mut self) {
        // SAFETY: the handle came from this library's `load`, no call on it can be running (we hold
        // the only reference), and it is unloaded exactly once. `self.lib` is still alive here.
        unsafe { (self.lib.fns.unload)(self.handle) };
    }
}

impl Model for PluginModel {
    fn inputs(&self) -> &[IoSpec] {
        &self.inputs
    }

    fn outputs(&self) -> &[IoSpec] {
        &self.outputs
    }

    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError> {
        let exports: Vec<TensorExport> = inputs.iter().map(TensorExport::new).collect();
        let raw: Vec<HmlTensor> = exports.iter().map(|e| e.raw).collect();
        let mut out = HmlOutputs::empty();
        let mut err: *mut HmlError = std::ptr::null_mut();
        // SAFETY: the views point into `inputs`/`exports`, alive during the call; a live handle;
        // valid out-pointers.
        let code = unsafe {
            (self.lib.fns.predict)(self.handle, raw.as_ptr(), raw.len(), &mut out, &mut err)
        };
        if code != HML_OK {
            return Err(take_error(&self.lib, code, err));
        }
        // SAFETY: on success the plugin filled `out` with `len` views valid until `free_outputs`; they
        // are copied before it is called.
        let result = unsafe {
            raw_slice(out.tensors, out.len).and_then(|views| {
                views
                    .iter()
                    .map(|v| import_tensor(v))
                    .collect::<Result<Vec<Tensor>, String>>()
            })
        };
        // SAFETY: `out` was filled by this plugin's predict and is freed exactly once.
        unsafe { (self.lib.fns.free_outputs)(&mut out) };
        let tensors = result.map_err(|e| {
            FlavorError::Plugin(format!("plugin {}: bad outputs: {e}", self.lib.name))
        })?;
        if tensors.len() != self.outputs.len() {
            return Err(FlavorError::Plugin(format!(
                "plugin {}: {} outputs, the model declares {}",
                self.lib.name,
                tensors.len(),
                self.outputs.len()
            )));
        }
        Ok(tensors)
    }
}
