"""A whole training workflow of the real mlflow client against `homeml server` (argv[1] = its URL):
params, metric history, a text artifact downloaded back, a nested run, pyfunc.log_model, register_model,
an alias, load_model("models:/name@alias") and predict, search_runs with filter and order, and the
error code of changing a param. Prints OK at the end. Driven by tests/it/tracking_server.rs."""
import sys, mlflow, mlflow.pyfunc
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("smoke")
class M(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return [1] * len(model_input)
with mlflow.start_run() as run:
    mlflow.log_param("lr", 0.1)
    for s in range(3):
        mlflow.log_metric("loss", 1.0 / (s + 1), step=s)
    mlflow.log_text("hello", "notes/hello.txt")
    info = mlflow.pyfunc.log_model(name="model", python_model=M())
    with mlflow.start_run(nested=True):
        mlflow.log_metric("acc", 0.5)
c = mlflow.MlflowClient()
h = [m.value for m in c.get_metric_history(run.info.run_id, "loss")]; print("history", h); assert sorted(set(h), reverse=True) == [1.0, 0.5, 1/3]
assert open(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="notes/hello.txt")).read() == "hello"
mv = mlflow.register_model(info.model_uri, "smoke-model")
c.set_registered_model_alias("smoke-model", "champion", mv.version)
m = mlflow.pyfunc.load_model("models:/smoke-model@champion")
import pandas as pd
pred = list(m.predict(pd.DataFrame({"x": [1, 2]}))); print("predict", pred); assert pred == [1, 1], pred
runs = mlflow.search_runs(filter_string="metrics.loss < 0.5", order_by=["metrics.loss DESC"])
print("search", len(runs)); assert len(runs) == 1 and runs["run_id"][0] == run.info.run_id, runs
try:
    c.log_param(run.info.run_id, "lr", "0.2")
    sys.exit("changing a param was accepted")
except mlflow.exceptions.MlflowException as e:
    print("param change:", e.error_code); assert e.error_code == "INVALID_PARAMETER_VALUE", e.error_code
c.log_param(run.info.run_id, "lr", "0.1")  # the same value again is fine
print("OK")
