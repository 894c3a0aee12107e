//! `homeml ui` against a real store: every page answers with what the store holds, and headless Chromium
//! renders the metric chart (the screenshot has the chart line's colour in it).

use crate::common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use homeml_tracking::{RunOptions, RunStatus, Store};

use common::Proc;

fn start_ui(store: &Path, log: PathBuf) -> Proc {
    let store = store.to_str().expect("a UTF-8 temporary path");
    Proc::start(&["ui", "-p", "0", "--tracking-uri", store], &[], log)
}

/// GET over a fresh connection; returns (status, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The head of the answer to a GET over a fresh connection, lowercased.
fn head(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw.split_once("\r\n\r\n")
        .map(|(h, _)| h.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Issue 20.2: the security headers every answer carries.
fn assert_security_headers(addr: &str, path: &str) {
    let h = head(addr, path);
    let csp = h
        .lines()
        .find_map(|l| l.strip_prefix("content-security-policy: "))
        .unwrap_or_else(|| panic!("{path}: no Content-Security-Policy in\n{h}"));
    for part in [
        "default-src 'none'",
        "style-src 'sha256-",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ] {
        assert!(csp.contains(part), "{path}: {part} missing from {csp}");
    }
    assert!(!csp.contains("unsafe"), "{path}: {csp}");
    for line in [
        "x-content-type-options: nosniff",
        "referrer-policy: no-referrer",
        "x-frame-options: deny",
    ] {
        assert!(h.lines().any(|l| l == line), "{path}: no {line:?} in\n{h}");
    }
}

fn make_store(root: &Path) -> (String, String) {
    let store = Store::open(root.to_str().unwrap()).unwrap();
    let exp = store.get_or_create_experiment("iris <demo>").unwrap();
    let run = store
        .start_run(
            &exp,
            RunOptions {
                name: Some("logreg-run".into()),
                tags: BTreeMap::new(),
                parent_run_id: None,
            },
        )
        .unwrap();
    let id = run.id().to_string();
    store.log_param(&id, "C", "0.5").unwrap();
    for step in 0..20 {
        let loss = 1.0 / (1.0 + step as f64);
        store
            .log_metric(&id, "train_loss", loss, step, None)
            .unwrap();
    }
    store
        .log_metric(&id, "val_accuracy", 0.93, 0, None)
        .unwrap();
    store.end_run(&id, RunStatus::Finished).unwrap();
    store.create_registered_model("iris-classifier").unwrap();
    let v = store
        .create_model_version("iris-classifier", "file:///nowhere/model")
        .unwrap();
    store
        .set_alias("iris-classifier", "champion", v.version)
        .unwrap();
    (exp, id)
}

#[test]
fn pages_show_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mlruns");
    let (exp, run_id) = make_store(&root);
    let ui = start_ui(&root, tmp.path().join("ui.log"));

    let (status, home) = get(&ui.addr, "/");
    assert_eq!(status, 200);
    assert!(
        home.contains("iris &lt;demo&gt;"),
        "experiment name escaped: {home}"
    );
    assert!(home.contains("iris-classifier") && home.contains("@champion"));

    let (status, page) = get(&ui.addr, &format!("/experiments/{exp}"));
    assert_eq!(status, 200);
    assert!(page.contains("logreg-run") && page.contains("0.93") && page.contains("FINISHED"));

    let (status, page) = get(&ui.addr, &format!("/runs/{run_id}"));
    assert_eq!(status, 200);
    assert!(page.contains("<svg") && page.contains("train_loss") && page.contains("20 values"));
    assert_eq!(
        page.matches("<circle").count(),
        21,
        "20 loss points and 1 accuracy point"
    );

    let (status, page) = get(&ui.addr, "/models/iris-classifier");
    assert_eq!(status, 200);
    assert!(page.contains("@champion"));

    assert_eq!(
        get(&ui.addr, "/runs/0123456789abcdef0123456789abcdef").0,
        404
    );
    assert_eq!(get(&ui.addr, "/models/nope").0, 404);
    assert_eq!(get(&ui.addr, "/experiments/%zz").0, 404);
    assert_eq!(get(&ui.addr, "/runs/..%2F..%2Fetc").0, 404);
    assert_eq!(get(&ui.addr, "/no/such/page").0, 404);

    for path in [
        "/".to_string(),
        format!("/runs/{run_id}"),
        "/models/iris-classifier".into(),
        "/no/such/page".into(),
        "/health".into(),
    ] {
        assert_security_headers(&ui.addr, &path);
    }
}

#[test]
fn chromium_renders_the_metric_chart() {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("chromium is missing: apt-get install chromium (scripts/test.sh does)");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mlruns");
    let (_, run_id) = make_store(&root);
    let ui = start_ui(&root, tmp.path().join("ui.log"));
    let shot = tmp.path().join("run.png");
    let profile = tmp.path().join("profile");
    common::run_ok(
        Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--window-size=1200,900",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--screenshot={}", shot.display()))
            .arg(format!("http://{}/runs/{run_id}", ui.addr)),
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let line = (0x1f_i32, 0x6f_i32, 0xeb_i32);
    let line_pixels = buf[..info.buffer_size()]
        .chunks(channels)
        .filter(|p| {
            (p[0] as i32 - line.0).abs() < 24
                && (p[1] as i32 - line.1).abs() < 24
                && (p[2] as i32 - line.2).abs() < 24
        })
        .count();
    assert!(
        line_pixels > 200,
        "the chart line is not in the screenshot ({line_pixels} pixels of its colour)"
    );
    // The page's inline stylesheet applied under its Content-Security-Policy (which admits it by
    // hash alone): the header bar has its dark background.
    let bar = buf[..info.buffer_size()]
        .chunks(channels)
        .filter(|p| p[0] == 0x24 && p[1] == 0x29 && p[2] == 0x2f)
        .count();
    assert!(
        bar > 5000,
        "the stylesheet did not apply: {bar} pixels of the header's background colour"
    );
}
