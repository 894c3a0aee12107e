#!/usr/bin/env bash
# Fuzzes homeml's decoders with cargo-fuzz (libFuzzer, nightly), each target for a bounded time.
#
#   bash scripts/fuzz.sh [seconds per target, default 60] [target ...]
#
# Targets (fuzz/fuzz_targets/): request_json, request_csv, v2_binary, mlmodel_yaml, onnx_graph,
# plugin_elf. Each starts from its seed corpus in fuzz/seeds/<target> (written by fuzz/make_seeds.py
# from the shapes of the test fixtures; the ONNX seeds need the venv) and grows fuzz/corpus/<target>
# (neither is committed). A crash leaves its input in fuzz/artifacts/<target>/ and
# fails the script; add it as a regression test beside the decoder, then fix. Results: bench/fuzz.md.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(request_json request_csv v2_binary mlmodel_yaml onnx_graph plugin_elf)
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz (and rustup toolchain install nightly)" >&2
    exit 1
fi
[ -d seeds ] || python3 make_seeds.py
cargo +nightly fuzz build
status=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    seeds=()
    [ -d "seeds/$t" ] && seeds=("seeds/$t")
    echo "== $t: ${secs} s"
    # -max_len: the decoders' inputs of interest are small; -rss_limit_mb: a decoder that allocates
    # without bound is a finding too. One job, one worker: the machine is shared.
    if ! cargo +nightly fuzz run "$t" "corpus/$t" "${seeds[@]}" -- \
        -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
        2>"corpus/$t.log"; then
        status=1
        echo "!! $t found a crash: see fuzz/artifacts/$t/ and fuzz/corpus/$t.log" >&2
    fi
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE" "corpus/$t.log" || true
done
exit $status
