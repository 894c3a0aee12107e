"""Collects and tabulates bench/trees (called by run.sh).

    report.py collect OUT REP CRITERION_DIR   criterion's medians of this repetition -> OUT/rust-REP.json
    report.py table OUT                        the markdown table of bench/trees.md, medians over repetitions
"""
import glob
import json
import os
import statistics
import sys

MODELS = ["lgb_classifier", "lgb_booster", "xgb_classifier", "xgb_booster"]


def collect(out, rep, crit):
    res = {}
    for bj in glob.glob(os.path.join(crit, "**", "new", "benchmark.json"), recursive=True):
        with open(bj) as f:
            full_id = json.load(f)["full_id"]
        name, rows = full_id.rsplit("/", 1)
        if not any(name.startswith(m) for m in MODELS) or rows not in ("1", "256"):
            continue
        with open(os.path.join(os.path.dirname(bj), "estimates.json")) as f:
            res.setdefault(name, {})[rows] = json.load(f)["median"]["point_estimate"] / 1000.0
    with open(os.path.join(out, f"rust-{rep}.json"), "w") as f:
        json.dump(res, f, indent=1)


def table(out):
    py = [json.load(open(p))["us_per_call"] for p in sorted(glob.glob(os.path.join(out, "python-*.json")))]
    rs = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, "rust-*.json")))]

    def med(src, name, rows):
        vals = [r[name][rows] for r in src if name in r and rows in r[name]]
        return (statistics.median(vals), vals) if vals else (None, [])

    def fmt(m):
        v, vals = m
        return "-" if v is None else f"{v:,.2f} ({' / '.join(f'{x:,.1f}' for x in vals)})"

    print(f"repetitions: python {len(py)}, rust {len(rs)}; us per call, median (each repetition)\n")
    print("| model | rows | library predict (Python) | homeml flavor | ONNX on tract (homeml onnx flavor) "
          "| ONNX Runtime (Python) | homeml / library | goal |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name in MODELS:
        for rows in ("1", "256"):
            lib, ours = med(py, name, rows), med(rs, name, rows)
            tract, onnx_rt = med(rs, name + "_onnx", rows), med(py, name + "_onnx", rows)
            ratio = ours[0] / lib[0] if lib[0] and ours[0] else None
            limit, strict = (1.0, True) if rows == "1" else (1.5, False)
            ok = ratio is not None and (ratio < limit if strict else ratio <= limit)
            goal = "-" if ratio is None else f"{'met' if ok else 'not met'} ({'<' if strict else '<='} {limit}x)"
            print(f"| {name} | {rows} | {fmt(lib)} | {fmt(ours)} | {fmt(tract)} | {fmt(onnx_rt)} | "
                  f"{'-' if ratio is None else f'{ratio:.3f}x'} | {goal} |")


if __name__ == "__main__":
    if sys.argv[1] == "collect":
        collect(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        table(sys.argv[2])
