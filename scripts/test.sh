#!/usr/bin/env bash
# The test command of the README: installs what the tests need, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian tools the tests drive: promtool (prometheus) checks /metrics, chromium renders the UI.
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    else
        echo "missing Debian packages: ${need[*]} (sudo apt-get install ${need[*]})" >&2
        exit 1
    fi
fi

bash scripts/setup-venv.sh
export HOMEML_PYTHON="$PWD/.venv/bin/python"
export PATH="$PWD/.venv/bin:$PATH"
export MLFLOW_ALLOW_FILE_STORE=true

cargo test --workspace --all-targets "$@"

# The onnx flavor's second engine (cargo feature `ort`), with ONNX Runtime from the venv's pinned
# onnxruntime wheel: the flavor's tests (both engines against onnxruntime's answers, start-up refusals),
# the engines bench must still compile, and the `homeml` binary built with the feature serves models on
# both engines over HTTP (tests/serve_ort.rs).
ORT_DYLIB_PATH=$("$HOMEML_PYTHON" -c 'import glob, os, sys, onnxruntime
libs = sorted(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), "capi", "libonnxruntime.so.*")))
if not libs:
    sys.exit("no libonnxruntime.so.* in the onnxruntime wheel")
print(libs[-1])')
export ORT_DYLIB_PATH
cargo test -p homeml-onnx --features ort --lib --tests
cargo test -p homeml-onnx --features ort --benches --no-run
cargo test -p homeml --features ort --test serve_ort
