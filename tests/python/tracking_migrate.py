"""The file store side of `homeml tracking migrate`'s tests, with the real MLflow client.

`build DIR`: writes a file store at DIR/mlruns through the MLflow client (MLFLOW_ALLOW_FILE_STORE):
experiments with tags, one deleted; runs with params, metric history (NaN, +inf, -inf, repeated
steps), tags, a nested run, a deleted run, a dataset input (mlflow.log_input), an MLflow 3 logged
model (params, tags, a metric, as run output and as another run's input), a registered model with
tags, two versions with tags, a stage and an alias. Prints the ids as JSON.

`compare A_URI B_URI [--map-experiment-ids]`: compares two databases table by table (every table of
MLflow's schema, rows in any order). Normalized: the random uuids (datasets.dataset_uuid,
inputs.input_uuid, input_tags.input_uuid, inputs.source_id of dataset inputs) through what they
join (the dataset's experiment, name and digest; the input's source and destination), booleans as
0/1, NaN as NULL (SQLite keeps NaN as NULL), and with --map-experiment-ids every experiment_id
through its experiment's name (PostgreSQL renumbers ids beyond 32 bits). Prints OK.

`read DB_URI MLRUNS`: the MLflow client reads the database and the file store and must see the same
experiments, runs (info, params, tags, latest metrics, metric histories, inputs), logged models and
registry (models, tags, aliases, versions); infinities compare with the database's clamped values.
Prints OK.

Commands chain in one process, separated by `+` (`compare A B + read A DIR`)."""

import json
import math
import os
import sys


def build(root):
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModelInput, LoggedModelOutput

    store = os.path.join(root, "mlruns")
    mlflow.set_tracking_uri(store)
    mlflow.set_registry_uri(store)
    client = MlflowClient(store, store)
    ids = {}

    alpha = mlflow.set_experiment("alpha").experiment_id
    client.set_experiment_tag(alpha, "team", "ml")
    client.set_experiment_tag(alpha, "note", "multi\nline")
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_params({"lr": "0.1", "layers": "3", "nested/key": "x"})
        for step, v in enumerate([0.9, float("nan"), 0.5, float("inf"), float("-inf"), 0.25]):
            mlflow.log_metric("loss", v, step=step, timestamp=1_700_000_000_000 + step)
        mlflow.log_metric("loss", 0.2, step=5, timestamp=1_700_000_000_000 + 9)
        mlflow.log_metric("odd", float("nan"), timestamp=1_700_000_000_100)
        mlflow.log_metric("top", float("inf"), timestamp=1_700_000_000_100)
        mlflow.set_tags({"stage": "dev", "who": "tester"})
        df = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 0.25, 0.125]})
        mlflow.log_input(mlflow.data.from_pandas(df, name="tiny", source="/tmp/tiny.csv"), context="training")
        model = mlflow.initialize_logged_model(
            name="net", source_run_id=parent.info.run_id, tags={"kind": "test"}, params={"depth": "2"}, model_type="toy"
        )
        mlflow.finalize_logged_model(model.model_id, "READY")
        mlflow.log_metric("acc", 0.75, step=1, timestamp=1_700_000_000_200, model_id=model.model_id)
        client.log_outputs(parent.info.run_id, [LoggedModelOutput(model.model_id, 3)])
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("loss", 1.0, timestamp=1_700_000_000_300)
            mlflow.log_param("seed", "7")
            client.log_inputs(child.info.run_id, models=[LoggedModelInput(model.model_id)])
    ids.update(alpha=alpha, parent=parent.info.run_id, child=child.info.run_id, model=model.model_id)

    beta = mlflow.set_experiment("beta").experiment_id
    with mlflow.start_run(run_name="kept") as kept:
        mlflow.log_metric("m", 2.0, timestamp=1_700_000_000_400)
    with mlflow.start_run(run_name="dropped") as dropped:
        mlflow.log_param("p", "q")
    client.delete_run(dropped.info.run_id)
    ids.update(beta=beta, kept=kept.info.run_id, dropped=dropped.info.run_id)

    gone = mlflow.set_experiment("gone").experiment_id
    with mlflow.start_run(run_name="in-gone") as ingone:
        mlflow.log_metric("g", 3.0, timestamp=1_700_000_000_500)
    client.delete_experiment(gone)
    ids.update(gone=gone, ingone=ingone.info.run_id)

    with mlflow.start_run(experiment_id="0", run_name="default-run") as d:
        mlflow.log_param("where", "default")
    ids["default_run"] = d.info.run_id

    client.create_registered_model("reg", tags={"owner": "me"}, description="a registered model")
    v1 = client.create_model_version("reg", f"models:/{model.model_id}", run_id=parent.info.run_id,
                                     tags={"validated": "yes"}, description="first")
    v2 = client.create_model_version("reg", f"runs:/{kept.info.run_id}/model", run_id=kept.info.run_id)
    client.set_model_version_tag("reg", v2.version, "note", "second")
    client.set_registered_model_alias("reg", "champion", v1.version)
    client.transition_model_version_stage("reg", v2.version, "Staging")
    client.create_registered_model("empty")
    ids["versions"] = [v1.version, v2.version]
    print(json.dumps(ids))


def rows(uri, map_ids):
    import sqlalchemy as sa

    eng = sa.create_engine(uri)
    insp = sa.inspect(eng)
    out = {}
    with eng.connect() as c:
        def select(t):
            cols = [col["name"] for col in insp.get_columns(t)]
            res = c.execute(sa.text(f'select * from "{t}"'))
            names = list(res.keys())
            return [dict(zip(names, r)) for r in res], cols

        tables = sorted(insp.get_table_names())
        data = {t: select(t)[0] for t in tables}
    eng.dispose()
    exp_name = {r["experiment_id"]: r["name"] for r in data.get("experiments", [])}
    ds = {r["dataset_uuid"]: (exp_name.get(r["experiment_id"], r["experiment_id"]), r["name"], r["digest"])
          for r in data.get("datasets", [])}

    def norm_value(v):
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, float) and math.isnan(v):
            return None
        return v

    inputs = {}
    for r in data.get("inputs", []):
        src = ds.get(r["source_id"], r["source_id"]) if r["source_type"] == "DATASET" else r["source_id"]
        inputs[r["input_uuid"]] = (r["source_type"], src, r["destination_type"], r["destination_id"])
    for t, lst in data.items():
        norm = []
        for r in lst:
            r = {k: norm_value(v) for k, v in r.items()}
            if t == "datasets":
                r["dataset_uuid"] = None
            if t == "inputs":
                r["source_id"] = inputs[r["input_uuid"]][1]
                r["input_uuid"] = None
            if t == "input_tags":
                r["input_uuid"] = inputs.get(r["input_uuid"], ("orphan", r["input_uuid"]))
            if map_ids and "experiment_id" in r:
                r["experiment_id"] = exp_name.get(r["experiment_id"], r["experiment_id"])
            norm.append(tuple(sorted((k, repr(v)) for k, v in r.items())))
        out[t] = sorted(norm)
    return out


def compare(a, b, map_ids):
    ra, rb = rows(a, map_ids), rows(b, map_ids)
    diffs = []
    if set(ra) != set(rb):
        diffs.append(f"tables: only in A {sorted(set(ra) - set(rb))}, only in B {sorted(set(rb) - set(ra))}")
    total = 0
    for t in sorted(set(ra) & set(rb)):
        total += len(rb[t])
        if ra[t] != rb[t]:
            only_a = [x for x in ra[t] if x not in rb[t]][:5]
            only_b = [x for x in rb[t] if x not in ra[t]][:5]
            diffs.append(f"{t}: {len(ra[t])} vs {len(rb[t])} rows; only in A {only_a}; only in B {only_b}")
    for d in diffs:
        print(d)
    if diffs:
        sys.exit(1)
    print(f"{len(rb)} tables, {total} rows equal")
    print("OK")


def clamp(v):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return 1.7976931348623157e308 if v > 0 else -1.7976931348623157e308
    return v


def view(uri):
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    # Some client calls go through the global tracking URI (MLflow 3's default is
    # sqlite:///mlflow.db in the working directory): point it at the store read.
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    out = {}
    exps = client.search_experiments(view_type=ViewType.ALL)
    out["experiments"] = sorted((e.name, e.lifecycle_stage, e.artifact_location, sorted(e.tags.items())) for e in exps)
    by_name = {e.experiment_id: e.name for e in exps}
    runs = client.search_runs([e.experiment_id for e in exps], run_view_type=ViewType.ALL, max_results=1000)
    rv = {}
    for r in runs:
        i = r.info
        hist = {k: sorted((m.timestamp, m.step, clamp(m.value)) for m in client.get_metric_history(i.run_id, k))
                for k in r.data.metrics}
        ds = sorted((d.dataset.name, d.dataset.digest, sorted((t.key, t.value) for t in d.tags))
                    for d in (r.inputs.dataset_inputs if r.inputs else []))
        rv[i.run_id] = (by_name[i.experiment_id], i.run_name, i.status, i.start_time, i.end_time, i.lifecycle_stage,
                        i.artifact_uri, i.user_id, sorted(r.data.params.items()), sorted(r.data.tags.items()),
                        sorted((k, clamp(v)) for k, v in r.data.metrics.items()), sorted(hist.items()), ds)
    out["runs"] = sorted(rv.items())
    models = client.search_logged_models([e.experiment_id for e in exps])
    out["logged_models"] = sorted((m.model_id, m.name, str(m.status), m.source_run_id, m.model_type, sorted(m.params.items()),
                                   sorted(m.tags.items()), sorted((x.key, x.value, x.step) for x in (m.metrics or [])))
                                  for m in models)
    regs = client.search_registered_models()
    out["registry"] = sorted((m.name, m.description, sorted(m.tags.items()),
                              sorted((a, int(v)) for a, v in m.aliases.items())) for m in regs)
    mvs = client.search_model_versions("name = 'reg'")
    # (MLflow's SQL store leaves a searched version's aliases empty: the alias is read by name.)
    out["versions"] = sorted((v.name, int(v.version), v.current_stage, v.source, v.run_id, v.status, v.description,
                              sorted(v.tags.items())) for v in mvs)
    out["champion"] = int(client.get_model_version_by_alias("reg", "champion").version)
    return out


def read(db, mlruns):
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    got = view(db)
    want = view(mlruns)
    bad = [k for k in want if want[k] != got[k]]
    for k in bad:
        print(f"{k}:\n  file store {want[k]}\n  database   {got[k]}")
    if bad:
        sys.exit(1)
    assert len(got["runs"]) == 6 and len(got["experiments"]) == 4, got
    assert len(got["versions"]) == 2 and got["registry"][1][3] == [("champion", 1)], got["registry"]
    print(f"{len(got['runs'])} runs, {len(got['experiments'])} experiments, {len(got['versions'])} versions equal")
    print("OK")


def main(argv):
    # Several commands in one process (one interpreter start per test): `compare A B + read A DIR`.
    jobs, cur = [], []
    for a in argv:
        if a == "+":
            jobs.append(cur)
            cur = []
        else:
            cur.append(a)
    jobs.append(cur)
    for job in jobs:
        cmd, args = job[0], job[1:]
        if cmd == "build":
            build(args[0])
        elif cmd == "compare":
            compare(args[0], args[1], "--map-experiment-ids" in args[2:])
        elif cmd == "read":
            read(args[0], args[1])
        else:
            sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv[1:])
