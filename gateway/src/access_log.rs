//! The access log: one structured line per predict request (request id, app, upstream, status,
//! latency), written the way nginx's `access_log ... buffer= flush=` does it.
//!
//! A line is formatted by hand into a shared in-memory buffer (the date-time prefix of its timestamp is
//! cached per second); a background thread writes the buffer out when it passes [`FLUSH_BYTES`], every
//! [`FLUSH_INTERVAL`], on [`AccessLog::flush`] and when the log is dropped. A request therefore pays a
//! few hundred instructions and no system call for its line, where a `tracing` event through
//! tracing-subscriber's formatter cost ~10k instructions and one `write(2)` to stderr.
//!
//! The lines look like the `tracing` text (or JSON) lines around them: target
//! [`TARGET`], level INFO, message `predict`. Values a client controls (the request id) are quoted and
//! escaped, so no value can end a line early or pass itself off as another field.
//!
//! If the sink cannot keep up (stderr blocked) and more than [`MAX_PENDING_BYTES`] are waiting, further
//! lines are dropped and counted; the count is written as a line of its own once the sink drains.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The `tracing` target of the access log lines: `RUST_LOG=warn` or `RUST_LOG=info,homeml_gateway::access=off`
/// silences them (for an [`AccessLog`] that follows the filter).
pub const TARGET: &str = "homeml_gateway::access";

/// The buffer is written out when it holds at least this many bytes.
pub const FLUSH_BYTES: usize = 64 * 1024;

/// The buffer is written out at least this often while it holds anything.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(200);

/// Lines waiting beyond this many bytes (the sink is not keeping up) are dropped and counted.
pub const MAX_PENDING_BYTES: usize = 8 << 20;

/// How access lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLogFormat {
    /// `2026-11-29T01:02:03.456789Z  INFO homeml_gateway::access: predict request_id=... app=...`,
    /// as tracing-subscriber's plain text lines.
    Text,
    /// One JSON object per line, as tracing-subscriber's JSON lines.
    Json,
}

/// One predict request, as logged.
#[derive(Debug, Clone, Copy)]
pub struct AccessRecord<'a> {
    /// The request id (the client's `x-request-id` or a generated one).
    pub request_id: &'a str,
    /// The app.
    pub app: &'a str,
    /// The upstream that answered or failed, `none` when no upstream was called.
    pub upstream: &'a str,
    /// The HTTP status returned to the client.
    pub status: u16,
    /// Time from the request's arrival to its answer, in microseconds.
    pub latency_us: u64,
}

/// The buffered access log. Dropping it writes out every line appended so far.
pub struct AccessLog {
    shared: Arc<Shared>,
    format: AccessLogFormat,
    follow_filter: bool,
    flush_bytes: usize,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog")
            .field("format", &self.format)
            .field("follow_filter", &self.follow_filter)
            .finish_non_exhaustive()
    }
}

struct Shared {
    pending: Mutex<Pending>,
    /// Wakes the writer thread: the buffer passed its threshold, or the log is closing.
    wake: Condvar,
    /// Held while a batch is taken and written, so that batches reach the sink in order.
    sink: Mutex<Sink>,
}

struct Pending {
    data: Vec<u8>,
    dropped: u64,
    closed: bool,
    clock: ClockCache,
}

struct Sink {
    out: Box<dyn Write + Send>,
    /// The buffer of the previous batch, swapped back in to be reused.
    spare: Vec<u8>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while a line was appended leaves at worst a partial line: keep logging.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl AccessLog {
    /// An access log to stderr that writes a line only when the `tracing` filter enables INFO for
    /// [`TARGET`] (so `RUST_LOG=warn` silences it, as it silences every other info line).
    pub fn stderr(format: AccessLogFormat) -> Self {
        let mut log = Self::new(format, Box::new(std::io::stderr()));
        log.follow_filter = true;
        log
    }

    /// An access log to `sink` that writes every line, whatever the `tracing` filter says.
    pub fn new(format: AccessLogFormat, sink: Box<dyn Write + Send>) -> Self {
        Self::with_flush_policy(format, sink, FLUSH_BYTES, FLUSH_INTERVAL)
    }

    fn with_flush_policy(
        format: AccessLogFormat,
        sink: Box<dyn Write + Send>,
        flush_bytes: usize,
        interval: Duration,
    ) -> Self {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                data: Vec::with_capacity(flush_bytes + 1024),
                dropped: 0,
                closed: false,
                clock: ClockCache::default(),
            }),
            wake: Condvar::new(),
            sink: Mutex::new(Sink {
                out: sink,
                spare: Vec::with_capacity(flush_bytes + 1024),
            }),
        });
        let s = shared.clone();
        // Without the thread (it could not be started) lines are still written: by `flush` and drop.
        let writer = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || writer_loop(&s, flush_bytes, interval))
            .ok();
        Self {
            shared,
            format,
            follow_filter: false,
            flush_bytes,
            writer,
        }
    }

    /// Whether a line would be written now (always, unless the log follows the `tracing` filter and
    /// that disables INFO for [`TARGET`]).
    pub fn enabled(&self) -> bool {
        !self.follow_filter || tracing::enabled!(target: TARGET, tracing::Level::INFO)
    }

    /// Appends the line of one predict request (if [`Self::enabled`]); it reaches the sink with the
    /// next batch.
    pub fn log(&self, r: &AccessRecord<'_>) {
        if !self.enabled() {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut p = lock(&self.shared.pending);
        if p.data.len() >= MAX_PENDING_BYTES {
            p.dropped += 1;
            return;
        }
        let before = p.data.len();
        let Pending { data, clock, .. } = &mut *p;
        format_line(data, clock, self.format, now, r);
        // Wake the writer only when the buffer crosses the threshold (a wake-up is a system call).
        if before < self.flush_bytes && data.len() >= self.flush_bytes {
            self.shared.wake.notify_one();
        }
    }

    /// Writes every line appended so far to the sink now (blocking).
    pub fn flush(&self) {
        self.shared.write_batch();
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        lock(&self.shared.pending).closed = true;
        self.shared.wake.notify_one();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        // The writer's last batch covers every line; this one covers a writer that never ran.
        self.shared.write_batch();
    }
}

impl Shared {
    /// Takes the pending lines and writes them out; batches reach the sink in the order they were taken.
    fn write_batch(&self) {
        let mut sink = lock(&self.sink);
        let Sink { out, spare } = &mut *sink;
        let dropped = {
            let mut p = lock(&self.pending);
            std::mem::swap(&mut p.data, spare);
            std::mem::take(&mut p.dropped)
        };
        if spare.is_empty() && dropped == 0 {
            return;
        }
        // Errors (stderr closed) are not the request's business: the lines are lost, as with eprintln.
        let _ = out.write_all(spare);
        if dropped > 0 {
            let _ = writeln!(
                out,
                "{dropped} access log lines dropped: the log output is not keeping up"
            );
        }
        let _ = out.flush();
        spare.clear();
        if spare.capacity() > MAX_PENDING_BYTES {
            // A burst grew it: do not keep megabytes around.
            spare.shrink_to(MAX_PENDING_BYTES / 8);
        }
    }
}

fn writer_loop(shared: &Shared, flush_bytes: usize, interval: Duration) {
    loop {
        let closed = {
            let p = lock(&shared.pending);
            let (p, _) = shared
                .wake
                .wait_timeout_while(p, interval, |p| !p.closed && p.data.len() < flush_bytes)
                .unwrap_or_else(|e| e.into_inner());
            p.closed
        };
        shared.write_batch();
        if closed {
            return;
        }
    }
}

/// The formatted `YYYY-MM-DDTHH:MM:SS.` of the last second a line was logged in.
#[derive(Default)]
struct ClockCache {
    second: Option<u64>,
    prefix: [u8; 20],
}

impl ClockCache {
    fn prefix(&mut self, second: u64) -> &[u8; 20] {
        if self.second != Some(second) {
            self.prefix = date_time_prefix(second);
            self.second = Some(second);
        }
        &self.prefix
    }
}

/// `YYYY-MM-DDTHH:MM:SS.` (UTC) of a Unix time in seconds.
fn date_time_prefix(secs: u64) -> [u8; 20] {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let mut out = *b"0000-00-00T00:00:00.";
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, m);
    put(8, 2, d);
    put(11, 2, rem / 3600);
    put(14, 2, rem / 60 % 60);
    put(17, 2, rem % 60);
    out
}

/// Year, month, day of a count of days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn push_timestamp(out: &mut Vec<u8>, clock: &mut ClockCache, now: Duration) {
    out.extend_from_slice(clock.prefix(now.as_secs()));
    let micros = u64::from(now.subsec_micros());
    let start = out.len();
    out.extend_from_slice(b"000000");
    let mut v = micros;
    for i in (start..start + 6).rev() {
        out[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.push(b'Z');
}

/// Whether a text value can be written bare: printable ASCII other than `"`, `\` and `=`.
fn is_bare(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'='))
}

/// A text value: bare when it cannot be misread, else quoted with `\"`, `\\`, `\n`, `\r`, `\t` and
/// `\u{..}` for other control characters.
fn push_text_value(out: &mut Vec<u8>, s: &str) {
    if is_bare(s) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// A JSON string (RFC 8259 escaping).
fn push_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends one line for `r` at time `now` (since the Unix epoch).
fn format_line(
    out: &mut Vec<u8>,
    clock: &mut ClockCache,
    format: AccessLogFormat,
    now: Duration,
    r: &AccessRecord<'_>,
) {
    match format {
        AccessLogFormat::Text => {
            push_timestamp(out, clock, now);
            out.extend_from_slice(b"  INFO ");
            out.extend_from_slice(TARGET.as_bytes());
            out.extend_from_slice(b": predict request_id=");
            push_text_value(out, r.request_id);
            out.extend_from_slice(b" app=");
            push_text_value(out, r.app);
            out.extend_from_slice(b" upstream=");
            push_text_value(out, r.upstream);
            out.extend_from_slice(b" status=");
            push_u64(out, u64::from(r.status));
            out.extend_from_slice(b" latency_us=");
            push_u64(out, r.latency_us);
        }
        AccessLogFormat::Json => {
            out.extend_from_slice(b"{\"timestamp\":\"");
            push_timestamp(out, clock, now);
            out.extend_from_slice(
                b"\",\"level\":\"INFO\",\"fields\":{\"message\":\"predict\",\"request_id\":",
            );
            push_json_string(out, r.request_id);
            out.extend_from_slice(b",\"app\":");
            push_json_string(out, r.app);
            out.extend_from_slice(b",\"upstream\":");
            push_json_string(out, r.upstream);
            out.extend_from_slice(b",\"status\":");
            push_u64(out, u64::from(r.status));
            out.extend_from_slice(b",\"latency_us\":");
            push_u64(out, r.latency_us);
            out.extend_from_slice(b"},\"target\":\"");
            out.extend_from_slice(TARGET.as_bytes());
            out.extend_from_slice(b"\"}");
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink tests can read back.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Capture {
        fn text(&self) -> String {
            String::from_utf8(lock(&self.0).clone()).unwrap()
        }
    }

    fn record(request_id: &str) -> AccessRecord<'_> {
        AccessRecord {
            request_id,
            app: "iris",
            upstream: "iris-v1",
            status: 200,
            latency_us: 312,
        }
    }

    fn line(format: AccessLogFormat, now: Duration, r: &AccessRecord<'_>) -> String {
        let mut out = Vec::new();
        format_line(&mut out, &mut ClockCache::default(), format, now, r);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formats_utc_timestamps() {
        let mut c = ClockCache::default();
        let ts = |c: &mut ClockCache, secs: u64, micros: u32| {
            let mut out = Vec::new();
            push_timestamp(&mut out, c, Duration::new(secs, micros * 1000));
            String::from_utf8(out).unwrap()
        };
        assert_eq!(ts(&mut c, 0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(ts(&mut c, 951_782_400, 7), "2000-02-29T00:00:00.000007Z");
        assert_eq!(
            ts(&mut c, 951_868_799, 999_999),
            "2000-02-29T23:59:59.999999Z"
        );
        assert_eq!(ts(&mut c, 4_107_542_400, 0), "2100-03-01T00:00:00.000000Z");
        // 2026-11-29T01:07:45 UTC (`date -u -d @1795914465`), twice: the cached prefix is reused.
        assert_eq!(
            ts(&mut c, 1_795_914_465, 123_456),
            "2026-11-29T01:07:45.123456Z"
        );
        assert_eq!(ts(&mut c, 1_795_914_465, 5), "2026-11-29T01:07:45.000005Z");
        assert_eq!(ts(&mut c, 1_795_914_466, 0), "2026-11-29T01:07:46.000000Z");
    }

    #[test]
    fn text_lines_look_like_tracing_lines() {
        let now = Duration::new(1_795_914_465, 123_456_000);
        assert_eq!(
            line(AccessLogFormat::Text, now, &record("req-42")),
            "2026-11-29T01:07:45.123456Z  INFO homeml_gateway::access: predict request_id=req-42 \
             app=iris upstream=iris-v1 status=200 latency_us=312\n"
        );
        let r = AccessRecord {
            upstream: "none",
            status: 422,
            latency_us: 0,
            ..record("0123456789abcdef0123456789abcdef")
        };
        assert!(line(AccessLogFormat::Text, now, &r)
            .ends_with(" upstream=none status=422 latency_us=0\n"));
    }

    #[test]
    fn text_values_cannot_forge_fields_or_lines() {
        let now = Duration::new(1_795_914_465, 0);
        for (id, shown) in [
            (r#"x status=500"#, r#"request_id="x status=500""#),
            (r#"a"b\c"#, r#"request_id="a\"b\\c""#),
            (
                "x\n2026-11-29T00:00:00.000000Z  INFO forged",
                r#"request_id="x\n2026-11-29T00:00:00.000000Z  INFO forged""#,
            ),
            ("tab\there\u{1b}[31m", r#"request_id="tab\there\u{1b}[31m""#),
            ("", r#"request_id="""#),
            ("café", r#"request_id="café""#),
        ] {
            let l = line(AccessLogFormat::Text, now, &record(id));
            assert!(l.contains(&format!(" {shown} app=iris ")), "{l}");
            assert_eq!(l.matches('\n').count(), 1, "{l}");
            assert!(l.ends_with(" status=200 latency_us=312\n"), "{l}");
        }
    }

    #[test]
    fn json_lines_parse_back_to_the_same_values() {
        let now = Duration::new(1_795_914_465, 42_000);
        for id in [
            "req-42",
            r#"a"b\c"#,
            "x\ny\r\u{0}\u{1f}",
            "\"},\"status\":500,\"x\":{\"",
            "café ☕",
        ] {
            let l = line(AccessLogFormat::Json, now, &record(id));
            assert_eq!(l.matches('\n').count(), 1, "{l}");
            let v: serde_json::Value = serde_json::from_str(&l).unwrap();
            assert_eq!(
                v,
                serde_json::json!({
                    "timestamp": "2026-11-29T01:07:45.000042Z",
                    "level": "INFO",
                    "fields": {"message": "predict", "request_id": id, "app": "iris",
                               "upstream": "iris-v1", "status": 200, "latency_us": 312},
                    "target": "homeml_gateway::access",
                }),
                "{l}"
            );
        }
    }

    #[test]
    fn lines_reach_the_sink_past_the_threshold_and_all_on_drop() {
        let sink = Capture::default();
        // A long interval: only the size threshold (and drop) can write lines out.
        let log = AccessLog::with_flush_policy(
            AccessLogFormat::Text,
            Box::new(sink.clone()),
            4096,
            Duration::from_secs(3600),
        );
        let ids: Vec<String> = (0..200).map(|i| format!("r{i}")).collect();
        for id in &ids[..100] {
            log.log(&record(id));
        }
        // 100 lines of ~120 bytes passed 4096 bytes: the writer thread wrote a batch.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while sink.text().is_empty() {
            assert!(std::time::Instant::now() < deadline, "no batch written");
            std::thread::sleep(Duration::from_millis(5));
        }
        for id in &ids[100..] {
            log.log(&record(id));
        }
        drop(log);
        let text = sink.text();
        let logged: Vec<&str> = text
            .lines()
            .map(|l| {
                l.split(" request_id=")
                    .nth(1)
                    .and_then(|r| r.split(' ').next())
                    .unwrap()
            })
            .collect();
        assert_eq!(logged, ids, "every line once, in order");
    }

    #[test]
    fn flush_writes_pending_lines_now() {
        let sink = Capture::default();
        let log = AccessLog::new(AccessLogFormat::Json, Box::new(sink.clone()));
        log.log(&record("one"));
        log.flush();
        assert_eq!(sink.text().lines().count(), 1);
        log.flush();
        assert_eq!(sink.text().lines().count(), 1, "nothing written twice");
    }

    #[test]
    fn a_log_to_stderr_follows_the_tracing_filter() {
        use tracing_subscriber::layer::SubscriberExt;
        let log = AccessLog::stderr(AccessLogFormat::Text);
        let warn =
            tracing_subscriber::registry().with(tracing_subscriber::filter::LevelFilter::WARN);
        tracing::subscriber::with_default(warn, || assert!(!log.enabled()));
        let info =
            tracing_subscriber::registry().with(tracing_subscriber::filter::LevelFilter::INFO);
        tracing::subscriber::with_default(info, || assert!(log.enabled()));
        let off_for_target = tracing_subscriber::registry().with(
            tracing_subscriber::filter::Targets::new()
                .with_default(tracing::Level::INFO)
                .with_target(TARGET, tracing_subscriber::filter::LevelFilter::OFF),
        );
        tracing::subscriber::with_default(off_for_target, || assert!(!log.enabled()));
        let always = AccessLog::new(AccessLogFormat::Text, Box::new(std::io::sink()));
        let warn =
            tracing_subscriber::registry().with(tracing_subscriber::filter::LevelFilter::WARN);
        tracing::subscriber::with_default(warn, || assert!(always.enabled()));
    }
}
