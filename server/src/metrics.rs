//! Prometheus metrics, kept in atomics and written in the text exposition format (0.0.4).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `homeml_requests_total` | counter | model, protocol, status |
//! | `homeml_request_duration_seconds` | histogram | model, protocol |
//! | `homeml_queue_wait_seconds` | histogram | model |
//! | `homeml_compute_duration_seconds` | histogram | model |
//! | `homeml_batch_rows` | histogram | model |
//! | `homeml_batch_requests` | histogram | model |
//! | `homeml_queue_depth` | gauge | model |
//! | `homeml_skipped_requests_total` | counter | model, reason (`client_gone`, `deadline`) |
//! | `homeml_model_load_duration_seconds` | gauge | model (the last load) |
//! | `homeml_model_loads_total` | counter | model, result (`ok`, `error`) |
//! | `homeml_model_ready` | gauge | model |
//! | `homeml_connections_rejected_total` | counter | (connections answered 503 past `max_connections`) |
//! | `homeml_inflight_body_bytes` | gauge | (request memory reserved from the in-flight budget: bodies, decoded inputs, answers) |
//! | `homeml_body_budget_rejected_total` | counter | (requests refused: they did not fit the in-flight memory budget) |
//! | `homeml_body_read_timeouts_total` | counter | (requests answered 408: their body came too slowly) |
//! | `homeml_idle_connections_closed_total` | counter | (idle keep-alive connections closed to make room past `max_connections`) |
//!
//! Requests that name no served model are counted under `model=""` so that clients cannot grow the
//! label set.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

/// Latency buckets in seconds: 50 us .. 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
];
/// Batch size buckets (rows or requests).
const SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// A histogram with fixed buckets, updated without locks.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_bits: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_bits: AtomicU64::new(0f64.to_bits()),
            count: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut cur = self.sum_bits.load(Ordering::Relaxed);
        loop {
            let new = (f64::from_bits(cur) + v).to_bits();
            match self.sum_bits.compare_exchange_weak(
                cur,
                new,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Records a duration in seconds.
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            cumulative += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = f64::from_bits(self.sum_bits.load(Ordering::Relaxed));
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

/// The metrics of one model name (kept across reloads of its versions).
#[derive(Debug)]
pub struct ModelMetrics {
    /// Time from enqueue to the start of the model call.
    pub queue_wait: Histogram,
    /// Duration of one model call.
    pub compute: Histogram,
    /// Rows per model call.
    pub batch_rows: Histogram,
    /// Requests per model call.
    pub batch_requests: Histogram,
    /// Requests waiting in the queue.
    pub queue_depth: AtomicI64,
    /// Requests dropped before compute because the client had gone.
    pub skipped_client_gone: AtomicU64,
    /// Requests dropped before compute because their deadline had passed.
    pub skipped_deadline: AtomicU64,
    /// Seconds the last load took (as f64 bits).
    load_seconds_bits: AtomicU64,
    /// Successful loads.
    pub loads_ok: AtomicU64,
    /// Failed loads.
    pub loads_failed: AtomicU64,
    /// 1 when the model serves.
    pub ready: AtomicI64,
}

impl ModelMetrics {
    fn new() -> ModelMetrics {
        ModelMetrics {
            queue_wait: Histogram::new(LATENCY_BUCKETS),
            compute: Histogram::new(LATENCY_BUCKETS),
            batch_rows: Histogram::new(SIZE_BUCKETS),
            batch_requests: Histogram::new(SIZE_BUCKETS),
            queue_depth: AtomicI64::new(0),
            skipped_client_gone: AtomicU64::new(0),
            skipped_deadline: AtomicU64::new(0),
            load_seconds_bits: AtomicU64::new(0f64.to_bits()),
            loads_ok: AtomicU64::new(0),
            loads_failed: AtomicU64::new(0),
            ready: AtomicI64::new(0),
        }
    }

    /// Records a load attempt.
    pub fn record_load(&self, took: Duration, ok: bool) {
        if ok {
            self.load_seconds_bits
                .store(took.as_secs_f64().to_bits(), Ordering::Relaxed);
            self.loads_ok.fetch_add(1, Ordering::Relaxed);
        } else {
            self.loads_failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Default for ModelMetrics {
    fn default() -> ModelMetrics {
        ModelMetrics::new()
    }
}

/// Lowest and highest HTTP status counted (hyper's `StatusCode` is 100..=999).
const STATUS_MIN: u16 = 100;
const STATUS_MAX: u16 = 999;

/// The requests of one (model, protocol) pair: counted per status without locks.
#[derive(Debug)]
struct RequestStats {
    duration: Histogram,
    by_status: Box<[AtomicU64]>,
}

impl RequestStats {
    fn new() -> RequestStats {
        RequestStats {
            duration: Histogram::new(LATENCY_BUCKETS),
            by_status: (STATUS_MIN..=STATUS_MAX)
                .map(|_| AtomicU64::new(0))
                .collect(),
        }
    }

    fn record(&self, status: u16, took: Duration) {
        let i = usize::from(status.clamp(STATUS_MIN, STATUS_MAX) - STATUS_MIN);
        self.by_status[i].fetch_add(1, Ordering::Relaxed);
        self.duration.observe_duration(took);
    }
}

/// Request statistics by protocol label, then by model name. The hot path only takes the read lock
/// and allocates nothing; a new (protocol, model) pair takes the write lock once.
type RequestTable = HashMap<&'static str, HashMap<String, RequestStats>>;

/// All metrics of a server.
#[derive(Debug, Default)]
pub struct Metrics {
    models: Mutex<BTreeMap<String, Arc<ModelMetrics>>>,
    requests: RwLock<RequestTable>,
    /// Connections answered 503 at once because `max_connections` were being served.
    pub connections_rejected: AtomicU64,
    /// Request body bytes reserved by requests being read or decoded: the use of the in-flight body
    /// budget (`Limits::max_inflight_body_bytes`), which the router keeps in this very counter.
    pub inflight_body_bytes: AtomicUsize,
    /// Requests refused because they did not fit the in-flight memory budget.
    pub body_budget_rejected: AtomicU64,
    /// Requests answered 408 because their body did not arrive within the body-read timeout or rate.
    pub body_read_timeouts: AtomicU64,
    /// Idle keep-alive connections closed to make room for a new connection past `max_connections`.
    pub idle_connections_closed: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave the maps inconsistent: keep serving.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Escapes a label value for the text format.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// The metrics of model `name`, created on first use.
    pub fn model(&self, name: &str) -> Arc<ModelMetrics> {
        lock(&self.models)
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(ModelMetrics::new()))
            .clone()
    }

    /// Counts one answered request and its duration.
    pub fn record_request(&self, model: &str, protocol: &'static str, status: u16, took: Duration) {
        {
            let table = self.requests.read().unwrap_or_else(|p| p.into_inner());
            if let Some(stats) = table.get(protocol).and_then(|m| m.get(model)) {
                stats.record(status, took);
                return;
            }
        }
        let mut table = self.requests.write().unwrap_or_else(|p| p.into_inner());
        table
            .entry(protocol)
            .or_default()
            .entry(model.to_string())
            .or_insert_with(RequestStats::new)
            .record(status, took);
    }

    /// The whole exposition text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8192);
        let table = self.requests.read().unwrap_or_else(|p| p.into_inner());
        // Sorted by model, then protocol, then status.
        let mut requests: BTreeMap<(&str, &str, u16), u64> = BTreeMap::new();
        let mut durations: BTreeMap<(&str, &str), &Histogram> = BTreeMap::new();
        for (proto, models) in table.iter() {
            for (model, stats) in models {
                durations.insert((model.as_str(), proto), &stats.duration);
                for (status, n) in (STATUS_MIN..=STATUS_MAX).zip(stats.by_status.iter()) {
                    let n = n.load(Ordering::Relaxed);
                    if n > 0 {
                        requests.insert((model.as_str(), proto, status), n);
                    }
                }
            }
        }
        let _ = writeln!(
            out,
            "# HELP homeml_requests_total Requests answered, by model, protocol and HTTP status."
        );
        let _ = writeln!(out, "# TYPE homeml_requests_total counter");
        for ((model, proto, status), n) in &requests {
            let _ = writeln!(
                out,
                "homeml_requests_total{{model=\"{}\",protocol=\"{proto}\",status=\"{status}\"}} {n}",
                escape(model)
            );
        }
        let _ = writeln!(
            out,
            "# HELP homeml_request_duration_seconds Time from request headers to answer."
        );
        let _ = writeln!(out, "# TYPE homeml_request_duration_seconds histogram");
        for ((model, proto), h) in durations {
            let labels = format!("model=\"{}\",protocol=\"{proto}\"", escape(model));
            h.render(&mut out, "homeml_request_duration_seconds", &labels);
        }
        drop(table);
        let models: Vec<_> = lock(&self.models)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        type HistOf = fn(&ModelMetrics) -> &Histogram;
        let hists: [(&str, &str, HistOf); 4] = [
            (
                "homeml_queue_wait_seconds",
                "Time a request waited in its model's queue before compute.",
                |m| &m.queue_wait,
            ),
            (
                "homeml_compute_duration_seconds",
                "Duration of one model call (one batch).",
                |m| &m.compute,
            ),
            ("homeml_batch_rows", "Rows per model call.", |m| {
                &m.batch_rows
            }),
            ("homeml_batch_requests", "Requests per model call.", |m| {
                &m.batch_requests
            }),
        ];
        for (name, help, get) in hists {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} histogram");
            for (model, m) in &models {
                get(m).render(&mut out, name, &format!("model=\"{}\"", escape(model)));
            }
        }
        type GaugeOf = fn(&ModelMetrics) -> String;
        let simple: [(&str, &str, &str, GaugeOf); 3] = [
            (
                "homeml_queue_depth",
                "gauge",
                "Requests waiting in the model's queue.",
                |m| m.queue_depth.load(Ordering::Relaxed).max(0).to_string(),
            ),
            (
                "homeml_model_load_duration_seconds",
                "gauge",
                "Seconds the model's last successful load took.",
                |m| f64::from_bits(m.load_seconds_bits.load(Ordering::Relaxed)).to_string(),
            ),
            (
                "homeml_model_ready",
                "gauge",
                "1 when the model is loaded and serving, else 0.",
                |m| m.ready.load(Ordering::Relaxed).to_string(),
            ),
        ];
        for (name, ty, help, get) in simple {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {ty}");
            for (model, m) in &models {
                let _ = writeln!(out, "{name}{{model=\"{}\"}} {}", escape(model), get(m));
            }
        }
        let _ = writeln!(
            out,
            "# HELP homeml_skipped_requests_total Requests dropped before compute, by reason."
        );
        let _ = writeln!(out, "# TYPE homeml_skipped_requests_total counter");
        for (model, m) in &models {
            for (reason, v) in [
                ("client_gone", &m.skipped_client_gone),
                ("deadline", &m.skipped_deadline),
            ] {
                let _ = writeln!(
                    out,
                    "homeml_skipped_requests_total{{model=\"{}\",reason=\"{reason}\"}} {}",
                    escape(model),
                    v.load(Ordering::Relaxed)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP homeml_model_loads_total Model load attempts, by result."
        );
        let _ = writeln!(out, "# TYPE homeml_model_loads_total counter");
        for (model, m) in &models {
            for (result, v) in [("ok", &m.loads_ok), ("error", &m.loads_failed)] {
                let _ = writeln!(
                    out,
                    "homeml_model_loads_total{{model=\"{}\",result=\"{result}\"}} {}",
                    escape(model),
                    v.load(Ordering::Relaxed)
                );
            }
        }
        let server: [(&str, &str, &str, u64); 5] = [
            (
                "homeml_connections_rejected_total",
                "counter",
                "Connections answered 503 at once because max_connections were being served.",
                self.connections_rejected.load(Ordering::Relaxed),
            ),
            (
                "homeml_inflight_body_bytes",
                "gauge",
                "Request memory reserved by requests in flight: bodies as read, decoded inputs, answers until sent (the in-flight budget in use).",
                self.inflight_body_bytes.load(Ordering::Relaxed) as u64,
            ),
            (
                "homeml_body_budget_rejected_total",
                "counter",
                "Requests refused because they did not fit the in-flight memory budget.",
                self.body_budget_rejected.load(Ordering::Relaxed),
            ),
            (
                "homeml_body_read_timeouts_total",
                "counter",
                "Requests answered 408 because their body did not arrive within the body-read timeout or minimum rate.",
                self.body_read_timeouts.load(Ordering::Relaxed),
            ),
            (
                "homeml_idle_connections_closed_total",
                "counter",
                "Idle keep-alive connections closed to make room for new connections past max_connections.",
                self.idle_connections_closed.load(Ordering::Relaxed),
            ),
        ];
        for (name, ty, help, v) in server {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {ty}");
            let _ = writeln!(out, "{name} {v}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::new(SIZE_BUCKETS);
        h.observe(1.0);
        h.observe(3.0);
        h.observe(5000.0);
        let mut out = String::new();
        h.render(&mut out, "x", "model=\"m\"");
        assert!(out.contains("x_bucket{model=\"m\",le=\"1\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{model=\"m\",le=\"4\"} 2\n"), "{out}");
        assert!(
            out.contains("x_bucket{model=\"m\",le=\"1024\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("x_bucket{model=\"m\",le=\"+Inf\"} 3\n"),
            "{out}"
        );
        assert!(out.contains("x_sum{model=\"m\"} 5004\n"), "{out}");
        assert!(out.contains("x_count{model=\"m\"} 3\n"), "{out}");
    }

    #[test]
    fn renders_requests_and_escapes_labels() {
        let m = Metrics::new();
        m.record_request("a\"b", "v2", 200, Duration::from_millis(3));
        m.model("iris").batch_rows.observe(4.0);
        let text = m.render();
        assert!(
            text.contains(
                "homeml_requests_total{model=\"a\\\"b\",protocol=\"v2\",status=\"200\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("homeml_batch_rows_count{model=\"iris\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("homeml_model_ready{model=\"iris\"} 0"),
            "{text}"
        );
        m.connections_rejected.fetch_add(2, Ordering::Relaxed);
        m.inflight_body_bytes.fetch_add(100, Ordering::Relaxed);
        let text = m.render();
        assert!(
            text.contains("\nhomeml_connections_rejected_total 2\n"),
            "{text}"
        );
        assert!(
            text.contains("\nhomeml_inflight_body_bytes 100\n"),
            "{text}"
        );
        assert!(
            text.contains("\nhomeml_body_budget_rejected_total 0\n"),
            "{text}"
        );
    }
}
