//! The access log over real HTTP: one line per predict request, every line written exactly once by a
//! graceful shutdown, client-supplied request ids escaped.

use crate::common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use hyper::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// A sink the test reads back.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn config(upstream_url: &str, server: &str) -> String {
    format!(
        "{server}\n[[apps]]\nname = \"iris\"\n{IRIS_FEATURES}\n[[apps.upstreams]]\nname = \"v1\"\n\
         url = \"{upstream_url}\"\nmodel = \"iris\"\n"
    )
}

/// Runs a gateway with an access log in `format` into a capture; returns its address, the capture,
/// a trigger for graceful shutdown and the serve task.
async fn start(
    config_text: &str,
    format: homeml_gateway::AccessLogFormat,
) -> (
    std::net::SocketAddr,
    Capture,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, config_text).unwrap();
    let cfg = homeml_gateway::GatewayConfig::from_path(&path).unwrap();
    let capture = Capture::default();
    let sink = capture.clone();
    let gateway = homeml_gateway::Gateway::with_access_log(&cfg, move || {
        homeml_gateway::AccessLog::new(format, Box::new(sink))
    })
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(gateway.serve(listener, async move {
        let _ = stopped.await;
    }));
    (addr, capture, stop, task, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_predict_request_is_logged_once_by_a_graceful_shutdown() {
    let s = stub(model("iris", "3")).await;
    let (addr, capture, stop, task, _dir) =
        start(&config(&s.url(), ""), homeml_gateway::AccessLogFormat::Json).await;
    let http = Http::new();
    // Ids a client could use to forge fields or lines, among plain ones. Header values cannot hold
    // line breaks; quotes, backslashes and `=` they can.
    let tricky = [r#"x","status":500,"y":""#, r#"a\"b"#, "k=v,app=evil"];
    let mut ids: Vec<String> = (0..150).map(|i| format!("req-{i}")).collect();
    ids.extend(tricky.iter().map(|t| t.to_string()));
    let mut expected: Vec<(String, u16)> = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        // Every tenth request fails validation: logged with its 422 and no upstream.
        let body = if i % 10 == 9 {
            json!({"sepal_length": "x"})
        } else {
            setosa()
        };
        let r = http
            .post(addr, "/apps/iris/predict", &[("x-request-id", id)], body)
            .await;
        expected.push((id.clone(), r.status.as_u16()));
    }
    // No id from the client: the generated one is logged.
    let r = http.post(addr, "/apps/iris/predict", &[], setosa()).await;
    assert_eq!(r.status, StatusCode::OK);
    expected.push((r.json()["request_id"].as_str().unwrap().to_string(), 200));
    // Requests that are not predictions are not in the access log.
    assert_eq!(http.get(addr, "/health").await.status, StatusCode::OK);
    assert_eq!(http.get(addr, "/nope").await.status, StatusCode::NOT_FOUND);
    drop(http);

    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    // serve() wrote the lines out before returning; the gateway (and its writer thread) is gone.
    let text = capture.text();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let logged: Vec<(String, u16)> = lines
        .iter()
        .map(|v| {
            (
                v["fields"]["request_id"].as_str().unwrap().to_string(),
                v["fields"]["status"].as_u64().unwrap() as u16,
            )
        })
        .collect();
    assert_eq!(
        logged, expected,
        "each request once, in order, with its status"
    );
    for (v, (_, status)) in lines.iter().zip(&expected) {
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["target"], "homeml_gateway::access");
        assert_eq!(v["fields"]["message"], "predict");
        assert_eq!(v["fields"]["app"], "iris");
        assert_eq!(
            v["fields"]["upstream"],
            if *status == 200 { "v1" } else { "none" }
        );
        assert!(v["fields"]["latency_us"].is_u64());
        assert_eq!(
            v.as_object().unwrap().len(),
            4,
            "no forged top-level keys: {v}"
        );
        assert_eq!(
            v["fields"].as_object().unwrap().len(),
            6,
            "no forged fields: {v}"
        );
    }
    assert_eq!(expected.iter().filter(|(_, s)| *s == 422).count(), 15);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_lines_quote_client_request_ids() {
    let s = stub(model("iris", "3")).await;
    let (addr, capture, stop, task, _dir) =
        start(&config(&s.url(), ""), homeml_gateway::AccessLogFormat::Text).await;
    let http = Http::new();
    // Header values that become request ids are printable ASCII without spaces (others are replaced
    // by a generated id): quotes, backslashes and `=` are what could mislead a reader.
    let id = r#"x"status=500,app="evil\"#;
    let r = http
        .post(
            addr,
            "/apps/iris/predict",
            &[("x-request-id", id)],
            setosa(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = http
        .post(
            addr,
            "/apps/iris/predict",
            &[("x-request-id", "plain-1")],
            setosa(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    drop(http);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    let text = capture.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains(r#" INFO homeml_gateway::access: predict request_id="x\"status=500,app=\"evil\\" app=iris upstream=v1 status=200 latency_us="#),
        "{}",
        lines[0]
    );
    assert!(
        lines[1]
            .contains(" predict request_id=plain-1 app=iris upstream=v1 status=200 latency_us="),
        "{}",
        lines[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_false_writes_nothing() {
    let s = stub(model("iris", "3")).await;
    let (addr, capture, stop, task, _dir) = start(
        &config(&s.url(), "[server]\naccess_log = false"),
        homeml_gateway::AccessLogFormat::Text,
    )
    .await;
    let http = Http::new();
    let r = http.post(addr, "/apps/iris/predict", &[], setosa()).await;
    assert_eq!(r.status, StatusCode::OK);
    drop(http);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(capture.text(), "");
}
