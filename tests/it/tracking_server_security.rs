//! Bad input and hostile requests against `homeml server`, as raw HTTP on loopback (no Python): each
//! error code with MLflow's status and body shape (malformed JSON, wrong types, missing fields,
//! unknown endpoints, wrong methods, MLflow's log-batch and length limits, missing and duplicate
//! resources), then the security suite taken from MLflow's advisories and `validate_path_is_safe`
//! (artifact paths with `..`, `%2e%2e`, double encoding, backslashes, absolute paths, NUL, a symlink
//! inside the store pointing outside; `file://`, other hosts and `runs:` in `artifact_location`;
//! model-version `source`s outside the run's artifact root, with relative parts, or naming another
//! host (SSRF); oversized requests). Every one gets a 4xx, and afterwards nothing outside the store
//! has changed (the test lists the filesystem around it).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::Proc;

/// One request over a fresh connection: (status, body as JSON or `null` when not JSON).
fn send(addr: &str, method: &str, path: &str, ctype: Option<&str>, body: &[u8]) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(c) = ctype {
        head.push_str(&format!("Content-Type: {c}\r\n"));
    }
    head.push_str("\r\n");
    // The server may answer (413) and close before reading a big body: a failed write is fine.
    let _ = s
        .write_all(head.as_bytes())
        .and_then(|()| s.write_all(body));
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer to {method} {path}: {text:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, serde_json::from_str(rest).unwrap_or(Value::Null))
}

fn post(addr: &str, path: &str, body: &Value) -> (u16, Value) {
    send(
        addr,
        "POST",
        &format!("/api/2.0/mlflow/{path}"),
        Some("application/json"),
        body.to_string().as_bytes(),
    )
}

fn get(addr: &str, path_and_query: &str) -> (u16, Value) {
    send(
        addr,
        "GET",
        &format!("/api/2.0/mlflow/{path_and_query}"),
        None,
        b"",
    )
}

/// Asserts an MLflow error answer: the status, the code, and (when given) a part of the message.
#[track_caller]
fn expect_error(got: (u16, Value), status: u16, code: &str, message_part: &str) {
    let (s, body) = got;
    assert_eq!(s, status, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
    let msg = body["message"].as_str().unwrap_or_default();
    assert!(msg.contains(message_part), "{msg:?} lacks {message_part:?}");
    assert!(
        !msg.contains("/tmp/") && !msg.contains("mlruns"),
        "the message shows a server path: {msg}"
    );
}

/// Every file and folder under `dir` (relative), sorted; symlinks are listed, not followed.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn bad_requests_get_mlflows_errors_and_hostile_paths_write_nothing_outside_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "secret").unwrap();
    let server = Proc::start(
        &[
            "server",
            "--port",
            "0",
            "--backend-store-uri",
            store.to_str().unwrap(),
            "--artifacts-destination",
            store.to_str().unwrap(),
            "--max-artifact-mb",
            "1",
        ],
        &[],
        tmp.path().join("server.log"),
    );
    let a = server.addr.as_str();
    let before_outside = tree(tmp.path())
        .into_iter()
        .filter(|p| !p.starts_with("store") && !p.starts_with("server.log"))
        .collect::<Vec<_>>();

    // A run to aim at.
    let (s, e) = post(a, "experiments/create", &json!({"name": "sec"}));
    assert_eq!(s, 200, "{e}");
    let exp = e["experiment_id"].as_str().unwrap().to_string();
    let (s, r) = post(a, "runs/create", &json!({"experiment_id": exp}));
    assert_eq!(s, 200, "{r}");
    let run = r["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let (s, r2) = post(a, "runs/create", &json!({"experiment_id": exp}));
    assert_eq!(s, 200, "{r2}");
    let other_run = r2["run"]["info"]["run_id"].as_str().unwrap().to_string();

    // --- Error codes and shapes ---
    let raw = |m: &str, p: &str, b: &[u8]| send(a, m, p, Some("application/json"), b);
    expect_error(
        raw("POST", "/api/2.0/mlflow/runs/log-metric", b"{not json"),
        400,
        "INVALID_PARAMETER_VALUE",
        "Malformed JSON",
    );
    expect_error(
        raw("POST", "/api/2.0/mlflow/experiments/create", b"[1,2]"),
        400,
        "INVALID_PARAMETER_VALUE",
        "JSON object",
    );
    expect_error(
        raw(
            "POST",
            "/api/2.0/mlflow/runs/log-metric",
            &[0xff, 0xfe, b'{', b'}'],
        ),
        400,
        "INVALID_PARAMETER_VALUE",
        "",
    );
    expect_error(
        post(a, "experiments/create", &json!({"name": {"a": 1}})),
        400,
        "INVALID_PARAMETER_VALUE",
        "Value was of type 'dict'",
    );
    expect_error(
        post(
            a,
            "runs/log-metric",
            &json!({"run_id": run, "key": "m", "value": [1], "timestamp": 1}),
        ),
        400,
        "INVALID_PARAMETER_VALUE",
        "Value was of type 'list'",
    );
    expect_error(
        post(
            a,
            "runs/log-metric",
            &json!({"run_id": run, "key": "m", "value": 1, "timestamp": "soon"}),
        ),
        400,
        "INVALID_PARAMETER_VALUE",
        "'timestamp'",
    );
    expect_error(
        post(a, "runs/log-parameter", &json!({"key": "k", "value": "v"})),
        400,
        "INVALID_PARAMETER_VALUE",
        "Missing value for required parameter 'run_id'",
    );
    expect_error(
        get(a, "experiments/search?max_results=-1"),
        400,
        "INVALID_PARAMETER_VALUE",
        "max_results",
    );
    expect_error(
        get(a, "runs/search?max_results=50001"),
        400,
        "INVALID_PARAMETER_VALUE",
        "max_results",
    );
    for (m, p) in [
        ("GET", "/api/2.0/mlflow/no-such-endpoint"),
        ("POST", "/ajax-api/2.0/mlflow/runs/nope"),
        ("GET", "/api/2.0/preview/mlflow/nothing/here"),
        ("GET", "/totally/elsewhere"),
    ] {
        expect_error(raw(m, p, b"{}"), 404, "ENDPOINT_NOT_FOUND", "");
    }
    let (s, body) = raw("DELETE", "/api/2.0/mlflow/runs/create", b"{}");
    assert_eq!(s, 405, "{body}");
    assert_eq!(body["error_code"], "BAD_REQUEST");
    let metrics: Vec<Value> = (0..1001)
        .map(|i| json!({"key": "m", "value": 1.0, "timestamp": 1, "step": i}))
        .collect();
    expect_error(
        post(
            a,
            "runs/log-batch",
            &json!({"run_id": run, "metrics": metrics}),
        ),
        400,
        "INVALID_PARAMETER_VALUE",
        "A batch logging request can contain at most 1000 metrics. Got 1001 metrics.",
    );
    let params: Vec<Value> = (0..101)
        .map(|i| json!({"key": format!("p{i}"), "value": "v"}))
        .collect();
    expect_error(
        post(
            a,
            "runs/log-batch",
            &json!({"run_id": run, "params": params}),
        ),
        400,
        "INVALID_PARAMETER_VALUE",
        "at most 100 params. Got 101 params.",
    );
    let tags: Vec<Value> = (0..101)
        .map(|i| json!({"key": format!("t{i}"), "value": "v"}))
        .collect();
    expect_error(
        post(a, "runs/log-batch", &json!({"run_id": run, "tags": tags})),
        400,
        "INVALID_PARAMETER_VALUE",
        "at most 100 tags. Got 101 tags.",
    );
    expect_error(
        post(
            a,
            "runs/log-parameter",
            &json!({"run_id": run, "key": "k".repeat(251), "value": "v"}),
        ),
        400,
        "INVALID_PARAMETER_VALUE",
        "exceeds the maximum length of 250 characters",
    );
    // Long values are cut to MLflow's limit, as MLflow's server does.
    let (s, _) = post(
        a,
        "runs/log-parameter",
        &json!({"run_id": run, "key": "long", "value": "v".repeat(7000)}),
    );
    assert_eq!(s, 200);
    let (_, got) = get(a, &format!("runs/get?run_id={run}"));
    let long = got["run"]["data"]["params"][0]["value"].as_str().unwrap();
    assert_eq!(long.len(), 6000);
    expect_error(
        get(a, &format!("runs/get?run_id={}", "0".repeat(32))),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "Run '00000000000000000000000000000000' not found",
    );
    expect_error(
        get(a, "experiments/get?experiment_id=999999"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "Could not find experiment with ID 999999",
    );
    expect_error(
        get(a, "registered-models/get?name=none"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "Registered Model with name=none not found",
    );
    expect_error(
        post(a, "experiments/create", &json!({"name": "sec"})),
        400,
        "RESOURCE_ALREADY_EXISTS",
        "Experiment 'sec' already exists.",
    );
    assert_eq!(
        post(a, "registered-models/create", &json!({"name": "rm"})).0,
        200
    );
    expect_error(
        post(a, "registered-models/create", &json!({"name": "rm"})),
        400,
        "RESOURCE_ALREADY_EXISTS",
        "Registered Model (name=rm) already exists.",
    );
    // Ids that try to leave the store.
    for id in ["..", "../..", "..%2F..", "%2e%2e", "/etc", "0/../../x"] {
        let (s, body) = get(a, &format!("experiments/get?experiment_id={id}"));
        assert!((400..500).contains(&s), "{id}: {s} {body}");
        let (s, body) = get(a, &format!("runs/get?run_id={id}"));
        assert!((400..500).contains(&s), "{id}: {s} {body}");
        // In a JSON body nothing is decoded: `..%2F..` is a plain name there.
        if id.split('/').any(|p| p == "..") || id.starts_with('/') {
            let (s, body) = post(a, "registered-models/create", &json!({"name": id}));
            assert!((400..500).contains(&s), "{id}: {s} {body}");
        }
    }

    // --- Artifact paths ---
    let base = format!("{exp}/{run}/artifacts");
    let put = |p: &str, body: &[u8]| {
        send(
            a,
            "PUT",
            &format!("/api/2.0/mlflow-artifacts/artifacts/{p}"),
            Some("application/octet-stream"),
            body,
        )
    };
    assert_eq!(put(&format!("{base}/ok.txt"), b"fine").0, 200);
    let out_abs = outside
        .to_str()
        .unwrap()
        .trim_start_matches('/')
        .to_string();
    let hostile = [
        format!("{base}/../../../../outside/x.txt"),
        format!("{base}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/outside/x.txt"),
        format!("{base}/%2E%2E%2F%2E%2E%2F%2E%2E%2Foutside%2Fx.txt"),
        format!("{base}/%252e%252e/%252e%252e/%252e%252e/outside/x.txt"),
        format!("{base}/%25252e%25252e/outside/x.txt"),
        format!("{base}/..%5C..%5C..%5Coutside%5Cx.txt"),
        format!("{base}/a\\..\\..\\x.txt"),
        format!("/{out_abs}/x.txt"),
        format!("%2F{out_abs}/x.txt"),
        format!("{base}/x.txt%00.png"),
        format!("{base}/%2500/x.txt"),
        format!("file:%2F%2F%2F{out_abs}/x.txt"),
        format!("{base}/evil/x.txt"),
    ];
    // A symlink inside the store that points outside.
    std::os::unix::fs::symlink(&outside, store.join(&base).join("evil")).unwrap();
    for p in &hostile {
        let (s, body) = put(p, b"pwned");
        assert!((400..500).contains(&s), "PUT {p}: {s} {body}");
        let (s, body) = send(
            a,
            "GET",
            &format!(
                "/api/2.0/mlflow-artifacts/artifacts/{}",
                p.replace("x.txt", "secret.txt")
            ),
            None,
            b"",
        );
        assert!((400..500).contains(&s), "GET {p}: {s} {body}");
        let (s, body) = send(
            a,
            "DELETE",
            &format!(
                "/api/2.0/mlflow-artifacts/artifacts/{}",
                p.replace("x.txt", "secret.txt")
            ),
            None,
            b"",
        );
        assert!((400..500).contains(&s), "DELETE {p}: {s} {body}");
    }
    for q in [
        format!("{base}/evil"),
        format!("{base}/../../.."),
        "..".to_string(),
        format!("/{out_abs}"),
        format!("{base}/%2e%2e/%2e%2e/%2e%2e"),
    ] {
        let (s, body) = send(
            a,
            "GET",
            &format!("/api/2.0/mlflow-artifacts/artifacts?path={q}"),
            None,
            b"",
        );
        assert!(
            (400..500).contains(&s) && !body.to_string().contains("secret"),
            "list {q}: {s} {body}"
        );
    }
    // The same through the run-relative listing of the UI.
    for q in [
        "evil".to_string(),
        "../../..".to_string(),
        "..".to_string(),
        format!("/{out_abs}"),
        "%2e%2e/%2e%2e/%2e%2e".to_string(),
    ] {
        let (s, body) = get(a, &format!("artifacts/list?run_id={run}&path={q}"));
        assert!(
            (400..500).contains(&s) && !body.to_string().contains("secret"),
            "artifacts/list {q}: {s} {body}"
        );
    }
    // Oversized: an artifact over --max-artifact-mb (1 MiB), a JSON body over the JSON limit.
    let (s, body) = put(&format!("{base}/big.bin"), &vec![7u8; 2 << 20]);
    assert_eq!(s, 413, "{body}");
    assert!(!store.join(&base).join("big.bin").exists());
    // The same without a Content-Length (chunked): counted as it streams, refused past the limit,
    // and no file (nor temp file) stays behind.
    {
        let mut c = TcpStream::connect(a).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        write!(
            c,
            "PUT /api/2.0/mlflow-artifacts/artifacts/{base}/chunked.bin HTTP/1.1\r\nHost: {a}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let chunk = vec![b'z'; 64 << 10];
        for _ in 0..40 {
            if write!(c, "{:x}\r\n", chunk.len())
                .and_then(|()| c.write_all(&chunk))
                .and_then(|()| c.write_all(b"\r\n"))
                .is_err()
            {
                break;
            }
        }
        let _ = c.write_all(b"0\r\n\r\n");
        let mut answer = String::new();
        let _ = c.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        let left: Vec<_> = std::fs::read_dir(store.join(&base))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !left
                .iter()
                .any(|n| n.contains("chunked") || n.starts_with('.')),
            "{left:?}"
        );
    }
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(65 << 20));
    let (s, _) = raw(
        "POST",
        "/api/2.0/mlflow/experiments/create",
        huge.as_bytes(),
    );
    assert_eq!(s, 413);

    // --- URIs in artifact_location and model-version sources ---
    for loc in [
        format!("file://{}", outside.display()),
        outside.display().to_string(),
        format!("file://{}/../outside", store.display()),
        "file:///etc".to_string(),
        "http://169.254.169.254/latest/meta-data".to_string(),
        "https://evil.example/x".to_string(),
        "mlflow-artifacts://evil.example:80/x".to_string(),
        "ftp://evil.example/x".to_string(),
        "sftp://evil.example/x".to_string(),
        "hdfs://evil.example:8020/x".to_string(),
        "runs:/0123/artifacts".to_string(),
        format!("{}/x%00", store.display()),
    ] {
        let (s, body) = post(
            a,
            "experiments/create",
            &json!({"name": format!("loc-{}", loc.len()), "artifact_location": loc}),
        );
        assert!(
            (400..500).contains(&s),
            "artifact_location {loc}: {s} {body}"
        );
        assert_eq!(
            body["error_code"], "INVALID_PARAMETER_VALUE",
            "{loc}: {body}"
        );
    }
    // A local location inside the store is still fine.
    let (s, body) = post(
        a,
        "experiments/create",
        &json!({"name": "local-ok", "artifact_location": format!("file://{}/local-art", store.display())}),
    );
    assert_eq!(s, 200, "{body}");
    let sources: Vec<(String, Value)> = vec![
        (format!("file://{}", outside.display()), json!(run)),
        (outside.display().to_string(), json!(run)),
        ("/etc/passwd".into(), Value::Null),
        (
            format!("mlflow-artifacts:/{base}/../../{other_run}/artifacts"),
            json!(run),
        ),
        (
            format!("mlflow-artifacts:/{base}/%2e%2e/%2e%2e/x"),
            json!(run),
        ),
        (format!("mlflow-artifacts:/{base}/%252e%252e/x"), json!(run)),
        (format!("mlflow-artifacts:/{base}/x%00"), json!(run)),
        (
            format!("mlflow-artifacts:/{exp}/{other_run}/artifacts/m"),
            json!(run),
        ),
        (format!("mlflow-artifacts:/{base}/m"), Value::Null),
        (
            format!("mlflow-artifacts://evil.example/{base}/m"),
            json!(run),
        ),
        ("http://169.254.169.254/latest/meta-data".into(), json!(run)),
        (
            format!("http://127.0.0.1:1/api/2.0/mlflow-artifacts/artifacts/{base}/m"),
            json!(run),
        ),
        (format!("runs:/{other_run}/model"), json!(run)),
        (format!("runs://host/{run}/model"), json!(run)),
        (
            "models:/m-00000000000000000000000000000000".into(),
            Value::Null,
        ),
    ];
    for (src, rid) in &sources {
        let mut req = json!({"name": "rm", "source": src});
        if !rid.is_null() {
            req["run_id"] = rid.clone();
        }
        let (s, body) = post(a, "model-versions/create", &req);
        assert_eq!(s, 400, "source {src}: {body}");
        assert_eq!(
            body["error_code"], "INVALID_PARAMETER_VALUE",
            "{src}: {body}"
        );
    }
    // The rule lets the run's own artifacts through.
    let (s, body) = post(
        a,
        "model-versions/create",
        &json!({"name": "rm", "source": format!("mlflow-artifacts:/{base}/model"), "run_id": run}),
    );
    assert_eq!(s, 200, "{body}");
    let (s, body) = post(
        a,
        "model-versions/create",
        &json!({"name": "rm", "source": format!("runs:/{run}/model"), "run_id": run}),
    );
    assert_eq!(s, 200, "{body}");

    // The server still answers, and nothing outside the store changed.
    assert_eq!(send(a, "GET", "/health", None, b"").0, 200);
    let after_outside = tree(tmp.path())
        .into_iter()
        .filter(|p| !p.starts_with("store") && !p.starts_with("server.log"))
        .collect::<Vec<_>>();
    assert_eq!(before_outside, after_outside);
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.txt")).unwrap(),
        "secret"
    );
    let logs = server.logs();
    assert!(!logs.contains("panicked"), "{logs}");
}
