"""Train gradient-boosted iris classifiers in Python and serve them with homeml, as they were logged.

A LightGBM `LGBMClassifier` logged with `mlflow.lightgbm.log_model` (a skops file) and an XGBoost
`XGBClassifier` logged with `mlflow.xgboost.log_model` (UBJSON), registered as `iris-lightgbm` and
`iris-xgboost` with the alias `champion`. No ONNX export: homeml reads both formats natively. Then:

    python3 -m venv .venv-example && .venv-example/bin/pip install -r examples/python/requirements.txt
    MLFLOW_ALLOW_FILE_STORE=true .venv-example/bin/python examples/python/train_iris_trees.py mlruns
    homeml serve -m models:/iris-lightgbm@champion --tracking-uri mlruns
    curl -s localhost:8080/invocations -H 'content-type: application/json' \
      -d '{"dataframe_split": {"columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
                               "data": [[5.1, 3.5, 1.4, 0.2], [6.7, null, 5.2, 2.3]]}}'
    # -> {"predictions": [0, 2]}   (missing values take each split's default direction, as in LightGBM)
"""
import os
import sys

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

import lightgbm as lgb  # noqa: E402
import mlflow  # noqa: E402
import xgboost as xgb  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def main(store: str) -> None:
    mlflow.set_tracking_uri(f"file://{os.path.abspath(store)}")
    data = load_iris(as_frame=True)
    x, y = data.data, data.target
    x.columns = COLUMNS
    mlflow.set_experiment("iris-trees")
    client = mlflow.MlflowClient()
    pip = [f"lightgbm=={lgb.__version__}", f"xgboost-cpu=={xgb.__version__}"]

    with mlflow.start_run(run_name="lightgbm"):
        model = lgb.LGBMClassifier(n_estimators=50, num_leaves=7, verbose=-1).fit(x, y)
        mlflow.log_params({"n_estimators": 50, "num_leaves": 7})
        info = mlflow.lightgbm.log_model(
            model, name="model", input_example=x.head(3), registered_model_name="iris-lightgbm", pip_requirements=pip
        )
    client.set_registered_model_alias("iris-lightgbm", "champion", info.registered_model_version)

    with mlflow.start_run(run_name="xgboost"):
        model = xgb.XGBClassifier(n_estimators=50, max_depth=3).fit(x, y)
        mlflow.log_params({"n_estimators": 50, "max_depth": 3})
        info = mlflow.xgboost.log_model(
            model, name="model", input_example=x.head(3), registered_model_name="iris-xgboost", pip_requirements=pip
        )
    client.set_registered_model_alias("iris-xgboost", "champion", info.registered_model_version)


if __name__ == "__main__":
    main(sys.argv[1])
