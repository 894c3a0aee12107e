"""The real mlflow client reads what homeml's Rust training logged through `homeml server` with an
http:// tracking URI (argv[1] = the server's URL; `homeml quickstart --no-serve` ran once against it):
the runs with their params, metric values and tags, the run artifact heldout_predictions.json downloaded
byte for byte as JSON, the logged models' MLmodel files, the registry's versions and alias. Prints OK
at the end. Driven by tests/it/tracking_remote.rs."""
import json, os, sys, tempfile
import mlflow
from mlflow import MlflowClient

mlflow.set_tracking_uri(sys.argv[1])
c = MlflowClient()
exp = c.get_experiment_by_name("homeml-quickstart")
assert exp is not None, "no experiment homeml-quickstart"
runs = c.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])
names = sorted(r.info.run_name for r in runs)
print("runs", names)
assert len(runs) == 4, names
for r in runs:
    assert r.info.status == "FINISHED", (r.info.run_name, r.info.status)
    assert r.data.tags.get("mlflow.runName") == r.info.run_name, r.data.tags
    assert r.data.tags.get("mlflow.source.type") == "LOCAL", r.data.tags
    assert r.data.params, (r.info.run_name, "no params")
logreg = next(r for r in runs if r.info.run_name == "iris-logreg-smartcore")
assert logreg.data.metrics["val_accuracy"] > 0.85, logreg.data.metrics
hist = c.get_metric_history(logreg.info.run_id, "val_accuracy")
assert len(hist) >= 1, hist
with tempfile.TemporaryDirectory() as d:
    p = mlflow.artifacts.download_artifacts(run_id=logreg.info.run_id, artifact_path="heldout_predictions.json", dst_path=d)
    rec = json.load(open(p))
    assert rec["model"] == "iris-classifier" and len(rec["data"]) == len(rec["targets"]) > 0, rec.keys()
    mv = c.get_model_version_by_alias("iris-classifier", "champion")
    print("champion", mv.version, mv.source, mv.run_id)
    assert mv.run_id == logreg.info.run_id, (mv.run_id, logreg.info.run_id)
    assert mv.source.startswith("models:/m-"), mv.source
    lm = c.get_logged_model(mv.source[len("models:/"):])
    assert lm.status == "READY" or str(lm.status).endswith("READY"), lm.status
    assert lm.source_run_id == logreg.info.run_id, lm.source_run_id
    local = mlflow.artifacts.download_artifacts(artifact_uri=lm.artifact_location, dst_path=os.path.join(d, "m"))
    mlmodel = open(os.path.join(local, "MLmodel")).read()
    assert "smartcore" in mlmodel and lm.model_id in mlmodel, mlmodel
    assert os.path.getsize(os.path.join(local, "model.postcard")) > 0
for name in ["iris-classifier", "iris-random-forest", "diabetes-regressor", "iris-linfa"]:
    m = c.get_registered_model(name)
    assert m.aliases.get("champion") == "1", (name, m.aliases)
print("OK")
