"""Times the benchmark models in the real onnxruntime (CPU, one thread), per batch size, and prints the
microseconds per call and per row as a markdown table: the median and the minimum over timed blocks
(the minimum is the figure least disturbed by other processes on a shared machine).

Usage: python onnx_bench_ort.py MODELS_DIR [--cpu]
--cpu times the calling thread's CPU time (time.thread_time, onnxruntime runs on the calling thread with
intra_op_num_threads = 1) instead of wall-clock time, like the Rust bench with HOMEML_BENCH_CPU_TIME=1.
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


CLOCK = time.perf_counter


def time_block(fn, min_seconds):
    n = 0
    start = CLOCK()
    while True:
        fn()
        n += 1
        elapsed = CLOCK() - start
        if elapsed >= min_seconds and n >= 5:
            return elapsed / n


def time_call(fn, blocks=15, block_seconds=0.04):
    """(median, minimum) seconds per call over `blocks` timed blocks."""
    for _ in range(20):
        fn()
    per_call = sorted(time_block(fn, block_seconds) for _ in range(blocks))
    return per_call[len(per_call) // 2], per_call[0]


def main():
    global CLOCK
    d = sys.argv[1]
    if "--cpu" in sys.argv[2:]:
        CLOCK = time.thread_time
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    print("| model | batch | onnxruntime us/call (median) | us/row (median) | us/call (min) | us/row (min) |")
    print("|---|---|---|---|---|---|")
    for name in MODELS:
        with open(os.path.join(d, name + ".json")) as f:
            ref = json.load(f)
        (inp, spec), = ref["inputs"].items()
        x = np.asarray(spec["data"], dtype=np.float32).reshape(spec["shape"])
        sess = ort.InferenceSession(os.path.join(d, name + ".onnx"), opts, providers=["CPUExecutionProvider"])
        for b in BATCHES:
            rows = x[np.arange(b) % len(x)]
            med, low = time_call(lambda: sess.run(None, {inp: rows}))
            print(f"| {name} | {b} | {med * 1e6:.2f} | {med * 1e6 / b:.3f} | {low * 1e6:.2f} | {low * 1e6 / b:.3f} |")


if __name__ == "__main__":
    main()
