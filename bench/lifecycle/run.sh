#!/usr/bin/env bash
# Lifecycle and resource figures of `homeml serve` (issue 4's last three targets), on this machine:
#   a. reloads under load: `homeml serve -m models:/iris-classifier@champion --reload-interval-s 1` while
#      homeml-loadtest sends 1-row iris requests on 16 connections; a loop moves the alias between
#      versions 1 and 2 MOVES times (each move waits until GET /v2/models/iris-classifier reports the
#      new version). Prints requests, failed requests, and the reloads the server counted (/metrics
#      homeml_model_loads_total) and logged ("new version swapped in").
#   b. overload: closed-loop capacity C (16 connections, 10 s), then open loop at 10 x C for 20 s on
#      OVERLOAD_CONNS connections, with the server's defaults and again with --queue-capacity 64 (so
#      that the queue overflows and backpressure answers); prints status counts and the server's RSS
#      (VmRSS sampled every 200 ms during the run, VmRSS and VmHWM 2 s after).
#   c. start to ready: spawn -> GET /v2/health/ready 200, polled every 1 ms (startup.py), median of
#      STARTS starts, with the same model by registry URI and by directory; idle RSS 1 s after ready.
# The model: the smartcore iris logistic regression `homeml quickstart` trains and registers (run twice
# for versions 1 and 2). Uses the release binaries (built first unless --no-build).
#
# Usage: bash bench/lifecycle/run.sh [--no-build] [--only a,b,c] [--moves 100] [--starts 20]
#                                    [--overload-s 20] [--overload-conns 1000]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/bench/lifecycle"
BUILD=1
ONLY="a,b,c"
MOVES=100
STARTS=20
OVERLOAD_S=20
OVERLOAD_CONNS=1000
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0; shift ;;
        --only) ONLY="$2"; shift 2 ;;
        --moves) MOVES="$2"; shift 2 ;;
        --starts) STARTS="$2"; shift 2 ;;
        --overload-s) OVERLOAD_S="$2"; shift 2 ;;
        --overload-conns) OVERLOAD_CONNS="$2"; shift 2 ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

PY=python3
HOMEML="$ROOT/target/release/homeml"
LOADTEST="$ROOT/target/release/homeml-loadtest"
WORK="$(mktemp -d /tmp/homeml-lifecycle.XXXXXX)"
STORE="$WORK/mlruns"
MODEL=iris-classifier
SERVER_PID=""
BG_PIDS=()

log() { echo "== $*" >&2; }
say() { echo "$*"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
cleanup() {
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts `homeml serve ARGS` on a free port; sets SERVER_PID and BASE, waits until ready.
start_server() {
    local name="$1"; shift
    local port; port="$(free_port)"
    "$HOMEML" serve -h 127.0.0.1 -p "$port" "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
    SERVER_PID=$!
    BASE="http://127.0.0.1:$port"
    for _ in $(seq 300); do
        if curl -fs "$BASE/v2/health/ready" >/dev/null 2>&1; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    cat "$WORK/$name.log" >&2
    echo "$name did not become ready" >&2
    exit 1
}

kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status" 2>/dev/null || true; }
mb() { awk -v v="$1" 'BEGIN { if (v == "") print "?"; else printf "%.1f", v / 1024 }'; }
json_field() { "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"r": r}))' "$1" "$2"; }
metric() { curl -fs "$BASE/metrics" | awk -v k="$1" 'index($0, k" ") == 1 {print $2}'; }

cd "$ROOT"
if [ "$BUILD" = 1 ]; then
    log "cargo build --release -p homeml -p homeml-loadtest --bin homeml --bin homeml-loadtest"
    cargo build --release -q -p homeml -p homeml-loadtest --bin homeml --bin homeml-loadtest
fi
[ -x "$HOMEML" ] && [ -x "$LOADTEST" ] || { echo "release binaries missing: build them" >&2; exit 1; }

log "training iris-classifier versions 1 and 2 into $STORE (homeml quickstart --no-serve, twice)"
for _ in 1 2; do
    (cd "$WORK" && "$HOMEML" quickstart --no-serve --n-trees 8 --tracking-uri "$STORE" >>"$WORK/quickstart.log" 2>&1)
done
"$HOMEML" models alias set "$MODEL" champion 1 --tracking-uri "$STORE" >/dev/null
URI="models:/$MODEL@champion"
MODEL_ID="$(awk '$1 == "model_id:" {print $2}' "$STORE/models/$MODEL/version-1/meta.yaml")"
MODEL_DIR="$(ls -d "$STORE"/*/models/"$MODEL_ID"/artifacts 2>/dev/null | head -1)"
[ -f "$MODEL_DIR/MLmodel" ] || { echo "cannot find version 1's model directory ($MODEL_DIR)" >&2; exit 1; }

say "# homeml lifecycle bench"
say "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
say "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem:/ {print $2}') GiB"
say "- model: $MODEL (smartcore logistic regression, 4 features) from homeml quickstart; requests: 1-row MLflow {\"inputs\": [[4 floats]]}"
say "- load average at start: $(loadavg); rustc processes: $(pgrep -c rustc || true)"

# ---- a. reloads under load -------------------------------------------------------------------
if [[ ",$ONLY," == *",a,"* ]]; then
    say ""
    say "## a. $MOVES alias moves under load (16 connections, --reload-interval-s 1)"
    start_server reload -m "$URI" --tracking-uri "$STORE" --reload-interval-s 1
    # Long enough for the moves (each waits for the next 1 s poll); the loop checks it is still running.
    A_DURATION=$(( MOVES * 13 / 10 + 20 ))
    "$LOADTEST" -c 16 -d "${A_DURATION}s" --warmup 0s --rows 1 --features 4 -q \
        --json-out "$WORK/a.json" "$BASE/invocations" >"$WORK/a.txt" 2>&1 &
    LT=$!
    BG_PIDS+=("$LT")
    sleep 2
    t0=$(date +%s.%N)
    moved=0; unseen=0; after_load=0
    for i in $(seq "$MOVES"); do
        to=$(( i % 2 == 1 ? 2 : 1 ))
        "$HOMEML" models alias set "$MODEL" champion "$to" --tracking-uri "$STORE" >/dev/null
        kill -0 "$LT" 2>/dev/null || after_load=$((after_load + 1))
        seen=0
        for _ in $(seq 500); do   # up to 10 s
            if curl -fs "$BASE/v2/models/$MODEL" | grep -q "\"versions\":\[\"$to\"\]"; then seen=1; break; fi
            sleep 0.02
        done
        moved=$((moved + 1))
        [ "$seen" = 1 ] || unseen=$((unseen + 1))
    done
    t1=$(date +%s.%N)
    la_a="$(loadavg)"
    loads_ok="$(metric "homeml_model_loads_total{model=\"$MODEL\",result=\"ok\"}")"
    loads_err="$(metric "homeml_model_loads_total{model=\"$MODEL\",result=\"error\"}")"
    logged="$(grep -c 'new version swapped in' "$WORK/reload.log" || true)"
    log "moves done in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s; waiting for the load run (${A_DURATION}s) to end"
    wait "$LT" || true
    stop_server
    say "- command: homeml serve -m $URI --reload-interval-s 1; homeml-loadtest -c 16 -d ${A_DURATION}s --warmup 0s --rows 1 --features 4 \$URL/invocations; $MOVES x homeml models alias set $MODEL champion 1|2"
    say "- moves: $moved in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s; moves the server did not show within 10 s: $unseen; moves made after the load had ended: $after_load"
    say "- reloads: /metrics homeml_model_loads_total ok=$loads_ok (the first load + reloads), error=$loads_err; log lines 'new version swapped in': $logged"
    say "- requests: $(json_field "$WORK/a.json" 'r["requests"]'), 2xx $(json_field "$WORK/a.json" 'r["ok"]'), status $(json_field "$WORK/a.json" 'r["status"]'), transport errors $(json_field "$WORK/a.json" 'r["errors"]')"
    say "- FAILED requests: $(json_field "$WORK/a.json" 'r["requests"] - r["ok"] + sum(r["errors"].values())')"
    say "- req/s $(json_field "$WORK/a.json" 'round(r["req_per_s"])'), p50 $(json_field "$WORK/a.json" 'r["latency_ms"]["p50"]') ms, p99 $(json_field "$WORK/a.json" 'r["latency_ms"]["p99"]') ms, max $(json_field "$WORK/a.json" 'r["latency_ms"]["max"]') ms"
    say "- load average at the end of the moves: $la_a"
fi

# ---- b. overload -----------------------------------------------------------------------------
overload_run() {
    local label="$1"; shift
    local extra="$*"
    start_server "overload-$label" -m "$URI" --tracking-uri "$STORE" "$@"
    local pid="$SERVER_PID" max_rss=0 v
    (   # RSS sampler: the largest VmRSS seen, every 200 ms, written on each change
        while kill -0 "$pid" 2>/dev/null; do
            v="$(kb "$pid" VmRSS)"
            if [ -n "$v" ] && [ "$v" -gt "$max_rss" ]; then max_rss="$v"; echo "$max_rss" >"$WORK/maxrss-$label"; fi
            sleep 0.2
        done
    ) &
    local sampler=$!
    BG_PIDS+=("$sampler")
    "$LOADTEST" -c "$OVERLOAD_CONNS" -R "$RATE" -d "${OVERLOAD_S}s" --warmup 0s --rows 1 --features 4 -q \
        --json-out "$WORK/b-$label.json" "$BASE/invocations" >"$WORK/b-$label.txt" 2>&1 || true
    local la; la="$(loadavg)"
    sleep 2
    local rss_after hwm_after
    rss_after="$(kb "$pid" VmRSS)"; hwm_after="$(kb "$pid" VmHWM)"
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    local f="$WORK/b-$label.json"
    say "- $label (extra serve flags: ${extra:-none}): offered $RATE req/s on $OVERLOAD_CONNS connections for ${OVERLOAD_S}s"
    say "  - answered $(json_field "$f" 'r["requests"]') ($(json_field "$f" 'round(r["req_per_s"])') req/s), status $(json_field "$f" 'r["status"]'), transport errors $(json_field "$f" 'r["errors"]'), never sent (open loop) $(json_field "$f" 'r["missed"]')"
    say "  - answers other than 2xx/429/503: $(json_field "$f" 'sum(v for k, v in r["status"].items() if not (k.startswith("2") or k in ("429", "503")))')"
    say "  - latency from intended send: p50 $(json_field "$f" 'r["latency_ms"]["p50"]') ms, p99 $(json_field "$f" 'r["latency_ms"]["p99"]') ms, max $(json_field "$f" 'r["latency_ms"]["max"]') ms"
    say "  - server RSS: max VmRSS sampled during the run $(mb "$(cat "$WORK/maxrss-$label" 2>/dev/null)") MB; 2 s after: VmRSS $(mb "$rss_after") MB, VmHWM $(mb "$hwm_after") MB"
    say "  - load average at the end of the run: $la"
    stop_server
}

if [[ ",$ONLY," == *",b,"* ]]; then
    say ""
    say "## b. overload at 10x capacity"
    start_server capacity -m "$URI" --tracking-uri "$STORE"
    "$LOADTEST" -c 16 -d 10s --warmup 2s --rows 1 --features 4 -q \
        --json-out "$WORK/capacity.json" "$BASE/invocations" >"$WORK/capacity.txt" 2>&1
    stop_server
    CAP="$(json_field "$WORK/capacity.json" 'round(r["req_per_s"])')"
    RATE=$(( CAP * 10 ))
    say "- capacity (closed loop, 16 connections, 10 s): $CAP req/s, p99 $(json_field "$WORK/capacity.json" 'r["latency_ms"]["p99"]') ms, status $(json_field "$WORK/capacity.json" 'r["status"]'); load average $(loadavg)"
    say "- overload command: homeml-loadtest -c $OVERLOAD_CONNS -R $RATE -d ${OVERLOAD_S}s --warmup 0s --rows 1 --features 4 \$URL/invocations"
    overload_run defaults
    overload_run queue64 --queue-capacity 64
fi

# ---- c. start to ready, idle RSS -------------------------------------------------------------
if [[ ",$ONLY," == *",c,"* ]]; then
    say ""
    say "## c. process start to ready ($STARTS starts each, /v2/health/ready polled every 1 ms), idle RSS 1 s after"
    for what in registry directory; do
        if [ "$what" = registry ]; then m=("$URI" --tracking-uri "$STORE"); else m=("$MODEL_DIR"); fi
        out="$("$PY" "$HERE/startup.py" --starts "$STARTS" --idle-s 1 -- \
            "$HOMEML" serve -h 127.0.0.1 -p '{port}' -m "${m[@]}" 2>"$WORK/startup-$what.log" | tail -1)"
        say "- -m ${m[0]} ($what): $out; load average $(loadavg)"
    done
fi
