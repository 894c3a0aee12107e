//! The upstream client against scripted raw-TCP servers on loopback: answer framings (Content-Length
//! in pieces, chunked, read until close, 1xx), connection reuse and `Connection: close`, connections
//! the server closed while idle, the one transparent resend, and the error classification (connect,
//! timeout, transport, size cap).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use homeml_gateway::client::{parse_base_url, CallError, UpstreamClient};
use hyper::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the scripted server does with one request.
#[derive(Clone)]
enum Reply {
    /// Writes these pieces one after the other (flushed, a short pause between them).
    Send(Vec<Vec<u8>>),
    /// Writes these pieces, then closes the connection.
    SendThenClose(Vec<Vec<u8>>),
    /// Closes the connection without answering.
    Close,
    /// Never answers (keeps the connection open).
    Hang,
}

/// A scripted upstream: `script(connection index, request index on that connection)` says what to
/// do; it counts connections and requests and records each request's raw bytes.
struct Server {
    addr: std::net::SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Server {
    async fn start(script: impl Fn(usize, usize) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(script);
        let (c, r) = (connections.clone(), requests.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let conn = c.fetch_add(1, Ordering::SeqCst);
                let (script, requests) = (script.clone(), r.clone());
                tokio::spawn(async move { serve(stream, conn, &*script, &requests).await });
            }
        });
        Self {
            addr,
            connections,
            requests,
        }
    }

    fn client(&self) -> UpstreamClient {
        UpstreamClient::new(
            parse_base_url(&format!("http://{}", self.addr)).unwrap(),
            Duration::from_secs(2),
            Duration::from_secs(60),
            8,
        )
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect()
    }
}

async fn serve(
    mut stream: TcpStream,
    conn: usize,
    script: &(dyn Fn(usize, usize) -> Reply + Send + Sync),
    requests: &Mutex<Vec<Vec<u8>>>,
) {
    let mut buf = Vec::new();
    for index in 0.. {
        // One request: the head up to the blank line, then content-length bytes of body.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let body_len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        while buf.len() < head_end + body_len {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let request: Vec<u8> = buf.drain(..head_end + body_len).collect();
        requests.lock().unwrap().push(request);
        match script(conn, index) {
            Reply::Send(pieces) => write_pieces(&mut stream, &pieces).await,
            Reply::SendThenClose(pieces) => {
                write_pieces(&mut stream, &pieces).await;
                return;
            }
            Reply::Close => return,
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
        }
    }
}

async fn write_pieces(stream: &mut TcpStream, pieces: &[Vec<u8>]) {
    for (i, p) in pieces.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if stream.write_all(p).await.is_err() {
            return;
        }
        let _ = stream.flush().await;
    }
}

fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn post(c: &UpstreamClient, body: &str) -> Result<(StatusCode, Bytes), CallError> {
    let uri = c.uri("/v2/models/m/infer").unwrap();
    c.call(
        Method::POST,
        &uri,
        Some(Bytes::from(body.to_string())),
        "req-1",
        Duration::from_secs(5),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_one_well_formed_request_and_reuses_the_connection() {
    let server = Server::start(|_, _| Reply::Send(vec![ok(r#"{"a":1}"#)])).await;
    let c = server.client();
    for _ in 0..5 {
        let (status, body) = post(&c, r#"{"x":[1]}"#).await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&body[..], br#"{"a":1}"#);
    }
    assert_eq!(
        server.connections(),
        1,
        "keep-alive: one connection for all"
    );
    assert_eq!(c.idle_connections(), 1);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 5);
    let r = reqs[0].to_ascii_lowercase();
    assert!(r.starts_with("post /v2/models/m/infer http/1.1\r\n"), "{r}");
    for h in [
        format!("host: {}\r\n", server.addr),
        "x-request-id: req-1\r\n".into(),
        "content-type: application/json\r\n".into(),
        "content-length: 9\r\n".into(),
    ] {
        assert!(r.contains(&h), "{h:?} missing in {r:?}");
    }
    assert!(r.ends_with("\r\n\r\n{\"x\":[1]}"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_answers_in_pieces_chunked_and_after_interim_ones() {
    let server = Server::start(|_, i| match i {
        // Content-Length, head and body split across writes.
        0 => Reply::Send(vec![
            b"HTTP/1.1 200 OK\r\ncontent-le".to_vec(),
            b"ngth: 11\r\n\r\nhello".to_vec(),
            b" world".to_vec(),
        ]),
        // Chunked, with an extension, chunks split mid-way, and a trailer.
        1 => Reply::Send(vec![
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhel".to_vec(),
            b"lo\r\n6\r\n world\r\n".to_vec(),
            b"0\r\nx-trailer: t\r\n\r\n".to_vec(),
        ]),
        // Interim answers first.
        2 => Reply::Send(vec![
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: x\r\n\r\n".to_vec(),
            ok("final"),
        ]),
        // No body on 204.
        3 => Reply::Send(vec![b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()]),
        // Error statuses are answers, not call errors.
        _ => Reply::Send(vec![
            b"HTTP/1.1 503 Busy\r\ncontent-length: 4\r\n\r\nbusy".to_vec()
        ]),
    })
    .await;
    let c = server.client();
    let expected: [(StatusCode, &[u8]); 5] = [
        (StatusCode::OK, b"hello world"),
        (StatusCode::CREATED, b"hello world"),
        (StatusCode::OK, b"final"),
        (StatusCode::NO_CONTENT, b""),
        (StatusCode::SERVICE_UNAVAILABLE, b"busy"),
    ];
    for (status, body) in expected {
        let got = post(&c, "{}").await.unwrap();
        assert_eq!((got.0, &got.1[..]), (status, body));
    }
    assert_eq!(
        server.connections(),
        1,
        "every framing left the connection reusable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_close_and_read_until_close_answers_are_not_pooled() {
    let server = Server::start(|_, _| {
        Reply::SendThenClose(vec![
            b"HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 2\r\n\r\nok".to_vec(),
        ])
    })
    .await;
    let c = server.client();
    for _ in 0..3 {
        let (status, body) = post(&c, "{}").await.unwrap();
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"ok"[..]));
        assert_eq!(c.idle_connections(), 0);
    }
    assert_eq!(server.connections(), 3);

    // No length: the body runs to the end of the stream.
    let server = Server::start(|_, _| {
        Reply::SendThenClose(vec![
            b"HTTP/1.1 200 OK\r\n\r\nuntil ".to_vec(),
            b"close".to_vec(),
        ])
    })
    .await;
    let c = server.client();
    for _ in 0..2 {
        let (_, body) = post(&c, "{}").await.unwrap();
        assert_eq!(&body[..], b"until close");
    }
    assert_eq!(server.connections(), 2);
    assert_eq!(c.idle_connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_server_closed_while_idle_is_not_used() {
    // The server answers keep-alive but then closes each connection after its first answer.
    let server = Server::start(|_, _| Reply::SendThenClose(vec![ok("1")])).await;
    let c = server.client();
    post(&c, "{}").await.unwrap();
    assert_eq!(c.idle_connections(), 1, "kept: the answer allowed it");
    // Let the server's FIN arrive while the connection sits in the pool.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, _) = post(&c, "{}").await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(server.connections(), 2);
    assert_eq!(
        server.requests().len(),
        2,
        "each request reached the server once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_connection_closed_without_an_answer_is_resent_once_on_a_new_one() {
    // Connection 0 answers its first request, then closes on the second without answering (the
    // race of a keep-alive close with our write); the new connection answers.
    let server = Server::start(|conn, i| match (conn, i) {
        (0, 0) => Reply::Send(vec![ok("first")]),
        (0, _) => Reply::Close,
        _ => Reply::Send(vec![ok("second")]),
    })
    .await;
    let c = server.client();
    assert_eq!(&post(&c, "{}").await.unwrap().1[..], b"first");
    assert_eq!(&post(&c, "{}").await.unwrap().1[..], b"second");
    assert_eq!(server.connections(), 2);
    assert_eq!(server.requests().len(), 3);

    // On a fresh connection the same failure is a transport error, not resent.
    let server = Server::start(|_, _| Reply::Close).await;
    let c = server.client();
    match post(&c, "{}").await {
        Err(CallError::Transport(m)) => assert!(m.contains("closed"), "{m}"),
        other => panic!("expected a transport error, got {other:?}"),
    }
    assert_eq!(server.requests().len(), 1);

    // Nor when the new connection fails the same way: one resend only.
    let server = Server::start(|conn, i| match (conn, i) {
        (0, 0) => Reply::Send(vec![ok("first")]),
        _ => Reply::Close,
    })
    .await;
    let c = server.client();
    post(&c, "{}").await.unwrap();
    assert!(matches!(post(&c, "{}").await, Err(CallError::Transport(_))));
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.connections(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_after_part_of_the_answer_is_a_transport_error() {
    let server = Server::start(|conn, i| match (conn, i) {
        (0, 0) => Reply::Send(vec![ok("first")]),
        _ => Reply::SendThenClose(vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc".to_vec()
        ]),
    })
    .await;
    let c = server.client();
    post(&c, "{}").await.unwrap();
    // On the reused connection: part of an answer came back, so no resend.
    match post(&c, "{}").await {
        Err(CallError::Transport(m)) => assert!(m.contains("3 of 10"), "{m}"),
        other => panic!("expected a transport error, got {other:?}"),
    }
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_never_answers_times_out_without_a_resend() {
    let server = Server::start(|_, i| match i {
        0 => Reply::Send(vec![ok("first")]),
        _ => Reply::Hang,
    })
    .await;
    let c = server.client();
    post(&c, "{}").await.unwrap();
    let uri = c.uri("/x").unwrap();
    let r = c
        .call(
            Method::POST,
            &uri,
            Some(Bytes::from_static(b"{}")),
            "id",
            Duration::from_millis(300),
        )
        .await;
    assert!(matches!(r, Err(CallError::Timeout)), "{r:?}");
    assert_eq!(server.requests().len(), 2, "sent once, never resent");
    assert_eq!(server.connections(), 1);
    assert_eq!(
        c.idle_connections(),
        0,
        "the timed-out connection is dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_port_is_a_connect_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let c = UpstreamClient::new(
        parse_base_url(&format!("http://127.0.0.1:{port}")).unwrap(),
        Duration::from_secs(2),
        Duration::from_secs(60),
        8,
    );
    match post(&c, "{}").await {
        Err(CallError::Connect(m)) => assert!(m.contains(&port.to_string()), "{m}"),
        other => panic!("expected a connect error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_over_the_cap_are_refused() {
    let big = "x".repeat(101);
    let chunked = format!(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n32\r\n{}\r\n33\r\n{}\r\n0\r\n\r\n",
        &big[..50],
        &big[..51]
    );
    let until_close = format!("HTTP/1.1 200 OK\r\n\r\n{big}");
    let server = Server::start(move |conn, _| match conn {
        0 => Reply::Send(vec![ok(&big)]),
        1 => Reply::Send(vec![chunked.clone().into_bytes()]),
        _ => Reply::SendThenClose(vec![until_close.clone().into_bytes()]),
    })
    .await;
    let c = server.client().with_max_answer_bytes(100);
    for _ in 0..3 {
        match post(&c, "{}").await {
            Err(CallError::Transport(m)) => assert!(m.contains("100-byte limit"), "{m}"),
            other => panic!("expected a transport error, got {other:?}"),
        }
    }
    // Each failure dropped its connection.
    assert_eq!(server.connections(), 3);
    assert_eq!(c.idle_connections(), 0);

    // Exactly at the cap is fine.
    let server = Server::start(|_, _| Reply::Send(vec![ok(&"y".repeat(100))])).await;
    let c = server.client().with_max_answer_bytes(100);
    assert_eq!(post(&c, "{}").await.unwrap().1.len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_answers_are_transport_errors() {
    let server =
        Server::start(|_, _| Reply::SendThenClose(vec![b"HTTP/1.1 2x0 OK\r\n\r\n".to_vec()])).await;
    let c = server.client();
    assert!(matches!(post(&c, "{}").await, Err(CallError::Transport(_))));
    let server = Server::start(|_, _| {
        Reply::SendThenClose(vec![
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n".to_vec(),
        ])
    })
    .await;
    let c = server.client();
    match post(&c, "{}").await {
        Err(CallError::Transport(m)) => assert!(m.contains("chunk size"), "{m}"),
        other => panic!("expected a transport error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_expire_and_the_pool_is_bounded() {
    let server = Server::start(|_, _| Reply::Send(vec![ok("1")])).await;
    let base = parse_base_url(&format!("http://{}", server.addr)).unwrap();
    // At most 2 idle connections, each for 200 ms.
    let c = UpstreamClient::new(base, Duration::from_secs(2), Duration::from_millis(200), 2);
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { post(&c, "{}").await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert!(c.idle_connections() <= 2);
    let before = server.connections();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(c.idle_connections(), 0, "expired connections are closed");
    post(&c, "{}").await.unwrap();
    assert_eq!(server.connections(), before + 1);
}
