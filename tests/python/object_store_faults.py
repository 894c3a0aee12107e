"""Fault tests of `homeml serve -m s3://...` against moto's S3 server (tests/it/object_store_faults.rs).

Usage:
  object_store_faults.py models OUTDIR
      trains two iris models that answer differently (v1: the labels as they are; v2: the labels
      rotated) and saves each with mlflow.onnx.save_model to OUTDIR/v1 and OUTDIR/v2, with
      OUTDIR/v1.json and OUTDIR/v2.json holding the rows and onnxruntime's answers (what
      object_store_s3.py's `check` compares with).
  object_store_faults.py upload DIR BUCKET PREFIX [BIG_MIB]
      creates BUCKET if missing and uploads every file of DIR under PREFIX with boto3; with BIG_MIB,
      also PREFIX/weights.bin of that many MiB of random bytes (a large artifact in the model folder).
      The MLmodel goes last.
  object_store_faults.py lock-down OUT.json
      creates an IAM user allowed s3:* and an access key for it, writes the key to OUT.json, then turns
      on moto's authentication checks (POST /moto-api/reset-auth with 0): from then on only that key,
      with its secret, is accepted.
Env: MLFLOW_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (any, before lock-down).
"""

import json
import os
import sys
import urllib.request


def client(service):
    import boto3

    return boto3.client(service, endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"], region_name="us-east-1")


def models(outdir):
    import mlflow.onnx
    import numpy as np
    import onnxruntime as ort
    from mlflow.models import infer_signature
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    rows = x[[0, 60, 120]]
    answers = []
    for name, labels in [("v1", y), ("v2", (y + 1) % 3)]:
        clf = LogisticRegression(max_iter=500).fit(x, labels)
        onx = to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}}, target_opset=17)
        mdir = os.path.join(outdir, name)
        mlflow.onnx.save_model(onx, mdir, signature=infer_signature(x[:5], clf.predict(x[:5])))
        sess = ort.InferenceSession(onx.SerializeToString())
        outs = sess.run(None, {sess.get_inputs()[0].name: rows})
        ref = {o.name: v.tolist() for o, v in zip(sess.get_outputs(), outs)}
        answers.append([int(v) for k, vs in ref.items() if "label" in k for v in vs])
        with open(os.path.join(outdir, name + ".json"), "w") as f:
            json.dump({"rows": rows.tolist(), "reference": ref, "mdir": mdir}, f)
    assert answers[0] != answers[1], f"v1 and v2 answer alike: {answers}"
    print("models saved")


def upload(mdir, bucket, prefix, big_mib=None):
    s3 = client("s3")
    if bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        s3.create_bucket(Bucket=bucket)
    if big_mib is not None:
        s3.put_object(Bucket=bucket, Key=f"{prefix}/weights.bin", Body=os.urandom(int(big_mib) << 20))
    rels = sorted(os.path.relpath(os.path.join(r, n), mdir) for r, _, fs in os.walk(mdir) for n in fs)
    # The MLmodel last: a reader polling the prefix sees a model only once all its files are there.
    for rel in sorted(rels, key=lambda r: r == "MLmodel"):
        s3.upload_file(os.path.join(mdir, rel), bucket, f"{prefix}/{rel}")
    print("uploaded")


def lock_down(out_path):
    iam = client("iam")
    iam.create_user(UserName="homeml-reader")
    iam.put_user_policy(
        UserName="homeml-reader",
        PolicyName="s3-all",
        PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }),
    )
    key = iam.create_access_key(UserName="homeml-reader")["AccessKey"]
    with open(out_path, "w") as f:
        json.dump({"key_id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}, f)
    url = os.environ["MLFLOW_S3_ENDPOINT_URL"].rstrip("/") + "/moto-api/reset-auth"
    # Not form-encoded (urllib's default content type), or the server reads no body.
    req = urllib.request.Request(url, data=b"0", method="POST", headers={"content-type": "text/plain"})
    urllib.request.urlopen(req).read()
    print("auth on")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "models":
        models(sys.argv[2])
    elif cmd == "upload":
        upload(*sys.argv[2:6])
    elif cmd == "lock-down":
        lock_down(sys.argv[2])
    else:
        raise SystemExit(f"unknown command {cmd}")
    print("OK")
