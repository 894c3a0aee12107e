//! The server's protection limits over real HTTP on loopback: connections past `max_connections` get
//! 503 at once, request bodies share an in-flight byte budget, and a model's `inline_budget_us` reaches
//! its batcher.

use crate::support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use homeml_flavor::{
    DType, Flavor, FlavorError, FlavorRegistry, IoSpec, LoadContext, MlModel, Model, Tensor,
};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::json;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Generous bound on any single network wait of these tests (a hang fails instead of blocking CI).
const WAIT: Duration = Duration::from_secs(20);

/// A kept-alive client connection.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        Conn { sender }
    }

    /// GET `path` on this connection; the status and the body text.
    async fn get(&mut self, path: &str) -> (u16, String) {
        let req = Request::get(path)
            .header("host", "localhost")
            .body(Full::new(Bytes::new()))
            .unwrap();
        // The previous answer's end may not have reached the connection task yet.
        tokio::time::timeout(WAIT, self.sender.ready())
            .await
            .expect("connection not ready in time")
            .unwrap();
        let resp = tokio::time::timeout(WAIT, self.sender.send_request(req))
            .await
            .expect("no answer in time")
            .unwrap();
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

/// An answer read off a raw socket: status, lowercased head, body.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.trim() == name)
                .map(|(_, v)| v.trim())
        })
    }
}

/// Reads one answer (headers, then `content-length` bytes of body) from `s`.
async fn read_answer(s: &mut TcpStream) -> Raw {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if buf.len() >= end + 4 + len {
                    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                    let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
                    return Raw { status, head, body };
                }
            }
            let n = s.read(&mut chunk).await.unwrap();
            assert!(
                n > 0,
                "closed before a whole answer: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .expect("no answer in time")
}

/// Sends a GET on a new raw connection and reads what comes back until the server closes it (a reset
/// after the answer counts as closing: the server does not read the request of a refused connection).
async fn raw_get(addr: SocketAddr, path: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .await;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
            }
            // A served keep-alive connection stays open: stop at the end of one answer.
            if out.starts_with(b"HTTP/1.1 200") && out.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .expect("no answer in time");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_get_503_at_once_and_the_served_ones_go_on() {
    let dir = tempfile::tempdir().unwrap();
    write_model(&dir.path().join("m"), json!({"width": 2}));
    let flavor = LinFlavor::default();
    let mut cfg = config(vec![model("lin", &dir.path().join("m"))]);
    cfg.limits.max_connections = 2;
    let server = start(cfg, &flavor).await;
    let addr = server.addr();

    // Two kept-alive connections, each served once (so both hold a connection slot).
    let mut first = Conn::open(addr).await;
    let mut second = Conn::open(addr).await;
    assert_eq!(first.get("/ping").await.0, 200);
    assert_eq!(second.get("/ping").await.0, 200);

    // A third is answered 503 at once, then closed.
    let raw = raw_get(addr, "/ping").await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect(&text);
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 503 "), "{text}");
    assert!(head.contains("\r\nretry-after: 1"), "{text}");
    assert!(head.contains("\r\nconnection: close"), "{text}");
    assert!(
        head.contains("\r\ncontent-type: application/json"),
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_str(body).expect(&text);
    assert!(v["error"].as_str().unwrap().contains("at most 2"), "{text}");
    // An HTTP client library (hyper's) gets the 503 as the answer to its request, not a broken
    // connection: the server answers after the request has begun to arrive, and drains it.
    let mut fourth = Conn::open(addr).await;
    let (status, body) = fourth.get("/ping").await;
    assert_eq!(status, 503, "{body}");

    // The served connections still work; the refusals are counted.
    assert_eq!(second.get("/ping").await.0, 200);
    let (status, metrics) = first.get("/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(
        metric(&metrics, "homeml_connections_rejected_total"),
        Some(2.0),
        "{metrics}"
    );
    promtool_check(&metrics);

    // Once one closes, a new connection is served (the server notices the close asynchronously:
    // retry, each refused try being counted too).
    drop(first);
    let mut refused = 2.0;
    let mut served = false;
    for _ in 0..400 {
        let raw = raw_get(addr, "/ping").await;
        if raw.starts_with(b"HTTP/1.1 200") {
            served = true;
            break;
        }
        assert!(
            raw.starts_with(b"HTTP/1.1 503"),
            "{}",
            String::from_utf8_lossy(&raw)
        );
        refused += 1.0;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(served, "no connection was served after one closed");
    let (_, metrics) = second.get("/metrics").await;
    assert_eq!(
        metric(&metrics, "homeml_connections_rejected_total"),
        Some(refused),
        "{metrics}"
    );
    drop(second);
    server.shutdown_and_wait().await;
}

/// A V2 infer body for rows `[[v, -v]]`, padded with spaces to exactly `len` bytes.
fn padded_v2_body(v: f32, len: usize) -> Vec<u8> {
    let mut b = v2_body(&[vec![v, -v]]).into_bytes();
    assert!(b.len() <= len);
    b.resize(len, b' ');
    b
}

/// Opens a connection and sends the head of a POST to `path` (JSON).
async fn post_head(addr: SocketAddr, path: &str, framing: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_share_the_in_flight_budget() {
    let dir = tempfile::tempdir().unwrap();
    write_model(&dir.path().join("m"), json!({"width": 2, "scale": 2.0}));
    let flavor = LinFlavor::default();
    let mut cfg = config(vec![model("lin", &dir.path().join("m"))]);
    cfg.limits.max_body_bytes = 100_000;
    cfg.limits.max_inflight_body_bytes = 100_000;
    let server = start(cfg, &flavor).await;
    let addr = server.addr();
    let inflight = || async move {
        let text = get(addr, "/metrics").await.text();
        metric(&text, "homeml_inflight_body_bytes").expect(&text)
    };

    // A holds 60 000 bytes of the budget: its Content-Length is reserved, its body half sent.
    let body_a = padded_v2_body(1.0, 60_000);
    let mut a = post_head(addr, "/v2/models/lin/infer", "Content-Length: 60000").await;
    a.write_all(&body_a[..30_000]).await.unwrap();
    until_async(|| async { inflight().await == 60_000.0 }).await;

    // B declares 50 000 more: refused at once, its body unread. V2 answers 429, MLflow 503.
    let mut b = post_head(addr, "/v2/models/lin/infer", "Content-Length: 50000").await;
    let answer = read_answer(&mut b).await;
    assert_eq!(answer.status, 429, "{answer:?}");
    assert_eq!(answer.header("retry-after"), Some("1"), "{answer:?}");
    assert!(answer.body.contains("body budget"), "{answer:?}");
    let mut b = post_head(addr, "/models/lin/invocations", "Content-Length: 50000").await;
    let answer = read_answer(&mut b).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.header("retry-after"), Some("1"), "{answer:?}");
    let v: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(v["error_code"], "REQUEST_LIMIT_EXCEEDED", "{answer:?}");

    // A chunked body is refused as soon as what it sent outgrows the budget.
    let c = post_head(addr, "/v2/models/lin/infer", "Transfer-Encoding: chunked").await;
    let (mut c_read, mut c_write) = c.into_split();
    let writer = tokio::spawn(async move {
        let chunk = vec![b' '; 45_000];
        let _ = c_write
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await;
        let _ = c_write.write_all(&chunk).await;
        let _ = c_write.write_all(b"\r\n").await;
        c_write
    });
    let answer = tokio::time::timeout(WAIT, async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = c_read.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed without an answer");
            buf.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&buf).to_ascii_lowercase()
    })
    .await
    .expect("no answer in time");
    assert!(answer.starts_with("http/1.1 429 "), "{answer}");
    assert!(answer.contains("\r\nretry-after: 1\r\n"), "{answer}");
    writer.abort();

    // A small request still fits beside A.
    let small = infer_v2(addr, "lin", &[vec![3.0, 4.0]]).await;
    assert_eq!(small.status, 200, "{}", small.text());
    assert_eq!(v2_output(&small), vec![6.0, 8.0]);
    assert_eq!(inflight().await, 60_000.0);

    // A finishes and is answered; its bytes are back in the budget.
    a.write_all(&body_a[30_000..]).await.unwrap();
    let answer = read_answer(&mut a).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let v: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(v["outputs"][0]["data"], json!([2.0, -2.0]), "{answer:?}");
    assert_eq!(inflight().await, 0.0);

    // Now a body of B's size fits.
    let body = padded_v2_body(5.0, 50_000);
    let mut d = post_head(addr, "/v2/models/lin/infer", "Content-Length: 50000").await;
    d.write_all(&body).await.unwrap();
    let answer = read_answer(&mut d).await;
    assert_eq!(answer.status, 200, "{answer:?}");

    let text = get(addr, "/metrics").await.text();
    assert_eq!(
        metric(&text, "homeml_body_budget_rejected_total"),
        Some(3.0),
        "{text}"
    );
    assert_eq!(metric(&text, "homeml_inflight_body_bytes"), Some(0.0));
    promtool_check(&text);
    drop((a, b, c_read, d));
    server.shutdown_and_wait().await;
}

/// Which thread computed each call: (model tag, thread name).
type Calls = Arc<Mutex<Vec<(String, String)>>>;

/// `y = x`, recording the thread of every call. MLmodel entry: `threads: {tag}`.
#[derive(Default, Clone)]
struct ThreadsFlavor {
    calls: Calls,
}

struct ThreadsModel {
    tag: String,
    io: Vec<IoSpec>,
    calls: Calls,
}

impl Model for ThreadsModel {
    fn inputs(&self) -> &[IoSpec] {
        &self.io
    }
    fn outputs(&self) -> &[IoSpec] {
        &self.io
    }
    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError> {
        let thread = std::thread::current().name().unwrap_or("").to_string();
        self.calls.lock().unwrap().push((self.tag.clone(), thread));
        Ok(inputs)
    }
}

impl Flavor for ThreadsFlavor {
    fn name(&self) -> &str {
        "threads"
    }
    fn version(&self) -> &str {
        "1"
    }
    fn load(&self, ctx: &LoadContext<'_>) -> Result<Arc<dyn Model>, FlavorError> {
        Ok(Arc::new(ThreadsModel {
            tag: ctx.flavor_config["tag"].as_str().unwrap_or("").to_string(),
            io: vec![IoSpec::new("x", DType::F32, vec![-1, 2])],
            calls: self.calls.clone(),
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_budget_from_serve_toml_reaches_the_batcher() {
    let dir = tempfile::tempdir().unwrap();
    for tag in ["inline", "threads"] {
        std::fs::create_dir_all(dir.path().join(tag)).unwrap();
        let mut m = MlModel::default();
        m.add_flavor("threads", json!({ "tag": tag }));
        m.write_dir(&dir.path().join(tag)).unwrap();
    }
    let toml = format!(
        r#"
        port = 0
        [[models]]
        name = "inline"
        uri = "{inline}"
        inline_budget_us = 10000000
        [[models]]
        name = "threads"
        uri = "{threads}"
        inline_budget_us = 0
        "#,
        inline = dir.path().join("inline").display(),
        threads = dir.path().join("threads").display(),
    );
    let cfg = homeml_server::ServerConfig::from_toml_str(&toml).unwrap();
    assert_eq!(cfg.models[0].inline_budget, Duration::from_secs(10));
    assert_eq!(cfg.models[1].inline_budget, Duration::ZERO);
    let flavor = ThreadsFlavor::default();
    let mut registry = FlavorRegistry::new();
    registry.register(Arc::new(flavor.clone()), "test").unwrap();
    let server = homeml_server::Server::start(cfg, registry).await.unwrap();
    let addr = server.addr();

    // Past the cost estimate's warm-up (8 calls), a model with a generous budget runs its 1-row calls
    // on the async runtime; a model with budget 0 always on its compute threads (`homeml-{name}-{i}`).
    for i in 0..12 {
        for m in ["inline", "threads"] {
            let a = infer_v2(addr, m, &[vec![i as f32, 1.0]]).await;
            assert_eq!(a.status, 200, "{}", a.text());
        }
    }
    let calls = flavor.calls.lock().unwrap().clone();
    let on = |tag: &str| -> Vec<String> {
        calls
            .iter()
            .filter(|(t, _)| t == tag)
            .map(|(_, th)| th.clone())
            .collect()
    };
    let threads = on("threads");
    assert_eq!(threads.len(), 12);
    assert!(
        threads.iter().all(|t| t.starts_with("homeml-threads-")),
        "{threads:?}"
    );
    let inline = on("inline");
    assert_eq!(inline.len(), 12);
    assert!(
        inline[0].starts_with("homeml-inline-"),
        "the first calls run on a compute thread: {inline:?}"
    );
    let last = inline.last().unwrap();
    assert!(!last.starts_with("homeml-inline-"), "{inline:?}");
    server.shutdown_and_wait().await;
}
