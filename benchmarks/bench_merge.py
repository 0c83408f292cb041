"""Benchmark: `trackio-tool merge` of a 1M-row parquet export into a new DB.

Compares, in one run, against the naive baseline (the seed's algorithm: pandas
``iterrows`` + ``json.dumps`` per row + one INSERT per row, ``naive.naive_merge``),
each in a fresh process, and prints wall times, peak RSS and the ratio (target >= 10x).
It also checks that the two outputs hold the same number of rows and that ours
is byte-identical to the DB the export was made from.

    python benchmarks/bench_merge.py [--dir /tmp/trackio-bench] [--runs 20 --steps 50000 --metrics 20]
    python benchmarks/bench_merge.py --naive-json /tmp/trackio-bench/naive_results.json  # reuse a naive timing
    (or an earlier bench_merge.json)
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import bench_parser, measure_call, measure_cmd, print_table, trackio_tool_exe
from generate import generate_db, generate_parquet


def _clean(db: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(db.parent / "media", ignore_errors=True)


def _same_payloads(ours: Path, reference: Path) -> bool:
    """Every metrics payload of ``ours`` equals the reference DB's, byte for byte (by log_id)."""
    con = sqlite3.connect(f"file:{ours}?mode=ro", uri=True)
    try:
        con.execute(f"ATTACH 'file:{reference}?mode=ro' AS ref")
        differing = con.execute(
            "SELECT COUNT(*) FROM metrics AS m JOIN ref.metrics AS r ON r.log_id = m.log_id"
            " WHERE r.metrics != m.metrics OR r.step != m.step OR r.run_id != m.run_id"
        ).fetchone()[0]
        matched = con.execute(
            "SELECT COUNT(*) FROM metrics AS m JOIN ref.metrics AS r ON r.log_id = m.log_id"
        ).fetchone()[0]
        total = con.execute("SELECT COUNT(*) FROM ref.metrics").fetchone()[0]
    finally:
        con.close()
    return differing == 0 and matched == total


def _load_naive(path: str) -> dict:
    """A naive timing from `naive.py measure --json` or from an earlier bench_merge.json."""
    data = json.loads(Path(path).read_text())
    found = (
        data.get("naive_merge")
        if isinstance(data, dict)
        else next((r for r in data if "naive" in r["label"]), None)
    )
    if not found:
        raise SystemExit(f"no naive merge timing in {path}")
    return dict(found, label="naive (seed) merge [from --naive-json]")


def _rows(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    ap = bench_parser(__doc__)
    ap.add_argument(
        "--naive-json",
        help="take the naive timing from a naive.py `measure --json` file instead of re-running it",
    )
    args = ap.parse_args(argv)

    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    if args.naive_json:
        _load_naive(args.naive_json)  # fail before the long part
    db = generate_db(out / "bench.db", runs=args.runs, steps=args.steps, metrics=args.metrics)
    parquet = out / "bench.parquet"
    if not parquet.exists():
        generate_parquet(db, parquet)
    tool = trackio_tool_exe()

    target = out / "merge-out" / "merged.db"
    target.parent.mkdir(exist_ok=True)
    runs = []
    for _ in range(args.repeat):
        _clean(target)
        runs.append(
            measure_cmd(
                [tool, "merge", "--from", str(parquet), "--into", str(target), "-q"],
                label="trackio-tool merge (parquet -> new DB)",
            )
        )
    ours = min(runs, key=lambda r: r["wall_s"])
    results = [ours]
    naive = _load_naive(args.naive_json) if args.naive_json else None
    if naive is None and not args.skip_naive:
        naive_db = out / "naive-merge" / "naive_merged.db"
        naive_db.parent.mkdir(exist_ok=True)
        naive = measure_call(
            "naive:naive_merge", str(parquet), str(naive_db), label="naive (seed) merge"
        )
        if naive.get("returncode") == 0:
            naive["rows"] = _rows(naive_db)
    if naive:
        results.append(naive)
    print_table(results)

    print()
    rows = _rows(target)
    print(f"rows merged by trackio-tool: {rows:,} (best of {len(runs)} runs)")
    print(f"byte-identical to the DB the export came from: {_same_payloads(target, db)}")
    if naive:
        print(
            f"speed-up vs naive baseline: {naive['wall_s'] / ours['wall_s']:.1f}x (target >= 10x)"
        )
    print(f"peak RSS of trackio-tool:   {ours['peak_rss_mb']:.0f} MB")
    (out / "bench_merge.json").write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
