//! The flavors built into homeml.

use std::sync::Arc;

use homeml_flavor::FlavorRegistry;

/// A registry with every flavor compiled into this crate, in order of preference: `onnx`
/// (homeml-onnx: tract, or ONNX Runtime with its `ort` feature), `smartcore` (homeml-smartcore) and
/// `linfa` (homeml-linfa), `lightgbm` (homeml-lightgbm) and `xgboost` (homeml-xgboost).
///
/// Callers may add plugins to the returned registry before [`crate::Server::start`].
pub fn builtin_registry() -> FlavorRegistry {
    let mut registry = FlavorRegistry::new();
    // Names are distinct, so registration cannot fail; a failure would only drop that flavor.
    for flavor in [
        Arc::new(homeml_onnx::OnnxFlavor::new()) as Arc<dyn homeml_flavor::Flavor>,
        Arc::new(homeml_smartcore::SmartcoreFlavor::new()),
        Arc::new(homeml_linfa::LinfaFlavor::new()),
        Arc::new(homeml_lightgbm::LightGbmFlavor::new()),
        Arc::new(homeml_xgboost::XgBoostFlavor::new()),
    ] {
        if let Err(e) = registry.register(flavor, "built-in") {
            tracing::error!(error = %e, "cannot register a built-in flavor");
        }
    }
    registry
}

#[cfg(test)]
mod tests {
    #[test]
    fn registers_the_engines() {
        let names: Vec<String> = super::builtin_registry()
            .list()
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(
            names,
            vec![
                "onnx".to_string(),
                "smartcore".to_string(),
                "linfa".to_string(),
                "lightgbm".to_string(),
                "xgboost".to_string()
            ]
        );
    }
}
