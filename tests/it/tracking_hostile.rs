//! The tracking views against hostile store contents (issue 21.4 and 21.5): one experiment with a
//! damaged `meta.yaml` is skipped with a warning naming the file while `experiments list`, `runs list`
//! and the `homeml ui` home page list the rest (the page with a notice that shows neither the file's
//! path nor its contents); terminal escape sequences in run names, params and tags are printed
//! escaped by `runs list` and `runs show`.

use crate::common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use homeml_tracking::{RunOptions, RunStatus, Store};

/// Text an attacker would store: retitles the window, clears the screen, hides with a carriage return.
const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2Jevil\rname\u{9b}1m";

fn homeml(store: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_homeml"))
        .args(args)
        .args(["--tracking-uri", store])
        .env("RUST_LOG", "warn")
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

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

#[test]
fn a_broken_experiment_is_skipped_and_hostile_names_are_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mlruns");
    let store = Store::open(root.to_str().unwrap()).unwrap();
    let good = store.get_or_create_experiment("good-exp").unwrap();
    let bad = store.get_or_create_experiment("bad-exp").unwrap();
    let run = store
        .start_run(
            &good,
            RunOptions {
                name: Some(HOSTILE.into()),
                tags: BTreeMap::new(),
                parent_run_id: None,
            },
        )
        .unwrap();
    let id = run.id().to_string();
    store.log_param(&id, "p", HOSTILE).unwrap();
    store.end_run(&id, RunStatus::Finished).unwrap();
    store.start_run(&bad, RunOptions::default()).unwrap();
    let broken = root.join(&bad).join("meta.yaml");
    let secret = "SECRET-CONTENT-42";
    std::fs::write(&broken, format!("name: [{secret}\n  : : :\n")).unwrap();
    let root_s = root.to_str().unwrap();

    // experiments list: the others, and a warning naming the broken file.
    let (ok, out, err) = homeml(root_s, &["experiments", "list"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("good-exp") && out.contains("Default"), "{out}");
    assert!(!out.contains("bad-exp"), "{out}");
    assert!(err.contains(&*broken.display().to_string()), "{err}");

    // runs list: the good experiment's run, its name escaped.
    let (ok, out, err) = homeml(root_s, &["runs", "list"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains(&id), "{out}");
    assert!(
        !out.contains('\u{1b}') && !out.contains('\r') && !out.contains('\u{9b}'),
        "{out:?}"
    );
    assert!(
        out.contains("\\u{1b}]0;pwned\\u{7}\\u{1b}[2Jevil\\rname\\u{9b}1m"),
        "{out}"
    );

    // runs show: name and param escaped.
    let (ok, out, err) = homeml(root_s, &["runs", "show", &id]);
    assert!(ok, "{out}{err}");
    assert!(
        !out.contains('\u{1b}') && !out.contains('\r') && !out.contains('\u{9b}'),
        "{out:?}"
    );
    // The run name, the param and the mlflow.runName tag.
    assert_eq!(out.matches("\\u{1b}]0;pwned").count(), 3, "{out}");

    // The UI home page: 200, the good experiment, a notice without the file's path or contents.
    let ui = common::Proc::start(
        &["ui", "-p", "0", "--tracking-uri", root_s],
        &[],
        tmp.path().join("ui.log"),
    );
    let (status, page) = get(&ui.addr, "/");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("good-exp"), "{page}");
    assert!(
        page.contains("could not be read") && page.contains(&bad),
        "{page}"
    );
    assert!(!page.contains(secret) && !page.contains(root_s), "{page}");
    assert!(
        ui.logs().contains(&*broken.display().to_string()),
        "{}",
        ui.logs()
    );
}
