//! A plugin flavor served over HTTP (loopback) by homeml-server: the example plugin's model answers
//! KServe V2 and MLflow requests; a panicking plugin's model answers an error and then serves the next
//! request. The registry is built as `homeml serve --plugin-dir` builds it: built-ins plus
//! `load_plugin_dir`.

use crate::support;

use std::net::SocketAddr;
use std::path::Path;

use homeml_flavor::plugin::load_plugin_dir;
use homeml_server::{builtin_registry, ModelConfig, Server, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP/1.1 POST with `Connection: close`; returns the status and the (de-chunked) body.
async fn post(addr: SocketAddr, path: &str, body: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = rest;
        loop {
            let (size, after) = rest.split_once("\r\n").unwrap();
            let n = usize::from_str_radix(size.trim(), 16).unwrap();
            if n == 0 {
                break;
            }
            out.push_str(&after[..n]);
            rest = &after[n + 2..];
        }
        out
    } else {
        rest.to_string()
    };
    (status, body)
}

fn model(dir: &Path, name: &str) -> ModelConfig {
    ModelConfig {
        name: Some(name.into()),
        ..ModelConfig::new(dir.display().to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_a_plugin_model_over_http() {
    let a = support::artifacts();
    let tmp = tempfile::tempdir().unwrap();
    let plugins = tmp.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    support::install(&a.example, &plugins, "libcentroid");
    support::install(&a.panicking, &plugins, "libpanicking");
    let mut registry = builtin_registry();
    for (path, result) in load_plugin_dir(&mut registry, &plugins) {
        assert!(result.is_ok(), "{}: {result:?}", path.display());
    }

    let centroid_dir = tmp.path().join("centroid");
    let rows = vec![
        vec![5.1, 3.5, 1.4, 0.2],
        vec![4.9, 3.0, 1.4, 0.2],
        vec![7.0, 3.2, 4.7, 1.4],
        vec![6.4, 3.2, 4.5, 1.5],
        vec![6.3, 3.3, 6.0, 2.5],
        vec![5.8, 2.7, 5.1, 1.9],
    ];
    let params = homeml_plugin_example_params(&rows);
    std::fs::create_dir(&centroid_dir).unwrap();
    std::fs::write(centroid_dir.join("centroids.json"), params.to_string()).unwrap();
    let mut mlmodel = homeml_flavor::MlModel::default();
    mlmodel.add_flavor(
        "nearest_centroid",
        serde_json::json!({"data": "centroids.json"}),
    );
    mlmodel.set_signature(&homeml_flavor::Signature::new(
        homeml_flavor::Schema::tensor(Some("features"), homeml_flavor::DType::F64, vec![-1, 4]),
        homeml_flavor::Schema::tensor(Some("label"), homeml_flavor::DType::I64, vec![-1]),
    ));
    mlmodel.write_dir(&centroid_dir).unwrap();

    let panicky_dir = tmp.path().join("panicky");
    std::fs::create_dir(&panicky_dir).unwrap();
    let mut mlmodel = homeml_flavor::MlModel::default();
    mlmodel.add_flavor("panicking", serde_json::json!({}));
    mlmodel.write_dir(&panicky_dir).unwrap();

    let config = ServerConfig {
        port: 0,
        models: vec![
            model(&centroid_dir, "centroid"),
            model(&panicky_dir, "panicky"),
        ],
        ..ServerConfig::default()
    };
    let server = Server::start(config, registry).await.unwrap();
    let addr = server.addr();

    let infer = serde_json::json!({"inputs": [{
        "name": "features", "shape": [3, 4], "datatype": "FP64",
        "data": [5.0, 3.4, 1.5, 0.2, 6.7, 3.1, 4.4, 1.4, 6.5, 3.0, 5.8, 2.2]
    }]});
    let (status, body) = post(addr, "/v2/models/centroid/infer", &infer.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["outputs"][0]["data"],
        serde_json::json!([0, 1, 2]),
        "{body}"
    );

    let mlflow = serde_json::json!({"inputs": [[6.5, 3.0, 5.8, 2.2]]});
    let (status, body) = post(addr, "/models/centroid/invocations", &mlflow.to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("predictions") && body.contains('2'), "{body}");

    let bad = serde_json::json!({"inputs": [{
        "name": "x", "shape": [1, 2], "datatype": "FP64", "data": [-1.0, 0.0]
    }]});
    let (status, body) = post(addr, "/v2/models/panicky/infer", &bad.to_string()).await;
    assert!(status >= 500, "{status} {body}");
    assert!(body.contains("panicked"), "{body}");
    let good = serde_json::json!({"inputs": [{
        "name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1.0, 2.0]
    }]});
    let (status, body) = post(addr, "/v2/models/panicky/infer", &good.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(addr, "/v2/models/centroid/infer", &infer.to_string()).await;
    assert_eq!(status, 200, "{body}");

    server.shutdown_and_wait().await;
}

/// The example plugin's parameter file for `rows` labelled 0,0,1,1,2,2 (the class means).
fn homeml_plugin_example_params(rows: &[Vec<f64>]) -> serde_json::Value {
    let mean = |a: &Vec<f64>, b: &Vec<f64>| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x + y) / 2.0)
            .collect::<Vec<f64>>()
    };
    serde_json::json!({
        "classes": [0, 1, 2],
        "centroids": [mean(&rows[0], &rows[1]), mean(&rows[2], &rows[3]), mean(&rows[4], &rows[5])],
    })
}
