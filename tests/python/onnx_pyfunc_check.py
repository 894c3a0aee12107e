"""Loads a model directory with real MLflow (`mlflow.pyfunc.load_model`), predicts the rows of a reference
JSON written by onnx_models.py and prints the outputs as JSON: {"flavors": [...], "signature": {...},
"outputs": {name: list}}.

Usage: python onnx_pyfunc_check.py MODEL_DIR REFERENCE_JSON
"""

import json
import sys

import mlflow
import numpy as np


def main():
    model_dir, ref_path = sys.argv[1], sys.argv[2]
    with open(ref_path) as f:
        ref = json.load(f)
    (name, spec), = ref["inputs"].items()
    x = np.asarray(spec["data"], dtype=spec["dtype"]).reshape(spec["shape"])
    model = mlflow.pyfunc.load_model(model_dir)
    out = model.predict(x)
    if isinstance(out, dict):
        outputs = {k: np.asarray(v).ravel().tolist() for k, v in out.items()}
    else:
        outputs = {"": np.asarray(out).ravel().tolist()}
    sig = model.metadata.signature
    print(json.dumps({
        "flavors": sorted(model.metadata.flavors.keys()),
        "signature": sig.to_dict() if sig is not None else None,
        "outputs": outputs,
    }))


if __name__ == "__main__":
    main()
