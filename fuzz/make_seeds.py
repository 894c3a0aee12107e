#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into fuzz/seeds/<target>/ (generated, not committed).

    python3 fuzz/make_seeds.py [--python .venv/bin/python]

The request seeds are the shapes of the server's protocol tests (MLflow `inputs`/`instances`/
`dataframe_split`/`dataframe_records`, V2 JSON and binary tensors, `/predict`, CSV with and without a
header), the MLmodel seeds what MLflow 3 and homeml write, the ONNX seeds skl2onnx exports of the
estimators the onnx flavor's tests use (made with the venv's scikit-learn and skl2onnx), the ELF seeds
a tiny shared library built with `cc` and a truncated copy of it. Each request seed's first byte picks
the protocol and model as the target reads it (see fuzz/fuzz_targets/*.rs).
"""

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "seeds")
ROW = [5.1, 3.5, 1.4, 0.2]
COLS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def write(target, name, data):
    os.makedirs(os.path.join(SEEDS, target), exist_ok=True)
    with open(os.path.join(SEEDS, target, name), "wb") as f:
        f.write(data)


def requests():
    mlflow = [
        {"inputs": [ROW, ROW]},
        {"instances": [ROW]},
        {"inputs": {"X": [ROW]}},
        {"dataframe_split": {"columns": COLS, "data": [ROW, [None, 1, 2, 3]]}},
        {"dataframe_records": [dict(zip(COLS, ROW)), dict(zip(COLS, ["NaN", 1, 2, 3]))]},
        {"inputs": [ROW], "params": {"a": 1}},
    ]
    # First byte: protocol = byte % 3 (0 MLflow, 1 V2, 2 /predict), model = (byte >> 4) % 3.
    for i, b in enumerate(mlflow):
        for m in (0, 1):
            write("request_json", f"mlflow-{i}-m{m}", bytes([m << 4]) + json.dumps(b).encode())
    write("request_json", "mlflow-tensor", bytes([2 << 4]) + b'{"inputs": [[1.5, 2.5]]}')
    v2 = [
        {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": ROW}]},
        {"id": "r1", "inputs": [{"name": "X", "shape": [2, 4], "datatype": "FP64", "data": [ROW, ROW]}],
         "outputs": [{"name": "label"}]},
        {"inputs": [{"name": c, "shape": [1, 1], "datatype": "FP64", "data": [x]} for c, x in zip(COLS, ROW)]},
        {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": ROW}],
         "parameters": {"binary_data_output": True}},
    ]
    for i, b in enumerate(v2):
        for m in (0, 1):
            write("request_json", f"v2-{i}-m{m}", bytes([m << 4 | 1]) + json.dumps(b).encode())
    write("request_json", "v2-tensor", bytes([2 << 4 | 1])
          + b'{"inputs":[{"name":"input","shape":[1,2],"datatype":"FP32","data":[1,2]}]}')
    write("request_json", "predict-rows", bytes([2]) + json.dumps([ROW, ROW]).encode())
    write("request_json", "predict-records", bytes([2]) + json.dumps([dict(zip(COLS, ROW))]).encode())
    write("request_json", "deep", bytes([0]) + b'{"inputs": ' + b"[" * 64 + b"]" * 64 + b"}")

    csv = (",".join(COLS) + "\n" + ",".join(map(str, ROW)) + "\n5.0,,1.2,0.1\n").encode()
    write("request_csv", "header", bytes([0]) + csv)
    write("request_csv", "no-header", bytes([0]) + b"5.1,3.5,1.4,0.2\n6,3,4,1\n")
    write("request_csv", "quoted", bytes([1]) + b'"sepal_length","sepal_width","petal_length","petal_width"\r\n"5.1",3.5,1.4,0.2\r\n')
    write("request_csv", "tensor", bytes([2]) + b"1.5,2.5\n")

    # v2_binary: model byte, Inference-Header-Content-Length (2 bytes, big-endian), body.
    def binary(m, name, dtype, shape, values, fmt):
        blob = b"".join(struct.pack("<" + fmt, v) for v in values)
        head = json.dumps({"inputs": [{"name": name, "shape": shape, "datatype": dtype,
                                       "parameters": {"binary_data_size": len(blob)}}]}).encode()
        return bytes([m]) + struct.pack(">H", len(head)) + head + blob

    write("v2_binary", "fp32", binary(0, "X", "FP32", [2, 4], ROW * 2, "f"))
    write("v2_binary", "fp64", binary(0, "X", "FP64", [1, 4], ROW, "d"))
    write("v2_binary", "fp16", binary(0, "X", "FP16", [1, 4], [0x3C00, 0x4000, 0x4200, 0x4400], "H"))
    write("v2_binary", "int64", binary(0, "X", "INT64", [1, 4], [1, 2, 3, 4], "q"))
    head = json.dumps({"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32",
                                   "parameters": {"binary_data_size": 8}}],
                       "outputs": [{"name": "label", "parameters": {"binary_data": True}}]}).encode()
    write("v2_binary", "tensor", bytes([2]) + struct.pack(">H", len(head)) + head + struct.pack("<ff", 1.5, 2.5))
    write("v2_binary", "lying-length", bytes([0, 0xFF, 0xFF]) + head)


def mlmodels():
    cols = json.dumps([{"type": "double", "name": c, "required": True} for c in COLS])
    out = json.dumps([{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}])
    tensor = json.dumps([{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}])
    write("mlmodel_yaml", "onnx-columns", f"""artifact_path: model
flavors:
  onnx:
    code: null
    data: model.onnx
    onnx_version: 1.17.0
    providers:
    - CPUExecutionProvider
  python_function:
    data: model.onnx
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.onnx
    python_version: 3.11.2
mlflow_version: 3.1.0
model_size_bytes: 1234
model_uuid: 0123456789abcdef0123456789abcdef
run_id: fedcba9876543210fedcba9876543210
saved_input_example_info:
  artifact_path: input_example.json
  serving_input_path: serving_input_example.json
  type: dataframe
signature:
  inputs: '{cols}'
  outputs: '{out}'
  params: null
utc_time_created: '2026-12-03 09:00:00.000000'
""".encode())
    write("mlmodel_yaml", "tensor-spec", f"""flavors:
  smartcore:
    data: model.postcard
signature:
  inputs: '{tensor}'
  outputs: '{tensor}'
""".encode())
    write("mlmodel_yaml", "minimal", b"flavors:\n  lin: {width: 2, scale: 3.0}\n")
    write("mlmodel_yaml", "anchors", b"flavors: &a\n  x: *a\n")


def onnx_models(python):
    code = r"""
import sys
import numpy as np
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from sklearn.ensemble import RandomForestClassifier
from skl2onnx import to_onnx
out = sys.argv[1]
rng = np.random.default_rng(0)
X = rng.normal(size=(60, 4)).astype(np.float32)
y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)
for name, m in [("logreg", LogisticRegression(max_iter=200)),
                ("tree", DecisionTreeClassifier(max_depth=3)),
                ("forest", RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0))]:
    m.fit(X, y)
    onx = to_onnx(m, X[:1], options={id(m): {"zipmap": False}})
    open(f"{out}/{name}.onnx", "wb").write(onx.SerializeToString())
lr = LinearRegression().fit(X, X[:, 0])
open(f"{out}/linreg.onnx", "wb").write(to_onnx(lr, X[:1]).SerializeToString())
"""
    target = os.path.join(SEEDS, "onnx_graph")
    os.makedirs(target, exist_ok=True)
    subprocess.run([python, "-c", code, target], check=True)


def elf():
    target = os.path.join(SEEDS, "plugin_elf")
    os.makedirs(target, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "seed.c")
        with open(src, "w") as f:
            f.write("int homeml_seed(int x) { return x + 1; }\n")
        lib = os.path.join(target, "tiny.so")
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-s", "-o", lib, src], check=True)
    with open(lib, "rb") as f:
        data = f.read()
    write("plugin_elf", "truncated.so", data[:2000])
    write("plugin_elf", "headers-only.so", data[:64])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=os.path.join(HERE, "..", ".venv", "bin", "python"))
    args = ap.parse_args()
    shutil.rmtree(SEEDS, ignore_errors=True)
    requests()
    mlmodels()
    onnx_models(args.python)
    elf()
    n = sum(len(files) for _, _, files in os.walk(SEEDS))
    print(f"{n} seeds in {SEEDS}")


if __name__ == "__main__":
    sys.exit(main())
