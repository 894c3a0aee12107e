//! Shared pieces of the runtime tests: a test flavor, model directories, and a tiny HTTP client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use homeml_flavor::{
    DType, Flavor, FlavorError, FlavorRegistry, IoSpec, LoadContext, MlModel, Model, Tensor,
    TensorData,
};
use homeml_server::{Limits, ModelConfig, Server, ServerConfig, ServerHandle};
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;

/// What a `lin` model computed: the first column of every row it was given.
pub type Log = Arc<Mutex<Vec<f32>>>;

/// `y = x * scale`, row by row, optionally slow. Records the first value of every row it computes.
pub struct Lin {
    io_in: Vec<IoSpec>,
    io_out: Vec<IoSpec>,
    scale: f32,
    delay: Duration,
    missing: bool,
    log: Log,
    batches: Arc<Mutex<Vec<usize>>>,
}

impl Model for Lin {
    fn inputs(&self) -> &[IoSpec] {
        &self.io_in
    }
    fn outputs(&self) -> &[IoSpec] {
        &self.io_out
    }
    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError> {
        let x = &inputs[0];
        let TensorData::F32(v) = x.data() else {
            return Err(FlavorError::InvalidInput("lin wants float32".into()));
        };
        let width = x.row_len();
        {
            let mut log = self.log.lock().unwrap();
            for r in 0..x.rows() {
                log.push(v[r * width]);
            }
        }
        self.batches.lock().unwrap().push(x.rows());
        std::thread::sleep(self.delay);
        if v.contains(&666.0) {
            panic!("the devil's number");
        }
        if v.contains(&13.0) {
            return Err(FlavorError::Engine("unlucky".into()));
        }
        let out = v.iter().map(|x| x * self.scale).collect();
        Ok(vec![Tensor::new(x.shape().to_vec(), TensorData::F32(out))?])
    }
    fn accepts_missing_values(&self) -> bool {
        self.missing
    }
}

/// The `lin` flavor. MLmodel entry: `lin: {width, scale, delay_ms, broken, missing}` (`missing`: the
/// model accepts missing values).
#[derive(Default, Clone)]
pub struct LinFlavor {
    /// Every row computed by every model this flavor loaded.
    pub log: Log,
    /// Rows per model call.
    pub batches: Arc<Mutex<Vec<usize>>>,
    /// Loads so far.
    pub loads: Arc<Mutex<usize>>,
}

impl Flavor for LinFlavor {
    fn name(&self) -> &str {
        "lin"
    }
    fn version(&self) -> &str {
        "1"
    }
    fn load(&self, ctx: &LoadContext<'_>) -> Result<Arc<dyn Model>, FlavorError> {
        let c = ctx.flavor_config;
        if c["broken"].as_bool().unwrap_or(false) {
            return Err(FlavorError::InvalidModel(
                "this model is broken on purpose".into(),
            ));
        }
        *self.loads.lock().unwrap() += 1;
        let width = c["width"].as_i64().unwrap_or(2);
        Ok(Arc::new(Lin {
            io_in: vec![IoSpec::new("x", DType::F32, vec![-1, width])],
            io_out: vec![IoSpec::new("y", DType::F32, vec![-1, width])],
            scale: c["scale"].as_f64().unwrap_or(2.0) as f32,
            delay: Duration::from_millis(c["delay_ms"].as_u64().unwrap_or(0)),
            missing: c["missing"].as_bool().unwrap_or(false),
            log: self.log.clone(),
            batches: self.batches.clone(),
        }))
    }
}

impl LinFlavor {
    /// A registry holding this flavor.
    pub fn registry(&self) -> FlavorRegistry {
        let mut r = FlavorRegistry::new();
        r.register(Arc::new(self.clone()), "test").unwrap();
        r
    }

    /// Whether any computed row started with `v`.
    pub fn computed(&self, v: f32) -> bool {
        self.log.lock().unwrap().contains(&v)
    }

    /// Rows computed so far.
    pub fn computed_rows(&self) -> usize {
        self.log.lock().unwrap().len()
    }
}

/// Writes a `lin` model directory.
pub fn write_model(dir: &Path, config: Value) {
    std::fs::create_dir_all(dir).unwrap();
    let mut m = MlModel::default();
    m.add_flavor("lin", config);
    m.model_uuid = Some(format!("{:x}", rand_u64()));
    m.write_dir(dir).unwrap();
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// A config on a free loopback port.
pub fn config(models: Vec<ModelConfig>) -> ServerConfig {
    ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        models,
        limits: Limits::default(),
        tracking_uri: None,
        model_cache_dir: None,
        admin_token: None,
    }
}

/// A model config named `name` for the directory `dir`.
pub fn model(name: &str, dir: &Path) -> ModelConfig {
    let mut m = ModelConfig::new(dir.to_str().unwrap());
    m.name = Some(name.into());
    m
}

/// Starts a server.
pub async fn start(cfg: ServerConfig, flavor: &LinFlavor) -> ServerHandle {
    Server::start(cfg, flavor.registry()).await.unwrap()
}

/// An answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on a new connection.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(body.into())).unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// GET `path`.
pub async fn get(addr: SocketAddr, path: &str) -> Answer {
    send(addr, "GET", path, &[], Bytes::new()).await
}

/// A V2 infer body for a `[rows, width]` float32 input named `x`.
pub fn v2_body(rows: &[Vec<f32>]) -> String {
    let width = rows.first().map_or(0, Vec::len);
    let data: Vec<f32> = rows.iter().flatten().copied().collect();
    json!({"inputs": [{"name": "x", "shape": [rows.len(), width], "datatype": "FP32", "data": data}]})
        .to_string()
}

/// POSTs a V2 infer request to model `m`.
pub async fn infer_v2(addr: SocketAddr, m: &str, rows: &[Vec<f32>]) -> Answer {
    send(
        addr,
        "POST",
        &format!("/v2/models/{m}/infer"),
        &[("content-type", "application/json")],
        v2_body(rows),
    )
    .await
}

/// The flat output data of a V2 answer.
pub fn v2_output(a: &Answer) -> Vec<f32> {
    let v = a.json();
    v["outputs"][0]["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no output data in {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// Polls until `cond` holds (the test fails by its harness timeout otherwise).
pub async fn until(mut cond: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the condition never held");
}

/// The value of one sample line of the metrics text (`name{labels}` exactly), if present.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
}

/// Runs `promtool check metrics` on `text`; panics with its output when it complains or is missing.
pub fn promtool_check(text: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is needed (Debian package prometheus; scripts/test.sh installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Polls the async `cond` every 5 ms until it holds; panics after 2,000 tries (10 s).
pub async fn until_async<F, Fut>(mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..2000 {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the condition never held");
}
