//! Integration tests: the load tester against small hyper servers on 127.0.0.1:0.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use homeml_loadtest::{run, BodySpec, Config, Mode, Protocol, Report, Target, REPORT_SCHEMA};

/// What the test server does with its n-th request (0-based, counted over all connections).
type Behaviour = Arc<dyn Fn(u64, &Request<Bytes>) -> (StatusCode, Option<Duration>) + Send + Sync>;

struct TestServer {
    addr: SocketAddr,
    seen: Arc<AtomicU64>,
    bodies: Arc<std::sync::Mutex<Vec<Bytes>>>,
}

/// Starts a hyper server on a free loopback port, running on the test's runtime.
async fn start(behaviour: Behaviour) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (seen2, bodies2) = (seen.clone(), bodies.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (seen, bodies, behaviour) = (seen2.clone(), bodies2.clone(), behaviour.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let (seen, bodies, behaviour) =
                        (seen.clone(), bodies.clone(), behaviour.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let req = Request::from_parts(parts, body.clone());
                        let n = seen.fetch_add(1, Ordering::SeqCst);
                        {
                            let mut b = bodies.lock().unwrap();
                            if b.len() < 8 {
                                b.push(body);
                            }
                        }
                        let (status, stall) = behaviour(n, &req);
                        if let Some(d) = stall {
                            tokio::time::sleep(d).await;
                        }
                        let mut resp =
                            Response::new(Full::new(Bytes::from_static(b"{\"predictions\": [0]}")));
                        *resp.status_mut() = status;
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    TestServer { addr, seen, bodies }
}

fn config(addr: SocketAddr, path: &str) -> Config {
    let mut c = Config::new(Target::parse(&format!("http://{addr}{path}")).unwrap());
    c.duration = None;
    c.timeout = Duration::from_secs(20);
    c
}

fn ok_always() -> Behaviour {
    Arc::new(|_, _| (StatusCode::OK, None))
}

#[tokio::test]
async fn closed_loop_counts_and_alternating_statuses() {
    let server = start(Arc::new(|n, _| {
        if n % 2 == 0 {
            (StatusCode::OK, None)
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, None)
        }
    }))
    .await;
    let mut c = config(server.addr, "/invocations");
    c.connections = 1;
    c.max_requests = Some(200);
    c.body = BodySpec::Generated {
        rows: 2,
        features: 4,
        protocol: Protocol::Mlflow,
        input_name: "input".into(),
        seed: 3,
    };
    let r = run(c).await.unwrap();
    assert_eq!(r.requests, 200);
    assert_eq!(r.ok, 100);
    assert_eq!(r.status.get("200"), Some(&100));
    assert_eq!(r.status.get("503"), Some(&100));
    assert_eq!(r.errors.total(), 0);
    assert_eq!(r.failed(), 100);
    assert_eq!(r.mode, "closed");
    assert_eq!(r.method, "POST");
    assert_eq!(r.rows_per_request, 2);
    assert_eq!(server.seen.load(Ordering::SeqCst), 200);
    assert!(r.req_per_s > 0.0);
    assert!((r.rows_per_s - r.req_per_s).abs() < 1e-6 * r.req_per_s.max(1.0));
    // The bodies the server saw are the generated JSON.
    let seen = server.bodies.lock().unwrap().clone();
    let v: serde_json::Value = serde_json::from_slice(&seen[0]).unwrap();
    assert_eq!(v["inputs"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn many_connections_share_the_request_bound_and_send_headers() {
    let server = start(Arc::new(|_, req| {
        let good = req.headers().get("x-token").is_some_and(|v| v == "abc")
            && req.headers().get("host").is_some()
            && req
                .headers()
                .get("content-type")
                .is_some_and(|v| v == "application/json");
        if good {
            (StatusCode::OK, None)
        } else {
            (StatusCode::BAD_REQUEST, None)
        }
    }))
    .await;
    let mut c = config(server.addr, "/v2/models/m/infer");
    c.connections = 8;
    c.max_requests = Some(333);
    c.headers
        .push(homeml_loadtest::config::parse_header("X-Token: abc").unwrap());
    c.body = BodySpec::Generated {
        rows: 1,
        features: 4,
        protocol: Protocol::V2,
        input_name: "float_input".into(),
        seed: 1,
    };
    let r = run(c).await.unwrap();
    assert_eq!(r.requests, 333);
    assert_eq!(r.ok, 333, "{:?}", r.status);
    assert_eq!(server.seen.load(Ordering::SeqCst), 333);
    let seen = server.bodies.lock().unwrap().clone();
    let v: serde_json::Value = serde_json::from_slice(&seen[0]).unwrap();
    assert_eq!(v["inputs"][0]["name"], "float_input");
}

#[tokio::test]
async fn warmup_requests_are_not_recorded() {
    let server = start(ok_always()).await;
    let mut c = config(server.addr, "/");
    c.max_requests = Some(50);
    c.warmup = Duration::from_millis(200);
    let r = run(c).await.unwrap();
    assert_eq!(r.requests, 50);
    assert_eq!(r.method, "GET");
    // The server saw the warm-up requests too (at least one; the loop is closed).
    assert!(server.seen.load(Ordering::SeqCst) > 50);
}

#[tokio::test]
async fn duration_bound_stops_the_run() {
    let server = start(ok_always()).await;
    let mut c = config(server.addr, "/");
    c.connections = 2;
    c.duration = Some(Duration::from_millis(300));
    let r = run(c).await.unwrap();
    assert!(r.requests > 0);
    assert_eq!(r.requests, server.seen.load(Ordering::SeqCst));
    assert!(r.duration_s > 0.0);
}

#[tokio::test]
async fn open_loop_charges_a_stall_to_every_delayed_request() {
    // The first request stalls 500 ms; the rest answer at once.
    let stall = Duration::from_millis(500);
    let server = start(Arc::new(move |n, _| {
        (StatusCode::OK, (n == 0).then_some(stall))
    }))
    .await;
    // One connection, 200 req/s: requests are due every 5 ms, so the ~100 requests due during the
    // stall go out late, and open-loop latency (from the intended send time) must show that.
    let mut c = config(server.addr, "/");
    c.connections = 1;
    c.mode = Mode::Open { rate: 200.0 };
    c.max_requests = Some(150);
    let r = run(c.clone()).await.unwrap();
    assert_eq!(r.requests, 150);
    assert_eq!(r.mode, "open");
    assert_eq!(r.rate, Some(200.0));
    assert_eq!(r.missed, 0);
    assert!(r.latency_ms.max >= 500.0, "max {}", r.latency_ms.max);
    // Request k is due at k*5 ms but cannot finish before the stall ends at 500 ms, so the 50
    // requests k < 50 have latencies of at least 250 ms: the top third of the 150. The curve must
    // therefore reach 250 ms by its 68.4th percentile point.
    let slow = r
        .percentiles
        .iter()
        .filter(|p| p.latency_ms >= 250.0)
        .map(|p| p.percentile)
        .fold(100.0f64, f64::min);
    assert!(
        slow <= 70.0,
        "latency >= 250 ms from percentile {slow} on: {:?}",
        r.percentiles
    );

    // Closed loop against the same stall: the stalled request itself is still measured in full.
    let server = start(Arc::new(move |n, _| {
        (StatusCode::OK, (n == 0).then_some(stall))
    }))
    .await;
    let mut c = config(server.addr, "/");
    c.connections = 1;
    c.max_requests = Some(150);
    let closed = run(c).await.unwrap();
    assert_eq!(closed.requests, 150);
    assert!(closed.latency_ms.max >= 500.0);
}

#[tokio::test]
async fn open_loop_duration_sends_the_scheduled_count() {
    let server = start(ok_always()).await;
    let mut c = config(server.addr, "/");
    c.connections = 4;
    c.mode = Mode::Open { rate: 400.0 };
    c.duration = Some(Duration::from_millis(500));
    let r = run(c).await.unwrap();
    // 4 connections x 50 sends each (every 10 ms over 500 ms), all sent even if some are late.
    assert_eq!(r.requests + r.missed + r.errors.total(), 200, "{r:?}");
    assert_eq!(r.errors.total(), 0);
}

#[tokio::test]
async fn timeouts_and_connect_errors_are_counted() {
    let server = start(Arc::new(|n, _| {
        (StatusCode::OK, (n == 1).then_some(Duration::from_secs(5)))
    }))
    .await;
    let mut c = config(server.addr, "/");
    c.max_requests = Some(5);
    c.timeout = Duration::from_millis(200);
    let r = run(c).await.unwrap();
    assert_eq!(r.errors.timeout, 1, "{r:?}");
    assert_eq!(r.requests, 4);

    // Nobody listens on this port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut c = config(SocketAddr::from(([127, 0, 0, 1], port)), "/");
    c.max_requests = Some(3);
    let r = run(c).await.unwrap();
    assert_eq!(r.errors.connect, 3);
    assert_eq!(r.requests, 0);
    assert_eq!(r.latency_ms.max, 0.0);
}

#[tokio::test]
async fn binary_writes_json_report_and_svg() {
    let server = start(ok_always()).await;
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let svg = dir.path().join("r.svg");
    let body = dir.path().join("body.json");
    std::fs::write(&body, br#"{"inputs": [[5.1, 3.5, 1.4, 0.2]]}"#).unwrap();
    let url = format!("http://{}/invocations", server.addr);
    let out = tokio::task::spawn_blocking({
        let (json, svg, body) = (json.clone(), svg.clone(), body.clone());
        move || {
            Command::new(env!("CARGO_BIN_EXE_homeml-loadtest"))
                .args([
                    "-c",
                    "2",
                    "-n",
                    "100",
                    "--warmup",
                    "0s",
                    "-q",
                    "--label",
                    "test <&> server",
                ])
                .arg("--body-file")
                .arg(&body)
                .arg("--json-out")
                .arg(&json)
                .arg("--svg-out")
                .arg(&svg)
                .arg(&url)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("req/s"), "{stdout}");

    // JSON schema.
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["schema"], REPORT_SCHEMA);
    assert_eq!(v["label"], "test <&> server");
    assert_eq!(v["requests"], 100);
    assert_eq!(v["ok"], 100);
    assert_eq!(v["status"]["200"], 100);
    assert_eq!(v["connections"], 2);
    assert_eq!(v["mode"], "closed");
    assert!(v["rate"].is_null());
    for key in ["req_per_s", "rows_per_s", "duration_s", "warmup_s"] {
        assert!(v[key].is_number(), "{key}");
    }
    for key in ["min", "mean", "stdev", "p50", "p90", "p99", "p999", "max"] {
        assert!(v["latency_ms"][key].as_f64().unwrap() >= 0.0, "{key}");
    }
    for key in ["connect", "timeout", "io"] {
        assert_eq!(v["errors"][key], 0, "{key}");
    }
    let points = v["percentiles"].as_array().unwrap();
    assert!(points.len() >= 3);
    assert!(points[0]["percentile"].is_number() && points[0]["latency_ms"].is_number());
    let report: Report = serde_json::from_value(v).unwrap();
    assert_eq!(report.ok, 100);

    // SVG: well-formed XML, an <svg> root with a curve path, the label escaped.
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let path = doc
        .descendants()
        .find(|n| n.has_tag_name("path"))
        .expect("a path element");
    assert!(path.attribute("d").unwrap().starts_with('M'));
    assert!(doc
        .descendants()
        .any(|n| n.text() == Some("test <&> server")));

    // plot and table subcommands over the report.
    let plot = dir.path().join("all.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_homeml-loadtest"))
        .arg("plot")
        .arg("--out")
        .arg(&plot)
        .arg(&json)
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&plot).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    assert_eq!(
        doc.descendants().filter(|n| n.has_tag_name("path")).count(),
        2
    );
    let out = Command::new(env!("CARGO_BIN_EXE_homeml-loadtest"))
        .arg("table")
        .arg(&json)
        .output()
        .unwrap();
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("| server | req/s"), "{table}");
    assert!(table.contains("| test <&> server | "), "{table}");
}

fn bad_args(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_homeml-loadtest"))
        .args(args)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn bad_arguments_give_clear_errors() {
    let url = "http://127.0.0.1:9/";
    assert!(bad_args(&[]).contains("missing target URL"));
    assert!(bad_args(&["https://127.0.0.1:9/"]).contains("only http://"));
    assert!(bad_args(&["-c", "0", url]).contains("connections must be at least 1"));
    assert!(bad_args(&["--rate=-5", url]).contains("rate must be a positive"));
    assert!(bad_args(&["-d", "ten", url]).contains("bad duration"));
    assert!(bad_args(&["-H", "nocolon", url]).contains("bad header"));
    assert!(
        bad_args(&["--body-file", "/nonexistent/body.json", url]).contains("cannot read body file")
    );
    assert!(bad_args(&["--body-file", "x", "--features", "4", url]).contains("cannot be used with"));
    assert!(bad_args(&["--features", "0", url]).contains("at least 1"));
    assert!(bad_args(&["table", "/nonexistent.json"]).contains("reading /nonexistent.json"));
}
