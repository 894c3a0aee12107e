"""Times the benchmark models in the real onnxruntime (CPU, one thread), per batch size, and prints the
microseconds per call and per row as a markdown table.

Usage: python onnx_bench_ort.py MODELS_DIR
MODELS_DIR is made by `onnx_models.py MODELS_DIR --big` (or by the criterion bench with
HOMEML_ONNX_BENCH_DIR=MODELS_DIR); the inputs are the reference rows cycled to each batch size, as in the
Rust bench.
"""

import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort

MODELS = ["logreg", "linreg", "dtree_clf", "dtree_reg", "rf_clf", "rf_clf_binary", "rf_reg", "gb_clf",
          "gb_reg", "mlp_clf", "mlp_reg", "pipe_logreg", "pipe_rf_reg"]
BATCHES = [1, 8, 64, 256]


def time_call(fn, min_seconds=0.5):
    for _ in range(20):
        fn()
    n = 0
    start = time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and n >= 20:
            return elapsed / n


def main():
    d = sys.argv[1]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    print("| model | batch | onnxruntime us/call | us/row |")
    print("|---|---|---|---|")
    for name in MODELS:
        with open(os.path.join(d, name + ".json")) as f:
            ref = json.load(f)
        (inp, spec), = ref["inputs"].items()
        x = np.asarray(spec["data"], dtype=np.float32).reshape(spec["shape"])
        sess = ort.InferenceSession(os.path.join(d, name + ".onnx"), opts, providers=["CPUExecutionProvider"])
        for b in BATCHES:
            rows = x[np.arange(b) % len(x)]
            t = time_call(lambda: sess.run(None, {inp: rows}))
            print(f"| {name} | {b} | {t * 1e6:.2f} | {t * 1e6 / b:.3f} |")


if __name__ == "__main__":
    main()
