//! `homeml server --auth FILE` (basic auth, Argon2id hashes from `homeml server --hash-password`,
//! admin and read users), `--read-only`, and the start-up warning for a non-loopback host without
//! auth. The real mlflow client authenticates through MLFLOW_TRACKING_USERNAME/PASSWORD
//! (tests/python/tracking_server_auth.py); raw HTTP checks the 401 challenge and the open /health.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, Proc};

fn hash(password: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_homeml"))
        .args(["server", "--hash-password"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let h = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(h.starts_with("$argon2id$"), "{h}");
    h
}

/// (status, head, body) of one raw request.
fn raw(addr: &str, req: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[test]
fn basic_auth_read_and_admin_users_read_only_and_the_exposure_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let users = tmp.path().join("users");
    let h = hash("s3cret");
    std::fs::write(
        &users,
        format!("# test users\nann:admin:{h}\nbob:read:{h}\n"),
    )
    .unwrap();
    let store = tmp.path().join("store");
    let s = store.to_str().unwrap();
    let server = Proc::start(
        &[
            "server",
            "--port",
            "0",
            "--backend-store-uri",
            s,
            "--artifacts-destination",
            s,
            "--auth",
            users.to_str().unwrap(),
        ],
        &[],
        tmp.path().join("server.log"),
    );
    let seeded = tmp.path().join("seeded");
    homeml_tracking::Store::open(seeded.to_str().unwrap())
        .unwrap()
        .create_experiment_at("seeded", None)
        .unwrap();
    let sd = seeded.to_str().unwrap();
    let ro = Proc::start(
        &[
            "server",
            "--port",
            "0",
            "--backend-store-uri",
            sd,
            "--artifacts-destination",
            sd,
            "--read-only",
        ],
        &[],
        tmp.path().join("ro.log"),
    );

    let a = server.addr.as_str();
    let (st, head, body) = raw(
        a,
        &format!("GET /api/2.0/mlflow/experiments/search?max_results=5 HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(st, 401, "{body}");
    assert!(
        head.contains("www-authenticate: basic realm=\"mlflow\""),
        "{head}"
    );
    assert!(body.contains("UNAUTHENTICATED"), "{body}");
    let (st, _, body) = raw(
        a,
        &format!("GET /health HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!((st, body.as_str()), (200, "OK"));
    // A read user may not upload an artifact either ("bob:s3cret").
    let (st, _, body) = raw(
        a,
        &format!("PUT /api/2.0/mlflow-artifacts/artifacts/0/x.txt HTTP/1.1\r\nHost: {a}\r\nAuthorization: Basic Ym9iOnMzY3JldA==\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"),
    );
    assert_eq!(st, 403, "{body}");
    assert!(body.contains("PERMISSION_DENIED"), "{body}");
    assert!(!store.join("0/x.txt").exists());

    let out = common::run_ok(
        Command::new(common::python())
            .arg(common::root().join("tests/python/tracking_server_auth.py"))
            .arg(format!("http://{a}"))
            .arg("s3cret")
            .arg(format!("http://{}", ro.addr))
            .env_remove("MLFLOW_TRACKING_URI")
            .env_remove("MLFLOW_TRACKING_USERNAME")
            .env_remove("MLFLOW_TRACKING_PASSWORD")
            .current_dir(tmp.path()),
    );
    assert!(out.trim_end().ends_with("OK"), "{out}");

    // Listening beyond loopback without --auth: a start-up warning (the server is read-only here
    // and stopped at once; the test talks to nothing but its log).
    let exposed = Proc::start(
        &[
            "server",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--backend-store-uri",
            sd,
            "--artifacts-destination",
            sd,
            "--read-only",
        ],
        &[],
        tmp.path().join("exposed.log"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !exposed.logs().contains("without --auth") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let logs = exposed.logs();
    drop(exposed);
    assert!(
        logs.contains("non-loopback address without --auth"),
        "{logs}"
    );
    assert!(!ro.logs().contains("without --auth"), "{}", ro.logs());
    // A bad users file is refused at start-up with the line named.
    std::fs::write(&users, "ann:root:xyz\n").unwrap();
    let bad = Command::new(env!("CARGO_BIN_EXE_homeml"))
        .args(["server", "--port", "0", "--backend-store-uri", sd, "--auth"])
        .arg(&users)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("line 1") && err.contains("admin or read"),
        "{err}"
    );
}
