//! The public API end to end on a temporary store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use homeml_flavor::MlModel;
use homeml_tracking::{
    LifecycleStage, LogModelOptions, Metric, RunOptions, RunStatus, Stage, Store, TrackingError,
    ViewType, TAG_GIT_BRANCH, TAG_GIT_COMMIT, TAG_GIT_REPO_URL,
};

fn store() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path().join("mlruns").to_str().unwrap()).unwrap();
    (d, s)
}

/// A model directory as a flavor writes it.
fn model_dir(base: &Path) -> PathBuf {
    let dir = base.join("saved-model");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("model.onnx"), b"not really onnx").unwrap();
    let mut m = MlModel::default();
    m.add_flavor(
        "onnx",
        serde_json::json!({"data": "model.onnx", "onnx_version": "1.17.0"}),
    );
    m.add_flavor(
        "python_function",
        serde_json::json!({"loader_module": "mlflow.onnx", "data": "model.onnx"}),
    );
    m.write_dir(&dir).unwrap();
    dir
}

#[test]
fn open_accepts_paths_and_file_uris_and_refuses_files() {
    let d = tempfile::tempdir().unwrap();
    let uri = format!("file://{}/a%20b", d.path().display());
    let s = Store::open(&uri).unwrap();
    assert!(d.path().join("a b/0/meta.yaml").is_file());
    assert_eq!(s.root(), d.path().join("a b"));
    std::fs::write(d.path().join("file"), "x").unwrap();
    let e = Store::open(d.path().join("file").to_str().unwrap()).unwrap_err();
    assert!(matches!(e, TrackingError::BadStore { .. }), "{e}");
    assert!(e.to_string().contains("file"), "{e}");
    assert!(matches!(
        Store::open("sqlite:///x.db"),
        Err(TrackingError::BadUri { .. })
    ));
    assert!(Store::open("").is_err());
}

#[test]
fn runs_params_metrics_tags() {
    let (_d, s) = store();
    let exp = s.create_experiment("e").unwrap();
    let mut tags = BTreeMap::new();
    tags.insert("team".to_string(), "ml".to_string());
    let run = s
        .start_run(
            &exp,
            RunOptions {
                name: Some("first".into()),
                tags,
                parent_run_id: None,
            },
        )
        .unwrap();
    let id = run.id().to_string();
    assert_eq!(id.len(), 32);
    assert_eq!(run.info.status, RunStatus::Running);
    assert_eq!(run.info.run_name, "first");
    for t in [
        "mlflow.runName",
        "mlflow.user",
        "mlflow.source.name",
        "mlflow.source.type",
        "team",
    ] {
        assert!(run.data.tags.contains_key(t), "missing {t}");
    }
    assert_eq!(run.data.tags["mlflow.source.type"], "LOCAL");
    // The git tags say what the work tree the tests run in says (read by util::git_info, whose
    // unit tests cover branches, detached HEADs, worktrees and remotes).
    let git = homeml_tracking::util::git_info();
    let tag = |k: &str| run.data.tags.get(k).cloned();
    assert_eq!(tag(TAG_GIT_COMMIT), git.as_ref().map(|g| g.commit.clone()));
    assert_eq!(
        tag(TAG_GIT_BRANCH),
        git.as_ref().and_then(|g| g.branch.clone())
    );
    assert_eq!(
        tag(TAG_GIT_REPO_URL),
        git.as_ref().and_then(|g| g.repo_url.clone())
    );

    s.log_param(&id, "lr", "0.1").unwrap();
    s.log_param(&id, "lr", "0.1").unwrap();
    let e = s.log_param(&id, "lr", "0.2").unwrap_err();
    assert!(matches!(e, TrackingError::ParamChanged { .. }), "{e}");
    assert!(e.to_string().contains("params/lr"), "{e}");
    s.log_param(&id, "opt/name", "adam").unwrap();

    s.log_metric(&id, "loss", 1.0, 0, Some(1000)).unwrap();
    s.log_metric(&id, "loss", 0.5, 1, Some(1001)).unwrap();
    s.log_metric(&id, "loss", f64::NAN, 2, Some(1002)).unwrap();
    s.log_metric(&id, "loss", 0.25, 1, Some(1003)).unwrap();
    let mut params = BTreeMap::new();
    params.insert("epochs".to_string(), "3".to_string());
    let mut btags = BTreeMap::new();
    btags.insert("stage".to_string(), "dev".to_string());
    s.log_batch(
        &id,
        &[
            Metric {
                key: "acc".into(),
                value: 0.9,
                timestamp: 5,
                step: 0,
            },
            Metric {
                key: "acc".into(),
                value: 0.95,
                timestamp: 6,
                step: 1,
            },
        ],
        &params,
        &btags,
    )
    .unwrap();
    s.set_tag(&id, "note", "hello world").unwrap();
    s.set_tag(&id, "mlflow.runName", "renamed").unwrap();

    let h = s.get_metric_history(&id, "loss").unwrap();
    assert_eq!(h.len(), 4);
    assert_eq!(h[1].value, 0.5);
    assert!(h[2].value.is_nan());
    assert!(s.get_metric_history(&id, "never").unwrap().is_empty());

    let r = s.get_run(&id).unwrap();
    assert_eq!(r.info.run_name, "renamed");
    assert_eq!(r.data.params["lr"], "0.1");
    assert_eq!(r.data.params["opt/name"], "adam");
    assert_eq!(r.data.params["epochs"], "3");
    assert!(
        r.data.metrics["loss"].value.is_nan(),
        "step 2 is the latest"
    );
    assert_eq!(r.data.metrics["acc"].value, 0.95);
    assert_eq!(r.data.tags["stage"], "dev");
    assert_eq!(r.data.tags["note"], "hello world");
    s.delete_tag(&id, "note").unwrap();
    assert!(s.delete_tag(&id, "note").unwrap_err().is_not_found());

    // Nested run, end, resume.
    let child = s
        .start_run(
            &exp,
            RunOptions {
                parent_run_id: Some(id.clone()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(child.parent_run_id(), Some(id.as_str()));
    assert!(!child.info.run_name.is_empty());
    s.end_run(child.id(), RunStatus::Finished).unwrap();
    let c = s.get_run(child.id()).unwrap();
    assert_eq!(c.info.status, RunStatus::Finished);
    assert!(c.info.end_time.is_some());
    let c = s.resume_run(child.id()).unwrap();
    assert_eq!(c.info.status, RunStatus::Running);
    assert_eq!(c.info.end_time, None);

    // Delete / restore.
    s.delete_run(child.id()).unwrap();
    assert_eq!(s.search_runs(&[&exp]).unwrap().len(), 1);
    assert_eq!(
        s.search_runs_view(&[&exp], ViewType::DeletedOnly)
            .unwrap()
            .len(),
        1
    );
    let e = s.log_metric(child.id(), "x", 1.0, 0, None).unwrap_err();
    assert!(matches!(e, TrackingError::InvalidState { .. }), "{e}");
    s.restore_run(child.id()).unwrap();
    let all = s.search_runs(&[&exp]).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        s.get_run(child.id()).unwrap().info.lifecycle_stage,
        LifecycleStage::Active
    );
}

#[test]
fn bad_input_is_typed_and_stays_inside() {
    let (d, s) = store();
    let run = s.start_run("0", RunOptions::default()).unwrap();
    let id = run.id();
    for key in ["../escape", "/abs", "a/../../b", ""] {
        let e = s.log_param(id, key, "v").unwrap_err();
        assert!(matches!(e, TrackingError::InvalidName { .. }), "{key}: {e}");
        assert!(s.log_metric(id, key, 1.0, 0, None).is_err());
        assert!(s.set_tag(id, key, "v").is_err());
    }
    for name in ["a/b", "..", "x:y", " "] {
        assert!(s.create_registered_model(name).is_err(), "{name}");
    }
    assert!(s.get_run("../../etc").is_err());
    assert!(s
        .get_run("00000000000000000000000000000000")
        .unwrap_err()
        .is_not_found());
    assert!(s
        .start_run("12345", RunOptions::default())
        .unwrap_err()
        .is_not_found());
    let src = d.path().join("f.txt");
    std::fs::write(&src, "x").unwrap();
    assert!(s.log_artifact(id, &src, Some("../../out")).is_err());
    assert!(!d.path().join("out").exists());

    // A corrupt meta.yaml names its file.
    let meta = s.root().join("0").join(id).join("meta.yaml");
    std::fs::write(&meta, "run_id: [broken").unwrap();
    let e = s.get_run(id).unwrap_err();
    assert!(matches!(e, TrackingError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains(&meta.display().to_string()), "{e}");
}

#[test]
fn artifacts() {
    let (d, s) = store();
    let run = s.start_run("0", RunOptions::default()).unwrap();
    let src = d.path().join("report.txt");
    std::fs::write(&src, "hello").unwrap();
    s.log_artifact(run.id(), &src, None).unwrap();
    let folder = d.path().join("plots");
    std::fs::create_dir_all(folder.join("inner")).unwrap();
    std::fs::write(folder.join("inner/a.png"), "png").unwrap();
    s.log_artifact(run.id(), &folder, Some("figs")).unwrap();
    let top = s.list_artifacts(run.id(), None).unwrap();
    let names: Vec<_> = top.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(names, ["figs", "report.txt"]);
    assert_eq!(top[1].file_size, Some(5));
    let inner = s.list_artifacts(run.id(), Some("figs/plots")).unwrap();
    assert_eq!(inner[0].path, "figs/plots/inner");
    assert!(inner[0].is_dir);
    assert_eq!(
        s.read_artifact(run.id(), "figs/plots/inner/a.png").unwrap(),
        b"png"
    );
    assert!(s
        .read_artifact(run.id(), "nope")
        .unwrap_err()
        .is_not_found());
}

#[test]
fn log_model_register_and_resolve_every_uri() {
    let (d, s) = store();
    let exp = s.create_experiment("models").unwrap();
    let run = s.start_run(&exp, RunOptions::default()).unwrap();
    let src = model_dir(d.path());
    let lm = s
        .log_model(
            run.id(),
            "model",
            &src,
            LogModelOptions {
                register_as: Some("iris".into()),
            },
        )
        .unwrap();
    assert!(lm.model_id.starts_with("m-"));
    assert_eq!(lm.registered_version, Some(1));
    assert_eq!(
        lm.artifact_dir,
        s.root()
            .join(&exp)
            .join("models")
            .join(&lm.model_id)
            .join("artifacts")
    );
    let mm = MlModel::read_dir(&lm.artifact_dir).unwrap();
    assert_eq!(mm.run_id.as_deref(), Some(run.id()));
    assert_eq!(mm.model_id.as_deref(), Some(lm.model_id.as_str()));
    assert!(mm.utc_time_created.is_some());
    assert_eq!(mm.mlflow_version.as_deref(), Some("3.17.2"));
    assert!(mm.flavor("onnx").is_some());
    assert!(lm.artifact_dir.join("model.onnx").is_file());
    assert!(s
        .root()
        .join(&exp)
        .join(run.id())
        .join("outputs")
        .join(&lm.model_id)
        .join("meta.yaml")
        .is_file());
    assert_eq!(
        s.get_run(run.id()).unwrap().model_outputs,
        vec![lm.model_id.clone()]
    );

    // A second version from the run path, an alias, a stage.
    let lm2 = s
        .log_model(run.id(), "model2", &src, LogModelOptions::default())
        .unwrap();
    assert_eq!(lm2.registered_version, None);
    let v2 = s
        .create_model_version("iris", &format!("models:/{}", lm2.model_id))
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(v2.run_id.as_deref(), Some(run.id()));
    s.set_alias("iris", "champion", 1).unwrap();
    s.transition_stage("iris", 2, Stage::Production).unwrap();
    s.set_model_version_tag("iris", 1, "validated", "yes")
        .unwrap();
    s.set_registered_model_tag("iris", "task", "classification")
        .unwrap();
    s.set_registered_model_description("iris", Some("Iris classifier"))
        .unwrap();
    s.set_model_version_description("iris", 2, Some("second"))
        .unwrap();

    let rm = s.get_registered_model("iris").unwrap();
    assert_eq!(rm.aliases["champion"], 1);
    assert_eq!(rm.description.as_deref(), Some("Iris classifier"));
    assert_eq!(rm.tags["task"], "classification");
    let v1 = s.get_model_version("iris", 1).unwrap();
    assert_eq!(v1.aliases, vec!["champion".to_string()]);
    assert_eq!(v1.tags["validated"], "yes");
    assert_eq!(
        s.get_model_version("iris", 2).unwrap().current_stage,
        Stage::Production
    );

    let cases: Vec<(String, PathBuf, Option<u64>)> = vec![
        ("models:/iris/1".into(), lm.artifact_dir.clone(), Some(1)),
        (
            "models:/iris@champion".into(),
            lm.artifact_dir.clone(),
            Some(1),
        ),
        (
            "models:/iris/Production".into(),
            lm2.artifact_dir.clone(),
            Some(2),
        ),
        (
            "models:/iris/production".into(),
            lm2.artifact_dir.clone(),
            Some(2),
        ),
        (
            "models:/iris/latest".into(),
            lm2.artifact_dir.clone(),
            Some(2),
        ),
        (
            format!("models:/{}", lm.model_id),
            lm.artifact_dir.clone(),
            None,
        ),
        (
            format!("runs:/{}/model", run.id()),
            lm.artifact_dir.clone(),
            None,
        ),
        (
            format!("runs:/{}/model2", run.id()),
            lm2.artifact_dir.clone(),
            None,
        ),
        (
            lm.artifact_dir.display().to_string(),
            lm.artifact_dir.clone(),
            None,
        ),
        (
            format!("file://{}", lm.artifact_dir.display()),
            lm.artifact_dir.clone(),
            None,
        ),
    ];
    for (uri, path, version) in cases {
        let r = s
            .resolve_model_uri(&uri)
            .unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert_eq!(r.path, path, "{uri}");
        assert_eq!(r.version, version, "{uri}");
        if version.is_some() {
            assert_eq!(r.registered_name.as_deref(), Some("iris"));
        }
        assert_eq!(r.run_id.as_deref(), Some(run.id()), "{uri}");
        assert!(r.model_id.is_some(), "{uri}");
    }
    for bad in [
        "models:/iris/9",
        "models:/iris@nope",
        "models:/iris/Staging",
        "models:/nope/1",
        "models:/m-00000000000000000000000000000000",
        "s3://bucket/model",
        "models:/iris/sideways",
    ] {
        assert!(s.resolve_model_uri(bad).is_err(), "{bad}");
    }

    // The alias moves; deleting a version removes its aliases and never reuses its number.
    s.set_alias("iris", "champion", 2).unwrap();
    assert_eq!(
        s.resolve_model_uri("models:/iris@champion")
            .unwrap()
            .version,
        Some(2)
    );
    s.delete_model_version("iris", 2).unwrap();
    assert!(s.resolve_model_uri("models:/iris@champion").is_err());
    assert_eq!(
        s.resolve_model_uri("models:/iris/latest").unwrap().version,
        Some(1)
    );
    let v3 = s
        .create_model_version("iris", &format!("runs:/{}/model", run.id()))
        .unwrap();
    assert_eq!(v3.version, 3);
    assert_eq!(
        s.resolve_model_uri("models:/iris/3").unwrap().path,
        lm.artifact_dir
    );
    assert_eq!(s.search_model_versions(Some("iris")).unwrap().len(), 2);
    s.delete_alias("iris", "champion").unwrap();
    assert!(s.set_alias("iris", "latest", 1).is_err());
    assert!(s.set_alias("iris", "x", 2).is_err(), "deleted version");
    assert_eq!(s.list_registered_models().unwrap().len(), 1);
    assert!(matches!(
        s.create_registered_model("iris"),
        Err(TrackingError::AlreadyExists { .. })
    ));
    s.delete_registered_model("iris").unwrap();
    assert!(s.list_registered_models().unwrap().is_empty());
}

#[test]
fn mlflow2_tree_resolves() {
    // An MLflow 2.x layout: the model lives in the run's artifacts.
    let (d, s) = store();
    let run = s.start_run("0", RunOptions::default()).unwrap();
    let src = model_dir(d.path());
    s.log_artifacts(run.id(), &src, Some("model")).unwrap();
    let r = s
        .resolve_model_uri(&format!("runs:/{}/model", run.id()))
        .unwrap();
    assert_eq!(r.path, s.artifact_dir(run.id()).unwrap().join("model"));
    s.create_registered_model("old").unwrap();
    s.create_model_version("old", &format!("runs:/{}/model", run.id()))
        .unwrap();
    assert_eq!(s.resolve_model_uri("models:/old/1").unwrap().path, r.path);
}

#[test]
fn listing_tolerates_runs_appearing_and_vanishing_meanwhile() {
    let (_d, s) = store();
    let exp = s.create_experiment("busy").unwrap();
    let mut ids = Vec::new();
    for i in 0..120 {
        let run = s.start_run(&exp, RunOptions::default()).unwrap();
        s.log_param(run.id(), "i", &i.to_string()).unwrap();
        ids.push(run.id().to_string());
    }
    let exp_dir = s.root().join(&exp);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let lister = scope.spawn(|| {
            let mut listings = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || listings < 3 {
                let runs = s
                    .search_runs(&[&exp])
                    .expect("a listing while runs come and go");
                for r in &runs {
                    assert!(!r.info.run_id.is_empty());
                    assert!(r.data.params.len() <= 2, "{:?}", r.data.params);
                }
                listings += 1;
            }
            listings
        });
        // Meanwhile: new runs with params and metrics, and whole run folders removed (as
        // `mlflow gc` does), some while half of their files are gone.
        for (i, id) in ids.iter().enumerate() {
            let run = s.start_run(&exp, RunOptions::default()).unwrap();
            s.log_param(run.id(), "i", "new").unwrap();
            s.log_metric(run.id(), "m", 1.0, 0, None).unwrap();
            let dir = exp_dir.join(id);
            if i % 2 == 0 {
                std::fs::remove_dir_all(dir.join("params")).unwrap();
            }
            std::fs::remove_dir_all(&dir).unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(lister.join().unwrap() >= 3);
    });
    let runs = s.search_runs(&[&exp]).unwrap();
    assert_eq!(runs.len(), 120);
    assert!(runs
        .iter()
        .all(|r| r.data.params["i"] == "new" && r.data.metrics.contains_key("m")));
}
