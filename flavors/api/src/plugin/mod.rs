//! Flavor plugins: shared libraries that serve MLmodel flavors homeml does not build in.
//!
//! Three layers, as in tract's C API:
//! - [`abi`]: the C ABI itself (`#[repr(C)]` structures, status and dtype codes, the entry symbol);
//! - [`author`]: the plugin author's safe side, the [`PluginFlavor`] trait and
//!   [`export_flavor!`](crate::export_flavor), which generate the `extern "C"` functions with
//!   `catch_unwind` at every entry point;
//! - the host side: [`load_plugin`], [`register_plugin`] and [`load_plugin_dir`], which wrap a library
//!   as [`crate::Flavor`]s and [`crate::Model`]s. A library stays loaded as long as any flavor or model
//!   from it lives.
//!
//! All `unsafe` code of homeml's plugin support lives in this module. The guide for plugin authors
//! (ABI, lifecycle, threading contract, tutorial) is `flavors/README.md`.

pub mod abi;
pub mod author;
mod conv;
mod elf;
mod host;

pub use abi::ABI_VERSION;
pub use author::PluginFlavor;
pub use host::{load_plugin, load_plugin_dir, register_plugin, Plugin};

/// Checks that `bytes` are a well-formed ELF shared library for this machine, as [`load_plugin`] does
/// before handing a file to the dynamic loader; `Err` says why not. (Public for the fuzz targets.)
pub fn check_elf(bytes: &[u8]) -> Result<(), String> {
    elf::check_shared_library(bytes)
}

#[cfg(test)]
mod tests;
