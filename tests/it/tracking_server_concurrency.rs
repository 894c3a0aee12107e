//! Concurrency and crash safety of `homeml server` on its file store, with real client processes
//! (tests/python/tracking_server_load.py, stdlib HTTP so that 16 start fast):
//! - 16 processes log at once to one shared run and each to its own: nothing is lost (every metric
//!   point, param and tag is in the store, the shared run's history holds exactly what was sent);
//! - the server is SIGKILLed and restarted on the same port in a bounded loop while 8 processes log:
//!   every acknowledged write is in the store afterwards, every meta.yaml parses, no metric line is
//!   torn;
//! - a meta.yaml truncated by hand: the run listing skips it with an error naming the file while
//!   every other run is still listed and served.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use homeml_tracking::{Store, TrackingStore};
use serde_json::Value;

use crate::common::{self, Proc};

fn server(store: &Path, port: u16, log: PathBuf) -> Proc {
    let s = store.to_str().unwrap();
    let port = port.to_string();
    Proc::start(
        &[
            "server",
            "--port",
            &port,
            "--backend-store-uri",
            s,
            "--artifacts-destination",
            s,
        ],
        &[],
        log,
    )
}

pub(crate) fn post(addr: &str, path: &str, body: Value) -> Value {
    let (s, b) = common::post(addr, &format!("/api/2.0/mlflow/{path}"), &body.to_string());
    assert_eq!(s, 200, "{path}: {b}");
    serde_json::from_str(&b).unwrap()
}

pub(crate) fn new_run(addr: &str, exp: &str) -> String {
    let r = post(
        addr,
        "runs/create",
        serde_json::json!({"experiment_id": exp}),
    );
    r["run"]["info"]["run_id"].as_str().unwrap().to_string()
}

/// Starts one load client.
pub(crate) fn client(
    addr: &str,
    shared: &str,
    own: &str,
    worker: usize,
    batches: usize,
    ack: &Path,
    stop: Option<&Path>,
) -> Child {
    let mut cmd = Command::new(common::python());
    cmd.arg(common::root().join("tests/python/tracking_server_load.py"))
        .arg(format!("http://{addr}"))
        .args([shared, own, &worker.to_string(), &batches.to_string()])
        .arg(ack)
        .stdout(Stdio::null());
    if let Some(s) = stop {
        cmd.arg(s);
    }
    cmd.spawn().expect("starting a load client")
}

pub(crate) fn wait_ok(mut c: Child) {
    let status = c.wait().expect("waiting for a load client");
    assert!(status.success(), "a load client failed: {status}");
}

/// The (step) set of a metric's history in the store.
fn steps(s: &Store, run: &str, key: &str) -> Vec<i64> {
    let page = TrackingStore::get_metric_history(s, run, key, None, None).unwrap();
    page.items.iter().map(|m| m.step).collect()
}

/// Every metric file holds only whole `<ts> <value> <step>` lines; every meta.yaml parses.
fn check_files(s: &Store, root: &Path) {
    let mut stack = vec![root.to_path_buf()];
    let (mut metas, mut lines) = (0, 0);
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
                continue;
            }
            let parent = p.parent().unwrap();
            if parent.file_name().is_some_and(|n| n == "metrics") {
                let text = std::fs::read_to_string(&p).unwrap();
                assert!(text.ends_with('\n'), "torn metric file {}", p.display());
                for line in text.lines() {
                    let f: Vec<&str> = line.split_whitespace().collect();
                    // `<ts> <value> <step>`, or with `<dataset> <digest>` as MLflow writes them.
                    let whole = (f.len() == 3 || f.len() == 5)
                        && f[0].parse::<i64>().is_ok()
                        && f[1].parse::<f64>().is_ok()
                        && f[2].parse::<i64>().is_ok();
                    assert!(whole, "torn line {line:?} in {}", p.display());
                    lines += 1;
                }
            } else if p.file_name().is_some_and(|n| n == "meta.yaml") {
                let id = parent.file_name().unwrap().to_str().unwrap();
                let depth = parent.strip_prefix(root).unwrap().components().count();
                match depth {
                    1 => {
                        s.get_experiment(id)
                            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                    }
                    2 => {
                        TrackingStore::get_run(s, id)
                            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                    }
                    _ => {}
                }
                metas += 1;
            }
        }
    }
    assert!(
        metas > 0 && lines > 0,
        "{metas} meta files, {lines} metric lines"
    );
}

#[test]
fn sixteen_clients_logging_at_once_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let srv = server(&store, 0, tmp.path().join("server.log"));
    let a = srv.addr.clone();
    let exp = post(
        &a,
        "experiments/create",
        serde_json::json!({"name": "load"}),
    );
    let exp = exp["experiment_id"].as_str().unwrap().to_string();
    let shared = new_run(&a, &exp);
    let own: Vec<String> = (0..16).map(|_| new_run(&a, &exp)).collect();
    let batches = 12;
    let clients: Vec<Child> = (0..16)
        .map(|w| {
            let ack = tmp.path().join(format!("ack{w}"));
            client(&a, &shared, &own[w], w, batches, &ack, None)
        })
        .collect();
    clients.into_iter().for_each(wait_ok);

    let s = Store::open(store.to_str().unwrap()).unwrap();
    let shared_run = TrackingStore::get_run(&s, &shared).unwrap();
    for (w, own_id) in own.iter().enumerate() {
        let want: Vec<i64> = (0..10 * batches as i64).collect();
        let mut got = steps(&s, &shared, &format!("w{w}"));
        got.sort_unstable();
        assert_eq!(got, want, "worker {w} in the shared run");
        let mut got = steps(&s, own_id, &format!("w{w}"));
        got.sort_unstable();
        assert_eq!(got, want, "worker {w} in its own run");
        let mut one = steps(&s, &shared, &format!("one{w}"));
        one.sort_unstable();
        assert_eq!(one, (0..batches as i64).collect::<Vec<_>>());
        for i in 0..batches {
            assert_eq!(
                shared_run.data.params.get(&format!("w{w}_p{i}")),
                Some(&i.to_string())
            );
        }
        assert!(shared_run.data.tags.contains_key(&format!("w{w}_t")));
    }
    check_files(&s, &store);
}

#[test]
fn sigkill_in_a_loop_loses_no_acknowledged_write_and_tears_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let mut srv = server(&store, 0, tmp.path().join("server0.log"));
    let a = srv.addr.clone();
    let port: u16 = a.rsplit(':').next().unwrap().parse().unwrap();
    let exp = post(
        &a,
        "experiments/create",
        serde_json::json!({"name": "crash"}),
    );
    let exp = exp["experiment_id"].as_str().unwrap().to_string();
    let shared = new_run(&a, &exp);
    let own: Vec<String> = (0..8).map(|_| new_run(&a, &exp)).collect();
    let stop = tmp.path().join("stop");
    let acks: Vec<PathBuf> = (0..8).map(|w| tmp.path().join(format!("ack{w}"))).collect();
    let clients: Vec<Child> = (0..8)
        .map(|w| client(&a, &shared, &own[w], w, 0, &acks[w], Some(&stop)))
        .collect();
    // Five kills, each once the clients have made progress since the last (bounded in time).
    let ack_lines = || -> usize {
        acks.iter()
            .map(|p| {
                std::fs::read_to_string(p)
                    .map(|t| t.lines().count())
                    .unwrap_or(0)
            })
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    for round in 1..=5 {
        let seen = ack_lines();
        while ack_lines() < seen + 40 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(srv); // SIGKILL, mid-traffic
        srv = server(&store, port, tmp.path().join(format!("server{round}.log")));
    }
    std::fs::write(&stop, "").unwrap();
    clients.into_iter().for_each(wait_ok);
    drop(srv);

    let s = Store::open(store.to_str().unwrap()).unwrap();
    check_files(&s, &store);
    let mut acked = 0;
    for (w, ack) in acks.iter().enumerate() {
        let key = format!("w{w}");
        let runs = [shared.as_str(), own[w].as_str()];
        let have: Vec<BTreeSet<i64>> = runs
            .iter()
            .map(|r| steps(&s, r, &key).into_iter().collect())
            .collect();
        let one: BTreeSet<i64> = steps(&s, &shared, &format!("one{w}")).into_iter().collect();
        let params = [
            TrackingStore::get_run(&s, &shared).unwrap().data.params,
            TrackingStore::get_run(&s, &own[w]).unwrap().data.params,
        ];
        for line in std::fs::read_to_string(ack).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let run = v["run"].as_str().unwrap();
            let idx = runs.iter().position(|r| *r == run).unwrap();
            if let Some(i) = v["one"].as_i64() {
                assert!(
                    one.contains(&i),
                    "acknowledged log-metric {i} of worker {w} lost"
                );
            } else {
                let i = v["batch"].as_i64().unwrap();
                for step in 10 * i..10 * i + 10 {
                    assert!(
                        have[idx].contains(&step),
                        "acknowledged step {step} of worker {w} lost in {run}"
                    );
                }
                assert_eq!(
                    params[idx].get(&format!("w{w}_p{i}")),
                    Some(&i.to_string()),
                    "acknowledged param of batch {i}, worker {w}"
                );
            }
            acked += 1;
        }
    }
    assert!(acked >= 200, "only {acked} acknowledged writes");
}

#[test]
fn a_truncated_meta_yaml_is_reported_by_name_while_the_rest_works() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let srv = server(&store, 0, tmp.path().join("server.log"));
    let a = srv.addr.clone();
    let exp = post(
        &a,
        "experiments/create",
        serde_json::json!({"name": "damaged"}),
    );
    let exp = exp["experiment_id"].as_str().unwrap().to_string();
    let runs: Vec<String> = (0..3).map(|_| new_run(&a, &exp)).collect();
    let meta = store.join(&exp).join(&runs[1]).join("meta.yaml");
    let text = std::fs::read_to_string(&meta).unwrap();
    std::fs::write(&meta, &text[..text.len() / 3]).unwrap();

    let found = post(
        &a,
        "runs/search",
        serde_json::json!({"experiment_ids": [exp], "max_results": 100}),
    );
    let ids: BTreeSet<&str> = found["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["info"]["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from([runs[0].as_str(), runs[2].as_str()]),
        "{found}"
    );
    let (s, body) = common::post(
        &a,
        "/api/2.0/mlflow/runs/log-metric",
        &serde_json::json!({"run_id": runs[0], "key": "k", "value": 1, "timestamp": 1}).to_string(),
    );
    assert_eq!(s, 200, "{body}");
    let rel = format!("{exp}/{}/meta.yaml", runs[1]);
    let logs = srv.logs();
    assert!(
        logs.contains(&rel),
        "the server log does not name {rel}:\n{logs}"
    );
    let mut get = std::net::TcpStream::connect(&a).unwrap();
    use std::io::{Read, Write};
    write!(
        get,
        "GET /api/2.0/mlflow/runs/get?run_id={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        runs[1]
    )
    .unwrap();
    let mut answer = String::new();
    get.read_to_string(&mut answer).unwrap();
    assert!(answer.contains(&rel), "{answer}");
    assert!(
        !answer.contains(store.to_str().unwrap()),
        "the answer shows the store's location: {answer}"
    );
}
