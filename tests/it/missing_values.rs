//! Issue 21.1 end to end: missing values sent to `homeml serve` on the quickstart's models, in every
//! form they arrive in (JSON `null`, the `"NaN"` string, a bare `NaN` literal, an empty CSV field, NaN in
//! a V2 JSON or binary tensor, a column left out of a record), get a 400 naming the row and the column
//! instead of a confident answer; the same server answers the complete rows after.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

const MODELS: [&str; 4] = [
    "iris-classifier",
    "iris-random-forest",
    "diabetes-regressor",
    "iris-linfa",
];

/// One request over a fresh connection: (status, body as JSON, or the text as a JSON string).
fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer head: {raw:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let value = serde_json::from_str(rest).unwrap_or_else(|_| Value::String(rest.to_string()));
    (status, value)
}

fn json_post(addr: &str, path: &str, body: &str) -> (u16, Value) {
    request(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/json".into())],
        body.as_bytes(),
    )
}

/// The message of an error answer (MLflow's `message` or V2's `error`).
fn message(v: &Value) -> String {
    v.get("message")
        .or_else(|| v.get("error"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no error message in {v}"))
        .to_string()
}

fn quickstart(store: &Path) {
    common::run_ok(
        Command::new(env!("CARGO_BIN_EXE_homeml"))
            .args([
                "quickstart",
                "--no-serve",
                "--n-trees",
                "4",
                "--tracking-uri",
            ])
            .arg(store),
    );
}

#[test]
fn missing_values_are_refused_with_the_row_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mlruns");
    quickstart(&root);
    let mut config = format!(
        "host = \"127.0.0.1\"\nport = 0\ntracking_uri = \"{}\"\n",
        root.display()
    );
    for name in MODELS {
        config.push_str(&format!(
            "\n[[models]]\nname = \"{name}\"\nuri = \"models:/{name}@champion\"\n"
        ));
    }
    let config_path = tmp.path().join("serve.toml");
    std::fs::write(&config_path, config).unwrap();
    let server = common::Proc::start(
        &["serve", "--config", config_path.to_str().unwrap()],
        &[],
        tmp.path().join("serve.log"),
    );
    let addr = server.addr.clone();

    for name in MODELS {
        let (status, meta) = request(&addr, "GET", &format!("/v2/models/{name}"), &[], b"");
        assert_eq!(status, 200, "{name}: {meta}");
        assert_eq!(
            meta["parameters"]["accepts_missing_values"],
            json!(false),
            "{name}: {meta}"
        );
        let input = meta["inputs"][0]["name"].as_str().unwrap().to_string();
        let width: usize = if name.starts_with("iris") { 4 } else { 10 };
        let first = if name.starts_with("iris") {
            "sepal_length"
        } else {
            "age"
        };
        let second = if name.starts_with("iris") {
            "sepal_width"
        } else {
            "sex"
        };
        let good: Vec<f64> = (0..width).map(|i| 0.1 * (i + 1) as f64).collect();
        let mut with_null: Vec<Value> = good.iter().map(|x| json!(x)).collect();
        with_null[1] = Value::Null;
        let columns: Vec<String> = if name.starts_with("iris") {
            ["sepal_length", "sepal_width", "petal_length", "petal_width"]
                .map(String::from)
                .to_vec()
        } else {
            [
                "age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6",
            ]
            .map(String::from)
            .to_vec()
        };
        let invocations = format!("/models/{name}/invocations");
        let infer = format!("/v2/models/{name}/infer");
        let want_second = format!("row 1, column \"{second}\"");
        let want_first = format!("row 0, column \"{first}\"");

        // `inputs` with a null in row 1, column 1.
        let body = json!({"inputs": [good, with_null]}).to_string();
        let (s, v) = json_post(&addr, &invocations, &body);
        assert_eq!(s, 400, "{name} inputs null: {v}");
        assert!(message(&v).starts_with(&want_second), "{name}: {v}");
        assert!(
            message(&v).contains("does not accept missing values"),
            "{name}: {v}"
        );

        // `dataframe_split` with a null, and `dataframe_records` with the "NaN" string.
        let body = json!({"dataframe_split": {"columns": columns, "data": [good, with_null]}});
        let (s, v) = json_post(&addr, &invocations, &body.to_string());
        assert_eq!(s, 400, "{name} dataframe_split null: {v}");
        assert!(message(&v).starts_with(&want_second), "{name}: {v}");
        let mut record = serde_json::Map::new();
        for (c, x) in columns.iter().zip(&good) {
            record.insert(c.clone(), json!(x));
        }
        record.insert(first.into(), json!("NaN"));
        let body = json!({"dataframe_records": [record.clone()]}).to_string();
        let (s, v) = json_post(&addr, &invocations, &body);
        assert_eq!(s, 400, "{name} dataframe_records \"NaN\": {v}");
        assert!(message(&v).starts_with(&want_first), "{name}: {v}");

        // A record without one column (pandas fills it with NaN).
        record.remove(first);
        let body = json!({"dataframe_records": [record]}).to_string();
        let (s, v) = json_post(&addr, &invocations, &body);
        assert_eq!(s, 400, "{name} record without a column: {v}");

        // A bare NaN literal (Python's json reads it, MLflow's scoring server accepts it): a missing value.
        let literal = format!("{{\"inputs\": [[NaN{}]]}}", ", 1".repeat(width - 1));
        let (s, v) = json_post(&addr, &invocations, &literal);
        assert_eq!(s, 400, "{name} NaN literal: {v}");
        assert!(message(&v).contains("missing value"), "{name}: {v}");

        // CSV with an empty field.
        let mut csv = columns.join(",");
        csv.push('\n');
        let mut cells: Vec<String> = good.iter().map(|x| x.to_string()).collect();
        csv.push_str(&cells.join(","));
        csv.push('\n');
        cells[1] = String::new();
        csv.push_str(&cells.join(","));
        csv.push('\n');
        let (s, v) = request(
            &addr,
            "POST",
            &invocations,
            &[("Content-Type", "text/csv".into())],
            csv.as_bytes(),
        );
        assert_eq!(s, 400, "{name} csv: {v}");
        assert!(message(&v).starts_with(&want_second), "{name}: {v}");

        // V2 JSON with a null, on the model's own input and on /predict.
        let datatype = meta["inputs"][0]["datatype"].as_str().unwrap();
        let mut data: Vec<Value> = good.iter().map(|x| json!(x)).collect();
        data.extend(with_null.iter().cloned());
        let body = json!({"inputs": [{"name": input, "shape": [2, width], "datatype": datatype, "data": data}]});
        let (s, v) = json_post(&addr, &infer, &body.to_string());
        assert_eq!(s, 400, "{name} v2 null: {v}");
        assert!(message(&v).starts_with(&want_second), "{name}: {v}");
        let body = json!([good, with_null]).to_string();
        let (s, v) = json_post(&addr, &format!("/models/{name}/predict"), &body);
        assert_eq!(s, 400, "{name} /predict null: {v}");

        // A V2 binary tensor (FP64) holding NaN.
        let mut bin: Vec<u8> = Vec::new();
        for (i, x) in good.iter().enumerate() {
            let x = if i == 0 { f64::NAN } else { *x };
            bin.extend_from_slice(&x.to_le_bytes());
        }
        let header = json!({"inputs": [{"name": input, "shape": [1, width], "datatype": "FP64",
            "parameters": {"binary_data_size": bin.len()}}]})
        .to_string();
        let mut body = header.clone().into_bytes();
        body.extend_from_slice(&bin);
        let (s, v) = request(
            &addr,
            "POST",
            &infer,
            &[
                ("Content-Type", "application/octet-stream".into()),
                ("Inference-Header-Content-Length", header.len().to_string()),
            ],
            &body,
        );
        assert_eq!(s, 400, "{name} v2 binary NaN: {v}");
        assert!(message(&v).starts_with(&want_first), "{name}: {v}");

        // The complete rows still get their answer.
        let body = json!({"inputs": [good, good]}).to_string();
        let (s, v) = json_post(&addr, &invocations, &body);
        assert_eq!(s, 200, "{name} complete rows: {v}");
    }
    drop(server);
}
