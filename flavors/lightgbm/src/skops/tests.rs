//! Unit tests of the skops reader, on files built the way skops writes them (a stored zip).

use std::io::Write;

use serde_json::json;

use super::*;

fn json_node(v: Value) -> Value {
    json!({"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode", "content": v.to_string(), "is_json": true})
}

fn dict(content: Value) -> Value {
    json!({"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode", "content": content,
           "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": []}})
}

pub(crate) fn schema(class: &str, text: &str, extra: Value) -> Value {
    let booster = json!({"__class__": "Booster", "__module__": "lightgbm.basic", "__loader__": "ObjectNode",
        "content": dict(json!({"_handle": json_node(json!(text)), "best_iteration": json_node(json!(1))}))});
    let mut state = json!({"_Booster": booster, "_n_classes": json_node(json!(2)),
        "_classes": {"__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode", "type": "numpy", "file": "c.npy"}});
    if let (Some(s), Some(e)) = (state.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    json!({"__class__": class, "__module__": "lightgbm.sklearn", "__loader__": "ObjectNode",
           "content": dict(state), "protocol": 2, "_skops_version": "0.16.0"})
}

pub(crate) fn zip_file(schema: &Value, npy: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    w.start_file("c.npy", opts).unwrap();
    w.write_all(npy).unwrap();
    w.start_file("schema.json", opts).unwrap();
    w.write_all(schema.to_string().as_bytes()).unwrap();
    w.finish().unwrap().into_inner()
}

pub(crate) fn labels_npy(labels: &[i64]) -> Vec<u8> {
    let header = format!(
        "{{'descr': '<i8', 'fortran_order': False, 'shape': ({},), }}\n",
        labels.len()
    );
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(labels.iter().flat_map(|v| v.to_le_bytes()));
    out
}

#[test]
fn reads_a_classifier() {
    let file = zip_file(
        &schema("LGBMClassifier", "tree\n...", json!({})),
        &labels_npy(&[3, 7]),
    );
    let est = read(&file).unwrap();
    assert_eq!(est.class, "lightgbm.sklearn.LGBMClassifier");
    assert_eq!(est.kind, EstimatorKind::Classifier);
    assert_eq!(est.model_text, "tree\n...");
    assert_eq!(est.best_iteration, 1);
    assert_eq!(est.classes, Some(NpyArray::I64(vec![3, 7])));
    let reg = read(&zip_file(&schema("LGBMRegressor", "tree", json!({})), b"")).unwrap();
    assert_eq!((reg.kind, reg.classes), (EstimatorKind::Regressor, None));
}

#[test]
fn reads_object_array_labels() {
    let classes = json!({"_classes": {"__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode", "type": "json",
        "content": [json_node(json!("no")), json_node(json!("yes"))],
        "shape": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode", "content": [json_node(json!(2))]}}});
    let est = read(&zip_file(&schema("LGBMClassifier", "tree", classes), b"")).unwrap();
    assert_eq!(
        est.classes,
        Some(NpyArray::Str(vec!["no".into(), "yes".into()]))
    );
}

#[test]
fn refuses_nodes_that_would_run_code() {
    let cases = [
        (
            json!({"evil": {"__class__": "system", "__module__": "os", "__loader__": "FunctionNode", "content": {}}}),
            "root.content.evil: a \"FunctionNode\" node (os.system) would run code",
        ),
        (
            json!({"evil": {"__class__": "Popen", "__module__": "subprocess", "__loader__": "ObjectNode", "content": dict(json!({}))}}),
            "class subprocess.Popen is not one homeml knows",
        ),
        (
            json!({"evil": {"__class__": "x", "__module__": "numpy", "__loader__": "NdArrayNode", "type": "pickle", "content": []}}),
            "an array stored as \"pickle\" is not read",
        ),
        (
            json!({"evil": {"__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode", "type": "json",
                            "content": [{"__class__": "eval", "__module__": "builtins", "__loader__": "FunctionNode", "content": {}}]}}),
            "root.content.evil.0: a \"FunctionNode\"",
        ),
        (
            json!({"evil": {"__class__": "int64", "__module__": "numpy", "__loader__": "ObjectNode", "content": dict(json!({}))}}),
            "class numpy.int64 is not one homeml knows",
        ),
        (
            json!({"evil": {"__class__": "partial", "__module__": "functools", "__loader__": "ReduceNode", "content": {}}}),
            "ReduceNode",
        ),
    ];
    for (extra, want) in cases {
        let file = zip_file(
            &schema("LGBMClassifier", "tree", extra),
            &labels_npy(&[0, 1]),
        );
        let err = read(&file).unwrap_err();
        assert!(err.contains(want), "{want}: {err}");
    }
    let err = read(&zip_file(&schema("LGBMSomething", "t", json!({})), b"")).unwrap_err();
    assert!(err.contains("lightgbm.sklearn.LGBMSomething"), "{err}");
}

#[test]
fn refuses_damaged_files() {
    let file = zip_file(
        &schema("LGBMClassifier", "tree", json!({})),
        &labels_npy(&[0, 1]),
    );
    for cut in [10, file.len() / 2, file.len() - 5] {
        let err = read(&file[..cut]).unwrap_err();
        assert!(err.contains("skops"), "{cut}: {err}");
    }
    let err = read(b"PK\x03\x04 not really").unwrap_err();
    assert!(err.contains("not a readable skops zip"), "{err}");
}
