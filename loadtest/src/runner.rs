//! The load loop: one task and one HTTP/1.1 keep-alive connection per virtual client.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{sleep, sleep_until, timeout, Instant};

use crate::config::{Config, Mode};
use crate::report::{percentile_curve, summarize, ErrorCounts, Report, REPORT_SCHEMA};
use crate::{Error, Result};

/// Largest recordable latency: one hour, in microseconds.
const MAX_LATENCY_US: u64 = 3_600_000_000;
/// Pause after a failed connect before the next attempt, so a dead server is not hammered.
const CONNECT_BACKOFF: Duration = Duration::from_millis(10);

/// Counters shared by all connections.
struct Shared {
    /// Measured requests claimed so far (the `max_requests` bound).
    tickets: AtomicU64,
    /// Answers received, warm-up included (for the progress line).
    answers: AtomicU64,
    /// Errors, warm-up included (for the progress line).
    errors: AtomicU64,
}

/// Fixed for the run; shared by all connections.
struct Plan {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    bodies: Vec<Bytes>,
    host: String,
    port: u16,
    connections: usize,
    mode: Mode,
    start: Instant,
    measure_start: Instant,
    end: Option<Instant>,
    max_requests: Option<u64>,
    timeout: Duration,
    connect_timeout: Duration,
}

impl Plan {
    fn claim_ticket(&self, shared: &Shared) -> bool {
        match self.max_requests {
            None => true,
            Some(max) => shared.tickets.fetch_add(1, Ordering::Relaxed) < max,
        }
    }
}

/// What one connection measured.
struct ConnResult {
    histogram: Histogram<u64>,
    status: Vec<u64>,
    errors: ErrorCounts,
    missed: u64,
    last_answer: Option<Instant>,
}

/// Outcome of one request attempt.
enum Outcome {
    Answer(u16),
    Timeout,
    Io,
}

fn new_histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).map_err(|e| Error::Histogram(e.to_string()))
}

/// Runs the load described by `config` on a tokio runtime built here: a current-thread runtime
/// for `threads <= 1`, else a multi-thread runtime with `threads` workers.
pub fn run_blocking(config: Config, threads: usize) -> Result<Report> {
    let rt = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    rt.block_on(run(config))
}

/// Runs the load described by `config` on the current tokio runtime and returns its report.
pub async fn run(config: Config) -> Result<Report> {
    config.validate()?;
    let bodies = config.body.build_pool()?;
    let method = config.effective_method();

    let mut headers = HeaderMap::new();
    let host = HeaderValue::from_str(&config.target.authority)
        .map_err(|e| Error::Config(format!("bad host {:?}: {e}", config.target.authority)))?;
    headers.insert(HOST, host);
    if !matches!(config.body, crate::BodySpec::Empty) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    for (name, value) in &config.headers {
        headers.insert(name.clone(), value.clone());
    }

    let start = Instant::now();
    let measure_start = start + config.warmup;
    let plan = Arc::new(Plan {
        method: method.clone(),
        uri: config.target.path_and_query.parse().map_err(|e| {
            Error::Config(format!("bad path {:?}: {e}", config.target.path_and_query))
        })?,
        headers,
        bodies,
        host: config.target.host.clone(),
        port: config.target.port,
        connections: config.connections,
        mode: config.mode,
        start,
        measure_start,
        end: config.duration.map(|d| measure_start + d),
        max_requests: config.max_requests,
        timeout: config.timeout,
        connect_timeout: config.connect_timeout,
    });
    let shared = Arc::new(Shared {
        tickets: AtomicU64::new(0),
        answers: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    });
    tracing::debug!(connections = config.connections, ?config.mode, "starting load");

    let progress = config
        .progress
        .then(|| tokio::spawn(progress_loop(plan.clone(), shared.clone())));

    let mut handles = Vec::with_capacity(config.connections);
    for id in 0..config.connections {
        handles.push(tokio::spawn(connection(id, plan.clone(), shared.clone())));
    }
    let mut histogram = new_histogram()?;
    let mut status = vec![0u64; 1000];
    let mut errors = ErrorCounts::default();
    let mut missed = 0;
    let mut last_answer: Option<Instant> = None;
    let mut first_error = None;
    for h in handles {
        match h.await {
            Ok(Ok(r)) => {
                histogram
                    .add(&r.histogram)
                    .map_err(|e| Error::Histogram(e.to_string()))?;
                for (s, n) in status.iter_mut().zip(&r.status) {
                    *s += n;
                }
                errors.connect += r.errors.connect;
                errors.timeout += r.errors.timeout;
                errors.io += r.errors.io;
                missed += r.missed;
                last_answer = last_answer.max(r.last_answer);
            }
            Ok(Err(e)) => first_error = first_error.or(Some(e)),
            Err(e) => first_error = first_error.or(Some(Error::Task(e.to_string()))),
        }
    }
    if let Some(p) = progress {
        p.abort();
    }
    if let Some(e) = first_error {
        return Err(e);
    }

    let finished = Instant::now();
    let measured_end = match plan.end {
        Some(end) => last_answer.map_or(end, |a| a.max(end)).min(finished),
        None => last_answer.unwrap_or(finished),
    };
    let duration_s = measured_end
        .saturating_duration_since(measure_start)
        .as_secs_f64();
    let requests: u64 = status.iter().sum();
    let ok: u64 = status[200..300].iter().sum();
    let rows = config.body.rows_per_request();
    let per_s = |n: u64| {
        if duration_s > 0.0 {
            n as f64 / duration_s
        } else {
            0.0
        }
    };
    Ok(Report {
        schema: REPORT_SCHEMA.to_string(),
        label: config.label.clone(),
        method: method.to_string(),
        url: config.target.url.clone(),
        mode: match config.mode {
            Mode::Closed => "closed".into(),
            Mode::Open { .. } => "open".into(),
        },
        connections: config.connections,
        rate: match config.mode {
            Mode::Closed => None,
            Mode::Open { rate } => Some(rate),
        },
        warmup_s: config.warmup.as_secs_f64(),
        duration_s,
        rows_per_request: rows,
        requests,
        ok,
        req_per_s: per_s(requests),
        rows_per_s: per_s(ok) * rows as f64,
        latency_ms: summarize(&histogram),
        status: status
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(code, n)| (code.to_string(), *n))
            .collect(),
        errors,
        missed,
        percentiles: percentile_curve(&histogram),
    })
}

/// Prints a progress line on stderr every second until aborted.
async fn progress_loop(plan: Arc<Plan>, shared: Arc<Shared>) {
    let mut last = 0u64;
    let mut tick =
        tokio::time::interval_at(plan.start + Duration::from_secs(1), Duration::from_secs(1));
    loop {
        let now = tick.tick().await;
        let answers = shared.answers.load(Ordering::Relaxed);
        let errors = shared.errors.load(Ordering::Relaxed);
        let phase = if now < plan.measure_start {
            "warm-up"
        } else {
            "measure"
        };
        eprintln!(
            "[{:>4.0}s] {phase:<7} {answers:>10} answers  {:>9} req/s  {errors} errors",
            now.duration_since(plan.start).as_secs_f64(),
            answers - last,
        );
        last = answers;
    }
}

/// One HTTP/1.1 connection, driven inside the task of its virtual client (no spawned connection
/// task: one task per client keeps a request's wake-ups inside that task).
struct Client {
    sender: SendRequest<Full<Bytes>>,
    conn: Connection<TokioIo<TcpStream>, Full<Bytes>>,
    /// The connection future has completed: the connection is unusable.
    done: bool,
}

impl Client {
    /// Whether the connection can carry another request. Polls the connection once without
    /// waiting, so that a keep-alive connection the server closed while idle is noticed here and
    /// not charged as a failed request.
    async fn usable(&mut self) -> bool {
        if self.done || self.sender.is_closed() {
            return false;
        }
        tokio::select! {
            biased;
            _ = &mut self.conn => {
                self.done = true;
                false
            }
            _ = std::future::ready(()) => !self.sender.is_closed(),
        }
    }
}

async fn connect(plan: &Plan) -> Option<Client> {
    let attempt = async {
        let stream = TcpStream::connect((plan.host.as_str(), plan.port))
            .await
            .ok()?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .ok()?;
        Some(Client {
            sender,
            conn,
            done: false,
        })
    };
    timeout(plan.connect_timeout, attempt).await.ok().flatten()
}

/// Sends one request on `client` and reads the whole answer.
async fn exchange(plan: &Plan, client: &mut Client, body: Bytes) -> Outcome {
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = plan.method.clone();
    *request.uri_mut() = plan.uri.clone();
    *request.headers_mut() = plan.headers.clone();
    let Client { sender, conn, done } = client;
    let work = async {
        sender.ready().await.map_err(|_| ())?;
        let response = sender.send_request(request).await.map_err(|_| ())?;
        let status = response.status().as_u16();
        response.into_body().collect().await.map_err(|_| ())?;
        Ok::<u16, ()>(status)
    };
    let both = async {
        tokio::pin!(work);
        tokio::select! {
            biased;
            r = &mut work => r,
            _ = conn => {
                // The connection ended (e.g. the server closed it after this answer): whatever it
                // delivered is still read; without it the request fails.
                *done = true;
                work.await
            }
        }
    };
    match timeout(plan.timeout, both).await {
        Ok(Ok(status)) => Outcome::Answer(status),
        Ok(Err(())) => Outcome::Io,
        Err(_) => Outcome::Timeout,
    }
}

/// One virtual client: connects, then sends requests until the run's bounds are reached.
async fn connection(id: usize, plan: Arc<Plan>, shared: Arc<Shared>) -> Result<ConnResult> {
    let mut r = ConnResult {
        histogram: new_histogram()?,
        status: vec![0; 1000],
        errors: ErrorCounts::default(),
        missed: 0,
        last_answer: None,
    };
    let mut client: Option<Client> = None;
    let mut body_index = id % plan.bodies.len().max(1);
    // Open loop: this connection's share of the rate, staggered against the others.
    let interval = match plan.mode {
        Mode::Closed => None,
        Mode::Open { rate } => Some(Duration::from_secs_f64(plan.connections as f64 / rate)),
    };
    let first_send = match interval {
        Some(iv) => plan.start + iv.mul_f64(id as f64 / plan.connections as f64),
        None => plan.start,
    };
    let mut k: u32 = 0;
    loop {
        // When this request should go out.
        let intended = match interval {
            Some(iv) => first_send + iv * k,
            None => Instant::now(),
        };
        k = k.saturating_add(1);
        if plan.end.is_some_and(|end| intended >= end) {
            break;
        }
        let measured = intended >= plan.measure_start;
        if measured && !plan.claim_ticket(&shared) {
            break;
        }
        if interval.is_some() {
            sleep_until(intended).await;
            // Open loop behind schedule: never run on past the end by more than one timeout.
            if let (Some(end), Some(iv)) = (plan.end, interval) {
                let now = Instant::now();
                if now > end + plan.timeout {
                    let left =
                        end.saturating_duration_since(intended).as_secs_f64() / iv.as_secs_f64();
                    if measured {
                        r.missed += left.ceil().max(1.0) as u64;
                    }
                    break;
                }
            }
        }
        // (Re)connect when needed. A closed keep-alive connection is not an error by itself.
        if let Some(c) = client.as_mut() {
            if !c.usable().await {
                client = None;
            }
        }
        if client.is_none() {
            client = connect(&plan).await;
            if client.is_none() {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                if measured {
                    r.errors.connect += 1;
                }
                let pause = match plan.end {
                    Some(end) => CONNECT_BACKOFF.min(end.saturating_duration_since(Instant::now())),
                    None => CONNECT_BACKOFF,
                };
                sleep(pause).await;
                continue;
            }
        }
        let Some(c) = client.as_mut() else { continue };
        let body = plan.bodies[body_index].clone();
        body_index = (body_index + 1) % plan.bodies.len();
        let sent = Instant::now();
        let outcome = exchange(&plan, c, body).await;
        let done = Instant::now();
        match outcome {
            Outcome::Answer(status) => {
                shared.answers.fetch_add(1, Ordering::Relaxed);
                if measured {
                    let since = if interval.is_some() { intended } else { sent };
                    let us = done.saturating_duration_since(since).as_micros();
                    let us = u64::try_from(us)
                        .unwrap_or(u64::MAX)
                        .clamp(1, MAX_LATENCY_US);
                    r.histogram.saturating_record(us);
                    if let Some(slot) = r.status.get_mut(status as usize) {
                        *slot += 1;
                    }
                    r.last_answer = Some(done);
                }
            }
            Outcome::Timeout | Outcome::Io => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                if measured {
                    if matches!(outcome, Outcome::Timeout) {
                        r.errors.timeout += 1;
                    } else {
                        r.errors.io += 1;
                    }
                }
                // The connection is in an unknown state: start afresh.
                client = None;
            }
        }
    }
    Ok(r)
}
