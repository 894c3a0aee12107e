"""Interop on disk between `homeml server` and real MLflow (3.17.2), in both directions.

argv: URL_A STORE_A URL_B STORE_B, two `homeml server`s (URL_A on STORE_A, artifacts in STORE_A too;
URL_B on STORE_B, started on an empty folder).
1. The real client logs through URL_A (params, metrics, tags, an artifact, a pyfunc model, a registered
   model with an alias); then real MLflow reads STORE_A from disk (MlflowClient with a file URI) and
   finds all of it, and the artifact files are where MLflow's layout puts them.
2. Real MLflow writes STORE_B through its file store (MLFLOW_ALLOW_FILE_STORE=true); then the client
   reads it back through URL_B: run, params, metric history, tags, search, the run's artifact listing
   (REST artifacts/list, answered by the server), a registered model by alias, and the model loaded
   from `models:/name@alias` predicts.
Prints OK at the end. Driven by tests/it/tracking_server_interop.rs."""
import os
import random
import sys
import tempfile

import mlflow
import mlflow.pyfunc
import pandas as pd
import requests
from mlflow import MlflowClient

url_a, store_a, url_b, store_b = sys.argv[1:5]
uri_a, uri_b = "file://" + os.path.abspath(store_a), "file://" + os.path.abspath(store_b)


class M(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return [7] * len(model_input)


# 1. Written over HTTP, read from disk.
mlflow.set_tracking_uri(url_a)
exp_a = mlflow.set_experiment("over-http").experiment_id
with mlflow.start_run(run_name="http-run") as run:
    mlflow.log_params({"lr": "0.1", "depth": "3"})
    for s in range(4):
        mlflow.log_metric("loss", 1.0 - s / 10, step=s)
    mlflow.set_tag("team", "ml")
    mlflow.log_text("hi", "notes/a.txt")
    # The client's proxy multipart upload, forced on a small file: the server refuses it as
    # `mlflow server` does for a local destination and the client falls back to one PUT.
    os.environ.update(MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD="true",
                      MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE="1000",
                      MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE="100000")
    blob_dir = tempfile.mkdtemp()
    blob = bytes(random.Random(7).getrandbits(8) for _ in range(250_000))
    with open(os.path.join(blob_dir, "big.bin"), "wb") as f:
        f.write(blob)
    mlflow.log_artifact(os.path.join(blob_dir, "big.bin"), "blobs")
    for k in ("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE",
              "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE"):
        del os.environ[k]
    info = mlflow.pyfunc.log_model(name="model", python_model=M())
    # MLflow 3 metrics of a model on a dataset (step 0: MLflow's file store reads the step of a
    # dataset line as 0).
    ds = mlflow.data.from_pandas(pd.DataFrame({"x": [1, 2]}), name="evalset")
    mlflow.log_metric("auc", 0.9, step=0, model_id=info.model_id, dataset=ds)
    mlflow.log_metric("auc", 0.8, step=1, model_id=info.model_id)
mv = mlflow.register_model(info.model_uri, "http-model")
MlflowClient().set_registered_model_alias("http-model", "prod", mv.version)

disk = MlflowClient(tracking_uri=uri_a, registry_uri=uri_a)
e = disk.get_experiment_by_name("over-http")
assert e is not None and e.experiment_id == exp_a, e
r = disk.get_run(run.info.run_id)
assert r.info.run_name == "http-run" and r.info.status == "FINISHED", r.info
assert r.data.params == {"lr": "0.1", "depth": "3"}, r.data.params
assert r.data.tags["team"] == "ml", r.data.tags
assert sorted({(m.step, m.value) for m in disk.get_metric_history(r.info.run_id, "loss")}) == [
    (s, 1.0 - s / 10) for s in range(4)]
assert [x.info.run_id for x in disk.search_runs([exp_a], "params.lr = '0.1'")] == [r.info.run_id]
lm = disk.get_logged_model(info.model_id)
assert lm.name == "model" and lm.source_run_id == r.info.run_id and str(lm.status).endswith("READY"), lm
auc = sorted((m.value, m.step, m.dataset_name, m.dataset_digest, m.run_id) for m in lm.metrics if m.key == "auc")
assert auc == [(0.8, 1, None, None, r.info.run_id), (0.9, 0, "evalset", ds.digest, r.info.run_id)], auc
assert [(m.value, m.dataset_name) for m in disk.get_metric_history(r.info.run_id, "auc")] == [
    (0.9, "evalset"), (0.8, None)]
v = disk.get_model_version_by_alias("http-model", "prod")
assert str(v.version) == "1" and v.source == info.model_uri, v
# mlflow-artifacts:/ maps onto MLflow's own layout when the artifacts live in the store.
assert open(os.path.join(store_a, exp_a, r.info.run_id, "artifacts", "notes", "a.txt")).read() == "hi"
assert os.path.exists(os.path.join(store_a, exp_a, "models", info.model_id, "artifacts", "MLmodel"))
got = mlflow.artifacts.download_artifacts(run_id=r.info.run_id, artifact_path="blobs/big.bin",
                                          dst_path=tempfile.mkdtemp())
assert open(got, "rb").read() == blob

# 2. Written by MLflow's file store, served over HTTP.
mlflow.set_tracking_uri(uri_b)
mlflow.set_registry_uri(uri_b)
exp_b = mlflow.set_experiment("on-disk").experiment_id
with mlflow.start_run(run_name="disk-run") as run_b:
    mlflow.log_param("alpha", "0.5")
    for s in range(3):
        mlflow.log_metric("acc", 0.5 + s / 10, step=s)
    mlflow.set_tag("origin", "mlflow")
    mlflow.log_text("from mlflow", "docs/readme.txt")
    info_b = mlflow.pyfunc.log_model(name="model", python_model=M(), registered_model_name="disk-model")
    ds_b = mlflow.data.from_pandas(pd.DataFrame({"x": [3]}), name="holdout")
    mlflow.log_metric("f1", 0.6, step=0, model_id=info_b.model_id, dataset=ds_b)
MlflowClient().set_registered_model_alias("disk-model", "champion", "1")

mlflow.set_tracking_uri(url_b)
mlflow.set_registry_uri(url_b)
c = MlflowClient()
rb = c.get_run(run_b.info.run_id)
assert rb.info.run_name == "disk-run" and rb.info.experiment_id == exp_b, rb.info
assert rb.data.params == {"alpha": "0.5"} and rb.data.tags["origin"] == "mlflow", rb.data
assert sorted({(m.step, m.value) for m in c.get_metric_history(rb.info.run_id, "acc")}) == [
    (s, 0.5 + s / 10) for s in range(3)]
assert [x.info.run_id for x in c.search_runs([exp_b], "metrics.acc > 0.6")] == [rb.info.run_id]
assert c.get_experiment_by_name("on-disk").experiment_id == exp_b
f1 = [(m.value, m.dataset_name, m.dataset_digest) for m in c.get_metric_history(rb.info.run_id, "f1")]
assert f1 == [(0.6, "holdout", ds_b.digest)], f1
assert (rb.data.metrics["f1"], c.get_run(rb.info.run_id).data.metrics["f1"]) == (0.6, 0.6)
lm_b = c.get_logged_model(info_b.model_id)
assert [(m.key, m.value, m.dataset_name, m.run_id) for m in lm_b.metrics if m.key == "f1"] == [
    ("f1", 0.6, "holdout", rb.info.run_id)], lm_b.metrics
listing = requests.get(f"{url_b}/api/2.0/mlflow/artifacts/list",
                       params={"run_id": rb.info.run_id, "path": "docs"}, timeout=30).json()
assert [f["path"] for f in listing.get("files", [])] == ["docs/readme.txt"], listing
vb = c.get_model_version_by_alias("disk-model", "champion")
assert str(vb.version) == "1", vb
m = mlflow.pyfunc.load_model("models:/disk-model@champion")
assert list(m.predict(pd.DataFrame({"x": [1, 2, 3]}))) == [7, 7, 7]
print("OK")
