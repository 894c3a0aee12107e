//! `homeml serve -m models:/iris@champion` follows the alias through a real tracking store while clients
//! send requests without pause: moving the alias (through the homeml-tracking API, as a training job
//! would) swaps the answering version with no failed request, and moving it to a version whose model
//! directory is broken keeps the old version serving, counts the failed load and logs why.
//!
//! server/tests/lifecycle.rs covers reloads by repointing a symlink in-process; this test goes through
//! the registry, the `homeml` binary and its `--reload-interval-s` flag.

use crate::common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use homeml_flavor::{ColumnType, DType, Schema, Signature, TensorSpec};
use homeml_smartcore::smartcore::linalg::basic::matrix::DenseMatrix;
use homeml_smartcore::smartcore::linear::logistic_regression::{
    LogisticRegression, LogisticRegressionParameters,
};
use homeml_smartcore::SmartcoreModel;
use homeml_tracking::{LogModelOptions, RunOptions, RunStatus, Store};

use common::Proc;

const NAME: &str = "iris";
const ALIAS: &str = "champion";
const CLIENTS: usize = 4;
/// How long to wait for the server to notice a move (it polls every second): a bound against a hung
/// test, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);
/// Answers each phase must see before the test moves on, so that every phase is really exercised.
const PER_PHASE: usize = 40;

/// The iris data shipped in `data/iris.csv`: (features row-major, labels).
fn iris() -> (Vec<f64>, Vec<i64>) {
    let text = std::fs::read_to_string(common::root().join("data/iris.csv")).unwrap();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let v: Vec<f64> = line.split(',').map(|f| f.trim().parse().unwrap()).collect();
        assert_eq!(v.len(), 5, "iris row {line:?}");
        x.extend_from_slice(&v[..4]);
        y.push(v[4] as i64);
    }
    (x, y)
}

fn tensor(name: &str, dtype: DType, shape: Vec<i64>) -> TensorSpec {
    TensorSpec {
        name: Some(name.into()),
        dtype,
        dtype_name: dtype.numpy_name().into(),
        shape,
    }
}

/// Trains three iris logistic regressions, logs and registers them as versions 1, 2, 3 of `iris`,
/// breaks version 3's model file, and points `champion` at version 1.
fn make_store(root: &Path) -> Store {
    let store = Store::open(root.to_str().unwrap()).unwrap();
    let exp = store
        .get_or_create_experiment("serve-alias-reload")
        .unwrap();
    let run = store
        .start_run(
            &exp,
            RunOptions {
                name: Some("iris-logreg".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let (x, y) = iris();
    let columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
    let signature = Signature::new(
        Schema::columns(&columns, ColumnType::Double),
        Schema::Tensors(vec![
            tensor("label", DType::I64, vec![-1]),
            tensor("probabilities", DType::F64, vec![-1, 3]),
        ]),
    );
    let scratch = tempfile::tempdir().unwrap();
    for (i, alpha) in [0.0, 1.0, 10.0].into_iter().enumerate() {
        let matrix = DenseMatrix::new(y.len(), 4, x.clone(), false).unwrap();
        let params = LogisticRegressionParameters::default().with_alpha(alpha);
        let fitted = LogisticRegression::fit(&matrix, &y, params).unwrap();
        let dir = scratch.path().join(format!("v{}", i + 1));
        homeml_smartcore::save_model(
            &dir,
            &SmartcoreModel::LogisticRegression(fitted),
            &signature,
            None,
        )
        .unwrap();
        let logged = store
            .log_model(
                run.id(),
                "model",
                &dir,
                LogModelOptions {
                    register_as: Some(NAME.into()),
                },
            )
            .unwrap();
        assert_eq!(logged.registered_version, Some(i as u64 + 1));
        if i == 2 {
            // The registry entry is fine and MLmodel is there (the URI resolves), but the model's
            // data cannot be decoded: the load itself fails.
            std::fs::write(
                logged.artifact_dir.join(homeml_smartcore::DATA_FILE),
                b"not a postcard model",
            )
            .unwrap();
        }
    }
    store.end_run(run.id(), RunStatus::Finished).unwrap();
    store.set_alias(NAME, ALIAS, 1).unwrap();
    store
}

fn start_server(store_root: &Path, log: PathBuf) -> (Proc, SocketAddr) {
    let store_root = store_root.to_str().expect("a UTF-8 temporary path");
    let server = Proc::start(
        &[
            "serve",
            "-m",
            &format!("models:/{NAME}@{ALIAS}"),
            "-h",
            "127.0.0.1",
            "-p",
            "0",
            "--reload-interval-s",
            "1",
            "--tracking-uri",
            store_root,
        ],
        &[("RUST_LOG", "info")],
        log,
    );
    let addr = server
        .addr
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", server.addr));
    (server, addr)
}

async fn connect(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

/// One request on `sender`: (status, body).
async fn request(
    sender: &mut SendRequest<Full<Bytes>>,
    method: &str,
    path: &str,
    body: Bytes,
) -> Result<(u16, Bytes), String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body))
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = connect(addr).await;
    let (status, body) = request(&mut s, "GET", path, Bytes::new()).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// What the clients saw.
#[derive(Default)]
struct Seen {
    /// Answers by (phase when the request was sent, answering version).
    by_phase: BTreeMap<(usize, String), usize>,
    /// Requests that failed, with why.
    failures: Vec<String>,
}

struct Shared {
    phase: AtomicUsize,
    stop: AtomicBool,
    answered: AtomicUsize,
    seen: Mutex<Seen>,
}

/// Sends V2 infer requests on one keep-alive connection until told to stop; records the version that
/// answered each one under the phase it was sent in.
async fn client(addr: SocketAddr, shared: Arc<Shared>, row: [f64; 4]) {
    let names = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
    let inputs: Vec<Value> = names
        .iter()
        .zip(row)
        .map(|(n, v)| json!({"name": n, "shape": [1], "datatype": "FP64", "data": [v]}))
        .collect();
    let body = Bytes::from(json!({ "inputs": inputs }).to_string());
    let path = format!("/v2/models/{NAME}/infer");
    let mut sender = connect(addr).await;
    while !shared.stop.load(Ordering::SeqCst) {
        let phase = shared.phase.load(Ordering::SeqCst);
        let outcome = request(&mut sender, "POST", &path, body.clone()).await;
        let verdict = match &outcome {
            Ok((200, b)) => match serde_json::from_slice::<Value>(b) {
                Ok(v) => check_answer(&v).map_err(|e| format!("{e}: {v}")),
                Err(e) => Err(format!("200 with a body that is not JSON ({e})")),
            },
            Ok((status, b)) => Err(format!("status {status}: {}", String::from_utf8_lossy(b))),
            Err(e) => Err(format!("transport: {e}")),
        };
        let reconnect = outcome.is_err();
        {
            let mut seen = shared.seen.lock().unwrap();
            match verdict {
                Ok(version) => *seen.by_phase.entry((phase, version)).or_default() += 1,
                Err(e) => seen.failures.push(e),
            }
        }
        if reconnect {
            sender = connect(addr).await;
        }
        shared.answered.fetch_add(1, Ordering::SeqCst);
    }
}

/// The answering version of a V2 infer answer, once its outputs are checked: one label in 0..3 and a
/// row of three probabilities summing to one.
fn check_answer(v: &Value) -> Result<String, String> {
    if v["model_name"] != NAME {
        return Err("wrong model_name".into());
    }
    let version = v["model_version"]
        .as_str()
        .ok_or("no model_version")?
        .to_string();
    let outputs = v["outputs"].as_array().ok_or("no outputs")?;
    let output = |name: &str| {
        outputs
            .iter()
            .find(|o| o["name"] == name)
            .and_then(|o| o["data"].as_array())
            .ok_or(format!("no output {name}"))
    };
    let label = output("label")?;
    if label.len() != 1 || !label[0].as_i64().is_some_and(|l| (0..3).contains(&l)) {
        return Err("label is not one class of 0..3".into());
    }
    let probs: Vec<f64> = output("probabilities")?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    if probs.len() != 3 || (probs.iter().sum::<f64>() - 1.0).abs() > 1e-6 {
        return Err("probabilities are not one row of three summing to 1".into());
    }
    Ok(version)
}

/// The counter `homeml_model_loads_total{model="iris",result=...}` from /metrics.
async fn loads(addr: SocketAddr, result: &str) -> u64 {
    let (status, text) = get(addr, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    let key = format!("homeml_model_loads_total{{model=\"{NAME}\",result=\"{result}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /metrics:\n{text}"))
}

/// The version `/v2/models/iris` reports serving.
async fn serving_version(addr: SocketAddr) -> String {
    let (status, text) = get(addr, &format!("/v2/models/{NAME}")).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    v["versions"][0].as_str().unwrap_or_default().to_string()
}

/// Polls `cond` every 50 ms until it holds; panics after [`PATIENCE`] with `what` and the server log.
async fn until<F, Fut>(server: &Proc, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !cond().await {
        assert!(
            start.elapsed() < PATIENCE,
            "timed out waiting for {what}; server log:\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the clients have had `PER_PHASE` more answers.
async fn more_answers(server: &Proc, shared: &Shared) {
    let from = shared.answered.load(Ordering::SeqCst);
    until(server, "more answers from the clients", || async {
        shared.answered.load(Ordering::SeqCst) >= from + PER_PHASE
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alias_moves_swap_versions_under_load_without_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let store_root = tmp.path().join("mlruns");
    let store = make_store(&store_root);
    let (server, addr) = start_server(&store_root, tmp.path().join("serve.log"));
    assert_eq!(serving_version(addr).await, "1");

    let shared = Arc::new(Shared {
        phase: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        answered: AtomicUsize::new(0),
        seen: Mutex::new(Seen::default()),
    });
    let rows = [
        [5.1, 3.5, 1.4, 0.2],
        [6.7, 3.0, 5.2, 2.3],
        [5.9, 3.0, 4.2, 1.5],
        [4.9, 3.1, 1.5, 0.1],
    ];
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| tokio::spawn(client(addr, shared.clone(), rows[i % rows.len()])))
        .collect();

    // Each step: the version the alias moves to, and the versions that may answer while the server
    // has not swapped yet (phase 2k+1) and once it has (phase 2k+2). Phase 0 is the start on v1.
    let mut allowed: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    allowed.insert(0, vec!["1".into()]);
    more_answers(&server, &shared).await;
    let mut phase = 0;
    for (to, swaps) in [(2u64, true), (1, true), (3, false), (2, true)] {
        let before = serving_version(addr).await;
        let failed_before = loads(addr, "error").await;
        phase += 1;
        let mut may_answer = vec![before.clone()];
        if swaps {
            may_answer.push(to.to_string());
        }
        allowed.insert(phase, may_answer);
        shared.phase.store(phase, Ordering::SeqCst);
        store.set_alias(NAME, ALIAS, to).unwrap();
        if swaps {
            until(
                &server,
                &format!("the server to serve version {to}"),
                || async { serving_version(addr).await == to.to_string() },
            )
            .await;
        } else {
            // Two failed attempts: the old version survives the first and the reloader keeps trying.
            until(
                &server,
                &format!("two failed loads of the broken version {to}"),
                || async { loads(addr, "error").await >= failed_before + 2 },
            )
            .await;
            assert_eq!(serving_version(addr).await, before);
        }
        phase += 1;
        allowed.insert(phase, vec![serving_version(addr).await]);
        shared.phase.store(phase, Ordering::SeqCst);
        more_answers(&server, &shared).await;
    }

    shared.stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.await.unwrap();
    }
    let seen = std::mem::take(&mut *shared.seen.lock().unwrap());
    let log = server.logs();
    eprintln!(
        "answers by (phase, version): {:?}; failures: {}",
        seen.by_phase,
        seen.failures.len()
    );
    assert!(
        seen.failures.is_empty(),
        "{} failed requests, first: {:?}\nserver log:\n{log}",
        seen.failures.len(),
        seen.failures.first()
    );
    for ((phase, version), n) in &seen.by_phase {
        assert!(
            allowed[phase].contains(version),
            "phase {phase}: {n} answers from version {version}, allowed {:?}; all: {:?}",
            allowed[phase],
            seen.by_phase
        );
    }
    // Every settled phase was answered, by the version it expects: 1, 2, 1, 1 (broken 3 refused), 2.
    for (phase, version) in [(0, "1"), (2, "2"), (4, "1"), (6, "1"), (8, "2")] {
        assert_eq!(allowed[&phase], vec![version.to_string()], "phase {phase}");
        let n = seen
            .by_phase
            .get(&(phase, version.to_string()))
            .copied()
            .unwrap_or(0);
        assert!(n > 0, "no answers in phase {phase}: {:?}", seen.by_phase);
    }
    // The start plus three swaps loaded; the broken version never did.
    assert_eq!(loads(addr, "ok").await, 4, "server log:\n{log}");
    assert!(
        log.contains("reload failed; the current version keeps serving"),
        "the failed reload is not logged:\n{log}"
    );
    assert!(
        log.contains(homeml_smartcore::DATA_FILE) || log.contains("postcard"),
        "the log does not say why the reload failed:\n{log}"
    );
    drop(server);
}
