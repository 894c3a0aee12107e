//! The differential tests of the direct readers (`mlflow::fast`, `predict`'s, `v2::fast`) against the
//! value path, over a corpus of hand-written and generated bodies: every body must decode to the same
//! result or the same error both ways, and a direct reader must answer only what the value path
//! accepts, with an equal result. (Test code only; no protocol module imports it.)

use std::fmt;

use homeml_flavor::{ColSpec, ColumnType, DType, IoSpec, Schema, Signature, TensorData};
use homeml_numjson::{Buffer, Kind, Scanner};
use http::HeaderMap;
use serde_json::Value;

use crate::error::ApiError;
use crate::protocol::{direct, mlflow, predict, v2, ModelInfo, ResponsePlan};

fn model(inputs: Vec<IoSpec>, signature: Option<Schema>) -> ModelInfo {
    ModelInfo {
        name: "m".into(),
        version: "1".into(),
        platform: "onnx".into(),
        inputs,
        outputs: vec![
            IoSpec::new("label", DType::I64, vec![-1]),
            IoSpec::new("probabilities", DType::F32, vec![-1, 3]),
        ],
        signature: signature.map(|inputs| Signature {
            inputs: Some(inputs),
            outputs: None,
            params: None,
        }),
    }
}

fn cols(names: &[&str], types: &[ColumnType]) -> Schema {
    Schema::Columns(
        names
            .iter()
            .zip(types)
            .map(|(n, t)| ColSpec {
                name: Some(n.to_string()),
                ty: t.clone(),
                required: true,
            })
            .collect(),
    )
}

/// Models covering each way the value path assembles an unnamed or V2 tensor.
fn models() -> Vec<ModelInfo> {
    use ColumnType::{Double, Float, Long};
    let x = |dtype, shape: Vec<i64>| vec![IoSpec::new("X", dtype, shape)];
    vec![
        // bench/compare's iris: tensor signature f32 [-1, 4].
        model(
            x(DType::F32, vec![-1, 4]),
            Some(Schema::tensor(None, DType::F32, vec![-1, 4])),
        ),
        model(x(DType::F32, vec![-1, 4]), None),
        model(x(DType::F64, vec![-1, -1]), None),
        model(x(DType::I64, vec![-1]), None),
        model(x(DType::I32, vec![-1, 2]), None),
        model(x(DType::Bool, vec![-1, 2]), None),
        model(x(DType::F32, vec![2, 2]), None),
        // A tensor signature stricter than the model input.
        model(
            x(DType::F64, vec![-1, -1]),
            Some(Schema::tensor(None, DType::F64, vec![-1, 2])),
        ),
        // Named-column signatures stacked into one input.
        model(
            x(DType::F32, vec![-1, 4]),
            Some(cols(
                &["a", "b", "c", "d"],
                &[Double, Double, Double, Double],
            )),
        ),
        model(
            x(DType::F64, vec![-1, 2]),
            Some(cols(&["a", "b"], &[Float, Float])),
        ),
        model(
            x(DType::F32, vec![-1, 2]),
            Some(cols(&["a", "b"], &[Long, Long])),
        ),
        model(
            x(DType::F32, vec![-1, 2]),
            Some(cols(&["a", "b"], &[Double, Long])),
        ),
        // One column feeding the input of its name.
        model(x(DType::F32, vec![-1, 1]), Some(cols(&["X"], &[Double]))),
        // Two inputs (V2 by name; unnamed lists are refused).
        model(
            vec![
                IoSpec::new("a", DType::I64, vec![-1]),
                IoSpec::new("b", DType::F64, vec![-1, 2]),
            ],
            None,
        ),
    ]
}

/// Compares two outcomes exactly: `Debug` tells -0.0 from 0.0 and shows every field and message.
fn same<T: fmt::Debug>(a: &Result<T, ApiError>, b: &Result<T, ApiError>) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// How many bodies the direct decoder answered, per protocol.
#[derive(Default, Debug)]
struct Hits {
    mlflow: usize,
    v2: usize,
    v2_scanned: usize,
    predict: usize,
}

/// Where the scanner reads a body, the serde-based reader must read it alike (so both tiers of the
/// direct decoder are held to the value path, whichever answers).
fn check_scanner(
    scanned: Option<(Vec<usize>, Buffer)>,
    read: Option<(Vec<usize>, Buffer)>,
    body: &str,
) {
    if let Some((shape, buf)) = scanned {
        let (read_shape, read_buf) = read.unwrap_or_else(|| panic!("only scanned: {body}"));
        assert_eq!(shape, read_shape, "{body}");
        assert_eq!(format!("{buf:?}"), format!("{read_buf:?}"), "{body}");
    }
}

fn check_mlflow(body: &str, m: &ModelInfo, hits: &mut Hits) {
    if let Some(kind) = direct::unnamed_kind(m) {
        check_scanner(
            mlflow::fast::scan(body.as_bytes(), kind),
            mlflow::fast::read(body.as_bytes(), kind).map(|(t, _)| t),
            body,
        );
    }
    let reference = mlflow::decode_json_value(body.as_bytes(), m);
    if let Some(fast) = mlflow::try_mlflow(body.as_bytes(), m) {
        hits.mlflow += 1;
        assert!(
            same(&Ok(fast.clone()), &reference),
            "direct {fast:?} but value path {reference:?} for {body} ({:?})",
            m.inputs
        );
    }
    let served = mlflow::decode(Some("application/json"), body.as_bytes(), m);
    assert!(
        same(&served, &reference),
        "{served:?} != {reference:?} for {body}"
    );
}

fn check_predict(body: &str, m: &ModelInfo, hits: &mut Hits) {
    if let Some(kind) = direct::unnamed_kind(m) {
        check_scanner(
            predict::scan(body.as_bytes(), kind),
            predict::read(body.as_bytes(), kind),
            body,
        );
    }
    let reference = predict::decode_value(body.as_bytes(), m);
    if let Some(fast) = predict::try_predict(body.as_bytes(), m) {
        hits.predict += 1;
        let fast = Ok((fast, ResponsePlan::Predict));
        assert!(
            same(&fast, &reference),
            "direct {fast:?} but value path {reference:?} for {body}"
        );
    }
    let served = predict::decode(None, body.as_bytes(), m);
    assert!(
        same(&served, &reference),
        "{served:?} != {reference:?} for {body}"
    );
}

fn check_v2(body: &str, m: &ModelInfo, hits: &mut Hits) {
    if let Some(scanned) = v2::fast::scan(body.as_bytes()) {
        // Where the scanner reads a body, the serde-based reader must read it alike.
        hits.v2_scanned += 1;
        let read =
            v2::fast::read_serde(body.as_bytes()).unwrap_or_else(|| panic!("only scanned: {body}"));
        assert_eq!(format!("{scanned:?}"), format!("{read:?}"), "{body}");
    }
    let reference = v2::decode_infer_value(body.as_bytes(), &[], m);
    if let Some(fast) = v2::try_v2(body.as_bytes(), &[], m) {
        hits.v2 += 1;
        assert!(
            same(&Ok(fast.clone()), &reference),
            "direct {fast:?} but value path {reference:?} for {body} ({:?})",
            m.inputs
        );
    }
    let served = v2::decode_infer(&HeaderMap::new(), body.as_bytes(), m);
    assert!(
        same(&served, &reference),
        "{served:?} != {reference:?} for {body}"
    );
}

/// Numbers and non-numbers as they can appear in a body, including the edges of every conversion.
const LEAVES: &[&str] = &[
    "0",
    "1",
    "2",
    "-1",
    "-0",
    "0.0",
    "-0.0",
    "5.1",
    "3.5",
    "1.4",
    "0.2",
    "6.7",
    "-2.25",
    "1e3",
    "1E-5",
    "2.5e+10",
    "1.5",
    "3.0",
    "1e2",
    "-7e0",
    "255",
    "256",
    "-129",
    "65535",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "100000000000000000000000000000",
    "1e400",
    "-1e400",
    "1e-400",
    "4.9e-324",
    "1.7976931348623157e308",
    "3.4028235e38",
    "3.5e38",
    "0.1",
    "0.30000000000000004",
    "123456789.123456789",
    "16777217",
    "9007199254740993",
    "00",
    "01",
    "1.",
    ".5",
    "+1",
    "-",
    "1e",
    "NaN",
    "Infinity",
    "null",
    "true",
    "false",
    "\"NaN\"",
    "\"Infinity\"",
    "\"-Infinity\"",
    "\"5.1\"",
    "\"x\"",
    "{}",
    "[]",
    "{\"a\": 1}",
    "0e99999999999999999999",
    "-0e5",
    "-0.0e-3",
    "1e-99999999999999999999",
    "1e99999999999999999999",
    "1e308",
    "1e309",
    "-1e309",
    "2.2250738585072011e-308",
    "2.4703282292062327e-324",
    "2.4703282292062328e-324",
    "0.000000000000000000000000000000000000000000001e45",
    "1.2345678901234567890123456789012345678901",
    "9007199254740993.0",
    "0.1e1",
    "1E+2",
    "--1",
    "1.e5",
    "1e+",
    "0x10",
    "1_000",
    "-01",
    "- 1",
    "1 2",
];

/// The hand-written MLflow corpus (also sent to `/predict` and as V2 `data`).
fn mlflow_corpus() -> Vec<String> {
    let mut v: Vec<String> = [
        r#"{"inputs": [[5.1, 3.5, 1.4, 0.2]]}"#,
        r#"{"instances": [[5.1,3.5,1.4,0.2],[6.7,3.0,5.2,2.3]]}"#,
        "\n\t{ \"inputs\" :\r\n[ [ 5.1 ,3.5, 1.4 , 0.2 ] ] }\n ",
        r#"{"inputs": [[5, 3, 1, 0]]}"#,
        r#"{"inputs": [[-0, -0.0, 0, 0.0]]}"#,
        r#"{"inputs": [[1e400, 1, 2, 3]]}"#,
        r#"{"inputs": [[1e-400, 1, 2, 3]]}"#,
        r#"{"inputs": [[100000000000000000000000000000, 1, 2, 3]]}"#,
        r#"{"inputs": [[18446744073709551616, 9223372036854775808, -9223372036854775809, 3]]}"#,
        r#"{"inputs": [[3.5e38, -3.5e38, 1.7976931348623157e308, 4.9e-324]]}"#,
        r#"{"inputs": []}"#,
        r#"{"inputs": [[]]}"#,
        r#"{"inputs": [[], []]}"#,
        r#"{"inputs": [[], [1]]}"#,
        r#"{"inputs": [1, 2, 3, 4]}"#,
        r#"{"inputs": [1, 2]}"#,
        r#"{"inputs": [[1, 2]]}"#,
        r#"{"inputs": [[1, 2], [3, 4]]}"#,
        r#"{"inputs": [[1, 2, 3, 4], [5, 6, 7]]}"#,
        r#"{"inputs": [[1, 2, 3, 4], 5]}"#,
        r#"{"inputs": [1, [2, 3, 4, 5]]}"#,
        r#"{"inputs": [[[1, 2, 3, 4]]]}"#,
        r#"{"inputs": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]}"#,
        r#"{"inputs": [[[[[[[[[[1]]]]]]]]]]}"#,
        r#"{"inputs": [[null, 1, 2, 3]]}"#,
        r#"{"inputs": [["NaN", "Infinity", "-Infinity", 1]]}"#,
        r#"{"inputs": [[true, false, 1, 0]]}"#,
        r#"{"inputs": [["a", "b", "c", "d"]]}"#,
        r#"{"inputs": [[1.5, 2.5, 3.5, 4.5]]}"#,
        r#"{"inputs": [[2147483648, 1, 2, 3]]}"#,
        r#"{"inputs": 3}"#,
        r#"{"inputs": "x"}"#,
        r#"{"inputs": null}"#,
        r#"{"inputs": {"X": [[5.1, 3.5, 1.4, 0.2]]}}"#,
        r#"{"inputs": {"a": [1], "b": [2], "c": [3], "d": [4]}}"#,
        r#"{"instances": [{"a": 1, "b": 2, "c": 3, "d": 4}]}"#,
        r#"{"inputs": [{"a": 1}, [1, 2]]}"#,
        r#"{"inputs": [[1, 2, 3, 4]], "inputs": [[5, 6, 7, 8]]}"#,
        r#"{"inputs": [[1, 2, 3, 4]], "instances": [[5, 6, 7, 8]]}"#,
        r#"{"inputs": [[1, 2, 3, 4]], "dataframe_split": {"data": [[1, 2, 3, 4]]}}"#,
        r#"{"dataframe_split": {"columns": ["a", "b", "c", "d"], "data": [[1, 2, 3, 4]]}}"#,
        r#"{"dataframe_records": [{"a": 1, "b": 2, "c": 3, "d": 4}]}"#,
        r#"{"inputs": [[1, 2, 3, 4]], "params": {"a": 1}}"#,
        r#"{"params": {}, "inputs": [[1, 2, 3, 4]]}"#,
        r#"{"inputs": [[1, 2, 3, 4]], "params": 3}"#,
        r#"{"inputs": [[1, 2, 3, 4]], "params": null}"#,
        r#"{"inputs": [[1, 2, 3, 4]], "params": {}, "params": {}}"#,
        r#"{"inputs": [[1, 2, 3, 4]], "foo": [1, {"b": "c"}], "foo": 2}"#,
        r#"{"\u0069nputs": [[1, 2, 3, 4]]}"#,
        r#"{"Inputs": [[1, 2, 3, 4]]}"#,
        r#"{"foo": 1}"#,
        r#"{}"#,
        r#"[[1, 2, 3, 4]]"#,
        r#"[[1, 2], [3, 4]]"#,
        r#"[]"#,
        r#"[{"a": 1, "b": 2, "c": 3, "d": 4}]"#,
        r#"{"inputs": [[1, 2, 3, 4]]} x"#,
        r#"{"inputs": [[1, 2, 3, 4]],}"#,
        r#"{"inputs": [[1, 2, 3, 4,]]}"#,
        r#"{"inputs": [[01, 2, 3, 4]]}"#,
        r#"{"inputs": [[1, 2, 3, 4]]"#,
        "\u{feff}{\"inputs\": [[1, 2, 3, 4]]}",
        "not json",
        "",
        "5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Deep nesting: past serde_json's recursion limit, in the data and in an ignored key.
    let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    for n in [100, 126, 127, 128, 200] {
        v.push(format!("{{\"inputs\": {}}}", deep(n)));
        v.push(format!(
            "{{\"inputs\": [[1, 2, 3, 4]], \"x\": {}}}",
            deep(n)
        ));
        v.push(format!(
            "{{\"inputs\": [[1, 2, 3, 4]], \"params\": {{\"x\": {}}}}}",
            deep(n)
        ));
    }
    // Every leaf in every position of one row.
    for leaf in LEAVES {
        v.push(format!("{{\"inputs\": [[{leaf}, 1, 2, 3]]}}"));
        v.push(format!("{{\"inputs\": [[{leaf}, 1], [2, 3]]}}"));
        v.push(format!("{{\"inputs\": [{leaf}]}}"));
    }
    v
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn ws(&mut self) -> &'static str {
        match self.below(10) {
            0 => " ",
            1 => "\n  ",
            2 => "\t",
            _ => "",
        }
    }

    /// A number, mostly plain ones; sometimes an edge case or a non-number.
    fn leaf(&mut self) -> String {
        match self.below(20) {
            0..=2 => self.pick(LEAVES).to_string(),
            3..=5 => format!("{}", self.below(2000) as i64 - 1000),
            _ => {
                let int = self.below(100) as i64 - 20;
                let frac = self.below(1000);
                match self.below(4) {
                    0 => format!("{int}.{frac}e{}", self.below(80) as i64 - 40),
                    _ => format!("{int}.{frac}"),
                }
            }
        }
    }

    /// A nested list of `shape`, sometimes made ragged.
    fn list(&mut self, shape: &[usize]) -> String {
        let Some((&n, rest)) = shape.split_first() else {
            return self.leaf();
        };
        let n = if self.chance(3) { n + 1 } else { n };
        let n = if n > 0 && self.chance(3) { n - 1 } else { n };
        if self.chance(2) {
            return self.leaf();
        }
        let mut s = String::from("[");
        for i in 0..n {
            if i > 0 {
                s.push(',');
            }
            s.push_str(self.ws());
            if self.chance(1) {
                s.push_str(&format!("[{}]", self.leaf()));
            } else {
                s.push_str(&self.list(rest));
            }
        }
        s.push_str(self.ws());
        s.push(']');
        s
    }

    fn shape(&mut self) -> Vec<usize> {
        let rows = [0, 1, 1, 1, 2, 3, 64][self.below(7)];
        match self.below(10) {
            0 => vec![rows],
            1 => vec![rows, 2, 2],
            2..=4 => vec![rows, 2],
            5 => vec![rows, 1 + self.below(5)],
            _ => vec![rows, 4],
        }
    }

    /// An object with `fields` in a random order, sometimes with a repeated or an extra key.
    fn object(&mut self, mut fields: Vec<(String, String)>) -> String {
        if self.chance(10) && !fields.is_empty() {
            let i = self.below(fields.len());
            let dup = fields[i].clone();
            fields.push(dup);
        }
        if self.chance(10) {
            fields.push(("extra".into(), "[1, {\"q\": null}]".into()));
        }
        for i in (1..fields.len()).rev() {
            fields.swap(i, self.below(i + 1));
        }
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}\"{k}\"{}:{}{v}", self.ws(), self.ws(), self.ws()))
            .collect();
        format!("{{{}}}", body.join(","))
    }

    fn mlflow_body(&mut self) -> String {
        let shape = self.shape();
        let field = match self.below(10) {
            0 => "instances",
            1 => "dataframe_split",
            _ => "inputs",
        };
        let mut fields = vec![(field.to_string(), self.list(&shape))];
        if self.chance(15) {
            let params = ["{}", "{\"temperature\": 0.5}", "3", "null"];
            fields.push(("params".into(), self.pick(&params).into()));
        }
        if self.chance(3) {
            fields.push(("instances".into(), self.list(&shape)));
        }
        self.object(fields)
    }

    fn v2_body(&mut self) -> String {
        let datatypes = [
            "FP32", "FP32", "FP32", "FP64", "FP64", "INT64", "INT32", "INT8", "UINT8", "UINT64",
            "FP16", "BOOL", "BYTES", "fp32",
        ];
        let shape = self.shape();
        let mut inputs = Vec::new();
        let names: &[&str] = if self.chance(20) { &["a", "b"] } else { &["X"] };
        for name in names {
            let mut declared = shape.clone();
            if self.chance(5) {
                declared.push(1);
            }
            let declared: Vec<String> = declared.iter().map(|d| d.to_string()).collect();
            let data = if self.chance(50) {
                let total = shape.iter().product::<usize>();
                self.list(&[total])
            } else {
                self.list(&shape)
            };
            let mut fields = vec![
                ("name".to_string(), format!("\"{name}\"")),
                ("shape".to_string(), format!("[{}]", declared.join(","))),
                (
                    "datatype".to_string(),
                    format!("\"{}\"", self.pick(&datatypes)),
                ),
                ("data".to_string(), data),
            ];
            if self.chance(5) {
                fields.remove(self.below(fields.len()));
            }
            if self.chance(5) {
                fields.push(("parameters".into(), "{\"binary_data_size\": 4}".into()));
            }
            // Keep the usual key order (datatype before data) most of the time.
            let input = if self.chance(80) {
                let body: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("\"{k}\":{}{v}", self.ws()))
                    .collect();
                format!("{{{}}}", body.join(","))
            } else {
                self.object(fields)
            };
            inputs.push(input);
        }
        let mut fields = vec![("inputs".to_string(), format!("[{}]", inputs.join(",")))];
        if self.chance(30) {
            fields.push(("id".into(), self.pick(&["\"req-1\"", "null", "7"]).into()));
        }
        if self.chance(15) {
            let params = [
                "{}",
                "{\"binary_data_output\": true}",
                "{\"binary_data_output\": 1}",
                "[]",
            ];
            fields.push(("parameters".into(), self.pick(&params).into()));
        }
        if self.chance(15) {
            let outputs = [
                "[{\"name\": \"label\"}]",
                "[{\"name\": \"probabilities\", \"parameters\": {\"binary_data\": true}}]",
                "[{\"name\": \"nope\"}]",
                "{}",
            ];
            fields.push(("outputs".into(), self.pick(&outputs).into()));
        }
        self.object(fields)
    }
}

#[test]
fn mlflow_and_predict_corpus_decode_alike() {
    let mut hits = Hits::default();
    let corpus = mlflow_corpus();
    for m in models() {
        for body in &corpus {
            check_mlflow(body, &m, &mut hits);
            check_predict(body, &m, &mut hits);
            // The list alone, as a /predict body.
            if let Some(list) = body
                .strip_prefix("{\"inputs\": ")
                .and_then(|b| b.strip_suffix('}'))
            {
                check_predict(list, &m, &mut hits);
            }
        }
    }
    // The direct decoder must really answer the plain bodies, or this test proves nothing.
    assert!(hits.mlflow > 200 && hits.predict > 50, "{hits:?}");
}

#[test]
fn v2_corpus_decodes_alike() {
    let mut hits = Hits::default();
    let datatypes = [
        "FP32", "FP64", "INT64", "INT32", "UINT8", "INT8", "FP16", "BOOL",
    ];
    let mut bodies: Vec<String> = vec![
        r#"{"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}"#.into(),
        r#"{"id": "a", "inputs": [{"name": "X", "shape": [2, 2], "datatype": "FP64", "data": [[1, 2], [3, 4]]}], "outputs": [{"name": "label"}]}"#.into(),
        r#"{"inputs": [{"data": [1, 2], "name": "X", "shape": [1, 2], "datatype": "FP32"}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [], "datatype": "FP32", "data": 5}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [0], "datatype": "FP32", "data": []}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2], "data": [3, 4]}]}"#.into(),
        r#"{"inputs": [{"name": "X", "name": "Y", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "parameters": {"binary_data_size": 8}, "data": [1, 2]}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "inputs": []}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "id": 5}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "parameters": {"binary_data_output": true}}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "outputs": [{"name": "probabilities", "parameters": {"class_count": 2}}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [-1, 2], "datatype": "FP32", "data": [1, 2]}]}"#.into(),
        // `outputs` as the gateway and tritonclient write it, and forms the scanner must leave.
        r#"{"id":"bench","inputs":[{"name":"X","shape":[1,4],"datatype":"FP64","data":[5.1,3.5,1.4,0.2]}],"outputs":[{"name":"label"}]}"#.into(),
        r#"{"outputs": [ { "name" : "label" } , {"name": "probabilities", "parameters": {"binary_data": false, "class_count": 3, "x": "y"}} ], "inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "outputs": []}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "outputs": [{}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "outputs": [{"name": "label", "parameters": {}}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "outputs": [{"name": "label", "name": "probabilities"}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "outputs": [{"name": "label", "parameters": {"a": 1, "a": 2}}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "outputs": [{"name": "label", "parameters": {"a": -1, "b": 01, "c": 1.5, "d": null, "e": [1], "f": {"g": 1}}}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "outputs": [{"name": "label", "parameters": {"a": 01}}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "outputs": [{"name": "label", "parameters": {"a": truex}}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "outputs": [{"name": "label", "parameters": {"a": 9007199254740993}}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "outputs": [{"name": 5}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "outputs": [{"name": "label"},]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "outputs": [{"name": "label"}], "outputs": []}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "outputs": [{"name": "l\u0061bel"}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [[1], [2]]}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [[1, 2], [3]]}]}"#.into(),
        r#"{"inputs": [{"name": "a", "shape": [2], "datatype": "INT64", "data": [1, 2]}, {"name": "b", "shape": [2, 2], "datatype": "FP64", "data": [1, 2, 3, 4]}]}"#.into(),
        r#"{"inputs": {"name": "X"}}"#.into(),
        r#"{"inputs": [5]}"#.into(),
        r#"{"inputs": [{"name": "\u0058", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "F\u005032", "data": [1, 2]}]}"#.into(),
        r#"{"id": "\u0061", "inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}"#.into(),
        r#"{"id": "é", "inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [01, 2], "datatype": "FP32", "data": [1, 2]}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1.0, 2], "datatype": "FP32", "data": [1, 2]}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2,], "datatype": "FP32", "data": [1, 2]}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2],}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]},]}"#.into(),
        r#"{"id": null, "inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]}"#.into(),
        r#"{"id": nul, "inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]}"#.into(),
        r#"{"inputs": [{"data": [1.5, 2], "datatype": "FP32", "name": "X", "shape": [1, 2]}]}"#.into(),
        r#"{"inputs": [{"data": [1.5, 2], "datatype": "INT64", "name": "X", "shape": [1, 2]}]}"#.into(),
        r#"{"inputs": [{"data": [1.5, 2], "name": "X", "shape": [1, 2]}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [18446744073709551616, 2], "datatype": "FP32", "data": [1, 2]}]}"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [18446744073709551615, 2], "datatype": "FP32", "data": [1, 2]}]}"#.into(),
        r#"{"inputs": []}"#.into(),
        r#"{}"#.into(),
        r#"[]"#.into(),
        r#"{"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]} 1"#.into(),
    ];
    for dt in datatypes {
        for leaf in LEAVES {
            bodies.push(format!(
                "{{\"inputs\": [{{\"name\": \"X\", \"shape\": [1, 2], \"datatype\": \"{dt}\", \"data\": [{leaf}, 1]}}]}}"
            ));
        }
    }
    for m in models() {
        for body in &bodies {
            check_v2(body, &m, &mut hits);
        }
    }
    assert!(hits.v2 > 100 && hits.v2_scanned > 100, "{hits:?}");
}

#[test]
fn v2_binary_tensors_decode_alike() {
    let iris = &models()[0];
    let floats: Vec<u8> = [5.1f32, 3.5, 1.4, 0.2]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    for (head, extra) in [
        (
            r#"{"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}}]}"#,
            0,
        ),
        (
            r#"{"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}}], "parameters": {"binary_data_output": true}}"#,
            0,
        ),
        (
            r#"{"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}}]}"#,
            4,
        ),
        (
            r#"{"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 20}}]}"#,
            0,
        ),
        (
            r#"{"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}, "data": [1, 2, 3, 4]}]}"#,
            0,
        ),
    ] {
        let mut body = head.as_bytes().to_vec();
        body.extend_from_slice(&floats);
        body.extend(std::iter::repeat_n(0u8, extra));
        let (json, binary) = body.split_at(head.len());
        let reference = v2::decode_infer_value(json, binary, iris);
        if let Some(fast) = v2::try_v2(json, binary, iris) {
            assert!(same(&Ok(fast), &reference), "{head}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            v2::binary::HEADER_LENGTH,
            http::HeaderValue::from(head.len()),
        );
        let served = v2::decode_infer(&headers, &body, iris);
        assert!(same(&served, &reference), "{served:?} != {reference:?}");
    }
    assert!(v2::try_v2(
        br#"{"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}}]}"#,
        &floats,
        iris
    )
    .is_some());
}

#[test]
fn scanned_numbers_equal_serde_json_numbers() {
    // The scanner's number reader against serde_json's (through the value path's conversion), bit
    // for bit, over random literals of every length, with exponents in and out of the fast range.
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let digits = |rng: &mut Rng, n: usize| -> String {
        (0..n)
            .map(|_| char::from(b'0' + rng.below(10) as u8))
            .collect()
    };
    let mut fast = 0;
    for k in 0..100_000 {
        let mut lit = String::new();
        if rng.chance(30) {
            lit.push('-');
        }
        let int_len = [1, 1, 2, 3, 5, 8, 15, 16, 17, 19, 20, 25][rng.below(12)];
        let int = digits(&mut rng, int_len);
        lit.push_str(if int.starts_with('0') { "0" } else { &int });
        if rng.chance(70) {
            lit.push('.');
            let n = [1, 1, 2, 3, 6, 10, 16, 17, 18, 19, 25][rng.below(11)];
            lit.push_str(&digits(&mut rng, n));
        }
        if rng.chance(40) {
            lit.push(['e', 'E'][rng.below(2)]);
            lit.push_str(["", "+", "-"][rng.below(3)]);
            let e = match rng.below(4) {
                0 => rng.below(400),
                1 => rng.below(30),
                2 => rng.below(10),
                _ => rng.below(100_000),
            };
            lit.push_str(&e.to_string());
        }
        if k % 2 == 0 {
            lit = lit.replace('.', &format!(".{}", "0".repeat(rng.below(4))));
        }
        let reference = serde_json::from_str::<Value>(&lit)
            .ok()
            .and_then(|v| v.as_number().and_then(homeml_numjson::number_to_f64));
        let mut scan = Scanner::new(lit.as_bytes());
        let scanned = scan.number();
        assert_eq!(
            scanned.map(f64::to_bits),
            reference.map(f64::to_bits),
            "{lit}"
        );
        if scanned.is_some() {
            assert_eq!(scan.pos(), lit.len(), "{lit}");
            fast += 1;
        }
    }
    assert!(fast > 50_000, "{fast}");
}

#[test]
fn generated_bodies_decode_alike() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let models = models();
    let mut hits = Hits::default();
    for _ in 0..1500 {
        let mlflow_body = rng.mlflow_body();
        let v2_body = rng.v2_body();
        for m in &models {
            check_mlflow(&mlflow_body, m, &mut hits);
            check_v2(&v2_body, m, &mut hits);
        }
        let shape = rng.shape();
        let list = rng.list(&shape);
        for m in &models {
            check_predict(&list, m, &mut hits);
        }
    }
    assert!(
        hits.mlflow > 1000 && hits.v2 > 400 && hits.v2_scanned > 200 && hits.predict > 500,
        "{hits:?}"
    );
}

#[test]
fn the_benchmark_bodies_take_the_direct_path() {
    let iris = &models()[0];
    let rows: Vec<String> = (0..64)
        .map(|_| "[5.1, 3.5, 1.4, 0.2]".to_string())
        .collect();
    for n in [1, 64] {
        let body = format!("{{\"inputs\": [{}]}}", rows[..n].join(","));
        assert!(
            mlflow::fast::scan(body.as_bytes(), Kind::F32).is_some(),
            "{body}"
        );
        let (input, plan) = mlflow::try_mlflow(body.as_bytes(), iris).expect("direct path");
        assert_eq!(input.rows, n);
        assert_eq!(input.tensors[0].shape(), &[n, 4]);
        assert_eq!(
            &input.tensors[0].data().clone(),
            &TensorData::F32([5.1, 3.5, 1.4, 0.2].repeat(n))
        );
        assert_eq!(
            plan,
            ResponsePlan::Mlflow(crate::protocol::MlflowPlan {
                input_kind: crate::protocol::MlflowInputKind::Tensor
            })
        );
        // As the bench writes it: serde_json sorts the keys, so `data` comes before `datatype`.
        let data: Vec<f64> = [5.1, 3.5, 1.4, 0.2].repeat(n);
        let v2_body = serde_json::json!({"id": "x", "inputs": [{"name": "X", "shape": [n, 4],
            "datatype": "FP32", "data": data}]})
        .to_string();
        assert!(v2_body.contains(r#""data":[5.1"#), "{v2_body}");
        let (input, _) = v2::try_v2(v2_body.as_bytes(), &[], iris).expect("direct path");
        assert_eq!(input.tensors[0].shape(), &[n, 4]);
    }
    // The gateway's upstream body (bench/gateway/run.sh's direct body) is read by the scanner.
    let gateway = br#"{"id":"bench","inputs":[{"name":"X","shape":[1,4],"datatype":"FP64","data":[5.1,3.5,1.4,0.2]}],"outputs":[{"name":"label"}]}"#;
    assert!(v2::fast::scan(gateway).is_some());
    let (input, _) = v2::try_v2(gateway, &[], iris).expect("direct path");
    assert_eq!(input.rows, 1);
}

#[test]
fn errors_are_left_to_the_value_path() {
    let iris = &models()[0];
    for body in [
        r#"{"inputs": [[1, 2, 3]]}"#,
        r#"{"inputs": [[1e400, 1, 2, 3]]}"#,
        r#"{"inputs": [[1, 2, 3, 4]], "inputs": [[1, 2, 3, 4]]}"#,
        r#"{"inputs": [[1, 2, 3, 4], [1, 2]]}"#,
    ] {
        assert!(
            mlflow::try_mlflow(body.as_bytes(), iris).is_none(),
            "{body}"
        );
    }
    // And the value path's message is what the client gets.
    let e = mlflow::decode(None, br#"{"inputs": [[1, 2, 3]]}"#, iris).unwrap_err();
    assert!(e.to_string().contains("dimension 1 must be 4"), "{e}");
}
