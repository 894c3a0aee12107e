"""Train a scikit-learn model, export it to ONNX (skl2onnx, zipmap=False) and log it with
mlflow.onnx.log_model into a file store. Prints the local model directory on the last line.

Usage: python make_model.py --kind iris|mlp --store DIR
  iris: LogisticRegression on the iris data set (4 features, 3 classes)
  mlp:  MLPClassifier with two hidden layers of 512 on a synthetic 32-feature data set
"""

import argparse
import os
import sys

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

import mlflow  # noqa: E402
import mlflow.onnx  # noqa: E402
import numpy as np  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402
from skl2onnx import to_onnx  # noqa: E402
from sklearn.datasets import load_iris, make_classification  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

MLP_FEATURES = 32


def train(kind):
    if kind == "iris":
        x, y = load_iris(return_X_y=True)
        model = LogisticRegression(max_iter=500).fit(x, y)
    else:
        x, y = make_classification(
            n_samples=2000, n_features=MLP_FEATURES, n_informative=16, n_classes=3, random_state=0
        )
        model = MLPClassifier(hidden_layer_sizes=(512, 512), max_iter=30, random_state=0).fit(x, y)
    return model, x.astype(np.float32)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kind", choices=["iris", "mlp"], required=True)
    p.add_argument("--store", required=True, help="mlruns directory to create")
    a = p.parse_args()

    import warnings

    warnings.filterwarnings("ignore")
    model, x = train(a.kind)
    onx = to_onnx(model, x[:1], options={id(model): {"zipmap": False}}, target_opset=17)
    mlflow.set_tracking_uri("file://" + os.path.abspath(a.store))
    mlflow.set_experiment("bench-compare")
    with mlflow.start_run() as run:
        sess_out = model.predict_proba(x[:5]).astype(np.float32)
        info = mlflow.onnx.log_model(
            onx,
            name=a.kind,
            signature=infer_signature(x[:5], sess_out),
            input_example=x[:1],
        )
    # The local model directory (holds MLmodel and model.onnx).
    local = mlflow.artifacts.download_artifacts(info.model_uri)
    print(f"run_id={run.info.run_id} model_uri={info.model_uri}", file=sys.stderr)
    print(local)


if __name__ == "__main__":
    main()
