#!/usr/bin/env bash
# Side-by-side comparison on this machine, in one run: the same ONNX model served by
#   homeml serve, mlflow models serve (.venv), BentoML 1.4 with adaptive batching (.venv-bentoml),
#   and nginx answering a fixed JSON body (the HTTP ceiling),
# each driven in turn by homeml-loadtest with the same settings. Writes a Markdown table, the JSON
# reports and an SVG latency plot to bench/compare/results/, and prints the table.
#
# Usage: bash bench/compare/run.sh [--scenario iris|mlp] [--servers a,b,...] [--duration 10s]
#                                  [--warmup 3s] [--connections N] [--no-build]
#   iris (default): LogisticRegression, 4 features, 16 connections, servers homeml,mlflow,bentoml,nginx
#   mlp:  MLPClassifier 2x512 hidden, 32 features, 64 connections,
#         servers homeml-batch (batching on, server defaults) and homeml-nobatch (--max-batch-rows 1)
# Servers: homeml homeml-batch homeml-nobatch mlflow bentoml nginx. A server that cannot be built
# or started is reported as not measured and the run goes on.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/bench/compare"
SCENARIO=iris
DURATION=10s
WARMUP=3s
CONNECTIONS=""
SERVERS=""
BUILD=1
while [ $# -gt 0 ]; do
    case "$1" in
        --scenario) SCENARIO="$2"; shift 2 ;;
        --servers) SERVERS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --connections) CONNECTIONS="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$SCENARIO" in
    iris) FEATURES=4; CONNECTIONS="${CONNECTIONS:-16}"; SERVERS="${SERVERS:-homeml,mlflow,bentoml,nginx}" ;;
    mlp) FEATURES=32; CONNECTIONS="${CONNECTIONS:-64}"; SERVERS="${SERVERS:-homeml-batch,homeml-nobatch}" ;;
    *) echo "unknown scenario $SCENARIO (iris or mlp)" >&2; exit 2 ;;
esac

PY="${HOMEML_PYTHON:-$ROOT/.venv/bin/python}"
BENTO_VENV="$ROOT/.venv-bentoml"
OUT="$HERE/results"
WORK="$(mktemp -d /tmp/homeml-compare.XXXXXX)"
SERVER_PID=""
SKIPPED=()

log() { echo "== $*" >&2; }
# shellcheck source=bench/cpu_steal.sh
. "$ROOT/bench/cpu_steal.sh"

# Stops the server's whole process group (mlflow and bentoml start worker processes).
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    local pid="$SERVER_PID"
    SERVER_PID=""
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 -- "-$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts "$@" in its own process group (setsid), logging to $WORK/<name>.log.
start_server() {
    local name="$1"; shift
    setsid "$@" >"$WORK/$name.log" 2>&1 &
    SERVER_PID=$!
}

# Waits until GET $1 answers 2xx, or the server dies, or 120 s pass.
wait_ready() {
    local url="$1" name="$2"
    for _ in $(seq 600); do
        if curl -sf -o /dev/null -m 2 "$url"; then return 0; fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            log "$name exited before it was ready:"; tail -20 "$WORK/$name.log" >&2
            return 1
        fi
        sleep 0.2
    done
    log "$name not ready after 120 s:"; tail -20 "$WORK/$name.log" >&2
    return 1
}

# ---- tools -----------------------------------------------------------------------------------
need_apt=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        log "installing ${need_apt[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    else
        echo "missing Debian packages: ${need_apt[*]}" >&2; exit 1
    fi
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
if [ ! -x "$PY" ]; then
    log "setting up .venv"; bash "$ROOT/scripts/setup-venv.sh"
fi
if [[ ",$SERVERS," == *",bentoml,"* ]] && [ ! -x "$BENTO_VENV/bin/bentoml" ]; then
    log "creating $BENTO_VENV (bentoml)"
    python3 -m venv "$BENTO_VENV"
    "$BENTO_VENV/bin/pip" install -q -r "$HERE/requirements-bentoml.txt"
fi

cd "$ROOT"
if [ "$BUILD" = 1 ]; then
    log "cargo build --release -p homeml-loadtest"
    cargo build --release -q -p homeml-loadtest
fi
LOADTEST="$ROOT/target/release/homeml-loadtest"
HOMEML="$ROOT/target/release/homeml"
HOMEML_OK=1
if [[ ",$SERVERS," == *",homeml"* ]]; then
    if [ "$BUILD" = 1 ]; then
        log "cargo build --release -p homeml"
        cargo build --release -q -p homeml || HOMEML_OK=0
    fi
    [ -x "$HOMEML" ] || HOMEML_OK=0
fi

# ---- the model -------------------------------------------------------------------------------
log "training and logging the $SCENARIO model"
MODEL_DIR="$(MLFLOW_ALLOW_FILE_STORE=true "$PY" "$HERE/make_model.py" --kind "$SCENARIO" \
    --store "$WORK/mlruns" 2>"$WORK/make_model.log" | tail -1)"
if [ ! -f "$MODEL_DIR/MLmodel" ]; then
    cat "$WORK/make_model.log" >&2; echo "model export failed" >&2; exit 1
fi

# ---- conditions ------------------------------------------------------------------------------
mkdir -p "$OUT/$SCENARIO"
rm -f "$OUT/$SCENARIO"/*.json
COND="$WORK/conditions.txt"
{
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem:/ {print $2}') GiB"
    echo "- load: homeml-loadtest -c $CONNECTIONS -d $DURATION --warmup $WARMUP --rows 1 --features $FEATURES (closed loop, 1 runtime thread), servers one after another"
    echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg); rustc processes running at start: $(pgrep -c rustc || true)"
} >"$COND"

# ---- the runs --------------------------------------------------------------------------------
run_one() {
    local name="$1" port url ready
    port="$(free_port)"
    case "$name" in
        homeml|homeml-batch|homeml-nobatch)
            if [ "$HOMEML_OK" != 1 ]; then SKIPPED+=("$name: the homeml release binary did not build"); return; fi
            local extra=()
            [ "$name" = homeml-nobatch ] && extra=(--max-batch-rows 1)
            start_server "$name" "$HOMEML" serve -m "$MODEL_DIR" -p "$port" -h 127.0.0.1 "${extra[@]}"
            ready="http://127.0.0.1:$port/ping"; url="http://127.0.0.1:$port/invocations" ;;
        mlflow)
            start_server "$name" env MLFLOW_ALLOW_FILE_STORE=true PATH="$ROOT/.venv/bin:$PATH" \
                "$ROOT/.venv/bin/mlflow" models serve -m "$MODEL_DIR" -p "$port" -h 127.0.0.1 \
                --env-manager local -w 1
            ready="http://127.0.0.1:$port/ping"; url="http://127.0.0.1:$port/invocations" ;;
        bentoml)
            start_server "$name" env HOMEML_BENCH_ONNX="$MODEL_DIR/model.onnx" BENTOML_DO_NOT_TRACK=true \
                "$BENTO_VENV/bin/bentoml" serve service:OnnxModel --working-dir "$HERE/bentoml" \
                --host 127.0.0.1 --port "$port"
            ready="http://127.0.0.1:$port/readyz"; url="http://127.0.0.1:$port/predict" ;;
        nginx)
            mkdir -p "$WORK/nginx"
            sed -e "s#@PREFIX@#$WORK/nginx#g" -e "s#@PORT@#$port#g" "$HERE/nginx.conf.in" >"$WORK/nginx/nginx.conf"
            start_server "$name" "$NGINX" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx"
            ready="http://127.0.0.1:$port/"; url="http://127.0.0.1:$port/invocations" ;;
        *) echo "unknown server $name" >&2; exit 2 ;;
    esac
    log "$name: starting on port $port"
    if ! wait_ready "$ready" "$name"; then
        SKIPPED+=("$name: did not start (see its log)"); stop_server; return
    fi
    # One request first: a server that answers it with an error is reported, not measured.
    local check
    check="$(curl -s -m 10 -o "$WORK/$name.check" -w '%{http_code}' -H 'Content-Type: application/json' \
        -d "{\"inputs\": [[$(seq -s, 1 "$FEATURES" | sed 's/[0-9]\+/0.5/g')]]}" "$url" || true)"
    log "$name: first answer HTTP $check: $(head -c 200 "$WORK/$name.check" 2>/dev/null)"
    log "$name: load"
    local ticks0 steal
    ticks0="$(cpu_ticks)"
    "$LOADTEST" -c "$CONNECTIONS" -d "$DURATION" --warmup "$WARMUP" --rows 1 --features "$FEATURES" \
        --timeout 30s --label "$name" --json-out "$OUT/$SCENARIO/$name.json" -q "$url" >&2
    steal="$(steal_percent "$ticks0" "$(cpu_ticks)")"
    log "$name: CPU steal during the run ${steal}%"
    local rss
    rss="$(ps -o rss= -g "$SERVER_PID" 2>/dev/null | awk '{s += $1} END {printf "%.0f", s / 1024}')"
    echo "- $name: server RSS after the run ${rss} MB (all its processes); CPU time stolen by the hypervisor during the run ${steal}%" >>"$COND"
    stop_server
}

IFS=, read -r -a LIST <<<"$SERVERS"
for s in "${LIST[@]}"; do run_one "$s"; done

# ---- the results -----------------------------------------------------------------------------
shopt -s nullglob
REPORTS=()
for s in "${LIST[@]}"; do
    [ -f "$OUT/$SCENARIO/$s.json" ] && REPORTS+=("$OUT/$SCENARIO/$s.json")
done
TABLE="$OUT/$SCENARIO.md"
{
    echo "### $SCENARIO: $(case $SCENARIO in iris) echo 'iris LogisticRegression ONNX, 1-row {"inputs": ...} requests' ;; mlp) echo 'MLPClassifier 2x512 hidden (32 features) ONNX, 1-row requests' ;; esac)"
    echo
    if [ ${#REPORTS[@]} -gt 0 ]; then "$LOADTEST" table "${REPORTS[@]}"; fi
    echo
    cat "$COND"
    for s in "${SKIPPED[@]}"; do echo "- not measured: $s"; done
    echo
    echo "Command: \`bash bench/compare/run.sh --scenario $SCENARIO --servers $SERVERS --duration $DURATION --warmup $WARMUP --connections $CONNECTIONS\`"
} >"$TABLE"
if [ ${#REPORTS[@]} -gt 0 ]; then
    "$LOADTEST" plot --title "$SCENARIO: latency by percentile, $CONNECTIONS connections" \
        --out "$OUT/$SCENARIO.svg" "${REPORTS[@]}"
fi
cat "$TABLE"
log "wrote $TABLE and $OUT/$SCENARIO.svg"
