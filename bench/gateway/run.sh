#!/usr/bin/env bash
# The gateway's cost over calling `homeml serve` directly, in one run on this machine.
#
# Trains the quickstart models into a temporary store (`homeml quickstart --no-serve`), serves
# `iris-classifier` (smartcore logistic regression) with `homeml serve`, puts `homeml gateway` in front
# of it (one iris app, KServe V2 upstream, no API keys) and drives, one after the other, with
# homeml-loadtest (closed loop, 1 runtime thread, 1-row requests):
#   direct   POST /v2/models/iris-classifier/infer with the body the gateway sends upstream
#   gateway  POST /apps/iris/predict with named features
# at 16 connections (throughput: gateway + server vs server alone) and at 1 connection (latency
# added at p50). Each pair runs --rounds times, alternating, so that noise hits both sides alike.
# Prints a Markdown table and writes the JSON reports to bench/gateway/results/.
#
# Usage: bash bench/gateway/run.sh [--duration 10s] [--warmup 2s] [--rounds 2] [--no-build]
#                                  [--gateway-log info|warn]   (RUST_LOG of the gateway; default info)
#                                  [--gateway-threads N]  (homeml gateway --threads; default: cores)
# Env: HOMEML_BIN, LOADTEST_BIN to run other binaries than target/release/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/bench/gateway"
DURATION=10s
WARMUP=2s
ROUNDS=2
BUILD=1
GW_LOG=info
GW_THREADS=""
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --gateway-log) GW_LOG="$2"; shift 2 ;;
        --gateway-threads) GW_THREADS="$2"; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

OUT="$HERE/results"
WORK="$(mktemp -d /tmp/homeml-gateway-bench.XXXXXX)"
PIDS=()
log() { echo "== $*" >&2; }
# shellcheck source=bench/cpu_steal.sh
. "$ROOT/bench/cpu_steal.sh"

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cd "$ROOT"
if [ "$BUILD" = 1 ]; then
    log "cargo build --release -p homeml -p homeml-loadtest --bins"
    cargo build --release -q -p homeml -p homeml-loadtest --bins
fi
# HOMEML_BIN / LOADTEST_BIN: measure other binaries (e.g. copies, while others rebuild target/).
HOMEML="${HOMEML_BIN:-$ROOT/target/release/homeml}"
LOADTEST="${LOADTEST_BIN:-$ROOT/target/release/homeml-loadtest}"

# Starts "$@" in the background, logging to $WORK/$1.log, and waits for the "http://ADDR" line it
# prints on stdout; sets ADDR.
start() {
    local name="$1"; shift
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
    PIDS+=($!)
    local pid=$!
    for _ in $(seq 300); do
        ADDR="$(sed -n 's#.*http://\([0-9.:]*\).*#\1#p' "$WORK/$name.out" | head -1)"
        [ -n "$ADDR" ] && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$name exited:"; cat "$WORK/$name.log" >&2; exit 1
        fi
        sleep 0.1
    done
    log "$name did not start:"; cat "$WORK/$name.log" >&2; exit 1
}

log "training the quickstart models into $WORK/mlruns"
"$HOMEML" quickstart --no-serve --n-trees 8 --tracking-uri "$WORK/mlruns" >"$WORK/quickstart.log" 2>&1

start serve "$HOMEML" serve -m models:/iris-classifier/1 --tracking-uri "$WORK/mlruns" -h 127.0.0.1 -p 0
SERVER="$ADDR"
SERVE_PID="${PIDS[-1]}"

cat >"$WORK/gateway.toml" <<TOML
[[apps]]
name = "iris"
$(for f in sepal_length sepal_width petal_length petal_width; do
    printf '[[apps.features]]\nname = "%s"\ntype = "float"\nmin = 0.0\nmax = 30.0\n' "$f"
done)
[apps.input]
name = "input"
datatype = "FP64"
[apps.output]
labels = ["setosa", "versicolor", "virginica"]
label_output = "label"
probabilities_output = "probabilities"
[[apps.upstreams]]
name = "iris-classifier"
url = "http://$SERVER"
protocol = "v2"
model = "iris-classifier"
timeout_ms = 10000
TOML
RUST_LOG="$GW_LOG" start gateway "$HOMEML" gateway --config "$WORK/gateway.toml" -h 127.0.0.1 -p 0 --threads "${GW_THREADS:-$(nproc)}"
GATEWAY="$ADDR"
GATEWAY_PID="${PIDS[-1]}"

# The same row both ways; the direct body is what the gateway sends upstream for it.
printf '%s' '{"id":"bench","inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[5.1,3.5,1.4,0.2]}],"outputs":[{"name":"label"}]}' >"$WORK/direct.json"
printf '%s' '{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}' >"$WORK/gateway.json"
DIRECT_URL="http://$SERVER/v2/models/iris-classifier/infer"
GATEWAY_URL="http://$GATEWAY/apps/iris/predict"
for pair in "direct $DIRECT_URL" "gateway $GATEWAY_URL"; do
    set -- $pair
    log "$1: $(curl -s -m 10 -H 'content-type: application/json' --data-binary @"$WORK/$1.json" "$2")"
done

mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.cpu
LOADAVG_START="$(cut -d' ' -f1-3 /proc/loadavg)"
# CPU time (user + system, clock ticks) a process has used so far.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
load() {
    local name="$1" conns="$2" url="$3" body="$4" s0 g0 c0
    log "$name: -c $conns -d $DURATION (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    s0="$(ticks "$SERVE_PID")"; g0="$(ticks "$GATEWAY_PID")"; c0="$(cpu_ticks)"
    "$LOADTEST" -c "$conns" -d "$DURATION" --warmup "$WARMUP" -t 1 --rows 1 --timeout 30s \
        --body-file "$body" \
        --label "$name" --json-out "$OUT/$name.json" -q "$url" >&2
    # CPU seconds of the server and of the gateway during the run (warm-up included), and the share
    # of the machine's CPU time the hypervisor stole meanwhile.
    echo "$(( $(ticks "$SERVE_PID") - s0 )) $(( $(ticks "$GATEWAY_PID") - g0 )) $(getconf CLK_TCK) $(steal_percent "$c0" "$(cpu_ticks)")" >"$OUT/$name.cpu"
}
for r in $(seq "$ROUNDS"); do
    load "direct-c16-r$r" 16 "$DIRECT_URL" "$WORK/direct.json"
    load "gateway-c16-r$r" 16 "$GATEWAY_URL" "$WORK/gateway.json"
    load "direct-c1-r$r" 1 "$DIRECT_URL" "$WORK/direct.json"
    load "gateway-c1-r$r" 1 "$GATEWAY_URL" "$WORK/gateway.json"
done
LOADAVG_END="$(cut -d' ' -f1-3 /proc/loadavg)"

# Errors would make the figures meaningless: every run must have answered 200 only.
python3 - "$OUT" "$ROUNDS" <<'PY'
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def rep(name):
    with open(f"{out}/{name}.json") as f:
        return json.load(f)
bad = []
print("| round | direct req/s (c16) | gateway req/s (c16) | gateway / direct | direct p50 (c1) | gateway p50 (c1) | added p50 | direct p99 (c1) | gateway p99 (c1) |")
print("|---|---|---|---|---|---|---|---|---|")
for r in range(1, rounds + 1):
    d16, g16, d1, g1 = (rep(f"{k}-r{r}") for k in ("direct-c16", "gateway-c16", "direct-c1", "gateway-c1"))
    for x in (d16, g16, d1, g1):
        if x["ok"] != x["requests"]:
            bad.append(f'{x["label"]}: {x["requests"] - x["ok"]} of {x["requests"]} failed {x["status"]} {x["errors"]}')
    us = lambda x, p: x["latency_ms"][p] * 1000
    print(f'| {r} | {d16["req_per_s"]:,.0f} | {g16["req_per_s"]:,.0f} | {g16["req_per_s"] / d16["req_per_s"]:.0%} '
          f'| {us(d1, "p50"):.0f} µs | {us(g1, "p50"):.0f} µs | **{us(g1, "p50") - us(d1, "p50"):.0f} µs** '
          f'| {us(d1, "p99"):.0f} µs | {us(g1, "p99"):.0f} µs |')
print()
print("CPU per request at 16 connections (from /proc/<pid>/stat over the run incl. warm-up, divided by the measured requests x (warm-up + duration) / duration):")
print()
print("| round | server alone: server CPU/req | via gateway: server CPU/req | via gateway: gateway CPU/req | CPU steal (alone / via gateway) |")
print("|---|---|---|---|---|")
for r in range(1, rounds + 1):
    row = []
    for k in ("direct-c16", "gateway-c16"):
        x = rep(f"{k}-r{r}")
        s_t, g_t, hz, steal = open(f"{out}/{k}-r{r}.cpu").read().split()
        s_t, g_t, hz = int(s_t), int(g_t), int(hz)
        n = x["requests"] * (x["warmup_s"] + x["duration_s"]) / x["duration_s"]
        row.append((s_t / hz / n * 1e6, g_t / hz / n * 1e6, steal))
    print(f"| {r} | {row[0][0]:.1f} µs | {row[1][0]:.1f} µs | {row[1][1]:.1f} µs | {row[0][2]}% / {row[1][2]}% |")
for b in bad:
    print(f"- FAILED REQUESTS: {b}")
sys.exit(1 if bad else 0)
PY
echo
echo "- $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores; load average at start $LOADAVG_START, at end $LOADAVG_END"
echo "- homeml-loadtest -t 1 -d $DURATION --warmup $WARMUP, closed loop, 1-row requests; gateway RUST_LOG=$GW_LOG, ${GW_THREADS:-$(nproc)} runtime threads"
echo "- command: bash bench/gateway/run.sh --duration $DURATION --warmup $WARMUP --rounds $ROUNDS --gateway-log $GW_LOG${GW_THREADS:+ --gateway-threads $GW_THREADS}"
