//! The differential test of `homeml server` against the real `mlflow server` (mlflow 3.17.2 from the
//! test venv, file store, one worker): tests/python/tracking_server_diff.py sends one fixed list of
//! REST calls (experiments, runs, logging and MLflow's limits, history, search with pages, the
//! artifact proxy, logged models, the registry, bad requests) to both and compares the JSON answers
//! with ids and timestamps normalized; every difference that is on purpose is listed, with the
//! reason, in the script's DELIBERATE tables, and any other fails this test.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, Proc};

/// The real `mlflow server` in its own process group (it starts uvicorn as a child), stopped with
/// the whole group when dropped.
pub(crate) struct MlflowServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
}

impl Drop for MlflowServer {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    l.local_addr().expect("its address").port()
}

/// Starts `mlflow server` on a file store under `dir` and waits (up to 3 minutes, on a loaded
/// machine it takes 10-30 s) until `/health` answers.
fn start_mlflow(dir: &Path) -> MlflowServer {
    let store = dir.join("mlruns");
    let store = store.to_str().expect("a UTF-8 path");
    start_mlflow_on(dir, store, store)
}

/// Starts `mlflow server` on `backend_store_uri` (a file store or a database) with its artifacts
/// in `artifacts`, logging to `dir/mlflow.log`, and waits until `/health` answers.
pub(crate) fn start_mlflow_on(
    dir: &Path,
    backend_store_uri: &str,
    artifacts: &str,
) -> MlflowServer {
    use std::os::unix::process::CommandExt;
    let port = free_port();
    let mlflow = common::venv_tool("mlflow");
    let log = std::fs::File::create(dir.join("mlflow.log")).expect("mlflow log file");
    let child = Command::new(mlflow)
        .args(["server", "--backend-store-uri", backend_store_uri])
        .args(["--artifacts-destination", artifacts])
        .args(["--host", "127.0.0.1", "--workers", "1", "--port"])
        .arg(port.to_string())
        .env("MLFLOW_ALLOW_FILE_STORE", "true")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("starting mlflow server");
    let mut server = MlflowServer { child, port };
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if health_ok(port) {
            return server;
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!(
                "mlflow server exited ({status}):\n{}",
                std::fs::read_to_string(dir.join("mlflow.log")).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "mlflow server did not answer /health within 3 minutes:\n{}",
            std::fs::read_to_string(dir.join("mlflow.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn health_ok(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if write!(
        s,
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .is_err()
    {
        return false;
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.starts_with("HTTP/1.1 200")
}

#[test]
fn homeml_server_answers_the_rest_api_as_mlflow_server_does() {
    let tmp = tempfile::tempdir().unwrap();
    let ref_dir = tmp.path().join("mlflow");
    std::fs::create_dir_all(&ref_dir).unwrap();
    let reference = start_mlflow(&ref_dir);
    let store = tmp.path().join("homeml");
    let server = Proc::start(
        &[
            "server",
            "--port",
            "0",
            "--backend-store-uri",
            store.to_str().unwrap(),
            "--artifacts-destination",
            store.to_str().unwrap(),
        ],
        &[],
        tmp.path().join("homeml.log"),
    );
    let out = common::run_ok(
        Command::new(common::python())
            .arg(common::root().join("tests/python/tracking_server_diff.py"))
            .arg(format!("http://127.0.0.1:{}", reference.port))
            .arg(format!("http://{}", server.addr))
            .current_dir(tmp.path()),
    );
    assert!(out.trim_end().ends_with("OK"), "{out}");
    assert!(out.contains(" 0 differences"), "{out}");
}
