#!/usr/bin/env bash
# bench/trees.md in one run: the models and the libraries' own predict timings (Python), then homeml's
# flavors on the same models and rows (criterion). Needs a venv with tests/python/requirements.txt.
#   bash bench/trees/run.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/../.."
py=${1:-.venv/bin/python}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
OMP_NUM_THREADS=1 "$py" bench/trees/make_models.py "$out"
HOMEML_TREES_BENCH_DIR=$out cargo bench -p homeml-lightgbm --bench predict -- --noplot
HOMEML_TREES_BENCH_DIR=$out cargo bench -p homeml-xgboost --bench predict -- --noplot
