//! Criterion benchmarks of request decoding (body -> checked model input tensors) per protocol and
//! form, for 1, 8, 64 and 256 iris rows, plus answer encoding (output tensors -> body) per protocol.
//! The model is an iris classifier (`label` i64, `probabilities` f32 `[-1, 3]`), with a tensor
//! signature for the tensor forms and a four-column signature for the dataframe and CSV forms.
//! Figures: bench/protocol.md.
//!
//! `cargo bench -p homeml-server --bench protocol`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use homeml_flavor::{ColumnType, DType, IoSpec, Schema, Signature, Tensor, TensorData};
use homeml_server::error::ApiError;
use homeml_server::protocol::{
    mlflow, predict, v2, Encoded, MlflowInputKind, MlflowPlan, ModelInfo, ResponsePlan, V2Plan,
};
use http::{HeaderMap, HeaderValue};
use serde_json::json;

const COLS: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
const SIZES: [usize; 4] = [1, 8, 64, 256];

fn model(signature: Signature) -> ModelInfo {
    ModelInfo {
        name: "iris".into(),
        version: "1".into(),
        platform: "onnx".into(),
        inputs: vec![IoSpec::new("X", DType::F32, vec![-1, 4])],
        outputs: vec![
            IoSpec::new("label", DType::I64, vec![-1]),
            IoSpec::new("probabilities", DType::F32, vec![-1, 3]),
        ],
        signature: Some(signature),
    }
}

fn tensor_model() -> ModelInfo {
    model(Signature {
        inputs: Some(Schema::tensor(None, DType::F32, vec![-1, 4])),
        outputs: None,
        params: None,
    })
}

fn column_model() -> ModelInfo {
    model(Signature {
        inputs: Some(Schema::columns(&COLS, ColumnType::Double)),
        outputs: None,
        params: None,
    })
}

fn rows(n: usize) -> Vec<[f64; 4]> {
    (0..n)
        .map(|i| {
            let f = i as f64 * 0.01;
            [5.1 + f, 3.5 - f, 1.4 + f, 0.2 + f]
        })
        .collect()
}

fn decode(c: &mut Criterion) {
    let tm = tensor_model();
    let cm = column_model();
    let mut g = c.benchmark_group("decode");
    for n in SIZES {
        let r = rows(n);
        g.throughput(Throughput::Elements(n as u64));
        let inputs = json!({"inputs": r}).to_string();
        g.bench_with_input(BenchmarkId::new("mlflow_inputs", n), &inputs, |b, body| {
            b.iter(|| {
                mlflow::decode(Some("application/json"), black_box(body.as_bytes()), &tm).unwrap()
            })
        });
        let split = json!({"dataframe_split": {"columns": COLS, "data": r}}).to_string();
        g.bench_with_input(
            BenchmarkId::new("mlflow_dataframe_split", n),
            &split,
            |b, body| {
                b.iter(|| {
                    mlflow::decode(Some("application/json"), black_box(body.as_bytes()), &cm)
                        .unwrap()
                })
            },
        );
        let records: Vec<_> = r
            .iter()
            .map(|row| json!({COLS[0]: row[0], COLS[1]: row[1], COLS[2]: row[2], COLS[3]: row[3]}))
            .collect();
        let records = json!({ "dataframe_records": records }).to_string();
        g.bench_with_input(
            BenchmarkId::new("mlflow_dataframe_records", n),
            &records,
            |b, body| {
                b.iter(|| {
                    mlflow::decode(Some("application/json"), black_box(body.as_bytes()), &cm)
                        .unwrap()
                })
            },
        );
        let csv: String = std::iter::once(COLS.join(","))
            .chain(r.iter().map(|row| row.map(|v| v.to_string()).join(",")))
            .collect::<Vec<_>>()
            .join("\n");
        g.bench_with_input(BenchmarkId::new("mlflow_csv", n), &csv, |b, body| {
            b.iter(|| mlflow::decode(Some("text/csv"), black_box(body.as_bytes()), &cm).unwrap())
        });
        let v2_json =
            json!({"id": "x", "inputs": [{"name": "X", "shape": [n, 4], "datatype": "FP32",
            "data": r.iter().flatten().collect::<Vec<_>>()}]})
            .to_string();
        let empty = HeaderMap::new();
        g.bench_with_input(BenchmarkId::new("v2_json", n), &v2_json, |b, body| {
            b.iter(|| v2::decode_infer(&empty, black_box(body.as_bytes()), &tm).unwrap())
        });
        let head = json!({"inputs": [{"name": "X", "shape": [n, 4], "datatype": "FP32",
            "parameters": {"binary_data_size": n * 16}}]})
        .to_string();
        let mut bin = head.as_bytes().to_vec();
        for x in r.iter().flatten() {
            bin.extend_from_slice(&(*x as f32).to_le_bytes());
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            "inference-header-content-length",
            HeaderValue::from(head.len()),
        );
        g.bench_with_input(BenchmarkId::new("v2_binary", n), &bin, |b, body| {
            b.iter(|| v2::decode_infer(&headers, black_box(body), &tm).unwrap())
        });
        let bare = json!(r).to_string();
        g.bench_with_input(BenchmarkId::new("predict", n), &bare, |b, body| {
            b.iter(|| predict::decode(None, black_box(body.as_bytes()), &tm).unwrap())
        });
    }
    g.finish();
}

fn outputs(n: usize) -> Vec<Tensor> {
    let labels = (0..n as i64).map(|i| i % 3).collect();
    let probs = (0..n * 3).map(|i| (i % 7) as f32 / 7.0).collect();
    vec![
        Tensor::new(vec![n], TensorData::I64(labels)).unwrap(),
        Tensor::f32_matrix(n, 3, probs).unwrap(),
    ]
}

fn encode(c: &mut Criterion) {
    let tm = tensor_model();
    let mut g = c.benchmark_group("encode");
    // An ONNX model answers an `inputs`/`instances` request with a dict of output arrays and a
    // dataframe request with one record per row (MLflow's shapes): two code paths.
    let mlflow_tensor = ResponsePlan::Mlflow(MlflowPlan {
        input_kind: MlflowInputKind::Tensor,
    });
    let mlflow_frame = ResponsePlan::Mlflow(MlflowPlan {
        input_kind: MlflowInputKind::DataFrame,
    });
    let v2_json = ResponsePlan::V2(V2Plan::default());
    let v2_binary = ResponsePlan::V2(V2Plan {
        binary_default: true,
        ..V2Plan::default()
    });
    type Encoder = fn(Vec<Tensor>, &ModelInfo, &ResponsePlan) -> Result<Encoded, ApiError>;
    let cases: [(&str, Encoder, &ResponsePlan); 5] = [
        ("mlflow_inputs", mlflow::encode, &mlflow_tensor),
        ("mlflow_dataframe", mlflow::encode, &mlflow_frame),
        ("v2_json", v2::encode_infer, &v2_json),
        ("v2_binary", v2::encode_infer, &v2_binary),
        ("predict", predict::encode, &ResponsePlan::Predict),
    ];
    for n in SIZES {
        g.throughput(Throughput::Elements(n as u64));
        let out = outputs(n);
        for (name, encode, plan) in cases {
            // The encoders take the outputs by value: the copy is made outside the timed call.
            g.bench_with_input(BenchmarkId::new(name, n), &out, |b, out| {
                b.iter_batched(
                    || out.clone(),
                    |out| encode(black_box(out), &tm, plan).unwrap(),
                    BatchSize::SmallInput,
                )
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1))
        .sample_size(20);
    targets = decode, encode
}
criterion_main!(benches);
