//! The host side driving the author side in process (no library): the same tables a `cdylib`
//! exports, checked and called through the same code.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use super::abi::HomemlFlavorPluginV1;
use super::author::{entry, ExportedTable, PluginFlavor};
use super::host::from_table;
use super::*;
use crate::{
    DType, FlavorError, FlavorRegistry, IoSpec, LoadContext, LoadOptions, MlModel, Model, Tensor,
    TensorData,
};

/// Doubles an f32 matrix; panics when the first value is 13; `InvalidInput` for other dtypes.
struct Doubler {
    io: Vec<IoSpec>,
    factor: f32,
}

impl Model for Doubler {
    fn inputs(&self) -> &[IoSpec] {
        &self.io
    }
    fn outputs(&self) -> &[IoSpec] {
        &self.io
    }
    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError> {
        let t = inputs
            .into_iter()
            .next()
            .ok_or_else(|| FlavorError::InvalidInput("no input".into()))?;
        let (shape, data) = t.into_parts();
        let TensorData::F32(v) = data else {
            return Err(FlavorError::InvalidInput("want float32".into()));
        };
        if v.first() == Some(&13.0) {
            panic!("unlucky input");
        }
        Ok(vec![Tensor::new(
            shape,
            TensorData::F32(v.iter().map(|x| x * self.factor).collect()),
        )?])
    }
}

struct DoublerFlavor;

impl PluginFlavor for DoublerFlavor {
    const PLUGIN_NAME: &'static str = "doubler-plugin";
    const PLUGIN_VERSION: &'static str = "0.3.1";
    const FLAVORS: &'static [&'static str] = &["doubler", "doubler_too"];

    fn load(flavor: &str, ctx: &LoadContext<'_>) -> Result<Arc<dyn Model>, FlavorError> {
        assert!(ctx.model_dir.join("MLmodel").exists());
        let factor = ctx
            .flavor_config
            .get("factor")
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| FlavorError::InvalidModel(format!("{flavor}: no factor")))?;
        if ctx.options.engine.as_deref() == Some("explode") {
            panic!("load exploded");
        }
        Ok(Arc::new(Doubler {
            io: vec![IoSpec::new("x", DType::F32, vec![-1, 2])],
            factor: factor as f32,
        }))
    }
}

fn table() -> *const HomemlFlavorPluginV1 {
    static CELL: OnceLock<ExportedTable> = OnceLock::new();
    entry::<DoublerFlavor>(&CELL)
}

fn plugin() -> Plugin {
    // SAFETY: the table is a static of this process.
    unsafe { from_table(Path::new("in-process"), None, table()) }.unwrap()
}

fn model_dir(factor: serde_json::Value) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut m = MlModel::default();
    m.add_flavor("doubler", serde_json::json!({ "factor": factor }));
    m.write_dir(dir.path()).unwrap();
    dir
}

fn registry() -> FlavorRegistry {
    let mut reg = FlavorRegistry::new();
    assert_eq!(
        register_plugin(&mut reg, &plugin()).unwrap(),
        vec!["doubler".to_string(), "doubler_too".to_string()]
    );
    reg
}

#[test]
fn describes_the_plugin() {
    let p = plugin();
    assert_eq!(p.name(), "doubler-plugin");
    assert_eq!(p.version(), "0.3.1");
    let infos = registry().list();
    assert_eq!(infos.len(), 2);
    assert_eq!(infos[0].version, "0.3.1");
    assert_eq!(infos[0].origin, "in-process");
}

#[test]
fn loads_and_predicts_across_the_abi() {
    let dir = model_dir(serde_json::json!(2.0));
    let loaded = registry()
        .load_dir(dir.path(), &LoadOptions::default())
        .unwrap();
    assert_eq!(loaded.flavor, "doubler");
    assert_eq!(
        loaded.model.inputs(),
        &[IoSpec::new("x", DType::F32, vec![-1, 2])]
    );
    let out = loaded
        .model
        .predict(vec![
            Tensor::f32_matrix(2, 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap()
        ])
        .unwrap();
    assert_eq!(
        out,
        vec![Tensor::f32_matrix(2, 2, vec![2.0, 4.0, 6.0, 8.0]).unwrap()]
    );
}

#[test]
fn errors_keep_their_kind() {
    let dir = model_dir(serde_json::json!("not a number"));
    let err = registry()
        .load_dir(dir.path(), &LoadOptions::default())
        .unwrap_err();
    assert!(
        matches!(&err, FlavorError::InvalidModel(m) if m.contains("no factor")),
        "{err}"
    );

    let dir = model_dir(serde_json::json!(2.0));
    let loaded = registry()
        .load_dir(dir.path(), &LoadOptions::default())
        .unwrap();
    let err = loaded
        .model
        .predict(vec![Tensor::new(vec![1], TensorData::I64(vec![1])).unwrap()])
        .unwrap_err();
    assert!(err.is_client_error(), "{err}");
    assert!(err.to_string().contains("want float32"), "{err}");
}

#[test]
fn a_panic_becomes_an_error_and_the_model_keeps_serving() {
    let dir = model_dir(serde_json::json!(3.0));
    let loaded = registry()
        .load_dir(dir.path(), &LoadOptions::default())
        .unwrap();
    let err = loaded
        .model
        .predict(vec![Tensor::f32_matrix(1, 2, vec![13.0, 1.0]).unwrap()])
        .unwrap_err();
    assert!(
        matches!(&err, FlavorError::Plugin(m) if m.contains("panicked: unlucky input")),
        "{err}"
    );
    let out = loaded
        .model
        .predict(vec![Tensor::f32_matrix(1, 2, vec![1.0, 1.0]).unwrap()])
        .unwrap();
    assert_eq!(out[0].data(), &TensorData::F32(vec![3.0, 3.0]));

    let options = LoadOptions {
        engine: Some("explode".into()),
        ..LoadOptions::default()
    };
    let err = registry().load_dir(dir.path(), &options).unwrap_err();
    assert!(err.to_string().contains("panicked: load exploded"), "{err}");
}

#[test]
fn concurrent_predictions_on_one_handle() {
    let dir = model_dir(serde_json::json!(2.0));
    let loaded = registry()
        .load_dir(dir.path(), &LoadOptions::default())
        .unwrap();
    std::thread::scope(|s| {
        for i in 0..4 {
            let model = Arc::clone(&loaded.model);
            s.spawn(move || {
                for j in 0..200 {
                    let x = (i * 1000 + j + 100) as f32;
                    let out = model
                        .predict(vec![Tensor::f32_matrix(1, 2, vec![x, 1.0]).unwrap()])
                        .unwrap();
                    assert_eq!(out[0].data(), &TensorData::F32(vec![2.0 * x, 2.0]));
                }
            });
        }
    });
}

#[test]
fn refuses_an_abi_mismatch_and_an_incomplete_table() {
    // SAFETY: the table is a static of this process.
    let t = unsafe { &*table() };
    let copy = |abi_version, predict| HomemlFlavorPluginV1 {
        abi_version,
        predict,
        ..*t
    };
    let wrong = copy(7, t.predict);
    // SAFETY: `wrong` lives for the call; only its version is read.
    let err = unsafe { from_table(Path::new("libwrong.so"), None, &wrong) }.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("plugin ABI version 7") && msg.contains("ABI version 1"),
        "{msg}"
    );
    let incomplete = copy(ABI_VERSION, None);
    // SAFETY: `incomplete` lives for the call and is a valid v1 table.
    let err = unsafe { from_table(Path::new("libinc.so"), None, &incomplete) }.unwrap_err();
    assert!(err.to_string().contains("lacks `predict`"), "{err}");
    // SAFETY: null is refused before any read.
    let err = unsafe { from_table(Path::new("libnull.so"), None, std::ptr::null()) }.unwrap_err();
    assert!(err.to_string().contains("no table"), "{err}");
}

#[test]
fn refuses_a_flavor_served_twice_whole() {
    let mut reg = registry();
    let err = register_plugin(&mut reg, &plugin()).unwrap_err();
    assert!(
        matches!(&err, FlavorError::DuplicateFlavor { name, .. } if name == "doubler"),
        "{err}"
    );
    assert_eq!(reg.list().len(), 2);
}

#[test]
fn refuses_files_that_are_not_libraries() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir
        .path()
        .join(format!("libgarbage.{}", std::env::consts::DLL_EXTENSION));
    std::fs::write(&garbage, b"this is not a shared library").unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
    let err = load_plugin(&garbage).unwrap_err();
    assert!(err.to_string().contains("cannot load the library"), "{err}");

    let mut reg = FlavorRegistry::new();
    let report = load_plugin_dir(&mut reg, dir.path());
    assert_eq!(report.len(), 1, "{report:?}");
    assert_eq!(report[0].0, garbage);
    assert!(report[0].1.is_err());
    assert!(reg.list().is_empty());

    let report = load_plugin_dir(&mut reg, &dir.path().join("missing"));
    assert!(matches!(report[0].1, Err(FlavorError::Io { .. })));
}

#[test]
fn flavor_trait_objects_report_the_plugin_version() {
    let flavors = plugin().flavors();
    assert_eq!(flavors[1].name(), "doubler_too");
    assert_eq!(flavors[1].version(), "0.3.1");
}
