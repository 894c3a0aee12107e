//! End to end: `homeml gateway` in front of two real `homeml serve` processes on loopback.
//!
//! `homeml quickstart --no-serve` trains the example models into a temporary store; server A serves
//! `iris-classifier` (smartcore logistic regression), server B serves `iris-random-forest` and
//! `iris-linfa`. The gateway (the `homeml` binary, `homeml gateway --config`) runs three apps in front of
//! them: `iris` (one upstream, reached through a recording TCP tap so the wire can be inspected),
//! `iris-ab` (A/B 3:1 between A and B, sticky per `x-user`, `iris-linfa` on B as a shadow over the
//! MLflow protocol) and `iris-keyed` (API keys and a rate limit). Everything is real HTTP; faults that
//! need a stub (hung or failing upstreams) are tested in `gateway/tests/gateway.rs`.

use crate::common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{json, Value};

use common::Proc;

const HOMEML: &str = env!("CARGO_BIN_EXE_homeml");
const SPECIES: [&str; 3] = ["setosa", "versicolor", "virginica"];
const FEATURES: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

// ---- processes -------------------------------------------------------------------------------

/// The store with the quickstart models, trained once for all tests of this file.
fn store() -> &'static Path {
    static STORE: OnceLock<tempfile::TempDir> = OnceLock::new();
    STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            common::run_ok(
                Command::new(HOMEML)
                    .args([
                        "quickstart",
                        "--no-serve",
                        "--n-trees",
                        "8",
                        "--tracking-uri",
                    ])
                    .arg(dir.path().join("mlruns")),
            );
            dir
        })
        .path()
}

// ---- HTTP over loopback ----------------------------------------------------------------------

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 exchange on a fresh connection (`Connection: close`).
fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).expect("UTF-8 answer");
    let (head, rest) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {raw:?}"));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

fn post(addr: &str, path: &str, headers: &[(&str, &str)], body: &Value) -> Resp {
    http(addr, "POST", path, headers, &body.to_string())
}

fn get(addr: &str, path: &str) -> Resp {
    http(addr, "GET", path, &[], "")
}

/// The value of one Prometheus series (`name{labels}`), if present.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l[series.len()..].trim().parse().ok())
}

/// The sum of every series whose line starts with `prefix`.
fn metric_sum(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Requests the model server ran for `model` (the batcher's count; metadata calls are not in it).
fn model_requests(server: &str, model: &str) -> f64 {
    metric_sum(
        &get(server, "/metrics").body,
        &format!("homeml_batch_requests_sum{{model=\"{model}\"}}"),
    )
}

/// Polls `cond` every 50 ms for at most 20 s.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..400 {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

// ---- a recording TCP tap ---------------------------------------------------------------------

/// Forwards every connection to `target` and records the bytes of both directions.
struct Tap {
    addr: String,
    to_upstream: Arc<Mutex<Vec<u8>>>,
    from_upstream: Arc<Mutex<Vec<u8>>>,
    connections: Arc<AtomicUsize>,
}

impl Tap {
    fn start(target: &str) -> Tap {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let to_upstream = Arc::new(Mutex::new(Vec::new()));
        let from_upstream = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (up_rec, down_rec, count) = (
            to_upstream.clone(),
            from_upstream.clone(),
            connections.clone(),
        );
        let target = target.to_string();
        // The accept loop lives as long as the test process (a thread, not a process).
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (up, down) = (up_rec.clone(), down_rec.clone());
                std::thread::spawn(move || pipe(client, server, up));
                std::thread::spawn(move || pipe(s2, c2, down));
            }
        });
        Tap {
            addr,
            to_upstream,
            from_upstream,
            connections,
        }
    }

    fn sent(&self) -> String {
        String::from_utf8_lossy(&self.to_upstream.lock().unwrap()).into_owned()
    }

    fn received(&self) -> String {
        String::from_utf8_lossy(&self.from_upstream.lock().unwrap()).into_owned()
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, record: Arc<Mutex<Vec<u8>>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                record.lock().unwrap().extend_from_slice(&buf[..n]);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

// ---- the setup -------------------------------------------------------------------------------

struct Setup {
    dir: tempfile::TempDir,
    a: Proc,
    b: Proc,
    tap: Tap,
    gw: Proc,
}

const KEYS_FILE: &str = "keys.toml";

fn sha256_hex(key: &str) -> String {
    homeml_gateway::auth::hash_key_hex(key)
}

fn features_toml() -> String {
    FEATURES
        .iter()
        .map(|f| {
            format!("[[apps.features]]\nname = \"{f}\"\ntype = \"float\"\nmin = 0.0\nmax = 30.0\n")
        })
        .collect()
}

fn app_toml(name: &str, extra: &str) -> String {
    format!(
        "[[apps]]\nname = \"{name}\"\n{extra}\n{}\
         [apps.input]\ndatatype = \"FP64\"\n\
         [apps.output]\nlabels = {SPECIES:?}\nlabel_output = \"label\"\nprobabilities_output = \"probabilities\"\n",
        features_toml()
    )
}

fn upstream_toml(name: &str, url: &str, model: &str, extra: &str) -> String {
    format!(
        "[[apps.upstreams]]\nname = \"{name}\"\nurl = \"http://{url}\"\nprotocol = \"v2\"\nmodel = \"{model}\"\ntimeout_ms = 10000\n{extra}\n"
    )
}

fn setup() -> Setup {
    let store = store().join("mlruns");
    let store = store.to_str().expect("UTF-8 temp path");
    let dir = tempfile::tempdir().unwrap();
    let a = Proc::start(
        &[
            "serve",
            "-m",
            "models:/iris-classifier/1",
            "-p",
            "0",
            "--tracking-uri",
            store,
        ],
        &[],
        dir.path().join("serve-a.log"),
    );
    let b_cfg = dir.path().join("serve-b.toml");
    std::fs::write(
        &b_cfg,
        format!(
            "host = \"127.0.0.1\"\nport = 0\ntracking_uri = \"{store}\"\n\n\
             [[models]]\nname = \"iris-random-forest\"\nuri = \"models:/iris-random-forest/1\"\n\n\
             [[models]]\nname = \"iris-linfa\"\nuri = \"models:/iris-linfa/1\"\n"
        ),
    )
    .unwrap();
    let b = Proc::start(
        &["serve", "--config", b_cfg.to_str().unwrap()],
        &[],
        dir.path().join("serve-b.log"),
    );
    let tap = Tap::start(&a.addr);

    // Keys: alice from the environment (hashed at load), bob and carol hashed in a keys file.
    std::fs::write(
        dir.path().join(KEYS_FILE),
        format!(
            "[[keys]]\nname = \"bob\"\nsha256 = \"{}\"\napps = [\"iris\"]\n\n\
             [[keys]]\nname = \"carol\"\nsha256 = \"{}\"\napps = [\"*\"]\nrate_limit = {{ requests_per_second = 0.01, burst = 2 }}\n",
            sha256_hex("bob-secret"),
            sha256_hex("carol-secret"),
        ),
    )
    .unwrap();
    let config = format!(
        "[server]\nmax_batch_rows = 64\n\n\
         [auth]\nheader = \"x-api-key\"\nkeys_file = \"{KEYS_FILE}\"\n\
         [[auth.keys]]\nname = \"alice\"\nenv = \"HOMEML_TEST_GATEWAY_KEY_ALICE\"\napps = [\"iris-keyed\"]\n\n\
         {}{}\n\
         {}{}{}\
         [apps.shadow]\nname = \"linfa-candidate\"\nurl = \"http://{}/models/iris-linfa\"\nprotocol = \"mlflow\"\ntimeout_ms = 10000\n\n\
         {}{}",
        app_toml("iris", "auth = false"),
        upstream_toml("a-tapped", &tap.addr, "iris-classifier", ""),
        app_toml("iris-ab", "auth = false\nsticky_header = \"x-user\""),
        upstream_toml("a", &a.addr, "iris-classifier", "weight = 3"),
        upstream_toml("b", &b.addr, "iris-random-forest", "weight = 1"),
        b.addr,
        app_toml("iris-keyed", ""),
        upstream_toml("a-keyed", &a.addr, "iris-classifier", ""),
    );
    let cfg_path = dir.path().join("gateway.toml");
    std::fs::write(&cfg_path, config).unwrap();
    let gw = Proc::start(
        &["gateway", "--config", cfg_path.to_str().unwrap(), "-p", "0"],
        &[("HOMEML_TEST_GATEWAY_KEY_ALICE", "alice-secret")],
        dir.path().join("gateway.log"),
    );
    Setup { dir, a, b, tap, gw }
}

/// Iris-like rows spread over the feature ranges (a fixed LCG, so every run sends the same rows).
fn rows(n: usize) -> Vec<[f64; 4]> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |lo: f64, hi: f64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let u = (state >> 11) as f64 / (1u64 << 53) as f64;
        // Two decimals, as measured flowers are written.
        ((lo + u * (hi - lo)) * 100.0).round() / 100.0
    };
    (0..n)
        .map(|_| {
            [
                next(4.3, 7.9),
                next(2.0, 4.4),
                next(1.0, 6.9),
                next(0.1, 2.5),
            ]
        })
        .collect()
}

fn named(row: &[f64; 4]) -> Value {
    let mut m = serde_json::Map::new();
    for (f, x) in FEATURES.iter().zip(row) {
        m.insert(f.to_string(), json!(x));
    }
    Value::Object(m)
}

/// Calls `model` on server `addr` directly over KServe V2: (labels, probabilities per row).
fn direct_v2(addr: &str, model: &str, rows: &[[f64; 4]]) -> (Vec<&'static str>, Vec<Vec<f64>>) {
    let data: Vec<f64> = rows.iter().flatten().copied().collect();
    let body = json!({"inputs": [{"name": "input", "shape": [rows.len(), 4], "datatype": "FP64", "data": data}]});
    let r = post(addr, &format!("/v2/models/{model}/infer"), &[], &body);
    assert_eq!(r.status, 200, "{model} directly: {}", r.body);
    let v = r.json();
    let out = |name: &str| -> Option<Vec<f64>> {
        let data = v["outputs"]
            .as_array()?
            .iter()
            .find(|o| o["name"] == name)?["data"]
            .as_array()?;
        Some(data.iter().map(|x| x.as_f64().expect("a number")).collect())
    };
    let labels = out("label")
        .unwrap_or_else(|| panic!("no label output in {v}"))
        .into_iter()
        .map(|i| SPECIES[i as usize])
        .collect();
    // The random forest has no probabilities output.
    let probs = out("probabilities")
        .unwrap_or_default()
        .chunks(3)
        .map(<[f64]>::to_vec)
        .collect();
    (labels, probs)
}

fn probabilities_of(pred: &Value) -> Vec<f64> {
    SPECIES
        .iter()
        .map(|s| {
            pred["probabilities"][s]
                .as_f64()
                .unwrap_or_else(|| panic!("no probability of {s} in {pred}"))
        })
        .collect()
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-9)
}

// ---- the tests -------------------------------------------------------------------------------

#[test]
fn named_features_answer_what_the_server_answers() {
    let s = setup();
    let gw = s.gw.addr.as_str();
    let rows = rows(40);
    let (want, want_probs) = direct_v2(&s.a.addr, "iris-classifier", &rows);
    assert!(
        SPECIES.iter().all(|sp| want.contains(sp)),
        "the rows should reach every class: {want:?}"
    );

    // One object per request.
    for (i, row) in rows.iter().enumerate() {
        let rid = format!("e2e-{i}");
        let r = post(
            gw,
            "/apps/iris/predict?probabilities=true",
            &[("x-request-id", &rid)],
            &named(row),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        assert_eq!(v["label"], want[i], "row {i} {row:?}");
        assert!(
            close(&probabilities_of(&v), &want_probs[i]),
            "row {i}: {v} vs {:?}",
            want_probs[i]
        );
        assert_eq!(
            v["model"],
            json!({"name": "iris-classifier", "version": "1"})
        );
        assert_eq!(v["upstream"], "a-tapped");
        assert_eq!(v["request_id"], rid.as_str());
        assert_eq!(r.header("x-request-id"), Some(rid.as_str()));
    }

    // Without ?probabilities only the label.
    let r = post(gw, "/apps/iris/predict", &[], &named(&rows[0]));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json().get("probabilities").is_none(), "{}", r.body);

    // A batch: one list, the answers in order.
    let batch = Value::Array(rows.iter().map(named).collect());
    let r = post(
        gw,
        "/apps/iris/predict?probabilities=1",
        &[("x-request-id", "e2e-batch")],
        &batch,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let preds = v["predictions"].as_array().expect("predictions");
    assert_eq!(preds.len(), rows.len());
    for (i, p) in preds.iter().enumerate() {
        assert_eq!(p["label"], want[i], "batch row {i}");
        assert!(close(&probabilities_of(p), &want_probs[i]), "batch row {i}");
    }
    assert_eq!(v["model"]["name"], "iris-classifier");

    // The request id reached the real server: the V2 body and header the gateway sent, and the
    // server's answer echoing the id (homeml serve logs no request ids, so the wire is the evidence).
    let sent = s.tap.sent();
    assert!(sent.contains("x-request-id: e2e-7\r\n"), "{sent}");
    assert!(sent.contains("\"id\":\"e2e-batch\""), "{sent}");
    let received = s.tap.received();
    assert!(received.contains("\"id\":\"e2e-7\""), "{received}");
    assert!(received.contains("\"id\":\"e2e-batch\""), "{received}");
    let requests_sent = sent
        .matches("POST /v2/models/iris-classifier/infer")
        .count();
    assert_eq!(requests_sent, rows.len() + 2, "{sent}");
    // Pooled keep-alive: the 42 sequential calls (and the metadata call) shared a connection or two.
    let conns = s.tap.connections.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&conns),
        "{conns} upstream connections for {requests_sent} calls"
    );
}

#[test]
fn invalid_features_are_422_naming_the_field_and_never_reach_the_model() {
    let s = setup();
    let gw = s.gw.addr.as_str();
    let before = model_requests(&s.a.addr, "iris-classifier");
    let good = named(&[5.1, 3.5, 1.4, 0.2]);
    let with = |k: &str, v: Value| {
        let mut o = good.clone();
        o[k] = v;
        o
    };
    let without = |k: &str| {
        let mut o = good.clone();
        o.as_object_mut().unwrap().remove(k);
        o
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (with("colour", json!("red")), "colour", "unknown"),
        (without("petal_width"), "petal_width", "missing"),
        (with("sepal_length", json!("5.1")), "sepal_length", "number"),
        (with("petal_length", json!(true)), "petal_length", "number"),
        (with("sepal_width", json!(null)), "sepal_width", ""),
        (with("sepal_width", json!(30.5)), "sepal_width", "maximum"),
        (with("petal_width", json!(-0.1)), "petal_width", "minimum"),
        (
            json!([good.clone(), without("sepal_width")]),
            "[1].sepal_width",
            "missing",
        ),
        (
            json!([good.clone(), good.clone(), with("x", json!(1))]),
            "[2].x",
            "unknown",
        ),
        (json!("setosa"), "$", "expected"),
        (json!([]), "$", "empty"),
        (Value::Array(vec![good.clone(); 65]), "$", "64"),
    ];
    for (body, field, msg) in &cases {
        let r = post(gw, "/apps/iris/predict", &[], body);
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        let v = r.json();
        assert_eq!(v["error"]["code"], "validation_error", "{body}: {v}");
        assert_eq!(v["error"]["field"], *field, "{body}: {v}");
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(msg), "{body}: {v}");
    }
    let r = http(
        gw,
        "POST",
        "/apps/iris/predict",
        &[],
        "{\"sepal_length\": 5.1,",
    );
    assert_eq!(r.status, 400, "{}", r.body);
    // The same request, valid, does reach it.
    let r = post(gw, "/apps/iris/predict", &[], &good);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["label"], "setosa");
    let after = model_requests(&s.a.addr, "iris-classifier");
    assert_eq!(
        after - before,
        1.0,
        "only the valid request may reach the model server"
    );
    let m = get(gw, "/metrics").body;
    assert_eq!(
        metric(
            &m,
            "homeml_gateway_requests_total{app=\"iris\",upstream=\"none\",status=\"422\"}"
        ),
        Some(cases.len() as f64),
        "{m}"
    );
}

#[test]
fn ab_split_sticky_users_and_a_shadow_that_is_never_returned() {
    let s = setup();
    let gw = s.gw.addr.as_str();
    let probe = rows(8);
    let (a_labels, _) = direct_v2(&s.a.addr, "iris-classifier", &probe);
    let (b_labels, _) = direct_v2(&s.b.addr, "iris-random-forest", &probe);
    let b_before = model_requests(&s.b.addr, "iris-random-forest");

    // Weighted split 3:1 between A and B.
    let n: u32 = 600;
    let mut to_b = 0;
    for i in 0..n {
        let k = i as usize % probe.len();
        let r = post(gw, "/apps/iris-ab/predict", &[], &named(&probe[k]));
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        assert!(
            !r.body.contains("linfa"),
            "the shadow's answer leaked: {}",
            r.body
        );
        match v["upstream"].as_str() {
            Some("a") => {
                assert_eq!(
                    v["model"],
                    json!({"name": "iris-classifier", "version": "1"})
                );
                assert_eq!(v["label"], a_labels[k]);
            }
            Some("b") => {
                assert_eq!(
                    v["model"],
                    json!({"name": "iris-random-forest", "version": "1"})
                );
                assert_eq!(v["label"], b_labels[k]);
                to_b += 1;
            }
            other => panic!("unexpected upstream {other:?}: {v}"),
        }
    }
    let share = f64::from(to_b) / f64::from(n);
    // Expected 0.25; 5 standard deviations of binomial(600, 0.25) / 600 is ~0.088.
    assert!((share - 0.25).abs() < 0.088, "share of b: {share}");

    // The servers' own counters agree with what the gateway said.
    assert_eq!(
        model_requests(&s.b.addr, "iris-random-forest") - b_before,
        f64::from(to_b)
    );

    // The shadow got a copy of every request, on the real server B (MLflow protocol), and each
    // comparison was counted; none of its answers was returned (checked above).
    assert!(
        eventually(|| {
            metric_sum(
                &get(&s.b.addr, "/metrics").body,
                "homeml_requests_total{model=\"iris-linfa\",protocol=\"mlflow\",status=\"200\"",
            ) == f64::from(n)
        }),
        "server B's iris-linfa did not get {n} shadow calls:\n{}\ngateway log:\n{}",
        get(&s.b.addr, "/metrics").body,
        s.gw.logs()
    );
    assert!(eventually(|| metric(
        &get(gw, "/metrics").body,
        "homeml_gateway_shadow_requests_total{app=\"iris-ab\"}"
    ) == Some(f64::from(n))));
    let m = get(gw, "/metrics").body;
    assert_eq!(
        metric(&m, "homeml_gateway_shadow_errors_total{app=\"iris-ab\"}").unwrap_or(0.0),
        0.0,
        "{m}"
    );

    // Sticky: the same x-user always lands on the same upstream; users spread over both.
    let mut on_b = 0;
    for user in 0..40 {
        let u = format!("user-{user}");
        let mut seen = std::collections::BTreeSet::new();
        for row in &probe[..4] {
            let r = post(gw, "/apps/iris-ab/predict", &[("x-user", &u)], &named(row));
            assert_eq!(r.status, 200, "{}", r.body);
            seen.insert(r.json()["upstream"].as_str().unwrap_or("?").to_string());
        }
        assert_eq!(seen.len(), 1, "{u} moved between upstreams: {seen:?}");
        if seen.contains("b") {
            on_b += 1;
        }
    }
    assert!(
        (1..40).contains(&on_b),
        "sticky users should spread over both upstreams, {on_b} of 40 on b"
    );
}

#[test]
fn api_keys_and_rate_limits() {
    let s = setup();
    let gw = s.gw.addr.as_str();
    let path = "/apps/iris-keyed/predict";
    let body = named(&[6.7, 3.1, 5.6, 2.4]);

    let missing = post(gw, path, &[], &body);
    let wrong = post(gw, path, &[("x-api-key", "alice-secreT")], &body);
    assert_eq!(missing.status, 401, "{}", missing.body);
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert_eq!(
        missing.body, wrong.body,
        "a 401 must not tell a missing key from a wrong one"
    );
    // bob's key is valid but not for this app.
    let forbidden = post(gw, path, &[("x-api-key", "bob-secret")], &body);
    assert_eq!(forbidden.status, 403, "{}", forbidden.body);
    for r in [&missing, &forbidden] {
        assert!(
            !r.body.contains("alice") && !r.body.contains("bob") && !r.body.contains("secret"),
            "{}",
            r.body
        );
    }
    // alice's key came from the environment of the gateway process.
    let ok = post(gw, path, &[("x-api-key", "alice-secret")], &body);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["label"], "virginica");

    // carol: a burst of 2, then 429 with Retry-After; alice is not limited by carol's bucket.
    for _ in 0..2 {
        let r = post(gw, path, &[("x-api-key", "carol-secret")], &body);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = post(gw, path, &[("x-api-key", "carol-secret")], &body);
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "rate_limited");
    let after: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After in {:?}", r.headers));
    assert!(after >= 1);
    let r = post(gw, path, &[("x-api-key", "alice-secret")], &body);
    assert_eq!(r.status, 200, "{}", r.body);

    // Only the 4 admitted requests reached the model server.
    assert_eq!(model_requests(&s.a.addr, "iris-classifier"), 4.0);
    // An app with auth = false needs no key.
    assert_eq!(post(gw, "/apps/iris/predict", &[], &body).status, 200);
}

#[test]
fn openapi_health_and_metrics() {
    let s = setup();
    let gw = s.gw.addr.as_str();
    let r = get(gw, "/health");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");

    let r = get(gw, "/openapi.json");
    assert_eq!(r.status, 200);
    let doc = r.json();
    for app in ["iris", "iris-ab", "iris-keyed"] {
        let route = format!("/apps/{app}/predict");
        assert!(doc["paths"][&route]["post"].is_object(), "no {route}");
    }
    assert!(doc["paths"]["/apps/iris/predict"]["post"]
        .get("security")
        .is_none());
    assert!(doc["paths"]["/apps/iris-keyed/predict"]["post"]["security"].is_array());
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let iris = schemas
        .iter()
        .find(|(k, _)| k.starts_with("iris") && k.ends_with("features"))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no iris features schema in {schemas:?}"));
    for f in FEATURES {
        assert_eq!(iris["properties"][f]["type"], "number", "{iris}");
        assert_eq!(iris["properties"][f]["maximum"], 30.0, "{iris}");
    }
    let file = s.dir.path().join("openapi.json");
    std::fs::write(&file, &r.body).unwrap();
    common::run_ok(
        Command::new(common::python())
            .args(["-m", "openapi_spec_validator"])
            .arg(&file),
    );
    let docs = get(gw, "/docs");
    assert_eq!(docs.status, 200);
    assert!(docs.body.contains("/apps/iris-keyed/predict"));

    // Metrics count what was sent: 3 answered, 1 refused.
    for _ in 0..3 {
        assert_eq!(
            post(gw, "/apps/iris/predict", &[], &named(&[5.0, 3.0, 1.5, 0.2])).status,
            200
        );
    }
    assert_eq!(
        post(gw, "/apps/iris/predict", &[], &json!({"sepal_length": 99})).status,
        422
    );
    let m = get(gw, "/metrics");
    assert_eq!(m.status, 200);
    assert!(m
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/plain"));
    let m = m.body;
    assert_eq!(
        metric(
            &m,
            "homeml_gateway_requests_total{app=\"iris\",upstream=\"a-tapped\",status=\"200\"}"
        ),
        Some(3.0),
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            "homeml_gateway_request_duration_seconds_count{app=\"iris\"}"
        ),
        Some(4.0),
        "{m}"
    );
    assert!(
        metric_sum(
            &m,
            "homeml_gateway_upstream_duration_seconds_count{upstream=\"a-tapped\""
        ) >= 3.0,
        "{m}"
    );
    // The gateway's structured logs name each request.
    assert!(
        eventually(|| s.gw.logs().matches("predict").count() >= 4),
        "{}",
        s.gw.logs()
    );
    drop(s.b);
}
