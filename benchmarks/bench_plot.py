"""Benchmark: `trackio-tool plot` of the 1M-row Trackio-0.43 DB to WebP.

Compares, in one run, against the naive baseline (the seed's algorithm: sqlite3 +
json.loads per row, pandas filtering per run and metric, matplotlib with one subplot
per metric), printing wall times, the speed-up and peak RSS.

    python benchmarks/bench_plot.py [--dir /tmp/trackio-bench] [--runs 20 --steps 50000 --metrics 20]

Both sides run in a fresh process. Peak RSS is ``ru_maxrss`` from ``wait4``: the
largest single process of the tree (for trackio-tool that is Python or one of
Chromium's processes, whichever is larger).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import bench_parser, measure_call, measure_cmd, print_table, trackio_tool_exe
from generate import generate_db

TARGET = 5.0


def main(argv: list[str] | None = None) -> int:
    ap = bench_parser(__doc__)
    args = ap.parse_args(argv)

    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    db = generate_db(out / "bench.db", runs=args.runs, steps=args.steps, metrics=args.metrics)
    tool = trackio_tool_exe()
    ours_out = out / "plot.webp"

    runs = [
        measure_cmd(
            [tool, "plot", str(db), "-o", str(ours_out), "-q"], label="trackio-tool plot -> webp"
        )
        for _ in range(args.repeat)
    ]
    for r in runs:
        if r["returncode"] != 0:
            print(f"trackio-tool plot failed (rc={r['returncode']})", file=sys.stderr)
            return 1
    ours = min(runs, key=lambda r: r["wall_s"])
    results = [ours]
    if not args.skip_naive:
        naive = measure_call(
            "naive:naive_plot", str(db), str(out / "naive_plot.webp"), label="naive (seed) plot"
        )
        results.append(naive)
    print_table(results)
    print()
    print(
        "our runs: " + ", ".join(f"{r['wall_s']:.2f}s" for r in runs) + f" (best of {args.repeat})"
    )
    print(f"output: {ours_out} ({ours_out.stat().st_size / 1e3:.0f} KB)")
    if not args.skip_naive:
        ratio = results[1]["wall_s"] / ours["wall_s"]
        print(f"speed-up vs naive baseline: {ratio:.1f}x (target >= {TARGET:g}x)")
        print(
            f"peak RSS: trackio-tool {ours['peak_rss_mb']:.0f} MB,"
            f" naive {results[1]['peak_rss_mb']:.0f} MB"
        )
    else:
        print(f"peak RSS of trackio-tool: {ours['peak_rss_mb']:.0f} MB")
    (out / "bench_plot.json").write_text(json.dumps(results + runs[1:], indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
