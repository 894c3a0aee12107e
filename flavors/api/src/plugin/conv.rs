//! Conversions between [`Tensor`] and the ABI's [`HmlTensor`] views, used by both sides.

use std::ffi::c_void;

use super::abi::{dtype_code, dtype_from_code, HmlStr, HmlTensor};
use crate::tensor::{DType, Tensor, TensorData};

/// Reads a borrowed ABI string.
///
/// # Safety
/// `s.ptr` must point to `s.len` readable bytes that stay valid and unchanged for `'a` (or `s.len` is 0).
pub(crate) unsafe fn read_str<'a>(s: HmlStr) -> Result<&'a str, String> {
    // SAFETY: the caller guarantees `len` readable bytes at `ptr`; see `raw_slice`.
    let bytes = unsafe { raw_slice::<u8>(s.ptr, s.len) }?;
    std::str::from_utf8(bytes).map_err(|e| format!("a string is not UTF-8: {e}"))
}

/// A slice from a pointer and a length, refusing null, misaligned or oversized ones.
///
/// # Safety
/// When the checks pass, `ptr` must point to `len` initialized values of `T` valid for `'a`.
pub(crate) unsafe fn raw_slice<'a, T>(ptr: *const T, len: usize) -> Result<&'a [T], String> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(format!("a null pointer to {len} elements"));
    }
    if !(ptr as usize).is_multiple_of(std::mem::align_of::<T>()) {
        return Err("a misaligned buffer".into());
    }
    if len
        .checked_mul(std::mem::size_of::<T>())
        .is_none_or(|n| n > isize::MAX as usize)
    {
        return Err(format!("an impossible buffer length {len}"));
    }
    // SAFETY: non-null, aligned, size within isize::MAX (checked above); the caller guarantees the
    // memory holds `len` initialized `T` for `'a`.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// An [`HmlTensor`] view of a [`Tensor`], with the storage the view points into.
/// The view is valid as long as this value and the tensor live.
pub(crate) struct TensorExport {
    _shape: Vec<i64>,
    _strings: Vec<HmlStr>,
    /// The view.
    pub raw: HmlTensor,
}

impl TensorExport {
    /// Views `t` (no copy of the numbers; strings get an array of [`HmlStr`]).
    pub(crate) fn new(t: &Tensor) -> TensorExport {
        let shape: Vec<i64> = t.shape().iter().map(|&d| d as i64).collect();
        let mut strings = Vec::new();
        let data: *const c_void = match t.data() {
            TensorData::Bool(v) => v.as_ptr().cast(),
            TensorData::I32(v) => v.as_ptr().cast(),
            TensorData::I64(v) => v.as_ptr().cast(),
            TensorData::F32(v) => v.as_ptr().cast(),
            TensorData::F64(v) => v.as_ptr().cast(),
            TensorData::String(v) => {
                strings = v.iter().map(|s| HmlStr::new(s)).collect();
                strings.as_ptr().cast()
            }
        };
        let raw = HmlTensor {
            dtype: dtype_code(t.dtype()),
            ndim: shape.len(),
            shape: shape.as_ptr(),
            data,
            len: t.len(),
        };
        TensorExport {
            _shape: shape,
            _strings: strings,
            raw,
        }
    }
}

/// Copies an [`HmlTensor`] view into a [`Tensor`], checking everything that can be checked.
///
/// # Safety
/// `t.shape` must point to `t.ndim` readable `i64` and `t.data` to `t.len` initialized elements of the
/// type its dtype names (for strings, `t.len` [`HmlStr`] each pointing to readable bytes), all valid for
/// the duration of the call.
pub(crate) unsafe fn import_tensor(t: &HmlTensor) -> Result<Tensor, String> {
    let dtype =
        dtype_from_code(t.dtype).ok_or_else(|| format!("unknown dtype code {}", t.dtype))?;
    // SAFETY: forwarded from the caller's contract on `shape`/`ndim`.
    let dims = unsafe { raw_slice::<i64>(t.shape, t.ndim) }?;
    let mut shape = Vec::with_capacity(dims.len());
    let mut count: usize = 1;
    for &d in dims {
        let d = usize::try_from(d).map_err(|_| format!("a negative dimension in {dims:?}"))?;
        count = count
            .checked_mul(d)
            .ok_or_else(|| format!("shape {dims:?} overflows"))?;
        shape.push(d);
    }
    if count != t.len {
        return Err(format!(
            "shape {dims:?} needs {count} elements, the buffer has {}",
            t.len
        ));
    }
    // SAFETY (all arms): the caller guarantees `len` initialized elements of the dtype's type at `data`.
    let data = match dtype {
        DType::Bool => TensorData::Bool(
            unsafe { raw_slice::<u8>(t.data.cast(), t.len) }?
                .iter()
                .map(|&b| b != 0)
                .collect(),
        ),
        DType::I32 => TensorData::I32(unsafe { raw_slice::<i32>(t.data.cast(), t.len) }?.to_vec()),
        DType::I64 => TensorData::I64(unsafe { raw_slice::<i64>(t.data.cast(), t.len) }?.to_vec()),
        DType::F32 => TensorData::F32(unsafe { raw_slice::<f32>(t.data.cast(), t.len) }?.to_vec()),
        DType::F64 => TensorData::F64(unsafe { raw_slice::<f64>(t.data.cast(), t.len) }?.to_vec()),
        DType::String => {
            let strs = unsafe { raw_slice::<HmlStr>(t.data.cast(), t.len) }?;
            let mut out = Vec::with_capacity(strs.len());
            for s in strs {
                out.push(unsafe { read_str(*s) }?.to_string());
            }
            TensorData::String(out)
        }
    };
    Tensor::new(shape, data).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensors_round_trip_through_views() {
        let cases = vec![
            Tensor::f32_matrix(2, 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap(),
            Tensor::f64_matrix(1, 3, vec![1.5, -2.0, 0.0]).unwrap(),
            Tensor::new(vec![3], TensorData::Bool(vec![true, false, true])).unwrap(),
            Tensor::new(vec![2, 1], TensorData::I64(vec![7, -7])).unwrap(),
            Tensor::new(vec![1, 2], TensorData::I32(vec![1, 2])).unwrap(),
            Tensor::new(
                vec![2],
                TensorData::String(vec!["a".into(), "héllo".into()]),
            )
            .unwrap(),
            Tensor::new(vec![0, 4], TensorData::F32(vec![])).unwrap(),
        ];
        for t in cases {
            let view = TensorExport::new(&t);
            // SAFETY: the view points into `t` and `view`, both alive.
            let back = unsafe { import_tensor(&view.raw) }.unwrap();
            assert_eq!(back, t);
        }
    }

    #[test]
    fn refuses_bad_views() {
        let t = Tensor::f32_matrix(2, 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let view = TensorExport::new(&t);
        let mut bad = view.raw;
        bad.len = 3;
        // SAFETY: the pointers are valid for at least the claimed sizes (3 < 4 elements).
        assert!(unsafe { import_tensor(&bad) }
            .unwrap_err()
            .contains("needs 4"));
        let mut bad = view.raw;
        bad.dtype = 99;
        // SAFETY: rejected before any read.
        assert!(unsafe { import_tensor(&bad) }.unwrap_err().contains("99"));
        let mut bad = view.raw;
        bad.data = std::ptr::null();
        // SAFETY: a null data pointer is checked before use.
        assert!(unsafe { import_tensor(&bad) }.unwrap_err().contains("null"));
        let neg = [-1i64, 2];
        let mut bad = view.raw;
        bad.shape = neg.as_ptr();
        // SAFETY: `neg` holds `ndim` = 2 dimensions.
        assert!(unsafe { import_tensor(&bad) }
            .unwrap_err()
            .contains("negative"));
    }
}
