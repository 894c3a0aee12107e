"""Models for bench/trees.md, and the libraries' own predict timed on them.

    python bench/trees/make_models.py OUT_DIR   ->  OUT_DIR/{lgb,xgb}_{classifier,booster}/ (MLflow model
                                                     directories), OUT_DIR/rows.json, OUT_DIR/python.json

Breast cancer (30 features, binary): LGBMClassifier and a LightGBM Booster (100 trees, 31 leaves),
XGBClassifier and an XGBoost Booster (100 trees, depth 6). Each library's predict is timed on 1 row and
on 256 rows (numpy input, the library's fastest path; median of repeated runs, one thread).
"""
import json
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore")

import lightgbm as lgb  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402


def median_us(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e6)


def main(out):
    x, y = load_breast_cancer(return_X_y=True)
    rows = np.tile(x, (2, 1))[:256]
    pip = [f"lightgbm=={lgb.__version__}", f"xgboost-cpu=={xgb.__version__}"]
    models = {
        "lgb_classifier": lgb.LGBMClassifier(n_estimators=100, num_leaves=31, n_jobs=1, verbose=-1).fit(x, y),
        "lgb_booster": lgb.train({"objective": "binary", "num_leaves": 31, "num_threads": 1, "verbose": -1}, lgb.Dataset(x, y), 100),
        "xgb_classifier": xgb.XGBClassifier(n_estimators=100, max_depth=6, n_jobs=1).fit(x, y),
        "xgb_booster": xgb.train({"objective": "binary:logistic", "max_depth": 6, "nthread": 1}, xgb.DMatrix(x, y), 100),
    }
    timings = {}
    for name, m in models.items():
        saver = mlflow.lightgbm if name.startswith("lgb") else mlflow.xgboost
        saver.save_model(m, os.path.join(out, name), pip_requirements=pip)
        if name == "xgb_booster":
            m.set_param({"nthread": 1})
            predict = lambda r, m=m: m.inplace_predict(r)  # noqa: E731 - Booster's fastest numpy path
        elif name == "lgb_booster":
            predict = lambda r, m=m: m.predict(r, num_threads=1)  # noqa: E731
        else:
            predict = m.predict
        timings[name] = {"1": median_us(lambda: predict(rows[:1]), 2000), "256": median_us(lambda: predict(rows), 500)}
    with open(os.path.join(out, "rows.json"), "w") as f:
        json.dump(rows.tolist(), f)
    with open(os.path.join(out, "python.json"), "w") as f:
        json.dump({"us_per_call": timings, "lightgbm": lgb.__version__, "xgboost": xgb.__version__}, f, indent=1)
    print(json.dumps(timings, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
