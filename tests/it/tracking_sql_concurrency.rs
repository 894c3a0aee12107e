//! Several writers on one PostgreSQL database: two `homeml server` processes, 16 client processes
//! (tests/python/tracking_server_load.py) split between them, all logging to one shared run and each
//! to its own, while 8 threads register model versions of one model through both servers. Nothing
//! is lost and nothing is doubled (each metric point exactly once), every param and tag is there,
//! and the registry's version numbers are exactly 1..=N.

use std::process::Child;

use homeml_tracking::TrackingStore;

use crate::backend::{Backend, Kind};
use crate::common::Proc;
use crate::tracking_server_concurrency::{client, new_run, post, wait_ok};

fn server(backend: &Backend, dir: &std::path::Path, log: &str) -> Proc {
    let art = dir.join("mlartifacts");
    Proc::start(
        &[
            "server",
            "--port",
            "0",
            "--backend-store-uri",
            &backend.uri,
            "--artifacts-destination",
            art.to_str().unwrap(),
            "--no-ui",
        ],
        &[],
        dir.join(log),
    )
}

fn steps(s: &dyn TrackingStore, run: &str, key: &str) -> Vec<i64> {
    let page = s.get_metric_history(run, key, None, None).unwrap();
    let mut v: Vec<i64> = page.items.iter().map(|m| m.step).collect();
    v.sort_unstable();
    v
}

#[test]
fn sixteen_clients_through_two_servers_on_one_postgresql_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let backend = Backend::new(Kind::Postgres, tmp.path());
    let servers = [
        server(&backend, tmp.path(), "server-a.log"),
        server(&backend, tmp.path(), "server-b.log"),
    ];
    let addrs: Vec<String> = servers.iter().map(|s| s.addr.clone()).collect();
    let exp = post(
        &addrs[0],
        "experiments/create",
        serde_json::json!({"name": "load"}),
    );
    let exp = exp["experiment_id"].as_str().unwrap().to_string();
    let shared = new_run(&addrs[0], &exp);
    let own: Vec<String> = (0..16).map(|w| new_run(&addrs[w % 2], &exp)).collect();
    post(
        &addrs[1],
        "registered-models/create",
        serde_json::json!({"name": "shared-model"}),
    );
    let batches = 8;
    let clients: Vec<Child> = (0..16)
        .map(|w| {
            let ack = tmp.path().join(format!("ack{w}"));
            client(&addrs[w % 2], &shared, &own[w], w, batches, &ack, None)
        })
        .collect();
    let registrars: Vec<_> = (0..8)
        .map(|t| {
            let addr = addrs[t % 2].clone();
            let run = shared.clone();
            std::thread::spawn(move || {
                for _ in 0..5 {
                    post(
                        &addr,
                        "model-versions/create",
                        serde_json::json!({"name": "shared-model", "source": format!("runs:/{run}/model"), "run_id": run}),
                    );
                }
            })
        })
        .collect();
    clients.into_iter().for_each(wait_ok);
    for r in registrars {
        r.join().unwrap();
    }

    let s = backend.open();
    let shared_run = s.get_run(&shared).unwrap();
    let want: Vec<i64> = (0..10 * batches as i64).collect();
    for (w, own_id) in own.iter().enumerate() {
        assert_eq!(
            steps(&*s, &shared, &format!("w{w}")),
            want,
            "worker {w} in the shared run"
        );
        assert_eq!(
            steps(&*s, own_id, &format!("w{w}")),
            want,
            "worker {w} in its own run"
        );
        assert_eq!(
            steps(&*s, &shared, &format!("one{w}")),
            (0..batches as i64).collect::<Vec<_>>()
        );
        for i in 0..batches {
            assert_eq!(
                shared_run.data.params.get(&format!("w{w}_p{i}")),
                Some(&i.to_string())
            );
        }
        assert!(shared_run.data.tags.contains_key(&format!("w{w}_t")));
    }
    let versions = s
        .search_model_versions(&homeml_tracking::api::SearchRegistry {
            filter: Some("name = 'shared-model'".into()),
            ..Default::default()
        })
        .unwrap()
        .items;
    let mut numbers: Vec<u64> = versions.iter().map(|v| v.version).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=40).collect::<Vec<u64>>());
}

/// `(status, body)` of a POST to the API.
fn try_post(addr: &str, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let (s, b) = crate::common::post(addr, &format!("/api/2.0/mlflow/{path}"), &body.to_string());
    (
        s,
        serde_json::from_str(&b).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn postgresql_down_is_a_503_with_a_clear_message_then_the_server_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let backend = Backend::new(Kind::Postgres, tmp.path());
    let srv = server(&backend, tmp.path(), "server.log");
    let a = srv.addr.clone();
    let exp = post(
        &a,
        "experiments/create",
        serde_json::json!({"name": "faults"}),
    );
    let exp = exp["experiment_id"].as_str().unwrap().to_string();
    let run = new_run(&a, &exp);
    let batch = |i: i64| {
        serde_json::json!({
            "run_id": run,
            "metrics": [{"key": "m", "value": i, "timestamp": 1, "step": i}],
            "params": [{"key": format!("p{i}"), "value": "v"}],
        })
    };
    let pg = backend.pg().unwrap();
    pg.stop();
    let (status, body) = try_post(&a, "runs/log-batch", batch(1));
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error_code"], "TEMPORARILY_UNAVAILABLE", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("temporarily unavailable"),
        "{body}"
    );
    pg.start_again();
    // The pool drops the dead connections and connects again.
    let (status, body) = try_post(&a, "runs/log-batch", batch(2));
    assert_eq!(status, 200, "{body}");
    let s = backend.open();
    let r = s.get_run(&run).unwrap();
    assert!(
        !r.data.params.contains_key("p1"),
        "the refused batch left nothing"
    );
    assert_eq!(r.data.params.get("p2").map(String::as_str), Some("v"));
    assert_eq!(steps(&*s, &run, "m"), vec![2]);
}
