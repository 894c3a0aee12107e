//! Triton's binary tensor extension for KServe V2 over HTTP.
//!
//! A request may carry tensors as raw bytes after its JSON header: the HTTP header
//! `Inference-Header-Content-Length: <n>` says the first `n` bytes of the body are the JSON, and each
//! input with a `"parameters": {"binary_data_size": <k>}` takes the next `k` bytes, in input order.
//! Answers put outputs asked for with `"binary_data": true` (or all outputs with the request parameter
//! `"binary_data_output": true`) after the JSON the same way, with the same header.
//!
//! Element layout: little-endian, row-major; BOOL is one byte (0 or 1); BYTES is, per element, a 4-byte
//! little-endian length followed by the bytes.

use homeml_flavor::{Tensor, TensorData};

use super::datatype::Datatype;
use crate::error::ApiError;

/// The request and response header that holds the JSON part's length.
pub const HEADER_LENGTH: &str = "inference-header-content-length";

/// Converts IEEE 754 half-precision bits to f32.
pub fn f16_to_f32(bits: u16) -> f32 {
    let sign = ((bits >> 15) & 1) as u32;
    let exp = ((bits >> 10) & 0x1f) as u32;
    let frac = (bits & 0x3ff) as u32;
    let out = match (exp, frac) {
        (0, 0) => sign << 31,
        (0, _) => {
            // Subnormal: normalise.
            let mut e: i32 = -14;
            let mut f = frac;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            f &= 0x3ff;
            (sign << 31) | (((e + 127) as u32) << 23) | (f << 13)
        }
        (0x1f, 0) => (sign << 31) | 0x7f80_0000,
        (0x1f, _) => (sign << 31) | 0x7fc0_0000 | (frac << 13),
        _ => (sign << 31) | ((exp + 127 - 15) << 23) | (frac << 13),
    };
    f32::from_bits(out)
}

/// Converts bfloat16 bits to f32.
pub fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits((bits as u32) << 16)
}

fn chunks<const N: usize>(bytes: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    bytes.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    })
}

/// Decodes the raw bytes of one input of `datatype` and `shape`; `what` names it in errors.
pub fn decode_tensor(
    datatype: Datatype,
    shape: &[usize],
    bytes: &[u8],
    what: &str,
) -> Result<Tensor, ApiError> {
    let count: usize = shape.iter().product();
    let bad = |msg: String| ApiError::BadRequest(format!("{what}: {msg}"));
    if let Some(size) = datatype.size() {
        let expected = count
            .checked_mul(size)
            .ok_or_else(|| bad("shape too large".into()))?;
        if bytes.len() != expected {
            return Err(bad(format!(
                "shape {shape:?} of {} needs {expected} bytes of binary data, got {}",
                datatype.name(),
                bytes.len()
            )));
        }
    }
    let data = match datatype {
        Datatype::Bool => TensorData::Bool(bytes.iter().map(|&b| b != 0).collect()),
        Datatype::Uint8 => TensorData::I32(bytes.iter().map(|&b| b as i32).collect()),
        Datatype::Int8 => TensorData::I32(bytes.iter().map(|&b| b as i8 as i32).collect()),
        Datatype::Uint16 => TensorData::I32(
            chunks::<2>(bytes)
                .map(|c| u16::from_le_bytes(c) as i32)
                .collect(),
        ),
        Datatype::Int16 => TensorData::I32(
            chunks::<2>(bytes)
                .map(|c| i16::from_le_bytes(c) as i32)
                .collect(),
        ),
        Datatype::Int32 => TensorData::I32(chunks::<4>(bytes).map(i32::from_le_bytes).collect()),
        Datatype::Uint32 => TensorData::I64(
            chunks::<4>(bytes)
                .map(|c| u32::from_le_bytes(c) as i64)
                .collect(),
        ),
        Datatype::Int64 => TensorData::I64(chunks::<8>(bytes).map(i64::from_le_bytes).collect()),
        Datatype::Uint64 => {
            let mut v = Vec::with_capacity(count);
            for c in chunks::<8>(bytes) {
                let x = u64::from_le_bytes(c);
                v.push(
                    i64::try_from(x).map_err(|_| bad(format!("UINT64 value {x} exceeds INT64")))?,
                );
            }
            TensorData::I64(v)
        }
        Datatype::Fp16 => TensorData::F32(
            chunks::<2>(bytes)
                .map(|c| f16_to_f32(u16::from_le_bytes(c)))
                .collect(),
        ),
        Datatype::Bf16 => TensorData::F32(
            chunks::<2>(bytes)
                .map(|c| bf16_to_f32(u16::from_le_bytes(c)))
                .collect(),
        ),
        Datatype::Fp32 => TensorData::F32(chunks::<4>(bytes).map(f32::from_le_bytes).collect()),
        Datatype::Fp64 => TensorData::F64(chunks::<8>(bytes).map(f64::from_le_bytes).collect()),
        Datatype::Bytes => {
            let mut v = Vec::with_capacity(count);
            let mut rest = bytes;
            while !rest.is_empty() {
                let Some((len, tail)) = rest.split_first_chunk::<4>() else {
                    return Err(bad("truncated BYTES length prefix".into()));
                };
                let len = u32::from_le_bytes(*len) as usize;
                if tail.len() < len {
                    return Err(bad("a BYTES element is longer than the data".into()));
                }
                let (item, tail) = tail.split_at(len);
                let s = std::str::from_utf8(item)
                    .map_err(|_| bad(format!("BYTES element {} is not UTF-8 text", v.len())))?;
                v.push(s.to_string());
                rest = tail;
            }
            if v.len() != count {
                return Err(bad(format!(
                    "shape {shape:?} needs {count} BYTES elements, got {}",
                    v.len()
                )));
            }
            TensorData::String(v)
        }
    };
    Ok(Tensor::new(shape.to_vec(), data)?)
}

/// Appends a tensor's raw bytes (the layout of the module docs).
pub fn encode_tensor(t: &Tensor, out: &mut Vec<u8>) {
    match t.data() {
        TensorData::Bool(v) => out.extend(v.iter().map(|&b| u8::from(b))),
        TensorData::I32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        TensorData::I64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        TensorData::F32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        TensorData::F64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        TensorData::String(v) => {
            for s in v {
                // A string longer than 4 GiB cannot be produced by a model answer; saturate anyway.
                let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(&s.as_bytes()[..len as usize]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
    }

    #[test]
    fn round_trips() {
        let cases = [
            (
                Datatype::Fp32,
                Tensor::f32_matrix(2, 2, vec![1.0, -2.5, 3.0, f32::MAX]).unwrap(),
            ),
            (
                Datatype::Fp64,
                Tensor::f64_matrix(1, 2, vec![1e300, -0.5]).unwrap(),
            ),
            (
                Datatype::Int64,
                Tensor::new(vec![3], TensorData::I64(vec![1, -2, i64::MAX])).unwrap(),
            ),
            (
                Datatype::Int32,
                Tensor::new(vec![2], TensorData::I32(vec![7, -7])).unwrap(),
            ),
            (
                Datatype::Bool,
                Tensor::new(vec![2], TensorData::Bool(vec![true, false])).unwrap(),
            ),
            (
                Datatype::Bytes,
                Tensor::new(vec![2], TensorData::String(vec!["héllo".into(), "".into()])).unwrap(),
            ),
        ];
        for (dt, t) in cases {
            let mut bytes = Vec::new();
            encode_tensor(&t, &mut bytes);
            assert_eq!(
                decode_tensor(dt, t.shape(), &bytes, "x").unwrap(),
                t,
                "{dt:?}"
            );
        }
    }

    #[test]
    fn small_types_widen() {
        let t = decode_tensor(Datatype::Uint8, &[2], &[255, 1], "x").unwrap();
        assert_eq!(t.data(), &TensorData::I32(vec![255, 1]));
        let t = decode_tensor(Datatype::Int8, &[1], &[0xff], "x").unwrap();
        assert_eq!(t.data(), &TensorData::I32(vec![-1]));
        let t = decode_tensor(Datatype::Fp16, &[1], &0x3c00u16.to_le_bytes(), "x").unwrap();
        assert_eq!(t.data(), &TensorData::F32(vec![1.0]));
        let big = u64::MAX.to_le_bytes();
        assert!(decode_tensor(Datatype::Uint64, &[1], &big, "x").is_err());
    }

    #[test]
    fn size_mismatches_are_client_errors() {
        let e = decode_tensor(Datatype::Fp32, &[2, 2], &[0; 12], "input \"X\"").unwrap_err();
        assert!(e.to_string().contains("needs 16 bytes"), "{e}");
        let e = decode_tensor(Datatype::Bytes, &[2], &[1, 0, 0, 0, b'a'], "x").unwrap_err();
        assert!(e.to_string().contains("2 BYTES"), "{e}");
        let e = decode_tensor(Datatype::Bytes, &[1], &[9, 0, 0, 0, b'a'], "x").unwrap_err();
        assert!(matches!(e, ApiError::BadRequest(_)));
        let e = decode_tensor(Datatype::Bytes, &[1], &[1, 0], "x").unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
    }
}
