//! homeml's dense layer (`MatMul` by a constant weight with the bias `Add` and `Relu` fused in) and
//! last-axis `ArgMax` on hand-built ONNX graphs: which nodes homeml takes over (and which it must leave to
//! tract: a run-time weight, a large layer, a non-row bias, a shared product, another axis), and that
//! every graph's outputs match the real onnxruntime within 1e-5, with homeml's ops and with tract's own.
//!
//! The graphs, inputs and onnxruntime outputs are made by a Python script (onnx + onnxruntime from
//! `HOMEML_PYTHON`, default `<workspace>/.venv/bin/python`).

use crate::common;

use std::path::Path;
use std::process::Command;

use homeml_flavor::{Model, Tensor};
use homeml_onnx::{OpSet, TractModel};
use serde_json::Value;

const SCRIPT: &str = r#"
import json, sys
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
rng = np.random.default_rng(7)

def const(name, arr):
    return numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)

def vinfo(name, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)

def tensor_json(arr):
    arr = np.asarray(arr)
    return {"dtype": str(arr.dtype), "shape": list(arr.shape), "data": arr.ravel().tolist()}

def save(name, nodes, inputs, outputs, inits, feeds):
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = f"{out}/{name}.onnx"
    onnx.save(model, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, feeds)
    ref = {
        "inputs": [tensor_json(feeds[i.name]) for i in inputs],
        "outputs": [tensor_json(g) for g in got],
    }
    with open(f"{out}/{name}.json", "w") as f:
        json.dump(ref, f)

def x(rows, k):
    return rng.normal(size=(rows, k)).astype(np.float32)

# Two dense layers as skl2onnx writes them: MatMul, Add of a [1, N] intercept, Relu; then the output
# layer, softmax, argmax.
w1, b1, w2, b2 = rng.normal(size=(5, 12)), rng.normal(size=(1, 12)), rng.normal(size=(12, 3)), rng.normal(size=(1, 3))
save("mlp", [
    helper.make_node("MatMul", ["X", "W1"], ["h"]),
    helper.make_node("Add", ["h", "B1"], ["hb"]),
    helper.make_node("Relu", ["hb"], ["a"]),
    helper.make_node("MatMul", ["a", "W2"], ["o"]),
    helper.make_node("Add", ["o", "B2"], ["ob"]),
    helper.make_node("Softmax", ["ob"], ["P"], axis=-1),
    helper.make_node("ArgMax", ["P"], ["L"], axis=1),
], [vinfo("X", ["N", 5])], [vinfo("P", ["N", 3]), vinfo("L", ["N", 1], TensorProto.INT64)],
   [const("W1", w1), const("B1", b1), const("W2", w2), const("B2", b2)], {"X": x(9, 5)})

# Bias first ([N] shape), tanh and sigmoid activations (not fused, run by tract after the layer).
w, b = rng.normal(size=(6, 10)), rng.normal(size=(10,))
save("bias_first_tanh", [
    helper.make_node("MatMul", ["X", "W"], ["h"]),
    helper.make_node("Add", ["B", "h"], ["hb"]),
    helper.make_node("Tanh", ["hb"], ["T"]),
    helper.make_node("Sigmoid", ["hb"], ["S"]),
], [vinfo("X", ["N", 6])], [vinfo("T", ["N", 10]), vinfo("S", ["N", 10])],
   [const("W", w), const("B", b)], {"X": x(4, 6)})

# The weight is a run-time input: tract's MatMul.
save("runtime_weight", [
    helper.make_node("MatMul", ["X", "W"], ["Y"]),
], [vinfo("X", ["N", 4]), vinfo("W", [4, 3])], [vinfo("Y", ["N", 3])], [],
   {"X": x(5, 4), "W": x(4, 3)})

# A layer larger than homeml's limit (tract) feeding a narrow one (homeml, dot products over K = 80).
wa, wb = rng.normal(size=(80, 80)) / 8, rng.normal(size=(80, 2))
save("wide", [
    helper.make_node("MatMul", ["X", "WA"], ["h"]),
    helper.make_node("Relu", ["h"], ["a"]),
    helper.make_node("MatMul", ["a", "WB"], ["Y"]),
], [vinfo("X", ["N", 80])], [vinfo("Y", ["N", 2])], [const("WA", wa), const("WB", wb)], {"X": x(3, 80)})

# A per-element (not per-row) constant added after the product: not a bias, left to tract; the product
# is also a graph output (two consumers: no fusion).
w, c = rng.normal(size=(3, 4)), rng.normal(size=(2, 4))
save("not_a_bias", [
    helper.make_node("MatMul", ["X", "W"], ["Y"]),
    helper.make_node("Add", ["Y", "C"], ["Z"]),
    helper.make_node("Relu", ["Y"], ["R"]),
], [vinfo("X", [2, 3])], [vinfo("Y", [2, 4]), vinfo("Z", [2, 4]), vinfo("R", [2, 4])],
   [const("W", w), const("C", c)], {"X": x(2, 3)})

# The product is a graph output with a single Relu consumer: not fused (both outputs stay right).
w = rng.normal(size=(3, 5))
save("output_then_relu", [
    helper.make_node("MatMul", ["X", "W"], ["Y"]),
    helper.make_node("Relu", ["Y"], ["R"]),
], [vinfo("X", ["N", 3])], [vinfo("Y", ["N", 5]), vinfo("R", ["N", 5])], [const("W", w)], {"X": x(6, 3)})

# A batched 3-D product: tract's MatMul.
w = rng.normal(size=(4, 3))
save("batched_3d", [
    helper.make_node("MatMul", ["X", "W"], ["Y"]),
], [vinfo("X", ["N", 2, 4])], [vinfo("Y", ["N", 2, 3])], [const("W", w)],
   {"X": rng.normal(size=(3, 2, 4)).astype(np.float32)})

# ArgMax: ties (first and last index), no kept axis, and the first axis (tract's reduction).
t = np.array([[1, 3, 3, 0], [2, 2, 2, 2], [-1, -5, -1, -7]], dtype=np.float32)
save("argmax", [
    helper.make_node("ArgMax", ["X"], ["F"], axis=1),
    helper.make_node("ArgMax", ["X"], ["L"], axis=-1, select_last_index=1),
    helper.make_node("ArgMax", ["X"], ["D"], axis=1, keepdims=0),
    helper.make_node("ArgMax", ["X"], ["A0"], axis=0),
], [vinfo("X", ["N", 4])],
   [vinfo("F", ["N", 1], TensorProto.INT64), vinfo("L", ["N", 1], TensorProto.INT64),
    vinfo("D", ["N"], TensorProto.INT64), vinfo("A0", [1, 4], TensorProto.INT64)], [],
   {"X": t})
"#;

fn generate() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let script = dir.join("make.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let out = Command::new(common::python())
        .arg(&script)
        .arg(&dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", common::python().display()));
    assert!(
        out.status.success(),
        "make.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (tmp, dir)
}

fn reference(dir: &Path, name: &str) -> (Vec<Tensor>, Vec<Tensor>) {
    let v: Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap()).unwrap();
    let list = |key: &str| -> Vec<Tensor> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(common::tensor)
            .collect()
    };
    (list("inputs"), list("outputs"))
}

/// Loads `name` with `ops`, checks its outputs against onnxruntime's and returns the plan's op names.
fn run(dir: &Path, name: &str, ops: OpSet) -> Vec<String> {
    let model = TractModel::load_with(&dir.join(format!("{name}.onnx")), ops)
        .unwrap_or_else(|e| panic!("{name} ({ops:?}): {e}"));
    let (inputs, want) = reference(dir, name);
    let got = model
        .predict(inputs)
        .unwrap_or_else(|e| panic!("{name} ({ops:?}): {e}"));
    assert_eq!(got.len(), want.len(), "{name}");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        common::compare(g, w).unwrap_or_else(|e| panic!("{name} ({ops:?}) output {i}: {e}"));
    }
    model.plan_ops()
}

fn count(plan: &[String], op: &str) -> usize {
    plan.iter()
        .filter(|n| n.ends_with(&format!(": {op}")))
        .count()
}

#[test]
fn dense_layers_are_wired_where_they_apply_and_match_onnxruntime() {
    let (_tmp, dir) = generate();
    for name in [
        "mlp",
        "bias_first_tanh",
        "runtime_weight",
        "wide",
        "not_a_bias",
        "output_then_relu",
        "batched_3d",
        "argmax",
    ] {
        let tract = run(&dir, name, OpSet::TractOnly);
        assert_eq!(count(&tract, "HomemlDense"), 0, "{name}: {tract:?}");
        assert_eq!(count(&tract, "HomemlRowArgMax"), 0, "{name}: {tract:?}");
        let plan = run(&dir, name, OpSet::Homeml);
        let (dense, argmax) = match name {
            // MatMul+Add+Relu and MatMul+Add each became one node: nothing else is left of them.
            "mlp" => {
                let ops: Vec<&str> = plan
                    .iter()
                    .map(|n| n.rsplit(": ").next().unwrap_or_default())
                    .collect();
                assert_eq!(
                    ops,
                    [
                        "Source",
                        "HomemlDense",
                        "HomemlDense",
                        "HomemlRowSoftmax",
                        "HomemlRowArgMax"
                    ],
                    "{plan:?}"
                );
                (2, 1)
            }
            "bias_first_tanh" => (1, 0),
            "runtime_weight" | "batched_3d" => (0, 0),
            // 80x80 is above MAX_WEIGHTS (tract's), 80x2 is homeml's.
            "wide" => (1, 0),
            "not_a_bias" => (1, 0),
            "output_then_relu" => {
                assert_eq!(count(&plan, "Max"), 1, "{plan:?}");
                (1, 0)
            }
            // Three last-axis ArgMax nodes are homeml's; axis 0 is tract's.
            "argmax" => (0, 3),
            other => unreachable!("{other}"),
        };
        assert_eq!(count(&plan, "HomemlDense"), dense, "{name}: {plan:?}");
        assert_eq!(count(&plan, "HomemlRowArgMax"), argmax, "{name}: {plan:?}");
    }
}

#[test]
fn batch_zero_and_one_through_fused_layers() {
    let (_tmp, dir) = generate();
    let model = TractModel::load(&dir.join("mlp.onnx")).unwrap();
    let tract = TractModel::load_with(&dir.join("mlp.onnx"), OpSet::TractOnly).unwrap();
    let (inputs, want) = reference(&dir, "mlp");
    for row in [0, 4, 8] {
        let one = model
            .predict(vec![inputs[0].slice_rows(row, row + 1)])
            .unwrap();
        for (g, w) in one.iter().zip(&want) {
            common::compare(g, &w.slice_rows(row, row + 1)).unwrap();
        }
    }
    let empty = inputs[0].slice_rows(0, 0);
    let ours = model.predict(vec![empty.clone()]).unwrap();
    let theirs = tract.predict(vec![empty]).unwrap();
    assert_eq!(ours[0].shape(), &[0, 3]);
    assert_eq!(ours[1].shape(), &[0, 1]);
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a.shape(), b.shape());
    }
}
