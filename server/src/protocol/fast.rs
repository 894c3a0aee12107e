//! Direct decoding of the common JSON request shapes, without building a `serde_json::Value` tree.
//!
//! The hot requests are small numeric batches: MLflow `{"inputs": [[5.1, 3.5, 1.4, 0.2]]}` (or
//! `instances`), the bare list of `/predict`, and KServe V2 numeric tensors (`{"inputs": [{"name",
//! "shape", "datatype", "data": [...]}]}`). For these, the value path parses the whole body into a
//! `Value` (a heap node per number and per list), flattens it into cells, then converts the cells. This
//! module reads the numbers straight into the typed buffer of the dtype the value path would convert
//! them to, in two tiers:
//!
//! 1. `Scan`, a strict byte scanner for the plainest bodies of float inputs (`{"inputs": [[...]]}`, a
//!    bare list, V2 with only `id` and float tensors with `name`/`shape`/`datatype`/`data`). It computes
//!    short decimals exactly and hands the others to the standard library's parser; both round correctly,
//!    as serde_json's `float_roundtrip` parser does, so numbers read bit for bit alike.
//! 2. Serde visitors over serde_json's own parser (same float algorithm, same `1e400` refusal, same `-0`)
//!    for the same shapes with more around them, and for integer inputs, converting each number with the
//!    functions the value path uses (`schema::number_to_f64`, `schema::number_to_i64`).
//!
//! The typed tensor then goes through the same signature checks ([`schema::assemble`], and for V2
//! `v2::decode_request`) as the value path's data.
//!
//! The contract: each `try_*` function answers `Some` only for a request the value path accepts, with an
//! equal result; it answers `None` for anything else, and the caller then runs the value path, which also
//! writes every error message. So errors are the value path's by construction, and the direct decoder
//! only has to recognise what it handles: numbers in regular (non-ragged) lists of up to
//! [`MAX_DIMS`] dimensions, converted to f32, f64, i64 or i32. Everything else gives up: strings, nulls
//! and booleans in the data, records, dicts of named inputs, dataframes, duplicate keys among the keys
//! it reads, BYTES and BOOL tensors, and every error. Keys the serde tier does not read (`params`,
//! unknown keys, V2 `id`/`parameters`/`outputs`) are parsed into `Value`s as the value path parses them,
//! so they are checked and bounded (serde_json's nesting limit) alike.

use std::fmt;

use homeml_flavor::{DType, Tensor, TensorData};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

use super::schema::{self, Data, Payload};
use super::v2::{self, InputData, InputFields, InputList};
use super::{InferInput, ModelInfo, ResponsePlan};

/// The most list dimensions the direct decoder reads (deeper data takes the value path).
pub const MAX_DIMS: usize = 8;

/// Elements reserved up front at most (a guess from the body length; the buffer grows past it).
const MAX_RESERVE: usize = 1 << 16;

/// A typed element buffer: numbers are converted as they are read.
enum Buf {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    /// Numbers kept as read, for V2 `data` met before its input's `datatype` (converted at the end).
    Raw(Vec<Number>),
}

impl Buf {
    /// A buffer for `dtype` (`None` for the dtypes the direct decoder leaves to the value path).
    fn new(dtype: DType, body_len: usize) -> Option<Buf> {
        // Each number takes at least two bytes (a digit and a separator).
        let cap = (body_len / 2).min(MAX_RESERVE);
        Some(match dtype {
            DType::F32 => Buf::F32(Vec::with_capacity(cap)),
            DType::F64 => Buf::F64(Vec::with_capacity(cap)),
            DType::I32 => Buf::I32(Vec::with_capacity(cap)),
            DType::I64 => Buf::I64(Vec::with_capacity(cap)),
            DType::Bool | DType::String => return None,
        })
    }

    /// Appends `n` as `schema::convert_cells` converts a JSON number; false when it would refuse it.
    #[inline]
    fn push(&mut self, n: &Number) -> bool {
        match self {
            Buf::F32(v) => match schema::number_to_f64(n) {
                Some(x) => {
                    v.push(x as f32);
                    true
                }
                None => false,
            },
            Buf::F64(v) => match schema::number_to_f64(n) {
                Some(x) => {
                    v.push(x);
                    true
                }
                None => false,
            },
            Buf::I64(v) => match schema::number_to_i64(n) {
                Ok(x) => {
                    v.push(x);
                    true
                }
                Err(_) => false,
            },
            Buf::Raw(v) => {
                v.push(n.clone());
                true
            }
            Buf::I32(v) => match schema::number_to_i64(n)
                .ok()
                .and_then(|x| i32::try_from(x).ok())
            {
                Some(x) => {
                    v.push(x);
                    true
                }
                None => false,
            },
        }
    }

    /// Appends a float read by [`Scan`] (float buffers only): as `push` appends the same number.
    #[inline]
    fn push_f64(&mut self, x: f64) -> bool {
        match self {
            Buf::F32(v) => v.push(x as f32),
            Buf::F64(v) => v.push(x),
            _ => return false,
        }
        true
    }

    /// The elements (`None` for raw numbers, which [`Buf::convert`] types first).
    fn into_data(self) -> Option<TensorData> {
        Some(match self {
            Buf::F32(v) => TensorData::F32(v),
            Buf::F64(v) => TensorData::F64(v),
            Buf::I32(v) => TensorData::I32(v),
            Buf::I64(v) => TensorData::I64(v),
            Buf::Raw(_) => return None,
        })
    }

    /// The elements as `dtype` (raw numbers are converted now, exactly as they would have been read).
    fn convert(self, dtype: DType) -> Option<TensorData> {
        match self {
            Buf::Raw(numbers) => {
                let mut typed = Buf::new(dtype, 0)?;
                for n in &numbers {
                    if !typed.push(n) {
                        return None;
                    }
                }
                typed.into_data()
            }
            typed => typed.into_data().filter(|d| d.dtype() == dtype),
        }
    }
}

/// A nested list of numbers being read, with the shape rules of [`schema::flatten`]: the shape is the
/// lengths along the first elements, every list at a depth has the first one's length, and every leaf
/// sits at the same depth.
struct Nest {
    buf: Buf,
    /// The length of the first list met at each depth.
    dims: [Option<usize>; MAX_DIMS],
    /// The number of dimensions, known from the first leaf (or the first empty list) met.
    ndim: Option<usize>,
}

impl Nest {
    fn new(buf: Buf) -> Nest {
        Nest {
            buf,
            dims: [None; MAX_DIMS],
            ndim: None,
        }
    }

    /// May a list start at `depth`?
    fn open(&self, depth: usize) -> bool {
        depth < MAX_DIMS && self.ndim.is_none_or(|n| depth < n)
    }

    /// A list at `depth` ended after `count` elements: is it as long as the first at its depth?
    fn close(&mut self, depth: usize, count: usize) -> bool {
        if count == 0 && self.ndim.is_none() {
            self.ndim = Some(depth + 1);
        }
        match self.dims[depth] {
            None => {
                self.dims[depth] = Some(count);
                true
            }
            Some(n) => n == count,
        }
    }

    /// May a number sit at `depth`?
    fn leaf(&mut self, depth: usize) -> bool {
        *self.ndim.get_or_insert(depth) == depth
    }

    /// The shape and the elements, once the value has been read.
    fn finish(self) -> Option<(Vec<usize>, Buf)> {
        let ndim = self.ndim?;
        let shape = self.dims[..ndim]
            .iter()
            .copied()
            .collect::<Option<Vec<usize>>>()?;
        Some((shape, self.buf))
    }
}

/// The marker error of "leave this request to the value path" (never shown to anyone).
fn give_up<E: de::Error>() -> E {
    E::custom("not a shape the direct decoder reads")
}

/// Reads one value at `depth` of a nested list.
struct Level<'n> {
    nest: &'n mut Nest,
    depth: usize,
}

impl Level<'_> {
    fn leaf<E: de::Error>(self, n: &Number) -> Result<(), E> {
        if !self.nest.leaf(self.depth) || !self.nest.buf.push(n) {
            return Err(give_up());
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Level<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Level<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or a list")
    }

    // serde_json's `Value` makes its numbers the same way from these three calls.
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.leaf(&Number::from(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.leaf(&Number::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        // `Value` turns a non-finite float into null (serde_json's parser never yields one).
        match Number::from_f64(v) {
            Some(n) => self.leaf(&n),
            None => Err(give_up()),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let d = self.depth;
        if !self.nest.open(d) {
            return Err(give_up());
        }
        let mut count = 0usize;
        while seq
            .next_element_seed(Level {
                nest: &mut *self.nest,
                depth: d + 1,
            })?
            .is_some()
        {
            count += 1;
        }
        if !self.nest.close(d, count) {
            return Err(give_up());
        }
        Ok(())
    }
}

/// Reads a nested numeric list (or, for V2 `data`, a lone number) into a buffer of `dtype` (raw numbers
/// when `dtype` is `None`).
fn read_nested<'de, D: Deserializer<'de>>(
    deserializer: D,
    dtype: Option<DType>,
    body_len: usize,
) -> Result<(Vec<usize>, Buf), D::Error> {
    let buf = match dtype {
        Some(dtype) => Buf::new(dtype, body_len).ok_or_else(give_up)?,
        None => Buf::Raw(Vec::with_capacity((body_len / 2).min(MAX_RESERVE))),
    };
    let mut nest = Nest::new(buf);
    Level {
        nest: &mut nest,
        depth: 0,
    }
    .deserialize(deserializer)?;
    nest.finish().ok_or_else(give_up)
}

/// A strict scanner for the plainest bodies of float inputs: `{"inputs": [[1.5, 2], ...]}` (or
/// `instances`) and the bare list of `/predict`, with JSON whitespace anywhere and nothing else (no other
/// key, no escape in the key). It reads numbers with the standard library's float parser, several times
/// faster than serde_json's `float_roundtrip` parser; both round correctly (to the nearest `f64`, ties to
/// even), so they read every JSON number alike, integers included (the value path widens an integer to
/// `f64` with `as`, which rounds the same way), and `-0` is `-0.0` both ways. The grammar is JSON's (a
/// number is `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`); an overflow to infinity, which serde_json
/// refuses, and anything else unexpected gives up, and the serde-based reader then tries.
struct Scan<'b> {
    b: &'b [u8],
    i: usize,
}

/// Powers of ten that are exact in an `f64` (Clinger's fast path).
const EXACT_POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

impl<'b> Scan<'b> {
    fn new(body: &'b [u8]) -> Scan<'b> {
        Scan { b: body, i: 0 }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// Skips whitespace and then `c`, if it is next.
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Reads digits, accumulating them into `acc` (saturating: `acc` is only used while `n` stays
    /// small); returns how many there were.
    fn digits(&mut self, acc: &mut u64) -> usize {
        let start = self.i;
        while let Some(&c @ b'0'..=b'9') = self.b.get(self.i) {
            *acc = acc.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
            self.i += 1;
        }
        self.i - start
    }

    /// A JSON number, as a finite `f64`, rounded correctly: exactly computed when its digits fit in
    /// 2^53 and its decimal exponent is at most 22 (one correctly rounded IEEE multiplication or
    /// division of two exact values, Clinger's fast path), else by the standard library's parser.
    fn number(&mut self) -> Option<f64> {
        let start = self.i;
        let negative = self.b.get(self.i) == Some(&b'-');
        if negative {
            self.i += 1;
        }
        let mut mantissa = 0u64;
        let mut ndigits = match self.b.get(self.i) {
            Some(b'0') => {
                self.i += 1;
                1
            }
            Some(b'1'..=b'9') => self.digits(&mut mantissa),
            _ => return None,
        };
        let mut exp10: i64 = 0;
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            let frac = self.digits(&mut mantissa);
            if frac == 0 {
                return None;
            }
            ndigits += frac;
            exp10 = -(frac as i64);
        }
        let mut exp_digits_ok = true;
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            let exp_negative = match self.b.get(self.i) {
                Some(b'-') => {
                    self.i += 1;
                    true
                }
                Some(b'+') => {
                    self.i += 1;
                    false
                }
                _ => false,
            };
            let mut e = 0u64;
            let n = self.digits(&mut e);
            if n == 0 {
                return None;
            }
            exp_digits_ok = n <= 4;
            let e = e as i64;
            exp10 += if exp_negative { -e } else { e };
        }
        if exp_digits_ok && ndigits <= 19 && mantissa <= 1 << 53 && (-22..=22).contains(&exp10) {
            let m = mantissa as f64;
            let p = EXACT_POW10[exp10.unsigned_abs() as usize];
            let x = if exp10 < 0 { m / p } else { m * p };
            return Some(if negative { -x } else { x });
        }
        // The slice is ASCII (the grammar above), so the UTF-8 check cannot fail.
        let x: f64 = std::str::from_utf8(&self.b[start..self.i])
            .ok()?
            .parse()
            .ok()?;
        x.is_finite().then_some(x)
    }

    /// The rest of a list at `depth` whose `[` was just read.
    fn list(&mut self, nest: &mut Nest, depth: usize) -> Option<()> {
        if !nest.open(depth) {
            return None;
        }
        let mut count = 0usize;
        if !self.eat(b']') {
            loop {
                self.ws();
                if self.b.get(self.i) == Some(&b'[') {
                    self.i += 1;
                    self.list(nest, depth + 1)?;
                } else {
                    let x = self.number()?;
                    if !nest.leaf(depth + 1) || !nest.buf.push_f64(x) {
                        return None;
                    }
                }
                count += 1;
                if self.eat(b',') {
                    continue;
                }
                if self.eat(b']') {
                    break;
                }
                return None;
            }
        }
        nest.close(depth, count).then_some(())
    }

    /// A list (after its `[`), then the bytes of `close` (each after optional whitespace), then only
    /// whitespace to the end of the body.
    fn list_to_end(&mut self, dtype: DType, close: &[u8]) -> Option<(Vec<usize>, Buf)> {
        if !matches!(dtype, DType::F32 | DType::F64) {
            return None;
        }
        let mut nest = Nest::new(Buf::new(dtype, self.b.len())?);
        self.list(&mut nest, 0)?;
        for &c in close {
            if !self.eat(c) {
                return None;
            }
        }
        self.ws();
        (self.i == self.b.len()).then_some(())?;
        nest.finish()
    }

    /// `{"inputs": [...]}` or `{"instances": [...]}`, and nothing else.
    fn mlflow(body: &[u8], dtype: DType) -> Option<(Vec<usize>, Buf)> {
        let mut s = Scan::new(body);
        if !s.eat(b'{') || !s.eat(b'"') {
            return None;
        }
        let rest = &body[s.i..];
        if rest.starts_with(b"inputs\"") {
            s.i += 7;
        } else if rest.starts_with(b"instances\"") {
            s.i += 10;
        } else {
            return None;
        }
        if !s.eat(b':') || !s.eat(b'[') {
            return None;
        }
        s.list_to_end(dtype, b"}")
    }

    /// A JSON string without escapes or control characters, ASCII only (anything else gives up).
    fn string(&mut self) -> Option<&'b str> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.i;
        loop {
            match self.b.get(self.i)? {
                b'"' => break,
                b'\\' | 0..=0x1f | 0x80..=0xff => return None,
                _ => self.i += 1,
            }
        }
        let text = std::str::from_utf8(&self.b[start..self.i]).ok()?;
        self.i += 1;
        Some(text)
    }

    /// An object key and its colon.
    fn key(&mut self) -> Option<&'b str> {
        let key = self.string()?;
        self.eat(b':').then_some(key)
    }

    /// Skips whitespace and then `word`, if it is next.
    fn word(&mut self, word: &[u8]) -> bool {
        self.ws();
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    /// A list of non-negative integers as `Value`s (a V2 shape).
    fn dims(&mut self) -> Option<Value> {
        if !self.eat(b'[') {
            return None;
        }
        let mut dims = Vec::with_capacity(4);
        if !self.eat(b']') {
            loop {
                self.ws();
                let start = self.i;
                let mut d = 0u64;
                let n = self.digits(&mut d);
                if n == 0 || n > 19 || (n > 1 && self.b[start] == b'0') {
                    return None;
                }
                dims.push(Value::Number(Number::from(d)));
                if self.eat(b',') {
                    continue;
                }
                if self.eat(b']') {
                    break;
                }
                return None;
            }
        }
        Some(Value::Array(dims))
    }

    /// A V2 request with only `id` (a plain string or null), `inputs` whose entries hold only `name`,
    /// `shape`, `datatype` (a float one: FP16, BF16, FP32, FP64) and `data` as a list of numbers, and
    /// `outputs` in the plain form of [`Scan::v2_outputs`] (what the gateway sends); any other key or
    /// form gives up (the serde-based reader reads those).
    fn v2(body: &'b [u8]) -> Option<V2Request> {
        let mut s = Scan::new(body);
        if !s.eat(b'{') {
            return None;
        }
        let mut req = V2Request::default();
        loop {
            match s.key()? {
                "id" if req.id.is_none() => {
                    req.id = Some(if s.word(b"null") {
                        Value::Null
                    } else {
                        Value::String(s.string()?.to_string())
                    });
                }
                "inputs" if req.inputs.is_none() => {
                    if !s.eat(b'[') {
                        return None;
                    }
                    let mut inputs = Vec::with_capacity(1);
                    if !s.eat(b']') {
                        loop {
                            inputs.push(s.v2_input()?);
                            if s.eat(b',') {
                                continue;
                            }
                            if s.eat(b']') {
                                break;
                            }
                            return None;
                        }
                    }
                    req.inputs = Some(inputs);
                }
                "outputs" if req.outputs.is_none() => req.outputs = Some(s.v2_outputs()?),
                _ => return None,
            }
            if s.eat(b',') {
                continue;
            }
            if s.eat(b'}') {
                break;
            }
            return None;
        }
        s.ws();
        (s.i == body.len()).then_some(req)
    }

    /// A V2 `outputs` list as the `Value` serde_json reads it: objects with a `name` string and optional
    /// `parameters` whose values are booleans, strings or small non-negative integers (what the
    /// gateway and tritonclient send); anything else, a repeated key included, gives up.
    fn v2_outputs(&mut self) -> Option<Value> {
        if !self.eat(b'[') {
            return None;
        }
        let mut outputs = Vec::with_capacity(1);
        if self.eat(b']') {
            return Some(Value::Array(outputs));
        }
        loop {
            if !self.eat(b'{') {
                return None;
            }
            let mut output = serde_json::Map::new();
            loop {
                let key = self.key()?;
                let value = match key {
                    "name" => Value::String(self.string()?.to_string()),
                    "parameters" => self.flat_object()?,
                    _ => return None,
                };
                if output.insert(key.to_string(), value).is_some() {
                    return None;
                }
                if self.eat(b',') {
                    continue;
                }
                if self.eat(b'}') {
                    break;
                }
                return None;
            }
            outputs.push(Value::Object(output));
            if self.eat(b',') {
                continue;
            }
            if self.eat(b']') {
                return Some(Value::Array(outputs));
            }
            return None;
        }
    }

    /// An object whose values are `true`, `false`, plain strings or integers below 2^53 without sign,
    /// fraction or exponent (see [`Scan::v2_outputs`]); empty objects included.
    fn flat_object(&mut self) -> Option<Value> {
        if !self.eat(b'{') {
            return None;
        }
        let mut map = serde_json::Map::new();
        if self.eat(b'}') {
            return Some(Value::Object(map));
        }
        loop {
            let key = self.key()?;
            let value = if self.word(b"true") {
                Value::Bool(true)
            } else if self.word(b"false") {
                Value::Bool(false)
            } else if self.b.get(self.i) == Some(&b'"') {
                Value::String(self.string()?.to_string())
            } else {
                let mut n = 0u64;
                let start = self.i;
                let len = self.digits(&mut n);
                if len == 0 || len > 15 || (len > 1 && self.b[start] == b'0') {
                    return None;
                }
                Value::from(n)
            };
            if map.insert(key.to_string(), value).is_some() {
                return None;
            }
            if self.eat(b',') {
                continue;
            }
            if self.eat(b'}') {
                return Some(Value::Object(map));
            }
            return None;
        }
    }

    /// One V2 input object (see [`Scan::v2`]).
    fn v2_input(&mut self) -> Option<V2Input> {
        if !self.eat(b'{') {
            return None;
        }
        let mut input = V2Input::default();
        // `data` met before `datatype`, read as f64 (what both float dtypes convert from).
        let mut early: Option<Buf> = None;
        loop {
            match self.key()? {
                "name" if input.name.is_none() => {
                    input.name = Some(Value::String(self.string()?.to_string()));
                }
                "shape" if input.shape.is_none() => input.shape = Some(self.dims()?),
                "datatype" if input.datatype.is_none() => {
                    input.datatype = Some(Value::String(self.string()?.to_string()));
                }
                "data" if input.data.is_none() && early.is_none() => {
                    let dtype = match &input.datatype {
                        Some(datatype) => datatype_dtype(datatype)?,
                        None => DType::F64,
                    };
                    if !matches!(dtype, DType::F32 | DType::F64) || !self.eat(b'[') {
                        return None;
                    }
                    let mut nest = Nest::new(Buf::new(dtype, self.b.len())?);
                    self.list(&mut nest, 0)?;
                    let (_, buf) = nest.finish()?;
                    if input.datatype.is_some() {
                        input.data = Some(buf.into_data()?);
                    } else {
                        early = Some(buf);
                    }
                }
                _ => return None,
            }
            if self.eat(b',') {
                continue;
            }
            if self.eat(b'}') {
                break;
            }
            return None;
        }
        if let Some(Buf::F64(values)) = early {
            input.data = Some(match datatype_dtype(input.datatype.as_ref()?)? {
                DType::F64 => TensorData::F64(values),
                DType::F32 => TensorData::F32(values.into_iter().map(|x| x as f32).collect()),
                _ => return None,
            });
        }
        Some(input)
    }

    /// True when the body's first key starts with `dataframe_`: a frame request, which the direct
    /// decoder leaves to the value path without trying its serde-based reader (whose giving up costs an
    /// error value).
    fn is_frame(body: &[u8]) -> bool {
        let mut s = Scan::new(body);
        s.eat(b'{') && s.eat(b'"') && body[s.i..].starts_with(b"dataframe_")
    }

    /// A bare list, the whole body.
    fn bare_list(body: &[u8], dtype: DType) -> Option<(Vec<usize>, Buf)> {
        let mut s = Scan::new(body);
        if !s.eat(b'[') {
            return None;
        }
        s.list_to_end(dtype, b"")
    }
}

/// The element dtype the value path converts an unnamed list to for `model` (through the model's one
/// input, or a named-column signature whose columns share one type), when the direct decoder reads it.
fn unnamed_dtype(model: &ModelInfo) -> Option<DType> {
    let dtype = match schema::column_signature(model) {
        Some(cols) => {
            let first = cols.first()?.ty.dtype()?;
            if !cols.iter().all(|c| c.ty.dtype() == Some(first)) {
                return None;
            }
            first
        }
        None => match model.inputs.as_slice() {
            [spec] => spec.dtype,
            _ => return None,
        },
    };
    matches!(dtype, DType::F32 | DType::F64 | DType::I32 | DType::I64).then_some(dtype)
}

/// An unnamed tensor read directly, as the value path's `flatten` + `convert_cells` would give it.
fn unnamed_payload(shape: Vec<usize>, data: TensorData) -> Option<Payload<'static>> {
    let t = Tensor::new(shape, data).ok()?;
    Some(Payload::Tensor(Data::typed(t)))
}

/// The top-level key of an MLflow JSON body.
enum MlflowKey {
    /// `inputs` or `instances` (the payload the direct decoder reads).
    Tensor,
    /// `dataframe_split` or `dataframe_records` (left to the value path).
    Frame,
    /// `params`.
    Params,
    /// Anything else (ignored by MLflow and by homeml).
    Other,
}

struct MlflowKeyVisitor;

impl Visitor<'_> for MlflowKeyVisitor {
    type Value = MlflowKey;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<MlflowKey, E> {
        Ok(match v {
            "inputs" | "instances" => MlflowKey::Tensor,
            "dataframe_split" | "dataframe_records" => MlflowKey::Frame,
            "params" => MlflowKey::Params,
            _ => MlflowKey::Other,
        })
    }
}

impl<'de> de::Deserialize<'de> for MlflowKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<MlflowKey, D::Error> {
        deserializer.deserialize_str(MlflowKeyVisitor)
    }
}

/// Reads an MLflow body `{"inputs" | "instances": [[...], ...], "params"?: {...}, ...}`.
struct MlflowBody {
    dtype: DType,
    body_len: usize,
}

impl<'de> Visitor<'de> for MlflowBody {
    /// The shape and elements of the input field, and whether `params` was given.
    type Value = ((Vec<usize>, Buf), bool);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an MLflow request object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut tensor = None;
        let mut params = false;
        while let Some(key) = map.next_key::<MlflowKey>()? {
            match key {
                MlflowKey::Tensor if tensor.is_none() => {
                    tensor = Some(map.next_value_seed(NestedSeed {
                        dtype: Some(self.dtype),
                        body_len: self.body_len,
                    })?);
                }
                MlflowKey::Params if !params => {
                    params = true;
                    // The value path refuses a `params` that is not an object.
                    if !map.next_value::<Value>()?.is_object() {
                        return Err(give_up());
                    }
                }
                MlflowKey::Other => {
                    map.next_value::<Value>()?;
                }
                // A second input field, a repeated key, or a dataframe.
                MlflowKey::Tensor | MlflowKey::Params | MlflowKey::Frame => return Err(give_up()),
            }
        }
        Ok((tensor.ok_or_else(give_up)?, params))
    }
}

/// A nested numeric list as a map value.
struct NestedSeed {
    dtype: Option<DType>,
    body_len: usize,
}

impl<'de> DeserializeSeed<'de> for NestedSeed {
    type Value = (Vec<usize>, Buf);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        read_nested(deserializer, self.dtype, self.body_len)
    }
}

/// Runs `visitor` over the whole of `body` as serde_json's `from_slice` does (trailing bytes refused).
fn parse<'de, V: Visitor<'de>>(body: &'de [u8], visitor: V) -> Option<V::Value> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = de.deserialize_any(visitor).ok()?;
    de.end().ok()?;
    Some(value)
}

/// MLflow `/invocations` JSON with `inputs` or `instances` as a regular numeric list, for a model whose
/// unnamed input the direct decoder reads; `None` leaves the request to the value path.
pub fn try_mlflow(body: &[u8], model: &ModelInfo) -> Option<(InferInput, ResponsePlan)> {
    let dtype = unnamed_dtype(model)?;
    if Scan::is_frame(body) {
        return None;
    }
    let ((shape, buf), params) = match Scan::mlflow(body, dtype) {
        Some(scanned) => (scanned, false),
        None => parse(
            body,
            MlflowBody {
                dtype,
                body_len: body.len(),
            },
        )?,
    };
    // `inputs: 5` is refused by the value path; lists have at least one dimension.
    if shape.is_empty() {
        return None;
    }
    let payload = unnamed_payload(shape, buf.into_data()?)?;
    let plan = super::mlflow::plan(&payload, model);
    let input = schema::assemble(payload, model).ok()?;
    if params {
        tracing::debug!(model = %model.name, "ignoring inference params: the model takes none");
    }
    Some((input, plan))
}

/// Reads a bare list, as the whole body.
struct BareList {
    dtype: DType,
    body_len: usize,
}

impl<'de> Visitor<'de> for BareList {
    type Value = (Vec<usize>, Buf);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let mut nest = Nest::new(Buf::new(self.dtype, self.body_len).ok_or_else(give_up)?);
        Level {
            nest: &mut nest,
            depth: 0,
        }
        .visit_seq(seq)?;
        nest.finish().ok_or_else(give_up)
    }
}

/// `/predict` with a regular 2-D numeric list; `None` leaves the request to the value path.
pub fn try_predict(body: &[u8], model: &ModelInfo) -> Option<InferInput> {
    let dtype = unnamed_dtype(model)?;
    let (shape, buf) = match Scan::bare_list(body, dtype) {
        Some(scanned) => scanned,
        None => parse(
            body,
            BareList {
                dtype,
                body_len: body.len(),
            },
        )?,
    };
    if shape.len() != 2 {
        return None;
    }
    schema::assemble(unnamed_payload(shape, buf.into_data()?)?, model).ok()
}

/// One V2 input read directly: its fields as values, and its `data` as typed elements.
#[derive(Default, Debug)]
struct V2Input {
    name: Option<Value>,
    shape: Option<Value>,
    datatype: Option<Value>,
    parameters: Option<Value>,
    data: Option<TensorData>,
}

/// The element dtype a V2 datatype value reads into, when the direct decoder reads it.
fn datatype_dtype(datatype: &Value) -> Option<DType> {
    let dtype = v2::Datatype::parse(datatype.as_str()?)?.dtype();
    matches!(dtype, DType::F32 | DType::F64 | DType::I32 | DType::I64).then_some(dtype)
}

/// The keys of a V2 input object.
enum V2InputKey {
    Name,
    Shape,
    Datatype,
    Parameters,
    Data,
    Other,
}

struct V2InputKeyVisitor;

impl Visitor<'_> for V2InputKeyVisitor {
    type Value = V2InputKey;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V2InputKey, E> {
        Ok(match v {
            "name" => V2InputKey::Name,
            "shape" => V2InputKey::Shape,
            "datatype" => V2InputKey::Datatype,
            "parameters" => V2InputKey::Parameters,
            "data" => V2InputKey::Data,
            _ => V2InputKey::Other,
        })
    }
}

impl<'de> de::Deserialize<'de> for V2InputKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<V2InputKey, D::Error> {
        deserializer.deserialize_str(V2InputKeyVisitor)
    }
}

/// Reads a field's value once; a repeated key gives up (the value path keeps the last one).
fn once<'de, A: MapAccess<'de>>(map: &mut A, slot: &mut Option<Value>) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(give_up());
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

struct V2InputVisitor {
    body_len: usize,
}

impl<'de> Visitor<'de> for V2InputVisitor {
    type Value = V2Input;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a V2 input object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<V2Input, A::Error> {
        let mut input = V2Input::default();
        // `data` met before `datatype`, as read.
        let mut raw = None;
        while let Some(key) = map.next_key::<V2InputKey>()? {
            match key {
                V2InputKey::Name => once(&mut map, &mut input.name)?,
                V2InputKey::Shape => once(&mut map, &mut input.shape)?,
                V2InputKey::Datatype => once(&mut map, &mut input.datatype)?,
                V2InputKey::Parameters => once(&mut map, &mut input.parameters)?,
                V2InputKey::Data => {
                    if input.data.is_some() || raw.is_some() {
                        return Err(give_up());
                    }
                    // The elements' dtype comes from the datatype; until it is known, the numbers are
                    // kept as read.
                    let dtype = match &input.datatype {
                        Some(datatype) => Some(datatype_dtype(datatype).ok_or_else(give_up)?),
                        None => None,
                    };
                    let (_, buf) = map.next_value_seed(NestedSeed {
                        dtype,
                        body_len: self.body_len,
                    })?;
                    match dtype {
                        Some(_) => input.data = Some(buf.into_data().ok_or_else(give_up)?),
                        None => raw = Some(buf),
                    }
                }
                V2InputKey::Other => {
                    map.next_value::<Value>()?;
                }
            }
        }
        if let Some(buf) = raw {
            let dtype = input
                .datatype
                .as_ref()
                .and_then(datatype_dtype)
                .ok_or_else(give_up)?;
            input.data = Some(buf.convert(dtype).ok_or_else(give_up)?);
        }
        Ok(input)
    }
}

impl<'de> DeserializeSeed<'de> for V2InputVisitor {
    type Value = V2Input;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<V2Input, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// The `inputs` list of a V2 request.
struct V2Inputs {
    body_len: usize,
}

impl<'de> Visitor<'de> for V2Inputs {
    type Value = Vec<V2Input>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of V2 inputs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<V2Input>, A::Error> {
        let mut inputs = Vec::with_capacity(1);
        while let Some(input) = seq.next_element_seed(V2InputVisitor {
            body_len: self.body_len,
        })? {
            inputs.push(input);
        }
        Ok(inputs)
    }
}

impl<'de> DeserializeSeed<'de> for V2Inputs {
    type Value = Vec<V2Input>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<V2Input>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// The keys of a V2 request object.
enum V2Key {
    Id,
    Parameters,
    Inputs,
    Outputs,
    Other,
}

struct V2KeyVisitor;

impl Visitor<'_> for V2KeyVisitor {
    type Value = V2Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V2Key, E> {
        Ok(match v {
            "id" => V2Key::Id,
            "parameters" => V2Key::Parameters,
            "inputs" => V2Key::Inputs,
            "outputs" => V2Key::Outputs,
            _ => V2Key::Other,
        })
    }
}

impl<'de> de::Deserialize<'de> for V2Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<V2Key, D::Error> {
        deserializer.deserialize_str(V2KeyVisitor)
    }
}

/// A V2 request read directly.
#[derive(Default, Debug)]
struct V2Request {
    id: Option<Value>,
    parameters: Option<Value>,
    inputs: Option<Vec<V2Input>>,
    outputs: Option<Value>,
}

struct V2RequestVisitor {
    body_len: usize,
}

impl<'de> Visitor<'de> for V2RequestVisitor {
    type Value = V2Request;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a V2 inference request object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<V2Request, A::Error> {
        let mut req = V2Request::default();
        while let Some(key) = map.next_key::<V2Key>()? {
            match key {
                V2Key::Id => once(&mut map, &mut req.id)?,
                V2Key::Parameters => once(&mut map, &mut req.parameters)?,
                V2Key::Outputs => once(&mut map, &mut req.outputs)?,
                V2Key::Inputs => {
                    if req.inputs.is_some() {
                        return Err(give_up());
                    }
                    req.inputs = Some(map.next_value_seed(V2Inputs {
                        body_len: self.body_len,
                    })?);
                }
                V2Key::Other => {
                    map.next_value::<Value>()?;
                }
            }
        }
        Ok(req)
    }
}

/// A V2 `infer` request whose inputs are JSON numeric tensors (or binary tensors) that the direct
/// decoder reads; `json` is the JSON part of the body and `binary` what follows it. `None` leaves the
/// request to the value path.
pub fn try_v2(json: &[u8], binary: &[u8], model: &ModelInfo) -> Option<(InferInput, ResponsePlan)> {
    // A request with binary data names it in `parameters`, which the scanner leaves to the reader.
    let scanned = if binary.is_empty() {
        Scan::v2(json)
    } else {
        None
    };
    let req = match scanned {
        Some(req) => req,
        None => parse(
            json,
            V2RequestVisitor {
                body_len: json.len(),
            },
        )?,
    };
    let mut inputs = req.inputs?;
    let data: Vec<Option<TensorData>> = inputs.iter_mut().map(|i| i.data.take()).collect();
    let fields = inputs
        .iter()
        .zip(data)
        .map(|(i, data)| InputFields {
            name: i.name.as_ref(),
            shape: i.shape.as_ref(),
            datatype: i.datatype.as_ref(),
            parameters: i.parameters.as_ref(),
            data: match data {
                Some(d) => InputData::Decoded(d),
                None => InputData::Absent,
            },
        })
        .collect();
    v2::decode_request(
        req.id.as_ref(),
        req.parameters.as_ref(),
        Some(InputList::Fields(fields)),
        req.outputs.as_ref(),
        binary,
        model,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    //! The direct decoder against the value path, over a corpus of hand-written and generated bodies:
    //! every body must decode to the same result or the same error both ways, and the direct decoder must
    //! answer only what the value path accepts, with an equal result.

    use super::*;
    use crate::error::ApiError;
    use crate::protocol::{mlflow, predict};
    use homeml_flavor::{ColSpec, ColumnType, IoSpec, Schema, Signature};
    use http::HeaderMap;

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
        scanned: Option<(Vec<usize>, Buf)>,
        read: Option<(Vec<usize>, Buf)>,
        body: &str,
    ) {
        if let Some((shape, buf)) = scanned {
            let (read_shape, read_buf) = read.unwrap_or_else(|| panic!("only scanned: {body}"));
            assert_eq!(shape, read_shape, "{body}");
            assert_eq!(
                format!("{:?}", buf.into_data()),
                format!("{:?}", read_buf.into_data()),
                "{body}"
            );
        }
    }

    fn check_mlflow(body: &str, m: &ModelInfo, hits: &mut Hits) {
        if let Some(dtype) = unnamed_dtype(m) {
            let read = MlflowBody {
                dtype,
                body_len: body.len(),
            };
            check_scanner(
                Scan::mlflow(body.as_bytes(), dtype),
                parse(body.as_bytes(), read).map(|(t, _)| t),
                body,
            );
        }
        let reference = mlflow::decode_json_value(body.as_bytes(), m);
        if let Some(fast) = try_mlflow(body.as_bytes(), m) {
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
        if let Some(dtype) = unnamed_dtype(m) {
            let read = BareList {
                dtype,
                body_len: body.len(),
            };
            check_scanner(
                Scan::bare_list(body.as_bytes(), dtype),
                parse(body.as_bytes(), read),
                body,
            );
        }
        let reference = predict::decode_value(body.as_bytes(), m);
        if let Some(fast) = try_predict(body.as_bytes(), m) {
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
        if let Some(scanned) = Scan::v2(body.as_bytes()) {
            // Where the scanner reads a body, the serde-based reader must read it alike.
            hits.v2_scanned += 1;
            let read = V2RequestVisitor {
                body_len: body.len(),
            };
            let read =
                parse(body.as_bytes(), read).unwrap_or_else(|| panic!("only scanned: {body}"));
            assert_eq!(format!("{scanned:?}"), format!("{read:?}"), "{body}");
        }
        let reference = v2::decode_infer_value(body.as_bytes(), &[], m);
        if let Some(fast) = try_v2(body.as_bytes(), &[], m) {
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
                "FP32", "FP32", "FP32", "FP64", "FP64", "INT64", "INT32", "INT8", "UINT8",
                "UINT64", "FP16", "BOOL", "BYTES", "fp32",
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
            if let Some(fast) = try_v2(json, binary, iris) {
                assert!(same(&Ok(fast), &reference), "{head}");
            }
            let mut headers = HeaderMap::new();
            headers.insert(
                crate::protocol::binary::HEADER_LENGTH,
                http::HeaderValue::from(head.len()),
            );
            let served = v2::decode_infer(&headers, &body, iris);
            assert!(same(&served, &reference), "{served:?} != {reference:?}");
        }
        assert!(try_v2(
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
                .and_then(|v| v.as_number().and_then(schema::number_to_f64));
            let mut scan = Scan::new(lit.as_bytes());
            let scanned = scan.number();
            assert_eq!(
                scanned.map(f64::to_bits),
                reference.map(f64::to_bits),
                "{lit}"
            );
            if scanned.is_some() {
                assert_eq!(scan.i, lit.len(), "{lit}");
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
                Scan::mlflow(body.as_bytes(), DType::F32).is_some(),
                "{body}"
            );
            let (input, plan) = try_mlflow(body.as_bytes(), iris).expect("direct path");
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
            let (input, _) = try_v2(v2_body.as_bytes(), &[], iris).expect("direct path");
            assert_eq!(input.tensors[0].shape(), &[n, 4]);
        }
        // The gateway's upstream body (bench/gateway/run.sh's direct body) is read by the scanner.
        let gateway = br#"{"id":"bench","inputs":[{"name":"X","shape":[1,4],"datatype":"FP64","data":[5.1,3.5,1.4,0.2]}],"outputs":[{"name":"label"}]}"#;
        assert!(Scan::v2(gateway).is_some());
        let (input, _) = try_v2(gateway, &[], iris).expect("direct path");
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
            assert!(try_mlflow(body.as_bytes(), iris).is_none(), "{body}");
        }
        // And the value path's message is what the client gets.
        let e = mlflow::decode(None, br#"{"inputs": [[1, 2, 3]]}"#, iris).unwrap_err();
        assert!(e.to_string().contains("dimension 1 must be 4"), "{e}");
    }
}
