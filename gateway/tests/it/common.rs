//! Test helpers: small real HTTP upstreams on loopback (a KServe V2 / MLflow server for a fixed linear
//! iris model, and hung or failing ones to force faults), the gateway under test, and an HTTP client.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// Class centroids of iris; the linear model scores class k as `2 c_k.x - |c_k|^2`.
const CENTROIDS: [[f64; 4]; 3] = [
    [5.0, 3.4, 1.5, 0.25],
    [5.9, 2.8, 4.3, 1.3],
    [6.6, 3.0, 5.55, 2.0],
];

/// The stub model: class index and softmax probabilities of one row.
pub fn linear_model(x: &[f64]) -> (usize, Vec<f64>) {
    let scores: Vec<f64> = CENTROIDS
        .iter()
        .map(|c| {
            let dot: f64 = c.iter().zip(x).map(|(a, b)| a * b).sum();
            let norm: f64 = c.iter().map(|a| a * a).sum();
            2.0 * dot - norm
        })
        .collect();
    let max = scores.iter().cloned().fold(f64::MIN, f64::max);
    let exp: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    let probs: Vec<f64> = exp.iter().map(|e| e / sum).collect();
    let best = (0..3)
        .max_by(|a, b| probs[*a].total_cmp(&probs[*b]))
        .unwrap();
    (best, probs)
}

/// What a stub upstream does.
#[derive(Clone, Debug)]
pub enum Behavior {
    /// Answers V2 and MLflow with the linear model; `shift` adds to the class index (to disagree).
    Model {
        name: String,
        version: String,
        input: String,
        shift: usize,
    },
    /// Never answers infer calls (metadata still answers).
    Hang,
    /// Answers infer calls with 500.
    Fail,
}

/// A running stub upstream.
pub struct Stub {
    pub addr: SocketAddr,
    /// Infer calls received (V2 infer or /invocations).
    pub hits: Arc<AtomicUsize>,
    /// x-request-id headers seen on infer calls.
    pub request_ids: Arc<Mutex<Vec<String>>>,
    /// The last infer body.
    pub last_body: Arc<Mutex<Option<Value>>>,
}

impl Stub {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

pub fn model(name: &str, version: &str) -> Behavior {
    Behavior::Model {
        name: name.into(),
        version: version.into(),
        input: "float_input".into(),
        shift: 0,
    }
}

fn json_resp(status: StatusCode, v: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r
}

fn rows_of(body: &Value) -> Result<Vec<Vec<f64>>, String> {
    // V2
    if let Some(inputs) = body.get("inputs").and_then(Value::as_array) {
        if let Some(first) = inputs.first().filter(|i| i.is_object()) {
            let shape: Vec<usize> = first["shape"]
                .as_array()
                .ok_or("no shape")?
                .iter()
                .map(|d| d.as_u64().unwrap_or(0) as usize)
                .collect();
            if shape.len() != 2 || shape[1] != 4 {
                return Err(format!("expected shape [-1, 4], got {shape:?}"));
            }
            let data: Vec<f64> = first["data"]
                .as_array()
                .ok_or("no data")?
                .iter()
                .map(|v| v.as_f64().unwrap_or(f64::NAN))
                .collect();
            if data.len() != shape[0] * 4 {
                return Err("data does not fill the shape".into());
            }
            return Ok(data.chunks(4).map(|c| c.to_vec()).collect());
        }
        // MLflow `inputs`: a list of rows.
        return inputs
            .iter()
            .map(|r| {
                r.as_array()
                    .ok_or_else(|| "row is not a list".to_string())
                    .map(|r| r.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect())
            })
            .collect();
    }
    if let Some(split) = body.get("dataframe_split") {
        return split["data"]
            .as_array()
            .ok_or_else(|| "no data".to_string())?
            .iter()
            .map(|r| {
                r.as_array()
                    .ok_or_else(|| "row is not a list".to_string())
                    .map(|r| r.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect())
            })
            .collect();
    }
    Err("no inputs".into())
}

async fn handle(
    behavior: Behavior,
    hits: Arc<AtomicUsize>,
    ids: Arc<Mutex<Vec<String>>>,
    last: Arc<Mutex<Option<Value>>>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let rid = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let (name, version, input, shift) = match &behavior {
        Behavior::Model {
            name,
            version,
            input,
            shift,
        } => (name.clone(), version.clone(), input.clone(), *shift),
        _ => ("stub".into(), "1".into(), "float_input".into(), 0),
    };
    if method == Method::GET && path.starts_with("/v2/models/") && !path.ends_with("/infer") {
        return json_resp(
            StatusCode::OK,
            json!({"name": name, "versions": [version], "platform": "onnx",
                   "inputs": [{"name": input, "datatype": "FP32", "shape": [-1, 4]}],
                   "outputs": [{"name": "label", "datatype": "INT64", "shape": [-1]},
                               {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}]}),
        );
    }
    let is_v2 =
        method == Method::POST && path.starts_with("/v2/models/") && path.ends_with("/infer");
    let is_mlflow = method == Method::POST && path == "/invocations";
    if !is_v2 && !is_mlflow {
        return json_resp(StatusCode::NOT_FOUND, json!({"error": "not found"}));
    }
    hits.fetch_add(1, Ordering::SeqCst);
    ids.lock().unwrap().push(rid.clone());
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return json_resp(StatusCode::BAD_REQUEST, json!({"error": e.to_string()})),
    };
    *last.lock().unwrap() = Some(parsed.clone());
    match behavior {
        Behavior::Hang => {
            tokio::time::sleep(Duration::from_secs(120)).await;
            return json_resp(StatusCode::OK, json!({}));
        }
        Behavior::Fail => {
            return json_resp(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": "boom"}))
        }
        Behavior::Model { .. } => {}
    }
    if is_v2 {
        let got = parsed["inputs"][0]["name"].as_str().unwrap_or("");
        if got != input {
            return json_resp(
                StatusCode::BAD_REQUEST,
                json!({"error": format!("unknown input {got:?}, expected {input:?}")}),
            );
        }
    }
    let rows = match rows_of(&parsed) {
        Ok(r) => r,
        Err(e) => return json_resp(StatusCode::BAD_REQUEST, json!({"error": e})),
    };
    let mut labels = Vec::new();
    let mut probs = Vec::new();
    for r in &rows {
        let (l, p) = linear_model(r);
        labels.push((l + shift) % 3);
        probs.push(p);
    }
    if is_v2 {
        let wanted: Option<Vec<String>> =
            parsed.get("outputs").and_then(Value::as_array).map(|o| {
                o.iter()
                    .filter_map(|x| x["name"].as_str().map(str::to_string))
                    .collect()
            });
        let mut outputs = vec![
            json!({"name": "label", "datatype": "INT64", "shape": [rows.len()], "data": labels}),
            json!({"name": "probabilities", "datatype": "FP32", "shape": [rows.len(), 3],
                   "data": probs.iter().flatten().collect::<Vec<_>>()}),
        ];
        if let Some(w) = wanted {
            outputs.retain(|o| w.iter().any(|n| o["name"] == json!(n)));
        }
        json_resp(
            StatusCode::OK,
            json!({"model_name": name, "model_version": version,
                   "id": parsed["id"], "outputs": outputs}),
        )
    } else {
        json_resp(
            StatusCode::OK,
            json!({"predictions": {"label": labels, "probabilities": probs}}),
        )
    }
}

/// Starts a stub upstream on a free loopback port.
pub async fn stub(behavior: Behavior) -> Stub {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(Mutex::new(Vec::new()));
    let last = Arc::new(Mutex::new(None));
    let (h, i, l) = (hits.clone(), ids.clone(), last.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (b, h, i, l) = (behavior.clone(), h.clone(), i.clone(), l.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let (b, h, i, l) = (b.clone(), h.clone(), i.clone(), l.clone());
                    async move { Ok::<_, Infallible>(handle(b, h, i, l, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Stub {
        addr,
        hits,
        request_ids: ids,
        last_body: last,
    }
}

/// A loopback port with nothing listening on it.
pub async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    port
}

/// The iris features block of an app config.
pub const IRIS_FEATURES: &str = r#"
[[apps.features]]
name = "sepal_length"
type = "float"
min = 0.0
max = 20.0
[[apps.features]]
name = "sepal_width"
type = "float"
min = 0.0
max = 20.0
[[apps.features]]
name = "petal_length"
type = "float"
min = 0.0
max = 20.0
[[apps.features]]
name = "petal_width"
type = "float"
min = 0.0
max = 20.0
default = 1.0
[apps.output]
labels = ["setosa", "versicolor", "virginica"]
"#;

/// A running gateway.
pub struct Gw {
    pub addr: SocketAddr,
    pub gateway: Arc<homeml_gateway::Gateway>,
    _dir: tempfile::TempDir,
}

/// Starts a gateway from config text (written to a temp dir with any extra files).
pub async fn gateway(config: &str, files: &[(&str, &str)]) -> Gw {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, config).unwrap();
    let cfg = homeml_gateway::GatewayConfig::from_path(&path).unwrap();
    let gateway = homeml_gateway::Gateway::new(&cfg).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let g = gateway.clone();
    tokio::spawn(async move { g.serve(listener, std::future::pending()).await });
    Gw {
        addr,
        gateway,
        _dir: dir,
    }
}

/// A test HTTP client (keep-alive).
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
}

/// An answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Http {
    pub fn new() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("http://{addr}{path}"))
            .header("content-type", "application/json");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let resp = self
            .client
            .request(b.body(Full::new(body.into())).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn post(
        &self,
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
        body: Value,
    ) -> Answer {
        self.send(Method::POST, addr, path, headers, body.to_string())
            .await
    }

    pub async fn get(&self, addr: SocketAddr, path: &str) -> Answer {
        self.send(Method::GET, addr, path, &[], Bytes::new()).await
    }
}

pub fn setosa() -> Value {
    json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2})
}

pub fn virginica() -> Value {
    json!({"sepal_length": 6.7, "sepal_width": 3.1, "petal_length": 5.6, "petal_width": 2.4})
}

/// The value of one sample line of a Prometheus exposition.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l[series.len()..].trim().parse().ok())
}

/// Polls `cond` every 20 ms for at most 10 s.
pub async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

/// The Python of the test venv.
pub fn python() -> std::path::PathBuf {
    if let Ok(p) = std::env::var("HOMEML_PYTHON") {
        return p.into();
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(".venv/bin/python")
}
