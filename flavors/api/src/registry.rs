//! The set of flavors a process serves, and the choice of which one loads a model directory.

use std::path::Path;
use std::sync::Arc;

use crate::error::FlavorError;
use crate::mlmodel::MlModel;
use crate::model::{Flavor, LoadContext, LoadOptions, Model};

/// Flavors MLflow writes that carry Python code homeml will never run, with advice for each.
const PYTHON_ONLY_HINTS: &[(&str, &str)] = &[
    (
        "sklearn",
        "a scikit-learn model is a Python pickle: export it with skl2onnx (zipmap=False) and log it with mlflow.onnx.log_model",
    ),
    (
        "pytorch",
        "export the network with torch.onnx.export and log it with mlflow.onnx.log_model",
    ),
];

/// A description of one registered flavor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlavorInfo {
    /// MLmodel flavor name.
    pub name: String,
    /// Implementation version.
    pub version: String,
    /// Where it comes from: `built-in` or a plugin library path.
    pub origin: String,
}

/// A model loaded from a directory, with what it was loaded as.
#[derive(Clone)]
pub struct LoadedModel {
    /// The model.
    pub model: Arc<dyn Model>,
    /// The flavor that loaded it.
    pub flavor: String,
    /// Its MLmodel.
    pub mlmodel: MlModel,
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("flavor", &self.flavor)
            .field("inputs", &self.model.inputs())
            .field("outputs", &self.model.outputs())
            .finish()
    }
}

/// The flavors this process can load, in order of preference.
#[derive(Default, Clone)]
pub struct FlavorRegistry {
    flavors: Vec<(Arc<dyn Flavor>, String)>,
}

impl FlavorRegistry {
    /// An empty registry.
    pub fn new() -> FlavorRegistry {
        FlavorRegistry::default()
    }

    /// Adds a flavor; `origin` says where it comes from (`built-in` or a library path).
    /// Refuses a second flavor with the same name.
    pub fn register(&mut self, flavor: Arc<dyn Flavor>, origin: &str) -> Result<(), FlavorError> {
        if let Some((_, existing)) = self.flavors.iter().find(|(f, _)| f.name() == flavor.name()) {
            return Err(FlavorError::DuplicateFlavor {
                name: flavor.name().to_string(),
                existing: existing.clone(),
                new: origin.to_string(),
            });
        }
        self.flavors.push((flavor, origin.to_string()));
        Ok(())
    }

    /// The flavor serving `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Flavor>> {
        self.flavors
            .iter()
            .find(|(f, _)| f.name() == name)
            .map(|(f, _)| f)
    }

    /// All flavors, in order of preference.
    pub fn list(&self) -> Vec<FlavorInfo> {
        self.flavors
            .iter()
            .map(|(f, origin)| FlavorInfo {
                name: f.name().to_string(),
                version: f.version().to_string(),
                origin: origin.clone(),
            })
            .collect()
    }

    /// Loads the model in `dir` with the first registered flavor (in registry order) that its MLmodel
    /// lists. Fails with [`FlavorError::NoLoadableFlavor`] naming what the model has.
    pub fn load_dir(&self, dir: &Path, options: &LoadOptions) -> Result<LoadedModel, FlavorError> {
        let mlmodel = MlModel::read_dir(dir)?;
        self.load(dir, mlmodel, options)
    }

    /// Like [`FlavorRegistry::load_dir`] with an MLmodel already read.
    pub fn load(
        &self,
        dir: &Path,
        mlmodel: MlModel,
        options: &LoadOptions,
    ) -> Result<LoadedModel, FlavorError> {
        for (flavor, _) in &self.flavors {
            if let Some(config) = mlmodel.flavor(flavor.name()) {
                let ctx = LoadContext {
                    model_dir: dir,
                    mlmodel: &mlmodel,
                    flavor_config: config,
                    options,
                };
                let model = flavor.load(&ctx)?;
                return Ok(LoadedModel {
                    model,
                    flavor: flavor.name().to_string(),
                    mlmodel,
                });
            }
        }
        let available = mlmodel.flavor_names();
        let hint = PYTHON_ONLY_HINTS
            .iter()
            .find(|(name, _)| available.iter().any(|a| a == name))
            .map(|(_, h)| format!("; {h}"))
            .unwrap_or_default();
        Err(FlavorError::NoLoadableFlavor {
            dir: dir.to_path_buf(),
            available,
            served: self
                .flavors
                .iter()
                .map(|(f, _)| f.name().to_string())
                .collect(),
            hint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::IoSpec;
    use crate::tensor::{DType, Tensor};

    struct Identity(Vec<IoSpec>);
    impl Model for Identity {
        fn inputs(&self) -> &[IoSpec] {
            &self.0
        }
        fn outputs(&self) -> &[IoSpec] {
            &self.0
        }
        fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError> {
            Ok(inputs)
        }
    }
    struct IdentityFlavor;
    impl Flavor for IdentityFlavor {
        fn name(&self) -> &str {
            "identity"
        }
        fn version(&self) -> &str {
            "1"
        }
        fn load(&self, ctx: &LoadContext<'_>) -> Result<Arc<dyn Model>, FlavorError> {
            let n = ctx.flavor_config["width"].as_i64().unwrap_or(1);
            Ok(Arc::new(Identity(vec![IoSpec::new(
                "x",
                DType::F32,
                vec![-1, n],
            )])))
        }
    }

    fn write_mlmodel(dir: &Path, flavors: &[&str]) {
        let mut m = MlModel::default();
        for f in flavors {
            m.add_flavor(f, serde_json::json!({"width": 3}));
        }
        m.write_dir(dir).unwrap();
    }

    #[test]
    fn loads_with_a_listed_flavor() {
        let dir = tempfile::tempdir().unwrap();
        write_mlmodel(dir.path(), &["identity", "python_function"]);
        let mut reg = FlavorRegistry::new();
        reg.register(Arc::new(IdentityFlavor), "built-in").unwrap();
        let loaded = reg.load_dir(dir.path(), &LoadOptions::default()).unwrap();
        assert_eq!(loaded.flavor, "identity");
        assert_eq!(loaded.model.inputs()[0].shape, vec![-1, 3]);
    }

    #[test]
    fn names_the_flavors_when_none_loads() {
        let dir = tempfile::tempdir().unwrap();
        write_mlmodel(dir.path(), &["sklearn", "python_function"]);
        let mut reg = FlavorRegistry::new();
        reg.register(Arc::new(IdentityFlavor), "built-in").unwrap();
        let err = reg
            .load_dir(dir.path(), &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("sklearn") && err.contains("skl2onnx"), "{err}");
    }

    #[test]
    fn refuses_a_flavor_twice() {
        let mut reg = FlavorRegistry::new();
        reg.register(Arc::new(IdentityFlavor), "built-in").unwrap();
        let err = reg
            .register(Arc::new(IdentityFlavor), "/tmp/libx.so")
            .unwrap_err();
        assert!(matches!(err, FlavorError::DuplicateFlavor { .. }));
        assert_eq!(reg.list().len(), 1);
    }
}
