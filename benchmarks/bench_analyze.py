"""Benchmark: `trackio-tool analyze --json` on a 1M-row Trackio-0.43 DB.

Compares, in one run, against
  * the naive baseline (the seed's algorithm: sqlite3 + json.loads per row + pandas), and
  * SQLite's own full scan of the metrics column (`sqlite3 db "select sum(length(metrics))..."`),
printing wall times, ratios and peak RSS.

    python benchmarks/bench_analyze.py [--dir /tmp/trackio-bench] [--runs 20 --steps 50000 --metrics 20]
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import bench_parser, best_of, measure_call, print_table, trackio_tool_exe
from generate import generate_db


def main(argv: list[str] | None = None) -> int:
    ap = bench_parser(__doc__)
    args = ap.parse_args(argv)

    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    db = generate_db(out / "bench.db", runs=args.runs, steps=args.steps, metrics=args.metrics)
    tool = trackio_tool_exe()
    sqlite = shutil.which("sqlite3")

    results = []
    if sqlite:
        raw = best_of(
            [sqlite, str(db), "select sum(length(metrics)) from metrics"],
            label="sqlite3 raw scan",
            repeat=args.repeat,
        )
        results.append(raw)
    ours = best_of(
        [tool, "analyze", str(db), "--json", "--no-media"],
        label="trackio-tool analyze --json",
        repeat=args.repeat,
    )
    results.append(ours)
    if not args.skip_naive:
        results.append(measure_call("naive:naive_analyze", str(db), label="naive (seed) analyze"))
    print_table(results)

    by = {r["label"]: r for r in results}
    print()
    if "naive (seed) analyze" in by:
        naive = by["naive (seed) analyze"]
        print(
            f"speed-up vs naive baseline: {naive['wall_s'] / ours['wall_s']:.1f}x (target >= 15x)"
        )
    if "sqlite3 raw scan" in by:
        print(
            f"ratio to sqlite3 raw scan:  {ours['wall_s'] / by['sqlite3 raw scan']['wall_s']:.1f}x (target <= 3x)"
        )
    print(f"peak RSS of trackio-tool:   {ours['peak_rss_mb']:.0f} MB (target <= 1024 MB)")
    (out / "bench_analyze.json").write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
