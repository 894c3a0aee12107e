//! The example plugin and the misbehaving test plugins, loaded as shared libraries through the host side
//! of homeml-flavor's plugin ABI.

use crate::support;

use std::sync::Arc;

use homeml_flavor::plugin::{load_plugin, load_plugin_dir, register_plugin};
use homeml_flavor::{FlavorError, FlavorRegistry, LoadOptions, Model, Tensor, TensorData};
use homeml_plugin_example::{save_model, NearestCentroid, NearestCentroidModel, FLAVOR_NAME};

fn trained() -> NearestCentroid {
    let rows = vec![
        vec![5.1, 3.5, 1.4, 0.2],
        vec![4.9, 3.0, 1.4, 0.2],
        vec![7.0, 3.2, 4.7, 1.4],
        vec![6.4, 3.2, 4.5, 1.5],
        vec![6.3, 3.3, 6.0, 2.5],
        vec![5.8, 2.7, 5.1, 1.9],
    ];
    NearestCentroid::fit(&rows, &[0, 0, 1, 1, 2, 2]).unwrap()
}

fn batch() -> Tensor {
    Tensor::f64_matrix(
        3,
        4,
        vec![5.0, 3.4, 1.5, 0.2, 6.7, 3.1, 4.4, 1.4, 6.5, 3.0, 5.8, 2.2],
    )
    .unwrap()
}

#[test]
fn serves_the_example_flavor_through_the_library() {
    let a = support::artifacts();
    let plugin = load_plugin(&a.example).unwrap();
    assert_eq!(plugin.name(), "homeml-plugin-example");
    assert_eq!(plugin.version(), env!("CARGO_PKG_VERSION"));
    assert_eq!(plugin.flavor_names(), &[FLAVOR_NAME.to_string()]);
    let mut reg = FlavorRegistry::new();
    register_plugin(&mut reg, &plugin).unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    save_model(&dir, &trained()).unwrap();
    let loaded = reg.load_dir(&dir, &LoadOptions::default()).unwrap();
    assert_eq!(loaded.flavor, FLAVOR_NAME);
    assert_eq!(loaded.model.inputs()[0].shape, vec![-1, 4]);

    let native = NearestCentroidModel::new(trained()).unwrap();
    let want = native.predict(vec![batch()]).unwrap();
    assert_eq!(want[0].data(), &TensorData::I64(vec![0, 1, 2]));
    assert_eq!(loaded.model.predict(vec![batch()]).unwrap(), want);

    // A client error keeps its kind across the boundary.
    let err = loaded
        .model
        .predict(vec![Tensor::f64_matrix(1, 2, vec![1.0, 2.0]).unwrap()])
        .unwrap_err();
    assert!(err.is_client_error(), "{err}");
    assert!(err.to_string().contains("[rows, 4]"), "{err}");

    // The model keeps the library loaded after the registry and the plugin are gone.
    drop(reg);
    drop(plugin);
    assert_eq!(loaded.model.predict(vec![batch()]).unwrap(), want);
}

#[test]
fn concurrent_predictions_through_the_library() {
    let a = support::artifacts();
    let mut reg = FlavorRegistry::new();
    register_plugin(&mut reg, &load_plugin(&a.example).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    save_model(tmp.path(), &trained()).unwrap();
    let model: Arc<dyn Model> = reg
        .load_dir(tmp.path(), &LoadOptions::default())
        .unwrap()
        .model;
    std::thread::scope(|s| {
        for _ in 0..4 {
            let model = Arc::clone(&model);
            s.spawn(move || {
                for _ in 0..100 {
                    let out = model.predict(vec![batch()]).unwrap();
                    assert_eq!(out[0].data(), &TensorData::I64(vec![0, 1, 2]));
                }
            });
        }
    });
}

#[test]
fn a_panicking_plugin_answers_an_error_and_serves_the_next_call() {
    let a = support::artifacts();
    let mut reg = FlavorRegistry::new();
    register_plugin(&mut reg, &load_plugin(&a.panicking).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut m = homeml_flavor::MlModel::default();
    m.add_flavor("panicking", serde_json::json!({}));
    m.write_dir(tmp.path()).unwrap();
    let model = reg
        .load_dir(tmp.path(), &LoadOptions::default())
        .unwrap()
        .model;

    let bad = Tensor::f64_matrix(1, 2, vec![-1.0, 0.0]).unwrap();
    let err = model.predict(vec![bad]).unwrap_err();
    assert!(
        matches!(&err, FlavorError::Plugin(msg) if msg.contains("panicked: negative input")),
        "{err}"
    );
    let good = Tensor::f64_matrix(1, 2, vec![1.0, 2.0]).unwrap();
    assert_eq!(model.predict(vec![good.clone()]).unwrap(), vec![good]);

    let tmp = tempfile::tempdir().unwrap();
    let mut m = homeml_flavor::MlModel::default();
    m.add_flavor("panicking", serde_json::json!({"panic_on_load": true}));
    m.write_dir(tmp.path()).unwrap();
    let err = reg
        .load_dir(tmp.path(), &LoadOptions::default())
        .unwrap_err();
    assert!(
        err.to_string().contains("panicked: asked to panic on load"),
        "{err}"
    );
}

#[test]
fn refuses_a_plugin_of_another_abi_version() {
    let a = support::artifacts();
    let err = load_plugin(&a.wrong_abi).unwrap_err().to_string();
    assert!(
        err.contains("plugin ABI version 2") && err.contains("speaks plugin ABI version 1"),
        "{err}"
    );
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn refuses_a_library_that_is_not_a_plugin() {
    // libm is on every glibc system; a bare name makes the dynamic loader search for it.
    let err = load_plugin(std::path::Path::new("libm.so.6"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not a homeml flavor plugin") && err.contains("homeml_flavor_plugin"),
        "{err}"
    );
}

#[test]
fn a_plugin_dir_reports_each_library_and_keeps_the_good_ones() {
    let a = support::artifacts();
    let dir = tempfile::tempdir().unwrap();
    let first = support::install(&a.example, dir.path(), "a_centroid");
    let second = support::install(&a.example, dir.path(), "b_centroid_again");
    let wrong = support::install(&a.wrong_abi, dir.path(), "c_wrong_abi");
    let garbage = dir
        .path()
        .join(format!("d_garbage{}", std::env::consts::DLL_SUFFIX));
    std::fs::write(&garbage, b"\x7fELF but not really").unwrap();
    let panicking = support::install(&a.panicking, dir.path(), "e_panicking");

    let mut reg = FlavorRegistry::new();
    let report = load_plugin_dir(&mut reg, dir.path());
    let paths: Vec<_> = report.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(
        paths,
        vec![first.clone(), second.clone(), wrong, garbage, panicking]
    );
    assert_eq!(
        report[0].1.as_ref().unwrap(),
        &vec![FLAVOR_NAME.to_string()]
    );
    match &report[1].1 {
        Err(FlavorError::DuplicateFlavor {
            name,
            existing,
            new,
        }) => {
            assert_eq!(name, FLAVOR_NAME);
            assert_eq!(existing, &first.display().to_string());
            assert_eq!(new, &second.display().to_string());
        }
        other => panic!("expected a duplicate flavor, got {other:?}"),
    }
    assert!(report[2]
        .1
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("ABI version 2"));
    assert!(report[3]
        .1
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("cannot load the library"));
    assert_eq!(
        report[4].1.as_ref().unwrap(),
        &vec!["panicking".to_string()]
    );

    let names: Vec<String> = reg.list().into_iter().map(|i| i.name).collect();
    assert_eq!(
        names,
        vec![FLAVOR_NAME.to_string(), "panicking".to_string()]
    );
}
