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

/// Builds a KServe V2 infer body: one `[rows, width]` tensor named `input_name`; `outputs` asks for
/// those outputs only (empty: all). Non-finite values (an optional float left out) are sent as null.
pub fn v2_request_body(
    rows: &Rows,
    input_name: &str,
    datatype: InputDatatype,
    request_id: &str,
    outputs: &[&str],
) -> Vec<u8> {
    let req = V2Request {
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
    };
    // Serializing plain structs of numbers and strings into a Vec cannot fail.
    serde_json::to_vec(&req).unwrap_or_default()
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
pub fn parse_v2_answer(body: &[u8]) -> Result<Answer, String> {
    let a: V2Answer =
        serde_json::from_slice(body).map_err(|e| format!("not a V2 infer answer: {e}"))?;
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
