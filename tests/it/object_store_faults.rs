//! Faults while `homeml serve -m s3://...` loads a model, against moto's S3 server (PyPI
//! `moto[server]`), with models trained and uploaded by tests/python/object_store_faults.py:
//! - wrong credentials (moto's IAM checks on): the serve fails naming the URI, never the secret;
//! - moto killed in the middle of a 40 MiB download: the serve fails, the model cache holds no
//!   complete entry and no temporary folder, and a later run against a live moto succeeds;
//! - hot reload: while the store is down, reloads fail and the old version keeps serving; when it is
//!   back with v2, v2 is swapped in;
//! - an endpoint that always answers 503 is asked once plus `HOMEML_OBJECT_STORE_RETRIES` times.
//!
//! The store is cut at a point the test chooses (a loopback relay that holds moto's answer once it has
//! passed a few MiB of it), so nothing depends on how fast a download runs; waits are bounded by
//! [`PATIENCE`] against a hung test and assert no timing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::common::{free_port, Proc};
use crate::object_store_s3::{
    assert_served_ok, aws_env, entries, homeml, moto, moto_on, python_script, serve_fails,
    serve_from, SECRET,
};

/// The Python side of these tests.
const SCRIPT: &str = "object_store_faults.py";
/// The script that compares served answers with onnxruntime's.
const CHECK: &str = "object_store_s3.py";
/// The variable bounding the object-store client's retries.
const RETRIES: &str = "HOMEML_OBJECT_STORE_RETRIES";
/// The manifest that marks a cache entry complete.
const MANIFEST: &str = ".homeml-download.json";
/// Size of the large artifact of the model killed mid-download.
const BIG_MIB: u64 = 40;
/// Bytes of answers the relay passes before it holds the rest: well inside the large artifact.
const CUT_AFTER: usize = 4 << 20;
/// A bound against a hung test, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);

type Env = Vec<(&'static str, String)>;

/// `env` with `key` set to `value` (a later entry wins when the command's environment is built).
fn with(env: &[(&'static str, String)], key: &'static str, value: impl Into<String>) -> Env {
    let mut out: Env = env.iter().filter(|(k, _)| *k != key).cloned().collect();
    out.push((key, value.into()));
    out
}

fn utf8(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temp path")
}

/// The two iris models (`v1`, `v2`, answering differently) and their reference answers
/// (`v1.json`, `v2.json`), trained and saved once per test binary run.
fn models() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("object_store_faults");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating the models folder");
        let out = python_script(SCRIPT, &["models", utf8(&dir)], &[], &dir);
        assert!(out.contains("models saved"), "{out}");
        dir
    })
}

/// The reference answers of `version`.
fn spec(version: &str) -> PathBuf {
    models().join(format!("{version}.json"))
}

/// Uploads model `version` to `s3://BUCKET/PREFIX` of the moto that `env` points at, with a
/// `weights.bin` of `big_mib` MiB when given.
fn upload(version: &str, bucket: &str, prefix: &str, big_mib: Option<u64>, env: &Env, cwd: &Path) {
    let dir = models().join(version);
    let big = big_mib.map(|m| m.to_string());
    let mut args = vec!["upload", utf8(&dir), bucket, prefix];
    args.extend(big.as_deref());
    let out = python_script(SCRIPT, &args, env, cwd);
    assert!(out.contains("uploaded"), "{out}");
}

/// The names in the cache folder that are temporary download folders, and the entries marked
/// complete (holding a manifest).
fn temp_and_complete(cache: &Path) -> (Vec<String>, Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(cache) else {
        return (Vec::new(), Vec::new());
    };
    let (mut temp, mut complete) = (Vec::new(), Vec::new());
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".tmp-") {
            temp.push(name);
        } else if e.path().join(MANIFEST).is_file() {
            complete.push(e.path());
        }
    }
    (temp, complete)
}

/// Waits until `proc` has logged a line holding `needle` and returns that line.
fn wait_for_line(proc: &Proc, needle: &str) -> String {
    let start = Instant::now();
    loop {
        let logs = proc.logs();
        if let Some(line) = logs.lines().find(|l| l.contains(needle)) {
            return line.to_string();
        }
        assert!(
            start.elapsed() < PATIENCE,
            "no line with {needle:?} in the log:\n{logs}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for `child` to exit (killing it after [`PATIENCE`]).
fn wait_exit(child: &mut std::process::Child, log: &Path) -> ExitStatus {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status,
            Ok(None) if start.elapsed() < PATIENCE => std::thread::sleep(Duration::from_millis(50)),
            other => {
                let _ = child.kill();
                panic!(
                    "homeml did not exit ({other:?}); its log:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
        }
    }
}

/// A loopback TCP relay in front of moto. Once it has passed `cut_after` bytes of moto's answers it
/// stops reading them (so moto blocks on a full socket, mid-answer), reports it on `reached`, and holds
/// until [`Relay::cut`], which closes the held connections. Each new connection is relayed only while
/// moto still accepts connections, else closed at once.
struct Relay {
    /// `http://127.0.0.1:PORT`.
    endpoint: String,
    /// One message each time the threshold is passed.
    reached: mpsc::Receiver<()>,
    cut: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Relay {
    fn start(upstream: u16, cut_after: usize) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the relay");
        let endpoint = format!(
            "http://{}",
            listener.local_addr().expect("the relay's address")
        );
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let (tx, reached) = mpsc::channel();
        let cut = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let passed = Arc::new(AtomicUsize::new(0));
        let (c, s) = (cut.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let (tx, c, s, passed) = (tx.clone(), c.clone(), s.clone(), passed.clone());
                        std::thread::spawn(move || {
                            relay_one(client, upstream, cut_after, &passed, &tx, &c, &s)
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(e) => {
                        eprintln!("the relay stops accepting: {e}");
                        return;
                    }
                }
            }
        });
        Relay {
            endpoint,
            reached,
            cut,
            stop,
        }
    }

    /// Closes the held connections (after moto is killed).
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Relays one connection (see [`Relay`]).
fn relay_one(
    client: TcpStream,
    upstream: u16,
    cut_after: usize,
    passed: &AtomicUsize,
    reached: &mpsc::Sender<()>,
    cut: &AtomicBool,
    stop: &AtomicBool,
) {
    // Nothing listens (moto was killed): the client sees its connection closed.
    let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return;
    };
    let _ = client.set_nonblocking(false);
    let (Ok(mut from_client), Ok(mut to_up)) = (client.try_clone(), up.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_up);
        let _ = to_up.shutdown(Shutdown::Write);
    });
    let mut to_client = client;
    let mut buf = vec![0u8; 64 << 10];
    while !cut.load(Ordering::SeqCst) {
        let n = match up.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to_client.write_all(&buf[..n]).is_err() {
            break;
        }
        if passed.fetch_add(n, Ordering::SeqCst) + n >= cut_after {
            let _ = reached.send(());
            while !cut.load(Ordering::SeqCst) && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            break;
        }
    }
    let _ = to_client.shutdown(Shutdown::Both);
    let _ = up.shutdown(Shutdown::Both);
}

/// A loopback HTTP/1.1 endpoint that answers every request `503 Service Unavailable` (keeping the
/// connection open) and counts the requests.
struct Unavailable {
    /// `http://127.0.0.1:PORT`.
    endpoint: String,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Unavailable {
    fn start() -> Unavailable {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the 503 endpoint");
        let endpoint = format!("http://{}", listener.local_addr().expect("its address"));
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (n, s) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let n = n.clone();
                        std::thread::spawn(move || answer_503(conn, &n));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => return,
                }
            }
        });
        Unavailable {
            endpoint,
            requests,
            stop,
        }
    }

    /// The requests received so far.
    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Unavailable {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Reads requests from `conn` (head, then a `Content-Length` body) and answers each 503.
fn answer_503(conn: TcpStream, requests: &AtomicUsize) {
    let _ = conn.set_nonblocking(false);
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    loop {
        let mut body_len = 0usize;
        let mut line = String::new();
        let mut head_lines = 0;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
            head_lines += 1;
            if let Some((k, v)) = line.split_once(':') {
                if k.trim().eq_ignore_ascii_case("content-length") {
                    body_len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        if head_lines == 0 {
            continue;
        }
        if body_len > 0
            && std::io::copy(
                &mut (&mut reader).take(body_len as u64),
                &mut std::io::sink(),
            )
            .is_err()
        {
            return;
        }
        requests.fetch_add(1, Ordering::SeqCst);
        let answer = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nunavailable";
        if out.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// moto's authentication on: a wrong secret for a real key fails the serve with an error that names
/// the URI and says the credentials were refused, without the secret; the right secret serves.
#[test]
fn wrong_credentials_fail_naming_the_uri_without_the_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let m = moto(&t.join("moto.log"));
    let env = aws_env(&m.endpoint);
    let uri = "s3://homeml-auth/iris";
    upload("v1", "homeml-auth", "iris", None, &env, t);
    let creds = t.join("creds.json");
    let out = python_script(SCRIPT, &["lock-down", utf8(&creds)], &env, t);
    assert!(out.contains("auth on"), "{out}");
    let creds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&creds).expect("the key written"))
            .expect("the key as JSON");
    let key_id = creds["key_id"].as_str().expect("an access key id");
    let secret = creds["secret"].as_str().expect("a secret access key");
    let cache = t.join("cache");

    // The real key with a wrong secret ([`SECRET`]), then a key moto never issued.
    let wrong = with(&env, "AWS_ACCESS_KEY_ID", key_id);
    for env in [&wrong, &env] {
        let text = serve_fails(uri, env, &cache);
        assert!(text.contains("credentials were refused"), "{text}");
        assert!(
            !text.contains(secret),
            "the right secret in the error: {text}"
        );
    }
    let (temp, complete) = temp_and_complete(&cache);
    assert!(
        temp.is_empty() && complete.is_empty(),
        "{temp:?} {complete:?}"
    );

    // The right secret: served.
    let right = with(&wrong, "AWS_SECRET_ACCESS_KEY", secret);
    let s = serve_from(uri, &cache, &right, t.join("serve.log"));
    assert_served_ok(CHECK, &s.addr, &spec("v1"), &right, t);
    assert!(!s.logs().contains(secret), "a secret in the serve's log");
}

/// moto killed while a 40 MiB artifact of the model is being downloaded: the serve fails naming the
/// URI, the cache holds neither a complete entry nor a temporary folder; a later run against a live
/// moto downloads the model and serves it.
#[test]
fn a_store_killed_mid_download_leaves_no_entry_and_a_later_run_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let uri = "s3://homeml-big/iris";
    let m = moto(&t.join("moto1.log"));
    upload(
        "v1",
        "homeml-big",
        "iris",
        Some(BIG_MIB),
        &aws_env(&m.endpoint),
        t,
    );
    let port = m
        .endpoint
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("moto's port");
    let relay = Relay::start(port, CUT_AFTER);
    let env = with(&aws_env(&relay.endpoint), RETRIES, "1");
    let cache = t.join("cache");
    let log = t.join("serve-killed.log");
    let file = std::fs::File::create(&log).expect("creating the log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_homeml"))
        .args([
            "serve",
            "-m",
            uri,
            "-p",
            "0",
            "--model-cache-dir",
            utf8(&cache),
        ])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("MLFLOW_TRACKING_URI")
        .stdout(file.try_clone().expect("the log twice"))
        .stderr(file)
        .spawn()
        .expect("spawning homeml serve");
    if relay.reached.recv_timeout(PATIENCE).is_err() {
        let _ = child.kill();
        panic!(
            "the download never passed {CUT_AFTER} bytes; the log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    let (temp, _) = temp_and_complete(&cache);
    assert_eq!(temp.len(), 1, "the download's temporary folder: {temp:?}");
    drop(m); // killed, with the rest of the answer unsent
    relay.cut();
    let status = wait_exit(&mut child, &log);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!status.success(), "the serve succeeded: {text}");
    assert!(text.contains(uri), "the error does not name {uri}: {text}");
    assert!(!text.contains(SECRET), "a secret in the error: {text}");
    let (temp, complete) = temp_and_complete(&cache);
    assert!(temp.is_empty(), "temporary folders left: {temp:?}");
    assert!(complete.is_empty(), "entries marked complete: {complete:?}");
    drop(relay);

    let m = moto(&t.join("moto2.log"));
    let env = aws_env(&m.endpoint);
    upload("v1", "homeml-big", "iris", Some(BIG_MIB), &env, t);
    let s = serve_from(uri, &cache, &env, t.join("serve-live.log"));
    assert_served_ok(CHECK, &s.addr, &spec("v1"), &env, t);
    drop(s);
    let (temp, complete) = temp_and_complete(&cache);
    assert!(temp.is_empty(), "temporary folders left: {temp:?}");
    assert_eq!(
        complete,
        entries(&cache),
        "an incomplete entry beside the complete one"
    );
    assert_eq!(complete.len(), 1, "{complete:?}");
    let weights = std::fs::metadata(complete[0].join("weights.bin")).map(|m| m.len());
    assert_eq!(weights.ok(), Some(BIG_MIB << 20));
}

/// `--reload-interval-s 1`: while moto is down every reload fails (logged with the URI) and v1 keeps
/// answering; when moto is back on its port with v2 uploaded, v2 is swapped in and answers.
#[test]
fn reloads_keep_the_old_version_while_the_store_is_down_then_swap_in_v2() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let uri = "s3://homeml-live/iris";
    let port = free_port();
    let m = moto_on(port, &t.join("moto1.log"));
    let env = aws_env(&m.endpoint);
    upload("v1", "homeml-live", "iris", None, &env, t);
    let cache = t.join("cache");
    let s = homeml(
        &[
            "serve",
            "-m",
            uri,
            "-p",
            "0",
            "--model-cache-dir",
            utf8(&cache),
            "--reload-interval-s",
            "1",
        ],
        &with(&env, RETRIES, "0"),
        t.join("serve.log"),
    );
    assert_served_ok(CHECK, &s.addr, &spec("v1"), &env, t);

    drop(m);
    let failed = wait_for_line(&s, "reload failed");
    assert!(failed.contains(uri), "{failed}");
    assert!(!s.logs().contains(SECRET), "a secret in the log");
    assert_served_ok(CHECK, &s.addr, &spec("v1"), &env, t);

    let _m = moto_on(port, &t.join("moto2.log"));
    upload("v2", "homeml-live", "iris", None, &env, t);
    wait_for_line(&s, "new version swapped in");
    assert_served_ok(CHECK, &s.addr, &spec("v2"), &env, t);
    drop(s);
    let (temp, complete) = temp_and_complete(&cache);
    assert!(temp.is_empty(), "temporary folders left: {temp:?}");
    assert_eq!(complete.len(), 2, "v1's and v2's entries: {complete:?}");
}

/// An endpoint that always answers 503: the listing is sent once plus `HOMEML_OBJECT_STORE_RETRIES`
/// times, then the serve fails naming the URI.
#[test]
fn a_store_answering_503_is_asked_once_plus_the_configured_retries() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let cache = t.join("cache");
    let u = Unavailable::start();
    let uri = "s3://homeml-unavailable/iris";
    let mut before = 0;
    for retries in [0usize, 3] {
        let env = with(&aws_env(&u.endpoint), RETRIES, retries.to_string());
        let text = serve_fails(uri, &env, &cache);
        assert!(text.contains("503"), "{text}");
        let now = u.requests();
        assert_eq!(now - before, retries + 1, "{RETRIES}={retries}: {text}");
        before = now;
    }
    let (temp, complete) = temp_and_complete(&cache);
    assert!(
        temp.is_empty() && complete.is_empty(),
        "{temp:?} {complete:?}"
    );
}
