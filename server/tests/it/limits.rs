//! The server's protection limits over real HTTP on loopback: a model's `inline_budget_us` reaches its
//! batcher (connection and body limits: hardening.rs).

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use homeml_flavor::{
    DType, Flavor, FlavorError, FlavorRegistry, IoSpec, LoadContext, MlModel, Model, Tensor,
};
use serde_json::json;
use support::*;

// Connections past the limit, stalled bodies and the memory budget: see hardening.rs (idle
// connections now make room, and bodies reserve memory as they arrive, not their Content-Length).

/// Which thread computed each call: (model tag, thread name).
type Calls = Arc<Mutex<Vec<(String, String)>>>;

/// `y = x`, recording the thread of every call. MLmodel entry: `threads: {tag}`.
#[derive(Default, Clone)]
struct ThreadsFlavor {
    calls: Calls,
}

struct ThreadsModel {
    tag: String,
    io: Vec<IoSpec>,
    calls: Calls,
}

impl Model for ThreadsModel {
    fn inputs(&self) -> &[IoSpec] {
        &self.io
    }
    fn outputs(&self) -> &[IoSpec] {
        &self.io
    }
    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError> {
        let thread = std::thread::current().name().unwrap_or("").to_string();
        self.calls.lock().unwrap().push((self.tag.clone(), thread));
        Ok(inputs)
    }
}

impl Flavor for ThreadsFlavor {
    fn name(&self) -> &str {
        "threads"
    }
    fn version(&self) -> &str {
        "1"
    }
    fn load(&self, ctx: &LoadContext<'_>) -> Result<Arc<dyn Model>, FlavorError> {
        Ok(Arc::new(ThreadsModel {
            tag: ctx.flavor_config["tag"].as_str().unwrap_or("").to_string(),
            io: vec![IoSpec::new("x", DType::F32, vec![-1, 2])],
            calls: self.calls.clone(),
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_budget_from_serve_toml_reaches_the_batcher() {
    let dir = tempfile::tempdir().unwrap();
    for tag in ["inline", "threads"] {
        std::fs::create_dir_all(dir.path().join(tag)).unwrap();
        let mut m = MlModel::default();
        m.add_flavor("threads", json!({ "tag": tag }));
        m.write_dir(&dir.path().join(tag)).unwrap();
    }
    let toml = format!(
        r#"
        port = 0
        [[models]]
        name = "inline"
        uri = "{inline}"
        inline_budget_us = 10000000
        [[models]]
        name = "threads"
        uri = "{threads}"
        inline_budget_us = 0
        "#,
        inline = dir.path().join("inline").display(),
        threads = dir.path().join("threads").display(),
    );
    let cfg = homeml_server::ServerConfig::from_toml_str(&toml).unwrap();
    assert_eq!(cfg.models[0].inline_budget, Duration::from_secs(10));
    assert_eq!(cfg.models[1].inline_budget, Duration::ZERO);
    let flavor = ThreadsFlavor::default();
    let mut registry = FlavorRegistry::new();
    registry.register(Arc::new(flavor.clone()), "test").unwrap();
    let server = homeml_server::Server::start(cfg, registry).await.unwrap();
    let addr = server.addr();

    // Past the cost estimate's warm-up (8 calls), a model with a generous budget runs its 1-row calls
    // on the async runtime; a model with budget 0 always on its compute threads (`homeml-{name}-{i}`).
    for i in 0..12 {
        for m in ["inline", "threads"] {
            let a = infer_v2(addr, m, &[vec![i as f32, 1.0]]).await;
            assert_eq!(a.status, 200, "{}", a.text());
        }
    }
    let calls = flavor.calls.lock().unwrap().clone();
    let on = |tag: &str| -> Vec<String> {
        calls
            .iter()
            .filter(|(t, _)| t == tag)
            .map(|(_, th)| th.clone())
            .collect()
    };
    let threads = on("threads");
    assert_eq!(threads.len(), 12);
    assert!(
        threads.iter().all(|t| t.starts_with("homeml-threads-")),
        "{threads:?}"
    );
    let inline = on("inline");
    assert_eq!(inline.len(), 12);
    assert!(
        inline[0].starts_with("homeml-inline-"),
        "the first calls run on a compute thread: {inline:?}"
    );
    let last = inline.last().unwrap();
    assert!(!last.starts_with("homeml-inline-"), "{inline:?}");
    server.shutdown_and_wait().await;
}
