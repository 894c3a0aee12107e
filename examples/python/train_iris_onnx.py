"""Train an iris classifier in Python with the real MLflow client and serve it with homeml.

scikit-learn LogisticRegression -> skl2onnx (zipmap=False) -> mlflow.onnx.log_model to a tracking server,
registered as `iris-classifier` with the alias `champion`. The common path, one command per terminal:

    homeml server                                       # MLflow's REST API, artifact proxy and UI on :5000
    python examples/python/train_iris_onnx.py           # mlflow.set_tracking_uri("http://127.0.0.1:5000")
    homeml serve -m models:/iris-classifier@champion --tracking-uri http://127.0.0.1:5000

(`pip install -r examples/python/requirements.txt` first.) argv[1], when given, is another tracking URI: a
server's http(s):// URL, or a folder for a local file store (MLflow's deprecated file store, allowed here
with MLFLOW_ALLOW_FILE_STORE=true). The deployment tests (tests/it/deploy_manifests.rs) run this script
against the `homeml server` of the manifests.
"""
import os
import sys

TRACKING_URI = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:5000"
if "://" not in TRACKING_URI:
    TRACKING_URI = f"file://{os.path.abspath(TRACKING_URI)}"
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

import mlflow  # noqa: E402
import mlflow.onnx  # noqa: E402
import numpy as np  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402
from skl2onnx import to_onnx  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


def main() -> None:
    mlflow.set_tracking_uri(TRACKING_URI)
    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    clf = LogisticRegression(max_iter=500).fit(x, y)
    onx = to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}}, target_opset=17)
    mlflow.set_experiment("iris-onnx")
    with mlflow.start_run():
        mlflow.log_param("max_iter", 500)
        mlflow.log_metric("train_accuracy", float(clf.score(x, y)))
        info = mlflow.onnx.log_model(
            onx,
            name="model",
            signature=infer_signature(x[:5], clf.predict(x[:5])),
            registered_model_name="iris-classifier",
        )
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("iris-classifier", "champion", info.registered_model_version)
    print(f"registered iris-classifier version {info.registered_model_version} as @champion on {TRACKING_URI}")


if __name__ == "__main__":
    main()
