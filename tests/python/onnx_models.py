"""Trains the scikit-learn models homeml's ONNX flavor must serve, exports them with skl2onnx and writes
reference outputs computed by the real onnxruntime.

Usage: python onnx_models.py OUT_DIR [--only NAME,NAME] [--big]

For each model NAME it writes, in OUT_DIR:
  NAME.onnx          the skl2onnx export (classifiers with zipmap False)
  NAME.json          {"name", "inputs": {input_name: {"dtype", "shape", "data"}},
                      "outputs": {output_name: {"dtype", "shape", "data"}}, "output_order": [...]}
and OUT_DIR/manifest.json listing the names. Data comes from scikit-learn's bundled datasets (no network).
`--big` trains the larger forests used by the benchmarks (100 trees) instead of the test sizes.
"""

import json
import os
import sys

import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn.datasets import load_diabetes, load_iris, load_breast_cancer
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor


def models(big):
    n = 100 if big else 30
    return {
        "logreg": ("iris", lambda: LogisticRegression(max_iter=1000)),
        "logreg_binary": ("cancer", lambda: LogisticRegression(max_iter=5000)),
        "linreg": ("diabetes", lambda: LinearRegression()),
        "ridge": ("diabetes", lambda: Ridge(alpha=0.5)),
        "dtree_clf": ("iris", lambda: DecisionTreeClassifier(max_depth=6, random_state=0)),
        "dtree_reg": ("diabetes", lambda: DecisionTreeRegressor(max_depth=8, random_state=0)),
        "rf_clf": ("iris", lambda: RandomForestClassifier(n_estimators=n, max_depth=8, random_state=0)),
        "rf_clf_binary": ("cancer", lambda: RandomForestClassifier(n_estimators=n, max_depth=8, random_state=0)),
        "rf_reg": ("diabetes", lambda: RandomForestRegressor(n_estimators=n, max_depth=8, random_state=0)),
        "gb_clf": ("iris", lambda: GradientBoostingClassifier(n_estimators=n, max_depth=3, random_state=0)),
        "gb_clf_binary": ("cancer", lambda: GradientBoostingClassifier(n_estimators=n, max_depth=3, random_state=0)),
        "gb_reg": ("diabetes", lambda: GradientBoostingRegressor(n_estimators=n, max_depth=3, random_state=0)),
        "mlp_clf": ("iris", lambda: MLPClassifier(hidden_layer_sizes=(16,), max_iter=600, random_state=0)),
        "mlp_reg": ("diabetes", lambda: MLPRegressor(hidden_layer_sizes=(16,), max_iter=600, random_state=0)),
        "pipe_logreg": ("iris", lambda: Pipeline([("scaler", StandardScaler()), ("model", LogisticRegression(max_iter=1000))])),
        "pipe_linreg": ("diabetes", lambda: Pipeline([("scaler", StandardScaler()), ("model", LinearRegression())])),
        "pipe_ridge": ("diabetes", lambda: Pipeline([("scaler", StandardScaler()), ("model", Ridge())])),
        "pipe_dtree_clf": ("iris", lambda: Pipeline([("scaler", StandardScaler()), ("model", DecisionTreeClassifier(max_depth=6, random_state=0))])),
        "pipe_dtree_reg": ("diabetes", lambda: Pipeline([("scaler", StandardScaler()), ("model", DecisionTreeRegressor(max_depth=8, random_state=0))])),
        "pipe_rf_clf": ("iris", lambda: Pipeline([("scaler", StandardScaler()), ("model", RandomForestClassifier(n_estimators=n, max_depth=8, random_state=0))])),
        "pipe_rf_reg": ("diabetes", lambda: Pipeline([("scaler", StandardScaler()), ("model", RandomForestRegressor(n_estimators=n, max_depth=8, random_state=0))])),
        "pipe_gb_clf": ("iris", lambda: Pipeline([("scaler", StandardScaler()), ("model", GradientBoostingClassifier(n_estimators=n, random_state=0))])),
        "pipe_gb_reg": ("diabetes", lambda: Pipeline([("scaler", StandardScaler()), ("model", GradientBoostingRegressor(n_estimators=n, random_state=0))])),
        "pipe_mlp_clf": ("iris", lambda: Pipeline([("scaler", StandardScaler()), ("model", MLPClassifier(hidden_layer_sizes=(16,), max_iter=600, random_state=0))])),
        "pipe_mlp_reg": ("diabetes", lambda: Pipeline([("scaler", StandardScaler()), ("model", MLPRegressor(hidden_layer_sizes=(16,), max_iter=600, random_state=0))])),
    }


def dataset(name):
    if name == "iris":
        d = load_iris()
    elif name == "cancer":
        d = load_breast_cancer()
    else:
        d = load_diabetes()
    x = d.data.astype(np.float32)
    return train_test_split(x, d.target, test_size=0.3, random_state=42)


def is_classifier(est):
    last = est.steps[-1][1] if isinstance(est, Pipeline) else est
    return hasattr(last, "predict_proba")


def tensor_json(arr):
    arr = np.asarray(arr)
    if arr.dtype.kind in "USO":
        data = [str(v) for v in arr.ravel()]
        dtype = "str"
    else:
        data = arr.ravel().tolist()
        dtype = str(arr.dtype)
    return {"dtype": dtype, "shape": list(arr.shape), "data": data}


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        sys.exit(2)
    out = args[0]
    only = None
    big = "--big" in args
    if "--only" in args:
        only = set(args[args.index("--only") + 1].split(","))
    os.makedirs(out, exist_ok=True)
    names = []
    for name, (data_name, make) in models(big).items():
        if only and name not in only:
            continue
        x_train, x_test, y_train, _ = dataset(data_name)
        est = make()
        est.fit(x_train, y_train)
        opts = {id(est): {"zipmap": False}} if is_classifier(est) else None
        onx = to_onnx(est, x_train[:1], options=opts, target_opset={"": 17, "ai.onnx.ml": 3})
        path = os.path.join(out, name + ".onnx")
        with open(path, "wb") as f:
            f.write(onx.SerializeToString())
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0].name
        rows = x_test[:40]
        results = sess.run(None, {inp: rows})
        out_names = [o.name for o in sess.get_outputs()]
        ref = {
            "name": name,
            "inputs": {inp: tensor_json(rows)},
            "outputs": {n: tensor_json(r) for n, r in zip(out_names, results)},
            "output_order": out_names,
        }
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(ref, f)
        names.append(name)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(names, f)


if __name__ == "__main__":
    main()
