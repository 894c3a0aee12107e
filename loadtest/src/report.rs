//! The result of a run: throughput, latency percentiles, status and error tallies.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The `schema` value of a JSON report written by this version.
pub const REPORT_SCHEMA: &str = "homeml-loadtest/1";

/// Latency statistics in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Smallest latency.
    pub min: f64,
    /// Mean latency.
    pub mean: f64,
    /// Standard deviation.
    pub stdev: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest latency.
    pub max: f64,
}

/// Requests that got no HTTP answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    /// TCP connect or HTTP handshake failures (including connect timeouts).
    pub connect: u64,
    /// Requests that got no complete answer within the request timeout.
    pub timeout: u64,
    /// Connection resets, closed connections, malformed answers.
    pub io: u64,
}

impl ErrorCounts {
    /// All errors.
    pub fn total(&self) -> u64 {
        self.connect + self.timeout + self.io
    }
}

/// One point of the latency-by-percentile curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PercentilePoint {
    /// Percentile, 0..=100.
    pub percentile: f64,
    /// Latency at that percentile, milliseconds.
    pub latency_ms: f64,
}

/// The result of a load run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`REPORT_SCHEMA`].
    pub schema: String,
    /// Optional label (e.g. the server's name).
    pub label: Option<String>,
    /// HTTP method sent.
    pub method: String,
    /// Target URL.
    pub url: String,
    /// `closed` or `open`.
    pub mode: String,
    /// Number of connections.
    pub connections: usize,
    /// Open loop: the intended total rate, requests per second.
    pub rate: Option<f64>,
    /// Warm-up length, seconds.
    pub warmup_s: f64,
    /// Measured phase length, seconds (from its start until the last measured answer).
    pub duration_s: f64,
    /// Rows per request.
    pub rows_per_request: u64,
    /// Answers received in the measured phase, any status.
    pub requests: u64,
    /// Answers with a 2xx status.
    pub ok: u64,
    /// Answers per second.
    pub req_per_s: f64,
    /// Rows per second in 2xx answers.
    pub rows_per_s: f64,
    /// Latency of all answers (any status), milliseconds.
    pub latency_ms: LatencySummary,
    /// Answers by status code.
    pub status: BTreeMap<String, u64>,
    /// Requests without an answer.
    pub errors: ErrorCounts,
    /// Open loop: scheduled requests that were never sent because the run ended first.
    pub missed: u64,
    /// Latency by percentile, for plots.
    pub percentiles: Vec<PercentilePoint>,
}

/// Converts microseconds to milliseconds.
fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Latency summary from a histogram of microseconds.
pub fn summarize(h: &Histogram<u64>) -> LatencySummary {
    if h.is_empty() {
        return LatencySummary::default();
    }
    LatencySummary {
        min: ms(h.min()),
        mean: h.mean() / 1000.0,
        stdev: h.stdev() / 1000.0,
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
    }
}

/// The latency-by-percentile curve: percentiles `100 * (1 - 10^(-k/10))` (0, 68.4, 90, 96.8, 99, ...)
/// as far as the sample count resolves them, then the maximum.
pub fn percentile_curve(h: &Histogram<u64>) -> Vec<PercentilePoint> {
    let n = h.len();
    if n == 0 {
        return Vec::new();
    }
    let mut points = Vec::new();
    let mut k = 0u32;
    loop {
        let tail = 10f64.powf(-(k as f64) / 10.0);
        // Stop once the tail holds fewer than one sample, or at 99.9999.
        if tail * (n as f64) < 1.0 || k > 60 {
            break;
        }
        let q = 1.0 - tail;
        points.push(PercentilePoint {
            percentile: q * 100.0,
            latency_ms: ms(h.value_at_quantile(q)),
        });
        k += 1;
    }
    // The maximum sits where one sample remains in the tail.
    let last_q = if n > 1 { 1.0 - 1.0 / n as f64 } else { 0.5 };
    if points.last().is_none_or(|p| p.percentile < last_q * 100.0) {
        points.push(PercentilePoint {
            percentile: last_q * 100.0,
            latency_ms: ms(h.max()),
        });
    } else if let Some(p) = points.last_mut() {
        p.latency_ms = ms(h.max());
    }
    points
}

fn fmt_ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2}s", v / 1000.0)
    } else if v >= 1.0 {
        format!("{v:.2}ms")
    } else {
        format!("{:.0}us", v * 1000.0)
    }
}

impl Report {
    /// A human-readable summary, several lines.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let label = self
            .label
            .as_deref()
            .map(|l| format!(" [{l}]"))
            .unwrap_or_default();
        let _ = writeln!(s, "{} {}{}", self.method, self.url, label);
        let mode = match self.rate {
            Some(r) => format!("open loop at {r} req/s"),
            None => "closed loop".to_string(),
        };
        let _ = writeln!(
            s,
            "  {mode}, {} connections, {:.1}s measured after {:.1}s warm-up, {} rows/request",
            self.connections, self.duration_s, self.warmup_s, self.rows_per_request
        );
        let _ = writeln!(
            s,
            "  requests: {} ({} 2xx)   req/s: {:.1}   rows/s: {:.1}",
            self.requests, self.ok, self.req_per_s, self.rows_per_s
        );
        let l = &self.latency_ms;
        let _ = writeln!(
            s,
            "  latency: p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  (mean {}, stdev {})",
            fmt_ms(l.p50),
            fmt_ms(l.p90),
            fmt_ms(l.p99),
            fmt_ms(l.p999),
            fmt_ms(l.max),
            fmt_ms(l.mean),
            fmt_ms(l.stdev)
        );
        let statuses: Vec<String> = self
            .status
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let _ = writeln!(
            s,
            "  status: {}",
            if statuses.is_empty() {
                "none".to_string()
            } else {
                statuses.join(", ")
            }
        );
        let _ = write!(
            s,
            "  errors: {} (connect {}, timeout {}, io {})",
            self.errors.total(),
            self.errors.connect,
            self.errors.timeout,
            self.errors.io
        );
        if self.rate.is_some() {
            let _ = write!(s, "   missed sends: {}", self.missed);
        }
        s.push('\n');
        s
    }

    /// Non-2xx answers plus requests without an answer.
    pub fn failed(&self) -> u64 {
        self.requests - self.ok + self.errors.total()
    }
}

/// A Markdown table comparing reports: name, req/s, p50, p99, p99.9, max, non-2xx + errors.
pub fn markdown_table(reports: &[Report]) -> String {
    let mut s = String::from(
        "| server | req/s | rows/s | p50 (ms) | p99 (ms) | p99.9 (ms) | max (ms) | non-2xx + errors |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in reports {
        let name = r.label.clone().unwrap_or_else(|| r.url.clone());
        let _ = writeln!(
            s,
            "| {} | {:.0} | {:.0} | {:.3} | {:.3} | {:.3} | {:.3} | {} |",
            name.replace('|', "\\|"),
            r.req_per_s,
            r.rows_per_s,
            r.latency_ms.p50,
            r.latency_ms.p99,
            r.latency_ms.p999,
            r.latency_ms.max,
            r.failed()
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_is_monotonic_and_ends_at_max() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for i in 1..=10_000u64 {
            h.record(i).unwrap();
        }
        let c = percentile_curve(&h);
        assert!(c.len() > 10);
        assert_eq!(c[0].percentile, 0.0);
        for w in c.windows(2) {
            assert!(w[1].percentile > w[0].percentile);
            assert!(w[1].latency_ms >= w[0].latency_ms);
        }
        let last = c.last().unwrap();
        assert!((last.latency_ms - ms(h.max())).abs() < 1e-9);
        let s = summarize(&h);
        assert!(s.p50 > 4.9 && s.p50 < 5.1, "{}", s.p50);
        assert!(percentile_curve(&Histogram::<u64>::new(3).unwrap()).is_empty());
    }
}
