"""Basic auth of `homeml server --auth FILE` with the real mlflow client (credentials from
MLFLOW_TRACKING_USERNAME/PASSWORD, as users set them). argv: URL (users ann=admin, bob=read, both
with the password given as argv[2]) and READ_ONLY_URL (a `--read-only` server without auth, on a
store with experiment "seeded"). Prints OK at the end. Driven by tests/it/tracking_server_auth.rs."""
import os
import sys

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

url, password, ro_url = sys.argv[1:4]


def as_user(name, pw):
    os.environ["MLFLOW_TRACKING_USERNAME"] = name
    os.environ["MLFLOW_TRACKING_PASSWORD"] = pw
    return MlflowClient(tracking_uri=url)


def refused(f, *a):
    try:
        f(*a)
    except MlflowException as e:
        print(f"{f.__name__}: {e.error_code}: {e}", file=sys.stderr)
        return e.error_code
    raise AssertionError(f"{f.__name__}{a} was allowed")


os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
ann = as_user("ann", password)
exp = ann.create_experiment("authed")
run = ann.create_run(exp)
ann.log_param(run.info.run_id, "lr", "0.1")
ann.log_metric(run.info.run_id, "loss", 0.5)

bob = as_user("bob", password)
assert bob.get_run(run.info.run_id).data.params == {"lr": "0.1"}
assert [r.info.run_id for r in bob.search_runs([exp])] == [run.info.run_id]
assert bob.get_experiment_by_name("authed").experiment_id == exp
assert refused(bob.log_param, run.info.run_id, "x", "1") == "PERMISSION_DENIED"
assert refused(bob.create_experiment, "nope") == "PERMISSION_DENIED"
assert refused(bob.delete_run, run.info.run_id) == "PERMISSION_DENIED"

eve = as_user("ann", "wrong-password")
assert refused(eve.get_run, run.info.run_id) == "UNAUTHENTICATED"
del os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]
assert refused(MlflowClient(tracking_uri=url).search_experiments) == "UNAUTHENTICATED"

ro = MlflowClient(tracking_uri=ro_url)
assert ro.get_experiment_by_name("seeded") is not None
assert [e.name for e in ro.search_experiments() if e.name == "seeded"] == ["seeded"]
assert refused(ro.create_experiment, "nope") == "PERMISSION_DENIED"
print("OK")
