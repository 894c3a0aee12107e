"""One of many concurrent client processes for tests/it/tracking_server_concurrency.rs (stdlib only, so
that 16 of them start fast). argv: URL SHARED_RUN_ID OWN_RUN_ID WORKER N_BATCHES ACK_FILE [STOP_FILE].

Each batch logs, through MLflow's REST API, 10 metrics (key w<WORKER>, steps 10*i..10*i+9, value =
step) to the shared run and to its own run, one param (w<WORKER>_p<i>) and one tag per batch, and one
log-metric call (key one<WORKER>, step i). Every answer 200 is acknowledged with a line in ACK_FILE
(written and flushed before the next request). A request without an answer (the server was killed)
is retried until it is answered; with STOP_FILE, the loop runs until that file exists instead of
N_BATCHES times. Exits 0; prints the number of acknowledged batches."""
import http.client
import json
import os
import sys
import time
import urllib.parse

url, shared, own, worker, n, ack_path = sys.argv[1:7]
stop = sys.argv[7] if len(sys.argv) > 7 else None
worker, n = int(worker), int(n)
host = urllib.parse.urlparse(url).netloc
conn = None


def post(path, body):
    """POST until answered; returns the status."""
    global conn
    data = json.dumps(body)
    deadline = time.time() + 120
    while True:
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, timeout=30)
            conn.request("POST", "/api/2.0/mlflow/" + path, data, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            return r.status
        except (OSError, http.client.HTTPException):
            if conn is not None:
                conn.close()
            conn = None
            if time.time() > deadline:
                raise
            time.sleep(0.02)


with open(ack_path, "a") as ack:
    i = 0
    while (stop is None and i < n) or (stop is not None and not os.path.exists(stop)):
        metrics = [{"key": f"w{worker}", "value": float(s), "timestamp": 1000 + s, "step": s}
                   for s in range(10 * i, 10 * i + 10)]
        for run in (shared, own):
            body = {"run_id": run, "metrics": metrics,
                    "params": [{"key": f"w{worker}_p{i}", "value": str(i)}],
                    "tags": [{"key": f"w{worker}_t", "value": str(i)}]}
            st = post("runs/log-batch", body)
            assert st == 200, (st, body)
            ack.write(json.dumps({"run": run, "batch": i}) + "\n")
            ack.flush()
        st = post("runs/log-metric", {"run_id": shared, "key": f"one{worker}", "value": float(i),
                                      "timestamp": 5000 + i, "step": i})
        assert st == 200, st
        ack.write(json.dumps({"run": shared, "one": i}) + "\n")
        ack.flush()
        i += 1
print(i)
