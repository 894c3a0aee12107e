#!/usr/bin/env bash
# bench/trees.md in one run, REPS times (3 by default): the libraries' own predict and ONNX Runtime on the
# models and their ONNX export (Python, make_models.py), then homeml's flavors on the same models and rows
# (criterion: the lightgbm / xgboost flavor and the ONNX flavor on tract). Prints the table (median of
# the repetitions). Needs the venv of tests/python/requirements.txt (bash scripts/setup-venv.sh).
#   bash bench/trees/run.sh [REPS] [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/../.."
reps=${1:-3}
py=${2:-.venv/bin/python}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
source bench/cpu_steal.sh
crit=${CARGO_TARGET_DIR:-target}/criterion
cargo bench -p homeml-lightgbm -p homeml-xgboost --bench predict --no-run
echo "start $(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$(cpu_ticks)
for rep in $(seq "$reps"); do
    OMP_NUM_THREADS=1 "$py" bench/trees/make_models.py "$out" "$rep" > /dev/null
    rm -rf "$crit"/lgb_* "$crit"/xgb_*
    for crate in homeml-lightgbm homeml-xgboost; do
        HOMEML_TREES_BENCH_DIR=$out cargo bench -q -p "$crate" --bench predict -- --noplot \
            --warm-up-time 1 --measurement-time 2 2>&1 | grep -E "^(lgb|xgb)_|time:" || true
    done
    "$py" bench/trees/report.py collect "$out" "$rep" "$crit"
    echo "rep $rep done $(date -u '+%T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo "end $(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg), steal $(steal_percent "$t0" "$(cpu_ticks)")%"
"$py" bench/trees/report.py table "$out"
