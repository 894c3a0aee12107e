//! `homeml probe URL`: an HTTP health check for container images that have no shell or curl.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{bail, Context};

/// Arguments of `homeml probe`.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// The URL to GET, `http://host:port/path`.
    url: String,
    /// Give up after this many milliseconds.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
}

/// Splits `http://host:port/path` into (host, port, path).
fn parse_url(url: &str) -> anyhow::Result<(String, u16, String)> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("{url:?}: only http:// URLs are probed"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse().with_context(|| format!("bad port in {url:?}"))?,
        ),
        None => (authority, 80),
    };
    if host.is_empty() {
        bail!("{url:?} has no host");
    }
    Ok((host.to_string(), port, path.to_string()))
}

/// GETs the URL; Ok when the status is 2xx.
pub fn run(args: ProbeArgs) -> anyhow::Result<()> {
    let (host, port, path) = parse_url(&args.url)?;
    let timeout = Duration::from_millis(args.timeout_ms);
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host}"))?
        .next()
        .with_context(|| format!("{host} has no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    // One write: `write!` on an unbuffered stream would send each formatted piece as its own
    // segment, and a peer that answers after its first read would then reset the connection.
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: homeml-probe\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.windows(2).any(|w| w == b"\r\n") {
        let n = stream.read(&mut buf).context("reading the answer")?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP answer from {}", args.url))?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        bail!("{} answered {status}", args.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        assert_eq!(
            parse_url("http://server:8080/v2/health/ready").unwrap(),
            ("server".into(), 8080, "/v2/health/ready".into())
        );
        assert_eq!(parse_url("http://h").unwrap(), ("h".into(), 80, "/".into()));
        assert!(parse_url("https://h/").is_err());
        assert!(parse_url("http://:80/").is_err());
        assert!(parse_url("http://h:x/").is_err());
    }

    #[test]
    fn probes_a_live_port_and_fails_on_a_closed_one() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            for code in [200, 503] {
                let (mut s, _) = listener.accept().unwrap();
                // Read the whole request head: closing with unread bytes would reset the
                // connection before the probe reads the answer.
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut buf).unwrap();
                    assert!(n > 0, "the probe closed before ending its request");
                    head.extend_from_slice(&buf[..n]);
                }
                let answer = format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\n\r\n");
                s.write_all(answer.as_bytes()).unwrap();
            }
        });
        let probe = |p: &str| {
            run(ProbeArgs {
                url: format!("http://{addr}{p}"),
                timeout_ms: 2000,
            })
        };
        assert!(probe("/ping").is_ok());
        assert!(probe("/ping").is_err());
        server.join().unwrap();
        drop(std::net::TcpListener::bind(addr)); // the port is closed now
        assert!(probe("/ping").is_err());
    }
}
