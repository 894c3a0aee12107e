//! MLflow `/invocations` JSON read directly into a typed tensor: `{"inputs" | "instances": [[...], ...],
//! "params"?: {...}, ...}` with a regular numeric list, for a model whose unnamed input is read directly
//! (see [`crate::protocol::direct`]). Two tiers, as `homeml-numjson` has them: the scanner for the plain
//! body with nothing but the input field, serde visitors for the same with more keys around it. Keys the
//! serde tier does not read (`params`, unknown keys) are parsed into `Value`s as the value path parses
//! them, so they are checked and bounded (serde_json's nesting limit) alike. Anything else (a dataframe,
//! records, a repeated key, an error) gives up and is left to the value path.

use std::fmt;

use homeml_numjson::de::{give_up, parse, NestedSeed};
use homeml_numjson::nested::scan_floats;
use homeml_numjson::{Buffer, Kind, Scanner};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::protocol::direct;
use crate::protocol::schema::Payload;
use crate::protocol::ModelInfo;

/// The scanner tier: `{"inputs": [...]}` or `{"instances": [...]}` and nothing else (JSON whitespace
/// anywhere, no escape in the key), numbers read into a float buffer of `kind`.
pub(crate) fn scan(body: &[u8], kind: Kind) -> Option<(Vec<usize>, Buffer)> {
    let mut s = Scanner::new(body);
    s.expect(b'{')?;
    match s.raw_str()? {
        b"inputs" | b"instances" => {}
        _ => return None,
    }
    s.expect(b':')?;
    let read = scan_floats(&mut s, kind, body.len())?;
    s.expect(b'}')?;
    s.at_end().then_some(read)
}

/// True when the body's first key starts with `dataframe_`: a frame request, which is left to the value
/// path without trying the serde tier (whose giving up costs an error value).
pub(crate) fn is_frame(body: &[u8]) -> bool {
    let mut s = Scanner::new(body);
    s.eat(b'{') && s.eat(b'"') && s.rest().starts_with(b"dataframe_")
}

/// The top-level key of an MLflow JSON body.
enum MlflowKey {
    /// `inputs` or `instances` (the payload read directly).
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
    kind: Kind,
    body_len: usize,
}

impl<'de> Visitor<'de> for MlflowBody {
    /// The shape and elements of the input field, and whether `params` was given.
    type Value = ((Vec<usize>, Buffer), bool);

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
                        kind: Some(self.kind),
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

/// The serde tier: the input field's shape and elements of `kind`, and whether `params` was given.
pub(crate) fn read(body: &[u8], kind: Kind) -> Option<((Vec<usize>, Buffer), bool)> {
    parse(
        body,
        MlflowBody {
            kind,
            body_len: body.len(),
        },
    )
}

/// Both tiers: the unnamed payload of `inputs`/`instances`, and whether `params` was given; `None`
/// leaves the body to the value path.
pub(crate) fn payload(body: &[u8], model: &ModelInfo) -> Option<(Payload<'static>, bool)> {
    let kind = direct::unnamed_kind(model)?;
    if is_frame(body) {
        return None;
    }
    let ((shape, buf), params) = match scan(body, kind) {
        Some(scanned) => (scanned, false),
        None => read(body, kind)?,
    };
    // `inputs: 5` is refused by the value path; lists have at least one dimension.
    if shape.is_empty() {
        return None;
    }
    Some((direct::unnamed_payload(shape, buf)?, params))
}
