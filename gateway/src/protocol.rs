//! Upstream wire formats: building the request body for KServe V2 or MLflow scoring from validated
//! rows, and reading their answers into named outputs.

use serde::Serialize;
use serde_json::Value;

use crate::config::MlflowFormat;
use crate::features::Rows;

/// The datatype of the V2 input tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputDatatype {
    /// 32-bit floats (the default, what skl2onnx exports expect).
    Fp32,
    /// 64-bit floats.
    Fp64,
    /// 32-bit integers.
    Int32,
    /// 64-bit integers.
    Int64,
}

impl InputDatatype {
    /// Parses a V2 datatype name (FP32, FP64, INT32, INT64).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "FP32" => Some(Self::Fp32),
            "FP64" => Some(Self::Fp64),
            "INT32" => Some(Self::Int32),
            "INT64" => Some(Self::Int64),
            _ => None,
        }
    }

    /// The V2 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fp32 => "FP32",
            Self::Fp64 => "FP64",
            Self::Int32 => "INT32",
            Self::Int64 => "INT64",
        }
    }
}

fn finite_or_none(v: f32) -> Option<f32> {
    v.is_finite().then_some(v)
}

/// Rows as a list of lists (MLflow `inputs` / `dataframe_split.data`).
struct Matrix<'a>(&'a Rows);

impl Serialize for Matrix<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let rows = self.0;
        let mut seq = s.serialize_seq(Some(rows.len()))?;
        for i in 0..rows.len() {
            let row: Vec<Option<f64>> = rows
                .row(i)
                .iter()
                .map(|v| v.is_finite().then_some(*v))
                .collect();
            seq.serialize_element(&row)?;
        }
        seq.end()
    }
}

/// Builds a KServe V2 infer body: one `[rows, width]` tensor named `input_name`; `outputs` asks for
/// those outputs only (empty: all). Non-finite values (an optional float left out) are sent as null.
pub fn v2_request_body(
    rows: &Rows,
    input_name: &str,
    datatype: InputDatatype,
    request_id: &str,
    outputs: &[&str],
) -> Vec<u8> {
    // Written by hand into one buffer of the right size (serde's derive grew it and went through
    // more layers; bytes identical, see the tests).
    let mut out = Vec::with_capacity(
        80 + request_id.len()
            + input_name.len()
            + 20 * rows.values.len()
            + outputs.iter().map(|o| o.len() + 12).sum::<usize>(),
    );
    out.extend_from_slice(b"{\"id\":");
    push_json_str(&mut out, request_id);
    out.extend_from_slice(b",\"inputs\":[{\"name\":");
    push_json_str(&mut out, input_name);
    out.extend_from_slice(b",\"shape\":[");
    push_json(&mut out, &rows.len());
    out.push(b',');
    push_json(&mut out, &rows.width);
    out.extend_from_slice(b"],\"datatype\":\"");
    out.extend_from_slice(datatype.as_str().as_bytes());
    out.extend_from_slice(b"\",\"data\":[");
    for (i, &v) in rows.values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match datatype {
            InputDatatype::Fp32 => push_json(&mut out, &finite_or_none(v as f32)),
            InputDatatype::Fp64 => push_json(&mut out, &v.is_finite().then_some(v)),
            InputDatatype::Int32 => push_json(&mut out, &(v as i32)),
            InputDatatype::Int64 => push_json(&mut out, &(v as i64)),
        }
    }
    out.extend_from_slice(b"]}]");
    if !outputs.is_empty() {
        out.extend_from_slice(b",\"outputs\":[");
        for (i, name) in outputs.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"name\":");
            push_json_str(&mut out, name);
            out.push(b'}');
        }
        out.push(b']');
    }
    out.push(b'}');
    out
}

/// Appends `v` as JSON (numbers, `null`): writing into a Vec cannot fail.
fn push_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    let _ = serde_json::to_writer(&mut *out, v);
}

/// Appends a JSON string.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    push_json(out, s);
}

/// Builds an MLflow scoring body: `{"inputs": [[...]]}` or
/// `{"dataframe_split": {"columns": [...], "data": [[...]]}}`.
pub fn mlflow_request_body(rows: &Rows, format: MlflowFormat, columns: &[&str]) -> Vec<u8> {
    #[derive(Serialize)]
    struct Inputs<'a> {
        inputs: Matrix<'a>,
    }
    #[derive(Serialize)]
    struct Split<'a> {
        columns: &'a [&'a str],
        data: Matrix<'a>,
    }
    #[derive(Serialize)]
    struct DataframeSplit<'a> {
        dataframe_split: Split<'a>,
    }
    let out = match format {
        MlflowFormat::Inputs => serde_json::to_vec(&Inputs {
            inputs: Matrix(rows),
        }),
        MlflowFormat::DataframeSplit => serde_json::to_vec(&DataframeSplit {
            dataframe_split: Split {
                columns,
                data: Matrix(rows),
            },
        }),
    };
    out.unwrap_or_default()
}

/// The values of one output.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputData {
    /// Numbers (any numeric datatype, or BOOL as 0/1).
    Numbers(Vec<f64>),
    /// Strings (BYTES).
    Strings(Vec<String>),
}

impl OutputData {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            OutputData::Numbers(v) => v.len(),
            OutputData::Strings(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One named output of an answer, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedOutput {
    /// Output name (`predictions` for an MLflow list answer).
    pub name: String,
    /// Shape; the first dimension is the rows.
    pub shape: Vec<usize>,
    /// The values.
    pub data: OutputData,
}

/// A model server's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The model that answered (V2 `model_name`), if said.
    pub model_name: Option<String>,
    /// Its version (V2 `model_version`), if said.
    pub model_version: Option<String>,
    /// The outputs.
    pub outputs: Vec<NamedOutput>,
}

fn flatten(v: &Value, out_num: &mut Vec<f64>, out_str: &mut Vec<String>) -> Result<(), String> {
    match v {
        Value::Array(items) => {
            for item in items {
                flatten(item, out_num, out_str)?;
            }
            Ok(())
        }
        Value::Number(n) => {
            out_num.push(n.as_f64().ok_or("number out of range")?);
            Ok(())
        }
        Value::Bool(b) => {
            out_num.push(f64::from(u8::from(*b)));
            Ok(())
        }
        Value::String(s) => {
            out_str.push(s.clone());
            Ok(())
        }
        Value::Null => {
            out_num.push(f64::NAN);
            Ok(())
        }
        Value::Object(_) => Err("unexpected object in output data".into()),
    }
}

fn to_data(v: &Value) -> Result<OutputData, String> {
    let mut nums = Vec::new();
    let mut strs = Vec::new();
    flatten(v, &mut nums, &mut strs)?;
    match (nums.is_empty(), strs.is_empty()) {
        (_, true) => Ok(OutputData::Numbers(nums)),
        (true, false) => Ok(OutputData::Strings(strs)),
        (false, false) => Err("mixed strings and numbers in output data".into()),
    }
}

/// The shape of a (possibly nested) JSON list: `[n]`, `[n, k]`, ...
fn shape_of(v: &Value) -> Vec<usize> {
    let mut shape = Vec::new();
    let mut cur = v;
    while let Value::Array(items) = cur {
        shape.push(items.len());
        match items.first() {
            Some(first) => cur = first,
            None => break,
        }
    }
    shape
}

#[derive(serde::Deserialize)]
struct V2Answer {
    #[serde(default)]
    model_name: Option<String>,
    #[serde(default)]
    model_version: Option<String>,
    outputs: Vec<V2AnswerOutput>,
}

#[derive(serde::Deserialize)]
struct V2AnswerOutput {
    name: String,
    #[serde(default)]
    shape: Vec<i64>,
    data: FlatData,
}

/// Output data read straight from JSON (nested lists flattened row-major) without a `Value` tree.
struct FlatData(Result<OutputData, String>);

struct FlatVisitor<'a> {
    nums: &'a mut Vec<f64>,
    strs: &'a mut Vec<String>,
}

impl<'de> serde::de::Visitor<'de> for FlatVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a (nested) list of numbers, booleans or strings")
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.nums.push(v);
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.nums.push(v as f64);
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.nums.push(v as f64);
        Ok(())
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.nums.push(f64::from(u8::from(v)));
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.nums.push(f64::NAN);
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.strs.push(v.to_string());
        Ok(())
    }
    fn visit_string<E>(self, v: String) -> Result<(), E> {
        self.strs.push(v);
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(FlatVisitor {
                nums: &mut *self.nums,
                strs: &mut *self.strs,
            })?
            .is_some()
        {}
        Ok(())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for FlatVisitor<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::Deserialize<'de> for FlatData {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut nums = Vec::new();
        let mut strs = Vec::new();
        d.deserialize_any(FlatVisitor {
            nums: &mut nums,
            strs: &mut strs,
        })?;
        Ok(FlatData(match (nums.is_empty(), strs.is_empty()) {
            (_, true) => Ok(OutputData::Numbers(nums)),
            (true, false) => Ok(OutputData::Strings(strs)),
            (false, false) => Err("mixed strings and numbers in output data".into()),
        }))
    }
}

/// Reads a KServe V2 infer answer.
///
/// Plain answers (what `homeml serve` and other V2 servers send: no escapes in strings, numeric data)
/// are read by a small scanner ([`fast_v2`]); anything else, every malformed answer included, goes
/// through serde, whose answers and error messages are the reference (the tests compare both).
pub fn parse_v2_answer(body: &[u8]) -> Result<Answer, String> {
    let a = match fast_v2::parse(body) {
        Some(a) => a,
        None => serde_json::from_slice(body).map_err(|e| format!("not a V2 infer answer: {e}"))?,
    };
    v2_answer(a)
}

fn v2_answer(a: V2Answer) -> Result<Answer, String> {
    let mut outputs = Vec::with_capacity(a.outputs.len());
    for o in a.outputs {
        let data = o.data.0.map_err(|e| format!("output {}: {e}", o.name))?;
        let shape: Vec<usize> = if o.shape.is_empty() {
            vec![data.len()]
        } else {
            o.shape.iter().map(|d| (*d).max(0) as usize).collect()
        };
        if shape.iter().product::<usize>() != data.len() {
            return Err(format!(
                "output {}: shape {:?} does not hold {} values",
                o.name,
                shape,
                data.len()
            ));
        }
        outputs.push(NamedOutput {
            name: o.name,
            shape,
            data,
        });
    }
    Ok(Answer {
        model_name: a.model_name,
        model_version: a.model_version,
        outputs,
    })
}

/// A scanner for the common shape of V2 answers: returns `None` (and leaves the answer to serde)
/// whenever it meets anything it does not handle exactly as serde would: escapes, control or
/// non-ASCII characters in strings, string data, duplicate or missing fields, numbers out of range, deep
/// nesting, trailing bytes, or plain bad JSON.
mod fast_v2 {
    use super::{FlatData, OutputData, V2Answer, V2AnswerOutput};
    use homeml_numjson::{Scanner, MAX_DEPTH};

    pub(super) fn parse(body: &[u8]) -> Option<V2Answer> {
        let mut s = Scanner::new(body);
        let a = answer(&mut s)?;
        s.at_end().then_some(a)
    }

    /// Output data, nested lists flattened: numbers, booleans (0/1) and nulls (NaN) only.
    fn data(s: &mut Scanner<'_>, out: &mut Vec<f64>, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match s.peek()? {
            b'[' => s.array(|s| data(s, out, depth + 1)),
            b't' => {
                s.literal(b"true")?;
                out.push(1.0);
                Some(())
            }
            b'f' => {
                s.literal(b"false")?;
                out.push(0.0);
                Some(())
            }
            b'n' => {
                s.literal(b"null")?;
                out.push(f64::NAN);
                Some(())
            }
            b'-' | b'0'..=b'9' => {
                out.push(s.number()?);
                Some(())
            }
            _ => None,
        }
    }

    fn output(s: &mut Scanner<'_>) -> Option<V2AnswerOutput> {
        let mut name = None;
        let mut shape: Option<Vec<i64>> = None;
        let mut values: Option<Vec<f64>> = None;
        s.object(|s, key| match key {
            b"name" if name.is_none() => {
                name = Some(s.string()?);
                Some(())
            }
            b"shape" if shape.is_none() => {
                let mut dims = Vec::with_capacity(2);
                s.array(|s| {
                    let (text, integer) = s.number_text()?;
                    // serde_json reads `-0` as a float, not an i64.
                    dims.push(
                        text.parse::<i64>()
                            .ok()
                            .filter(|_| integer && text != "-0")?,
                    );
                    Some(())
                })?;
                shape = Some(dims);
                Some(())
            }
            b"data" if values.is_none() => {
                let mut read = Vec::new();
                // A bare value (not a list) is what serde's FlatVisitor accepts too.
                data(s, &mut read, 0)?;
                values = Some(read);
                Some(())
            }
            b"name" | b"shape" | b"data" => None,
            _ => s.skip(1),
        })?;
        Some(V2AnswerOutput {
            name: name?,
            shape: shape.unwrap_or_default(),
            data: FlatData(Ok(OutputData::Numbers(values?))),
        })
    }

    fn answer(s: &mut Scanner<'_>) -> Option<V2Answer> {
        let mut model_name = None;
        let mut model_version = None;
        let mut outputs = None;
        s.object(|s, key| match key {
            b"model_name" if model_name.is_none() => {
                model_name = Some(s.opt_string()?);
                Some(())
            }
            b"model_version" if model_version.is_none() => {
                model_version = Some(s.opt_string()?);
                Some(())
            }
            b"outputs" if outputs.is_none() => {
                let mut list = Vec::with_capacity(2);
                s.array(|s| {
                    list.push(output(s)?);
                    Some(())
                })?;
                outputs = Some(list);
                Some(())
            }
            b"model_name" | b"model_version" | b"outputs" => None,
            _ => s.skip(1),
        })?;
        Some(V2Answer {
            model_name: model_name.flatten(),
            model_version: model_version.flatten(),
            outputs: outputs?,
        })
    }
}

/// Reads an MLflow scoring answer: `{"predictions": [...]}` (one output named `predictions`),
/// `{"predictions": {"name": [...], ...}}` (named outputs), or a list of records
/// `{"predictions": [{"name": v, ...}, ...]}`.
pub fn parse_mlflow_answer(body: &[u8]) -> Result<Answer, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("not an MLflow answer: {e}"))?;
    let preds = match v {
        Value::Object(mut m) => m
            .remove("predictions")
            .ok_or("MLflow answer without `predictions`")?,
        // Some servers answer the bare list.
        other @ Value::Array(_) => other,
        _ => return Err("MLflow answer is not an object".into()),
    };
    let mut outputs = Vec::new();
    match &preds {
        Value::Object(m) => {
            for (name, value) in m {
                outputs.push(NamedOutput {
                    name: name.clone(),
                    shape: shape_of(value),
                    data: to_data(value).map_err(|e| format!("output {name}: {e}"))?,
                });
            }
        }
        Value::Array(items) if items.first().is_some_and(Value::is_object) => {
            let mut columns: Vec<(String, Vec<Value>)> = Vec::new();
            for item in items {
                let Value::Object(rec) = item else {
                    return Err("mixed records in MLflow answer".into());
                };
                for (k, val) in rec {
                    match columns.iter_mut().find(|(n, _)| n == k) {
                        Some((_, col)) => col.push(val.clone()),
                        None => columns.push((k.clone(), vec![val.clone()])),
                    }
                }
            }
            for (name, col) in columns {
                let value = Value::Array(col);
                outputs.push(NamedOutput {
                    shape: shape_of(&value),
                    data: to_data(&value).map_err(|e| format!("output {name}: {e}"))?,
                    name,
                });
            }
        }
        Value::Array(_) => outputs.push(NamedOutput {
            name: "predictions".into(),
            shape: shape_of(&preds),
            data: to_data(&preds)?,
        }),
        _ => return Err("`predictions` is neither a list nor an object".into()),
    }
    Ok(Answer {
        model_name: None,
        model_version: None,
        outputs,
    })
}

/// The first input's name in a V2 model metadata document (`GET /v2/models/{m}`).
pub fn v2_metadata_input_name(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("inputs")?
        .as_array()?
        .first()?
        .get("name")?
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows() -> Rows {
        Rows {
            values: vec![5.1, 3.5, 1.4, 0.2, 6.0, 3.0, 4.8, f64::NAN],
            width: 4,
            single: false,
        }
    }

    // The serde structs v2_request_body replaced: its bytes must stay what they wrote.
    /// Row-major values serialized in the tensor's datatype.
    struct TensorData<'a> {
        values: &'a [f64],
        datatype: InputDatatype,
    }

    impl Serialize for TensorData<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeSeq;
            let mut seq = s.serialize_seq(Some(self.values.len()))?;
            for &v in self.values {
                match self.datatype {
                    InputDatatype::Fp32 => seq.serialize_element(&finite_or_none(v as f32))?,
                    InputDatatype::Fp64 => seq.serialize_element(&(v.is_finite().then_some(v)))?,
                    InputDatatype::Int32 => seq.serialize_element(&(v as i32))?,
                    InputDatatype::Int64 => seq.serialize_element(&(v as i64))?,
                }
            }
            seq.end()
        }
    }

    #[derive(Serialize)]
    struct V2Input<'a> {
        name: &'a str,
        shape: [usize; 2],
        datatype: &'static str,
        data: TensorData<'a>,
    }

    #[derive(Serialize)]
    struct V2Output<'a> {
        name: &'a str,
    }

    #[derive(Serialize)]
    struct V2Request<'a> {
        id: &'a str,
        inputs: [V2Input<'a>; 1],
        #[serde(skip_serializing_if = "Vec::is_empty")]
        outputs: Vec<V2Output<'a>>,
    }

    fn v2_body_via_serde(
        rows: &Rows,
        input_name: &str,
        datatype: InputDatatype,
        request_id: &str,
        outputs: &[&str],
    ) -> Vec<u8> {
        serde_json::to_vec(&V2Request {
            id: request_id,
            inputs: [V2Input {
                name: input_name,
                shape: [rows.len(), rows.width],
                datatype: datatype.as_str(),
                data: TensorData {
                    values: &rows.values,
                    datatype,
                },
            }],
            outputs: outputs.iter().map(|name| V2Output { name }).collect(),
        })
        .unwrap()
    }

    #[test]
    fn v2_bodies_are_byte_for_byte_what_serde_wrote() {
        let wide = Rows {
            values: vec![
                0.0,
                -0.0,
                1e-300,
                1e300,
                3.4e39,
                -2.5,
                f64::INFINITY,
                123456789.125,
                f64::NEG_INFINITY,
                0.1,
                7.0,
                f64::NAN,
            ],
            width: 3,
            single: false,
        };
        let one = Rows {
            values: vec![5.1, 3.5, 1.4, 0.2],
            width: 4,
            single: true,
        };
        let empty = Rows {
            values: vec![],
            width: 4,
            single: false,
        };
        for rows in [&rows(), &wide, &one, &empty] {
            for dt in [
                InputDatatype::Fp32,
                InputDatatype::Fp64,
                InputDatatype::Int32,
                InputDatatype::Int64,
            ] {
                for (name, id, outputs) in [
                    ("X", "rid", &["label"][..]),
                    (
                        "float_input",
                        "0123456789abcdef0123456789abcdef",
                        &["label", "probabilities"][..],
                    ),
                    ("in\"put\\", "r\"i\\d\u{1}é", &[][..]),
                    ("", "", &["a\"b"][..]),
                ] {
                    assert_eq!(
                        String::from_utf8(v2_request_body(rows, name, dt, id, outputs)).unwrap(),
                        String::from_utf8(v2_body_via_serde(rows, name, dt, id, outputs)).unwrap(),
                        "{dt:?} {name:?} {id:?} {outputs:?} {:?}",
                        rows.values
                    );
                }
            }
        }
    }

    #[test]
    fn builds_v2_bodies() {
        let body = v2_request_body(&rows(), "X", InputDatatype::Fp32, "rid", &["label"]);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            json!({"id": "rid", "inputs": [{"name": "X", "shape": [2, 4], "datatype": "FP32",
                "data": [5.1, 3.5, 1.4, 0.2, 6.0, 3.0, 4.8, null]}], "outputs": [{"name": "label"}]})
        );
        let body = v2_request_body(&rows(), "X", InputDatatype::Int64, "rid", &[]);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["inputs"][0]["data"][0], json!(5));
        assert!(v.get("outputs").is_none());
    }

    #[test]
    fn builds_mlflow_bodies() {
        let r = Rows {
            values: vec![1.0, 2.0],
            width: 2,
            single: true,
        };
        let v: Value =
            serde_json::from_slice(&mlflow_request_body(&r, MlflowFormat::Inputs, &["a", "b"]))
                .unwrap();
        assert_eq!(v, json!({"inputs": [[1.0, 2.0]]}));
        let v: Value = serde_json::from_slice(&mlflow_request_body(
            &r,
            MlflowFormat::DataframeSplit,
            &["a", "b"],
        ))
        .unwrap();
        assert_eq!(
            v,
            json!({"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}})
        );
    }

    #[test]
    fn parses_v2_answers() {
        let a = parse_v2_answer(
            br#"{"model_name":"iris","model_version":"2","id":"x","outputs":[
            {"name":"label","shape":[2],"datatype":"INT64","data":[0,2]},
            {"name":"probabilities","shape":[2,3],"datatype":"FP32","data":[[0.9,0.05,0.05],[0.1,0.1,0.8]]}]}"#,
        )
        .unwrap();
        assert_eq!(a.model_name.as_deref(), Some("iris"));
        assert_eq!(a.outputs[1].shape, vec![2, 3]);
        assert_eq!(a.outputs[1].data.len(), 6);
        assert!(parse_v2_answer(br#"{"outputs":[{"name":"l","shape":[3],"data":[1]}]}"#).is_err());
        assert!(parse_v2_answer(b"nope").is_err());
    }

    /// The reference: serde for every answer.
    fn v2_via_serde(body: &[u8]) -> Result<Answer, String> {
        serde_json::from_slice::<V2Answer>(body)
            .map_err(|e| format!("not a V2 infer answer: {e}"))
            .and_then(v2_answer)
    }

    /// Debug text: compares NaN and the sign of zero too.
    fn same(body: &[u8]) {
        assert_eq!(
            format!("{:?}", parse_v2_answer(body)),
            format!("{:?}", v2_via_serde(body)),
            "{}",
            String::from_utf8_lossy(body)
        );
    }

    const PLAIN_ANSWERS: &[&str] = &[
        r#"{"model_name":"iris-classifier","model_version":"1","id":"0123456789abcdef0123456789abcdef","outputs":[{"name":"label","datatype":"INT64","shape":[1],"data":[0]}]}"#,
        r#"{"model_name":"iris","model_version":"2","id":"x","outputs":[
            {"name":"label","shape":[2],"datatype":"INT64","data":[0,2]},
            {"name":"probabilities","shape":[2,3],"datatype":"FP32","data":[[0.9,0.05,0.05],[0.1,0.1,0.8]]}]}"#,
        r#" { "outputs" : [ { "data" : [ true , false , null , -0 , -0.0 , 1e-400 , 1.5E+3 , 18446744073709551616 , -9223372036854775809 , 123456789012345678 ] , "name" : "o" , "parameters" : { "a" : [ 1 , { "b" : null } ] } } ] , "model_name" : null , "parameters" : {} } "#,
        r#"{"outputs":[{"name":"l","data":7,"shape":[]}],"model_version":null}"#,
        r#"{"outputs":[{"name":"l","shape":[-1,2],"data":[]}]}"#,
        r#"{"outputs":[]}"#,
        r#"{"outputs":[{"name":"l","shape":[3],"data":[1]}]}"#,
    ];

    #[test]
    fn plain_v2_answers_take_the_fast_path_and_read_as_serde_reads_them() {
        for a in PLAIN_ANSWERS {
            assert!(fast_v2::parse(a.as_bytes()).is_some(), "{a}");
            same(a.as_bytes());
        }
    }

    #[test]
    fn other_v2_answers_read_as_serde_reads_them() {
        let cases = [
            "",
            "null",
            "[]",
            "{}",
            r#"{"outputs":[{"name":"l","data":["a","b"],"shape":[2]}]}"#,
            r#"{"outputs":[{"name":"l","data":["a",1],"shape":[2]}]}"#,
            r#"{"outputs":[{"name":"l","data":[1],"shape":[1]}],"outputs":[]}"#,
            r#"{"outputs":[{"name":"l","name":"m","data":[1]}]}"#,
            r#"{"outputs":[{"name":"l\u0061","data":[1]}]}"#,
            r#"{"outputs":[{"n\u0061me":"l","data":[1]}]}"#,
            r#"{"model_name":"a\"b","outputs":[{"name":"l","data":[1]}]}"#,
            r#"{"outputs":[{"name":"l","data":[1e400]}]}"#,
            r#"{"outputs":[{"name":"l","data":[01]}]}"#,
            r#"{"outputs":[{"name":"l","data":[1.]}]}"#,
            r#"{"outputs":[{"name":"l","data":[-]}]}"#,
            r#"{"outputs":[{"name":"l","data":[+1]}]}"#,
            r#"{"outputs":[{"name":"l","data":[1],"shape":[1.0]}]}"#,
            r#"{"outputs":[{"name":"l","data":[1],"shape":[9223372036854775808]}]}"#,
            r#"{"outputs":[{"name":"l","data":[1],"shape":null}]}"#,
            r#"{"outputs":[{"name":"l","data":[-0],"shape":[-0]}]}"#,
            r#"{"outputs":[{"name":"l","data":{}}]}"#,
            r#"{"outputs":[{"name":"l"}]}"#,
            r#"{"outputs":[{"data":[1]}]}"#,
            r#"{"outputs":[{"name":"l","data":[1]}],}"#,
            r#"{"outputs":[{"name":"l","data":[1]}]} x"#,
            r#"{"outputs":[{"name":"l","data":[1]}]"#,
            r#"{"model_name":5,"outputs":[]}"#,
            r#"{"x":"a\qb","outputs":[]}"#,
            "{\"x\":\"a\u{1}b\",\"outputs\":[]}",
            r#"{"outputs":[{"name":"l","data":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}]}"#,
            r#"{"outputs":[{"name":"l","data":[tru]}]}"#,
            r#"{"outputs":[{"name":"l","data":[nulll]}]}"#,
        ];
        for c in cases {
            same(c.as_bytes());
        }
        // Non-ASCII text is left to serde (which reads or refuses it).
        same(
            "{\"model_name\":\"café\",\"x\":\"é\",\"outputs\":[{\"name\":\"l\",\"data\":[1]}]}"
                .as_bytes(),
        );
        same(b"{\"x\":\"\xff\",\"outputs\":[]}");
        same(b"{\"model_name\":\"\xc3\",\"outputs\":[]}");
    }

    #[test]
    fn mutated_v2_answers_read_as_serde_reads_them() {
        // Deterministic random edits of plain answers: wherever the scanner accepts one, serde must
        // read the same answer; wherever serde refuses one, the scanner must have left it to serde.
        let mut edits = crate::mutator::Mutator::new(0x2545_f491_4f6c_dd1du64);
        let mut fast = 0;
        for a in PLAIN_ANSWERS {
            for _ in 0..1500 {
                let b = edits.mutate(a.as_bytes());
                fast += usize::from(fast_v2::parse(&b).is_some());
                same(&b);
            }
        }
        // Some edits keep the answer plain (a digit for a digit): the fast path was exercised.
        assert!(fast > 100, "{fast}");
    }

    #[test]
    fn parses_mlflow_answers() {
        let a = parse_mlflow_answer(br#"{"predictions":[0,1]}"#).unwrap();
        assert_eq!(a.outputs[0].name, "predictions");
        assert_eq!(a.outputs[0].shape, vec![2]);
        let a =
            parse_mlflow_answer(br#"{"predictions":{"label":[1],"probabilities":[[0.2,0.8]]}}"#)
                .unwrap();
        assert_eq!(a.outputs.len(), 2);
        assert_eq!(a.outputs[1].shape, vec![1, 2]);
        let a = parse_mlflow_answer(
            br#"{"predictions":[{"label":"a","p":[0.1,0.9]},{"label":"b","p":[0.5,0.5]}]}"#,
        )
        .unwrap();
        assert_eq!(
            a.outputs[0].data,
            OutputData::Strings(vec!["a".into(), "b".into()])
        );
        assert_eq!(a.outputs[1].shape, vec![2, 2]);
    }

    #[test]
    fn reads_metadata() {
        let m = br#"{"name":"iris","inputs":[{"name":"float_input","datatype":"FP32","shape":[-1,4]}]}"#;
        assert_eq!(v2_metadata_input_name(m).as_deref(), Some("float_input"));
        assert_eq!(v2_metadata_input_name(b"{}"), None);
    }
}
