"""Train an iris classifier in Python and serve it with homeml.

scikit-learn LogisticRegression -> skl2onnx (zipmap=False) -> mlflow.onnx.log_model into an mlruns store,
registered as `iris-classifier` with the alias `champion`. Then:

    python3 -m venv .venv-example && .venv-example/bin/pip install -r examples/python/requirements.txt
    MLFLOW_ALLOW_FILE_STORE=true .venv-example/bin/python examples/python/train_iris_onnx.py mlruns
    homeml serve -m models:/iris-classifier@champion --tracking-uri mlruns

The deployment test (tests/deploy_manifests.rs) runs this script to make the store it deploys.
"""
import os
import sys

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

import mlflow  # noqa: E402
import mlflow.onnx  # noqa: E402
import numpy as np  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402
from skl2onnx import to_onnx  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


def main(store: str) -> None:
    mlflow.set_tracking_uri(f"file://{os.path.abspath(store)}")
    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    clf = LogisticRegression(max_iter=500).fit(x, y)
    onx = to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}}, target_opset=17)
    mlflow.set_experiment("deploy-test")
    with mlflow.start_run():
        info = mlflow.onnx.log_model(
            onx,
            name="model",
            signature=infer_signature(x[:5], clf.predict(x[:5])),
            registered_model_name="iris-classifier",
        )
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("iris-classifier", "champion", info.registered_model_version)


if __name__ == "__main__":
    main(sys.argv[1])
