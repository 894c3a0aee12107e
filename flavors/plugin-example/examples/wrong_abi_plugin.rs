//! A plugin built against a future ABI version, for homeml's tests: the host must refuse it with a
//! message naming both versions, without calling anything else in it.

use homeml_flavor::plugin::abi::{HmlStr, HomemlFlavorPluginV1};

struct Names([HmlStr; 1]);
// SAFETY: immutable, points only to string literals.
unsafe impl Sync for Names {}

static FLAVORS: Names = Names([HmlStr::new("from_the_future")]);

struct Table(HomemlFlavorPluginV1);
// SAFETY: immutable, points only to statics.
unsafe impl Sync for Table {}

static TABLE: Table = Table(HomemlFlavorPluginV1 {
    abi_version: 2,
    plugin_name: HmlStr::new("wrong-abi-plugin"),
    plugin_version: HmlStr::new("9.9.9"),
    flavors: FLAVORS.0.as_ptr(),
    n_flavors: 1,
    load: None,
    model_io: None,
    predict: None,
    free_outputs: None,
    free_error: None,
    unload: None,
});

/// The entry point, returning a table whose ABI version the host does not speak.
#[unsafe(no_mangle)]
pub extern "C" fn homeml_flavor_plugin() -> *const HomemlFlavorPluginV1 {
    &TABLE.0
}
