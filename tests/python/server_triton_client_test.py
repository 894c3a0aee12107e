"""Drives a running homeml server with the real tritonclient[http] (KServe V2 + Triton binary tensors).

Usage: python server_triton_client_test.py HOST:PORT MODEL EXPECTED_JSON

EXPECTED_JSON holds {"rows": [[...], ...], "label": [...], "probabilities": [[...], ...]} for MODEL, a
classifier with input X (FP32 [-1, 4]) and outputs label (INT64) and probabilities (FP32).
Exits non-zero with a message on the first mismatch.
"""

import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def check(cond, msg):
    if not cond:
        print(f"FAIL: {msg}", file=sys.stderr)
        sys.exit(1)


def main():
    url, model, expected_path = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(expected_path) as f:
        expected = json.load(f)
    rows = np.array(expected["rows"], dtype=np.float32)
    want_label = np.array(expected["label"], dtype=np.int64)
    want_probs = np.array(expected["probabilities"], dtype=np.float32)

    client = httpclient.InferenceServerClient(url=url)
    check(client.is_server_live(), "server not live")
    check(client.is_server_ready(), "server not ready")
    check(client.is_model_ready(model), "model not ready")
    check(not client.is_model_ready("no-such-model"), "unknown model reported ready")

    meta = client.get_server_metadata()
    check(meta["name"] == "homeml", f"server metadata {meta}")
    check("binary_tensor_data" in meta["extensions"], f"extensions {meta}")

    mmeta = client.get_model_metadata(model)
    check(mmeta["name"] == model, f"model metadata {mmeta}")
    check(mmeta["inputs"] == [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}], f"inputs {mmeta}")
    out_names = [o["name"] for o in mmeta["outputs"]]
    check(out_names == ["label", "probabilities"], f"outputs {mmeta}")

    index = client.get_model_repository_index()
    check(any(m["name"] == model and m.get("state") == "READY" for m in index), f"index {index}")

    # Every combination of binary/JSON inputs and outputs, with and without requested outputs.
    for binary_in in (True, False):
        for requested in (None, (True, True), (False, False), (True, False)):
            inp = httpclient.InferInput("X", list(rows.shape), "FP32")
            inp.set_data_from_numpy(rows, binary_data=binary_in)
            outputs = None
            if requested is not None:
                outputs = [
                    httpclient.InferRequestedOutput("label", binary_data=requested[0]),
                    httpclient.InferRequestedOutput("probabilities", binary_data=requested[1]),
                ]
            rid = f"req-{binary_in}-{requested}"
            result = client.infer(model, [inp], outputs=outputs, request_id=rid)
            resp = result.get_response()
            check(resp.get("id") == rid, f"id echo: {resp}")
            check(resp["model_name"] == model, f"model_name: {resp}")
            label = result.as_numpy("label")
            probs = result.as_numpy("probabilities")
            check(label is not None and probs is not None, f"missing outputs: {resp}")
            check(label.dtype == np.int64 and probs.dtype == np.float32, f"dtypes {label.dtype} {probs.dtype}")
            check(np.array_equal(label, want_label), f"label {label} != {want_label} ({binary_in}, {requested})")
            check(np.allclose(probs, want_probs, atol=1e-5), f"probabilities {probs} != {want_probs}")

    # One requested output only; FP64 input converted by the server.
    inp = httpclient.InferInput("X", list(rows.shape), "FP64")
    inp.set_data_from_numpy(rows.astype(np.float64), binary_data=True)
    result = client.infer(model, [inp], outputs=[httpclient.InferRequestedOutput("probabilities")])
    check(result.as_numpy("label") is None, "label returned though not requested")
    check(np.allclose(result.as_numpy("probabilities"), want_probs, atol=1e-5), "probabilities (FP64 in)")

    # Errors surface as InferenceServerException with the server's message and a 4xx status.
    bad = httpclient.InferInput("X", [1, 3], "FP32")
    bad.set_data_from_numpy(np.zeros((1, 3), dtype=np.float32), binary_data=True)
    try:
        client.infer(model, [bad])
        check(False, "a wrong shape was accepted")
    except InferenceServerException as e:
        check("dimension 1 must be 4" in e.message(), f"shape error message: {e.message()}")
        check(str(e.status()) == "400", f"shape error status: {e.status()}")
    try:
        client.infer("no-such-model", [inp])
        check(False, "an unknown model answered")
    except InferenceServerException as e:
        check(str(e.status()) == "404", f"unknown model status: {e.status()}")

    client.close()
    print("tritonclient: all checks passed")


if __name__ == "__main__":
    main()
