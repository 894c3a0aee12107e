"""A whole training workflow of the real mlflow client against `homeml server` (argv[1] = its URL), every
result asserted: params (write-once: a changed value raises INVALID_PARAMETER_VALUE, the same value again is
fine), metric history, tags (set, delete), artifacts of several kinds downloaded back byte-equal (text, binary,
a nested directory, a 20 MB file), a nested run, pyfunc.log_model and a flavor model (mlflow.sklearn) loaded
back, register_model, an alias, load_model("models:/name@alias") and predict, search_runs with filter, order
and page tokens, delete/restore of runs and experiments. Prints OK at the end. Driven by
tests/it/tracking_server.rs."""
import filecmp
import os
import sys
import tempfile

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

mlflow.set_tracking_uri(sys.argv[1])
exp_id = mlflow.set_experiment("smoke").experiment_id
c = mlflow.MlflowClient()


def error_code(f, *a, **kw):
    try:
        f(*a, **kw)
    except MlflowException as e:
        return e.error_code
    raise AssertionError(f"{f.__name__}{a} did not raise")


class M(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return [1] * len(model_input)


work = tempfile.mkdtemp()
binary = os.urandom(70_000) + bytes(range(256))
big = os.urandom(20 << 20)
tree = os.path.join(work, "tree")
os.makedirs(os.path.join(tree, "a", "b"))
for rel, data in [("top.txt", b"top\n"), ("a/mid.bin", b"\x00\x01\xff" * 100), ("a/b/deep.json", b'{"x": 1}')]:
    with open(os.path.join(tree, rel), "wb") as f:
        f.write(data)
with open(os.path.join(work, "blob.bin"), "wb") as f:
    f.write(binary)
with open(os.path.join(work, "big.bin"), "wb") as f:
    f.write(big)

with mlflow.start_run(run_name="parent", tags={"team": "ml"}) as run:
    rid = run.info.run_id
    mlflow.log_param("lr", 0.1)
    mlflow.log_params({"depth": 3, "opt": "sgd"})
    for s in range(3):
        mlflow.log_metric("loss", 1.0 / (s + 1), step=s)
    mlflow.set_tags({"stage": "dev", "doomed": "x"})
    c.delete_tag(rid, "doomed")
    mlflow.log_text("hello", "notes/hello.txt")
    mlflow.log_artifact(os.path.join(work, "blob.bin"), "bin")
    mlflow.log_artifact(os.path.join(work, "big.bin"))
    mlflow.log_artifacts(tree, "tree")
    info = mlflow.pyfunc.log_model(name="model", python_model=M())
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 0, 1, 1])
    sk = LogisticRegression().fit(X, y)
    sk_info = mlflow.sklearn.log_model(sk, name="sk")
    with mlflow.start_run(nested=True) as child:
        mlflow.log_metric("acc", 0.5)

r = c.get_run(rid)
assert r.info.status == "FINISHED" and r.info.run_name == "parent", r.info
assert r.data.params == {"lr": "0.1", "depth": "3", "opt": "sgd"}, r.data.params
assert r.data.metrics == {"loss": 1 / 3}, r.data.metrics
assert r.data.tags["team"] == "ml" and r.data.tags["stage"] == "dev" and "doomed" not in r.data.tags, r.data.tags
assert c.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == rid

# log_model re-logs the run's metrics (with the model's id), so the history has repeats, as on MLflow's
# file store.
h = c.get_metric_history(rid, "loss")
assert sorted({(m.step, m.value) for m in h}) == [(0, 1.0), (1, 0.5), (2, 1 / 3)], h

# Artifacts, byte-equal.
dl = mlflow.artifacts.download_artifacts
assert open(dl(run_id=rid, artifact_path="notes/hello.txt")).read() == "hello"
assert open(dl(run_id=rid, artifact_path="bin/blob.bin"), "rb").read() == binary
assert open(dl(run_id=rid, artifact_path="big.bin"), "rb").read() == big
got = dl(run_id=rid, artifact_path="tree")
cmp = filecmp.dircmp(tree, got)
assert sorted(os.path.relpath(os.path.join(d, f), got) for d, _, fs in os.walk(got) for f in fs) == [
    "a/b/deep.json", "a/mid.bin", "top.txt"], list(os.walk(got))
for rel in ["top.txt", "a/mid.bin", "a/b/deep.json"]:
    assert filecmp.cmp(os.path.join(tree, rel), os.path.join(got, rel), shallow=False), rel
names = sorted(f.path for f in c.list_artifacts(rid))
assert names == ["big.bin", "bin", "notes", "tree"], names
sizes = {f.path: f.file_size for f in c.list_artifacts(rid, "bin")}
assert sizes == {"bin/blob.bin": len(binary)}, sizes

# The registry and models.
mv = mlflow.register_model(info.model_uri, "smoke-model")
assert mv.version == "1" and mv.status == "READY", mv
c.set_registered_model_alias("smoke-model", "champion", mv.version)
assert c.get_model_version_by_alias("smoke-model", "champion").version == "1"
m = mlflow.pyfunc.load_model("models:/smoke-model@champion")
pred = list(m.predict(pd.DataFrame({"x": [1, 2]})))
assert pred == [1, 1], pred
sk_back = mlflow.sklearn.load_model(sk_info.model_uri)
assert list(sk_back.predict(X)) == [0, 0, 1, 1]
assert list(mlflow.pyfunc.load_model(f"runs:/{rid}/sk").predict(X)) == [0, 0, 1, 1]

# Search: filter and order, then page tokens over 7 runs.
runs = mlflow.search_runs(filter_string="metrics.loss < 0.5", order_by=["metrics.loss DESC"])
assert len(runs) == 1 and runs["run_id"][0] == rid, runs
page_exp = mlflow.create_experiment("pages")
made = []
for i in range(7):
    made.append(c.create_run(page_exp, run_name=f"p{i}", start_time=1000 + i).info.run_id)
seen, token, pages = [], None, 0
while True:
    page = c.search_runs([page_exp], max_results=3, page_token=token, order_by=["attributes.start_time ASC"])
    seen += [r.info.run_id for r in page]
    pages += 1
    token = page.token
    if not token:
        break
assert seen == made and pages == 3, (seen, made, pages)

# Params are write-once.
assert error_code(c.log_param, rid, "lr", "0.2") == "INVALID_PARAMETER_VALUE"
c.log_param(rid, "lr", "0.1")  # the same value again is fine

# Delete and restore a run and an experiment.
c.delete_run(made[0])
assert c.get_run(made[0]).info.lifecycle_stage == "deleted"
assert made[0] not in [r.info.run_id for r in c.search_runs([page_exp])]
assert [r.info.run_id for r in c.search_runs([page_exp], run_view_type=ViewType.DELETED_ONLY)] == [made[0]]
c.restore_run(made[0])
assert len(c.search_runs([page_exp])) == 7
c.delete_experiment(page_exp)
assert c.get_experiment(page_exp).lifecycle_stage == "deleted"
assert "pages" not in [e.name for e in c.search_experiments()]
assert "pages" in [e.name for e in c.search_experiments(view_type=ViewType.DELETED_ONLY)]
c.restore_experiment(page_exp)
assert c.get_experiment_by_name("pages").lifecycle_stage == "active"

# Missing things.
assert error_code(c.get_run, "0" * 32) == "RESOURCE_DOES_NOT_EXIST"
assert error_code(c.get_experiment, "987654") == "RESOURCE_DOES_NOT_EXIST"
assert c.get_experiment_by_name("no-such-experiment") is None
assert error_code(c.create_experiment, "smoke") == "RESOURCE_ALREADY_EXISTS"
print("OK")
