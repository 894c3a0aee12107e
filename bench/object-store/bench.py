"""Object-store model download: `homeml serve -m s3://...` against boto3, on one moto S3 server (issue #17).

Usage (from the repository root, after `cargo build --release` and `bash scripts/setup-venv.sh`):
  .venv/bin/python bench/object-store/bench.py target/release/homeml [--reps 5] [--mb 50] [--json OUT]

What it measures, every figure in the same run against the same moto server on loopback:
- boto3: `download_file` of the model's 50 MB object into a fresh file (boto3's default transfer
  configuration: 8 MiB multipart chunks on 10 threads), MB/s;
- homeml: `homeml serve -m s3://bench/big --model-cache-dir EMPTY` until `/v2/health/ready` answers 200
  (list, download of every object of the model folder into a fresh cache entry, checks, load), then
  the same with the warm cache (the entry is reused: listing and load only). The download's share is
  cold minus warm, and MB/s is the model's bytes over that;
- time to ready of `homeml serve -m s3://bench/iris` (the iris ONNX model, 2 files) with an empty cache.

The model is the iris ONNX model (skl2onnx) with a `--mb` MB random file beside it in its folder (a
model's extra artifact, as MLflow models carry): serving loads the ONNX file only, so the big file
costs download time, not load time. Each figure is the median of --reps repetitions, interleaved.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, proc, timeout=60.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.005)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def upload_models(s3, workdir, mb):
    import mlflow.onnx
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    clf = LogisticRegression(max_iter=500).fit(x, y)
    onx = to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}}, target_opset=17)
    mdir = os.path.join(workdir, "iris")
    mlflow.onnx.save_model(onx, mdir)
    s3.create_bucket(Bucket="bench")
    sizes = {"iris": 0, "big": 0}
    for root, _, files in os.walk(mdir):
        for name in files:
            p = os.path.join(root, name)
            rel = os.path.relpath(p, mdir)
            for prefix in ("iris", "big"):
                s3.upload_file(p, "bench", f"{prefix}/{rel}")
                sizes[prefix] += os.path.getsize(p)
    blob = os.path.join(workdir, "blob.bin")
    with open(blob, "wb") as f:
        f.write(os.urandom(mb * 1_000_000))
    s3.upload_file(blob, "bench", "big/extra/blob.bin")
    sizes["big"] += os.path.getsize(blob)
    return sizes


def time_boto3(s3, dest):
    if os.path.exists(dest):
        os.remove(dest)
    t = time.perf_counter()
    s3.download_file("bench", "big/extra/blob.bin", dest)
    return time.perf_counter() - t


def time_serve(homeml, uri, cache, env, log):
    port = free_port()
    t = time.perf_counter()
    with open(log, "ab") as lf:
        proc = subprocess.Popen(
            [homeml, "serve", "-m", uri, "-p", str(port), "--model-cache-dir", cache],
            env=env, stdout=subprocess.DEVNULL, stderr=lf,
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/v2/health/ready", proc)
            dt = time.perf_counter() - t
        finally:
            proc.terminate()
            proc.wait()
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("homeml")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--json")
    a = ap.parse_args()
    import boto3

    work = tempfile.mkdtemp(prefix="homeml-objbench-")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto_log = open(os.path.join(work, "moto.log"), "wb")
    moto = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=moto_log, stderr=subprocess.STDOUT,
    )
    env = dict(os.environ)
    env.update({
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
        "MLFLOW_S3_ENDPOINT_URL": endpoint,
    })
    env.pop("AWS_ENDPOINT_URL", None)
    env.pop("MLFLOW_TRACKING_URI", None)
    os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")})
    try:
        wait_http(f"{endpoint}/", moto)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        sizes = upload_models(s3, work, a.mb)
        blob_mb = a.mb * 1_000_000 / 1e6
        big_mb = sizes["big"] / 1e6
        rows = {"boto3 download (s)": [], "homeml cold (s)": [], "homeml warm (s)": [], "iris cold (s)": []}
        log = os.path.join(work, "serve.log")
        for rep in range(a.reps):
            rows["boto3 download (s)"].append(time_boto3(s3, os.path.join(work, "boto3.bin")))
            cache = os.path.join(work, f"cache-{rep}")
            rows["homeml cold (s)"].append(time_serve(a.homeml, "s3://bench/big", cache, env, log))
            rows["homeml warm (s)"].append(time_serve(a.homeml, "s3://bench/big", cache, env, log))
            icache = os.path.join(work, f"icache-{rep}")
            rows["iris cold (s)"].append(time_serve(a.homeml, "s3://bench/iris", icache, env, log))
            shutil.rmtree(cache, ignore_errors=True)
            shutil.rmtree(icache, ignore_errors=True)
            print(f"rep {rep + 1}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in rows.items()), flush=True)
        med = {k: statistics.median(v) for k, v in rows.items()}
        homeml_dl = [c - w for c, w in zip(rows["homeml cold (s)"], rows["homeml warm (s)"])]
        out = {
            "model_bytes": sizes,
            "reps": rows,
            "median": med,
            "boto3_MBps": blob_mb / med["boto3 download (s)"],
            "homeml_download_s": statistics.median(homeml_dl),
            "homeml_MBps": big_mb / statistics.median(homeml_dl),
            "iris_time_to_ready_s": med["iris cold (s)"],
            "load_avg": os.getloadavg(),
        }
        print(json.dumps(out, indent=2))
        print(f"| boto3 download_file, {blob_mb:.0f} MB | {out['boto3_MBps']:.0f} MB/s |")
        print(f"| homeml serve -m s3://, {big_mb:.1f} MB model, download share (cold - warm) | "
              f"{out['homeml_MBps']:.0f} MB/s ({out['homeml_download_s']:.3f} s) |")
        print(f"| homeml serve -m s3:// iris, empty cache, to ready | {out['iris_time_to_ready_s'] * 1000:.0f} ms |")
        if a.json:
            with open(a.json, "w") as f:
                json.dump(out, f, indent=2)
    finally:
        moto.terminate()
        moto.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
