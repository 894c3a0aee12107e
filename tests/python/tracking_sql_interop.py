"""Interop of homeml server and the real mlflow server on one SQL database, through the real MLflow
client: `write SERVER_URL TAG` logs an experiment, runs (params, metrics with history and NaN, tags),
a logged model registered with an alias; `read SERVER_URL TAG` checks everything a `write` with that
tag left, through the other server. Prints OK at the end of each phase."""

import math
import sys

import mlflow
from mlflow import MlflowClient


def write(tag):
    mlflow.set_experiment(f"interop-{tag}")
    with mlflow.start_run(run_name=f"run-{tag}") as run:
        mlflow.log_params({"lr": "0.1", "layers": "3", "writer": tag})
        for step, loss in enumerate([0.9, 0.5, 0.25]):
            mlflow.log_metric("loss", loss, step=step)
        mlflow.log_metric("odd", float("nan"))
        mlflow.log_metric("acc", 0.75 if tag == "homeml" else 0.85)
        mlflow.set_tags({"team": "ml", "writer": tag})
        mlflow.log_text(f"written by {tag}", "notes/who.txt")
        with mlflow.start_run(run_name=f"child-{tag}", nested=True):
            mlflow.log_metric("loss", 1.0)
    client = MlflowClient()
    name = f"interop-model-{tag}"
    client.create_registered_model(name, tags={"writer": tag}, description=f"by {tag}")
    mv = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    client.set_registered_model_alias(name, "champion", mv.version)
    client.set_model_version_tag(name, mv.version, "validated", "yes")
    print("OK")


def read(tag):
    client = MlflowClient()
    exp = client.get_experiment_by_name(f"interop-{tag}")
    assert exp is not None, f"experiment interop-{tag} missing"
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])
    assert len(runs) == 2, [r.info.run_name for r in runs]
    parent = [r for r in runs if r.info.run_name == f"run-{tag}"][0]
    child = [r for r in runs if r.info.run_name == f"child-{tag}"][0]
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert parent.data.params == {"lr": "0.1", "layers": "3", "writer": tag}, parent.data.params
    assert parent.data.metrics["loss"] == 0.25, parent.data.metrics
    assert math.isnan(parent.data.metrics["odd"]), parent.data.metrics
    assert parent.data.tags["team"] == "ml" and parent.data.tags["writer"] == tag
    assert parent.info.status == "FINISHED" and parent.info.end_time is not None
    hist = client.get_metric_history(parent.info.run_id, "loss")
    assert [(m.step, m.value) for m in hist] == [(0, 0.9), (1, 0.5), (2, 0.25)], hist
    found = client.search_runs(
        [exp.experiment_id], filter_string="metrics.loss < 0.5 and params.lr = '0.1' and tags.team = 'ml'"
    )
    assert [r.info.run_id for r in found] == [parent.info.run_id], found
    page = client.search_runs([exp.experiment_id], max_results=1, order_by=["metrics.loss DESC"])
    assert len(page) == 1 and page.token, page
    assert page[0].info.run_id == child.info.run_id
    rest = client.search_runs([exp.experiment_id], max_results=1, order_by=["metrics.loss DESC"], page_token=page.token)
    assert [r.info.run_id for r in rest] == [parent.info.run_id]
    text = mlflow.artifacts.load_text(f"runs:/{parent.info.run_id}/notes/who.txt")
    assert text == f"written by {tag}", text
    name = f"interop-model-{tag}"
    rm = client.get_registered_model(name)
    assert rm.description == f"by {tag}" and rm.tags == {"writer": tag}, rm
    assert rm.aliases == {"champion": 1} or rm.aliases == {"champion": "1"}, rm.aliases
    mv = client.get_model_version_by_alias(name, "champion")
    assert str(mv.version) == "1" and mv.run_id == parent.info.run_id, mv
    assert mv.tags == {"validated": "yes"}, mv.tags
    versions = client.search_model_versions(f"name = '{name}'")
    assert [str(v.version) for v in versions] == ["1"], versions
    print("OK")


if __name__ == "__main__":
    mlflow.set_tracking_uri(sys.argv[2])
    {"write": write, "read": read}[sys.argv[1]](sys.argv[3])
