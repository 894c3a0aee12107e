"""bench/tracking-server.md in one run: the same REST workload against `homeml server` (file store and SQLite) and the
real `mlflow server` (SQLite backend and file store), all four started by this script on loopback.

    .venv/bin/python bench/tracking-server/bench.py HOMEML_BIN [--reps 3] [--secs 5] [--runs 10000]
        [--points 100000] [--artifact-mb 64] [--json OUT.json]

Figures (each repeated --reps times, the servers interleaved inside each repetition so that machine load
drifts hit all three alike; the median is reported):
- log-batch req/s from 8 concurrent clients (one keep-alive connection and one run each; 10 metrics + 1 tag
  per request) for --secs seconds;
- log-metric req/s, one client, one call at a time, for --secs seconds;
- search_runs over --runs runs (3 params, 2 metrics, 1 tag each; runs/search pages of 1000 until the end):
  seconds per full listing;
- get-history of --points points of one metric (metrics/get-history, following next_page_token): seconds;
- artifact upload (PUT) and download (GET) of --artifact-mb MB through the artifact proxy: MB/s;
- idle RSS of the server's whole process tree (mlflow server runs uvicorn workers) after start-up and
  after the workload.
The load generator is plain HTTP (http.client, keep-alive, one process per client, stdlib only); its CPU
time and the server's are printed with every figure so a client-bound figure can be told apart.
Seeding, the three servers concurrently: the history (100,000 points) through REST log-batch requests of
1000 points (4 clients); the 10,000 runs through REST create-run + one log-batch each (8 clients) on homeml,
and on MLflow (~25-100 writes/s here, hours of seeding) as copies of one run MLflow wrote itself through
REST: row for row in its SQLite database, folder by folder in its file store, while the server runs.
"""
import argparse
import http.client
import json
import multiprocessing as mp
import os
import resource
import shutil
import sqlite3
import uuid
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

API = "/api/2.0/mlflow/"
TICK = os.sysconf("SC_CLK_TCK")


class Client:
    """One keep-alive HTTP connection to a server."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def call(self, method, path, body=None, raw=False, headers=None):
        data = body if raw or body is None else json.dumps(body)
        h = {"Content-Type": "application/json"} if not raw else {"Content-Type": "application/octet-stream"}
        h.update(headers or {})
        self.conn.request(method, path, data, h)
        r = self.conn.getresponse()
        out = r.read()
        if r.status != 200:
            raise RuntimeError(f"{method} {path}: {r.status} {out[:300]!r}")
        return out

    def post(self, endpoint, body):
        return json.loads(self.call("POST", API + endpoint, body) or b"{}")

    def get(self, endpoint, params):
        return json.loads(self.call("GET", API + endpoint + "?" + urllib.parse.urlencode(params)))


# ---------------------------------------------------------------- servers

def tree_pids(root):
    """root and all its descendants."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(d))
            except OSError:
                pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_rss_mb(root):
    total = 0
    for p in tree_pids(root):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def tree_pss_mb(root):
    """Proportional set size of the tree (shared pages split between the processes that map them)."""
    total = 0
    for p in tree_pids(root):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def tree_cpu_s(root):
    total = 0
    for p in tree_pids(root):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])  # incl. reaped children
        except OSError:
            pass
    return total / TICK


def start(name, cmd, env, port, log):
    p = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    t0 = time.time()
    while True:
        if p.poll() is not None:
            raise RuntimeError(f"{name} exited with {p.returncode}; see {log.name}")
        try:
            Client(port).get("experiments/get-by-name", {"experiment_name": "Default"})
            break
        except (OSError, RuntimeError, http.client.HTTPException):
            if time.time() - t0 > 120:
                raise
            time.sleep(0.2)
    return {"name": name, "proc": p, "port": port, "ready_s": time.time() - t0}


# ---------------------------------------------------------------- workers (child processes)

def w_log_batch(port, run_id, secs, q):
    c, n, step = Client(port), 0, 0
    end = time.time() + secs
    while time.time() < end:
        ms = [{"key": f"m{k}", "value": float(step), "timestamp": 1000 + step, "step": step} for k in range(10)]
        c.post("runs/log-batch", {"run_id": run_id, "metrics": ms, "tags": [{"key": "t", "value": str(step)}]})
        n += 1
        step += 1
    q.put(n)


def w_log_metric(port, run_id, secs, q):
    c, n = Client(port), 0
    end = time.time() + secs
    while time.time() < end:
        c.post("runs/log-metric", {"run_id": run_id, "key": "one", "value": float(n), "timestamp": 1000 + n, "step": n})
        n += 1
    q.put(n)


def w_search(port, exp_id, want, q):
    c, n, token = Client(port), 0, None
    t = time.perf_counter()
    while True:
        body = {"experiment_ids": [exp_id], "max_results": 1000}
        if token:
            body["page_token"] = token
        r = c.post("runs/search", body)
        n += len(r.get("runs", []))
        token = r.get("next_page_token")
        if not token:
            break
    dt = time.perf_counter() - t
    assert n == want, (n, want)
    q.put(dt)


def w_history(port, run_id, want, q):
    c, n, token = Client(port), 0, None
    t = time.perf_counter()
    while True:
        params = {"run_id": run_id, "metric_key": "h"}
        if token:
            params["page_token"] = token
        r = c.get("metrics/get-history", params)
        n += len(r.get("metrics", []))
        token = r.get("next_page_token")
        if not token:
            break
    dt = time.perf_counter() - t
    assert n == want, (n, want)
    q.put(dt)


def w_artifact(port, path, blob_mb, q):
    c = Client(port)
    blob = os.urandom(1 << 20) * blob_mb
    url = "/api/2.0/mlflow-artifacts/artifacts/" + path
    t = time.perf_counter()
    c.call("PUT", url, blob, raw=True)
    up = time.perf_counter() - t
    t = time.perf_counter()
    c.conn.request("GET", url)
    r = c.conn.getresponse()
    buf, got = bytearray(1 << 20), 0
    mv = memoryview(buf)
    while True:
        k = r.readinto(mv)
        if not k:
            break
        got += k
    down = time.perf_counter() - t
    assert r.status == 200 and got == len(blob), (r.status, got)
    q.put((blob_mb / up, blob_mb / down))


def w_seed_runs(port, exp_id, n, q):
    c = Client(port)
    for i in range(n):
        r = c.post("runs/create", {"experiment_id": exp_id, "start_time": 1000 + i, "tags": [{"key": "seed", "value": "1"}]})
        rid = r["run"]["info"]["run_id"]
        c.post("runs/log-batch", {"run_id": rid,
                                  "params": [{"key": f"p{k}", "value": str(i + k)} for k in range(3)],
                                  "metrics": [{"key": f"m{k}", "value": i * 0.5 + k, "timestamp": 1000 + i, "step": 0} for k in range(2)]})
    q.put(n)


def w_seed_history(port, run_id, first, batches, q):
    c = Client(port)
    for b in range(first, first + batches):
        ms = [{"key": "h", "value": float(s), "timestamp": 1000 + s, "step": s} for s in range(1000 * b, 1000 * b + 1000)]
        c.post("runs/log-batch", {"run_id": run_id, "metrics": ms})
    q.put(batches)


def clone_sqlite(db, template, n):
    """n copies of run `template` in MLflow's SQLite store, row for row (every table with a run_uuid)."""
    con = sqlite3.connect(db, timeout=120)
    tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
              if any(c[1] == "run_uuid" for c in con.execute(f"PRAGMA table_info({t})"))]
    rows = {t: con.execute(f"SELECT * FROM {t} WHERE run_uuid = ?", (template,)).fetchall() for t in tables}
    with con:
        for i in range(n):
            new = uuid.uuid4().hex
            for t, rs in rows.items():
                if rs:
                    con.executemany(f"INSERT INTO {t} VALUES ({','.join('?' * len(rs[0]))})",
                                    [tuple(v.replace(template, new) if isinstance(v, str) else v for v in r) for r in rs])
    con.close()


def clone_file_store(root, exp_id, template, n):
    """n copies of run folder `template` in MLflow's file store (meta.yaml's ids rewritten)."""
    src = os.path.join(root, exp_id, template)
    for i in range(n):
        new = uuid.uuid4().hex
        dst = os.path.join(root, exp_id, new)
        shutil.copytree(src, dst)
        meta = os.path.join(dst, "meta.yaml")
        with open(meta) as f:
            text = f.read()
        with open(meta, "w") as f:
            f.write(text.replace(template, new))


def fan_out(jobs):
    """Runs [(fn, args)] as concurrent child processes; returns (their results, their CPU seconds)."""
    q = mp.Queue()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    ps = [mp.Process(target=fn, args=(*args, q)) for fn, args in jobs]
    for p in ps:
        p.start()
    out = [q.get() for _ in ps]
    for p in ps:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"worker failed: {p.exitcode}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return out, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


# ---------------------------------------------------------------- main

def steal_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return v[7], sum(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("homeml")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--secs", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--artifact-mb", type=int, default=64)
    ap.add_argument("--servers", default="homeml,homeml-sqlite,mlflow-sqlite,mlflow-file")
    ap.add_argument("--json")
    a = ap.parse_args()
    mlflow_bin = os.path.join(os.path.dirname(sys.executable), "mlflow")
    tmp = tempfile.mkdtemp(prefix="tracking-server-bench-")
    base = dict(os.environ)
    specs = {
        "homeml": ([a.homeml, "server", "--backend-store-uri", f"{tmp}/homeml/mlruns", "--artifacts-destination",
                    f"{tmp}/homeml/art", "--port", "15101"], base, 15101),
        "homeml-sqlite": ([a.homeml, "server", "--backend-store-uri", f"sqlite:///{tmp}/homeml-sqlite/mlflow.db",
                           "--artifacts-destination", f"{tmp}/homeml-sqlite/art", "--port", "15104"], base, 15104),
        "mlflow-sqlite": ([mlflow_bin, "server", "--backend-store-uri", f"sqlite:///{tmp}/mlflow-sqlite/mlflow.db",
                           "--artifacts-destination", f"{tmp}/mlflow-sqlite/art", "--host", "127.0.0.1", "--port", "15102"],
                          base, 15102),
        "mlflow-file": ([mlflow_bin, "server", "--backend-store-uri", f"{tmp}/mlflow-file/mlruns", "--artifacts-destination",
                         f"{tmp}/mlflow-file/art", "--host", "127.0.0.1", "--port", "15103"],
                        {**base, "MLFLOW_ALLOW_FILE_STORE": "true"}, 15103),
    }
    names = a.servers.split(",")
    for n in names:
        os.makedirs(f"{tmp}/{n}", exist_ok=True)
    s0 = steal_ticks()
    print(f"start {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, load {os.getloadavg()}, tmp {tmp}", flush=True)
    servers = []
    res = {"figures": {}, "load": [], "servers": {}}
    try:
        for n in names:
            cmd, env, port = specs[n]
            servers.append(start(n, cmd, env, port, open(f"{tmp}/{n}.log", "w")))
        time.sleep(3)
        for s in servers:
            s["idle_rss_start"] = tree_rss_mb(s["proc"].pid)
            s["idle_pss_start"] = tree_pss_mb(s["proc"].pid)
            s["procs"] = len(tree_pids(s["proc"].pid))
            print(f"{s['name']}: ready in {s['ready_s']:.2f}s, {s['procs']} processes, idle RSS {s['idle_rss_start']:.1f} MB (PSS {s['idle_pss_start']:.1f} MB)", flush=True)
        # ---- setup + seeding (all servers concurrently)
        t = time.time()
        jobs, per = [], a.runs // 8
        for s in servers:
            c = Client(s["port"])
            s["exp_w"] = c.post("experiments/create", {"name": "writes"})["experiment_id"]
            s["exp_s"] = c.post("experiments/create", {"name": "search"})["experiment_id"]
            s["batch_runs"] = [c.post("runs/create", {"experiment_id": s["exp_w"]})["run"]["info"]["run_id"] for _ in range(8)]
            s["one_run"] = c.post("runs/create", {"experiment_id": s["exp_w"]})["run"]["info"]["run_id"]
            s["hist_run"] = c.post("runs/create", {"experiment_id": s["exp_w"]})["run"]["info"]["run_id"]
            if s["name"].startswith("homeml"):
                for k in range(8):
                    jobs.append((w_seed_runs, (s["port"], s["exp_s"], per + (a.runs % 8 if k == 0 else 0))))
            else:
                # MLflow takes ~40 ms per REST write here: its 10,000 runs are copies of one run it wrote
                # itself through REST (same params, metrics and tags), made row for row / folder by folder.
                q = mp.Queue()
                w_seed_runs(s["port"], s["exp_s"], 1, q)
                tpl = c.post("runs/search", {"experiment_ids": [s["exp_s"]]})["runs"][0]["info"]["run_id"]
                if s["name"] == "mlflow-sqlite":
                    clone_sqlite(f"{tmp}/mlflow-sqlite/mlflow.db", tpl, a.runs - 1)
                else:
                    clone_file_store(f"{tmp}/mlflow-file/mlruns", s["exp_s"], tpl, a.runs - 1)
            nb = a.points // 1000
            for k in range(4):
                jobs.append((w_seed_history, (s["port"], s["hist_run"], k * nb // 4, (k + 1) * nb // 4 - k * nb // 4)))
        fan_out(jobs)
        print(f"seeded {a.runs} runs + {a.points} points on each server in {time.time() - t:.0f}s", flush=True)
        # ---- figures
        figs = [
            ("log-batch req/s (8 clients)", lambda s: fan_out([(w_log_batch, (s["port"], r, a.secs)) for r in s["batch_runs"]]),
             lambda out: sum(out) / a.secs, True),
            ("log-metric req/s (1 client)", lambda s: fan_out([(w_log_metric, (s["port"], s["one_run"], a.secs))]),
             lambda out: out[0] / a.secs, True),
            (f"search_runs over {a.runs} runs (s)", lambda s: fan_out([(w_search, (s["port"], s["exp_s"], a.runs))]),
             lambda out: out[0], False),
            (f"get-history of {a.points} points (s)", lambda s: fan_out([(w_history, (s["port"], s["hist_run"], a.points))]),
             lambda out: out[0], False),
        ]
        for rep in range(a.reps):
            for title, run, value, _ in figs:
                for s in servers:
                    c0, l0 = tree_cpu_s(s["proc"].pid), os.getloadavg()[0]
                    t = time.perf_counter()
                    out, ccpu = run(s)
                    wall = time.perf_counter() - t
                    v = value(out)
                    scpu = tree_cpu_s(s["proc"].pid) - c0
                    res["figures"].setdefault(title, {}).setdefault(s["name"], []).append(v)
                    print(f"rep {rep + 1} {title:38s} {s['name']:14s} {v:12.3f}   wall {wall:6.2f}s server CPU {scpu:6.2f}s "
                          f"client CPU {ccpu:6.2f}s load {l0:.2f}", flush=True)
            for s in servers:
                (up, down), ccpu = (lambda r: (r[0][0], r[1]))(fan_out([(w_artifact, (s["port"], f"bench/rep{rep}/blob.bin", a.artifact_mb))]))
                res["figures"].setdefault(f"artifact upload {a.artifact_mb} MB (MB/s)", {}).setdefault(s["name"], []).append(up)
                res["figures"].setdefault(f"artifact download {a.artifact_mb} MB (MB/s)", {}).setdefault(s["name"], []).append(down)
                print(f"rep {rep + 1} artifact {a.artifact_mb} MB {s['name']:14s} up {up:8.1f} MB/s down {down:8.1f} MB/s  client CPU {ccpu:.2f}s", flush=True)
        time.sleep(3)
        for s in servers:
            s["idle_rss_end"] = tree_rss_mb(s["proc"].pid)
            s["idle_pss_end"] = tree_pss_mb(s["proc"].pid)
    finally:
        for s in servers:
            try:
                os.killpg(s["proc"].pid, 15)
                s["proc"].wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(s["proc"].pid, 9)
    s1 = steal_ticks()
    steal = 100 * (s1[0] - s0[0]) / max(1, s1[1] - s0[1])
    print(f"end {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, load {os.getloadavg()}, steal {steal:.0f}%")
    print()
    cols = [s["name"] for s in servers]
    ours = [c for c in cols if c.startswith("homeml")]
    peers = [c for c in cols if not c.startswith("homeml")]
    pairs = [(h, p) for h in ours for p in peers]
    print("| figure | " + " | ".join(cols) + " | " + " | ".join(f"{h} vs {p}" for h, p in pairs) + " |")
    print("|---|" + "---:|" * (len(cols) + len(pairs)))
    higher = {t: h for t, _, _, h in figs}
    for title, per_server in res["figures"].items():
        med = {k: statistics.median(v) for k, v in per_server.items()}
        hb = higher.get(title, True)
        ratios = [(med[h] / med[p] if hb else med[p] / med[h]) for h, p in pairs]
        print(f"| {title} | " + " | ".join(f"{med[c]:,.3f} ({', '.join(f'{x:,.3f}' for x in per_server[c])})" for c in cols)
              + " | " + " | ".join(f"{r:.1f}x" for r in ratios) + " |")
    for s in servers:
        print(f"| idle RSS (MB) {s['name']} | start {s['idle_rss_start']:.1f} (PSS {s['idle_pss_start']:.1f}), "
              f"after workload {s['idle_rss_end']:.1f} (PSS {s['idle_pss_end']:.1f}), {s['procs']} processes |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"figures": res["figures"], "steal_percent": steal,
                       "rss": {s["name"]: [s["idle_rss_start"], s["idle_rss_end"], s["idle_pss_start"], s["idle_pss_end"]] for s in servers}}, f, indent=1)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
