//! MLflow model signatures: the JSON column/tensor schemas stored in `MLmodel`.
//!
//! MLflow writes each schema as a JSON string inside the YAML, e.g.
//! `[{"type": "double", "name": "sepal_length", "required": true}]` (columns) or
//! `[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]` (tensors).

use serde_json::{json, Map, Value};

use crate::error::FlavorError;
use crate::tensor::DType;

/// The type of one named column (MLflow's `DataType`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnType {
    /// `boolean`
    Boolean,
    /// `integer` (32-bit)
    Integer,
    /// `long` (64-bit)
    Long,
    /// `float` (32-bit)
    Float,
    /// `double` (64-bit)
    Double,
    /// `string`
    String,
    /// `binary`
    Binary,
    /// `datetime`
    Datetime,
    /// A type homeml does not interpret (e.g. MLflow's `array`/`object`); kept for round trips.
    Other(String),
}

impl ColumnType {
    /// Parses MLflow's type name.
    pub fn parse(name: &str) -> ColumnType {
        match name {
            "boolean" => ColumnType::Boolean,
            "integer" => ColumnType::Integer,
            "long" => ColumnType::Long,
            "float" => ColumnType::Float,
            "double" => ColumnType::Double,
            "string" => ColumnType::String,
            "binary" => ColumnType::Binary,
            "datetime" => ColumnType::Datetime,
            other => ColumnType::Other(other.to_string()),
        }
    }

    /// MLflow's type name.
    pub fn name(&self) -> &str {
        match self {
            ColumnType::Boolean => "boolean",
            ColumnType::Integer => "integer",
            ColumnType::Long => "long",
            ColumnType::Float => "float",
            ColumnType::Double => "double",
            ColumnType::String => "string",
            ColumnType::Binary => "binary",
            ColumnType::Datetime => "datetime",
            ColumnType::Other(s) => s,
        }
    }

    /// The tensor dtype a column of this type becomes, when it has one.
    pub fn dtype(&self) -> Option<DType> {
        Some(match self {
            ColumnType::Boolean => DType::Bool,
            ColumnType::Integer => DType::I32,
            ColumnType::Long => DType::I64,
            ColumnType::Float => DType::F32,
            ColumnType::Double => DType::F64,
            ColumnType::String | ColumnType::Binary | ColumnType::Datetime => DType::String,
            ColumnType::Other(_) => return None,
        })
    }

    /// The column type MLflow uses for a dtype.
    pub fn from_dtype(dtype: DType) -> ColumnType {
        match dtype {
            DType::Bool => ColumnType::Boolean,
            DType::I32 => ColumnType::Integer,
            DType::I64 => ColumnType::Long,
            DType::F32 => ColumnType::Float,
            DType::F64 => ColumnType::Double,
            DType::String => ColumnType::String,
        }
    }
}

/// One column of a column-based schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ColSpec {
    /// Column name; MLflow allows unnamed columns.
    pub name: Option<String>,
    /// Column type.
    pub ty: ColumnType,
    /// Whether the column must be present (MLflow's default: true).
    pub required: bool,
}

/// One tensor of a tensor-based schema.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    /// Tensor name, if any.
    pub name: Option<String>,
    /// Element type.
    pub dtype: DType,
    /// The numpy dtype name as written (kept so a round trip is exact).
    pub dtype_name: String,
    /// Shape; -1 marks a variable dimension.
    pub shape: Vec<i64>,
}

/// A schema: either named columns or tensors, never a mix (as in MLflow).
#[derive(Debug, Clone, PartialEq)]
pub enum Schema {
    /// Column-based (a dataframe).
    Columns(Vec<ColSpec>),
    /// Tensor-based.
    Tensors(Vec<TensorSpec>),
}

impl Schema {
    /// Parses MLflow's schema JSON string.
    pub fn from_json(text: &str) -> Result<Schema, FlavorError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| FlavorError::Signature(format!("schema is not JSON: {e}")))?;
        Schema::from_value(&value)
    }

    /// Parses an already-decoded schema list.
    pub fn from_value(value: &Value) -> Result<Schema, FlavorError> {
        let items = value
            .as_array()
            .ok_or_else(|| FlavorError::Signature("a schema must be a JSON list".into()))?;
        let is_tensor = |v: &Value| v.get("type").and_then(Value::as_str) == Some("tensor");
        if !items.is_empty() && items.iter().all(is_tensor) {
            items
                .iter()
                .map(parse_tensor_spec)
                .collect::<Result<_, _>>()
                .map(Schema::Tensors)
        } else if items.iter().any(is_tensor) {
            Err(FlavorError::Signature(
                "a schema mixes tensor and column specs".into(),
            ))
        } else {
            items
                .iter()
                .map(parse_col_spec)
                .collect::<Result<_, _>>()
                .map(Schema::Columns)
        }
    }

    /// MLflow's JSON form, as stored in MLmodel.
    pub fn to_json(&self) -> String {
        let list: Vec<Value> = match self {
            Schema::Columns(cols) => cols
                .iter()
                .map(|c| {
                    let mut m = Map::new();
                    m.insert("type".into(), json!(c.ty.name()));
                    if let Some(n) = &c.name {
                        m.insert("name".into(), json!(n));
                    }
                    m.insert("required".into(), json!(c.required));
                    Value::Object(m)
                })
                .collect(),
            Schema::Tensors(ts) => ts
                .iter()
                .map(|t| {
                    let mut m = Map::new();
                    m.insert("type".into(), json!("tensor"));
                    m.insert(
                        "tensor-spec".into(),
                        json!({"dtype": t.dtype_name, "shape": t.shape}),
                    );
                    if let Some(n) = &t.name {
                        m.insert("name".into(), json!(n));
                    }
                    Value::Object(m)
                })
                .collect(),
        };
        Value::Array(list).to_string()
    }

    /// Number of columns or tensors.
    pub fn len(&self) -> usize {
        match self {
            Schema::Columns(c) => c.len(),
            Schema::Tensors(t) => t.len(),
        }
    }

    /// True when the schema lists nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A column schema of named columns all of one type.
    pub fn columns(names: &[&str], ty: ColumnType) -> Schema {
        Schema::Columns(
            names
                .iter()
                .map(|n| ColSpec {
                    name: Some((*n).to_string()),
                    ty: ty.clone(),
                    required: true,
                })
                .collect(),
        )
    }

    /// A one-tensor schema.
    pub fn tensor(name: Option<&str>, dtype: DType, shape: Vec<i64>) -> Schema {
        Schema::Tensors(vec![TensorSpec {
            name: name.map(str::to_string),
            dtype,
            dtype_name: dtype.numpy_name().to_string(),
            shape,
        }])
    }
}

fn parse_col_spec(v: &Value) -> Result<ColSpec, FlavorError> {
    let ty = v
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| FlavorError::Signature(format!("column spec without a type: {v}")))?;
    Ok(ColSpec {
        name: v.get("name").and_then(Value::as_str).map(str::to_string),
        ty: ColumnType::parse(ty),
        required: v.get("required").and_then(Value::as_bool).unwrap_or(true),
    })
}

fn parse_tensor_spec(v: &Value) -> Result<TensorSpec, FlavorError> {
    let spec = v
        .get("tensor-spec")
        .ok_or_else(|| FlavorError::Signature(format!("tensor spec without tensor-spec: {v}")))?;
    let dtype_name = spec
        .get("dtype")
        .and_then(Value::as_str)
        .ok_or_else(|| FlavorError::Signature(format!("tensor spec without dtype: {v}")))?;
    let dtype = DType::from_numpy_name(dtype_name).ok_or_else(|| {
        FlavorError::Signature(format!("unsupported tensor dtype {dtype_name:?}"))
    })?;
    let shape = spec
        .get("shape")
        .and_then(Value::as_array)
        .ok_or_else(|| FlavorError::Signature(format!("tensor spec without shape: {v}")))?
        .iter()
        .map(|d| {
            d.as_i64()
                .ok_or_else(|| FlavorError::Signature(format!("shape entry {d} is not an integer")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TensorSpec {
        name: v.get("name").and_then(Value::as_str).map(str::to_string),
        dtype,
        dtype_name: dtype_name.to_string(),
        shape,
    })
}

/// A model signature: inputs, outputs and optional inference params.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Signature {
    /// Input schema.
    pub inputs: Option<Schema>,
    /// Output schema.
    pub outputs: Option<Schema>,
    /// Params schema (kept as MLflow's JSON list).
    pub params: Option<Value>,
}

impl Signature {
    /// A signature with inputs and outputs.
    pub fn new(inputs: Schema, outputs: Schema) -> Signature {
        Signature {
            inputs: Some(inputs),
            outputs: Some(outputs),
            params: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mlflow_column_schema() {
        let s = Schema::from_json(
            r#"[{"type": "double", "name": "sepal_length", "required": true}, {"type": "long", "name": "n"}]"#,
        )
        .unwrap();
        let Schema::Columns(cols) = &s else {
            panic!("{s:?}")
        };
        assert_eq!(cols[0].name.as_deref(), Some("sepal_length"));
        assert_eq!(cols[1].ty, ColumnType::Long);
        assert!(cols[1].required);
        assert_eq!(Schema::from_json(&s.to_json()).unwrap(), s);
    }

    #[test]
    fn parses_mlflow_tensor_schema() {
        let s = Schema::from_json(
            r#"[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}, "name": "X"}]"#,
        )
        .unwrap();
        let Schema::Tensors(ts) = &s else {
            panic!("{s:?}")
        };
        assert_eq!(ts[0].dtype, DType::F32);
        assert_eq!(ts[0].shape, vec![-1, 4]);
        assert_eq!(Schema::from_json(&s.to_json()).unwrap(), s);
    }

    #[test]
    fn rejects_bad_schemas() {
        assert!(Schema::from_json("{").is_err());
        assert!(Schema::from_json(r#"{"type": "double"}"#).is_err());
        assert!(Schema::from_json(r#"[{"name": "x"}]"#).is_err());
        assert!(Schema::from_json(
            r#"[{"type": "tensor", "tensor-spec": {"dtype": "complex128", "shape": [-1]}}]"#
        )
        .is_err());
        assert!(Schema::from_json(
            r#"[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1]}}, {"type": "double"}]"#
        )
        .is_err());
    }
}
