//! Missing values over real HTTP: a NaN in a request to a model that does not accept missing values is
//! a 400 naming the row and column, refused before the batcher, so it never touches the requests
//! batched beside it; a model that accepts them gets the NaN.

use crate::support;

use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_row_refuses_its_own_request_only() {
    let dir = tempfile::tempdir().unwrap();
    // A slow model and a long queue delay, so concurrent requests share model calls.
    write_model(
        &dir.path().join("m"),
        json!({"width": 2, "scale": 3.0, "delay_ms": 20}),
    );
    let flavor = LinFlavor::default();
    let mut m = model("lin", &dir.path().join("m"));
    m.max_queue_delay = std::time::Duration::from_millis(20);
    let server = start(config(vec![m]), &flavor).await;
    let addr = server.addr();

    let meta = get(addr, "/v2/models/lin").await.json();
    assert_eq!(
        meta["parameters"]["accepts_missing_values"],
        json!(false),
        "{meta}"
    );

    let mut clients = Vec::new();
    for c in 0..16u32 {
        clients.push(tokio::spawn(async move {
            for i in 0..3u32 {
                // Never 13 or 666, which the test model fails on.
                let v = (c * 10 + i) as f32 + 0.25;
                if c % 4 == 0 {
                    // Row 1, column 0 is null: the whole request is refused, and only it.
                    let body = json!({"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32",
                        "data": [v, 1.0, null, 2.0]}]});
                    let a = send(
                        addr,
                        "POST",
                        "/v2/models/lin/infer",
                        &[("content-type", "application/json")],
                        body.to_string(),
                    )
                    .await;
                    assert_eq!(a.status, 400, "{}", a.text());
                    let msg = a.json()["error"].as_str().unwrap().to_string();
                    assert!(
                        msg.starts_with("row 1, input \"x\", column 0 holds a missing value"),
                        "{msg}"
                    );
                } else {
                    let rows = vec![vec![v, -v], vec![v + 0.5, 1.0]];
                    let a = infer_v2(addr, "lin", &rows).await;
                    assert_eq!(a.status, 200, "{}", a.text());
                    let want: Vec<f32> = rows.iter().flatten().map(|x| x * 3.0).collect();
                    assert_eq!(v2_output(&a), want, "client {c} request {i}");
                }
            }
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    assert!(
        !flavor.log.lock().unwrap().iter().any(|x| x.is_nan()),
        "a refused row reached the model"
    );
    let batches = flavor.batches.lock().unwrap().clone();
    assert!(
        batches.iter().any(|&rows| rows > 2),
        "no two requests shared a model call: {batches:?}"
    );
    // Every protocol refuses it alike.
    let a = send(
        addr,
        "POST",
        "/invocations",
        &[("content-type", "text/csv")],
        "a,b\n1,2\n3,\n",
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.text());
    assert_eq!(a.json()["error_code"], "BAD_REQUEST");
    assert!(
        a.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("row 1, input \"x\", column 1 "),
        "{}",
        a.text()
    );
    let a = send(
        addr,
        "POST",
        "/predict",
        &[("content-type", "application/json")],
        r#"[[1, 2], ["NaN", 3]]"#,
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.text());
    server.shutdown_and_wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_accepts_missing_values_gets_them() {
    let dir = tempfile::tempdir().unwrap();
    write_model(
        &dir.path().join("m"),
        json!({"width": 2, "scale": 3.0, "missing": true}),
    );
    let flavor = LinFlavor::default();
    let server = start(config(vec![model("lin", &dir.path().join("m"))]), &flavor).await;
    let addr = server.addr();
    let meta = get(addr, "/v2/models/lin").await.json();
    assert_eq!(meta["parameters"]["accepts_missing_values"], json!(true));
    let a = send(
        addr,
        "POST",
        "/invocations",
        &[("content-type", "application/json")],
        r#"{"inputs": [[null, 2]]}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["predictions"], json!([[null, 6.0]]));
    assert!(flavor.log.lock().unwrap().iter().any(|x| x.is_nan()));
    server.shutdown_and_wait().await;
}
