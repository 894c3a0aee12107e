"""Compares homeml's MLflow scoring protocol with the real `mlflow models serve` for the same ONNX models.

Two steps, driven by server/tests/protocol_interop.rs:

  python server_mlflow_serve_compare.py prepare OUT_DIR
      Trains iris models with scikit-learn, exports them with skl2onnx (zipmap=False) and saves them with
      mlflow.onnx.save_model: OUT_DIR/clf (LogisticRegression, tensor signature float32 [-1, 4]) and
      OUT_DIR/reg (LinearRegression, named double columns).

  python server_mlflow_serve_compare.py compare OUT_DIR HOMEML_BASE_URL
      Starts `mlflow models serve --env-manager local` for both models, sends the same requests to MLflow
      (POST /invocations) and to homeml (POST /models/{clf,reg}/invocations), and checks that the
      predictions have the same structure and values (1e-5), and that requests MLflow refuses with 400
      are refused with 400 by homeml too. Exits non-zero on the first difference.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

COLS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def prepare(out):
    import numpy as np
    import onnxruntime as ort
    import pandas as pd
    import mlflow.onnx
    from mlflow.models import infer_signature
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LinearRegression, LogisticRegression

    X, y = load_iris(return_X_y=True)
    X32 = X.astype(np.float32)
    clf = LogisticRegression(max_iter=500).fit(X, y)
    onx = to_onnx(clf, X32[:1], options={"zipmap": False}, target_opset={"": 17, "ai.onnx.ml": 3})
    sess = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    out_clf = sess.run(None, {sess.get_inputs()[0].name: X32[:5]})
    mlflow.onnx.save_model(onx, os.path.join(out, "clf"), signature=infer_signature(X32[:5], out_clf[0]))

    reg = LinearRegression().fit(X, X[:, 0] * 2 + X[:, 3])
    onr = to_onnx(reg, X32[:1], target_opset={"": 17, "ai.onnx.ml": 3})
    sr = ort.InferenceSession(onr.SerializeToString(), providers=["CPUExecutionProvider"])
    out_reg = sr.run(None, {sr.get_inputs()[0].name: X32[:5]})
    df = pd.DataFrame(X[:5], columns=COLS)
    mlflow.onnx.save_model(onr, os.path.join(out, "reg"), signature=infer_signature(df, out_reg[0]))
    print("prepared", out)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, body, content_type="application/json"):
    data = body.encode() if isinstance(body, str) else body
    if content_type is None:
        # urllib would add application/x-www-form-urlencoded: send no Content-Type at all.
        import http.client
        from urllib.parse import urlsplit

        u = urlsplit(url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        conn.request("POST", u.path, body=data)
        resp = conn.getresponse()
        out = resp.status, resp.read()
        conn.close()
        return out
    req = urllib.request.Request(url, data=data, method="POST")
    if content_type is not None:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start_mlflow(model_dir):
    port = free_port()
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    mlflow = os.path.join(os.path.dirname(sys.executable), "mlflow")
    proc = subprocess.Popen(
        [mlflow, "models", "serve", "-m", model_dir, "-p", str(port), "-h", "127.0.0.1", "--env-manager", "local"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # mlflow runs uvicorn in a child: stop the whole group at the end
    )
    return proc, f"http://127.0.0.1:{port}"


def wait_ready(proc, base, deadline):
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"mlflow models serve exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(base + "/ping", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"mlflow models serve at {base} not ready in time")


def same(a, b, path="predictions"):
    """Structural equality with a 1e-5 tolerance on numbers."""
    if isinstance(a, dict) and isinstance(b, dict):
        if sorted(a) != sorted(b):
            return f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            d = same(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: lengths {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = same(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(a, bool) or isinstance(b, bool):
        return None if a == b else f"{path}: {a!r} != {b!r}"
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return None if abs(a - b) <= 1e-5 * max(1.0, abs(b)) else f"{path}: {a!r} != {b!r}"
    return None if a == b else f"{path}: {a!r} != {b!r}"


def compare(out, homeml):
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
    records = [dict(zip(COLS, r)) for r in rows]
    csv = ",".join(COLS) + "\n" + "\n".join(",".join(str(v) for v in r) for r in rows) + "\n"
    ok_cases = {
        "clf": [
            ("inputs", json.dumps({"inputs": rows}), "application/json"),
            ("instances", json.dumps({"instances": rows}), "application/json"),
            ("inputs ints", json.dumps({"inputs": [[5, 3, 1, 0]]}), "application/json"),
            ("inputs+params", json.dumps({"inputs": rows, "params": {"x": 1}}), "application/json"),
            ("dataframe_split", json.dumps({"dataframe_split": {"columns": COLS, "data": rows}}), "application/json"),
            ("dataframe_split no columns", json.dumps({"dataframe_split": {"data": rows}}), "application/json"),
            ("dataframe_records", json.dumps({"dataframe_records": records}), "application/json"),
        ],
        "reg": [
            ("dataframe_split", json.dumps({"dataframe_split": {"columns": COLS, "data": rows}}), "application/json"),
            (
                "dataframe_split reordered",
                json.dumps({"dataframe_split": {"columns": COLS[::-1], "data": [r[::-1] for r in rows]}}),
                "application/json",
            ),
            ("dataframe_records", json.dumps({"dataframe_records": records}), "application/json"),
            ("inputs dict", json.dumps({"inputs": {c: [r[i] for r in rows] for i, c in enumerate(COLS)}}), "application/json"),
            ("instances records", json.dumps({"instances": records}), "application/json"),
            ("csv", csv, "text/csv"),
        ],
    }
    bad_cases = {
        "clf": [
            ("wrong width", json.dumps({"inputs": [[5.1, 3.5, 1.4]]}), "application/json", 400),
            ("two fields", json.dumps({"inputs": rows, "instances": rows}), "application/json", 400),
            ("no field", json.dumps({"foo": 1}), "application/json", 400),
            ("not json", "not json", "application/json", 400),
            ("text/plain", "x", "text/plain", 415),
        ],
        "reg": [
            ("missing column", json.dumps({"dataframe_records": [{c: 1.0 for c in COLS[:3]}]}), "application/json", 400),
            ("bad value", json.dumps({"dataframe_records": [dict(records[0], sepal_length="a")]}), "application/json", 400),
        ],
    }
    servers = {name: start_mlflow(os.path.join(out, name)) for name in ("clf", "reg")}
    try:
        deadline = time.time() + 90
        for proc, base in servers.values():
            wait_ready(proc, base, deadline)
        checked = 0
        for name, cases in ok_cases.items():
            base = servers[name][1]
            for label, body, ct in cases:
                ms, mb = post(base + "/invocations", body, ct)
                hs, hb = post(f"{homeml}/models/{name}/invocations", body, ct)
                if ms != 200:
                    raise SystemExit(f"{name}/{label}: mlflow answered {ms}: {mb[:300]!r}")
                if hs != 200:
                    raise SystemExit(f"{name}/{label}: homeml answered {hs}: {hb[:300]!r}")
                mj, hj = json.loads(mb), json.loads(hb)
                diff = same(hj, mj)
                if diff:
                    raise SystemExit(f"{name}/{label}: {diff}\n  homeml: {hj}\n  mlflow: {mj}")
                checked += 1
        for name, cases in bad_cases.items():
            base = servers[name][1]
            for label, body, ct, status in cases:
                ms, mb = post(base + "/invocations", body, ct)
                hs, hb = post(f"{homeml}/models/{name}/invocations", body, ct)
                if ms != status or hs != status:
                    raise SystemExit(f"{name}/{label}: mlflow {ms}, homeml {hs}, expected {status}: {hb[:300]!r}")
                if status == 400:
                    hj = json.loads(hb)
                    if hj.get("error_code") not in ("BAD_REQUEST", "INVALID_PARAMETER_VALUE") or not hj.get("message"):
                        raise SystemExit(f"{name}/{label}: homeml error body {hj}")
                checked += 1
        # homeml reads a missing Content-Type as JSON where MLflow answers 500.
        hs, hb = post(f"{homeml}/models/clf/invocations", json.dumps({"inputs": rows}), None)
        if hs != 200:
            raise SystemExit(f"missing content type: homeml answered {hs}: {hb[:300]!r}")
        print(f"mlflow comparison: {checked} requests agree")
    finally:
        for proc, _ in servers.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc, _ in servers.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def main():
    if sys.argv[1] == "prepare":
        prepare(sys.argv[2])
    elif sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3].rstrip("/"))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
