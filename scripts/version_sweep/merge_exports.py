"""merge --from <a version's parquet / static export> --into a 0.43 DB; compare.

    PYTHONPATH=src .venv/bin/python scripts/version_sweep/merge_exports.py OUT VERSION...

The target's rows of the merged runs, as trackio-tool reads them (every numeric
value, NaN/inf included), must equal the source's; trackio 0.43 must read the target.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import polars as pl

from trackio_tool.sources import resolve_sources
from trackio_tool.store import numeric, open_project

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from merge_check import env, read, tool  # noqa: E402


def series(src: str) -> dict[tuple[str, str | None], pl.DataFrame]:
    out = {}
    for files in resolve_sources([src]):
        with open_project(files) as p:
            idx = p.run_index()
            frame = numeric.read_float_series(p, table="metrics", timestamps=False)
            for key, name, rid in idx.select("run_key", "run_name", "run_id").iter_rows():
                rows = frame.filter(pl.col("run_key") == key).drop("run_key", "timestamp")
                rows = rows.select([c for c in rows.columns if rows[c].null_count() < rows.height])
                out[(name, rid)] = rows.select(sorted(rows.columns))
    return out


def main(out: Path, version: str, new: str = "0.43.0") -> list[str]:
    truth = json.loads((out / version / "truth.json").read_text())
    problems = []
    for kind in ("parquet", "static"):
        src = truth.get("exports", {}).get(kind)
        if not src:
            continue
        tdir = out.parent / "merge-exports" / version / kind / "hf" / "trackio"
        if tdir.parent.exists():
            shutil.rmtree(tdir.parent)
        shutil.copytree(out / new / "hf" / "trackio", tdir)
        p = tool("merge", "--from", src, "--into", str(tdir / "sweepedge.db"), "-q")
        if p.returncode != 0:
            problems.append(f"{version} {kind}: merge rc={p.returncode}: {p.stderr.strip()[-400:]}")
            continue
        want, got = series(src), series(str(tdir / "sweepedge.db"))
        for (name, rid), frame in want.items():
            cand = [f for (n, i), f in got.items() if n == name and (rid is None or i == rid)]
            if len(cand) != 1:
                problems.append(f"{version} {kind}: {name}/{rid}: {len(cand)} runs in target")
                continue
            g = cand[0]
            if g.columns != frame.columns or not g.equals(frame):
                problems.append(
                    f"{version} {kind}: {name}: values differ: {frame.columns} vs {g.columns}\n{frame}\n{g}"
                )
        try:
            runs = read(new, tdir, "sweepedge")
            n = sum(len(r["logs"]) for r in runs)
            want_n = sum(f.height for f in want.values()) + 3
            if n != want_n:
                problems.append(f"{version} {kind}: trackio {new} reads {n} rows, want {want_n}")
        except RuntimeError as e:
            problems.append(
                f"{version} {kind}: trackio {new} cannot read the target: {str(e)[-300:]}"
            )
    return problems


if __name__ == "__main__":
    assert env
    for v in sys.argv[2:]:
        ps = main(Path(sys.argv[1]), v)
        print(f"== merge exports {v}: {len(ps)} problems")
        for p in ps:
            print("  ", p)
