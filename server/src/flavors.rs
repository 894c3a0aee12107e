//! The flavors built into homeml.

use homeml_flavor::FlavorRegistry;

/// A registry with every flavor compiled into this crate, in order of preference.
///
/// The engine crates (`homeml-onnx`, `homeml-smartcore`, `homeml-linfa`) are registered here as they
/// export their flavor types; callers may add plugins to the returned registry before
/// [`crate::Server::start`].
pub fn builtin_registry() -> FlavorRegistry {
    FlavorRegistry::new()
}
