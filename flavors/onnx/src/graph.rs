//! The inputs and outputs an ONNX graph declares (names, element types, shapes).

use homeml_flavor::{DType, FlavorError, IoSpec};
use tract_onnx::pb;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as DimValue;
use tract_onnx::prelude::DatumType;

/// One dimension of a declared shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    Fixed(i64),
    /// A named symbolic size (`dim_param`).
    Param(String),
    /// No size given.
    Unknown,
}

/// A declared input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphValue {
    /// Name, dtype and shape (-1 for every non-fixed dimension).
    pub io: IoSpec,
    /// The dimensions as declared.
    pub dims: Vec<Dim>,
}

/// The graph's inputs (without initializers) and outputs, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphIo {
    /// Inputs fed at run time.
    pub inputs: Vec<GraphValue>,
    /// Outputs.
    pub outputs: Vec<GraphValue>,
}

/// The homeml dtype of an ONNX `TensorProto.DataType`, when homeml serves it.
pub fn dtype_of_onnx(elem_type: i32) -> Option<DType> {
    Some(match elem_type {
        1 | 10 => DType::F32,      // FLOAT, FLOAT16
        2..=6 => DType::I32,       // UINT8, INT8, UINT16, INT16, INT32
        7 | 12 | 13 => DType::I64, // INT64, UINT32, UINT64
        8 => DType::String,        // STRING
        9 => DType::Bool,          // BOOL
        11 => DType::F64,          // DOUBLE
        _ => return None,
    })
}

/// The homeml dtype of a tract datum type, when homeml serves it.
pub fn dtype_of_datum(dt: DatumType) -> Option<DType> {
    Some(match dt {
        DatumType::F32 | DatumType::F16 => DType::F32,
        DatumType::F64 => DType::F64,
        DatumType::I64 | DatumType::U32 | DatumType::U64 => DType::I64,
        DatumType::I32 | DatumType::I16 | DatumType::I8 | DatumType::U8 | DatumType::U16 => {
            DType::I32
        }
        DatumType::Bool => DType::Bool,
        DatumType::String => DType::String,
        _ => return None,
    })
}

fn value(v: &pb::ValueInfoProto, is_input: bool) -> Result<GraphValue, FlavorError> {
    let tensor = match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(pb::type_proto::Value::TensorType(t)) => t,
        None => {
            return Err(FlavorError::InvalidModel(format!(
                "{} {:?} is not a tensor (sequences and maps are not served; export classifiers \
                 with zipmap=False)",
                if is_input { "input" } else { "output" },
                v.name
            )))
        }
    };
    let dtype = dtype_of_onnx(tensor.elem_type).ok_or_else(|| {
        FlavorError::InvalidModel(format!(
            "{:?} has ONNX element type {}, which homeml does not serve",
            v.name, tensor.elem_type
        ))
    })?;
    let dims: Vec<Dim> = tensor
        .shape
        .as_ref()
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match &d.value {
                    Some(DimValue::DimValue(x)) if *x >= 0 => Dim::Fixed(*x),
                    Some(DimValue::DimParam(p)) if !p.is_empty() => Dim::Param(p.clone()),
                    _ => Dim::Unknown,
                })
                .collect()
        })
        .unwrap_or_default();
    if is_input && tensor.shape.is_none() {
        return Err(FlavorError::InvalidModel(format!(
            "input {:?} declares no shape",
            v.name
        )));
    }
    let shape = dims
        .iter()
        .map(|d| match d {
            Dim::Fixed(x) => *x,
            _ => -1,
        })
        .collect();
    Ok(GraphValue {
        io: IoSpec::new(v.name.clone(), dtype, shape),
        dims,
    })
}

impl GraphIo {
    /// Reads the declared inputs and outputs of a parsed model.
    pub fn from_proto(proto: &pb::ModelProto) -> Result<GraphIo, FlavorError> {
        let graph = proto
            .graph
            .as_ref()
            .ok_or_else(|| FlavorError::InvalidModel("the ONNX model has no graph".into()))?;
        let initializers: std::collections::HashSet<&str> =
            graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let inputs = graph
            .input
            .iter()
            .filter(|i| !initializers.contains(i.name.as_str()))
            .map(|i| value(i, true))
            .collect::<Result<Vec<_>, _>>()?;
        let outputs = graph
            .output
            .iter()
            .map(|o| value(o, false))
            .collect::<Result<Vec<_>, _>>()?;
        if inputs.is_empty() || outputs.is_empty() {
            return Err(FlavorError::InvalidModel(
                "the ONNX graph has no inputs or no outputs".into(),
            ));
        }
        Ok(GraphIo { inputs, outputs })
    }

    /// Reads the declared inputs and outputs of an `.onnx` file.
    pub fn from_file(path: &std::path::Path) -> Result<GraphIo, FlavorError> {
        use tract_onnx::prelude::Framework;
        let bytes = std::fs::read(path).map_err(|e| FlavorError::io(path, e))?;
        let proto = tract_onnx::onnx()
            .proto_model_for_read(&mut &bytes[..])
            .map_err(|e| {
                FlavorError::InvalidModel(format!("{}: not an ONNX model: {e:?}", path.display()))
            })?;
        GraphIo::from_proto(&proto)
    }

    /// The outputs as [`IoSpec`]s.
    pub fn outputs_io(&self) -> Vec<IoSpec> {
        self.outputs.iter().map(|o| o.io.clone()).collect()
    }

    /// The inputs as [`IoSpec`]s.
    pub fn inputs_io(&self) -> Vec<IoSpec> {
        self.inputs.iter().map(|o| o.io.clone()).collect()
    }
}
