//! The real MLflow UI on `homeml server`: the server serves the mlflow wheel's static bundle (found
//! through HOMEML_PYTHON), the real mlflow client logs an experiment to it, and headless Chromium
//! loads each page (experiment list, runs table, run page, metric charts, artifact preview, run
//! comparison, logged model and its artifacts, registered models, a model and a version);
//! tests/python/tracking_ui_pages.py checks that every data request of every page answered 2xx, no
//! Content-Security-Policy violation was reported and the page shows the run and metric names, and
//! saves a screenshot of the runs table. Also: the headers of the bundle and of artifact downloads,
//! the refusals of `/graphql`, `--static-prefix`, and homeml's own pages when there is no bundle.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use crate::common::{self, Proc};

/// One request over a fresh connection: (status, lowercase headers, body).
fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn server(tmp: &std::path::Path, extra: &[&str], python: &str) -> Proc {
    let store = tmp.join("mlruns");
    let artifacts = tmp.join("mlartifacts");
    let mut args = vec![
        "server",
        "--port",
        "0",
        "--backend-store-uri",
        store.to_str().unwrap(),
        "--artifacts-destination",
        artifacts.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Proc::start(
        &args,
        &[("RUST_LOG", "info"), ("HOMEML_PYTHON", python)],
        tmp.join(format!("server{}.log", extra.len())),
    )
}

#[test]
fn the_real_mlflow_ui_renders_every_page_on_homeml_server() {
    let tmp = tempfile::tempdir().unwrap();
    let python = common::python();
    let server = server(tmp.path(), &[], python.to_str().unwrap());
    let out_dir = tmp.path().join("ui");
    let out = Command::new(&python)
        .arg(common::root().join("tests/python/tracking_ui_pages.py"))
        .arg(format!("http://{}", server.addr))
        .arg(&out_dir)
        .env_remove("MLFLOW_TRACKING_URI")
        .current_dir(tmp.path())
        .output()
        .expect("running tracking_ui_pages.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("OK"),
        "the UI pages failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.logs()
    );

    // The endpoints the pages need were all called (and answered 2xx, checked by the script).
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("report.json")).unwrap()).unwrap();
    let called: Vec<String> = report["pages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["requests"].as_array().unwrap().iter())
        .map(|r| r["url"].as_str().unwrap().to_string())
        .collect();
    for want in [
        "/graphql",
        "/ajax-api/2.0/mlflow/experiments/search",
        "/ajax-api/2.0/mlflow/runs/search",
        "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval",
        "/ajax-api/2.0/mlflow/artifacts/list",
        "/get-artifact?",
        "/ajax-api/2.0/mlflow/experiments/search-datasets",
        "/artifacts/directories",
        "/ajax-api/2.0/mlflow/registered-models/search",
        "/ajax-api/2.0/mlflow/model-versions/search",
        "/model-versions/get-artifact?",
    ] {
        assert!(
            called.iter().any(|u| u.contains(want)),
            "no page called {want}: {called:#?}"
        );
    }
    let shot = std::fs::read(out_dir.join("runs-table.png")).unwrap();
    assert!(
        shot.starts_with(b"\x89PNG") && shot.len() > 20_000,
        "runs table screenshot"
    );

    // Headers: the bundle with MLflow's caching and the security headers; an HTML artifact as an
    // attachment that never renders.
    let (status, head, body) = request(&server.addr, "GET", "/", "");
    assert_eq!(status, 200);
    assert!(body.contains("static-files/static/js/main."), "{body}");
    for h in [
        "content-type: text/html",
        "cache-control: no-cache",
        "content-security-policy: default-src 'self'; script-src 'self';",
        "frame-ancestors 'none'",
        "x-content-type-options: nosniff",
        "referrer-policy: no-referrer",
    ] {
        assert!(head.contains(h), "{h} missing in {head}");
    }
    let (status, head, _) = request(&server.addr, "GET", "/static-files/favicon.ico", "");
    assert_eq!(status, 200);
    assert!(
        head.contains("cache-control: public, max-age=2419200")
            && head.contains("content-type: image/vnd.microsoft.icon"),
        "{head}"
    );
    assert_eq!(
        request(&server.addr, "GET", "/static-files/../index.html", "").0,
        404
    );
    assert_eq!(
        request(
            &server.addr,
            "GET",
            "/static-files/%2e%2e/%2e%2e/etc/passwd",
            ""
        )
        .0,
        404
    );
    let run = report["ids"]["run_ids"][0].as_str().unwrap();
    let (status, head, body) = request(
        &server.addr,
        "GET",
        &format!("/get-artifact?path=page.html&run_uuid={run}"),
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<script>"));
    for h in [
        "content-type: text/plain",
        "content-disposition: attachment; filename=\"page.html\"",
        "sandbox",
        "x-content-type-options: nosniff",
    ] {
        assert!(head.contains(h), "{h} missing in {head}");
    }
    assert_eq!(
        request(
            &server.addr,
            "GET",
            &format!("/get-artifact?path=../../x&run_uuid={run}"),
            ""
        )
        .0,
        400
    );

    // /graphql answers the UI's queries only.
    let (status, _, body) = request(
        &server.addr,
        "POST",
        "/graphql",
        r#"{"query":"mutation M { testMutation(inputString: \"x\") { output } }"}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("\"errors\"") && body.contains("mutation"),
        "{body}"
    );
    let (status, _, body) = request(
        &server.addr,
        "POST",
        "/graphql",
        r#"{"query":"{ mlflowListArtifacts(input: {}) { files { path } } }"}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("mlflowGetRun"),
        "names what is served: {body}"
    );
}

#[test]
fn static_prefix_and_homemls_own_pages_without_the_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let python = common::python();
    let prefixed = server(
        tmp.path(),
        &["--static-prefix", "/mlflow"],
        python.to_str().unwrap(),
    );
    let (status, head, body) = request(&prefixed.addr, "GET", "/mlflow/", "");
    assert_eq!(status, 200);
    assert!(
        head.contains("content-security-policy") && body.contains("static-files/static/js/main.")
    );
    let main_js = body
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let (status, head, _) = request(&prefixed.addr, "GET", &format!("/mlflow/{main_js}"), "");
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/javascript"), "{head}");
    assert_eq!(request(&prefixed.addr, "GET", "/", "").0, 404);
    drop(prefixed);

    // No Python with mlflow: homeml's pages, saying how to get MLflow's UI.
    let own = server(
        tmp.path(),
        &["--static-prefix", "/p"],
        "/nonexistent/python",
    );
    let (status, head, body) = request(&own.addr, "GET", "/p/", "");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("MLflow's own UI was not found") && body.contains("pip install mlflow"),
        "{body}"
    );
    assert!(
        body.contains("<h2>Experiments</h2>") && body.contains("href=\"/p/experiments/0\""),
        "{body}"
    );
    // The policy of `homeml ui`: the pages' one stylesheet admitted by its hash, nothing inline else.
    assert!(
        head.contains("content-security-policy: default-src 'none'; style-src 'sha256-"),
        "{head}"
    );
    assert_eq!(request(&own.addr, "GET", "/p/experiments/0", "").0, 200);
    assert_eq!(request(&own.addr, "GET", "/p/static-files/x.js", "").0, 404);
    assert_eq!(request(&own.addr, "GET", "/p/runs/nope", "").0, 404);
}
