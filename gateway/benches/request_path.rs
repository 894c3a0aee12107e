//! The gateway's own work per request, without the network: parse + validate the named features,
//! build the upstream (KServe V2) body, read the answer and map it to labels.
//!
//! `cargo bench -p homeml-gateway --bench request_path`

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use homeml_gateway::{protocol, App, GatewayConfig};

const CONFIG: &str = r#"
[[apps]]
name = "iris"
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
[apps.input]
name = "float_input"
[apps.output]
labels = ["setosa", "versicolor", "virginica"]
[[apps.upstreams]]
url = "http://127.0.0.1:3000"
"#;

const ROW: &str =
    r#"{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}"#;

fn answer(rows: usize) -> Vec<u8> {
    let labels: Vec<u32> = (0..rows).map(|i| (i % 3) as u32).collect();
    let probs: Vec<f32> = (0..rows).flat_map(|_| [0.8f32, 0.15, 0.05]).collect();
    serde_json::to_vec(&serde_json::json!({
        "model_name": "iris", "model_version": "1", "id": "bench",
        "outputs": [
            {"name": "label", "datatype": "INT64", "shape": [rows], "data": labels},
            {"name": "probabilities", "datatype": "FP32", "shape": [rows, 3], "data": probs}
        ]
    }))
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let cfg =
        GatewayConfig::from_toml_str(CONFIG, Path::new("bench.toml"), Path::new(".")).unwrap();
    let app = App::new(&cfg.apps[0], &cfg).unwrap();
    let up = app.upstreams()[0].clone();
    for rows in [1usize, 32] {
        let body = if rows == 1 {
            ROW.to_string()
        } else {
            format!("[{}]", vec![ROW; rows].join(","))
        };
        let ans = answer(rows);
        let mut g = c.benchmark_group(format!("request_path/{rows}_rows"));
        g.throughput(Throughput::Elements(rows as u64));
        g.bench_function("validate", |b| {
            b.iter(|| {
                let v: serde_json::Value =
                    serde_json::from_slice(black_box(body.as_bytes())).unwrap();
                app.features.validate(&v).unwrap()
            })
        });
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let parsed = app.features.validate(&v).unwrap();
        g.bench_function("upstream_body", |b| {
            b.iter(|| app.upstream_body(&up, black_box(&parsed), "float_input", "req-1", true))
        });
        g.bench_function("map_answer", |b| {
            b.iter(|| {
                let a = protocol::parse_v2_answer(black_box(&ans)).unwrap();
                app.mapping.map(&a, rows, true).unwrap()
            })
        });
        g.bench_function("all", |b| {
            b.iter(|| {
                let v: serde_json::Value =
                    serde_json::from_slice(black_box(body.as_bytes())).unwrap();
                let r = app.features.validate(&v).unwrap();
                let out = app.upstream_body(&up, &r, "float_input", "req-1", false);
                let a = protocol::parse_v2_answer(black_box(&ans)).unwrap();
                let preds = app.mapping.map(&a, r.len(), false).unwrap();
                (out, serde_json::to_vec(&preds).unwrap())
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
