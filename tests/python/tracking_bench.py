"""Side-by-side benchmark: real MLflow's file store vs homeml-tracking, same machine, same script.

usage: tracking_bench.py <homeml tracking_bench binary> [n_metrics=100000] [n_runs=10000]

Build the homeml side first (release):
    cargo build --release -p homeml-tracking --example tracking_bench
    .venv/bin/python tests/python/tracking_bench.py target/release/examples/tracking_bench

Measures (1) logging n metric values to one run, one call per value (MlflowClient.log_metric vs
Store::log_metric) and in batches of 1000 (MlflowClient.log_batch vs Store::log_batch); (2) listing
n runs with their params/metrics/tags (MlflowClient.search_runs vs Store::search_runs) over one
tree of n runs written by homeml, three rounds back to back (the median of each side is reported).
Prints the load average at the start and the end.
"""

import os
import subprocess
import sys
import tempfile
import time

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric  # noqa: E402


def homeml(binary, *args):
    out = subprocess.run([binary, *map(str, args)], check=True, capture_output=True, text=True)
    return out.stdout.split()


def main():
    binary = sys.argv[1]
    n_metrics = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    n_runs = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
    rows = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tracking_uri("file://" + os.path.join(tmp, "mlflow"))
        client = MlflowClient()
        exp = client.create_experiment("bench")

        run = client.create_run(exp)
        t = time.perf_counter()
        for i in range(n_metrics):
            client.log_metric(run.info.run_id, "loss", i * 0.001, step=i)
        ml_single = time.perf_counter() - t
        assert len(client.get_metric_history(run.info.run_id, "loss")) == n_metrics
        hm_single = float(homeml(binary, "log", os.path.join(tmp, "h1"), n_metrics)[0])
        rows.append((f"log {n_metrics} metric values, one call each", ml_single, hm_single))

        run = client.create_run(exp)
        t = time.perf_counter()
        ts = int(time.time() * 1000)
        for start in range(0, n_metrics, 1000):
            batch = [Metric("loss", i * 0.001, ts, i) for i in range(start, min(start + 1000, n_metrics))]
            client.log_batch(run.info.run_id, metrics=batch)
        ml_batch = time.perf_counter() - t
        hm_batch = float(homeml(binary, "log", os.path.join(tmp, "h2"), n_metrics, 1000)[0])
        rows.append((f"log {n_metrics} metric values, batches of 1000", ml_batch, hm_batch))

        store = os.path.join(tmp, "runs")
        t = time.perf_counter()
        exp_id = homeml(binary, "make-runs", store, n_runs)[0]
        make_secs = time.perf_counter() - t
        mlflow.set_tracking_uri("file://" + store)
        client = MlflowClient()
        # Listing is short and the machine is shared: three rounds, MLflow and homeml back to
        # back in each, and the median of each side.
        ml_times, hm_times = [], []
        for _ in range(3):
            t = time.perf_counter()
            found = client.search_runs([exp_id], max_results=n_runs)
            ml_times.append(time.perf_counter() - t)
            assert len(found) == n_runs, len(found)
            hm_list, count = homeml(binary, "list", store, exp_id)
            assert int(count) == n_runs
            hm_times.append(float(hm_list))
        ml_list, hm_list = sorted(ml_times)[1], sorted(hm_times)[1]
        rows.append((f"list {n_runs} runs (search_runs), median of 3", ml_list, hm_list))
        list_rounds = ", ".join(f"{m:.2f}/{h:.3f}" for m, h in zip(ml_times, hm_times))

    print(f"| operation | MLflow {mlflow.__version__} (s) | homeml (s) | speed-up |")
    print("|---|---|---|---|")
    for name, ml, hm in rows:
        print(f"| {name} | {ml:.3f} | {hm:.4f} | {ml / hm:.0f}x |")
    print(f"\n(homeml wrote the {n_runs}-run tree in {make_secs:.1f} s)")
    print(f"listing rounds, MLflow/homeml seconds: {list_rounds}")
    load_after = os.getloadavg()
    print(
        "load average (1/5/15 min) at start: %.2f %.2f %.2f, at end: %.2f %.2f %.2f"
        % (*load_before, *load_after)
    )


if __name__ == "__main__":
    main()
