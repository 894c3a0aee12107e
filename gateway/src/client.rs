//! A lean keep-alive HTTP/1.1 client for one upstream, telling connect failures (safe to retry)
//! apart from timeouts and answers (never retried).
//!
//! The calling task does the whole exchange itself: it takes an idle connection from the upstream's
//! pool (or connects), writes the request in one write (head and body together), reads and parses the
//! answer ([`httparse`] for the head; `Content-Length`, chunked and read-until-close bodies; 1xx
//! interim answers skipped) and puts the connection back if the answer allows. There is no connection
//! task, no channel between tasks and no wake-up of another task per call: the upstream hop costs
//! two socket writes/reads and one epoll wake-up of the caller. (hyper-util's pooled client, used
//! before, spent ~24 µs of CPU per call on this path against ~10 µs for this one; see
//! bench/gateway.md.)
//!
//! ## Errors and the one transparent resend
//!
//! - [`CallError::Connect`]: no connection could be made (refused, unreachable, DNS, connect
//!   timeout). Nothing reached the upstream, so the gateway may retry elsewhere.
//! - [`CallError::Timeout`]: the whole call (connect, send, answer) took longer than its deadline. The
//!   upstream may have acted on the request.
//! - [`CallError::Transport`]: anything else (a connection broken after the request was sent, an
//!   unreadable or oversized answer).
//!
//! A pooled connection may have been closed by the upstream while it sat idle (a server's keep-alive
//! timeout, a graceful restart). Before reuse, a connection whose peer already closed it is detected
//! without a syscall in the common case (tokio's cached readiness: a pending FIN makes it readable and
//! one non-blocking read then sees the end of stream) and dropped. The remaining race is the close
//! arriving while the request is being written. The rule for resending is therefore:
//!
//! **A request is resent, once and on a new connection, only if (1) it went out on a connection
//! reused from the pool, (2) not a single byte of answer came back, and (3) the failure was the
//! peer closing the connection: a write failing with a reset/broken pipe, or the first read seeing
//! end-of-stream or a reset.** A timeout is never resent (the deadline covers both attempts), nor is
//! any failure on a freshly made connection, nor one after part of an answer arrived.
//!
//! Why this is safe: an HTTP/1.1 server closes a keep-alive connection only between requests, so a
//! close before any answer byte on a connection that had been idle means the server closed it before
//! reading our request (which the kernel then discards with a reset). The only other way to see this
//! is a server that crashes while handling the request; the resend then either finds no server (a
//! `Connect` error) or a restarted one, and a prediction is a pure function of its input, so a
//! duplicate does no harm. hyper's pool makes the same trade for requests it had not yet written;
//! this client extends it to the write/close race, which on loopback is the common form of it.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::{Method, StatusCode, Uri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::debug;

/// Largest upstream answer body read, in bytes (by default).
pub const MAX_ANSWER_BYTES: usize = 64 << 20;

/// Largest answer head (status line and headers, 1xx heads included), in bytes.
const MAX_HEAD_BYTES: usize = 64 << 10;

/// Most headers in one answer head.
const MAX_HEADERS: usize = 64;

/// Longest chunk-size line (with extensions) or trailer line of a chunked answer.
const MAX_LINE_BYTES: usize = 4096;

/// A connection's read buffer is dropped rather than pooled when a large answer grew it past this.
const MAX_POOLED_BUFFER: usize = 64 << 10;

/// A plain-HTTP base URL: `http://host:port[/prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    /// `host:port`.
    pub authority: String,
    /// Path prefix without a trailing slash (often empty).
    pub prefix: String,
}

/// Parses a base URL; only `http://` is supported.
pub fn parse_base_url(url: &str) -> Result<BaseUrl, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?}: only http:// URLs are supported"))?;
    let (authority, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(format!("{url:?}: no host"));
    }
    authority
        .parse::<hyper::http::uri::Authority>()
        .map_err(|e| format!("{url:?}: {e}"))?;
    if prefix.contains(['?', '#']) {
        return Err(format!("{url:?}: no query or fragment allowed"));
    }
    Ok(BaseUrl {
        authority: authority.to_string(),
        prefix: prefix.to_string(),
    })
}

/// Why an upstream call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// No connection could be made: nothing was sent, so a retry is safe.
    #[error("connect failed: {0}")]
    Connect(String),
    /// The call did not finish in time (the upstream may have acted on it).
    #[error("timed out")]
    Timeout,
    /// The connection broke after the request was sent, or the answer was unreadable.
    #[error("{0}")]
    Transport(String),
}

/// One upstream's client with its own pool of idle keep-alive connections.
#[derive(Clone)]
pub struct UpstreamClient {
    base: BaseUrl,
    connect_timeout: Duration,
    max_answer: usize,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for UpstreamClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamClient")
            .field("base", &self.base)
            .finish()
    }
}

impl UpstreamClient {
    /// Builds a client. Connections are kept alive: at most `pool_max_idle` idle ones are kept, each
    /// for at most `pool_idle_timeout` (0 keeps none).
    pub fn new(
        base: BaseUrl,
        connect_timeout: Duration,
        pool_idle_timeout: Duration,
        pool_max_idle: usize,
    ) -> Self {
        Self {
            base,
            connect_timeout,
            max_answer: MAX_ANSWER_BYTES,
            pool: Arc::new(Pool {
                idle: Mutex::new(Vec::new()),
                max_idle: pool_max_idle,
                idle_timeout: pool_idle_timeout,
                reaper_started: AtomicBool::new(false),
            }),
        }
    }

    /// The same client with another limit on answer bodies (default [`MAX_ANSWER_BYTES`]); a larger
    /// answer fails with [`CallError::Transport`].
    pub fn with_max_answer_bytes(mut self, limit: usize) -> Self {
        self.max_answer = limit;
        self
    }

    /// The base URL.
    pub fn base(&self) -> &BaseUrl {
        &self.base
    }

    /// Idle connections in the pool now.
    pub fn idle_connections(&self) -> usize {
        self.pool.lock().len()
    }

    /// The absolute URI of `path` on this upstream, built once and reused for every call.
    pub fn uri(&self, path: &str) -> Result<Uri, String> {
        let uri = format!("http://{}{}{}", self.base.authority, self.base.prefix, path);
        uri.parse().map_err(|e| format!("{uri:?}: {e}"))
    }

    /// Sends one request to `uri` (from [`UpstreamClient::uri`]; only its path and query are used,
    /// the connection goes to this client's upstream) and reads the whole answer, all within
    /// `timeout`. A body is sent as `application/json`; `request_id` goes in `x-request-id` unless it
    /// is not a valid header value.
    pub async fn call(
        &self,
        method: Method,
        uri: &Uri,
        body: Option<Bytes>,
        request_id: &str,
        timeout: Duration,
    ) -> Result<(StatusCode, Bytes), CallError> {
        let request = self.encode(&method, uri, body.as_deref(), request_id);
        let head_only = method == Method::HEAD;
        match tokio::time::timeout(timeout, self.exchange(&request, head_only)).await {
            Ok(r) => r,
            Err(_) => Err(CallError::Timeout),
        }
    }

    /// The request's bytes: head and body in one buffer, for one write.
    fn encode(&self, method: &Method, uri: &Uri, body: Option<&[u8]>, request_id: &str) -> Vec<u8> {
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        let body_len = body.map_or(0, <[u8]>::len);
        let mut out = Vec::with_capacity(
            160 + target.len() + self.base.authority.len() + request_id.len() + body_len,
        );
        out.extend_from_slice(method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        out.extend_from_slice(self.base.authority.as_bytes());
        out.extend_from_slice(b"\r\naccept: application/json\r\n");
        if is_header_value(request_id) {
            out.extend_from_slice(b"x-request-id: ");
            out.extend_from_slice(request_id.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if body.is_some() {
            out.extend_from_slice(b"content-type: application/json\r\n");
        }
        if body.is_some() || !matches!(*method, Method::GET | Method::HEAD) {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(body_len.to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if let Some(b) = body {
            out.extend_from_slice(b);
        }
        out
    }

    /// One exchange on a pooled connection, resent once on a new connection when the pooled one
    /// turns out to have been closed by the upstream (see the module docs for the rule).
    async fn exchange(
        &self,
        request: &[u8],
        head_only: bool,
    ) -> Result<(StatusCode, Bytes), CallError> {
        if let Some(mut conn) = self.pool.checkout() {
            match conn.roundtrip(request, head_only, self.max_answer).await {
                Ok(answer) => return Ok(self.finish(conn, answer)),
                Err(e) if e.peer_closed_before_answer => {
                    debug!(upstream = %self.base.authority, error = %e.message,
                           "pooled connection was closed by the upstream; resending on a new one");
                }
                Err(e) => return Err(CallError::Transport(e.message)),
            }
        }
        let mut conn = self.connect().await?;
        match conn.roundtrip(request, head_only, self.max_answer).await {
            Ok(answer) => Ok(self.finish(conn, answer)),
            Err(e) => Err(CallError::Transport(e.message)),
        }
    }

    /// Returns the connection to the pool if the answer left it reusable.
    fn finish(&self, mut conn: Conn, answer: Answer) -> (StatusCode, Bytes) {
        if answer.reusable {
            if conn.buf.capacity() > MAX_POOLED_BUFFER {
                conn.buf = Vec::new();
            }
            self.pool.checkin(conn);
        }
        (answer.status, answer.body)
    }

    async fn connect(&self) -> Result<Conn, CallError> {
        let authority = self.base.authority.as_str();
        let stream =
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(authority)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return Err(CallError::Connect(format!("{authority}: {e}"))),
                Err(_) => {
                    return Err(CallError::Connect(format!(
                        "{authority}: no connection within {:?}",
                        self.connect_timeout
                    )))
                }
            };
        // Requests go out in one write; waiting for more (Nagle) would only add latency.
        let _ = stream.set_nodelay(true);
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }
}

/// Whether `s` can be sent as a header value as is (the check `HeaderValue::from_str` makes).
fn is_header_value(s: &str) -> bool {
    s.bytes().all(|b| (b >= 0x20 && b != 0x7f) || b == b'\t')
}

/// The idle connections of one upstream, most recently used last.
struct Pool {
    idle: Mutex<Vec<Idle>>,
    max_idle: usize,
    idle_timeout: Duration,
    reaper_started: AtomicBool,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        // The vector stays consistent whatever panicked while holding the lock.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most recently used idle connection that is neither expired nor closed by its peer.
    fn checkout(&self) -> Option<Conn> {
        let now = Instant::now();
        loop {
            let mut idle = self.lock();
            let entry = idle.pop()?;
            if now.saturating_duration_since(entry.since) >= self.idle_timeout {
                // The others went idle earlier still: expired too. Closed outside the lock.
                let expired = std::mem::take(&mut *idle);
                drop(idle);
                drop(expired);
                return None;
            }
            drop(idle);
            if entry.conn.is_open() {
                return Some(entry.conn);
            }
        }
    }

    fn checkin(self: &Arc<Self>, conn: Conn) {
        if self.max_idle == 0 || self.idle_timeout.is_zero() {
            return;
        }
        let mut idle = self.lock();
        if idle.len() >= self.max_idle {
            return;
        }
        idle.push(Idle {
            conn,
            since: Instant::now(),
        });
        drop(idle);
        if !self.reaper_started.load(Ordering::Relaxed) {
            self.start_reaper();
        }
    }

    /// Closes expired idle connections in the background, so that an upstream that gets no more
    /// calls does not keep them open forever. Ends when the client is dropped.
    fn start_reaper(self: &Arc<Self>) {
        if self.reaper_started.swap(true, Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let pool = Arc::downgrade(self);
        let every = (self.idle_timeout / 2).max(Duration::from_millis(10));
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(pool) = pool.upgrade() else { break };
                let now = Instant::now();
                let mut idle = pool.lock();
                let keep_from = idle
                    .iter()
                    .position(|e| now.saturating_duration_since(e.since) < pool.idle_timeout)
                    .unwrap_or(idle.len());
                let expired: Vec<Idle> = idle.drain(..keep_from).collect();
                drop(idle);
                drop(expired);
            }
        });
    }
}

/// One connection and its read buffer.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// A parsed answer.
struct Answer {
    status: StatusCode,
    body: Bytes,
    /// The connection may carry another request.
    reusable: bool,
}

/// A failed exchange.
struct RoundtripError {
    message: String,
    /// The peer closed the connection (end of stream, reset, broken pipe) before any answer byte:
    /// the request may be resent if the connection had been idle in the pool.
    peer_closed_before_answer: bool,
}

impl RoundtripError {
    fn other(message: String) -> Self {
        Self {
            message,
            peer_closed_before_answer: false,
        }
    }
}

fn is_peer_close(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

/// How an answer's body is delimited.
enum Framing {
    Empty,
    Length(usize),
    Chunked,
    UntilClose,
}

/// What the answer head says.
struct Head {
    status: StatusCode,
    framing: Framing,
    keep_alive: bool,
}

impl Conn {
    /// Whether the peer has not closed this idle connection. Costs no syscall unless the socket has
    /// become readable (a FIN, or leftover bytes) since it was last read to exhaustion.
    fn is_open(&self) -> bool {
        let mut probe = [0u8; 8];
        match self.stream.try_read(&mut probe) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => true,
            // End of stream, an error, or bytes nobody asked for: not reusable.
            _ => false,
        }
    }

    /// Reads more bytes into the buffer; 0 means end of stream.
    async fn fill(&mut self) -> io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < 2048 {
            self.buf.reserve(8192);
        }
        self.stream.read_buf(&mut self.buf).await
    }

    async fn roundtrip(
        &mut self,
        request: &[u8],
        head_only: bool,
        max_answer: usize,
    ) -> Result<Answer, RoundtripError> {
        if let Err(e) = self.stream.write_all(request).await {
            return Err(RoundtripError {
                message: format!("sending the request: {e}"),
                peer_closed_before_answer: is_peer_close(e.kind()),
            });
        }
        self.buf.clear();
        let (head, mut pos) = self.read_head(head_only).await?;
        let (body, clean_end) = match head.framing {
            Framing::Empty => (Bytes::new(), true),
            Framing::Length(len) => {
                if len > max_answer {
                    return Err(too_large(max_answer));
                }
                while self.buf.len() - pos < len {
                    self.fill_or(
                        |n| format!("answer ended after {n} of {len} body bytes"),
                        pos,
                    )
                    .await?;
                }
                let body = Bytes::copy_from_slice(&self.buf[pos..pos + len]);
                pos += len;
                (body, true)
            }
            Framing::Chunked => {
                let (body, end) = self.read_chunked(pos, max_answer).await?;
                pos = end;
                (body, true)
            }
            Framing::UntilClose => {
                loop {
                    if self.buf.len() - pos > max_answer {
                        return Err(too_large(max_answer));
                    }
                    match self.fill().await {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) => {
                            return Err(RoundtripError::other(format!("reading the answer: {e}")))
                        }
                    }
                }
                (Bytes::copy_from_slice(&self.buf[pos..]), false)
            }
        };
        // Bytes after the answer (nothing was asked for them) make the connection unusable.
        let reusable = head.keep_alive && clean_end && pos == self.buf.len();
        self.buf.clear();
        Ok(Answer {
            status: head.status,
            body,
            reusable,
        })
    }

    /// Reads more or fails with `ended(bytes of body read)` on end of stream.
    async fn fill_or(
        &mut self,
        ended: impl FnOnce(usize) -> String,
        body_start: usize,
    ) -> Result<(), RoundtripError> {
        match self.fill().await {
            Ok(0) => Err(RoundtripError::other(ended(
                self.buf.len().saturating_sub(body_start),
            ))),
            Ok(_) => Ok(()),
            Err(e) => Err(RoundtripError::other(format!("reading the answer: {e}"))),
        }
    }

    /// Reads and parses the final answer head (1xx heads skipped); returns it and where the body
    /// starts in the buffer.
    async fn read_head(&mut self, head_only: bool) -> Result<(Head, usize), RoundtripError> {
        let mut start = 0;
        loop {
            // Nothing buffered yet (the usual first pass: the answer has not been read) is nothing
            // to parse.
            let parsed = if self.buf.len() > start {
                parse_head(&self.buf[start..], head_only)?
            } else {
                None
            };
            if let Some((head, len)) = parsed {
                match head {
                    Some(head) => return Ok((head, start + len)),
                    None => {
                        // An interim (1xx) answer: the final one follows.
                        start += len;
                        continue;
                    }
                }
            }
            if self.buf.len() > MAX_HEAD_BYTES {
                return Err(RoundtripError::other(format!(
                    "answer head over {MAX_HEAD_BYTES} bytes"
                )));
            }
            match self.fill().await {
                Ok(0) if self.buf.is_empty() => {
                    return Err(RoundtripError {
                        message: "connection closed before an answer".into(),
                        peer_closed_before_answer: true,
                    })
                }
                Ok(0) => {
                    return Err(RoundtripError::other(
                        "connection closed in the middle of the answer head".into(),
                    ))
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(RoundtripError {
                        message: format!("reading the answer: {e}"),
                        peer_closed_before_answer: self.buf.is_empty() && is_peer_close(e.kind()),
                    })
                }
            }
        }
    }

    /// Decodes a chunked body starting at `pos`; consumed bytes are dropped from the buffer as it
    /// goes, so it holds at most one chunk. Returns the body and where the answer ends in the buffer.
    async fn read_chunked(
        &mut self,
        mut pos: usize,
        max_answer: usize,
    ) -> Result<(Bytes, usize), RoundtripError> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line(&mut pos).await?;
            let size_text = line.split(|&b| b == b';').next().unwrap_or_default();
            let size = parse_chunk_size(size_text).ok_or_else(|| {
                RoundtripError::other(format!(
                    "bad chunk size line {:?}",
                    String::from_utf8_lossy(&line)
                ))
            })?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.read_line(&mut pos).await?.is_empty() {}
                return Ok((Bytes::from(body), pos));
            }
            if size > max_answer.saturating_sub(body.len()) {
                return Err(too_large(max_answer));
            }
            while self.buf.len() - pos < size.saturating_add(2) {
                self.compact(&mut pos);
                self.fill_or(|_| "answer ended inside a chunk".into(), 0)
                    .await?;
            }
            if &self.buf[pos + size..pos + size + 2] != b"\r\n" {
                return Err(RoundtripError::other("chunk not followed by CRLF".into()));
            }
            body.extend_from_slice(&self.buf[pos..pos + size]);
            pos += size + 2;
        }
    }

    /// The next CRLF-terminated line at `pos` (without the CRLF), moving `pos` past it.
    async fn read_line(&mut self, pos: &mut usize) -> Result<Vec<u8>, RoundtripError> {
        loop {
            if let Some(i) = self.buf[*pos..].windows(2).position(|w| w == b"\r\n") {
                let line = self.buf[*pos..*pos + i].to_vec();
                *pos += i + 2;
                return Ok(line);
            }
            if self.buf.len() - *pos > MAX_LINE_BYTES {
                return Err(RoundtripError::other(format!(
                    "chunked answer line over {MAX_LINE_BYTES} bytes"
                )));
            }
            self.compact(pos);
            self.fill_or(|_| "answer ended inside its chunked framing".into(), 0)
                .await?;
        }
    }

    /// Drops the consumed bytes before `pos` from the buffer.
    fn compact(&mut self, pos: &mut usize) {
        if *pos > 0 {
            self.buf.drain(..*pos);
            *pos = 0;
        }
    }
}

fn too_large(limit: usize) -> RoundtripError {
    RoundtripError::other(format!("answer over the {limit}-byte limit"))
}

/// A chunk size: hexadecimal digits with optional surrounding whitespace.
fn parse_chunk_size(text: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(text).ok()?.trim_matches([' ', '\t']);
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    usize::from_str_radix(text, 16).ok()
}

/// Parses an answer head at the start of `buf`: `None` if incomplete, else the head (`None` for an
/// interim 1xx answer) and its length in bytes.
#[allow(clippy::type_complexity)]
fn parse_head(
    buf: &[u8],
    head_only: bool,
) -> Result<Option<(Option<Head>, usize)>, RoundtripError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(RoundtripError::other(format!("malformed answer head: {e}"))),
    };
    let code = resp.code.unwrap_or_default();
    if code == 101 {
        return Err(RoundtripError::other(
            "unexpected 101 Switching Protocols".into(),
        ));
    }
    if (100..200).contains(&code) {
        return Ok(Some((None, len)));
    }
    let status = StatusCode::from_u16(code)
        .map_err(|_| RoundtripError::other(format!("bad answer status {code}")))?;
    let mut content_length: Option<usize> = None;
    let mut transfer_encoding: Option<bool> = None; // Some(chunked last)
    let mut close = false;
    let mut keep_alive = false;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .map(|v| v.trim_matches([' ', '\t']))
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or_else(|| {
                    RoundtripError::other(format!(
                        "bad content-length {:?}",
                        String::from_utf8_lossy(h.value)
                    ))
                })?;
            if content_length.is_some_and(|c| c != n) {
                return Err(RoundtripError::other(
                    "conflicting content-length headers".into(),
                ));
            }
            content_length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let last = h.value.rsplit(|&b| b == b',').next().unwrap_or_default();
            transfer_encoding = Some(trim(last).eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = trim(token);
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    // HTTP/1.1 keeps the connection unless told otherwise; HTTP/1.0 only when asked to.
    let mut keep_alive = !close && (resp.version == Some(1) || keep_alive);
    let framing = if head_only || code == 204 || code == 304 {
        Framing::Empty
    } else {
        match (transfer_encoding, content_length) {
            (Some(true), cl) => {
                // Both headers: a smuggling risk; read it as chunked but do not reuse.
                keep_alive &= cl.is_none();
                Framing::Chunked
            }
            (Some(false), _) => Framing::UntilClose,
            (None, Some(n)) => Framing::Length(n),
            (None, None) => Framing::UntilClose,
        }
    };
    if matches!(framing, Framing::UntilClose) {
        keep_alive = false;
    }
    Ok(Some((
        Some(Head {
            status,
            framing,
            keep_alive,
        }),
        len,
    )))
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        assert_eq!(
            parse_base_url("http://127.0.0.1:3000").unwrap(),
            BaseUrl {
                authority: "127.0.0.1:3000".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            parse_base_url("http://svc:80/model/").unwrap().prefix,
            "/model"
        );
        assert!(parse_base_url("https://x").is_err());
        assert!(parse_base_url("http://").is_err());
        assert!(parse_base_url("http://a b").is_err());
    }

    fn head(text: &str) -> Head {
        match parse_head(text.as_bytes(), false) {
            Ok(Some((Some(h), n))) => {
                assert_eq!(n, text.len());
                h
            }
            _ => panic!("not a final head: {text:?}"),
        }
    }

    #[test]
    fn reads_framing_and_keep_alive_from_the_head() {
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n");
        assert!(matches!(h.framing, Framing::Length(12)) && h.keep_alive);
        assert_eq!(h.status, StatusCode::OK);
        let h = head("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n");
        assert!(matches!(h.framing, Framing::Chunked) && h.keep_alive);
        let h = head("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n");
        assert!(matches!(h.framing, Framing::Chunked) && !h.keep_alive);
        let h =
            head("HTTP/1.1 500 x\r\nConnection: Keep-Alive, Close\r\ncontent-length: 0\r\n\r\n");
        assert!(matches!(h.framing, Framing::Length(0)) && !h.keep_alive);
        let h = head("HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\n");
        assert!(!h.keep_alive);
        let h = head("HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 1\r\n\r\n");
        assert!(h.keep_alive);
        let h = head("HTTP/1.1 200 OK\r\n\r\n");
        assert!(matches!(h.framing, Framing::UntilClose) && !h.keep_alive);
        let h = head("HTTP/1.1 204 No Content\r\n\r\n");
        assert!(matches!(h.framing, Framing::Empty) && h.keep_alive);
        assert!(matches!(
            parse_head(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200", false),
            Ok(Some((None, 25)))
        ));
        assert!(matches!(
            parse_head(b"HTTP/1.1 200 OK\r\nconte", false),
            Ok(None)
        ));
        for bad in [
            "HTTP/1.1 200 OK\r\ncontent-length: 1, 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
            "SMTP 200 OK\r\n\r\n",
        ] {
            assert!(parse_head(bad.as_bytes(), false).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_chunk_sizes() {
        assert_eq!(parse_chunk_size(b"1a"), Some(26));
        assert_eq!(parse_chunk_size(b" 0 "), Some(0));
        assert_eq!(parse_chunk_size(b""), None);
        assert_eq!(parse_chunk_size(b"+1"), None);
        assert_eq!(parse_chunk_size(b"fffffffffffffffffffff"), None);
    }

    #[test]
    fn encodes_one_request_buffer() {
        let c = UpstreamClient::new(
            parse_base_url("http://h:1/p").unwrap(),
            Duration::from_secs(1),
            Duration::from_secs(1),
            1,
        );
        let uri = c.uri("/v2/models/m/infer").unwrap();
        let req = c.encode(&Method::POST, &uri, Some(b"{}"), "id-1");
        assert_eq!(
            String::from_utf8(req).unwrap(),
            "POST /p/v2/models/m/infer HTTP/1.1\r\nhost: h:1\r\naccept: application/json\r\n\
             x-request-id: id-1\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
        );
        let req = c.encode(&Method::GET, &uri, None, "bad\r\nid");
        assert_eq!(
            String::from_utf8(req).unwrap(),
            "GET /p/v2/models/m/infer HTTP/1.1\r\nhost: h:1\r\naccept: application/json\r\n\r\n"
        );
    }
}
