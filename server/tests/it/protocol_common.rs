//! Shared pieces of the protocol integration tests: tiny test flavors, a model directory writer, a
//! running server on 127.0.0.1:0, and a minimal blocking HTTP/1.1 client (one connection per request).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use homeml_flavor::{
    DType, Flavor, FlavorError, FlavorRegistry, IoSpec, LoadContext, MlModel, Model, Signature,
    Tensor, TensorData,
};
use homeml_server::{ModelConfig, Server, ServerConfig, ServerHandle};

/// Weights of the test classifier: 4 features, 3 classes.
pub const W: [[f32; 3]; 4] = [
    [1.0, 0.0, -1.0],
    [0.5, -0.5, 0.0],
    [-1.0, 0.5, 1.0],
    [-1.0, 0.0, 1.5],
];
/// Biases of the test classifier.
pub const B: [f32; 3] = [0.1, 0.2, -0.3];

/// A fixed linear classifier: input `X` f32 [-1, 4]; outputs `label` i64 [-1] and `probabilities`
/// f32 [-1, 3] (softmax). NaN inputs give NaN probabilities.
pub struct Classifier {
    inputs: Vec<IoSpec>,
    outputs: Vec<IoSpec>,
}

impl Classifier {
    pub fn new() -> Classifier {
        Classifier {
            inputs: vec![IoSpec::new("X", DType::F32, vec![-1, 4])],
            outputs: vec![
                IoSpec::new("label", DType::I64, vec![-1]),
                IoSpec::new("probabilities", DType::F32, vec![-1, 3]),
            ],
        }
    }

    /// The expected answer for one row.
    pub fn predict_row(x: &[f32]) -> (i64, [f32; 3]) {
        let mut s = B;
        for (k, xk) in x.iter().enumerate() {
            for c in 0..3 {
                s[c] += xk * W[k][c];
            }
        }
        let m = s.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f32> = s.iter().map(|v| (v - m).exp()).collect();
        let z: f32 = e.iter().sum();
        let p = [e[0] / z, e[1] / z, e[2] / z];
        let mut label = 0;
        for c in 1..3 {
            if p[c] > p[label] {
                label = c;
            }
        }
        (label as i64, p)
    }
}

impl Model for Classifier {
    fn inputs(&self) -> &[IoSpec] {
        &self.inputs
    }
    fn outputs(&self) -> &[IoSpec] {
        &self.outputs
    }
    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError> {
        let x = inputs
            .into_iter()
            .next()
            .ok_or_else(|| FlavorError::InvalidInput("no input".into()))?;
        let rows = x.rows();
        let TensorData::F32(v) = x.data() else {
            return Err(FlavorError::InvalidInput(format!(
                "X must be f32, got {}",
                x.dtype()
            )));
        };
        if x.shape() != [rows, 4] {
            return Err(FlavorError::InvalidInput(format!(
                "X must be [n, 4], got {:?}",
                x.shape()
            )));
        }
        let mut labels = Vec::with_capacity(rows);
        let mut probs = Vec::with_capacity(rows * 3);
        for r in 0..rows {
            let (l, p) = Classifier::predict_row(&v[r * 4..r * 4 + 4]);
            labels.push(l);
            probs.extend_from_slice(&p);
        }
        Ok(vec![
            Tensor::new(vec![rows], TensorData::I64(labels))?,
            Tensor::f32_matrix(rows, 3, probs)?,
        ])
    }
}

/// A regressor over f64 [-1, 4]: `variable` f64 [-1, 1] = the row's sum (NaN and infinities pass through).
pub struct Summer {
    inputs: Vec<IoSpec>,
    outputs: Vec<IoSpec>,
}

impl Summer {
    pub fn new() -> Summer {
        Summer {
            inputs: vec![IoSpec::new("X", DType::F64, vec![-1, 4])],
            outputs: vec![IoSpec::new("variable", DType::F64, vec![-1, 1])],
        }
    }
}

impl Model for Summer {
    fn inputs(&self) -> &[IoSpec] {
        &self.inputs
    }
    fn outputs(&self) -> &[IoSpec] {
        &self.outputs
    }
    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError> {
        let x = inputs
            .into_iter()
            .next()
            .ok_or_else(|| FlavorError::InvalidInput("no input".into()))?;
        let rows = x.rows();
        let TensorData::F64(v) = x.data() else {
            return Err(FlavorError::InvalidInput("X must be f64".into()));
        };
        let sums = (0..rows)
            .map(|r| v[r * 4..r * 4 + 4].iter().sum())
            .collect();
        Ok(vec![Tensor::new(vec![rows, 1], TensorData::F64(sums))?])
    }
}

/// One input per column: `age` i64 [-1], `city` string [-1, 1] -> `score` f64 [-1] = age + len(city).
pub struct PerColumn {
    inputs: Vec<IoSpec>,
    outputs: Vec<IoSpec>,
}

impl PerColumn {
    pub fn new() -> PerColumn {
        PerColumn {
            inputs: vec![
                IoSpec::new("age", DType::I64, vec![-1]),
                IoSpec::new("city", DType::String, vec![-1, 1]),
            ],
            outputs: vec![IoSpec::new("score", DType::F64, vec![-1])],
        }
    }
}

impl Model for PerColumn {
    fn inputs(&self) -> &[IoSpec] {
        &self.inputs
    }
    fn outputs(&self) -> &[IoSpec] {
        &self.outputs
    }
    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError> {
        let (TensorData::I64(age), TensorData::String(city)) = (inputs[0].data(), inputs[1].data())
        else {
            return Err(FlavorError::InvalidInput("bad dtypes".into()));
        };
        let score = age
            .iter()
            .zip(city)
            .map(|(a, c)| *a as f64 + c.len() as f64)
            .collect::<Vec<_>>();
        Ok(vec![Tensor::new(
            vec![score.len()],
            TensorData::F64(score),
        )?])
    }
}

/// A flavor that builds one of the test models, chosen by the `model` key of its MLmodel entry.
pub struct TestFlavor(pub &'static str);

impl Flavor for TestFlavor {
    fn name(&self) -> &str {
        self.0
    }
    fn version(&self) -> &str {
        "0"
    }
    fn load(&self, ctx: &LoadContext<'_>) -> Result<Arc<dyn Model>, FlavorError> {
        Ok(match ctx.config_str("model")? {
            "classifier" => Arc::new(Classifier::new()),
            "summer" => Arc::new(Summer::new()),
            "percolumn" => Arc::new(PerColumn::new()),
            other => return Err(FlavorError::InvalidModel(format!("no test model {other}"))),
        })
    }
}

/// A registry with the test flavor under `testflavor`, and again under `onnx` (so that answers are
/// shaped as for MLflow's ONNX pyfunc).
pub fn registry() -> FlavorRegistry {
    let mut reg = FlavorRegistry::new();
    reg.register(Arc::new(TestFlavor("testflavor")), "test")
        .unwrap();
    reg.register(Arc::new(TestFlavor("onnx")), "test").unwrap();
    reg
}

/// Writes a model directory for test model `model` under flavor `flavor` with `signature`.
pub fn write_model(dir: &Path, flavor: &str, model: &str, signature: Option<&Signature>) {
    let mut m = MlModel::default();
    m.add_flavor(flavor, serde_json::json!({ "model": model }));
    if let Some(s) = signature {
        m.set_signature(s);
    }
    m.write_dir(dir).unwrap();
}

/// A server on 127.0.0.1:0 with its own runtime, shut down on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    handle: Option<ServerHandle>,
    rt: tokio::runtime::Runtime,
    _dirs: Vec<tempfile::TempDir>,
}

impl TestServer {
    /// Serves each `(name, flavor, model, signature)`.
    pub fn start(models: &[(&str, &str, &str, Option<Signature>)]) -> TestServer {
        Self::start_with(models, |_| {})
    }

    /// Like `start`, letting the caller adjust the config.
    pub fn start_with(
        models: &[(&str, &str, &str, Option<Signature>)],
        tweak: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        let mut config = ServerConfig {
            host: "127.0.0.1".into(),
            port: 0,
            ..ServerConfig::default()
        };
        let mut dirs = Vec::new();
        for (name, flavor, model, sig) in models {
            let dir = tempfile::tempdir().unwrap();
            write_model(dir.path(), flavor, model, sig.as_ref());
            let mut mc = ModelConfig::new(dir.path().to_str().unwrap());
            mc.name = Some(name.to_string());
            config.models.push(mc);
            dirs.push(dir);
        }
        tweak(&mut config);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let handle = rt.block_on(Server::start(config, registry())).unwrap();
        TestServer {
            addr: handle.addr(),
            handle: Some(handle),
            rt,
            _dirs: dirs,
        }
    }

    /// Sends a request and returns the answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        request(self.addr, method, path, headers, body)
    }

    /// POSTs JSON.
    pub fn post_json(&self, path: &str, body: &str) -> Reply {
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    }

    /// GETs a path.
    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], b"")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.rt.block_on(h.shutdown_and_wait());
        }
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// A header's value (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics with the body when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), read to the end.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method != "GET" || !body.is_empty() {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..pos]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[pos + 2..pos + 2 + size]);
        data = &data[pos + 2 + size + 2..];
    }
    out
}

/// The Python interpreter for interop tests: `HOMEML_PYTHON`, else `<workspace>/.venv/bin/python`.
pub fn python() -> std::path::PathBuf {
    match std::env::var_os("HOMEML_PYTHON") {
        Some(p) => p.into(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"),
    }
}

/// The workspace root.
pub fn workspace_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}
