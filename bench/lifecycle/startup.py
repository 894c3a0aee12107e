"""Process start to ready for `homeml serve`, and its idle RSS.

Spawns the server N times; each time measures from just before spawn until GET /v2/health/ready answers
200 (polled every 1 ms over loopback: a refused connect or a non-200 answer sleeps 1 ms and retries),
then waits --idle-s seconds and reads VmRSS and VmHWM from /proc/PID/status, then stops the server
(SIGTERM). Prints one line per start and a summary (median, min, max) as the last line, JSON.

Usage: python3 startup.py --starts 20 --idle-s 1 -- /path/to/homeml serve -m MODEL -h 127.0.0.1 -p {port}
  {port} in the command is replaced by a free port for each start. Only the standard library is used.
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ready_status(port):
    """The status of GET /v2/health/ready, or None when nothing answers yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /v2/health/ready HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            head = b""
            while b"\r\n" not in head:
                chunk = s.recv(256)
                if not chunk:
                    break
                head += chunk
    except OSError:
        return None
    parts = head.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    return int(parts[1])


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])  # kB for Vm*, a count for Threads
    return out


def one_start(cmd, idle_s, timeout_s):
    port = free_port()
    argv = [a.replace("{port}", str(port)) for a in cmd]
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:
            status = ready_status(port)
            if status == 200:
                ready_ms = (time.monotonic() - t0) * 1e3
                break
            if proc.poll() is not None:
                raise RuntimeError(f"server exited ({proc.returncode}): {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() - t0 > timeout_s:
                raise RuntimeError(f"not ready after {timeout_s} s")
            time.sleep(0.001)
        at_ready = proc_status(proc.pid)
        time.sleep(idle_s)
        idle = proc_status(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {
        "ready_ms": round(ready_ms, 2),
        "rss_at_ready_kb": at_ready.get("VmRSS"),
        "idle_rss_kb": idle.get("VmRSS"),
        "idle_hwm_kb": idle.get("VmHWM"),
        "threads": idle.get("Threads"),
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--starts", type=int, default=20)
    p.add_argument("--idle-s", type=float, default=1.0)
    p.add_argument("--timeout-s", type=float, default=30.0)
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        p.error("give the server command after --")
    runs = []
    for i in range(a.starts):
        r = one_start(cmd, a.idle_s, a.timeout_s)
        runs.append(r)
        print(f"start {i + 1}: ready {r['ready_ms']} ms, idle RSS {r['idle_rss_kb']} kB, "
              f"HWM {r['idle_hwm_kb']} kB, {r['threads']} threads", file=sys.stderr)
    ready = [r["ready_ms"] for r in runs]
    idle = [r["idle_rss_kb"] for r in runs]
    summary = {
        "starts": len(runs),
        "ready_ms_median": round(statistics.median(ready), 2),
        "ready_ms_min": min(ready),
        "ready_ms_max": max(ready),
        "idle_rss_kb_median": statistics.median(idle),
        "idle_rss_kb_max": max(idle),
        "idle_hwm_kb_max": max(r["idle_hwm_kb"] for r in runs),
        "threads": runs[-1]["threads"],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
