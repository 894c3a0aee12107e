//! ONNX flavor: tract with homeml's own ai.onnx.ml operators.
//!
//! - [`OnnxFlavor`] serves the MLmodel flavor `onnx` (as written by `mlflow.onnx.log_model`): it loads the
//!   file named by the flavor's `data` key with tract, optimized once with a symbolic batch dimension.
//! - [`ops`]: homeml's `TreeEnsembleClassifier`, `TreeEnsembleRegressor`, `LinearClassifier`,
//!   `LinearRegressor`, `Normalizer` and `Scaler`, registered into tract's ONNX op table (tract lacks some,
//!   walks every leaf of every tree, and splits the linear ones into many small ops).
//! - [`save_model`]: writes an MLflow model directory with the `onnx` and `python_function` flavors, which
//!   real MLflow's `mlflow.pyfunc.load_model` loads.
#![warn(missing_docs)]

pub mod graph;
pub mod ops;
#[cfg(feature = "ort")]
pub mod ort_engine;
mod save;
mod tract_engine;

use std::sync::Arc;

use homeml_flavor::{Flavor, FlavorError, LoadContext, Model};

pub use ops::OpSet;
pub use save::{save_model, ONNX_FORMAT_VERSION};
pub use tract_engine::TractModel;

/// The MLmodel flavor name served by [`OnnxFlavor`].
pub const FLAVOR_NAME: &str = "onnx";

/// The engines [`OnnxFlavor`] can run a model with (`LoadOptions.engine`).
#[cfg(not(feature = "ort"))]
pub const ENGINES: &[&str] = &["tract"];
/// The engines [`OnnxFlavor`] can run a model with (`LoadOptions.engine`).
#[cfg(feature = "ort")]
pub const ENGINES: &[&str] = &["tract", "ort"];

/// The `onnx` flavor. Engine: tract (default), or ONNX Runtime with `LoadOptions.engine = "ort"` (cargo
/// feature `ort`; a pool of `LoadOptions.threads` sessions, default 2). `LoadOptions.extra["onnx.ops"] = "tract"` uses tract's stock
/// ai.onnx.ml operators instead of homeml's (for comparisons).
#[derive(Debug, Default, Clone)]
pub struct OnnxFlavor;

impl OnnxFlavor {
    /// A flavor with the default engine.
    pub fn new() -> OnnxFlavor {
        OnnxFlavor
    }
}

impl Flavor for OnnxFlavor {
    fn name(&self) -> &str {
        FLAVOR_NAME
    }

    fn version(&self) -> &str {
        if cfg!(feature = "ort") {
            concat!(
                env!("CARGO_PKG_VERSION"),
                " (tract-onnx 0.23, ort 2.0.0-rc.15)"
            )
        } else {
            concat!(env!("CARGO_PKG_VERSION"), " (tract-onnx 0.23)")
        }
    }

    fn load(&self, ctx: &LoadContext<'_>) -> Result<Arc<dyn Model>, FlavorError> {
        let path = ctx.data_path("data")?;
        let ops = match ctx.options.extra.get("onnx.ops").map(String::as_str) {
            None | Some("homeml") => OpSet::Homeml,
            Some("tract") => OpSet::TractOnly,
            Some(other) => {
                return Err(FlavorError::InvalidModel(format!(
                    "onnx.ops = {other:?}: expected \"homeml\" or \"tract\""
                )))
            }
        };
        match ctx.options.engine.as_deref() {
            None | Some("tract") => {
                let start = std::time::Instant::now();
                let model = TractModel::load_with(&path, ops)?;
                tracing::info!(
                    path = %path.display(),
                    engine = "tract",
                    ms = start.elapsed().as_secs_f64() * 1e3,
                    "loaded ONNX model"
                );
                Ok(Arc::new(model))
            }
            #[cfg(feature = "ort")]
            Some("ort") => {
                let dylib =
                    ort_engine::dylib_path(ctx.options.extra.get("ort.dylib").map(String::as_str))?;
                let pool = ctx.options.threads.unwrap_or(2);
                let start = std::time::Instant::now();
                let model = ort_engine::OrtModel::load(&path, &dylib, pool)?;
                tracing::info!(
                    path = %path.display(),
                    engine = "ort",
                    sessions = pool,
                    ms = start.elapsed().as_secs_f64() * 1e3,
                    "loaded ONNX model"
                );
                Ok(Arc::new(model))
            }
            #[cfg(not(feature = "ort"))]
            Some("ort") => Err(FlavorError::InvalidModel(
                "engine \"ort\" is not available: this homeml was built without the `ort` feature"
                    .into(),
            )),
            Some(other) => Err(FlavorError::InvalidModel(format!(
                "unknown ONNX engine {other:?}; available: {ENGINES:?}"
            ))),
        }
    }
}
