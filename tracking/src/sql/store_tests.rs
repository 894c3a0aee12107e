//! The SQL store on SQLite through the trait: a failed log-batch writes nothing, latest metrics
//! and history, NaN, search filters/order/pages in SQL, the registry with aliases, logged models.

use std::collections::BTreeMap;

use super::SqlStore;
use crate::api::*;
use crate::entities::{Stage, ViewType};
use crate::TrackingError;

fn store(dir: &std::path::Path) -> SqlStore {
    SqlStore::open_with_artifact_root(
        &format!("sqlite:///{}", dir.join("t.db").display()),
        Some("mlflow-artifacts:/"),
    )
    .unwrap()
}

fn metric(key: &str, value: f64, step: i64, ts: i64) -> LoggedMetric {
    LoggedMetric {
        key: key.into(),
        value,
        timestamp: ts,
        step,
        model_id: None,
        dataset_name: None,
        dataset_digest: None,
        run_id: None,
    }
}

fn search(
    s: &SqlStore,
    exp: &str,
    filter: &str,
    order: &[&str],
    max: usize,
    token: Option<String>,
) -> Page<crate::Run> {
    s.search_runs(&SearchRuns {
        experiment_ids: vec![exp.into()],
        filter: Some(filter.into()),
        view: ViewType::ActiveOnly,
        max_results: max,
        order_by: order.iter().map(|o| o.to_string()).collect(),
        page_token: token,
    })
    .unwrap()
}

#[test]
fn runs_metrics_batches_and_search() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path());
    assert_eq!(s.get_experiment("0").unwrap().name, "Default");
    let exp = s
        .create_experiment(CreateExperiment {
            name: "e".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        s.get_experiment(&exp).unwrap().artifact_location,
        format!("mlflow-artifacts:/{exp}")
    );
    assert!(matches!(
        s.create_experiment(CreateExperiment {
            name: "e".into(),
            ..Default::default()
        }),
        Err(TrackingError::AlreadyExists { .. })
    ));
    let mut ids = Vec::new();
    for i in 0..5 {
        let run = s
            .create_run(CreateRun {
                experiment_id: exp.clone(),
                run_name: Some(format!("r{i}")),
                start_time: Some(1000 + i),
                ..Default::default()
            })
            .unwrap();
        assert!(run
            .info
            .artifact_uri
            .ends_with(&format!("{}/artifacts", run.info.run_id)));
        let id = run.info.run_id.clone();
        s.log_batch(
            &id,
            &LogBatch {
                metrics: vec![
                    metric("acc", i as f64 / 10.0, 0, 1),
                    metric("acc", 0.0, 0, 0),
                ],
                params: vec![("lr".into(), format!("{i}"))],
                tags: vec![("even".into(), (i % 2 == 0).to_string())],
            },
        )
        .unwrap();
        ids.push(id);
    }
    // A batch whose param would change: nothing of it is written.
    let err = s
        .log_batch(
            &ids[0],
            &LogBatch {
                metrics: vec![metric("new", 1.0, 0, 0)],
                params: vec![
                    ("other".into(), "x".into()),
                    ("lr".into(), "changed".into()),
                ],
                tags: vec![("t".into(), "v".into())],
            },
        )
        .unwrap_err();
    assert!(matches!(err, TrackingError::ParamChanged { .. }), "{err}");
    let r0 = s.get_run(&ids[0]).unwrap();
    assert!(!r0.data.metrics.contains_key("new") && !r0.data.params.contains_key("other"));
    assert!(!r0.data.tags.contains_key("t"));
    // Latest = highest (step, timestamp, value); NaN round-trips; duplicates are kept once.
    s.log_metric(&ids[0], &metric("loss", 0.5, 1, 10)).unwrap();
    s.log_metric(&ids[0], &metric("loss", 0.9, 0, 20)).unwrap();
    s.log_metric(&ids[0], &metric("loss", 0.9, 0, 20)).unwrap();
    s.log_metric(&ids[0], &metric("nan", f64::NAN, 0, 0))
        .unwrap();
    let r0 = s.get_run(&ids[0]).unwrap();
    assert_eq!(r0.data.metrics["loss"].value, 0.5);
    assert!(r0.data.metrics["nan"].value.is_nan());
    let hist = s
        .get_metric_history(&ids[0], "loss", None, None)
        .unwrap()
        .items;
    assert_eq!(
        hist.iter().map(|m| m.value).collect::<Vec<_>>(),
        vec![0.5, 0.9]
    );
    let page = s
        .get_metric_history(&ids[0], "loss", Some(1), None)
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let rest = s
        .get_metric_history(&ids[0], "loss", Some(1), page.next_page_token.as_deref())
        .unwrap();
    assert_eq!((rest.items.len(), rest.next_page_token), (1, None));

    let got = search(
        &s,
        &exp,
        "metrics.acc >= 0.2 AND tags.even = 'true'",
        &["metrics.acc DESC"],
        10,
        None,
    );
    let names: Vec<_> = got.items.iter().map(|r| r.info.run_name.clone()).collect();
    assert_eq!(names, vec!["r4", "r2"]);
    let filter = format!("attributes.run_id IN ('{}', '{}')", ids[1], ids[3]);
    let got = search(&s, &exp, &filter, &["attributes.start_time ASC"], 10, None);
    let names: Vec<_> = got.items.iter().map(|r| r.info.run_name.as_str()).collect();
    assert_eq!(names, vec!["r1", "r3"]);
    let got = search(
        &s,
        &exp,
        "attributes.run_name LIKE 'r%' AND params.lr != '0'",
        &["params.lr ASC"],
        2,
        None,
    );
    assert_eq!(
        got.items
            .iter()
            .map(|r| r.info.run_name.as_str())
            .collect::<Vec<_>>(),
        vec!["r1", "r2"]
    );
    let next = search(
        &s,
        &exp,
        "attributes.run_name LIKE 'r%' AND params.lr != '0'",
        &["params.lr ASC"],
        2,
        got.next_page_token,
    );
    assert_eq!(
        next.items
            .iter()
            .map(|r| r.info.run_name.as_str())
            .collect::<Vec<_>>(),
        vec!["r3", "r4"]
    );
    assert!(next.next_page_token.is_none());
    // Default order: start_time DESC; missing sort keys last in both directions.
    let all = search(&s, &exp, "", &["metrics.loss DESC"], 10, None);
    assert_eq!(all.items[0].info.run_name, "r0");
    assert_eq!(all.items[1].info.run_name, "r4");
    let all = search(
        &s,
        &exp,
        "run_name ILIKE 'R_'",
        &["metrics.loss ASC"],
        10,
        None,
    );
    assert_eq!(
        (all.items.len(), all.items[0].info.run_name.as_str()),
        (5, "r0")
    );
    assert!(search(&s, &exp, "tags.`even` IS NULL", &[], 10, None)
        .items
        .is_empty());
    s.delete_run(&ids[1]).unwrap();
    assert_eq!(search(&s, &exp, "", &[], 10, None).items.len(), 4);
    assert!(s
        .search_runs(&SearchRuns {
            experiment_ids: vec![exp.clone()],
            filter: Some("metrics.acc >>> 1".into()),
            view: ViewType::ActiveOnly,
            max_results: 10,
            order_by: Vec::new(),
            page_token: None,
        })
        .is_err());
}

#[test]
fn registry_aliases_and_logged_models() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path());
    let run = s
        .create_run(CreateRun {
            experiment_id: "0".into(),
            ..Default::default()
        })
        .unwrap();
    let m = s
        .create_logged_model(CreateLoggedModel {
            experiment_id: "0".into(),
            name: Some("model".into()),
            source_run_id: Some(run.info.run_id.clone()),
            params: BTreeMap::from([("p".into(), "1".into())]),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(m.status, LoggedModelStatus::Pending);
    assert_eq!(
        m.artifact_location,
        format!("mlflow-artifacts:/0/models/{}/artifacts", m.model_id)
    );
    s.finalize_logged_model(&m.model_id, LoggedModelStatus::Ready)
        .unwrap();
    s.log_outputs(
        &run.info.run_id,
        &[ModelOutput {
            model_id: m.model_id.clone(),
            step: 0,
        }],
    )
    .unwrap();
    assert_eq!(
        s.get_run(&run.info.run_id).unwrap().model_outputs,
        vec![m.model_id.clone()]
    );
    let found = s
        .search_logged_models(&SearchLoggedModels {
            experiment_ids: vec!["0".into()],
            filter: Some("name = 'model' AND status = 'LOGGED_MODEL_READY'".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].params["p"], "1");

    s.create_registered_model(CreateRegisteredModel {
        name: "iris".into(),
        ..Default::default()
    })
    .unwrap();
    for _ in 0..2 {
        s.create_model_version(CreateModelVersion {
            name: "iris".into(),
            source: format!("models:/{}", m.model_id),
            ..Default::default()
        })
        .unwrap();
    }
    let v2 = s.get_model_version("iris", 2).unwrap();
    assert_eq!(v2.model_id.as_deref(), Some(m.model_id.as_str()));
    assert_eq!(v2.run_id.as_deref(), Some(run.info.run_id.as_str()));
    assert_eq!(
        s.get_model_version_download_uri("iris", 2).unwrap(),
        m.artifact_location
    );
    s.set_registered_model_alias("iris", "champion", 1).unwrap();
    assert_eq!(
        s.get_model_version_by_alias("iris", "champion")
            .unwrap()
            .version,
        1
    );
    assert_eq!(
        s.get_registered_model("iris").unwrap().aliases["champion"],
        1
    );
    s.transition_model_version_stage("iris", 2, Stage::Production, true)
        .unwrap();
    let latest = s.get_latest_versions("iris", &[Stage::Production]).unwrap();
    assert_eq!(
        latest.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![2]
    );
    // A deleted version keeps its number: the next one is 3, and its alias is gone.
    s.delete_model_version("iris", 1).unwrap();
    assert!(s.get_model_version_by_alias("iris", "champion").is_err());
    let v3 = s
        .create_model_version(CreateModelVersion {
            name: "iris".into(),
            source: "file:///m".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(v3.version, 3);
    let page = s
        .search_model_versions(&SearchRegistry {
            filter: Some("name = 'iris'".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        page.items.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![3, 2]
    );
    let renamed = s.rename_registered_model("iris", "flowers").unwrap();
    assert_eq!(renamed.name, "flowers");
    assert_eq!(
        s.get_model_version("flowers", 3).unwrap().source,
        "file:///m"
    );
    s.delete_registered_model("flowers").unwrap();
    assert!(s
        .get_registered_model("flowers")
        .unwrap_err()
        .is_not_found());
}
