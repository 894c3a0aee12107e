//! KServe V2 tensor datatypes: names, element sizes in binary form, and the dtype each is read into.

use homeml_flavor::DType;

/// A KServe V2 tensor datatype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datatype {
    /// BOOL
    Bool,
    /// UINT8
    Uint8,
    /// UINT16
    Uint16,
    /// UINT32
    Uint32,
    /// UINT64
    Uint64,
    /// INT8
    Int8,
    /// INT16
    Int16,
    /// INT32
    Int32,
    /// INT64
    Int64,
    /// FP16
    Fp16,
    /// BF16 (Triton)
    Bf16,
    /// FP32
    Fp32,
    /// FP64
    Fp64,
    /// BYTES
    Bytes,
}

impl Datatype {
    /// Parses a datatype name (`FP32`, ...).
    pub fn parse(name: &str) -> Option<Datatype> {
        Some(match name {
            "BOOL" => Datatype::Bool,
            "UINT8" => Datatype::Uint8,
            "UINT16" => Datatype::Uint16,
            "UINT32" => Datatype::Uint32,
            "UINT64" => Datatype::Uint64,
            "INT8" => Datatype::Int8,
            "INT16" => Datatype::Int16,
            "INT32" => Datatype::Int32,
            "INT64" => Datatype::Int64,
            "FP16" => Datatype::Fp16,
            "BF16" => Datatype::Bf16,
            "FP32" => Datatype::Fp32,
            "FP64" => Datatype::Fp64,
            "BYTES" => Datatype::Bytes,
            _ => return None,
        })
    }

    /// The datatype name.
    pub fn name(self) -> &'static str {
        match self {
            Datatype::Bool => "BOOL",
            Datatype::Uint8 => "UINT8",
            Datatype::Uint16 => "UINT16",
            Datatype::Uint32 => "UINT32",
            Datatype::Uint64 => "UINT64",
            Datatype::Int8 => "INT8",
            Datatype::Int16 => "INT16",
            Datatype::Int32 => "INT32",
            Datatype::Int64 => "INT64",
            Datatype::Fp16 => "FP16",
            Datatype::Bf16 => "BF16",
            Datatype::Fp32 => "FP32",
            Datatype::Fp64 => "FP64",
            Datatype::Bytes => "BYTES",
        }
    }

    /// Bytes per element in binary form (`None` for BYTES, which is length-prefixed).
    pub fn size(self) -> Option<usize> {
        Some(match self {
            Datatype::Bool | Datatype::Uint8 | Datatype::Int8 => 1,
            Datatype::Uint16 | Datatype::Int16 | Datatype::Fp16 | Datatype::Bf16 => 2,
            Datatype::Uint32 | Datatype::Int32 | Datatype::Fp32 => 4,
            Datatype::Uint64 | Datatype::Int64 | Datatype::Fp64 => 8,
            Datatype::Bytes => return None,
        })
    }

    /// The homeml dtype values of this datatype are read into.
    pub fn dtype(self) -> DType {
        match self {
            Datatype::Bool => DType::Bool,
            Datatype::Uint8
            | Datatype::Uint16
            | Datatype::Int8
            | Datatype::Int16
            | Datatype::Int32 => DType::I32,
            Datatype::Uint32 | Datatype::Uint64 | Datatype::Int64 => DType::I64,
            Datatype::Fp16 | Datatype::Bf16 | Datatype::Fp32 => DType::F32,
            Datatype::Fp64 => DType::F64,
            Datatype::Bytes => DType::String,
        }
    }
}
