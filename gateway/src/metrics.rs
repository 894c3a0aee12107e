//! Prometheus metrics of the gateway, rendered in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Latency buckets in seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }
}

/// The entry of `key`, allocating the owned key only the first time it is seen.
fn entry<'a, V: Default>(m: &'a mut BTreeMap<String, V>, key: &str) -> &'a mut V {
    if !m.contains_key(key) {
        m.insert(key.to_string(), V::default());
    }
    m.get_mut(key).expect("inserted above")
}

#[derive(Debug, Default)]
struct Inner {
    /// app -> upstream -> status -> count (nested so that counting allocates nothing once seen).
    requests: BTreeMap<String, BTreeMap<String, BTreeMap<u16, u64>>>,
    request_latency: BTreeMap<String, Histogram>,
    upstream_latency: BTreeMap<String, Histogram>,
    upstream_errors: BTreeMap<(String, &'static str), u64>,
    retries: BTreeMap<String, u64>,
    shadow_requests: BTreeMap<String, u64>,
    shadow_disagreements: BTreeMap<String, u64>,
    shadow_errors: BTreeMap<String, u64>,
    ejections: BTreeMap<String, u64>,
}

/// The gateway's counters and histograms.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Self {
        Self::default()
    }

    fn with(&self, f: impl FnOnce(&mut Inner)) {
        if let Ok(mut g) = self.inner.lock() {
            f(&mut g);
        }
    }

    /// Counts one finished request (upstream `none` when it never reached one) and its latency.
    pub fn request(&self, app: &str, upstream: &str, status: u16, latency: Duration) {
        self.with(|m| {
            *entry(entry(&mut m.requests, app), upstream)
                .entry(status)
                .or_default() += 1;
            entry(&mut m.request_latency, app).observe(latency.as_secs_f64());
        });
    }

    /// Records the latency of one upstream call.
    pub fn upstream_latency(&self, upstream: &str, latency: Duration) {
        self.with(|m| entry(&mut m.upstream_latency, upstream).observe(latency.as_secs_f64()));
    }

    /// Counts an upstream error of a kind (`connect`, `timeout`, `transport`, `status`, `answer`).
    pub fn upstream_error(&self, upstream: &str, kind: &'static str) {
        self.with(|m| {
            *m.upstream_errors
                .entry((upstream.to_string(), kind))
                .or_default() += 1
        });
    }

    /// Counts a retry.
    pub fn retry(&self, app: &str) {
        self.with(|m| *m.retries.entry(app.to_string()).or_default() += 1);
    }

    /// Counts an ejection by passive health.
    pub fn ejection(&self, upstream: &str) {
        self.with(|m| *m.ejections.entry(upstream.to_string()).or_default() += 1);
    }

    /// Counts a shadow comparison, and whether it disagreed or failed.
    pub fn shadow(&self, app: &str, disagreed: bool, failed: bool) {
        self.with(|m| {
            *entry(&mut m.shadow_requests, app) += 1;
            *entry(&mut m.shadow_disagreements, app) += u64::from(disagreed);
            *entry(&mut m.shadow_errors, app) += u64::from(failed);
        });
    }

    /// Shadow disagreements so far for `app`.
    pub fn shadow_disagreements(&self, app: &str) -> u64 {
        self.inner
            .lock()
            .map(|m| m.shadow_disagreements.get(app).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let Ok(m) = self.inner.lock() else {
            return String::new();
        };
        let mut s = String::with_capacity(4096);
        let _ = writeln!(
            s,
            "# HELP homeml_gateway_requests_total Requests answered, by app, upstream and HTTP status."
        );
        let _ = writeln!(s, "# TYPE homeml_gateway_requests_total counter");
        for (app, ups) in &m.requests {
            for (up, statuses) in ups {
                for (status, n) in statuses {
                    let _ = writeln!(
                        s,
                        "homeml_gateway_requests_total{{app=\"{}\",upstream=\"{}\",status=\"{status}\"}} {n}",
                        esc(app),
                        esc(up)
                    );
                }
            }
        }
        histogram(
            &mut s,
            "homeml_gateway_request_duration_seconds",
            "Time from request to answer, by app.",
            "app",
            &m.request_latency,
        );
        histogram(
            &mut s,
            "homeml_gateway_upstream_duration_seconds",
            "Time of one upstream call, by upstream.",
            "upstream",
            &m.upstream_latency,
        );
        let _ = writeln!(
            s,
            "# HELP homeml_gateway_upstream_errors_total Failed upstream calls, by upstream and kind."
        );
        let _ = writeln!(s, "# TYPE homeml_gateway_upstream_errors_total counter");
        for ((up, kind), n) in &m.upstream_errors {
            let _ = writeln!(
                s,
                "homeml_gateway_upstream_errors_total{{upstream=\"{}\",kind=\"{kind}\"}} {n}",
                esc(up)
            );
        }
        counter(
            &mut s,
            "homeml_gateway_retries_total",
            "Retries after a connect failure, by app.",
            "app",
            &m.retries,
        );
        counter(
            &mut s,
            "homeml_gateway_upstream_ejections_total",
            "Times an upstream was skipped for a cool-down by passive health.",
            "upstream",
            &m.ejections,
        );
        counter(
            &mut s,
            "homeml_gateway_shadow_requests_total",
            "Requests copied to the shadow upstream, by app.",
            "app",
            &m.shadow_requests,
        );
        counter(
            &mut s,
            "homeml_gateway_shadow_disagreements_total",
            "Shadow answers whose labels differ from the primary's, by app.",
            "app",
            &m.shadow_disagreements,
        );
        counter(
            &mut s,
            "homeml_gateway_shadow_errors_total",
            "Shadow calls that failed, by app.",
            "app",
            &m.shadow_errors,
        );
        s
    }
}

fn counter(s: &mut String, name: &str, help: &str, label: &str, m: &BTreeMap<String, u64>) {
    let _ = writeln!(s, "# HELP {name} {help}");
    let _ = writeln!(s, "# TYPE {name} counter");
    for (k, n) in m {
        let _ = writeln!(s, "{name}{{{label}=\"{}\"}} {n}", esc(k));
    }
}

fn histogram(s: &mut String, name: &str, help: &str, label: &str, m: &BTreeMap<String, Histogram>) {
    let _ = writeln!(s, "# HELP {name} {help}");
    let _ = writeln!(s, "# TYPE {name} histogram");
    for (k, h) in m {
        let k = esc(k);
        for (b, c) in BUCKETS.iter().zip(h.counts) {
            let _ = writeln!(s, "{name}_bucket{{{label}=\"{k}\",le=\"{b}\"}} {c}");
        }
        let _ = writeln!(
            s,
            "{name}_bucket{{{label}=\"{k}\",le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(s, "{name}_sum{{{label}=\"{k}\"}} {}", h.sum);
        let _ = writeln!(s, "{name}_count{{{label}=\"{k}\"}} {}", h.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::new();
        m.request("iris", "a", 200, Duration::from_micros(300));
        m.request("iris", "a", 200, Duration::from_millis(30));
        m.upstream_error("a", "connect");
        m.shadow("iris", true, false);
        let text = m.render();
        assert!(text.contains(
            "homeml_gateway_requests_total{app=\"iris\",upstream=\"a\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "homeml_gateway_request_duration_seconds_bucket{app=\"iris\",le=\"0.0005\"} 1"
        ));
        assert!(text.contains(
            "homeml_gateway_request_duration_seconds_bucket{app=\"iris\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains("homeml_gateway_shadow_disagreements_total{app=\"iris\"} 1"));
        assert_eq!(m.shadow_disagreements("iris"), 1);
    }
}
