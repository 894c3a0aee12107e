//! The protocols over real HTTP on loopback: every input form and every error case of MLflow scoring,
//! KServe V2 (with Triton's binary tensors) and `/predict`, against a running homeml server.

use crate::protocol_common;

use homeml_flavor::{ColSpec, ColumnType, DType, Schema, Signature};
use protocol_common::{Classifier, TestServer};
use serde_json::{json, Value};

const COLS: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
const ROWS: [[f32; 4]; 2] = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]];

fn col_sig() -> Signature {
    Signature {
        inputs: Some(Schema::columns(&COLS, ColumnType::Double)),
        outputs: None,
        params: None,
    }
}

fn tensor_sig() -> Signature {
    Signature {
        inputs: Some(Schema::tensor(None, DType::F32, vec![-1, 4])),
        outputs: None,
        params: None,
    }
}

fn percol_sig() -> Signature {
    Signature {
        inputs: Some(Schema::Columns(vec![
            ColSpec {
                name: Some("age".into()),
                ty: ColumnType::Long,
                required: true,
            },
            ColSpec {
                name: Some("city".into()),
                ty: ColumnType::String,
                required: true,
            },
        ])),
        outputs: None,
        params: None,
    }
}

fn server() -> TestServer {
    TestServer::start_with(
        &[
            ("cols", "onnx", "classifier", Some(col_sig())),
            ("tensor", "onnx", "classifier", Some(tensor_sig())),
            ("reg", "testflavor", "summer", Some(col_sig())),
            ("percol", "testflavor", "percolumn", Some(percol_sig())),
            ("nosig", "testflavor", "classifier", None),
        ],
        |c| c.limits.max_body_bytes = 64 * 1024,
    )
}

fn close(a: &Value, b: f32) -> bool {
    (a.as_f64().unwrap() - b as f64).abs() < 1e-5
}

/// Checks records answers `[{"label": l, "probabilities": [...]}, ...]` against the expected rows.
fn check_records(v: &Value, rows: &[[f32; 4]]) {
    let preds = v["predictions"].as_array().unwrap_or_else(|| panic!("{v}"));
    assert_eq!(preds.len(), rows.len(), "{v}");
    for (p, row) in preds.iter().zip(rows) {
        let (label, probs) = Classifier::predict_row(row);
        assert_eq!(p["label"], json!(label), "{v}");
        let got = p["probabilities"].as_array().unwrap();
        assert!(got.iter().zip(probs).all(|(g, e)| close(g, e)), "{v}");
    }
}

/// Checks a dict answer `{"label": [...], "probabilities": [[...]]}`.
fn check_dict(v: &Value, rows: &[[f32; 4]]) {
    let preds = &v["predictions"];
    let labels = preds["label"].as_array().unwrap_or_else(|| panic!("{v}"));
    let probs = preds["probabilities"].as_array().unwrap();
    assert_eq!(labels.len(), rows.len());
    for (i, row) in rows.iter().enumerate() {
        let (label, p) = Classifier::predict_row(row);
        assert_eq!(labels[i], json!(label), "{v}");
        let got = probs[i].as_array().unwrap();
        assert!(got.iter().zip(p).all(|(g, e)| close(g, e)), "{v}");
    }
}

fn mlflow_error(r: &protocol_common::Reply, status: u16, code: &str, needle: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error_code"], code, "{v}");
    let msg = v["message"].as_str().unwrap();
    assert!(msg.contains(needle), "{needle:?} not in {msg:?}");
}

fn v2_error(r: &protocol_common::Reply, status: u16, needle: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    let msg = v["error"].as_str().unwrap_or_else(|| panic!("{v}"));
    assert!(msg.contains(needle), "{needle:?} not in {msg:?}");
}

#[test]
fn mlflow_every_input_form() {
    let s = server();
    let split = json!({"dataframe_split": {"columns": COLS, "data": ROWS}}).to_string();
    let reordered = r#"{"dataframe_split": {"columns": ["petal_width","sepal_length","sepal_width","petal_length"], "data": [[0.2,5.1,3.5,1.4],[2.3,6.7,3.0,5.2]]}}"#;
    let positional = json!({"dataframe_split": {"data": ROWS}}).to_string();
    let records = json!({"dataframe_records": [
        {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2},
        {"petal_width": 2.3, "sepal_length": 6.7, "sepal_width": 3, "petal_length": 5.2}
    ]})
    .to_string();
    let inputs_dict = json!({"inputs": {"sepal_length": [5.1, 6.7], "sepal_width": [3.5, 3.0], "petal_length": [1.4, 5.2], "petal_width": [0.2, 2.3]}, "params": {"unused": 1}}).to_string();
    let instances_records = json!({"instances": [
        {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2},
        {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3}
    ]})
    .to_string();
    let inputs_list = json!({"inputs": ROWS}).to_string();
    for body in [
        split.as_str(),
        reordered,
        &positional,
        &records,
        &inputs_dict,
        &instances_records,
        &inputs_list,
    ] {
        let r = s.post_json("/models/cols/invocations", body);
        assert_eq!(r.status, 200, "{body}: {}", r.text());
        assert!(r
            .header("content-type")
            .unwrap()
            .starts_with("application/json"));
        check_records(&r.json(), &ROWS);
    }
    for csv in [
        "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n",
        "petal_width,sepal_length,sepal_width,petal_length\r\n0.2,5.1,3.5,1.4\r\n2.3,6.7,3.0,5.2\r\n",
        "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n",
    ] {
        let r = s.request("POST", "/models/cols/invocations", &[("Content-Type", "text/csv")], csv.as_bytes());
        assert_eq!(r.status, 200, "{csv}: {}", r.text());
        check_records(&r.json(), &ROWS);
    }
    // Tensor signature: a dict of all outputs, whatever the input form.
    for body in [
        json!({"inputs": ROWS}).to_string(),
        json!({"instances": ROWS}).to_string(),
        json!({"inputs": {"X": ROWS}}).to_string(),
        split.clone(),
        json!({"inputs": [[5, 3, 1, 0]]}).to_string(),
    ] {
        let r = s.post_json("/models/tensor/invocations", &body);
        assert_eq!(r.status, 200, "{body}: {}", r.text());
        let expect: &[[f32; 4]] = if body.contains("[[5,3,1,0]]") {
            &[[5.0, 3.0, 1.0, 0.0]]
        } else {
            &ROWS
        };
        check_dict(&r.json(), expect);
    }
    // A missing Content-Type is read as JSON (MLflow answers 500 there).
    let r = s.request(
        "POST",
        "/models/tensor/invocations",
        &[],
        json!({"inputs": ROWS}).to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    check_dict(&r.json(), &ROWS);
}

#[test]
fn mlflow_one_output_and_per_column_models() {
    let s = server();
    // A one-output non-ONNX model answers a flat list; non-finite values are valid JSON.
    let body = json!({"dataframe_records": [
        {"sepal_length": 1, "sepal_width": 2, "petal_length": 3, "petal_width": 4},
        {"sepal_length": 1e308, "sepal_width": 1e308, "petal_length": 0, "petal_width": 0},
        {"sepal_length": "-Infinity", "sepal_width": 0, "petal_length": 0, "petal_width": 0}
    ]});
    let r = s.post_json("/models/reg/invocations", &body.to_string());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"predictions": [10.0, "Infinity", "-Infinity"]})
    );
    // A missing value is refused (issue 21.1): the model does not accept them.
    let body = json!({"dataframe_records": [
        {"sepal_length": 1, "sepal_width": 2, "petal_length": 3, "petal_width": 4},
        {"sepal_length": null, "sepal_width": 2, "petal_length": 3, "petal_width": 4}
    ]});
    let r = s.post_json("/models/reg/invocations", &body.to_string());
    mlflow_error(&r, 400, "BAD_REQUEST", "row 1, column \"sepal_length\"");
    // One model input per column, with long and string columns mapped by name.
    let r = s.post_json(
        "/models/percol/invocations",
        r#"{"dataframe_split": {"columns": ["city", "age"], "data": [["Oslo", 30], ["Paris", 41]]}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"predictions": [34.0, 46.0]}));
    let r = s.post_json(
        "/models/percol/invocations",
        r#"{"dataframe_records": [{"city": "Oslo", "age": 30.5}]}"#,
    );
    mlflow_error(&r, 400, "BAD_REQUEST", "column \"age\"");
    let r = s.post_json(
        "/models/percol/invocations",
        r#"{"dataframe_records": [{"city": 7, "age": 30}]}"#,
    );
    mlflow_error(&r, 400, "BAD_REQUEST", "column \"city\"");
}

#[test]
fn mlflow_errors() {
    let s = server();
    let p = "/models/cols/invocations";
    let r = s.post_json(
        p,
        r#"{"dataframe_records": [{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4}]}"#,
    );
    mlflow_error(&r, 400, "BAD_REQUEST", "missing column \"petal_width\"");
    let r = s.post_json(p, r#"{"dataframe_records": [{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2,"extra":1}]}"#);
    mlflow_error(&r, 400, "BAD_REQUEST", "unknown column \"extra\"");
    let r = s.post_json(p, r#"{"dataframe_records": [{"sepal_length":"a","sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}"#);
    mlflow_error(&r, 400, "BAD_REQUEST", "column \"sepal_length\"");
    let r = s.post_json(p, r#"{"inputs": [[1,2,3,4]], "instances": [[1,2,3,4]]}"#);
    mlflow_error(&r, 400, "BAD_REQUEST", "exactly one");
    let r = s.post_json(p, r#"{"foo": 1}"#);
    mlflow_error(&r, 400, "BAD_REQUEST", "exactly one");
    let r = s.post_json(p, "not json");
    mlflow_error(&r, 400, "BAD_REQUEST", "not valid JSON");
    let r = s.post_json(p, r#"{"inputs": [[1,2,3,4]], "params": [1]}"#);
    mlflow_error(&r, 400, "INVALID_PARAMETER_VALUE", "params");
    let r = s.post_json(p, r#"{"inputs": [[1,2,3]]}"#);
    mlflow_error(&r, 400, "BAD_REQUEST", "4 values");
    let r = s.post_json(p, r#"{"inputs": [[1,2,3,4],[1,2]]}"#);
    mlflow_error(&r, 400, "BAD_REQUEST", "ragged");
    let r = s.post_json(
        "/models/tensor/invocations",
        r#"{"inputs": [[5.1,3.5,1.4]]}"#,
    );
    mlflow_error(&r, 400, "BAD_REQUEST", "dimension 1 must be 4");
    let r = s.request(
        "POST",
        p,
        &[("Content-Type", "text/csv")],
        b"5.1,3.5,1.4,0.2\n1,2\n",
    );
    mlflow_error(&r, 400, "BAD_REQUEST", "line 2");
    let r = s.request("POST", p, &[("Content-Type", "text/plain")], b"x");
    mlflow_error(&r, 415, "BAD_REQUEST", "text/plain");
    let r = s.request(
        "POST",
        p,
        &[("Content-Type", "application/json")],
        &vec![b' '; 65 * 1024],
    );
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.json()["error_code"].is_string());
    let r = s.get(p);
    assert_eq!(r.status, 405, "{}", r.text());
    let r = s.post_json("/models/nope/invocations", r#"{"inputs": [[1,2,3,4]]}"#);
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(r.json()["message"].as_str().unwrap().contains("nope"));
}

#[test]
fn v2_metadata_and_infer_json() {
    let s = server();
    let v = s.get("/v2").json();
    assert_eq!(v["name"], "homeml");
    assert!(v["extensions"]
        .as_array()
        .unwrap()
        .contains(&json!("binary_tensor_data")));
    assert_eq!(s.get("/v2/health/live").status, 200);
    assert_eq!(s.get("/v2/health/ready").status, 200);
    assert_eq!(s.get("/v2/models/tensor/ready").status, 200);
    let meta = s.get("/v2/models/tensor").json();
    assert_eq!(meta["name"], "tensor");
    assert_eq!(meta["platform"], "onnx");
    assert_eq!(
        meta["inputs"],
        json!([{"name": "X", "datatype": "FP32", "shape": [-1, 4]}])
    );
    assert_eq!(
        meta["outputs"],
        json!([{"name": "label", "datatype": "INT64", "shape": [-1]}, {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}])
    );
    let version = meta["versions"][0].as_str().unwrap().to_string();
    assert_eq!(
        s.get(&format!("/v2/models/tensor/versions/{version}"))
            .status,
        200
    );

    let body = json!({"id": "abc-1", "parameters": {"custom": 1},
        "inputs": [{"name": "X", "shape": [2, 4], "datatype": "FP32", "data": ROWS}],
        "outputs": [{"name": "probabilities"}]});
    let r = s.post_json("/v2/models/tensor/infer", &body.to_string());
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["id"], "abc-1");
    assert_eq!(v["model_name"], "tensor");
    let outs = v["outputs"].as_array().unwrap();
    assert_eq!(outs.len(), 1);
    assert_eq!(outs[0]["name"], "probabilities");
    assert_eq!(outs[0]["shape"], json!([2, 3]));
    let data = outs[0]["data"].as_array().unwrap();
    for (i, row) in ROWS.iter().enumerate() {
        let (_, p) = Classifier::predict_row(row);
        for c in 0..3 {
            assert!(close(&data[i * 3 + c], p[c]), "{v}");
        }
    }
    // Flat data, FP64 and INT64 datatypes, all outputs.
    let body = json!({"inputs": [{"name": "X", "shape": [1, 4], "datatype": "INT64", "data": [5, 3, 1, 0]}]});
    let v = s
        .post_json(
            &format!("/v2/models/tensor/versions/{version}/infer"),
            &body.to_string(),
        )
        .json();
    assert_eq!(v["outputs"][0]["name"], "label");
    assert_eq!(
        v["outputs"][0]["data"],
        json!([Classifier::predict_row(&[5.0, 3.0, 1.0, 0.0]).0])
    );
    assert!(v.get("id").is_none());
    // Column-signature model: inputs named after the columns, including BYTES.
    let body = json!({"inputs": [
        {"name": "city", "shape": [2], "datatype": "BYTES", "data": ["Oslo", "Rome"]},
        {"name": "age", "shape": [2, 1], "datatype": "INT32", "data": [1, 2]}]});
    let v = s
        .post_json("/v2/models/percol/infer", &body.to_string())
        .json();
    assert_eq!(
        v["outputs"][0],
        json!({"name": "score", "datatype": "FP64", "shape": [2], "data": [5.0, 6.0]})
    );
}

#[test]
fn v2_binary_tensors() {
    let s = server();
    let json_part = json!({"inputs": [{"name": "X", "shape": [2, 4], "datatype": "FP32", "parameters": {"binary_data_size": 32}}],
        "outputs": [{"name": "label", "parameters": {"binary_data": true}}, {"name": "probabilities", "parameters": {"binary_data": false}}]})
    .to_string();
    let mut body = json_part.as_bytes().to_vec();
    for x in ROWS.iter().flatten() {
        body.extend_from_slice(&x.to_le_bytes());
    }
    let len = json_part.len().to_string();
    let r = s.request(
        "POST",
        "/v2/models/tensor/infer",
        &[
            ("Content-Type", "application/octet-stream"),
            ("Inference-Header-Content-Length", &len),
        ],
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let n: usize = r
        .header("inference-header-content-length")
        .unwrap()
        .parse()
        .unwrap();
    let head: Value = serde_json::from_slice(&r.body[..n]).unwrap();
    assert_eq!(head["outputs"][0]["parameters"]["binary_data_size"], 16);
    let labels: Vec<i64> = r.body[n..]
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let expect: Vec<i64> = ROWS
        .iter()
        .map(|row| Classifier::predict_row(row).0)
        .collect();
    assert_eq!(labels, expect);
    assert_eq!(head["outputs"][1]["data"].as_array().unwrap().len(), 6);
    // binary_data_output: everything binary.
    let body = json!({"parameters": {"binary_data_output": true}, "inputs": [{"name": "X", "shape": [2, 4], "datatype": "FP32", "data": ROWS}]});
    let r = s.post_json("/v2/models/tensor/infer", &body.to_string());
    assert_eq!(r.status, 200);
    let n: usize = r
        .header("inference-header-content-length")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(r.body.len() - n, 16 + 24);
    // A binary size that overruns the body.
    let r = s.request(
        "POST",
        "/v2/models/tensor/infer",
        &[("Inference-Header-Content-Length", &len)],
        json_part.as_bytes(),
    );
    v2_error(&r, 400, "binary_data_size");
}

#[test]
fn v2_errors() {
    let s = server();
    let infer = "/v2/models/tensor/infer";
    let r = s.post_json(
        infer,
        r#"{"inputs": [{"name": "Y", "shape": [1, 4], "datatype": "FP32", "data": [1,2,3,4]}]}"#,
    );
    v2_error(&r, 400, "unknown input \"Y\"");
    let r = s.post_json(
        infer,
        r#"{"inputs": [{"name": "X", "shape": [1, 3], "datatype": "FP32", "data": [1,2,3]}]}"#,
    );
    v2_error(&r, 400, "dimension 1 must be 4");
    let r = s.post_json(
        infer,
        r#"{"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [1,2,3]}]}"#,
    );
    v2_error(&r, 400, "needs 4 values");
    let r = s.post_json(infer, r#"{"inputs": [{"name": "X", "shape": [1, 4], "datatype": "BYTES", "data": ["a","b","c","d"]}]}"#);
    v2_error(&r, 400, "BYTES does not match");
    let r = s.post_json(infer, r#"{"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [1,2,3,4]}], "outputs": [{"name": "nope"}]}"#);
    v2_error(&r, 400, "unknown output \"nope\"");
    let r = s.post_json(infer, r#"{"inputs": "x"}"#);
    v2_error(&r, 400, "inputs");
    let r = s.post_json(infer, "{");
    v2_error(&r, 400, "JSON");
    let r = s.post_json("/v2/models/nope/infer", r#"{"inputs": []}"#);
    v2_error(&r, 404, "nope");
    assert_eq!(s.get("/v2/models/nope").status, 404);
    let r = s.get(infer);
    assert_eq!(r.status, 405, "{}", r.text());
    assert!(r.json()["error"].is_string());
    let r = s.get("/v2/nothing/here");
    assert_eq!(r.status, 404);
}

#[test]
fn predict_bare_arrays() {
    let s = server();
    let r = s.post_json("/models/tensor/predict", &json!(ROWS).to_string());
    assert_eq!(r.status, 200, "{}", r.text());
    let expect: Vec<i64> = ROWS
        .iter()
        .map(|row| Classifier::predict_row(row).0)
        .collect();
    assert_eq!(r.json(), json!(expect));
    let r = s.request(
        "POST",
        "/models/nosig/predict",
        &[],
        json!(ROWS).to_string().as_bytes(),
    );
    assert_eq!(r.json(), json!(expect));
    let r = s.post_json("/models/reg/predict", "[[1, 2, 3, 4]]");
    assert_eq!(r.json(), json!([10.0]));
    for (body, needle) in [
        ("[[1, 2, 3]]", "dimension 1 must be 4"),
        (r#"{"inputs": [[1,2,3,4]]}"#, "list of rows"),
        ("[1, 2, 3, 4]", "2-D"),
        ("nope", "JSON"),
    ] {
        let r = s.post_json("/models/tensor/predict", body);
        v2_error(&r, 400, needle);
    }
    let r = s.request(
        "POST",
        "/models/tensor/predict",
        &[("Content-Type", "text/csv")],
        b"1,2,3,4",
    );
    v2_error(&r, 415, "text/csv");
}
