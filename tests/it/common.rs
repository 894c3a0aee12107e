//! Helpers shared by the root crate's integration tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The test venv's Python: `$HOMEML_PYTHON`, else `<root>/.venv/bin/python`. Panics with the fix when absent.
pub fn python() -> PathBuf {
    let p = std::env::var_os("HOMEML_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "{} is missing: run `bash scripts/setup-venv.sh` (or `bash scripts/test.sh`)",
        p.display()
    );
    p
}

/// A tool installed in the test venv (`hadolint`, `check-jsonschema`, `kubectl`, ...).
pub fn venv_tool(name: &str) -> PathBuf {
    let py = python();
    let bin = py.parent().unwrap_or(Path::new("."));
    let tool = bin.join(name);
    assert!(
        tool.exists(),
        "{} is missing from the test venv",
        tool.display()
    );
    tool
}

/// Runs a command and returns its stdout; panics with stdout and stderr when it fails.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A child `homeml` process that listens on an address, killed when dropped; its stderr (the logs) goes
/// to a file.
pub struct Proc {
    child: Child,
    /// `host:port` it listens on.
    pub addr: String,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// Starts `homeml <args>` with `env` and waits for the `... on http://ADDR` line it prints when
    /// listening.
    pub fn start(args: &[&str], env: &[(&str, &str)], log: PathBuf) -> Proc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_homeml"));
        cmd.args(args).envs(env.iter().copied());
        Proc::spawn(cmd, log)
    }

    /// Starts `cmd` (a `homeml` command that listens) and waits for the `... on http://ADDR` line it
    /// prints when listening: within a minute, else the test fails with the process's log.
    pub fn spawn(mut cmd: Command, log: PathBuf) -> Proc {
        let err = std::fs::File::create(&log).expect("creating the log file");
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout);
            let mut first = String::new();
            let _ = lines.read_line(&mut first);
            let _ = tx.send(first);
            // Keep draining so that a later line never meets a closed pipe.
            let _ = std::io::copy(&mut lines, &mut std::io::sink());
        });
        let mut proc = Proc {
            child,
            addr: String::new(),
            log,
        };
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        match line
            .split("http://")
            .nth(1)
            .and_then(|a| a.trim().split('/').next())
        {
            Some(a) if !a.is_empty() => proc.addr = a.to_string(),
            _ => panic!(
                "{cmd:?} did not report its address (got {line:?}); its log:\n{}",
                proc.logs()
            ),
        }
        proc
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it has logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// One JSON POST over a fresh connection with `Connection: close`: (status, body). For answers with a
/// Content-Length (every answer of `homeml serve` and `homeml gateway` to these requests).
pub fn post(addr: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, rest) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer head in {raw:?}"));
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "a chunked answer, which this helper does not decode: {head}"
    );
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, rest.to_string())
}

/// A free loopback port (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Waits until something accepts connections on `127.0.0.1:port`, polling; fails the test after a
/// minute with the service's log at `log`.
pub fn wait_listening(port: u16, what: &str, log: &Path) {
    let start = std::time::Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what} did not listen: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child service process (an emulator), killed when dropped.
pub struct Service {
    /// The process.
    pub child: Child,
    /// Its base URL (`http://127.0.0.1:PORT`).
    pub endpoint: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    /// Starts `cmd` (stderr to `log`, stdout discarded) listening on `port` and waits until it does.
    pub fn start(mut cmd: Command, port: u16, what: &str, log: &Path) -> Service {
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).expect("creating the log file"))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what}: {e}"));
        let s = Service {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        wait_listening(port, what, log);
        s
    }
}
