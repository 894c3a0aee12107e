//! The file store's run search: a search on attributes only (read meta.yaml, page, then read the
//! page's runs) gives the same runs, in the same order and with the same data, as one that reads
//! every run in full.

use std::collections::BTreeMap;

use crate::api::{CreateRun, Page, SearchRuns, TrackingStore};
use crate::entities::{Run, RunStatus, ViewType};
use crate::store::Store;

fn search(s: &Store, exp: &str, filter: &str, order: &[&str], view: ViewType) -> Vec<Run> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page: Page<Run> = TrackingStore::search_runs(
            s,
            &SearchRuns {
                experiment_ids: vec![exp.into()],
                filter: Some(filter.into()),
                view,
                max_results: 3,
                order_by: order.iter().map(|o| o.to_string()).collect(),
                page_token: token,
            },
        )
        .unwrap();
        assert!(page.items.len() <= 3);
        out.extend(page.items);
        match page.next_page_token {
            Some(t) => token = Some(t),
            None => return out,
        }
    }
}

fn ids(runs: &[Run]) -> Vec<&str> {
    runs.iter().map(|r| r.info.run_id.as_str()).collect()
}

#[test]
fn attribute_searches_page_on_meta_and_fill_in_the_data_of_the_page() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path().join("mlruns").to_str().unwrap()).unwrap();
    let exp = s.create_experiment("search").unwrap();
    let mut made = Vec::new();
    for i in 0..8i64 {
        let run = TrackingStore::create_run(
            &s,
            CreateRun {
                experiment_id: exp.clone(),
                run_name: Some(format!("run-{i}")),
                start_time: Some(1_000 + (i * 7) % 5),
                ..Default::default()
            },
        )
        .unwrap();
        let id = run.info.run_id;
        let params = BTreeMap::from([("i".to_string(), i.to_string())]);
        let tags = BTreeMap::from([("odd".to_string(), (i % 2 == 1).to_string())]);
        let metrics = vec![crate::Metric::new("m", i as f64, 0)];
        s.log_batch(&id, &metrics, &params, &tags).unwrap();
        if i != 3 {
            s.end_run(&id, RunStatus::Finished).unwrap();
        }
        made.push(id);
    }
    s.delete_run(&made[5]).unwrap();

    // Each attribute-only search equals the same search with a clause on data that matches every
    // run (which reads every run in full), run for run, with the data.
    let everything = "params.i != 'none'";
    for (filter, order) in [
        ("", vec![]),
        ("", vec!["attributes.start_time ASC"]),
        ("attributes.status = 'FINISHED'", vec!["run_name DESC"]),
        (
            "attributes.run_name LIKE 'run-%'",
            vec!["attributes.end_time"],
        ),
    ] {
        for view in [ViewType::ActiveOnly, ViewType::All, ViewType::DeletedOnly] {
            let quick = search(&s, &exp, filter, &order, view);
            let both = if filter.is_empty() {
                everything.to_string()
            } else {
                format!("{filter} AND {everything}")
            };
            let full = search(&s, &exp, &both, &order, view);
            assert_eq!(ids(&quick), ids(&full), "{filter:?} {order:?} {view:?}");
            assert_eq!(quick, full, "{filter:?} {order:?} {view:?}");
            for r in &quick {
                assert_eq!(r, &s.get_run(&r.info.run_id).unwrap());
                assert_eq!(r.data.params.len(), 1, "{r:?}");
            }
        }
    }
    let active = search(&s, &exp, "", &[], ViewType::ActiveOnly);
    assert_eq!(active.len(), 7);
    assert!(!ids(&active).contains(&made[5].as_str()));
    let running = search(
        &s,
        &exp,
        "attributes.status = 'RUNNING'",
        &[],
        ViewType::All,
    );
    assert_eq!(ids(&running), [made[3].as_str()]);
    // The default order: newest start_time first, then run id.
    let mut want: Vec<(i64, &str)> = active
        .iter()
        .map(|r| (-r.info.start_time.unwrap_or(0), r.info.run_id.as_str()))
        .collect();
    want.sort();
    assert_eq!(
        ids(&active),
        want.into_iter().map(|(_, id)| id).collect::<Vec<_>>()
    );
}
