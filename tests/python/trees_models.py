"""Trains LightGBM and XGBoost models on scikit-learn's bundled datasets, logs each with MLflow's own
flavor (mlflow.lightgbm / mlflow.xgboost) into a file store, and writes what the libraries predict for
rows that include missing values and out-of-range values, for tests/it/trees.rs to compare homeml with.

    python trees_models.py OUT_DIR     ->  OUT_DIR/mlruns/..., OUT_DIR/cases.json

cases.json: {"models": [{"name", "dir" (the logged model's directory), "flavor", "model_class",
"columns", "rows" (NaN as null), "expected", "kind" ("label" | "f64" | "f32"), "oracle"}]}. The
expected answers are mlflow.pyfunc's (the model loaded back from the store, as `mlflow models serve`
would), except where pyfunc cannot take the rows; then the library's own predict, named in "oracle".
"""
import json
import os
import sys
import warnings

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
warnings.filterwarnings("ignore")

import lightgbm as lgb  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xgboost as xgb  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris  # noqa: E402

RNG = np.random.default_rng(7)
# Given, so that log_model does not start a Python process per model to infer them.
PIP = [f"lightgbm=={lgb.__version__}", f"xgboost-cpu=={xgb.__version__}", f"mlflow=={mlflow.__version__}"]


def frame(loader, n_cols=None):
    data = loader(as_frame=True)
    x = data.data.astype("float64")
    if n_cols:
        x = x.iloc[:, :n_cols]
    x.columns = [c.replace(" ", "_").replace("(", "").replace(")", "") for c in x.columns]
    return x, data.target.to_numpy()


def with_missing(x, frac=0.1):
    x = x.copy()
    mask = RNG.random(x.shape) < frac
    x = x.mask(mask)
    return x


def probe_rows(x, n=30):
    """Training rows, then the same rows with NaN in each column in turn, and out-of-range values."""
    base = x.iloc[:n].copy()
    rows = [base]
    for j in range(x.shape[1]):
        r = x.iloc[j % len(x) : j % len(x) + 1].copy()
        r.iloc[0, j] = np.nan
        rows.append(r)
    lo, hi = x.min().to_numpy(), x.max().to_numpy()
    rows.append(pd.DataFrame([hi * 10 + 1e3, lo * 10 - 1e3, np.zeros(x.shape[1])], columns=x.columns))
    rows.append(pd.DataFrame([np.full(x.shape[1], np.nan)], columns=x.columns))
    return pd.concat(rows, ignore_index=True)


def to_json_rows(df):
    return [[None if (isinstance(v, float) and np.isnan(v)) else float(v) for v in row] for row in df.to_numpy()]


def logged_dir(info):
    uri = mlflow.get_logged_model(info.model_id).artifact_location
    return uri[len("file://"):] if uri.startswith("file://") else uri


def record(cases, name, flavor, model, info, rows, kind, native):
    try:
        loaded = mlflow.pyfunc.load_model(info.model_uri)
        got = np.asarray(loaded.predict(rows))
        oracle = "mlflow.pyfunc"
    except Exception as e:  # noqa: BLE001 - recorded in the case
        got = np.asarray(native(rows))
        oracle = f"native predict (pyfunc: {type(e).__name__})"
    if kind == "label":
        expected = [v.item() if hasattr(v, "item") else v for v in got.reshape(-1)]
    else:
        expected = got.astype("float64").tolist()
    cases.append(
        {
            "name": name,
            "dir": logged_dir(info),
            "flavor": flavor,
            "model_class": f"{type(model).__module__}.{type(model).__name__}",
            "columns": list(rows.columns),
            "rows": to_json_rows(rows),
            "expected": expected,
            "kind": kind,
            "oracle": oracle,
        }
    )


def main(out):
    mlflow.set_tracking_uri(f"file://{os.path.abspath(out)}/mlruns")
    mlflow.set_experiment("trees")
    cases = []
    iris_x, iris_y = frame(load_iris)
    bc_x, bc_y = frame(load_breast_cancer, n_cols=8)
    db_x, db_y = frame(load_diabetes)

    def log_lgb(name, model, x, rows, kind, native=None):
        with mlflow.start_run(run_name=name):
            info = mlflow.lightgbm.log_model(model, name=name, input_example=x.head(3), pip_requirements=PIP)
        record(cases, name, "lightgbm", model, info, rows, kind, native or model.predict)

    def log_xgb(name, model, x, rows, kind, native=None, **kw):
        with mlflow.start_run(run_name=name):
            info = mlflow.xgboost.log_model(model, name=name, input_example=x.head(3), pip_requirements=PIP, **kw)
        record(cases, name, "xgboost", model, info, rows, kind, native or model.predict)

    # LightGBM, scikit-learn API (skops files).
    m = lgb.LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1).fit(iris_x, iris_y)
    log_lgb("lgb_iris_classifier", m, iris_x, probe_rows(iris_x), "label")

    # pandas object labels: skops stores _classes as an object array (JSON nodes), not a .npy file.
    labels = pd.Series(np.array(["malignant", "benign"], dtype=object)[bc_y])
    bcm = with_missing(bc_x)
    m = lgb.LGBMClassifier(n_estimators=30, num_leaves=15, verbose=-1).fit(bcm, labels)
    log_lgb("lgb_binary_missing_classifier", m, bcm, probe_rows(bcm), "label")

    tr, va = slice(0, 300), slice(300, None)
    m = lgb.LGBMRegressor(n_estimators=400, learning_rate=0.2, verbose=-1).fit(
        db_x[tr], db_y[tr], eval_set=[(db_x[va], db_y[va])], callbacks=[lgb.early_stopping(5, verbose=False)]
    )
    assert 0 < m.best_iteration_ < 400, m.best_iteration_
    log_lgb("lgb_diabetes_regressor_early_stopped", m, db_x, probe_rows(db_x), "f64")

    dbm = with_missing(db_x)
    m = lgb.LGBMRegressor(n_estimators=25, zero_as_missing=True, verbose=-1).fit(dbm, db_y)
    log_lgb("lgb_diabetes_zero_as_missing", m, dbm, probe_rows(dbm), "f64")

    # LightGBM, Booster API (text model files).
    b = lgb.train({"objective": "multiclass", "num_class": 3, "verbose": -1, "num_leaves": 7}, lgb.Dataset(iris_x, iris_y), 15)
    log_lgb("lgb_iris_booster", b, iris_x, probe_rows(iris_x), "f64")

    cat_x = bcm.copy()
    cat_x["cat"] = (bc_x.iloc[:, 0] * 7 % 11).astype(int).astype("float64")
    cat_x.loc[cat_x.index % 17 == 0, "cat"] = np.nan
    b = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 15, "min_data_per_group": 5, "cat_smooth": 1},
        lgb.Dataset(cat_x, bc_y, categorical_feature=["cat"]),
        30,
    )
    assert "num_cat=0" not in b.model_to_string().split("Tree=1")[0] or "cat_threshold" in b.model_to_string()
    rows = probe_rows(cat_x)
    rows.loc[len(rows)] = list(cat_x.iloc[0, :-1]) + [-3.0]
    rows.loc[len(rows)] = list(cat_x.iloc[1, :-1]) + [99.0]
    rows.loc[len(rows)] = list(cat_x.iloc[2, :-1]) + [2.7]
    log_lgb("lgb_categorical_missing_booster", b, cat_x, rows, "f64")

    b = lgb.train({"objective": "poisson", "verbose": -1}, lgb.Dataset(db_x, db_y), 20)
    log_lgb("lgb_poisson_booster", b, db_x, probe_rows(db_x), "f64")

    # XGBoost, scikit-learn API (UBJSON by default).
    m = xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(iris_x, iris_y)
    log_xgb("xgb_iris_classifier", m, iris_x, probe_rows(iris_x), "label")

    m = xgb.XGBClassifier(n_estimators=300, max_depth=3, learning_rate=0.3, early_stopping_rounds=5).fit(
        bcm[tr], bc_y[tr], eval_set=[(bcm[va], bc_y[va])], verbose=False
    )
    assert 0 < m.best_iteration < 299, m.best_iteration
    log_xgb("xgb_binary_missing_classifier_early_stopped", m, bcm, probe_rows(bcm), "label")

    m = xgb.XGBRegressor(n_estimators=30, max_depth=4).fit(dbm, db_y)
    log_xgb("xgb_diabetes_missing_regressor_json", m, dbm, probe_rows(dbm), "f32", model_format="json")

    m = xgb.XGBRegressor(n_estimators=20, max_depth=3, objective="count:poisson").fit(db_x, db_y)
    log_xgb("xgb_poisson_regressor", m, db_x, probe_rows(db_x), "f32")

    # XGBoost, Booster API.
    b = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 3}, xgb.DMatrix(iris_x, iris_y), 10)
    log_xgb("xgb_iris_booster_json", b, iris_x, probe_rows(iris_x), "f32",
            native=lambda r: b.predict(xgb.DMatrix(r)), model_format="json")

    b = xgb.train({"objective": "multi:softmax", "num_class": 3, "max_depth": 2}, xgb.DMatrix(iris_x, iris_y), 5)
    log_xgb("xgb_iris_softmax_booster", b, iris_x, probe_rows(iris_x), "f32",
            native=lambda r: b.predict(xgb.DMatrix(r)))

    types = ["q"] * (cat_x.shape[1] - 1) + ["c"]
    b = xgb.train(
        {"objective": "binary:logistic", "max_depth": 4, "max_cat_to_onehot": 1},
        xgb.DMatrix(cat_x.to_numpy(), bc_y, feature_names=list(cat_x.columns), feature_types=types, enable_categorical=True),
        20,
    )
    assert any(1 in t["split_type"] for t in json.loads(b.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"])
    rows = probe_rows(cat_x)
    rows.loc[len(rows)] = list(cat_x.iloc[0, :-1]) + [-3.0]
    rows.loc[len(rows)] = list(cat_x.iloc[1, :-1]) + [99.0]
    rows.loc[len(rows)] = list(cat_x.iloc[2, :-1]) + [2.7]

    def cat_native(r):
        return b.predict(xgb.DMatrix(r.to_numpy(), feature_names=list(r.columns), feature_types=types, enable_categorical=True))

    with mlflow.start_run(run_name="xgb_categorical_missing_booster"):
        info = mlflow.xgboost.log_model(b, name="xgb_categorical_missing_booster", input_example=cat_x.head(3), pip_requirements=PIP)
    # pyfunc hands XGBoost a frame without the categorical feature type: the library's own predict is the oracle.
    record(cases, "xgb_categorical_missing_booster", "xgboost", b, info, rows, "f32", cat_native)
    cases[-1]["expected"] = np.asarray(cat_native(rows)).astype("float64").tolist()
    cases[-1]["oracle"] = "native predict (DMatrix with feature_types)"

    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump({"models": cases, "versions": {"lightgbm": lgb.__version__, "xgboost": xgb.__version__, "mlflow": mlflow.__version__}}, f)


if __name__ == "__main__":
    main(sys.argv[1])
