//! skops files (`model.skops`, what `mlflow.lightgbm` writes for scikit-learn-API models), read as data.
//!
//! A skops file is a zip holding `schema.json` (the estimator's state as a tree of typed nodes: each an
//! object with `__loader__`, `__module__`, `__class__` and `content`) and one `.npy` file per array.
//! skops itself would import and call the classes the nodes name; homeml never runs anything: it checks
//! every node against a list of plain loaders and known classes, refuses the file if one is outside
//! them, and reads the few fields prediction needs (the Booster's text model, its best iteration and the
//! class labels).

use std::io::{Cursor, Read};

use serde_json::Value;

use crate::npy::{self, NpyArray};

/// The most bytes one zip entry may expand to.
const MAX_ENTRY_BYTES: u64 = 1 << 30;

/// The deepest node nesting accepted.
const MAX_DEPTH: usize = 64;

/// Loaders that only rebuild plain data.
const PLAIN_LOADERS: &[&str] = &[
    "ObjectNode",
    "DictNode",
    "ListNode",
    "TupleNode",
    "DefaultDictNode",
    "JsonNode",
    "TypeNode",
    "NdArrayNode",
];

/// Classes an `ObjectNode` or `TypeNode` may name: the estimators, the Booster, and the plain types of
/// their state.
const KNOWN_CLASSES: &[&str] = &[
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "lightgbm.sklearn.LGBMRanker",
    "lightgbm.sklearn.LGBMModel",
    "lightgbm.basic.Booster",
    "sklearn.preprocessing._label.LabelEncoder",
    "collections.OrderedDict",
    "collections.defaultdict",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
    "builtins.NoneType",
];

/// Types a `TypeNode` may name besides those: numpy's scalar types (e.g. the key types of `_class_map`).
const KNOWN_SCALAR_TYPES: &[&str] = &[
    "numpy.int8",
    "numpy.int16",
    "numpy.int32",
    "numpy.int64",
    "numpy.uint8",
    "numpy.uint16",
    "numpy.uint32",
    "numpy.uint64",
    "numpy.float32",
    "numpy.float64",
    "numpy.bool_",
    "numpy.bool",
    "numpy.str_",
];

/// Which scikit-learn API estimator the file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstimatorKind {
    /// `LGBMClassifier`: predicts labels.
    Classifier,
    /// `LGBMRegressor`, `LGBMRanker`, `LGBMModel`: predict values.
    Regressor,
}

/// What prediction needs from a skops file.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimator {
    /// The estimator's class, e.g. `lightgbm.sklearn.LGBMClassifier`.
    pub class: String,
    /// Classifier or not.
    pub kind: EstimatorKind,
    /// The Booster's LightGBM text model.
    pub model_text: String,
    /// The Booster's `best_iteration` (0: all iterations).
    pub best_iteration: usize,
    /// The class labels (`_classes`) of a classifier, in the order of its probabilities.
    pub classes: Option<NpyArray>,
}

/// Reads a skops file.
pub fn read(bytes: &[u8]) -> Result<Estimator, String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("not a readable skops zip: {e}"))?;
    let schema = entry(&mut zip, "schema.json")?;
    let schema: Value =
        serde_json::from_slice(&schema).map_err(|e| format!("schema.json is not JSON: {e}"))?;
    check_node(&schema, "root", 0)?;
    let class = class_of(&schema);
    let kind = match class.as_str() {
        "lightgbm.sklearn.LGBMClassifier" => EstimatorKind::Classifier,
        "lightgbm.sklearn.LGBMRegressor"
        | "lightgbm.sklearn.LGBMRanker"
        | "lightgbm.sklearn.LGBMModel" => EstimatorKind::Regressor,
        other => {
            return Err(format!(
                "the skops file holds a {other}, not a LightGBM scikit-learn estimator"
            ))
        }
    };
    let state = object_state(&schema, "root")?;
    let booster = field(state, "_Booster")?;
    if class_of(booster) != "lightgbm.basic.Booster" {
        return Err(format!(
            "_Booster is a {}, not a lightgbm.basic.Booster",
            class_of(booster)
        ));
    }
    let booster_state = object_state(booster, "_Booster")?;
    let model_text = match json_field(booster_state, "_handle")? {
        Value::String(s) => s,
        _ => return Err("_Booster._handle is not the text model".into()),
    };
    let best_iteration = match json_field(booster_state, "best_iteration") {
        Ok(Value::Number(n)) => n.as_u64().unwrap_or(0) as usize,
        Ok(Value::Null) | Err(_) => 0,
        Ok(other) => return Err(format!("_Booster.best_iteration is {other}, not a number")),
    };
    let classes = if kind == EstimatorKind::Classifier {
        let node = field(state, "_classes")?;
        Some(if str_of(node, "type") == "json" {
            object_array(node).map_err(|e| format!("_classes: {e}"))?
        } else {
            let file = node
                .get("file")
                .and_then(Value::as_str)
                .ok_or("_classes has no file")?;
            let bytes = entry(&mut zip, file)?;
            npy::parse(&bytes).map_err(|e| format!("_classes ({file}): {e}"))?
        })
    } else {
        None
    };
    Ok(Estimator {
        class,
        kind,
        model_text,
        best_iteration,
        classes,
    })
}

fn entry(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str) -> Result<Vec<u8>, String> {
    let file = zip
        .by_name(name)
        .map_err(|e| format!("no {name} in the skops file: {e}"))?;
    if file.size() > MAX_ENTRY_BYTES {
        return Err(format!("{name} is {} bytes: too large", file.size()));
    }
    let mut out = Vec::with_capacity(file.size() as usize);
    file.take(MAX_ENTRY_BYTES)
        .read_to_end(&mut out)
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(out)
}

fn str_of<'a>(node: &'a Value, key: &str) -> &'a str {
    node.get(key).and_then(Value::as_str).unwrap_or("")
}

fn class_of(node: &Value) -> String {
    format!(
        "{}.{}",
        str_of(node, "__module__"),
        str_of(node, "__class__")
    )
}

/// Checks that `node` and everything under it only use plain loaders and known classes.
fn check_node(node: &Value, path: &str, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("{path}: nodes nested deeper than {MAX_DEPTH}"));
    }
    let Some(obj) = node.as_object() else {
        return Err(format!("{path}: not a skops node"));
    };
    let loader = str_of(node, "__loader__");
    if !PLAIN_LOADERS.contains(&loader) {
        return Err(format!(
            "{path}: a {loader:?} node ({}) would run code to load; homeml reads skops files as data only and refuses it",
            class_of(node)
        ));
    }
    let child = |v: &Value, name: &str| check_node(v, &format!("{path}.{name}"), depth + 1);
    match loader {
        "ObjectNode" | "TypeNode" => {
            let class = class_of(node);
            let scalar_type = loader == "TypeNode" && KNOWN_SCALAR_TYPES.contains(&class.as_str());
            if !KNOWN_CLASSES.contains(&class.as_str()) && !scalar_type {
                return Err(format!(
                    "{path}: class {class} is not one homeml knows in a LightGBM estimator; refusing the file"
                ));
            }
            if loader == "ObjectNode" {
                if let Some(content) = obj.get("content") {
                    child(content, "content")?;
                }
            }
        }
        "DictNode" | "DefaultDictNode" => {
            if let Some(Value::Object(map)) = obj.get("content") {
                for (k, v) in map {
                    child(v, k)?;
                }
            }
            if let Some(keys) = obj.get("key_types") {
                child(keys, "key_types")?;
            }
        }
        "ListNode" | "TupleNode" => {
            if let Some(Value::Array(items)) = obj.get("content") {
                for (i, v) in items.iter().enumerate() {
                    child(v, &i.to_string())?;
                }
            }
        }
        "NdArrayNode" => match str_of(node, "type") {
            "numpy" => {}
            // An object array, stored as the nodes of its elements.
            "json" => {
                if let Some(Value::Array(items)) = obj.get("content") {
                    for (i, v) in items.iter().enumerate() {
                        child(v, &i.to_string())?;
                    }
                }
            }
            other => return Err(format!("{path}: an array stored as {other:?} is not read")),
        },
        _ => {}
    }
    Ok(())
}

/// The attribute map of an `ObjectNode`: `content` is a `DictNode` whose `content` maps names to nodes.
fn object_state<'a>(
    node: &'a Value,
    path: &str,
) -> Result<&'a serde_json::Map<String, Value>, String> {
    node.get("content")
        .filter(|c| str_of(c, "__loader__") == "DictNode")
        .and_then(|c| c.get("content"))
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{path} has no attribute dictionary"))
}

fn field<'a>(state: &'a serde_json::Map<String, Value>, key: &str) -> Result<&'a Value, String> {
    state
        .get(key)
        .ok_or_else(|| format!("the estimator has no {key}"))
}

/// An object array (`NdArrayNode` of type `json`) of strings or numbers: its elements are `JsonNode`s.
fn object_array(node: &Value) -> Result<NpyArray, String> {
    let items = node
        .get("content")
        .and_then(Value::as_array)
        .ok_or("an object array without content")?;
    let values: Vec<Value> = items
        .iter()
        .map(|n| {
            if str_of(n, "__loader__") != "JsonNode" {
                return Err(format!("an object array holds a {}", class_of(n)));
            }
            serde_json::from_str(str_of(n, "content")).map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    if let Some(v) = values
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()
    {
        Ok(NpyArray::Str(v))
    } else if let Some(v) = values.iter().map(Value::as_i64).collect::<Option<Vec<_>>>() {
        Ok(NpyArray::I64(v))
    } else if let Some(v) = values.iter().map(Value::as_f64).collect::<Option<Vec<_>>>() {
        Ok(NpyArray::F64(v))
    } else if let Some(v) = values
        .iter()
        .map(Value::as_bool)
        .collect::<Option<Vec<_>>>()
    {
        Ok(NpyArray::Bool(v))
    } else {
        Err("an object array of mixed or nested values".into())
    }
}

/// The value of a `JsonNode` attribute.
fn json_field(state: &serde_json::Map<String, Value>, key: &str) -> Result<Value, String> {
    let node = field(state, key)?;
    if str_of(node, "__loader__") != "JsonNode" {
        return Err(format!("{key} is not a JSON value"));
    }
    serde_json::from_str(str_of(node, "content")).map_err(|e| format!("{key}: {e}"))
}

#[cfg(test)]
mod tests;
