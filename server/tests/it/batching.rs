//! Batching, backpressure, deadlines and disconnects over real HTTP on loopback.

use crate::support;

use std::time::Duration;

use serde_json::json;
use support::*;
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_get_their_own_rows_and_batching_happens() {
    let dir = tempfile::tempdir().unwrap();
    write_model(
        &dir.path().join("m"),
        json!({"width": 2, "scale": 3.0, "delay_ms": 5}),
    );
    let flavor = LinFlavor::default();
    let server = start(config(vec![model("lin", &dir.path().join("m"))]), &flavor).await;
    let addr = server.addr();

    let mut clients = Vec::new();
    for c in 0..24 {
        clients.push(tokio::spawn(async move {
            for i in 0..4 {
                // Each request: 1..=3 rows, values unique to (client, request, row).
                let n = 1 + (c + i) % 3;
                let rows: Vec<Vec<f32>> = (0..n)
                    .map(|r| {
                        let v = (c * 100 + i * 10 + r) as f32;
                        vec![v, -v]
                    })
                    .collect();
                let a = infer_v2(addr, "lin", &rows).await;
                assert_eq!(a.status, 200, "{}", a.text());
                let want: Vec<f32> = rows.iter().flatten().map(|x| x * 3.0).collect();
                assert_eq!(v2_output(&a), want, "client {c} request {i}");
            }
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    // The same model through MLflow and /predict.
    let a = send(
        addr,
        "POST",
        "/invocations",
        &[("content-type", "application/json")],
        json!({"inputs": [[1.0, 2.0]]}).to_string(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["predictions"], json!([[3.0, 6.0]]));
    let a = send(
        addr,
        "POST",
        "/predict",
        &[("content-type", "application/json")],
        "[[2, 4]]",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json(), json!([[6.0, 12.0]]));

    let batches = flavor.batches.lock().unwrap().clone();
    let requests = 24 * 4 + 2;
    assert!(
        batches.len() < requests,
        "every request ran alone: {batches:?}"
    );
    let m = get(addr, "/metrics").await;
    assert_eq!(m.status, 200);
    let text = m.text();
    let calls = metric(&text, "homeml_batch_requests_count{model=\"lin\"}").unwrap();
    let alone = metric(
        &text,
        "homeml_batch_requests_bucket{model=\"lin\",le=\"1\"}",
    )
    .unwrap();
    assert!(
        alone < calls,
        "the metrics show no batch of several requests:\n{text}"
    );
    assert_eq!(
        metric(
            &text,
            "homeml_requests_total{model=\"lin\",protocol=\"v2\",status=\"200\"}"
        ),
        Some(96.0)
    );
    assert_eq!(
        metric(&text, "homeml_queue_depth{model=\"lin\"}"),
        Some(0.0)
    );
    assert_eq!(
        metric(&text, "homeml_model_ready{model=\"lin\"}"),
        Some(1.0)
    );
    promtool_check(&text);
    server.shutdown_and_wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_answers_429_on_v2_and_503_on_mlflow_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    write_model(&dir.path().join("m"), json!({"width": 1, "delay_ms": 400}));
    let flavor = LinFlavor::default();
    let mut m = model("slow", &dir.path().join("m"));
    m.queue_capacity = 1;
    let server = start(config(vec![m]), &flavor).await;
    let addr = server.addr();

    let first = tokio::spawn(async move { infer_v2(addr, "slow", &[vec![1.0]]).await });
    let f2 = flavor.clone();
    until(move || f2.computed(1.0)).await;
    // The compute thread is busy: this one waits in the queue (capacity 1)...
    let queued = tokio::spawn(async move { infer_v2(addr, "slow", &[vec![2.0]]).await });
    let m = server.metrics().model("slow");
    until(move || m.queue_depth.load(std::sync::atomic::Ordering::Relaxed) == 1).await;
    // ...and these find it full.
    let a = infer_v2(addr, "slow", &[vec![3.0]]).await;
    assert_eq!(a.status, 429, "{}", a.text());
    assert_eq!(a.headers["retry-after"], "1");
    assert!(a.json()["error"].as_str().unwrap().contains("queue"));
    let a = send(
        addr,
        "POST",
        "/invocations",
        &[("content-type", "application/json")],
        json!({"inputs": [[4.0]]}).to_string(),
    )
    .await;
    assert_eq!(a.status, 503, "{}", a.text());
    assert_eq!(a.headers["retry-after"], "1");
    assert_eq!(a.json()["error_code"], "REQUEST_LIMIT_EXCEEDED");

    assert_eq!(first.await.unwrap().status, 200);
    assert_eq!(queued.await.unwrap().status, 200);
    assert!(!flavor.computed(3.0) && !flavor.computed(4.0));
    server.shutdown_and_wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_deadline_gets_504_and_is_not_computed() {
    let dir = tempfile::tempdir().unwrap();
    write_model(&dir.path().join("m"), json!({"width": 1, "delay_ms": 600}));
    let flavor = LinFlavor::default();
    let mut cfg = config(vec![model("slow", &dir.path().join("m"))]);
    cfg.limits.request_timeout = Some(Duration::from_millis(200));
    let server = start(cfg, &flavor).await;
    let addr = server.addr();

    // The first request is computed (it starts at once) even though it outlives its deadline.
    let first = tokio::spawn(async move { infer_v2(addr, "slow", &[vec![1.0]]).await });
    let f2 = flavor.clone();
    until(move || f2.computed(1.0)).await;
    let late = infer_v2(addr, "slow", &[vec![2.0]]).await;
    assert_eq!(late.status, 504, "{}", late.text());
    assert!(late.json()["error"].as_str().unwrap().contains("deadline"));
    let _ = first.await.unwrap();
    // Once the thread is free again the late request is skipped, not computed.
    let m = server.metrics().model("slow");
    until(move || {
        m.skipped_deadline
            .load(std::sync::atomic::Ordering::Relaxed)
            == 1
    })
    .await;
    assert!(!flavor.computed(2.0), "the late request was computed");
    let text = get(addr, "/metrics").await.text();
    assert_eq!(
        metric(
            &text,
            "homeml_skipped_requests_total{model=\"slow\",reason=\"deadline\"}"
        ),
        Some(1.0)
    );
    server.shutdown_and_wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_client_left_is_not_computed() {
    let dir = tempfile::tempdir().unwrap();
    write_model(&dir.path().join("m"), json!({"width": 1, "delay_ms": 500}));
    let flavor = LinFlavor::default();
    let server = start(config(vec![model("slow", &dir.path().join("m"))]), &flavor).await;
    let addr = server.addr();

    let first = tokio::spawn(async move { infer_v2(addr, "slow", &[vec![1.0]]).await });
    let f2 = flavor.clone();
    until(move || f2.computed(1.0)).await;
    // A raw client sends a whole request, waits until it is queued, and hangs up.
    let body = v2_body(&[vec![2.0]]);
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST /v2/models/slow/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let m = server.metrics().model("slow");
    let m2 = m.clone();
    until(move || m2.queue_depth.load(std::sync::atomic::Ordering::Relaxed) == 1).await;
    drop(s);
    assert_eq!(first.await.unwrap().status, 200);
    // The next request is computed after the abandoned one was looked at.
    let a = infer_v2(addr, "slow", &[vec![3.0]]).await;
    assert_eq!(a.status, 200);
    assert!(!flavor.computed(2.0), "the abandoned request was computed");
    assert_eq!(
        m.skipped_client_gone
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    server.shutdown_and_wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_errors_and_panics_are_500s_and_the_model_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    write_model(&dir.path().join("m"), json!({"width": 1}));
    let flavor = LinFlavor::default();
    let server = start(config(vec![model("m", &dir.path().join("m"))]), &flavor).await;
    let addr = server.addr();
    let a = infer_v2(addr, "m", &[vec![666.0]]).await;
    assert_eq!(a.status, 500, "{}", a.text());
    assert!(a.json()["error"].as_str().unwrap().contains("panicked"));
    let a = infer_v2(addr, "m", &[vec![13.0]]).await;
    assert_eq!(a.status, 500, "{}", a.text());
    assert!(a.json()["error"].as_str().unwrap().contains("unlucky"));
    // A bad request is the client's fault: 400 from the protocol layer.
    let a = infer_v2(addr, "m", &[vec![1.0, 2.0]]).await;
    assert_eq!(a.status, 400, "{}", a.text());
    let a = infer_v2(addr, "m", &[vec![5.0]]).await;
    assert_eq!(v2_output(&a), vec![10.0]);
    server.shutdown_and_wait().await;
}
