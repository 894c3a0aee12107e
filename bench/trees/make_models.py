"""Models for bench/trees.md, and the libraries' own predict and ONNX Runtime timed on them.

    python bench/trees/make_models.py OUT_DIR [REP]
        ->  OUT_DIR/{lgb,xgb}_{classifier,booster}/ (MLflow model directories, written once),
            OUT_DIR/{lgb,xgb}_{classifier,booster}_onnx/ (their ONNX export, onnxmltools, as mlflow.onnx
            models), OUT_DIR/rows.json, OUT_DIR/python-REP.json (this repetition's timings)

Breast cancer (30 features, binary): LGBMClassifier and a LightGBM Booster (100 trees, 31 leaves),
XGBClassifier and an XGBoost Booster (100 trees, depth 6). Each library's predict is timed on 1 row and
on 256 rows (numpy input, the library's fastest path; median of repeated runs, one thread), and so is
ONNX Runtime (Python API, one intra-op thread, float32 numpy input cast beforehand) on the ONNX export.
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
import onnxmltools  # noqa: E402
import onnxruntime as ort  # noqa: E402
import xgboost as xgb  # noqa: E402
from onnxmltools.convert.common.data_types import FloatTensorType  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402


def median_us(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e6)


def to_onnx(name, m, width):
    """The ONNX export of one model (probabilities as a plain tensor, no ZipMap)."""
    types = [("input", FloatTensorType([None, width]))]
    if name.startswith("lgb"):
        return onnxmltools.convert_lightgbm(m, initial_types=types, zipmap=False, target_opset=15)
    return onnxmltools.convert_xgboost(m, initial_types=types, target_opset=15)


def ort_session(onnx_model):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    # onnxmltools' LightGBM export declares the label output as shape [1]; ORT warns about it on every
    # multi-row call (and logging costs time), so only errors are logged.
    opts.log_severity_level = 3
    return ort.InferenceSession(onnx_model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def main(out, rep):
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
    rows32 = rows.astype(np.float32)
    for name, m in models.items():
        saver = mlflow.lightgbm if name.startswith("lgb") else mlflow.xgboost
        onnx_model = to_onnx(name, m, x.shape[1])
        if not os.path.exists(os.path.join(out, name)):
            saver.save_model(m, os.path.join(out, name), pip_requirements=pip)
            mlflow.onnx.save_model(onnx_model, os.path.join(out, name + "_onnx"))
        sess = ort_session(onnx_model)
        feed = sess.get_inputs()[0].name
        timings[name + "_onnx"] = {
            "1": median_us(lambda: sess.run(None, {feed: rows32[:1]}), 2000),
            "256": median_us(lambda: sess.run(None, {feed: rows32}), 500),
        }
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
    with open(os.path.join(out, f"python-{rep}.json"), "w") as f:
        json.dump({"us_per_call": timings, "lightgbm": lgb.__version__, "xgboost": xgb.__version__,
                   "onnxruntime": ort.__version__, "onnxmltools": onnxmltools.__version__}, f, indent=1)
    print(json.dumps(timings, indent=1))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "1")
