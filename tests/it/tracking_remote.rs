//! http:// tracking URIs against a real `homeml server` on loopback (started on a temporary store in
//! each test): homeml's Rust training (`homeml quickstart --no-serve`, through the tracking crate's
//! REST store) and its `experiments`/`runs`/`models` commands, what they logged read back by the real
//! mlflow client (tests/python/tracking_remote_reads.py); `homeml serve -m models:/name@alias
//! --tracking-uri http://...` downloading through the artifact proxy and following the alias by
//! polling, and `runs:/`; a download cut short by a fault-injecting TCP relay leaves nothing in the
//! model cache, basic and bearer credentials reach the server but no output, and a model version whose
//! logged model is still PENDING (logged here through the REST store) is refused and not cached;
//! and `https://` URIs through a TLS-terminating proxy (tests/python/tls_proxy.py) with the CA given
//! as MLflow users give it (REQUESTS_CA_BUNDLE, MLFLOW_TRACKING_SERVER_CERT_PATH,
//! MLFLOW_TRACKING_INSECURE_TLS).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, Proc};

/// A bound against a hung test on a loaded machine, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(90);

fn start_server(tmp: &Path) -> Proc {
    Proc::start(
        &[
            "server",
            "--port",
            "0",
            "--backend-store-uri",
            tmp.join("mlruns").to_str().unwrap(),
            "--artifacts-destination",
            tmp.join("mlartifacts").to_str().unwrap(),
        ],
        &[],
        tmp.join("server.log"),
    )
}

/// `homeml <args>` without MLflow's environment leaking in from the caller.
pub(crate) fn homeml(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_homeml"));
    cmd.args(args)
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_TOKEN")
        .env_remove("MLFLOW_TRACKING_USERNAME")
        .env_remove("MLFLOW_TRACKING_PASSWORD")
        .env_remove("RUST_BACKTRACE");
    cmd
}

pub(crate) fn json_of(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// What `homeml quickstart` leaves in the store at `tracking_uri`, as the CLI lists it: the
/// Default and quickstart experiments, 4 runs, 4 registered models at version 1. Returns the
/// newest run's id.
pub(crate) fn assert_quickstart_listed(tracking_uri: &str) -> String {
    let list = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--json", "--tracking-uri", tracking_uri]);
        json_of(&common::run_ok(&mut homeml(&all)))
    };
    let exps = list(&["experiments", "list"]);
    let names: Vec<&str> = exps
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, ["Default", "homeml-quickstart"], "{exps}");
    let runs = list(&["runs", "list", "-e", "homeml-quickstart"]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 4, "{runs:?}");
    let models = list(&["models", "list"]);
    let models = models.as_array().unwrap();
    assert_eq!(models.len(), 4, "{models:?}");
    assert!(
        models.iter().all(|m| m["latest_version"] == 1),
        "{models:?}"
    );
    runs[0]["info"]["run_id"].as_str().unwrap().to_string()
}

/// `homeml serve -m MODEL --tracking-uri URI --model-cache-dir CACHE -p 0` with `extra` arguments.
pub(crate) fn serve_cmd(model: &str, tracking_uri: &str, cache: &Path, extra: &[&str]) -> Command {
    let cache = cache.to_str().expect("a UTF-8 temp path");
    let mut args = vec![
        "serve",
        "-m",
        model,
        "--tracking-uri",
        tracking_uri,
        "--model-cache-dir",
        cache,
        "-p",
        "0",
    ];
    args.extend_from_slice(extra);
    homeml(&args)
}

/// One GET over a fresh connection: (status, body). For answers with a Content-Length.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

/// Two iris rows (a setosa, a virginica) and the labels an iris classifier gives them.
const ROWS: &str = r#"{"dataframe_split": {"columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"], "data": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}}"#;

pub(crate) fn assert_predicts_iris(addr: &str, model: &str) {
    let (status, body) = common::post(addr, &format!("/models/{model}/invocations"), ROWS);
    assert_eq!(status, 200, "{body}");
    let v = json_of(&body);
    assert_eq!(
        v["predictions"]["label"],
        serde_json::json!([0, 2]),
        "{body}"
    );
}

fn served_versions(addr: &str, model: &str) -> Value {
    let (status, body) = get(addr, &format!("/v2/models/{model}"));
    assert_eq!(status, 200, "{body}");
    json_of(&body)["versions"].clone()
}

#[test]
fn cli_and_rust_training_over_http_are_read_back_by_the_real_mlflow_client() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start_server(tmp.path());
    let url = format!("http://{}", server.addr);

    let out = common::run_ok(&mut homeml(&[
        "quickstart",
        "--no-serve",
        "--n-trees",
        "5",
        "--tracking-uri",
        &url,
    ]));
    assert!(
        out.contains("registered iris-classifier version 1"),
        "{out}"
    );

    let run_id = assert_quickstart_listed(&url);
    let shown = json_of(&common::run_ok(&mut homeml(&[
        "runs",
        "show",
        &run_id,
        "--json",
        "--tracking-uri",
        &url,
    ])));
    assert_eq!(shown["info"]["status"], "FINISHED", "{shown}");
    assert!(
        shown["data"]["params"]
            .as_object()
            .is_some_and(|p| !p.is_empty()),
        "{shown}"
    );

    // What Rust logged over HTTP, read by MLflow's own client.
    let out = common::run_ok(
        Command::new(common::python())
            .arg(common::root().join("tests/python/tracking_remote_reads.py"))
            .arg(&url)
            .env_remove("MLFLOW_TRACKING_URI")
            .current_dir(tmp.path()),
    );
    assert!(out.trim_end().ends_with("OK"), "{out}");

    // MLflow's errors come back as the tracking crate's.
    let out = homeml(&[
        "runs",
        "show",
        "0123456789abcdef0123456789abcdef",
        "--tracking-uri",
        &url,
    ])
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("not found"), "{err}");
    let out = homeml(&[
        "experiments",
        "create",
        "homeml-quickstart",
        "--tracking-uri",
        &url,
    ])
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("already exists"),
        "{err}"
    );
    let out = homeml(&[
        "models",
        "alias",
        "set",
        "iris-classifier",
        "champion",
        "9",
        "--tracking-uri",
        &url,
    ])
    .output()
    .unwrap();
    assert!(
        !out.status.success(),
        "an alias to a missing version was accepted"
    );
}

#[test]
fn serve_downloads_from_the_server_and_follows_the_alias_by_polling() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start_server(tmp.path());
    let url = format!("http://{}", server.addr);
    for _ in 0..2 {
        common::run_ok(&mut homeml(&[
            "quickstart",
            "--no-serve",
            "--n-trees",
            "5",
            "--tracking-uri",
            &url,
        ]));
    }
    common::run_ok(&mut homeml(&[
        "models",
        "alias",
        "set",
        "iris-classifier",
        "champion",
        "1",
        "--tracking-uri",
        &url,
    ]));
    let cache = tmp.path().join("cache");
    let mut cmd = serve_cmd(
        "models:/iris-classifier@champion",
        &url,
        &cache,
        &["--reload-interval-s", "1"],
    );
    cmd.env("RUST_LOG", "info");
    let serve = Proc::spawn(cmd, tmp.path().join("serve.log"));
    assert_predicts_iris(&serve.addr, "iris-classifier");
    assert_eq!(
        served_versions(&serve.addr, "iris-classifier"),
        serde_json::json!(["1"])
    );
    assert_eq!(complete_entries(&cache), 1);

    common::run_ok(&mut homeml(&[
        "models",
        "alias",
        "set",
        "iris-classifier",
        "champion",
        "2",
        "--tracking-uri",
        &url,
    ]));
    let t0 = Instant::now();
    while served_versions(&serve.addr, "iris-classifier") != serde_json::json!(["2"]) {
        assert!(
            t0.elapsed() < PATIENCE,
            "the alias move was not followed; serve log:\n{}",
            serve.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_predicts_iris(&serve.addr, "iris-classifier");
    assert_eq!(complete_entries(&cache), 2, "one cache entry per version");
    drop(serve);

    // runs:/<run>/model finds the run's logged model over REST (the cache is reused).
    let mv = json_of(&common::run_ok(&mut homeml(&[
        "models",
        "show",
        "iris-classifier",
        "--json",
        "--tracking-uri",
        &url,
    ])));
    let run_id = mv["versions"][0]["run_id"].as_str().unwrap().to_string();
    let model = format!("runs:/{run_id}/model");
    let mut cmd = serve_cmd(&model, &url, &cache, &["--name", "iris"]);
    cmd.env("RUST_LOG", "info");
    let serve = Proc::spawn(cmd, tmp.path().join("serve-runs.log"));
    assert_predicts_iris(&serve.addr, "iris");
    assert_eq!(complete_entries(&cache), 2, "{}", serve.logs());
}

/// Cache entries with their manifest; panics on anything else left in the cache (a partial
/// download, a temporary folder).
fn complete_entries(cache: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(cache).into_iter().flatten().flatten() {
        let p = e.path();
        assert!(
            p.join(homeml_tracking::rest::DOWNLOAD_MANIFEST).is_file(),
            "{} is in the model cache without its manifest",
            p.display()
        );
        assert!(p.join("MLmodel").is_file(), "{}", p.display());
        n += 1;
    }
    n
}

/// A TCP relay in front of the tracking server, one request per connection, that cuts the body of
/// every artifact download of a file named `cut` to half its length and records the request heads.
struct Relay {
    addr: String,
    heads: Arc<Mutex<Vec<String>>>,
}

fn read_head(s: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(i + 4);
            return Some((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn content_length(head: &str) -> usize {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

fn relay_one(mut client: TcpStream, upstream: &str, cut: &str, heads: &Mutex<Vec<String>>) {
    let Some((head, mut body)) = read_head(&mut client) else {
        return;
    };
    let want = content_length(&head);
    let mut chunk = [0u8; 8192];
    while body.len() < want {
        match client.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    heads.lock().unwrap().push(head.clone());
    let request_line = head.lines().next().unwrap_or("").to_string();
    let mut out = String::new();
    for line in head.lines().filter(|l| !l.is_empty()) {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    let Ok(mut up) = TcpStream::connect(upstream) else {
        return;
    };
    if up
        .write_all(out.as_bytes())
        .and_then(|_| up.write_all(&body))
        .is_err()
    {
        return;
    }
    let mut answer = Vec::new();
    let _ = up.read_to_end(&mut answer);
    let is_cut = request_line.starts_with("GET ")
        && request_line.contains("/mlflow-artifacts/artifacts/")
        && request_line.contains(&format!("/{cut} "));
    if is_cut {
        if let Some(i) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            let body_len = answer.len() - (i + 4);
            answer.truncate(i + 4 + body_len / 2);
        }
    }
    let _ = client.write_all(&answer);
}

fn start_relay(upstream: String, cut: &'static str) -> Relay {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let h = heads.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (upstream, h) = (upstream.clone(), h.clone());
            std::thread::spawn(move || relay_one(client, &upstream, cut, &h));
        }
    });
    Relay { addr, heads }
}

#[test]
fn a_download_cut_short_leaves_no_model_and_credentials_stay_out_of_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start_server(tmp.path());
    let url = format!("http://{}", server.addr);
    common::run_ok(&mut homeml(&[
        "quickstart",
        "--no-serve",
        "--n-trees",
        "5",
        "--tracking-uri",
        &url,
    ]));
    let relay = start_relay(server.addr.clone(), "model.postcard");
    let cache: PathBuf = tmp.path().join("cache");
    let out = serve_cmd(
        "models:/iris-classifier/1",
        &format!("http://{}", relay.addr),
        &cache,
        &[],
    )
    .env("MLFLOW_TRACKING_TOKEN", "sekrit-token-123")
    .env("RUST_LOG", "debug")
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "served a model whose download was cut:\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("model.postcard") && stderr.contains("incomplete or damaged"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("sekrit") && !stdout.contains("sekrit"),
        "{stderr}"
    );
    let heads = relay.heads.lock().unwrap().clone();
    assert!(
        heads.iter().any(|h| h
            .to_ascii_lowercase()
            .contains("authorization: bearer sekrit-token-123")),
        "the token was not sent: {heads:?}"
    );
    assert_eq!(
        complete_entries(&cache),
        0,
        "a cut download left a model in the cache"
    );

    // Basic credentials from MLFLOW_TRACKING_USERNAME/PASSWORD, sent and never printed.
    let out = homeml(&[
        "models",
        "list",
        "--tracking-uri",
        &format!("http://{}", relay.addr),
    ])
    .env("MLFLOW_TRACKING_USERNAME", "alice")
    .env("MLFLOW_TRACKING_PASSWORD", "pw-sekrit-456")
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!printed.contains("pw-sekrit"), "{printed}");
    // base64("alice:pw-sekrit-456"), lowercased as the heads are compared.
    let basic = "authorization: basic ywxpy2u6chctc2vrcml0ltq1ng==";
    assert!(
        relay
            .heads
            .lock()
            .unwrap()
            .iter()
            .any(|h| h.to_ascii_lowercase().contains(basic)),
        "basic credentials were not sent"
    );

    // A version whose logged model is still PENDING (its upload unfinished) is refused, not cached:
    // logged through the tracking crate's REST store as an interrupted client leaves it.
    use homeml_tracking::api::*;
    let rest = homeml_tracking::RestStore::open(&url).unwrap();
    let exp = rest
        .create_experiment(CreateExperiment {
            name: "pending".into(),
            ..Default::default()
        })
        .unwrap();
    let run = rest
        .create_run(CreateRun {
            experiment_id: exp.clone(),
            ..Default::default()
        })
        .unwrap();
    let lm = rest
        .create_logged_model(CreateLoggedModel {
            experiment_id: exp,
            name: Some("model".into()),
            source_run_id: Some(run.info.run_id.clone()),
            ..Default::default()
        })
        .unwrap();
    let root = homeml_tracking::rest::proxy_path(&lm.artifact_location).unwrap();
    homeml_tracking::artifacts::ArtifactStore::put_bytes(
        &rest.artifacts(),
        &format!("{root}/MLmodel"),
        b"flavors: {}\n",
    )
    .unwrap();
    rest.create_registered_model(CreateRegisteredModel {
        name: "pending".into(),
        ..Default::default()
    })
    .unwrap();
    let mv = rest
        .create_model_version(CreateModelVersion {
            name: "pending".into(),
            source: format!("models:/{}", lm.model_id),
            model_id: Some(lm.model_id.clone()),
            run_id: Some(run.info.run_id.clone()),
            ..Default::default()
        })
        .unwrap();
    rest.set_registered_model_alias("pending", "a", mv.version)
        .unwrap();
    let out = serve_cmd("models:/pending@a", &url, &cache, &[])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("LOGGED_MODEL_PENDING"),
        "{stderr}"
    );
    assert_eq!(complete_entries(&cache), 0);

    // The same model straight from the server: downloaded whole, then served.
    let mut cmd = serve_cmd("models:/iris-classifier/1", &url, &cache, &[]);
    cmd.env("RUST_LOG", "info");
    let serve = Proc::spawn(cmd, tmp.path().join("serve.log"));
    assert_predicts_iris(&serve.addr, "iris-classifier");
    assert_eq!(complete_entries(&cache), 1);
}

/// The TLS-terminating proxy of tests/python/tls_proxy.py in front of a server: its CA is
/// `dir/ca.pem`; killed when dropped.
struct TlsProxy {
    child: std::process::Child,
    port: u16,
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_tls_proxy(upstream: &str, dir: &Path) -> TlsProxy {
    use std::io::BufRead;
    let mut child = Command::new(common::python())
        .arg(common::root().join("tests/python/tls_proxy.py"))
        .arg(upstream)
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("starting the TLS proxy");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped stdout");
    let _ = std::io::BufReader::new(stdout).read_line(&mut line);
    let port = line
        .strip_prefix("PORT ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("the TLS proxy did not report its port: {line:?}"));
    TlsProxy { child, port }
}

#[test]
fn https_tracking_uris_verify_the_server_with_the_ca_mlflow_users_configure() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start_server(tmp.path());
    let proxy = start_tls_proxy(&server.addr, tmp.path());
    let url = format!("https://127.0.0.1:{}", proxy.port);
    let ca = tmp.path().join("ca.pem");
    let ca = ca.to_str().unwrap();
    // Training and registration over https, the CA from requests' variable.
    let mut train = homeml(&[
        "quickstart",
        "--no-serve",
        "--n-trees",
        "5",
        "--tracking-uri",
        &url,
    ]);
    common::run_ok(train.env("REQUESTS_CA_BUNDLE", ca));
    let list = |env: &[(&str, &str)]| {
        let mut cmd = homeml(&["runs", "list", "--tracking-uri", &url]);
        cmd.env_remove("REQUESTS_CA_BUNDLE")
            .env_remove("MLFLOW_TRACKING_SERVER_CERT_PATH")
            .env_remove("MLFLOW_TRACKING_INSECURE_TLS")
            .envs(env.iter().copied());
        cmd.output().expect("running homeml runs list")
    };
    for env in [
        &[("MLFLOW_TRACKING_SERVER_CERT_PATH", ca)][..],
        &[("MLFLOW_TRACKING_INSECURE_TLS", "true")][..],
    ] {
        let out = list(env);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("FINISHED"),
            "{env:?}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Without the CA the webpki roots refuse the server's certificate; both settings at once are
    // refused as MLflow refuses them.
    for env in [
        &[][..],
        &[
            ("MLFLOW_TRACKING_SERVER_CERT_PATH", ca),
            ("MLFLOW_TRACKING_INSECURE_TLS", "true"),
        ][..],
    ] {
        let out = list(env);
        let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(
            !out.status.success() && (stderr.contains("certificate") || stderr.contains("tls")),
            "{env:?}: {stderr}"
        );
    }
    // Serving a registered model downloaded over https.
    let mut cmd = serve_cmd(
        "models:/iris-classifier/1",
        &url,
        &tmp.path().join("cache"),
        &[],
    );
    cmd.env("MLFLOW_TRACKING_SERVER_CERT_PATH", ca);
    let serve = Proc::spawn(cmd, tmp.path().join("serve.log"));
    assert_predicts_iris(&serve.addr, "iris-classifier");
}
