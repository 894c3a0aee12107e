//! The direct reader of the common V2 `infer` requests: JSON numeric tensors (`{"id", "inputs": [{"name",
//! "shape", "datatype", "data": [...]}], "outputs": [...]}`) read straight into typed buffers, in the two
//! tiers of `homeml-numjson`: the scanner for the plainest bodies (only `id`, float tensors with
//! `name`/`shape`/`datatype`/`data`, and the plain `outputs` the gateway and tritonclient send), serde
//! visitors for integer tensors and for everything around the tensors (`parameters`, binary tensors,
//! unknown keys, parsed into `Value`s as the value path parses them). The fields read go to
//! [`super::request`]'s checks, as the value path's do; any other form (BYTES and BOOL tensors, strings
//! or nulls in the data, a repeated key, an error) gives up and is left to the value path.

use std::fmt;

use homeml_flavor::TensorData;
use homeml_numjson::de::{give_up, parse, NestedSeed};
use homeml_numjson::nested::scan_floats;
use homeml_numjson::{Buffer, Kind, Scanner};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

use super::datatype::Datatype;
use super::request::{InputData, InputFields};
use crate::protocol::direct;

/// One V2 input read directly: its fields as values, and its `data` as typed elements.
#[derive(Default, Debug)]
pub(crate) struct Input {
    name: Option<Value>,
    shape: Option<Value>,
    datatype: Option<Value>,
    parameters: Option<Value>,
    data: Option<TensorData>,
}

/// A V2 request read directly.
#[derive(Default, Debug)]
pub(crate) struct Request {
    /// `id`.
    pub(crate) id: Option<Value>,
    /// `parameters`.
    pub(crate) parameters: Option<Value>,
    /// `inputs`.
    pub(crate) inputs: Option<Vec<Input>>,
    /// `outputs`.
    pub(crate) outputs: Option<Value>,
}

/// The inputs' fields for [`super::request::decode_request`] (their data moved out of `inputs`).
pub(crate) fn fields(inputs: &mut [Input]) -> Vec<InputFields<'_>> {
    let data: Vec<Option<TensorData>> = inputs.iter_mut().map(|i| i.data.take()).collect();
    inputs
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
        .collect()
}

/// Reads the JSON part of a request (`binary` is what follows it): the scanner first when there is
/// no binary part (binary data is named in `parameters`, which the scanner leaves), then the serde
/// tier. `None` leaves the request to the value path.
pub(crate) fn read(json: &[u8], binary: &[u8]) -> Option<Request> {
    let scanned = if binary.is_empty() { scan(json) } else { None };
    match scanned {
        Some(req) => Some(req),
        None => read_serde(json),
    }
}

/// The element kind a V2 datatype value reads into, when the direct reader reads it.
fn datatype_kind(datatype: &Value) -> Option<Kind> {
    direct::kind(Datatype::parse(datatype.as_str()?)?.dtype())
}

// ---- the scanner tier ---------------------------------------------------------------------------

/// The scanner tier: a V2 request with only `id` (a plain string or null), `inputs` whose entries hold
/// only `name`, `shape`, `datatype` (a float one: FP16, BF16, FP32, FP64) and `data` as a list of
/// numbers, and `outputs` in the plain form of [`scan_outputs`]; any other key or form gives up.
pub(crate) fn scan(body: &[u8]) -> Option<Request> {
    let mut s = Scanner::new(body);
    s.expect(b'{')?;
    let mut req = Request::default();
    loop {
        match s.key()? {
            "id" if req.id.is_none() => {
                req.id = Some(if s.word(b"null") {
                    Value::Null
                } else {
                    Value::String(s.str()?.to_string())
                });
            }
            "inputs" if req.inputs.is_none() => {
                s.expect(b'[')?;
                let mut inputs = Vec::with_capacity(1);
                if !s.eat(b']') {
                    loop {
                        inputs.push(scan_input(&mut s, body.len())?);
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
            "outputs" if req.outputs.is_none() => req.outputs = Some(scan_outputs(&mut s)?),
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
    s.at_end().then_some(req)
}

/// A list of non-negative integers as `Value`s (a V2 shape).
fn scan_dims(s: &mut Scanner<'_>) -> Option<Value> {
    s.expect(b'[')?;
    let mut dims = Vec::with_capacity(4);
    if !s.eat(b']') {
        loop {
            dims.push(Value::Number(Number::from(s.uint(19)?)));
            if s.eat(b',') {
                continue;
            }
            if s.eat(b']') {
                break;
            }
            return None;
        }
    }
    Some(Value::Array(dims))
}

/// A V2 `outputs` list as the `Value` serde_json reads it: objects with a `name` string and optional
/// `parameters` whose values are booleans, strings or small non-negative integers (what the gateway
/// and tritonclient send); anything else, a repeated key included, gives up.
fn scan_outputs(s: &mut Scanner<'_>) -> Option<Value> {
    s.expect(b'[')?;
    let mut outputs = Vec::with_capacity(1);
    if s.eat(b']') {
        return Some(Value::Array(outputs));
    }
    loop {
        s.expect(b'{')?;
        let mut output = serde_json::Map::new();
        loop {
            let key = s.key()?;
            let value = match key {
                "name" => Value::String(s.str()?.to_string()),
                "parameters" => scan_flat_object(s)?,
                _ => return None,
            };
            if output.insert(key.to_string(), value).is_some() {
                return None;
            }
            if s.eat(b',') {
                continue;
            }
            if s.eat(b'}') {
                break;
            }
            return None;
        }
        outputs.push(Value::Object(output));
        if s.eat(b',') {
            continue;
        }
        if s.eat(b']') {
            return Some(Value::Array(outputs));
        }
        return None;
    }
}

/// An object whose values are `true`, `false`, plain strings or integers below 2^53 without sign,
/// fraction or exponent (see [`scan_outputs`]); empty objects included.
fn scan_flat_object(s: &mut Scanner<'_>) -> Option<Value> {
    s.expect(b'{')?;
    let mut map = serde_json::Map::new();
    if s.eat(b'}') {
        return Some(Value::Object(map));
    }
    loop {
        let key = s.key()?;
        let value = if s.word(b"true") {
            Value::Bool(true)
        } else if s.word(b"false") {
            Value::Bool(false)
        } else if s.peek() == Some(b'"') {
            Value::String(s.str()?.to_string())
        } else {
            Value::from(s.uint(15)?)
        };
        if map.insert(key.to_string(), value).is_some() {
            return None;
        }
        if s.eat(b',') {
            continue;
        }
        if s.eat(b'}') {
            return Some(Value::Object(map));
        }
        return None;
    }
}

/// One V2 input object (see [`scan`]).
fn scan_input(s: &mut Scanner<'_>, body_len: usize) -> Option<Input> {
    s.expect(b'{')?;
    let mut input = Input::default();
    // `data` met before `datatype`, read as f64 (what both float dtypes convert from).
    let mut early: Option<Buffer> = None;
    loop {
        match s.key()? {
            "name" if input.name.is_none() => {
                input.name = Some(Value::String(s.str()?.to_string()));
            }
            "shape" if input.shape.is_none() => input.shape = Some(scan_dims(s)?),
            "datatype" if input.datatype.is_none() => {
                input.datatype = Some(Value::String(s.str()?.to_string()));
            }
            "data" if input.data.is_none() && early.is_none() => {
                let kind = match &input.datatype {
                    Some(datatype) => datatype_kind(datatype)?,
                    None => Kind::F64,
                };
                let (_, buf) = scan_floats(s, kind, body_len)?;
                if input.datatype.is_some() {
                    input.data = Some(direct::tensor_data(buf)?);
                } else {
                    early = Some(buf);
                }
            }
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
    if let Some(Buffer::F64(values)) = early {
        input.data = Some(match datatype_kind(input.datatype.as_ref()?)? {
            Kind::F64 => TensorData::F64(values),
            Kind::F32 => TensorData::F32(values.into_iter().map(|x| x as f32).collect()),
            _ => return None,
        });
    }
    Some(input)
}

// ---- the serde tier -----------------------------------------------------------------------------

/// A field-name enum of a JSON object, with `Other` for every unknown name, and its serde key
/// deserializer (a key is matched by name, never copied).
macro_rules! object_keys {
    ($(#[$doc:meta])* $name:ident { $($key:literal => $variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        enum $name {
            $($variant,)+
            Other,
        }

        impl<'de> de::Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                struct KeyVisitor;
                impl Visitor<'_> for KeyVisitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a key")
                    }

                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok(match v {
                            $($key => $name::$variant,)+
                            _ => $name::Other,
                        })
                    }
                }
                deserializer.deserialize_str(KeyVisitor)
            }
        }
    };
}

object_keys! {
    /// The keys of a V2 input object.
    InputKey {
        "name" => Name,
        "shape" => Shape,
        "datatype" => Datatype,
        "parameters" => Parameters,
        "data" => Data,
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

struct InputVisitor {
    body_len: usize,
}

impl<'de> Visitor<'de> for InputVisitor {
    type Value = Input;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a V2 input object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Input, A::Error> {
        let mut input = Input::default();
        // `data` met before `datatype`, as read.
        let mut raw = None;
        while let Some(key) = map.next_key::<InputKey>()? {
            match key {
                InputKey::Name => once(&mut map, &mut input.name)?,
                InputKey::Shape => once(&mut map, &mut input.shape)?,
                InputKey::Datatype => once(&mut map, &mut input.datatype)?,
                InputKey::Parameters => once(&mut map, &mut input.parameters)?,
                InputKey::Data => {
                    if input.data.is_some() || raw.is_some() {
                        return Err(give_up());
                    }
                    // The elements' kind comes from the datatype; until it is known, the numbers are
                    // kept as read.
                    let kind = match &input.datatype {
                        Some(datatype) => Some(datatype_kind(datatype).ok_or_else(give_up)?),
                        None => None,
                    };
                    let (_, buf) = map.next_value_seed(NestedSeed {
                        kind,
                        body_len: self.body_len,
                    })?;
                    match kind {
                        Some(_) => input.data = Some(direct::tensor_data(buf).ok_or_else(give_up)?),
                        None => raw = Some(buf),
                    }
                }
                InputKey::Other => {
                    map.next_value::<Value>()?;
                }
            }
        }
        if let Some(buf) = raw {
            let kind = input
                .datatype
                .as_ref()
                .and_then(datatype_kind)
                .ok_or_else(give_up)?;
            let typed = buf.convert(kind).ok_or_else(give_up)?;
            input.data = Some(direct::tensor_data(typed).ok_or_else(give_up)?);
        }
        Ok(input)
    }
}

impl<'de> DeserializeSeed<'de> for InputVisitor {
    type Value = Input;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Input, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// The `inputs` list of a V2 request.
struct Inputs {
    body_len: usize,
}

impl<'de> Visitor<'de> for Inputs {
    type Value = Vec<Input>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of V2 inputs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Input>, A::Error> {
        let mut inputs = Vec::with_capacity(1);
        while let Some(input) = seq.next_element_seed(InputVisitor {
            body_len: self.body_len,
        })? {
            inputs.push(input);
        }
        Ok(inputs)
    }
}

impl<'de> DeserializeSeed<'de> for Inputs {
    type Value = Vec<Input>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<Input>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

object_keys! {
    /// The keys of a V2 request object.
    Key {
        "id" => Id,
        "parameters" => Parameters,
        "inputs" => Inputs,
        "outputs" => Outputs,
    }
}

struct RequestVisitor {
    body_len: usize,
}

impl<'de> Visitor<'de> for RequestVisitor {
    type Value = Request;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a V2 inference request object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Request, A::Error> {
        let mut req = Request::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Id => once(&mut map, &mut req.id)?,
                Key::Parameters => once(&mut map, &mut req.parameters)?,
                Key::Outputs => once(&mut map, &mut req.outputs)?,
                Key::Inputs => {
                    if req.inputs.is_some() {
                        return Err(give_up());
                    }
                    req.inputs = Some(map.next_value_seed(Inputs {
                        body_len: self.body_len,
                    })?);
                }
                Key::Other => {
                    map.next_value::<Value>()?;
                }
            }
        }
        Ok(req)
    }
}

/// The serde tier: the whole JSON part as a request object.
pub(crate) fn read_serde(json: &[u8]) -> Option<Request> {
    parse(
        json,
        RequestVisitor {
            body_len: json.len(),
        },
    )
}
