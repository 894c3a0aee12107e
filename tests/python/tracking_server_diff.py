"""Differential test of the REST answers: the same fixed list of MLflow REST calls (plain `requests`, the way
mlflow's rest_utils sends them: GET with a query string, the rest with a JSON body) against the real
`mlflow server` (argv[1]; or a recording of its answers that argv[3] saved) and `homeml server` (argv[2]); each answer (status and JSON) is normalized (ids
that the servers chose become placeholders, epoch-ms timestamps become "<ts>", `{key, value}` lists are
sorted by key) and the two are compared. A difference that is deliberate is listed in DELIBERATE with the
reason; any other difference fails. Prints the differences and OK at the end. Driven by
tests/it/tracking_server_diff.rs."""
import json
import re
import sys

import requests

# (call name, JSON path) -> why homeml answers differently on purpose. The path "*" covers the whole answer.
DELIBERATE = {
    # Flask answers an unknown route with its HTML 404 page; homeml answers MLflow's JSON error shape
    # (ENDPOINT_NOT_FOUND, 404), which the client maps to the same exception.
    ("unknown endpoint", "body"): "JSON ENDPOINT_NOT_FOUND instead of Flask's HTML page",
    ("unknown endpoint, ajax", "body"): "JSON ENDPOINT_NOT_FOUND instead of Flask's HTML page",
    # MLflow's filter errors name its tokenizer's view (and print a Python set, whose order changes
    # from run to run); code and status agree.
    ("search experiments bad filter", "body.message"): "filter parse messages are homeml's own",
    ("search runs bad filter", "body.message"): "filter parse messages are homeml's own",
    # A POSTed experiments/search without max_results reaches MLflow's handler as 0 and is refused;
    # homeml uses the documented default (1000). The client always sends max_results.
    ("search experiments without max_results", "*"): "homeml applies the default max_results",
    # MLflow's file store 404s the history of a missing run; its SQL store (MLflow's default backend)
    # answers 200 {} and so does homeml.
    ("metric history of a missing run", "*"): "the SQL store's answer (200 {})",
    # MLflow's file store ignores an unknown status and answers 200; homeml refuses it (400).
    ("update run with a bad status", "*"): "an unknown run status is refused",
    # MLflow ignores a body that is not JSON (and then misses the required field); homeml says what
    # is wrong with the body. Same code and status.
    ("malformed JSON", "body.message"): "homeml names the JSON error",
    # A JSON array as the body is a 500 (HTML) in MLflow; homeml answers 400 INVALID_PARAMETER_VALUE.
    ("JSON array body", "*"): "a client mistake gets a 4xx, never a 5xx",
}

# JSON paths that differ on purpose in every answer (regular expressions on the path).
DELIBERATE_PATHS = {
    # MLflow 3.17's file store does not answer a model version's model_id, though the ModelVersion
    # proto has the field and the request set it; homeml answers it (extra fields are ignored by the
    # client, which parses with ignore_unknown_fields).
    r"model_versions?(\[\d+\])?\.model_id$|latest_versions\[\d+\]\.model_id$": "model versions keep model_id",
}


class Recorder:
    def __init__(self, url):
        self.url = url.rstrip("/")
        self.out = []
        self.ids = {}  # value -> placeholder

    def name_id(self, value, kind):
        if value and value not in self.ids:
            self.ids[value] = f"<{kind}{sum(1 for v in self.ids.values() if v.startswith('<' + kind))}>"
        return value

    def call(self, name, method, path, body=None, params=None, raw=None, headers=None):
        url = self.url + path
        if method == "GET":
            r = requests.get(url, params=params, timeout=60)
        elif raw is not None:
            r = requests.request(method, url, data=raw, headers=headers or {}, timeout=60)
        else:
            r = requests.request(method, url, json=body if body is not None else {}, timeout=60)
        try:
            data = r.json()
        except ValueError:
            data = {"<non-json>": r.headers.get("content-type", "").split(";")[0], "len": len(r.content)}
        self.out.append((name, r.status_code, data))
        return data

    def normalized(self):
        def norm(v, key=None, call=""):
            if isinstance(v, dict):
                return {k: norm(x, k, call) for k, x in v.items()}
            if isinstance(v, list):
                items = [norm(x, key, call) for x in v]
                if items and all(isinstance(x, dict) and "key" in x for x in items):
                    items.sort(key=lambda x: json.dumps(x, sort_keys=True))
                # The latest version per stage comes in directory-listing order from MLflow's
                # file store: no order is defined.
                if key == "latest_versions" or (call == "latest versions" and key == "model_versions"):
                    items.sort(key=lambda x: int(x.get("version", 0)))
                return items
            if isinstance(v, (int, float)) and not isinstance(v, bool) and key and (
                    "time" in key or key == "timestamp") and v > 1_000_000_000_000:
                return "<ts>"
            if isinstance(v, str):
                if v.isdigit() and key in ("timestamp", "creation_timestamp", "last_updated_timestamp",
                                           "start_time", "end_time") and int(v) > 1_000_000_000_000:
                    return "<ts>"
                for real, ph in sorted(self.ids.items(), key=lambda kv: -len(kv[0])):
                    v = v.replace(real, ph)
                return v
            return v

        return [(n, s, norm(d, call=n)) for n, s, d in self.out]


def script(rec):
    c = rec.call
    exp = c("create experiment", "POST", "/api/2.0/mlflow/experiments/create",
            {"name": "diff", "tags": [{"key": "t", "value": "1"}]}).get("experiment_id")
    rec.name_id(exp, "exp")
    c("create experiment again", "POST", "/api/2.0/mlflow/experiments/create", {"name": "diff"})
    c("create experiment without name", "POST", "/api/2.0/mlflow/experiments/create", {})
    c("get experiment", "GET", "/api/2.0/mlflow/experiments/get", params={"experiment_id": exp})
    c("get missing experiment", "GET", "/api/2.0/mlflow/experiments/get", params={"experiment_id": "424242"})
    c("get experiment by name", "GET", "/api/2.0/mlflow/experiments/get-by-name",
      params={"experiment_name": "diff"})
    c("get missing experiment by name", "GET", "/api/2.0/mlflow/experiments/get-by-name",
      params={"experiment_name": "nope"})
    c("set experiment tag", "POST", "/api/2.0/mlflow/experiments/set-experiment-tag",
      {"experiment_id": exp, "key": "k", "value": "v"})
    c("search experiments by name", "POST", "/api/2.0/mlflow/experiments/search",
      {"filter": "name = 'diff'", "max_results": 10})
    c("search experiments bad filter", "POST", "/api/2.0/mlflow/experiments/search",
      {"filter": "name >>> 1", "max_results": 10})
    c("search experiments without max_results", "POST", "/api/2.0/mlflow/experiments/search", {})
    exp2 = c("create experiment 2", "POST", "/api/2.0/mlflow/experiments/create", {"name": "diff2"}).get(
        "experiment_id")
    rec.name_id(exp2, "exp")
    c("rename experiment", "POST", "/api/2.0/mlflow/experiments/update",
      {"experiment_id": exp2, "new_name": "diff2b"})
    c("rename experiment onto existing", "POST", "/api/2.0/mlflow/experiments/update",
      {"experiment_id": exp2, "new_name": "diff"})
    c("delete experiment", "POST", "/api/2.0/mlflow/experiments/delete", {"experiment_id": exp2})
    c("get deleted experiment", "GET", "/api/2.0/mlflow/experiments/get", params={"experiment_id": exp2})
    c("search deleted experiments", "GET", "/api/2.0/mlflow/experiments/search",
      params={"view_type": "DELETED_ONLY", "max_results": "10"})
    c("restore experiment", "POST", "/api/2.0/mlflow/experiments/restore", {"experiment_id": exp2})
    c("delete missing experiment", "POST", "/api/2.0/mlflow/experiments/delete", {"experiment_id": "424242"})

    runs = []
    for i in range(3):
        r = c(f"create run {i}", "POST", "/api/2.0/mlflow/runs/create",
              {"experiment_id": exp, "run_name": f"r{i}", "start_time": 1000 + i, "user_id": "u",
               "tags": [{"key": "i", "value": str(i)}]})
        rid = r.get("run", {}).get("info", {}).get("run_id")
        rec.name_id(rid, "run")
        runs.append(rid)
    r0 = runs[0]
    c("create run in missing experiment", "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": "424242"})
    c("log param", "POST", "/api/2.0/mlflow/runs/log-parameter", {"run_id": r0, "key": "lr", "value": "0.1"})
    c("log same param", "POST", "/api/2.0/mlflow/runs/log-parameter", {"run_id": r0, "key": "lr", "value": "0.1"})
    c("change param", "POST", "/api/2.0/mlflow/runs/log-parameter", {"run_id": r0, "key": "lr", "value": "0.2"})
    c("log param without key", "POST", "/api/2.0/mlflow/runs/log-parameter", {"run_id": r0, "value": "x"})
    c("log param to missing run", "POST", "/api/2.0/mlflow/runs/log-parameter",
      {"run_id": "0" * 32, "key": "a", "value": "b"})
    for i, v in enumerate([3.0, 2.0, 1.5]):
        c(f"log metric {i}", "POST", "/api/2.0/mlflow/runs/log-metric",
          {"run_id": r0, "key": "loss", "value": v, "timestamp": 5000 + i, "step": i})
    c("log NaN metric", "POST", "/api/2.0/mlflow/runs/log-metric",
      {"run_id": r0, "key": "odd", "value": "NaN", "timestamp": 6000, "step": 0})
    c("log metric without value", "POST", "/api/2.0/mlflow/runs/log-metric",
      {"run_id": r0, "key": "x", "timestamp": 1})
    c("log metric with a string value", "POST", "/api/2.0/mlflow/runs/log-metric",
      {"run_id": r0, "key": "x", "value": "abc", "timestamp": 1})
    c("log batch", "POST", "/api/2.0/mlflow/runs/log-batch",
      {"run_id": r0, "metrics": [{"key": "acc", "value": 0.9, "timestamp": 7000, "step": 1}],
       "params": [{"key": "depth", "value": "3"}], "tags": [{"key": "stage", "value": "dev"}]})
    c("log batch of 101 params", "POST", "/api/2.0/mlflow/runs/log-batch",
      {"run_id": r0, "params": [{"key": f"p{i}", "value": "v"} for i in range(101)]})
    c("log batch of 1001 metrics", "POST", "/api/2.0/mlflow/runs/log-batch",
      {"run_id": r0, "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": i} for i in range(1001)]})
    c("log batch of 101 tags", "POST", "/api/2.0/mlflow/runs/log-batch",
      {"run_id": r0, "tags": [{"key": f"t{i}", "value": "v"} for i in range(101)]})
    c("log batch with a too long key", "POST", "/api/2.0/mlflow/runs/log-batch",
      {"run_id": r0, "params": [{"key": "k" * 251, "value": "v"}]})
    c("log batch with a too long param value", "POST", "/api/2.0/mlflow/runs/log-batch",
      {"run_id": r0, "params": [{"key": "long", "value": "v" * 6001}]})
    c("set tag", "POST", "/api/2.0/mlflow/runs/set-tag", {"run_id": r0, "key": "gone", "value": "x"})
    c("delete tag", "POST", "/api/2.0/mlflow/runs/delete-tag", {"run_id": r0, "key": "gone"})
    c("delete missing tag", "POST", "/api/2.0/mlflow/runs/delete-tag", {"run_id": r0, "key": "never"})
    c("get run", "GET", "/api/2.0/mlflow/runs/get", params={"run_id": r0})
    c("get missing run", "GET", "/api/2.0/mlflow/runs/get", params={"run_id": "0" * 32})
    c("get run without id", "GET", "/api/2.0/mlflow/runs/get", params={})
    c("metric history", "GET", "/api/2.0/mlflow/metrics/get-history", params={"run_id": r0, "metric_key": "loss"})
    c("metric history of a missing run", "GET", "/api/2.0/mlflow/metrics/get-history",
      params={"run_id": "0" * 32, "metric_key": "loss"})
    c("search runs by metric", "POST", "/api/2.0/mlflow/runs/search",
      {"experiment_ids": [exp], "filter": "metrics.loss < 2"})
    c("search runs by tag ordered", "POST", "/api/2.0/mlflow/runs/search",
      {"experiment_ids": [exp], "filter": "tags.i != '1'", "order_by": ["attributes.start_time ASC"]})
    p1 = c("search runs page 1", "POST", "/api/2.0/mlflow/runs/search",
           {"experiment_ids": [exp], "max_results": 2, "order_by": ["attributes.run_name DESC"]})
    c("search runs page 2", "POST", "/api/2.0/mlflow/runs/search",
      {"experiment_ids": [exp], "max_results": 2, "order_by": ["attributes.run_name DESC"],
       "page_token": p1.get("next_page_token")})
    c("search runs bad filter", "POST", "/api/2.0/mlflow/runs/search",
      {"experiment_ids": [exp], "filter": "metrics.acc >>> 1"})
    c("update run", "POST", "/api/2.0/mlflow/runs/update",
      {"run_id": r0, "status": "FINISHED", "end_time": 9000})
    c("update run with a bad status", "POST", "/api/2.0/mlflow/runs/update", {"run_id": r0, "status": "SLEEPING"})
    c("delete run", "POST", "/api/2.0/mlflow/runs/delete", {"run_id": runs[2]})
    c("get deleted run", "GET", "/api/2.0/mlflow/runs/get", params={"run_id": runs[2]})
    c("search deleted runs", "POST", "/api/2.0/mlflow/runs/search",
      {"experiment_ids": [exp], "run_view_type": "DELETED_ONLY"})
    c("restore run", "POST", "/api/2.0/mlflow/runs/restore", {"run_id": runs[2]})

    # Artifacts through the proxy.
    art = f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{r0}/artifacts"
    c("put artifact", "PUT", art + "/d/a.txt", raw=b"hello", headers={"Content-Type": "text/plain"})
    c("put binary artifact", "PUT", art + "/b.bin", raw=bytes(range(256)),
      headers={"Content-Type": "application/octet-stream"})
    c("get artifact", "GET", art + "/d/a.txt")
    c("get missing artifact", "GET", art + "/d/none.txt")
    c("list artifacts of the proxy", "GET", "/api/2.0/mlflow-artifacts/artifacts",
      params={"path": f"{exp}/{r0}/artifacts"})
    c("list a missing proxy directory", "GET", "/api/2.0/mlflow-artifacts/artifacts", params={"path": f"{exp}/x"})
    # Multipart through the proxy: refused for a local destination after the path and request are
    # checked, with the message the client matches before it falls back to one PUT.
    mpu = "/api/2.0/mlflow-artifacts/mpu"
    c("multipart create", "POST", f"{mpu}/create/{exp}/{r0}/artifacts/big.bin", {"path": "big.bin", "num_parts": 2})
    c("multipart create without path", "POST", f"{mpu}/create/{exp}/{r0}/artifacts/big.bin", {"num_parts": 2})
    c("multipart create with a bad path", "POST", f"{mpu}/create/{exp}/%2E%2E/x", {"path": "x", "num_parts": 1})
    c("multipart complete without parts", "POST", f"{mpu}/complete/{exp}/{r0}/artifacts/big.bin",
      {"path": "big.bin", "upload_id": "u"})
    c("multipart complete", "POST", f"{mpu}/complete/{exp}/{r0}/artifacts/big.bin",
      {"path": "big.bin", "upload_id": "u", "parts": [{"part_number": 1, "etag": "e"}]})
    c("multipart abort", "POST", f"/ajax-api/2.0/mlflow-artifacts/mpu/abort/{exp}/{r0}/artifacts/big.bin",
      {"path": "big.bin", "upload_id": "u"})
    c("presigned download", "GET", f"/api/2.0/mlflow-artifacts/presigned/{exp}/{r0}/artifacts/d/a.txt")
    c("list run artifacts", "GET", "/api/2.0/mlflow/artifacts/list", params={"run_id": r0})
    c("list run artifacts of a sub dir", "GET", "/api/2.0/mlflow/artifacts/list", params={"run_id": r0, "path": "d"})

    # Logged models.
    lm = c("create logged model", "POST", "/api/2.0/mlflow/logged-models",
           {"experiment_id": exp, "name": "lm", "source_run_id": r0,
            "params": [{"key": "a", "value": "1"}], "tags": [{"key": "t", "value": "x"}]})
    mid = lm.get("model", {}).get("info", {}).get("model_id")
    rec.name_id(mid, "model")
    c("get logged model", "GET", f"/api/2.0/mlflow/logged-models/{mid}")
    c("get missing logged model", "GET", "/api/2.0/mlflow/logged-models/m-" + "0" * 32)
    c("finalize logged model", "PATCH", f"/api/2.0/mlflow/logged-models/{mid}",
      {"model_id": mid, "status": "LOGGED_MODEL_READY"})
    c("set logged model tags", "PATCH", f"/api/2.0/mlflow/logged-models/{mid}/tags",
      {"tags": [{"key": "k2", "value": "v2"}]})
    c("search logged models", "POST", "/api/2.0/mlflow/logged-models/search",
      {"experiment_ids": [exp], "filter": "name = 'lm'"})
    c("log outputs", "POST", "/api/2.0/mlflow/runs/outputs", {"run_id": r0, "models": [{"model_id": mid, "step": 0}]})
    # MLflow 3 metrics of a model and a dataset: the run's lines get the dataset, the model's
    # lines (with the run id) get both; runs/get, get-history and the logged model answer them.
    c("log metric with model and dataset", "POST", "/api/2.0/mlflow/runs/log-metric",
      {"run_id": r0, "key": "eval", "value": 0.25, "timestamp": 8000, "step": 0, "model_id": mid,
       "dataset_name": "train", "dataset_digest": "abc123"})
    c("log batch with model and dataset", "POST", "/api/2.0/mlflow/runs/log-batch",
      {"run_id": r0, "metrics": [
          {"key": "eval", "value": 0.5, "timestamp": 8001, "step": 1, "model_id": mid},
          {"key": "eval", "value": 0.75, "timestamp": 8002, "step": 0, "model_id": mid,
           "dataset_name": "test", "dataset_digest": "def456"},
          {"key": "ds_only", "value": 1.0, "timestamp": 8003, "step": 0,
           "dataset_name": "train", "dataset_digest": "abc123"}]})
    c("metric history with datasets", "GET", "/api/2.0/mlflow/metrics/get-history",
      params={"run_id": r0, "metric_key": "eval"})
    c("run with dataset metrics", "GET", "/api/2.0/mlflow/runs/get", params={"run_id": r0})
    c("logged model with metrics", "GET", f"/api/2.0/mlflow/logged-models/{mid}")

    # Registry.
    c("create registered model", "POST", "/api/2.0/mlflow/registered-models/create",
      {"name": "rm", "tags": [{"key": "t", "value": "1"}], "description": "d"})
    c("create registered model again", "POST", "/api/2.0/mlflow/registered-models/create", {"name": "rm"})
    c("get registered model", "GET", "/api/2.0/mlflow/registered-models/get", params={"name": "rm"})
    c("get missing registered model", "GET", "/api/2.0/mlflow/registered-models/get", params={"name": "nope"})
    src = f"mlflow-artifacts:/{exp}/{r0}/artifacts/d"
    c("create model version", "POST", "/api/2.0/mlflow/model-versions/create",
      {"name": "rm", "source": src, "run_id": r0})
    c("create model version 2", "POST", "/api/2.0/mlflow/model-versions/create",
      {"name": "rm", "source": f"models:/{mid}", "model_id": mid})
    c("create model version of a missing model", "POST", "/api/2.0/mlflow/model-versions/create",
      {"name": "nope", "source": src})
    c("get model version", "GET", "/api/2.0/mlflow/model-versions/get", params={"name": "rm", "version": "1"})
    c("get missing model version", "GET", "/api/2.0/mlflow/model-versions/get", params={"name": "rm", "version": "9"})
    c("set alias", "POST", "/api/2.0/mlflow/registered-models/alias", {"name": "rm", "alias": "champ", "version": "2"})
    c("get by alias", "GET", "/api/2.0/mlflow/registered-models/alias", params={"name": "rm", "alias": "champ"})
    c("get by missing alias", "GET", "/api/2.0/mlflow/registered-models/alias", params={"name": "rm", "alias": "x"})
    c("download uri", "GET", "/api/2.0/mlflow/model-versions/get-download-uri", params={"name": "rm", "version": "1"})
    c("transition stage", "POST", "/api/2.0/mlflow/model-versions/transition-stage",
      {"name": "rm", "version": "1", "stage": "Staging", "archive_existing_versions": False})
    c("transition to a bad stage", "POST", "/api/2.0/mlflow/model-versions/transition-stage",
      {"name": "rm", "version": "1", "stage": "Nowhere"})
    c("update model version", "PATCH", "/api/2.0/mlflow/model-versions/update",
      {"name": "rm", "version": "1", "description": "v1"})
    c("set model version tag", "POST", "/api/2.0/mlflow/model-versions/set-tag",
      {"name": "rm", "version": "1", "key": "k", "value": "v"})
    c("search model versions", "GET", "/api/2.0/mlflow/model-versions/search", params={"filter": "name = 'rm'"})
    c("search registered models", "GET", "/api/2.0/mlflow/registered-models/search", params={"filter": "name LIKE 'r%'"})
    c("latest versions", "POST", "/api/2.0/mlflow/registered-models/get-latest-versions", {"name": "rm"})
    c("update registered model", "PATCH", "/api/2.0/mlflow/registered-models/update", {"name": "rm", "description": "d2"})
    c("delete alias", "DELETE", "/api/2.0/mlflow/registered-models/alias", {"name": "rm", "alias": "champ"})
    c("delete model version", "DELETE", "/api/2.0/mlflow/model-versions/delete", {"name": "rm", "version": "1"})
    c("delete registered model", "DELETE", "/api/2.0/mlflow/registered-models/delete", {"name": "rm"})
    c("get deleted registered model", "GET", "/api/2.0/mlflow/registered-models/get", params={"name": "rm"})
    c("create registered model to rename", "POST", "/api/2.0/mlflow/registered-models/create", {"name": "rn"})
    c("rename registered model", "POST", "/api/2.0/mlflow/registered-models/rename", {"name": "rn", "new_name": "rn2"})

    # Bad requests.
    c("malformed JSON", "POST", "/api/2.0/mlflow/runs/log-metric", raw=b"{not json",
      headers={"Content-Type": "application/json"})
    c("JSON array body", "POST", "/api/2.0/mlflow/experiments/create", raw=b"[1, 2]",
      headers={"Content-Type": "application/json"})
    c("wrong type of a field", "POST", "/api/2.0/mlflow/experiments/create", {"name": ["a", "b"]})
    c("unknown endpoint", "GET", "/api/2.0/mlflow/no-such-thing", params={})
    c("unknown endpoint, ajax", "POST", "/ajax-api/2.0/mlflow/runs/no-such-thing", {})
    c("health", "GET", "/health")


def paths(at, x, y):
    """(JSON path, mlflow's, homeml's) of each place where x and y differ."""
    if isinstance(x, dict) and isinstance(y, dict):
        for k in sorted(set(x) | set(y)):
            yield from paths(f"{at}.{k}", x.get(k, "<absent>"), y.get(k, "<absent>"))
    elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        for i, (a, b) in enumerate(zip(x, y)):
            yield from paths(f"{at}[{i}]", a, b)
    elif x != y:
        yield at, x, y


def main():
    mlflow_url, homeml_url = sys.argv[1], sys.argv[2]
    b = Recorder(homeml_url)
    if mlflow_url.endswith(".json"):  # a saved recording of mlflow's answers (for working on homeml)
        saved = Recorder("")
        saved.out = [tuple(x) for x in json.load(open(mlflow_url))]
        na = saved.normalized()  # normalizing again changes nothing but what normalization added since
    else:
        a = Recorder(mlflow_url)
        script(a)
        na = a.normalized()
    script(b)
    nb = b.normalized()
    if len(sys.argv) > 3:
        json.dump(na, open(sys.argv[3], "w"))
    assert len(na) == len(nb), (len(na), len(nb))
    failures, deliberate = [], []
    for (name, sa, da), (_, sb, db) in zip(na, nb):
        diffs = []
        if sa != sb:
            diffs.append(("status", sa, sb))
        if (name, "body") in DELIBERATE:
            if da != db:
                diffs.append(("body", da, db))
        else:
            diffs += list(paths("body", da, db))
        for what, x, y in diffs:
            line = f"{name} [{what}]: mlflow {json.dumps(x, sort_keys=True)} | homeml {json.dumps(y, sort_keys=True)}"
            why = DELIBERATE.get((name, what)) or DELIBERATE.get((name, "*")) or next(
                (w for p, w in DELIBERATE_PATHS.items() if re.search(p, what)), None)
            if why:
                deliberate.append(line + f"  (deliberate: {why})")
            else:
                failures.append(line)
    for line in deliberate:
        print("DELIBERATE", line)
    for line in failures:
        print("DIFF", line)
    print(f"{len(na)} calls, {len(failures)} differences, {len(deliberate)} deliberate")
    if failures:
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
