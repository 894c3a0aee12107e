"""BentoML 1.4 service for the comparison: the same ONNX model with ONNX Runtime, adaptive batching on.

Environment: HOMEML_BENCH_ONNX (path to model.onnx), HOMEML_BENCH_WORKERS (default 2),
HOMEML_BENCH_MAX_BATCH (default 64), HOMEML_BENCH_MAX_LATENCY_MS (default 100).
Request: POST /predict {"inputs": [[5.1, 3.5, 1.4, 0.2]]} -> the class probabilities.
"""

import os

import bentoml
import numpy as np
import onnxruntime as ort

MODEL = os.environ["HOMEML_BENCH_ONNX"]
WORKERS = int(os.environ.get("HOMEML_BENCH_WORKERS", "2"))
MAX_BATCH = int(os.environ.get("HOMEML_BENCH_MAX_BATCH", "64"))
MAX_LATENCY_MS = int(os.environ.get("HOMEML_BENCH_MAX_LATENCY_MS", "100"))


@bentoml.service(workers=WORKERS, traffic={"timeout": 30})
class OnnxModel:
    def __init__(self) -> None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self.session = ort.InferenceSession(MODEL, opts, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        # skl2onnx classifiers (zipmap=False): outputs are [label, probabilities].
        self.output = self.session.get_outputs()[-1].name

    @bentoml.api(batchable=True, batch_dim=0, max_batch_size=MAX_BATCH, max_latency_ms=MAX_LATENCY_MS)
    def predict(self, inputs: np.ndarray) -> np.ndarray:
        x = np.asarray(inputs, dtype=np.float32)
        return self.session.run([self.output], {self.input: x})[0]
