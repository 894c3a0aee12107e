#!/usr/bin/env python3
"""The attacks of issues 21 (items 2, 3) and 22 (item 1) against `homeml serve`, bounded in count and time.

    python3 bench/hardening/attacks.py --homeml target/release/homeml [--only stall,memory,idle]

Trains the quickstart models into a temporary store (`homeml quickstart --no-serve`), serves
`models:/iris-classifier@champion` on a free loopback port, and for each attack prints what a
well-behaved client saw meanwhile and what the server's memory did (VmRSS / VmHWM from /proc).
Python standard library only; every attack stops after a fixed number of connections and seconds.

- stall:  8 connections send `POST /invocations` headers with Content-Length: 33554432 and `{"inputs":`,
          then nothing; a client predicts every 0.25 s for 15 s.
- memory: 20 concurrent valid ~30 MB `inputs` bodies (iris rows), twice; RSS sampled every 50 ms,
          then 5 s and 20 s after the second wave.
- idle:   1,100 connections each send `GET /ping` and keep the connection idle; a client probes
          `/v2/health/ready` and predicts every 0.25 s for 15 s.
"""

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROW = "[5.1, 3.5, 1.4, 0.2]"
ONE = json.dumps({"inputs": [[5.1, 3.5, 1.4, 0.2]]}).encode()


def rss(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                k, v = line.split(":")
                out[k] = int(v.split()[0]) / 1024.0
    return out


def request(addr, method, path, body=b"", timeout=20.0):
    """One request on a new connection with Connection: close; returns the status or an error name."""
    try:
        s = socket.create_connection(addr, timeout=timeout)
    except OSError as e:
        return type(e).__name__
    try:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        s.sendall(head + body)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                return "closed"
            data += chunk
        status = int(data.split(b" ", 2)[1])
        while s.recv(1 << 20):
            pass
        return status
    except OSError as e:
        return type(e).__name__
    finally:
        s.close()


def tally(xs):
    out = {}
    for x in xs:
        out[str(x)] = out.get(str(x), 0) + 1
    return out


def probe_for(addr, seconds, paths):
    seen = {p: [] for p in paths}
    end = time.time() + seconds
    while time.time() < end:
        for method, path, body in paths:
            seen[(method, path, body)].append(request(addr, method, path, body, timeout=5.0))
        time.sleep(0.25)
    return {f"{m} {p}": tally(v) for (m, p, _), v in seen.items()}


def stall(addr, pid):
    socks = []
    for _ in range(8):
        s = socket.create_connection(addr)
        s.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 33554432\r\n\r\n{\"inputs\":"
        )
        socks.append(s)
    t0 = time.time()
    seen = probe_for(
        addr, 15, [("POST", "/invocations", ONE), ("GET", "/v2/health/ready", b"")]
    )
    closed = []
    for s in socks:
        s.settimeout(0.5)
        try:
            data = s.recv(4096)
            closed.append(data.split(b"\r\n", 1)[0].decode(errors="replace") or "closed")
        except socket.timeout:
            closed.append("still open")
        except OSError as e:
            closed.append(type(e).__name__)
        s.close()
    print(f"stall: while 8 stalled bodies were open ({time.time() - t0:.0f} s): {seen}")
    print(f"stall: what the stalled connections got by then: {tally(closed)}")


def big_body(target):
    n = target // (len(ROW) + 2)
    return ('{"inputs": [' + ", ".join([ROW] * n) + "]}").encode()


def memory(addr, pid):
    body = big_body(30 * 1000 * 1000)
    print(f"memory: body {len(body) / 1e6:.1f} MB; before: {rss(pid)}")
    for wave in (1, 2):
        results = []
        peak = [0.0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                try:
                    peak[0] = max(peak[0], rss(pid)["VmRSS"])
                except OSError:
                    return
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        threads = [
            threading.Thread(
                target=lambda: results.append(
                    request(addr, "POST", "/invocations", body, timeout=120.0)
                )
            )
            for _ in range(20)
        ]
        t0 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        done.set()
        sampler.join()
        print(
            f"memory: wave {wave}: {tally(results)} in {time.time() - t0:.1f} s; "
            f"peak VmRSS {peak[0]:.0f} MB; after: {rss(pid)}"
        )
    for wait in (5, 15):
        time.sleep(wait)
        print(f"memory: {wait} s later: {rss(pid)}")


def idle(addr, pid):
    socks = []
    for _ in range(1100):
        try:
            s = socket.create_connection(addr, timeout=5)
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            socks.append(s)
        except OSError as e:
            print(f"idle: connect failed after {len(socks)}: {e}")
            break
    answered = 0
    for s in socks:
        try:
            s.settimeout(5)
            if s.recv(4096):
                answered += 1
        except OSError:
            pass
    t0 = time.time()
    seen = probe_for(
        addr, 15, [("GET", "/v2/health/ready", b""), ("POST", "/invocations", ONE)]
    )
    print(f"idle: {len(socks)} connections, {answered} answered once, then idle")
    print(f"idle: meanwhile ({time.time() - t0:.0f} s): {seen}")
    for s in socks:
        s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--homeml", default="target/release/homeml")
    ap.add_argument("--only", default="stall,memory,idle")
    ap.add_argument("--serve-arg", action="append", default=[], help="extra `homeml serve` argument")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    tmp = tempfile.mkdtemp(prefix="homeml-attacks-")
    store = os.path.join(tmp, "mlruns")
    subprocess.run(
        [a.homeml, "quickstart", "--tracking-uri", store, "--no-serve"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for attack in a.only.split(","):
        log = open(os.path.join(tmp, f"serve-{attack}.log"), "w")
        p = subprocess.Popen(
            [a.homeml, "serve", "-m", "models:/iris-classifier@champion", "-p", "0",
             "--tracking-uri", store, *a.serve_arg],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        line = p.stdout.readline()
        hostport = line.split("http://", 1)[1].strip().rstrip("/")
        host, port = hostport.rsplit(":", 1)
        addr = (host, int(port))
        while request(addr, "GET", "/ping") != 200:
            time.sleep(0.05)
        try:
            {"stall": stall, "memory": memory, "idle": idle}[attack](addr, p.pid)
        finally:
            p.terminate()
            p.wait(timeout=60)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
