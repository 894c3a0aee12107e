//! Load configuration: the target, the load model and its bounds.

use std::time::Duration;

use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Uri};

use crate::body::BodySpec;
use crate::{Error, Result};

/// The load model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Each connection sends its next request when the previous answer arrives.
    Closed,
    /// A fixed total rate (requests per second) spread evenly over the connections; latency is
    /// measured from each request's intended send time.
    Open {
        /// Total requests per second over all connections.
        rate: f64,
    },
}

/// Where requests go: an `http://` URL resolved into its parts.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as given.
    pub url: String,
    /// Host name or address to connect to.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Value of the `Host` header.
    pub authority: String,
    /// Path and query sent on the request line (origin form).
    pub path_and_query: String,
}

impl Target {
    /// Parses an `http://host[:port]/path?query` URL. Only plain HTTP is supported.
    pub fn parse(url: &str) -> Result<Self> {
        let uri: Uri = url
            .parse()
            .map_err(|e| Error::Config(format!("bad URL {url:?}: {e}")))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(Error::Config(format!(
                    "unsupported URL scheme {other:?} in {url:?} (only http:// is supported)"
                )))
            }
            None => {
                return Err(Error::Config(format!(
                    "URL {url:?} has no scheme (expected http://host:port/path)"
                )))
            }
        }
        let authority = uri
            .authority()
            .ok_or_else(|| Error::Config(format!("URL {url:?} has no host")))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(Error::Config(format!("URL {url:?} has no host")));
        }
        let port = authority.port_u16().unwrap_or(80);
        let path_and_query = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".to_string());
        Ok(Target {
            url: url.to_string(),
            host: host.to_string(),
            port,
            authority: authority.as_str().to_string(),
            path_and_query,
        })
    }
}

/// Everything a load run needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The target URL.
    pub target: Target,
    /// HTTP method; `None` means POST when there is a body, GET otherwise.
    pub method: Option<Method>,
    /// Extra request headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The request body.
    pub body: BodySpec,
    /// Number of keep-alive connections (virtual clients).
    pub connections: usize,
    /// Closed or open loop.
    pub mode: Mode,
    /// Length of the measured phase. At least one of `duration` and `max_requests` bounds the run.
    pub duration: Option<Duration>,
    /// Warm-up before the measured phase: requests are sent but not recorded.
    pub warmup: Duration,
    /// Stop after this many measured requests (over all connections).
    pub max_requests: Option<u64>,
    /// Per-request timeout (from the actual send to the end of the answer body).
    pub timeout: Duration,
    /// TCP connect (and HTTP handshake) timeout.
    pub connect_timeout: Duration,
    /// Print a progress line on stderr every second.
    pub progress: bool,
    /// A label for the report (e.g. the server's name).
    pub label: Option<String>,
}

impl Config {
    /// A closed-loop configuration with defaults: 1 connection, 10 s, no warm-up, no body.
    pub fn new(target: Target) -> Self {
        Config {
            target,
            method: None,
            headers: Vec::new(),
            body: BodySpec::Empty,
            connections: 1,
            mode: Mode::Closed,
            duration: Some(Duration::from_secs(10)),
            warmup: Duration::ZERO,
            max_requests: None,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            progress: false,
            label: None,
        }
    }

    /// Checks the configuration for values that cannot work.
    pub fn validate(&self) -> Result<()> {
        if self.connections == 0 {
            return Err(Error::Config("connections must be at least 1".into()));
        }
        if self.connections > 100_000 {
            return Err(Error::Config(format!(
                "{} connections is more than this tool supports (100000)",
                self.connections
            )));
        }
        if self.duration.is_none() && self.max_requests.is_none() {
            return Err(Error::Config(
                "the run must be bounded: give a duration or a request count".into(),
            ));
        }
        if self.duration == Some(Duration::ZERO) {
            return Err(Error::Config("duration must be greater than zero".into()));
        }
        if self.max_requests == Some(0) {
            return Err(Error::Config("request count must be at least 1".into()));
        }
        if let Mode::Open { rate } = self.mode {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(Error::Config(format!(
                    "rate must be a positive number of requests per second, got {rate}"
                )));
            }
        }
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::Config("timeouts must be greater than zero".into()));
        }
        Ok(())
    }

    /// The method actually sent.
    pub fn effective_method(&self) -> Method {
        match &self.method {
            Some(m) => m.clone(),
            None if matches!(self.body, BodySpec::Empty) => Method::GET,
            None => Method::POST,
        }
    }
}

/// Parses a duration such as `10s`, `500ms`, `2m`, `1.5s`, `250us` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| Error::Config(format!("bad duration {text:?} (examples: 10s, 500ms, 2m)")))?;
    let secs = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(Error::Config(format!(
                "bad duration unit {other:?} in {text:?} (use us, ms, s, m or h)"
            )))
        }
    };
    if !secs.is_finite() || !(0.0..=1e7).contains(&secs) {
        return Err(Error::Config(format!("duration {text:?} is out of range")));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a `Name: value` header line.
pub fn parse_header(line: &str) -> Result<(HeaderName, HeaderValue)> {
    let (name, value) = line
        .split_once(':')
        .ok_or_else(|| Error::Config(format!("bad header {line:?} (expected \"Name: value\")")))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|e| Error::Config(format!("bad header name in {line:?}: {e}")))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|e| Error::Config(format!("bad header value in {line:?}: {e}")))?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn targets() {
        let t = Target::parse("http://127.0.0.1:8080/invocations?x=1").unwrap();
        assert_eq!(t.host, "127.0.0.1");
        assert_eq!(t.port, 8080);
        assert_eq!(t.path_and_query, "/invocations?x=1");
        assert_eq!(t.authority, "127.0.0.1:8080");
        let t = Target::parse("http://localhost").unwrap();
        assert_eq!(t.port, 80);
        assert_eq!(t.path_and_query, "/");
        let t = Target::parse("http://[::1]:9/").unwrap();
        assert_eq!(t.host, "::1");
        assert!(Target::parse("https://x/").is_err());
        assert!(Target::parse("localhost:80/").is_err());
        assert!(Target::parse("not a url").is_err());
    }

    #[test]
    fn headers() {
        let (n, v) = parse_header("Content-Type: text/csv").unwrap();
        assert_eq!(n.as_str(), "content-type");
        assert_eq!(v, "text/csv");
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
    }

    #[test]
    fn validation() {
        let mut c = Config::new(Target::parse("http://127.0.0.1:1/").unwrap());
        assert!(c.validate().is_ok());
        c.connections = 0;
        assert!(c.validate().is_err());
        c.connections = 1;
        c.duration = None;
        assert!(c.validate().is_err());
        c.max_requests = Some(5);
        assert!(c.validate().is_ok());
        c.mode = Mode::Open { rate: 0.0 };
        assert!(c.validate().is_err());
        c.mode = Mode::Open { rate: f64::NAN };
        assert!(c.validate().is_err());
    }
}
