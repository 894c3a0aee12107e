"""Interop (a): real MLflow writes a file store; homeml's Rust test then reads it.

usage: tracking_mlflow_writes.py <store_dir> <out_dir>

Writes, with MLFLOW_ALLOW_FILE_STORE=true: an experiment with two runs (the second nested), params,
metrics over several steps, tags, an ONNX model (skl2onnx logistic regression on sklearn's bundled
iris, no network) logged with mlflow.onnx.log_model and registered twice, an alias, a version tag, a
stage, and a deleted run. Prints nothing; writes <out_dir>/expected.json with what MlflowClient reads
back, and <out_dir>/iris.onnx for interop (b).
"""

import json
import os
import sys

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from skl2onnx import to_onnx  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


def metric_list(client, run_id, key):
    return [
        {"value": m.value, "step": m.step, "timestamp": m.timestamp}
        for m in client.get_metric_history(run_id, key)
    ]


def main():
    store_dir, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    mlflow.set_tracking_uri("file://" + os.path.abspath(store_dir))
    client = MlflowClient()
    exp_id = mlflow.create_experiment("interop")
    client.set_experiment_tag(exp_id, "team", "homeml")

    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    clf = LogisticRegression(max_iter=500).fit(X, y)
    onx = to_onnx(clf, X[:1], options={id(clf): {"zipmap": False}}, target_opset=17)
    with open(os.path.join(out_dir, "iris.onnx"), "wb") as f:
        f.write(onx.SerializeToString())

    with mlflow.start_run(experiment_id=exp_id, run_name="train-a") as run_a:
        mlflow.log_params({"lr": "0.1", "depth": 3, "opt/name": "adam"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            mlflow.log_metric("acc", 0.5 + step * 0.1, step=step)
        mlflow.set_tags({"stage": "dev", "owner": "me"})
        with mlflow.start_run(experiment_id=exp_id, run_name="train-b", nested=True) as run_b:
            mlflow.log_param("seed", "42")
            mlflow.log_metric("loss", 0.7, step=0)
            mlflow.log_metric("loss", 0.6, step=1)
        info = mlflow.onnx.log_model(
            onx, name="model", input_example=X[:2], registered_model_name="iris-onnx"
        )
    v2 = mlflow.register_model(info.model_uri, "iris-onnx")
    client.set_registered_model_alias("iris-onnx", "champion", v2.version)
    client.set_model_version_tag("iris-onnx", "1", "validated", "true")
    client.transition_model_version_stage("iris-onnx", "1", "Production")
    client.update_registered_model("iris-onnx", description="iris from python")

    with mlflow.start_run(experiment_id=exp_id, run_name="doomed") as run_c:
        mlflow.log_metric("x", 1.0)
    client.delete_run(run_c.info.run_id)

    lm = client.get_logged_model(info.model_id)
    runs = {}
    for r in (run_a, run_b):
        full = client.get_run(r.info.run_id)
        runs[r.info.run_id] = {
            "name": full.info.run_name,
            "status": full.info.status,
            "params": full.data.params,
            "tags": full.data.tags,
            "metrics": full.data.metrics,
            "history": {k: metric_list(client, r.info.run_id, k) for k in full.data.metrics},
        }
    versions = {}
    for mv in client.search_model_versions("name='iris-onnx'"):
        versions[str(mv.version)] = {
            "stage": mv.current_stage,
            "source": mv.source,
            "run_id": mv.run_id,
            "tags": mv.tags,
            "aliases": list(mv.aliases),
        }
    expected = {
        "experiment_id": exp_id,
        "run_a": run_a.info.run_id,
        "run_b": run_b.info.run_id,
        "deleted_run": run_c.info.run_id,
        "runs": runs,
        "model_id": info.model_id,
        "model_dir": lm.artifact_location.replace("file://", "", 1),
        "versions": versions,
        "description": client.get_registered_model("iris-onnx").description,
    }
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)


if __name__ == "__main__":
    main()
