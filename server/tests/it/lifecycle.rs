//! Model lifecycle (repository load/unload, reloads), limits, routing and graceful shutdown over real
//! HTTP on loopback.

use crate::support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_the_request_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    write_model(&dir.path().join("m"), json!({"width": 1, "delay_ms": 400}));
    let flavor = LinFlavor::default();
    let server = start(config(vec![model("m", &dir.path().join("m"))]), &flavor).await;
    let addr = server.addr();
    let inflight = tokio::spawn(async move { infer_v2(addr, "m", &[vec![1.0]]).await });
    let f2 = flavor.clone();
    until(move || f2.computed(1.0)).await;
    server.shutdown();
    let a = inflight.await.unwrap();
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(v2_output(&a), vec![2.0]);
    server.wait().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_body_size_and_slow_headers() {
    let dir = tempfile::tempdir().unwrap();
    write_model(&dir.path().join("m"), json!({"width": 1}));
    let flavor = LinFlavor::default();
    let mut cfg = config(vec![model("m", &dir.path().join("m"))]);
    cfg.limits.max_body_bytes = 1000;
    cfg.limits.header_read_timeout = Duration::from_millis(300);
    let server = start(cfg, &flavor).await;
    let addr = server.addr();

    // Declared too large: refused before reading.
    let a = send(addr, "POST", "/v2/models/m/infer", &[], vec![b' '; 5000]).await;
    assert_eq!(a.status, 413, "{}", a.text());
    let a = send(addr, "POST", "/invocations", &[], vec![b' '; 5000]).await;
    assert_eq!(a.status, 413);
    assert_eq!(a.json()["error_code"], "INVALID_PARAMETER_VALUE");
    // Chunked, no length: refused once it grows past the limit.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req =
        b"POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..3 {
        req.extend_from_slice(format!("{:x}\r\n{}\r\n", 600, " ".repeat(600)).as_bytes());
    }
    s.write_all(&req).await.unwrap();
    let mut buf = vec![0u8; 512];
    let n = s.read(&mut buf).await.unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert_eq!(flavor.computed_rows(), 0);

    // Slowloris: headers never finish, the server closes the connection.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /ping HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the server kept a connection with unfinished headers"
    );
    assert!(!String::from_utf8_lossy(&rest).contains("200 OK"));
    // The server still serves.
    assert_eq!(get(addr, "/ping").await.status, 200);
    server.shutdown_and_wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_methods_and_model_choice() {
    let dir = tempfile::tempdir().unwrap();
    write_model(&dir.path().join("a"), json!({"width": 1, "scale": 2.0}));
    write_model(&dir.path().join("b"), json!({"width": 1, "scale": 5.0}));
    let flavor = LinFlavor::default();
    let server = start(
        config(vec![
            model("a", &dir.path().join("a")),
            model("b", &dir.path().join("b")),
        ]),
        &flavor,
    )
    .await;
    let addr = server.addr();
    for p in [
        "/ping",
        "/health",
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/a/ready",
    ] {
        assert_eq!(get(addr, p).await.status, 200, "{p}");
    }
    assert_eq!(get(addr, "/version").await.status, 200);
    let meta = get(addr, "/v2/models/b").await;
    assert_eq!(meta.status, 200);
    assert_eq!(meta.json()["name"], "b");
    assert_eq!(get(addr, "/v2/models/b/versions/1").await.status, 200);
    assert_eq!(get(addr, "/v2/models/b/versions/7").await.status, 404);
    assert_eq!(get(addr, "/v2/models/zzz").await.status, 404);
    assert_eq!(get(addr, "/v2").await.json()["name"], "homeml");
    let a = get(addr, "/nope").await;
    assert_eq!(a.status, 404);
    let a = get(addr, "/invocations").await;
    assert_eq!(a.status, 405);
    assert_eq!(a.headers["allow"], "POST");
    let a = send(addr, "DELETE", "/v2/models/a", &[], "").await;
    assert_eq!(a.status, 405);
    assert_eq!(a.headers["allow"], "GET, HEAD");

    let body = json!({"inputs": [[1.0]]}).to_string();
    let ct = ("content-type", "application/json");
    // Several models: /invocations needs a name.
    let a = send(addr, "POST", "/invocations", &[ct], body.clone()).await;
    assert_eq!(a.status, 400);
    assert!(a.text().contains("x-model-name"), "{}", a.text());
    let a = send(
        addr,
        "POST",
        "/invocations",
        &[ct, ("x-model-name", "b")],
        body.clone(),
    )
    .await;
    assert_eq!(flat(&a.json()["predictions"]), vec![5.0]);
    let a = send(addr, "POST", "/models/a/invocations", &[ct], body.clone()).await;
    assert_eq!(flat(&a.json()["predictions"]), vec![2.0]);
    let a = send(addr, "POST", "/models/b/predict", &[ct], "[[2]]").await;
    assert_eq!(flat(&a.json()), vec![10.0]);
    let a = send(addr, "POST", "/models/nope/invocations", &[ct], body).await;
    assert_eq!(a.status, 404);
    server.shutdown_and_wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_index_load_and_unload() {
    let dir = tempfile::tempdir().unwrap();
    write_model(&dir.path().join("a"), json!({"width": 1}));
    write_model(&dir.path().join("b"), json!({"width": 1}));
    let flavor = LinFlavor::default();
    let server = start(
        config(vec![
            model("a", &dir.path().join("a")),
            model("b", &dir.path().join("b")),
        ]),
        &flavor,
    )
    .await;
    let addr = server.addr();
    let index = send(addr, "POST", "/v2/repository/index", &[], "").await;
    assert_eq!(index.status, 200, "{}", index.text());
    let states: Vec<(String, String)> = index
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().into(),
                m["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![("a".into(), "READY".into()), ("b".into(), "READY".into())]
    );

    let a = send(addr, "POST", "/v2/repository/models/a/unload", &[], "").await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(infer_v2(addr, "a", &[vec![1.0]]).await.status, 503);
    assert_eq!(get(addr, "/v2/models/a/ready").await.status, 503);
    assert_eq!(get(addr, "/v2/health/ready").await.status, 503);
    assert_eq!(get(addr, "/health").await.status, 503);
    assert_eq!(infer_v2(addr, "b", &[vec![1.0]]).await.status, 200);
    let index = send(
        addr,
        "POST",
        "/v2/repository/index",
        &[],
        "{\"ready\": true}",
    )
    .await;
    let listed = index.json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["b"]);

    let a = send(addr, "POST", "/v2/repository/models/a/load", &[], "").await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(
        v2_output(&infer_v2(addr, "a", &[vec![4.0]]).await),
        vec![8.0]
    );
    assert_eq!(get(addr, "/v2/health/ready").await.status, 200);
    let a = send(addr, "POST", "/v2/repository/models/zzz/load", &[], "").await;
    assert_eq!(a.status, 404);
    server.shutdown_and_wait().await;
}

/// Points the symlink `link` at `target`, atomically.
fn repoint(link: &std::path::Path, target: &std::path::Path) {
    let tmp = link.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).unwrap();
    std::fs::rename(&tmp, link).unwrap();
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_under_load_fail_no_request_and_a_failed_reload_keeps_the_old_version() {
    let dir = tempfile::tempdir().unwrap();
    let versions: Vec<_> = (1..=3)
        .map(|k| {
            let p = dir.path().join(format!("v{k}"));
            write_model(&p, json!({"width": 1, "scale": k as f64, "delay_ms": 1}));
            p
        })
        .collect();
    let broken = dir.path().join("broken");
    write_model(&broken, json!({"width": 1, "broken": true}));
    let link = dir.path().join("current");
    std::os::unix::fs::symlink(&versions[0], &link).unwrap();
    let flavor = LinFlavor::default();
    let mut m = model("m", &link);
    m.reload_interval = Some(Duration::from_millis(30));
    let server = start(config(vec![m]), &flavor).await;
    let addr = server.addr();

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for c in 0..6 {
        let (stop, failures, done) = (stop.clone(), failures.clone(), done.clone());
        clients.push(tokio::spawn(async move {
            let mut scales = std::collections::BTreeSet::new();
            while !stop.load(Ordering::Relaxed) {
                let a = infer_v2(addr, "m", &[vec![c as f32 + 1.0]]).await;
                if a.status != 200 {
                    failures.fetch_add(1, Ordering::Relaxed);
                    eprintln!("failed: {} {}", a.status, a.text());
                    continue;
                }
                let out = v2_output(&a)[0];
                scales.insert((out / (c as f32 + 1.0)) as i64);
                done.fetch_add(1, Ordering::Relaxed);
            }
            scales
        }));
    }
    for round in 0..4 {
        let k = (round + 1) % 3;
        repoint(&link, &versions[k]);
        let want = (k + 1) as f32;
        until_async(
            || async move { v2_output(&infer_v2(addr, "m", &[vec![1.0]]).await)[0] == want },
        )
        .await;
    }
    // A broken version: the reload fails, the old one keeps serving.
    let loads_before = server
        .metrics()
        .model("m")
        .loads_failed
        .load(Ordering::Relaxed);
    repoint(&link, &broken);
    let metrics = server.metrics().model("m");
    until(move || metrics.loads_failed.load(Ordering::Relaxed) > loads_before).await;
    let a = infer_v2(addr, "m", &[vec![1.0]]).await;
    assert_eq!(a.status, 200);
    let serving = v2_output(&a)[0];
    assert!([1.0, 2.0, 3.0].contains(&serving));
    assert_eq!(get(addr, "/v2/models/m/ready").await.status, 200);
    stop.store(true, Ordering::Relaxed);
    let mut scales = std::collections::BTreeSet::new();
    for c in clients {
        scales.extend(c.await.unwrap());
    }
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "requests failed during reloads"
    );
    assert!(done.load(Ordering::Relaxed) > 0);
    assert!(scales.len() >= 2, "the clients saw only {scales:?}");
    server.shutdown_and_wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_cannot_load_fails_the_start_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    write_model(&dir.path().join("broken"), json!({"broken": true}));
    let flavor = LinFlavor::default();
    let err = homeml_server::Server::start(
        config(vec![model("x", &dir.path().join("broken"))]),
        flavor.registry(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("broken on purpose"), "{err}");
    let err = homeml_server::Server::start(
        config(vec![model("x", &dir.path().join("missing"))]),
        flavor.registry(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("MLmodel"), "{err}");
}

/// The numbers of a JSON value, depth first.
fn flat(v: &serde_json::Value) -> Vec<f64> {
    match v {
        serde_json::Value::Array(a) => a.iter().flat_map(flat).collect(),
        serde_json::Value::Number(n) => vec![n.as_f64().unwrap()],
        other => panic!("not a number: {other}"),
    }
}
