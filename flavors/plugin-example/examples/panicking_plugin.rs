//! A deliberately misbehaving plugin for homeml's tests: flavor `panicking` echoes its input, but
//! panics in `predict` when the first value is negative, and in `load` when the flavor entry has
//! `panic_on_load: true`. The host must turn each panic into an error and keep going.

use std::sync::Arc;

use homeml_flavor::plugin::PluginFlavor;
use homeml_flavor::{DType, FlavorError, IoSpec, LoadContext, Model, Tensor, TensorData};

struct Echo(Vec<IoSpec>);

impl Model for Echo {
    fn inputs(&self) -> &[IoSpec] {
        &self.0
    }
    fn outputs(&self) -> &[IoSpec] {
        &self.0
    }
    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError> {
        let first = inputs.first().and_then(|t| match t.data() {
            TensorData::F64(v) => v.first().copied(),
            _ => None,
        });
        if first.is_some_and(|x| x < 0.0) {
            panic!("negative input reached the panicking plugin");
        }
        Ok(inputs)
    }
}

struct PanickingPlugin;

impl PluginFlavor for PanickingPlugin {
    const PLUGIN_NAME: &'static str = "panicking-plugin";
    const PLUGIN_VERSION: &'static str = "0.0.1";
    const FLAVORS: &'static [&'static str] = &["panicking"];

    fn load(_flavor: &str, ctx: &LoadContext<'_>) -> Result<Arc<dyn Model>, FlavorError> {
        if ctx.flavor_config["panic_on_load"] == true {
            panic!("asked to panic on load");
        }
        Ok(Arc::new(Echo(vec![IoSpec::new(
            "x",
            DType::F64,
            vec![-1, 2],
        )])))
    }
}

homeml_flavor::export_flavor!(PanickingPlugin);
