#!/usr/bin/env bash
# The test command of the README: installs what the tests need, then runs every test of the workspace,
# the onnx flavor's second engine (cargo feature `ort`, loaded at run time) included, in one build.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian tools the tests drive: promtool (prometheus) checks /metrics, chromium renders the UI,
# postgresql is the SQL store's server (the tests start their own cluster with initdb and pg_ctl).
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${need[*]} (sudo apt-get install ${need[*]})" >&2
    exit 1
fi

# The Debian packages and the Python venv install in the background while cargo builds the tests: they
# share no files with the build, and the tests wait for them. A failed install fails the run.
deps_log=$(mktemp)
(
    if [ ${#need[@]} -gt 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
    bash scripts/setup-venv.sh
) >"$deps_log" 2>&1 &
deps_pid=$!

# One build of every test target with the `ort` feature on (it links nothing at build time).
build_rc=0
cargo test --workspace --all-targets --features ort --no-run || build_rc=$?
deps_rc=0
wait "$deps_pid" || deps_rc=$?
if [ "$deps_rc" != 0 ]; then
    cat "$deps_log" >&2
    echo "installing the test dependencies (Debian packages, .venv) failed" >&2
    exit "$deps_rc"
fi
rm -f "$deps_log"
[ "$build_rc" = 0 ] || exit "$build_rc"

export HOMEML_PYTHON="$PWD/.venv/bin/python"
export PATH="$PWD/.venv/bin:$PATH"
export MLFLOW_ALLOW_FILE_STORE=true
# ONNX Runtime for the `ort` engine's tests: the pinned onnxruntime wheel's library.
ORT_DYLIB_PATH=$("$HOMEML_PYTHON" -c 'import glob, os, sys, onnxruntime
libs = sorted(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), "capi", "libonnxruntime.so.*")))
if not libs:
    sys.exit("no libonnxruntime.so.* in the onnxruntime wheel")
print(libs[-1])')
export ORT_DYLIB_PATH

cargo test --workspace --all-targets --features ort "$@"
