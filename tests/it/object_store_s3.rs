//! S3 artifact stores end to end, against moto's S3 server (PyPI `moto[server]`, started here on a free
//! loopback port and killed after) with the real MLflow client and boto3
//! (tests/python/object_store_s3.py):
//! - `homeml server --artifacts-destination s3://...`: the client logs through the proxy, downloads are
//!   byte-equal, the objects are where MLflow puts them, deletes remove them;
//! - `homeml server --default-artifact-root s3://...`: the client writes to S3 itself, homeml lists;
//! - `homeml serve -m s3://...` on a model uploaded with boto3 answers like onnxruntime, from a
//!   content-keyed cache entry; a changed MLmodel makes a new entry that reuses the unchanged ONNX file;
//! - `homeml serve -m models:/...@alias` and `runs:/...` whose files are in S3, resolved through the
//!   server's REST API, its SQLite database and a file store (MLFLOW_ARTIFACTS_DESTINATION);
//! - errors name the URI and never a secret: a missing bucket, a closed port.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use crate::common::{self, free_port, Proc, Service};

/// The secret access key of [`aws_env`]: no message may show it.
pub(crate) const SECRET: &str = "Sup3rSecretValueNeverShown";

/// moto's S3 server on a free loopback port, killed when dropped.
pub(crate) fn moto(log: &Path) -> Service {
    moto_on(free_port(), log)
}

/// moto's S3 server on loopback `port` (a restart on the port of a killed one), killed when dropped.
pub(crate) fn moto_on(port: u16, log: &Path) -> Service {
    let mut cmd = Command::new(common::venv_tool("moto_server"));
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    Service::start(cmd, port, "moto_server", log)
}

/// The environment of an S3 client of moto at `endpoint`: access key `testing`, secret [`SECRET`].
pub(crate) fn aws_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("MLFLOW_S3_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", SECRET.to_string()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_string()),
    ]
}

/// `homeml ARGS` with `env` (and no ambient endpoint or tracking URI) that listens; its log in `log`.
pub(crate) fn homeml(
    args: &[&str],
    env: &[(&'static str, String)],
    log: std::path::PathBuf,
) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_homeml"));
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("MLFLOW_TRACKING_URI");
    Proc::spawn(cmd, log)
}

/// `homeml serve -m URI -p 0 --model-cache-dir CACHE` with `env`, its log in `log`.
pub(crate) fn serve_from(
    uri: &str,
    cache: &Path,
    env: &[(&'static str, String)],
    log: std::path::PathBuf,
) -> Proc {
    let cache = cache.to_str().expect("a UTF-8 temp path");
    homeml(
        &["serve", "-m", uri, "-p", "0", "--model-cache-dir", cache],
        env,
        log,
    )
}

/// `tests/python/<script> check http://ADDR SPEC`: the model served at `addr` answers like
/// onnxruntime on the model described by `spec`.
pub(crate) fn assert_served_ok(
    script: &str,
    addr: &str,
    spec: &Path,
    env: &[(&'static str, String)],
    cwd: &Path,
) {
    let url = format!("http://{addr}");
    let spec = spec.to_str().expect("a UTF-8 temp path");
    let out = python_script(script, &["check", &url, spec], env, cwd);
    assert!(out.contains("served OK"), "{out}");
}

fn python(args: &[&str], env: &[(&'static str, String)], cwd: &Path) -> String {
    python_script("object_store_s3.py", args, env, cwd)
}

/// Runs `tests/python/<script> <args>` in the test venv with `env`; its stdout.
pub(crate) fn python_script(
    script: &str,
    args: &[&str],
    env: &[(&'static str, String)],
    cwd: &Path,
) -> String {
    common::run_ok(
        Command::new(common::python())
            .arg(common::root().join("tests/python").join(script))
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("MLFLOW_ALLOW_FILE_STORE", "true")
            .env_remove("MLFLOW_TRACKING_URI")
            .current_dir(cwd),
    )
}

/// The complete cache entries (not temporary folders, not pointers).
pub(crate) fn entries(cache: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(cache)
        .unwrap()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

#[test]
fn mlflow_logs_through_and_into_s3_and_homeml_serves_from_s3() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let m = moto(&t.join("moto.log"));
    let env = aws_env(&m.endpoint);
    let proxy = homeml(
        &[
            "server",
            "--port",
            "0",
            "--no-ui",
            "--backend-store-uri",
            t.join("a").to_str().unwrap(),
            "--artifacts-destination",
            "s3://homeml-proxy/art",
        ],
        &env,
        t.join("proxy.log"),
    );
    let direct_db = format!("sqlite:///{}", t.join("b.db").display());
    let direct = homeml(
        &[
            "server",
            "--port",
            "0",
            "--no-ui",
            "--backend-store-uri",
            &direct_db,
            "--default-artifact-root",
            "s3://homeml-direct/root",
        ],
        &env,
        t.join("direct.log"),
    );
    let spec = t.join("spec.json");
    let out = python(
        &[
            "prepare",
            &format!("http://{}", proxy.addr),
            &format!("http://{}", direct.addr),
            spec.to_str().unwrap(),
        ],
        &env,
        t,
    );
    assert!(out.trim_end().ends_with("OK"), "{out}");
    for p in [&proxy, &direct] {
        assert!(!p.logs().contains(SECRET), "a secret in the server's log");
    }

    let cache = t.join("cache");
    let serve = |uri: &str, log: &str| serve_from(uri, &cache, &env, t.join(log));
    let s = serve("s3://homeml-models/iris", "serve1.log");
    assert_served_ok("object_store_s3.py", &s.addr, &spec, &env, t);
    drop(s);
    let first = entries(&cache);
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0].join("MLmodel").is_file() && first[0].join("model.onnx").is_file());
    assert!(
        !std::fs::read_dir(&cache)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-")),
        "a temporary folder was left"
    );

    // The same content: the same entry, nothing downloaded again.
    let s = serve("s3://homeml-models/iris", "serve2.log");
    drop(s);
    assert_eq!(entries(&cache), first);

    // A changed MLmodel: a new entry, whose unchanged ONNX file is reused, not downloaded.
    let out = python(&["replace", spec.to_str().unwrap()], &env, t);
    assert!(out.contains("replaced"), "{out}");
    let s = serve("s3://homeml-models/iris", "serve3.log");
    assert_served_ok("object_store_s3.py", &s.addr, &spec, &env, t);
    drop(s);
    let second: Vec<_> = entries(&cache)
        .into_iter()
        .filter(|e| !first.contains(e))
        .collect();
    assert_eq!(second.len(), 1, "{second:?}");
    let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
    assert_eq!(
        ino(&first[0].join("model.onnx")),
        ino(&second[0].join("model.onnx")),
        "the unchanged model.onnx was downloaded again"
    );
    assert!(std::fs::read_to_string(second[0].join("MLmodel"))
        .unwrap()
        .contains("0123456789abcdef0123456789abcdef"));

    // The model the client wrote straight into S3 (MLflow 3 logged model), served from there.
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&spec).unwrap()).unwrap();
    let direct_model = v["direct_model"].as_str().unwrap();
    let s = serve(direct_model, "serve4.log");
    assert_served_ok("object_store_s3.py", &s.addr, &spec, &env, t);
    drop(s);

    // models:/ and runs:/ whose files are in S3, through each kind of tracking URI: the direct
    // server's REST API (the client reads S3 itself), its SQLite database, and the proxy's file
    // store with MLFLOW_ARTIFACTS_DESTINATION naming the proxy's bucket.
    let direct_run = format!("runs:/{}/model", v["direct_run"].as_str().unwrap());
    let proxy_url = format!("http://{}", proxy.addr);
    let direct_url = format!("http://{}", direct.addr);
    let proxy_store = t.join("a").to_str().unwrap().to_string();
    let mut proxied_env = env.clone();
    proxied_env.push((
        "MLFLOW_ARTIFACTS_DESTINATION",
        "s3://homeml-proxy/art".into(),
    ));
    type Env = [(&'static str, String)];
    let cases: [(&str, &str, &Env); 5] = [
        ("models:/iris-direct@champion", &direct_url, &env),
        (&direct_run, &direct_url, &env),
        ("models:/iris-direct@champion", &direct_db, &env),
        (&direct_run, &direct_db, &env),
        ("models:/iris-proxy@champion", &proxy_store, &proxied_env),
    ];
    for (i, (uri, tracking, env)) in cases.into_iter().enumerate() {
        let cache = cache.to_str().unwrap();
        let s = homeml(
            &[
                "serve",
                "-m",
                uri,
                "--tracking-uri",
                tracking,
                "-p",
                "0",
                "--model-cache-dir",
                cache,
            ],
            env,
            t.join(format!("tracked{i}.log")),
        );
        assert_served_ok("object_store_s3.py", &s.addr, &spec, env, t);
    }
    // And the proxied model through the proxy server's REST API (downloaded through the proxy).
    let proxied = homeml(
        &[
            "serve",
            "-m",
            "models:/iris-proxy@champion",
            "--tracking-uri",
            &proxy_url,
            "-p",
            "0",
            "--model-cache-dir",
            cache.to_str().unwrap(),
        ],
        &env,
        t.join("tracked-proxy.log"),
    );
    assert_served_ok("object_store_s3.py", &proxied.addr, &spec, &env, t);
}

/// `homeml serve -m URI` with `env` (one retry unless `env` sets `HOMEML_OBJECT_STORE_RETRIES`) must
/// fail, naming `uri` and showing no secret; its stdout and stderr.
pub(crate) fn serve_fails(uri: &str, env: &[(&'static str, String)], cache: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_homeml"))
        .args(["serve", "-m", uri, "-p", "0", "--model-cache-dir"])
        .arg(cache)
        .env("HOMEML_OBJECT_STORE_RETRIES", "1")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap();
    assert!(!out.status.success(), "serving {uri} succeeded");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(uri), "the error does not name {uri}: {text}");
    assert!(!text.contains(SECRET), "a secret in the error: {text}");
    text
}

#[test]
fn errors_name_the_uri_and_hold_no_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let cache = t.join("cache");
    let m = moto(&t.join("moto.log"));
    let text = serve_fails("s3://no-such-bucket/m", &aws_env(&m.endpoint), &cache);
    assert!(text.contains("does not exist"), "{text}");
    drop(m);
    // Nothing listens there any more.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let text = serve_fails("s3://some-bucket/m", &aws_env(&closed), &cache);
    assert!(text.contains("cannot reach"), "{text}");
    let leftovers = std::fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0);
    assert_eq!(leftovers, 0, "a failed resolve left files in the cache");
}
