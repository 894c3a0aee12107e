"""S3 artifact stores with the real MLflow client and boto3, against moto's S3 server (tests/it/object_store_s3.rs).

Usage:
  object_store_s3.py prepare PROXY_SERVER DIRECT_SERVER OUT.json
      creates the buckets; logs artifacts and an ONNX model through PROXY_SERVER (`homeml server
      --artifacts-destination s3://homeml-proxy/art`) and checks byte-equal downloads through the client and
      with boto3 that the objects are under s3://homeml-proxy/art/...; logs a run through DIRECT_SERVER
      (`--default-artifact-root s3://homeml-direct/root`, the client uploads with boto3 itself) and checks
      that homeml's artifacts/list sees the files; registers both models (iris-proxy, iris-direct, alias
      champion); uploads a saved ONNX iris model with boto3 to
      s3://homeml-models/iris; writes OUT.json with the model URIs and the onnxruntime reference outputs.
  object_store_s3.py check SERVE_URL OUT.json
      posts the reference rows to `homeml serve -m s3://...` and compares with onnxruntime.
  object_store_s3.py replace OUT.json
      uploads a changed MLmodel (new model_uuid) to s3://homeml-models/iris, the ONNX file unchanged.
Env: MLFLOW_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (moto accepts any).
"""

import hashlib
import json
import os
import sys
import tempfile
import urllib.request

import boto3
import numpy as np




def s3():
    return boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"], region_name="us-east-1")


def keys(bucket, prefix=""):
    out = {}
    for page in s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"]] = o["Size"]
    return out


def iris_model():
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    clf = LogisticRegression(max_iter=500).fit(x, y)
    return to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}}, target_opset=17), x, clf


def prepare(proxy, direct, out_path):
    import mlflow
    import mlflow.onnx
    from mlflow.models import infer_signature
    import onnxruntime as ort

    client = s3()
    for b in ["homeml-proxy", "homeml-direct", "homeml-models"]:
        client.create_bucket(Bucket=b)
    onx, x, clf = iris_model()
    sig = infer_signature(x[:5], clf.predict(x[:5]))

    # 1. Through the proxy: the client talks HTTP only, homeml writes to S3.
    mlflow.set_tracking_uri(proxy)
    mlflow.set_experiment("s3-proxy")
    tmp = tempfile.mkdtemp()
    small = os.path.join(tmp, "notes.txt")
    with open(small, "w") as f:
        f.write("hello s3\n")
    big = os.path.join(tmp, "weights.bin")
    payload = os.urandom(9 * 1024 * 1024 + 123)  # past one multipart part (8 MiB)
    with open(big, "wb") as f:
        f.write(payload)
    with mlflow.start_run() as run:
        mlflow.log_artifact(small, "docs")
        mlflow.log_artifact(big)
        info = mlflow.onnx.log_model(onx, name="model", signature=sig)
    rid = run.info.run_id
    mc = mlflow.MlflowClient()
    names = sorted(f.path for f in mc.list_artifacts(rid))
    assert names == ["docs", "weights.bin"], names
    assert [f.path for f in mc.list_artifacts(rid, "docs")] == ["docs/notes.txt"]
    dl = mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="weights.bin", dst_path=tempfile.mkdtemp())
    with open(dl, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == hashlib.sha256(payload).hexdigest(), "big artifact differs"
    dl = mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="docs/notes.txt", dst_path=tempfile.mkdtemp())
    assert open(dl).read() == "hello s3\n"
    stored = keys("homeml-proxy", "art/")
    exp_id = run.info.experiment_id
    want = f"art/{exp_id}/{rid}/artifacts/weights.bin"
    assert stored.get(want) == len(payload), (want, stored)
    assert f"art/{exp_id}/{rid}/artifacts/docs/notes.txt" in stored, stored
    assert any(k.endswith("/artifacts/model.onnx") or k.endswith("/model.onnx") for k in stored), stored
    loaded = mlflow.onnx.load_model(info.model_uri)
    assert loaded.SerializeToString() == onx.SerializeToString(), "model differs after the round trip"
    # Delete through the proxy (the UI and `mlflow gc` do this).
    req = urllib.request.Request(
        f"{proxy}/api/2.0/mlflow-artifacts/artifacts/{exp_id}/{rid}/artifacts/docs", method="DELETE"
    )
    urllib.request.urlopen(req).read()
    assert not any("/docs/" in k for k in keys("homeml-proxy", "art/")), "delete left objects"

    # 2. Direct: the client writes to S3 itself (boto3), homeml records the run and reads the files.
    mlflow.set_tracking_uri(direct)
    mlflow.set_experiment("s3-direct")
    with mlflow.start_run() as drun:
        mlflow.log_artifact(small, "docs")
        dinfo = mlflow.onnx.log_model(onx, name="model", signature=sig)
    dexp = mlflow.get_experiment(drun.info.experiment_id)
    assert dexp.artifact_location.startswith("s3://homeml-direct/root"), dexp.artifact_location
    assert drun.info.artifact_uri.startswith("s3://homeml-direct/root"), drun.info.artifact_uri
    listed = json.load(urllib.request.urlopen(
        f"{direct}/api/2.0/mlflow/artifacts/list?run_id={drun.info.run_id}&path=docs"
    ))
    assert [(f["path"], f.get("file_size")) for f in listed["files"]] == [("docs/notes.txt", 9)], listed
    direct_model = mlflow.MlflowClient().get_logged_model(dinfo.model_id).artifact_location
    assert direct_model.startswith("s3://homeml-direct/"), direct_model
    # Registered, with an alias: `homeml serve -m models:/iris-direct@champion` finds it in S3.
    dv = mlflow.register_model(dinfo.model_uri, "iris-direct")
    mlflow.MlflowClient().set_registered_model_alias("iris-direct", "champion", dv.version)
    # The proxied model registered too (on the proxy server).
    mlflow.set_tracking_uri(proxy)
    pv = mlflow.register_model(info.model_uri, "iris-proxy")
    mlflow.MlflowClient().set_registered_model_alias("iris-proxy", "champion", pv.version)

    # 3. A saved model uploaded with boto3, served with `homeml serve -m s3://homeml-models/iris`.
    mdir = os.path.join(tmp, "iris")
    mlflow.onnx.save_model(onx, mdir, signature=sig)
    for root, _, files in os.walk(mdir):
        for name in files:
            p = os.path.join(root, name)
            client.upload_file(p, "homeml-models", "iris/" + os.path.relpath(p, mdir))
    rows = x[[0, 60, 120]]
    sess = ort.InferenceSession(onx.SerializeToString())
    outs = sess.run(None, {sess.get_inputs()[0].name: rows})
    ref = {o.name: v.tolist() for o, v in zip(sess.get_outputs(), outs)}
    with open(out_path, "w") as f:
        json.dump({
            "served": "s3://homeml-models/iris",
            "direct_model": direct_model,
            "direct_run": drun.info.run_id,
            "proxy_run": rid,
            "rows": rows.tolist(),
            "reference": ref,
            "mdir": mdir,
        }, f)
    print("prepared")


def check(url, out_path):
    spec = json.load(open(out_path))
    body = json.dumps({"inputs": spec["rows"]}).encode()
    req = urllib.request.Request(f"{url}/invocations", data=body, headers={"content-type": "application/json"})
    got = json.load(urllib.request.urlopen(req))["predictions"]
    ref = spec["reference"]
    assert isinstance(got, dict), got
    label = [k for k in ref if "label" in k][0]
    prob = [k for k in ref if "prob" in k][0]
    assert [int(v) for v in got[label]] == [int(v) for v in ref[label]], (got, ref)
    assert np.allclose(np.array(got[prob]), np.array(ref[prob]), atol=1e-5), (got, ref)
    print("served OK")


def replace(out_path):
    spec = json.load(open(out_path))
    mlmodel = os.path.join(spec["mdir"], "MLmodel")
    text = open(mlmodel).read()
    import re
    text = re.sub(r"model_uuid: .*", "model_uuid: 0123456789abcdef0123456789abcdef", text)
    s3().put_object(Bucket="homeml-models", Key="iris/MLmodel", Body=text.encode())
    print("replaced")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "prepare":
        prepare(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "check":
        check(sys.argv[2], sys.argv[3])
    elif cmd == "replace":
        replace(sys.argv[2])
    else:
        raise SystemExit(f"unknown command {cmd}")
    print("OK")
