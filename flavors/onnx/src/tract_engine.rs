//! The tract engine: an ONNX file optimized once with a symbolic batch dimension, run on the caller's
//! thread.

use std::path::Path;
use std::sync::Arc;

use homeml_flavor::{DType, FlavorError, IoSpec, Model, Tensor, TensorData};
use tract_onnx::pb;
use tract_onnx::prelude::*;

use crate::graph::{self, GraphIo};
use crate::ops::{onnx_framework, OpSet};

/// An ONNX model compiled by tract into a runnable plan. `predict` takes `&self` and may run on several
/// threads at once: each call spawns its own execution state.
pub struct TractModel {
    plan: Arc<TypedRunnableModel>,
    inputs: Vec<IoSpec>,
    outputs: Vec<IoSpec>,
}

impl std::fmt::Debug for TractModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TractModel")
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish()
    }
}

fn invalid(context: &str, e: impl std::fmt::Debug) -> FlavorError {
    FlavorError::InvalidModel(format!("{context}: {e:?}"))
}

fn datum_type(d: DType) -> DatumType {
    match d {
        DType::Bool => DatumType::Bool,
        DType::I32 => DatumType::I32,
        DType::I64 => DatumType::I64,
        DType::F32 => DatumType::F32,
        DType::F64 => DatumType::F64,
        DType::String => DatumType::String,
    }
}

impl TractModel {
    /// Loads and optimizes an `.onnx` file with homeml's operators.
    pub fn load(path: &Path) -> Result<TractModel, FlavorError> {
        TractModel::load_with(path, OpSet::Homeml)
    }

    /// Loads and optimizes an `.onnx` file with the given operator set.
    pub fn load_with(path: &Path, ops: OpSet) -> Result<TractModel, FlavorError> {
        let bytes = std::fs::read(path).map_err(|e| FlavorError::io(path, e))?;
        TractModel::from_bytes(&bytes, ops).map_err(|e| match e {
            FlavorError::InvalidModel(m) => {
                FlavorError::InvalidModel(format!("{}: {m}", path.display()))
            }
            other => other,
        })
    }

    /// Loads and optimizes an ONNX model from its serialized bytes.
    ///
    /// tract can panic on some malformed graphs (found by fuzzing: a mutated tree ensemble panics in
    /// `model_for_proto_model`); such a panic is caught and reported as an invalid model.
    pub fn from_bytes(bytes: &[u8], ops: OpSet) -> Result<TractModel, FlavorError> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            TractModel::build(bytes, ops)
        }))
        .unwrap_or_else(|panic| {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            Err(FlavorError::InvalidModel(format!(
                "tract failed on the model (it panicked: {why})"
            )))
        })
    }

    fn build(bytes: &[u8], ops: OpSet) -> Result<TractModel, FlavorError> {
        let onnx = onnx_framework(ops);
        let proto: pb::ModelProto = onnx
            .proto_model_for_read(&mut &bytes[..])
            .map_err(|e| invalid("not an ONNX model", e))?;
        let io = GraphIo::from_proto(&proto)?;
        let mut model = onnx
            .model_for_proto_model(&proto)
            .map_err(|e| invalid("tract cannot parse the model", e))?;
        let input_count = model
            .input_outlets()
            .map_err(|e| invalid("inputs", e))?
            .len();
        if input_count != io.inputs.len() {
            return Err(FlavorError::InvalidModel(format!(
                "tract sees {input_count} inputs, the graph declares {}",
                io.inputs.len()
            )));
        }
        for (ix, spec) in io.inputs.iter().enumerate() {
            let dims: Vec<TDim> = spec
                .dims
                .iter()
                .enumerate()
                .map(|(d, dim)| match dim {
                    graph::Dim::Fixed(v) => v.to_dim(),
                    graph::Dim::Param(p) => model.sym(p).to_dim(),
                    graph::Dim::Unknown if d == 0 => model.sym("N").to_dim(),
                    graph::Dim::Unknown => model.sym(&format!("{}_{d}", spec.io.name)).to_dim(),
                })
                .collect();
            let fact = InferenceFact::dt_shape(datum_type(spec.io.dtype), dims);
            model
                .set_input_fact(ix, fact)
                .map_err(|e| invalid("input fact", e))?;
        }
        let typed = model
            .into_optimized()
            .map_err(|e| invalid("tract cannot optimize the model", e))?;
        let mut outputs = io.outputs_io();
        for (ix, out) in outputs.iter_mut().enumerate() {
            let outlet = typed
                .output_outlets()
                .map_err(|e| invalid("outputs", e))?
                .get(ix)
                .copied()
                .ok_or_else(|| FlavorError::InvalidModel(format!("output {ix} is missing")))?;
            let fact = typed
                .outlet_fact(outlet)
                .map_err(|e| invalid("output fact", e))?;
            if out.shape.is_empty() {
                out.shape = fact
                    .shape
                    .iter()
                    .map(|d| d.as_i64().unwrap_or(-1))
                    .collect();
            }
            // The graph's declared type wins; tract may compute e.g. int64 labels as TDim, which
            // `predict` casts back.
            if graph::dtype_of_datum(fact.datum_type).is_none()
                && fact.datum_type != DatumType::TDim
            {
                return Err(FlavorError::InvalidModel(format!(
                    "output {} has element type {:?}, which homeml does not serve",
                    out.name, fact.datum_type
                )));
            }
        }
        let plan = typed
            .into_runnable()
            .map_err(|e| invalid("tract cannot plan the model", e))?;
        Ok(TractModel {
            plan,
            inputs: io.inputs.into_iter().map(|i| i.io).collect(),
            outputs,
        })
    }
}

impl TractModel {
    /// The optimized plan's nodes in evaluation order, each as `name: op` (for tests and diagnostics:
    /// which operator implementation tract kept for each node).
    pub fn plan_ops(&self) -> Vec<String> {
        let model = self.plan.model();
        self.plan
            .order_without_consts()
            .iter()
            .map(|&id| {
                let node = &model.nodes()[id];
                format!("{}: {}", node.name, node.op().name())
            })
            .collect()
    }
}

/// Converts `t` to the input's dtype and checks its rank and fixed dimensions.
pub(crate) fn check_input(t: Tensor, spec: &IoSpec) -> Result<Tensor, FlavorError> {
    let t = if t.dtype() != spec.dtype {
        t.cast(spec.dtype)
            .map_err(|e| FlavorError::InvalidInput(format!("input {:?}: {e}", spec.name)))?
    } else {
        t
    };
    if t.shape().len() != spec.shape.len() {
        return Err(FlavorError::InvalidInput(format!(
            "input {:?} has shape {:?}; the model expects rank {} ({:?})",
            spec.name,
            t.shape(),
            spec.shape.len(),
            spec.shape
        )));
    }
    for (axis, (&got, &want)) in t.shape().iter().zip(&spec.shape).enumerate() {
        if want >= 0 && got as i64 != want {
            return Err(FlavorError::InvalidInput(format!(
                "input {:?} dimension {axis} is {got}; the model expects {want}",
                spec.name
            )));
        }
    }
    Ok(t)
}

fn to_tract(t: Tensor, spec: &IoSpec) -> Result<TValue, FlavorError> {
    let (shape, data) = check_input(t, spec)?.into_parts();
    let dim = tract_ndarray::IxDyn(&shape);
    let shape_err = |e: tract_ndarray::ShapeError| FlavorError::InvalidInput(e.to_string());
    let tensor: tract_onnx::prelude::Tensor = match data {
        TensorData::F32(v) => tract_ndarray::ArrayD::from_shape_vec(dim, v)
            .map_err(shape_err)?
            .into(),
        TensorData::F64(v) => tract_ndarray::ArrayD::from_shape_vec(dim, v)
            .map_err(shape_err)?
            .into(),
        TensorData::I64(v) => tract_ndarray::ArrayD::from_shape_vec(dim, v)
            .map_err(shape_err)?
            .into(),
        TensorData::I32(v) => tract_ndarray::ArrayD::from_shape_vec(dim, v)
            .map_err(shape_err)?
            .into(),
        TensorData::Bool(v) => tract_ndarray::ArrayD::from_shape_vec(dim, v)
            .map_err(shape_err)?
            .into(),
        TensorData::String(v) => tract_ndarray::ArrayD::from_shape_vec(dim, v)
            .map_err(shape_err)?
            .into(),
    };
    Ok(tensor.into_tvalue())
}

fn from_tract(v: TValue, spec: &IoSpec) -> Result<Tensor, FlavorError> {
    let name = &spec.name;
    let engine = |e: TractError| FlavorError::Engine(format!("output {name:?}: {e:?}"));
    let mut t = v.into_tensor();
    let want = datum_type(spec.dtype);
    if t.datum_type() != want {
        t = t.cast_to_dt(want).map_err(engine)?.into_owned();
    }
    let shape = t.shape().to_vec();
    let data = match t.datum_type() {
        DatumType::F32 => TensorData::F32(plain::<f32>(&t).map_err(engine)?),
        DatumType::F64 => TensorData::F64(plain::<f64>(&t).map_err(engine)?),
        DatumType::I64 => TensorData::I64(plain::<i64>(&t).map_err(engine)?),
        DatumType::I32 => TensorData::I32(plain::<i32>(&t).map_err(engine)?),
        DatumType::Bool => TensorData::Bool(plain::<bool>(&t).map_err(engine)?),
        DatumType::String => TensorData::String(plain::<String>(&t).map_err(engine)?),
        DatumType::F16 => {
            let c = t.cast_to::<f32>().map_err(engine)?;
            TensorData::F32(plain::<f32>(&c).map_err(engine)?)
        }
        DatumType::I8 | DatumType::I16 | DatumType::U8 | DatumType::U16 => {
            let c = t.cast_to::<i32>().map_err(engine)?;
            TensorData::I32(plain::<i32>(&c).map_err(engine)?)
        }
        DatumType::U32 | DatumType::U64 => {
            let c = t.cast_to::<i64>().map_err(engine)?;
            TensorData::I64(plain::<i64>(&c).map_err(engine)?)
        }
        other => {
            return Err(FlavorError::Engine(format!(
                "output {name:?} has element type {other:?}, which homeml does not serve"
            )))
        }
    };
    Ok(Tensor::new(shape, data)?)
}

fn plain<D: Datum + Clone>(t: &tract_onnx::prelude::Tensor) -> TractResult<Vec<D>> {
    Ok(t.try_as_plain_ram()?.as_slice::<D>()?.to_vec())
}

impl Model for TractModel {
    fn inputs(&self) -> &[IoSpec] {
        &self.inputs
    }

    fn outputs(&self) -> &[IoSpec] {
        &self.outputs
    }

    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError> {
        if inputs.len() != self.inputs.len() {
            return Err(FlavorError::InvalidInput(format!(
                "the model takes {} input(s), got {}",
                self.inputs.len(),
                inputs.len()
            )));
        }
        let values = inputs
            .into_iter()
            .zip(&self.inputs)
            .map(|(t, spec)| to_tract(t, spec))
            .collect::<Result<TVec<_>, _>>()?;
        let results = self
            .plan
            .run(values)
            .map_err(|e| FlavorError::Engine(format!("{e:?}")))?;
        results
            .into_iter()
            .zip(&self.outputs)
            .map(|(v, spec)| from_tract(v, spec))
            .collect()
    }
}
