//! Typed, row-major, batch-first tensors.
//!
//! The first dimension of every tensor that crosses the [`crate::Model`] trait is the batch (rows).

use std::fmt;

/// Element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// Booleans.
    Bool,
    /// 32-bit signed integers.
    I32,
    /// 64-bit signed integers.
    I64,
    /// 32-bit floats.
    F32,
    /// 64-bit floats.
    F64,
    /// UTF-8 strings.
    String,
}

impl DType {
    /// The numpy dtype name MLflow uses in tensor signatures (`float32`, `int64`, `bool`, `str`).
    pub fn numpy_name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::String => "str",
        }
    }

    /// Parses a numpy dtype name as written in MLflow tensor specs.
    pub fn from_numpy_name(name: &str) -> Option<DType> {
        Some(match name {
            "bool" => DType::Bool,
            "int8" | "int16" | "int32" | "uint8" | "uint16" => DType::I32,
            "int64" | "uint32" | "uint64" => DType::I64,
            "float16" | "float32" => DType::F32,
            "float64" | "float" | "double" => DType::F64,
            "str" | "object" | "string" | "bytes" => DType::String,
            _ => return None,
        })
    }

    /// The KServe V2 datatype name (`FP32`, `INT64`, `BOOL`, `BYTES`).
    pub fn v2_name(self) -> &'static str {
        match self {
            DType::Bool => "BOOL",
            DType::I32 => "INT32",
            DType::I64 => "INT64",
            DType::F32 => "FP32",
            DType::F64 => "FP64",
            DType::String => "BYTES",
        }
    }

    /// True for the float types.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    /// True for the integer types.
    pub fn is_int(self) -> bool {
        matches!(self, DType::I32 | DType::I64)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.numpy_name())
    }
}

/// The elements of a tensor, row-major.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    /// Booleans.
    Bool(Vec<bool>),
    /// 32-bit signed integers.
    I32(Vec<i32>),
    /// 64-bit signed integers.
    I64(Vec<i64>),
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 64-bit floats.
    F64(Vec<f64>),
    /// Strings.
    String(Vec<String>),
}

macro_rules! each_data {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            TensorData::Bool($v) => $body,
            TensorData::I32($v) => $body,
            TensorData::I64($v) => $body,
            TensorData::F32($v) => $body,
            TensorData::F64($v) => $body,
            TensorData::String($v) => $body,
        }
    };
}

impl TensorData {
    /// Number of elements.
    pub fn len(&self) -> usize {
        each_data!(self, v => v.len())
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            TensorData::Bool(_) => DType::Bool,
            TensorData::I32(_) => DType::I32,
            TensorData::I64(_) => DType::I64,
            TensorData::F32(_) => DType::F32,
            TensorData::F64(_) => DType::F64,
            TensorData::String(_) => DType::String,
        }
    }

    /// An empty buffer of `dtype` with room for `capacity` elements.
    pub fn with_capacity(dtype: DType, capacity: usize) -> TensorData {
        match dtype {
            DType::Bool => TensorData::Bool(Vec::with_capacity(capacity)),
            DType::I32 => TensorData::I32(Vec::with_capacity(capacity)),
            DType::I64 => TensorData::I64(Vec::with_capacity(capacity)),
            DType::F32 => TensorData::F32(Vec::with_capacity(capacity)),
            DType::F64 => TensorData::F64(Vec::with_capacity(capacity)),
            DType::String => TensorData::String(Vec::with_capacity(capacity)),
        }
    }

    fn slice(&self, start: usize, end: usize) -> TensorData {
        match self {
            TensorData::Bool(v) => TensorData::Bool(v[start..end].to_vec()),
            TensorData::I32(v) => TensorData::I32(v[start..end].to_vec()),
            TensorData::I64(v) => TensorData::I64(v[start..end].to_vec()),
            TensorData::F32(v) => TensorData::F32(v[start..end].to_vec()),
            TensorData::F64(v) => TensorData::F64(v[start..end].to_vec()),
            TensorData::String(v) => TensorData::String(v[start..end].to_vec()),
        }
    }

    /// Appends `other`'s elements; both must have the same dtype.
    fn extend_from(&mut self, other: &TensorData) -> Result<(), TensorError> {
        match (self, other) {
            (TensorData::Bool(a), TensorData::Bool(b)) => a.extend_from_slice(b),
            (TensorData::I32(a), TensorData::I32(b)) => a.extend_from_slice(b),
            (TensorData::I64(a), TensorData::I64(b)) => a.extend_from_slice(b),
            (TensorData::F32(a), TensorData::F32(b)) => a.extend_from_slice(b),
            (TensorData::F64(a), TensorData::F64(b)) => a.extend_from_slice(b),
            (TensorData::String(a), TensorData::String(b)) => a.extend_from_slice(b),
            (a, b) => {
                return Err(TensorError::DTypeMismatch {
                    expected: a.dtype(),
                    found: b.dtype(),
                })
            }
        }
        Ok(())
    }
}

/// Errors building or reshaping tensors.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TensorError {
    /// Shape and element count disagree.
    #[error("shape {shape:?} needs {expected} elements, got {found}")]
    ShapeMismatch {
        /// The declared shape.
        shape: Vec<usize>,
        /// Product of the shape.
        expected: usize,
        /// Elements present.
        found: usize,
    },
    /// Two tensors that must share a dtype do not.
    #[error("expected dtype {expected}, found {found}")]
    DTypeMismatch {
        /// The dtype wanted.
        expected: DType,
        /// The dtype present.
        found: DType,
    },
    /// A value cannot be converted to the dtype wanted.
    #[error("cannot convert {from} to {to}: {reason}")]
    Cast {
        /// Source dtype.
        from: DType,
        /// Target dtype.
        to: DType,
        /// Why.
        reason: String,
    },
    /// Row concatenation of tensors whose non-batch dimensions differ.
    #[error("cannot stack rows of shape {a:?} and {b:?}")]
    RowShapeMismatch {
        /// First shape.
        a: Vec<usize>,
        /// Second shape.
        b: Vec<usize>,
    },
}

/// A typed, row-major tensor. The first dimension is the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: TensorData,
}

impl Tensor {
    /// Builds a tensor, checking that `shape` fits the number of elements.
    pub fn new(shape: Vec<usize>, data: TensorData) -> Result<Tensor, TensorError> {
        let expected: usize = shape.iter().product();
        if expected != data.len() {
            return Err(TensorError::ShapeMismatch {
                shape,
                expected,
                found: data.len(),
            });
        }
        Ok(Tensor { shape, data })
    }

    /// A 2-D f32 tensor from a row-major buffer.
    pub fn f32_matrix(rows: usize, cols: usize, data: Vec<f32>) -> Result<Tensor, TensorError> {
        Tensor::new(vec![rows, cols], TensorData::F32(data))
    }

    /// A 2-D f64 tensor from a row-major buffer.
    pub fn f64_matrix(rows: usize, cols: usize, data: Vec<f64>) -> Result<Tensor, TensorError> {
        Tensor::new(vec![rows, cols], TensorData::F64(data))
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The elements.
    pub fn data(&self) -> &TensorData {
        &self.data
    }

    /// Takes the elements out.
    pub fn into_data(self) -> TensorData {
        self.data
    }

    /// Takes shape and elements out.
    pub fn into_parts(self) -> (Vec<usize>, TensorData) {
        (self.shape, self.data)
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Rows in the batch: the first dimension (1 for a scalar).
    pub fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }

    /// Elements per row: the product of the non-batch dimensions.
    pub fn row_len(&self) -> usize {
        self.shape.iter().skip(1).product()
    }

    /// Rows `start..end` as a new tensor. Panics if the range is out of bounds (a programming error).
    pub fn slice_rows(&self, start: usize, end: usize) -> Tensor {
        let row_len = self.row_len();
        let mut shape = self.shape.clone();
        if shape.is_empty() {
            shape.push(1);
        }
        shape[0] = end - start;
        Tensor {
            shape,
            data: self.data.slice(start * row_len, end * row_len),
        }
    }

    /// Stacks tensors along the batch dimension. All must share dtype and non-batch dimensions.
    pub fn concat_rows(parts: &[&Tensor]) -> Result<Tensor, TensorError> {
        let Some(first) = parts.first() else {
            return Err(TensorError::ShapeMismatch {
                shape: vec![],
                expected: 1,
                found: 0,
            });
        };
        if parts.len() == 1 {
            return Ok((*first).clone());
        }
        let total: usize = parts.iter().map(|t| t.len()).sum();
        let mut data = TensorData::with_capacity(first.dtype(), total);
        let mut rows = 0;
        for part in parts {
            if part.shape.get(1..) != first.shape.get(1..) {
                return Err(TensorError::RowShapeMismatch {
                    a: first.shape.clone(),
                    b: part.shape.clone(),
                });
            }
            data.extend_from(&part.data)?;
            rows += part.rows();
        }
        let mut shape = first.shape.clone();
        if shape.is_empty() {
            shape.push(rows);
        } else {
            shape[0] = rows;
        }
        Ok(Tensor { shape, data })
    }

    /// Same elements, another shape with the same element count.
    pub fn reshape(self, shape: Vec<usize>) -> Result<Tensor, TensorError> {
        Tensor::new(shape, self.data)
    }

    /// Converts the elements to `to`. Integers and bools widen to floats; floats become integers only when
    /// they are whole numbers in range; nothing converts to or from strings.
    pub fn cast(self, to: DType) -> Result<Tensor, TensorError> {
        let from = self.dtype();
        if from == to {
            return Ok(self);
        }
        let err = |reason: &str| TensorError::Cast {
            from,
            to,
            reason: reason.to_string(),
        };
        let as_f64: Vec<f64> = match &self.data {
            TensorData::Bool(v) => v.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect(),
            TensorData::I32(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::I64(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::F32(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::F64(v) => v.clone(),
            TensorData::String(_) => return Err(err("strings are not numbers")),
        };
        let data = match to {
            DType::F64 => TensorData::F64(as_f64),
            DType::F32 => TensorData::F32(as_f64.iter().map(|&x| x as f32).collect()),
            DType::I64 | DType::I32 => {
                if from.is_float() && as_f64.iter().any(|x| x.fract() != 0.0 || !x.is_finite()) {
                    return Err(err("the values are not whole numbers"));
                }
                if to == DType::I64 {
                    if let TensorData::I32(v) = &self.data {
                        TensorData::I64(v.iter().map(|&x| x as i64).collect())
                    } else {
                        TensorData::I64(as_f64.iter().map(|&x| x as i64).collect())
                    }
                } else {
                    let mut out = Vec::with_capacity(as_f64.len());
                    for &x in &as_f64 {
                        if x < i32::MIN as f64 || x > i32::MAX as f64 {
                            return Err(err("a value is out of the int32 range"));
                        }
                        out.push(x as i32);
                    }
                    TensorData::I32(out)
                }
            }
            DType::Bool => {
                if as_f64.iter().any(|&x| x != 0.0 && x != 1.0) {
                    return Err(err("only 0 and 1 convert to bool"));
                }
                TensorData::Bool(as_f64.iter().map(|&x| x != 0.0).collect())
            }
            DType::String => return Err(err("numbers do not convert to strings")),
        };
        Ok(Tensor {
            shape: self.shape,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_checks_element_count() {
        assert!(Tensor::new(vec![2, 3], TensorData::F32(vec![0.0; 6])).is_ok());
        let err = Tensor::new(vec![2, 3], TensorData::F32(vec![0.0; 5])).unwrap_err();
        assert!(matches!(err, TensorError::ShapeMismatch { found: 5, .. }));
    }

    #[test]
    fn slice_and_concat_round_trip() {
        let t = Tensor::f32_matrix(3, 2, vec![1., 2., 3., 4., 5., 6.]).unwrap();
        let a = t.slice_rows(0, 1);
        let b = t.slice_rows(1, 3);
        assert_eq!(a.shape(), &[1, 2]);
        assert_eq!(b.data(), &TensorData::F32(vec![3., 4., 5., 6.]));
        assert_eq!(Tensor::concat_rows(&[&a, &b]).unwrap(), t);
    }

    #[test]
    fn concat_refuses_mixed_row_shapes_and_dtypes() {
        let a = Tensor::f32_matrix(1, 2, vec![1., 2.]).unwrap();
        let b = Tensor::f32_matrix(1, 3, vec![1., 2., 3.]).unwrap();
        assert!(matches!(
            Tensor::concat_rows(&[&a, &b]),
            Err(TensorError::RowShapeMismatch { .. })
        ));
        let c = Tensor::f64_matrix(1, 2, vec![1., 2.]).unwrap();
        assert!(matches!(
            Tensor::concat_rows(&[&a, &c]),
            Err(TensorError::DTypeMismatch { .. })
        ));
    }

    #[test]
    fn cast_widens_ints_and_refuses_fractions() {
        let t = Tensor::new(vec![2], TensorData::I64(vec![1, 2])).unwrap();
        assert_eq!(
            t.cast(DType::F32).unwrap().data(),
            &TensorData::F32(vec![1., 2.])
        );
        let f = Tensor::new(vec![2], TensorData::F64(vec![1.0, 2.5])).unwrap();
        assert!(f.cast(DType::I64).is_err());
        let w = Tensor::new(vec![1], TensorData::F64(vec![3.0])).unwrap();
        assert_eq!(
            w.cast(DType::I32).unwrap().data(),
            &TensorData::I32(vec![3])
        );
    }

    #[test]
    fn numpy_names_round_trip() {
        for d in [
            DType::Bool,
            DType::I32,
            DType::I64,
            DType::F32,
            DType::F64,
            DType::String,
        ] {
            assert_eq!(DType::from_numpy_name(d.numpy_name()), Some(d));
        }
    }
}
