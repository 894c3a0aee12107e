"""Interop (b): real MLflow reads a store homeml wrote.

usage: tracking_mlflow_reads.py <store_dir> <expected.json>

Checks with MlflowClient (search_experiments, search_runs, get_run, get_metric_history,
search_registered_models, get_model_version_by_alias) that every value equals what the Rust side
wrote, then loads models:/<name>@<alias> with mlflow.pyfunc.load_model and predicts. Exits non-zero
with a message on the first difference; prints "OK ..." on success.
"""

import json
import math
import os
import sys

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402


def check(cond, what):
    if not cond:
        print(f"MISMATCH: {what}", file=sys.stderr)
        sys.exit(1)


def same_float(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def main():
    store_dir, expected_path = sys.argv[1], sys.argv[2]
    with open(expected_path) as f:
        exp = json.load(f)
    mlflow.set_tracking_uri("file://" + os.path.abspath(store_dir))
    client = MlflowClient()

    names = {e.name: e.experiment_id for e in client.search_experiments()}
    check(names.get(exp["experiment_name"]) == exp["experiment_id"], f"experiments {names}")
    check(names.get("Default") == "0", "Default experiment")
    e = client.get_experiment(exp["experiment_id"])
    check(e.tags == exp["experiment_tags"], f"experiment tags {e.tags}")

    runs = client.search_runs([exp["experiment_id"]])
    check(
        sorted(r.info.run_id for r in runs) == sorted(exp["runs"]),
        f"active runs {[r.info.run_id for r in runs]}",
    )
    from mlflow.entities import ViewType

    deleted = client.search_runs([exp["experiment_id"]], run_view_type=ViewType.DELETED_ONLY)
    check([r.info.run_id for r in deleted] == [exp["deleted_run"]], "deleted runs")

    for run_id, want in exp["runs"].items():
        r = client.get_run(run_id)
        check(r.info.run_name == want["name"], f"run name {r.info.run_name}")
        check(r.info.status == want["status"], f"status {r.info.status}")
        check(r.data.params == want["params"], f"params {r.data.params} != {want['params']}")
        for k, v in want["tags"].items():
            check(r.data.tags.get(k) == v, f"tag {k}: {r.data.tags.get(k)} != {v}")
        check(set(r.data.metrics) == set(want["history"]), f"metric keys {r.data.metrics}")
        for key, hist in want["history"].items():
            got = client.get_metric_history(run_id, key)
            check(len(got) == len(hist), f"history length of {key}: {len(got)}")
            for g, w in zip(got, hist):
                check(
                    same_float(g.value, float(w["value"]))
                    and g.step == w["step"]
                    and g.timestamp == w["timestamp"],
                    f"{key}: {g} != {w}",
                )
            check(same_float(r.data.metrics[key], float(want["latest"][key])), f"latest {key}")
        if want.get("parent"):
            check(r.data.tags.get("mlflow.parentRunId") == want["parent"], "parent run")
        if want.get("model_id"):
            outs = [o.model_id for o in r.outputs.model_outputs]
            check(outs == [want["model_id"]], f"outputs {outs}")

    models = {m.name: m for m in client.search_registered_models()}
    rm = models.get(exp["model_name"])
    check(rm is not None, f"registered models {list(models)}")
    check(rm.description == exp["model_description"], f"description {rm.description}")
    check(dict(rm.aliases) == {exp["alias"]: str(exp["alias_version"])}
          or dict(rm.aliases) == {exp["alias"]: exp["alias_version"]},
          f"aliases {rm.aliases}")
    mv = client.get_model_version_by_alias(exp["model_name"], exp["alias"])
    check(str(mv.version) == str(exp["alias_version"]), f"alias version {mv.version}")
    check(mv.tags == exp["version_tags"], f"version tags {mv.tags}")
    check(mv.run_id == exp["model_run"], f"version run {mv.run_id}")
    v2 = client.get_model_version(exp["model_name"], "2")
    check(v2.current_stage == exp["v2_stage"], f"stage {v2.current_stage}")
    lm = client.get_logged_model(exp["model_id"])
    check(lm.source_run_id == exp["model_run"], f"logged model run {lm.source_run_id}")

    uri = f"models:/{exp['model_name']}@{exp['alias']}"
    model = mlflow.pyfunc.load_model(uri)
    X, _ = load_iris(return_X_y=True)
    X = X[:10].astype(np.float32)
    pred = model.predict(X)
    sess = ort.InferenceSession(exp["onnx_path"], providers=["CPUExecutionProvider"])
    ref = sess.run(None, {sess.get_inputs()[0].name: X})[0]
    labels = pred["label"] if isinstance(pred, dict) else np.asarray(pred.iloc[:, 0])
    check(list(np.asarray(labels).reshape(-1)) == list(ref.reshape(-1)), f"predictions {pred} vs {ref}")
    n_versions = len(client.search_model_versions("name='%s'" % exp["model_name"]))
    got = [int(x) for x in np.asarray(labels).reshape(-1)]
    print(f"OK runs={len(runs)} versions={n_versions} pyfunc({uri}) labels={got}")


if __name__ == "__main__":
    main()
