"""Benchmark: `trackio-tool analyze DIR --json` on a TRACKIO_DIR of many small projects.

What `trackio-tool analyze` with no SOURCE does on a laptop that has trained for a while:
every project in the folder, most of them small. Here N copies of one generated project
(3 runs x 500 steps x 8 metrics = 1,500 rows each, Trackio-0.43-shaped). Compares, in one
run, against the naive baseline (the seed's algorithm, `naive.naive_analyze`, once per
file), printing wall times, the ratio, the time per project and peak RSS.

    python benchmarks/bench_many.py [--dir /tmp/trackio-bench] [--projects 200]
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import bench_parser, best_of, measure_call, print_table, trackio_tool_exe
from generate import generate_db


def naive_many(folder: str) -> int:
    """The seed's per-file analysis over every .db of ``folder``."""
    from naive import naive_analyze

    done = 0
    for db in sorted(Path(folder).glob("*.db")):
        naive_analyze(db)
        done += 1
    return done


def main(argv: list[str] | None = None) -> int:
    ap = bench_parser(__doc__)
    ap.add_argument("--projects", type=int, default=200)
    ap.set_defaults(runs=3, steps=500, metrics=8)
    args = ap.parse_args(argv)

    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    one = generate_db(
        out / "many-one" / "bench.db", runs=args.runs, steps=args.steps, metrics=args.metrics
    )
    folder = out / f"many-{args.projects}"
    if not folder.is_dir() or len(list(folder.glob("*.db"))) != args.projects:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for i in range(args.projects):
            shutil.copyfile(one, folder / f"project{i:04d}.db")

    results = []
    ours = best_of(
        [trackio_tool_exe(), "analyze", str(folder), "--json", "--no-media"],
        label=f"trackio-tool analyze ({args.projects} projects)",
        repeat=args.repeat,
    )
    results.append(ours)
    if not args.skip_naive:
        results.append(measure_call("bench_many:naive_many", str(folder), label="naive (seed)"))
    print_table(results)
    print()
    per = ours["wall_s"] / args.projects * 1000
    print(f"trackio-tool: {per:.1f} ms per project")
    if not args.skip_naive:
        print(f"speed-up vs naive baseline: {results[1]['wall_s'] / ours['wall_s']:.1f}x")
    (out / "bench_many.json").write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
