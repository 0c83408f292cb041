"""merge / drop / rename between an old version's DB and a 0.43 DB, read back by trackio.

    python merge_check.py OUT VERSION [NEW=0.43.0]

OUT/<v>/hf/trackio holds what writer.py wrote; VENVS/<v> the venv of that version.
For each direction, a copy of the target TRACKIO_DIR is changed with trackio-tool, then
read back with the target's own trackio (reader.py) and with NEW's, compared with what
the source's own trackio reads from the source, then logged to again (after.py).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VENVS = Path(os.environ.get("SWEEP_VENVS", "/tmp/sweep/venvs"))
TOOL_PY = os.environ.get("TOOL_PY", "/work/main/.venv/bin/python")


def env(tdir: Path) -> dict[str, str]:
    e = dict(os.environ)
    e.update(
        HF_HUB_OFFLINE="1",
        TRACKIO_DIR=str(tdir),
        HF_HOME=str(tdir.parent),
        GRADIO_ANALYTICS_ENABLED="False",
    )
    return e


def vt(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split(".")[:3])


def read(version: str, tdir: Path, project: str) -> list[dict[str, Any]]:
    p = subprocess.run(
        [str(VENVS / version / "bin/python"), str(HERE / "reader.py"), project],
        capture_output=True,
        text=True,
        env=env(tdir),
        timeout=300,
    )
    if p.returncode != 0:
        raise RuntimeError(f"reader {version}: {p.stderr[-800:]}")
    return json.loads(p.stdout)


def after(version: str, tdir: Path, project: str, run: str) -> str:
    p = subprocess.run(
        [str(VENVS / version / "bin/python"), str(HERE / "after.py"), project, run],
        capture_output=True,
        text=True,
        env=env(tdir),
        timeout=300,
    )
    return "ok" if p.returncode == 0 else f"after.py {version} failed: {p.stderr.strip()[-600:]}"


def tool(*args: str) -> subprocess.CompletedProcess[str]:
    e = {
        "PYTHONPATH": str(REPO / "src"),
        "PATH": "/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
    }
    return subprocess.run(
        [TOOL_PY, "-m", "trackio_tool", *args], capture_output=True, text=True, env=e
    )


def canon(x: Any) -> Any:
    if isinstance(x, float) and math.isnan(x):
        return "<nan>"
    if isinstance(x, float) and math.isfinite(x) and x == int(x) and abs(x) < 2**53:
        return int(x)  # int/float distinctions are not ours to judge here
    if isinstance(x, dict):
        return {k: canon(v) for k, v in x.items() if k not in ("timestamp",)}
    if isinstance(x, list):
        return [canon(v) for v in x]
    return x


def logs_of(run: dict[str, Any]) -> list[str]:
    rows = []
    for r in run["logs"]:
        r = canon(r)
        for v in r.values():  # media paths move with the run: compare type only
            if isinstance(v, dict) and "file_path" in v:
                v["file_path"] = "<path>"
        rows.append(json.dumps(r, sort_keys=True))
    return sorted(rows)


def compare(
    src: list[dict[str, Any]],
    tgt: list[dict[str, Any]],
    what: str,
    problems: list[str],
    side: tuple[bool, bool, bool],
) -> None:
    """Every source run must be in the target with the same logs (and configs/system/alerts
    where both versions have them)."""
    has_cfg, has_sys, has_alerts = side
    pool = list(tgt)
    for s in src:
        want = logs_of(s)
        match = [t for t in pool if logs_of(t) == want]
        if not match:
            names = [t for t in pool if t["name"] == s["name"]]
            detail = ""
            if names:
                got = logs_of(names[0])
                diff = sorted(set(want) ^ set(got))[:3]
                detail = f" (same-name run has {len(got)} rows vs {len(want)}; diff e.g. {diff})"
            problems.append(
                f"{what}: run {s['name']} ({len(want)} rows) not found in target{detail}"
            )
            continue
        t = match[0]
        pool.remove(t)
        if has_cfg and "config" in s and "config" in t and canon(s["config"]) != canon(t["config"]):
            problems.append(f"{what}: {s['name']} config {t['config']} != {s['config']}")
        if (
            has_sys
            and "system" in s
            and "system" in t
            and sorted(map(json.dumps, canon(s["system"])))
            != sorted(map(json.dumps, canon(t["system"])))
        ):
            problems.append(
                f"{what}: {s['name']} system {len(t['system'])} rows != {len(s['system'])}"
            )
        if (
            has_alerts
            and "alerts" in s
            and "alerts" in t
            and canon(s["alerts"]) != canon(t["alerts"])
        ):
            problems.append(f"{what}: {s['name']} alerts {t['alerts']} != {s['alerts']}")


def fresh(src_tdir: Path, dst: Path) -> Path:
    if dst.parent.exists():
        shutil.rmtree(dst.parent)
    dst.parent.mkdir(parents=True)
    shutil.copytree(src_tdir, dst)
    return dst


def sides(v_src: str, v_tgt: str) -> tuple[bool, bool, bool]:
    lo = min(vt(v_src), vt(v_tgt))
    return lo >= (0, 4, 0), lo >= (0, 14, 0), lo >= (0, 18, 0)


def main(out: Path, old: str, new: str, work: Path) -> list[str]:
    problems: list[str] = []
    o_t, n_t = out / old / "hf" / "trackio", out / new / "hf" / "trackio"
    old_sweep, new_sweep = read(old, o_t, "sweep"), read(new, n_t, "sweep")
    old_edge, new_edge = read(old, o_t, "sweepedge"), read(new, n_t, "sweepedge")
    for direction, src_v, src_db, src_runs, tgt_v, tgt_tdir, tgt_edge in (
        ("old->new", old, o_t / "sweep.db", old_sweep, new, n_t, new_edge),
        ("new->old", new, n_t / "sweep.db", new_sweep, old, o_t, old_edge),
    ):
        tag = f"{old} {direction}"
        tdir = fresh(tgt_tdir, work / direction / "hf" / "trackio")
        target = tdir / "sweepedge.db"
        sel: list[str] = []
        if vt(tgt_v) < (0, 24, 0) and len({r["name"] for r in src_runs}) < len(src_runs):
            # a legacy target keys runs by name: trackio-tool refuses two same-named
            # runs (by design); take the latest of each name, as trackio's lookups do
            latest = {r["name"]: r for r in src_runs}
            src_runs = list(latest.values())
            sel = ["--run", ",".join(r["id"] or r["name"] for r in src_runs)]
        p = tool("merge", "--from", str(src_db), "--into", str(target), "--json", "-q", *sel)
        if p.returncode != 0:
            problems.append(f"{tag}: merge rc={p.returncode}: {p.stderr.strip()[-500:]}")
            continue
        if p.stderr.strip():
            problems.append(f"{tag}: merge stderr: {p.stderr.strip()[:400]}")
        for reader_v in dict.fromkeys((tgt_v, new)):
            rdir = (
                tdir
                if reader_v == tgt_v
                else fresh(tdir, work / f"{direction}-read-{reader_v}" / "hf" / "trackio")
            )
            try:
                got = read(reader_v, rdir, "sweepedge")
            except RuntimeError as e:
                try:  # can that trackio read the target as its own version left it?
                    read(
                        reader_v, fresh(tgt_tdir, work / "baseline" / "hf" / "trackio"), "sweepedge"
                    )
                except RuntimeError:
                    problems.append(
                        f"(not ours) {tag}: {reader_v} cannot read the untouched target either"
                    )
                    continue
                problems.append(f"{tag}: read by {reader_v}: {e}")
                continue
            compare(src_runs, got, f"{tag} read by {reader_v}", problems, sides(src_v, tgt_v))
            compare(
                tgt_edge,
                got,
                f"{tag} (target's own run) read by {reader_v}",
                problems,
                sides(tgt_v, tgt_v),
            )
        r = after(tgt_v, tdir, "sweepedge", "alpha")
        if r != "ok":
            problems.append(f"{tag}: {r}")
        else:
            got = read(tgt_v, tdir, "sweepedge")
            names = [g["name"] for g in got]
            if "after" not in names:
                problems.append(f"{tag}: after logging, run 'after' missing: {names}")
        # drop and rename on a fresh copy of the merged target
        ddir = fresh(tdir, work / f"{direction}-drop" / "hf" / "trackio")
        before = read(tgt_v, ddir, "sweepedge")
        p = tool("drop", str(ddir / "sweepedge.db"), "--run", "gamma", "--yes", "-q")
        if p.returncode != 0:
            problems.append(f"{tag}: drop rc={p.returncode}: {p.stderr.strip()[-300:]}")
        p = tool("rename", str(ddir / "sweepedge.db"), "--run", "after", "--to", "after-2", "-q")
        if p.returncode != 0:
            problems.append(f"{tag}: rename rc={p.returncode}: {p.stderr.strip()[-300:]}")
        got = read(tgt_v, ddir, "sweepedge")
        want = []
        for b in before:
            if b["name"] == "gamma":
                continue
            if b["name"] == "after":
                b = dict(b, name="after-2")
            want.append(b)
        compare(want, got, f"{tag} after drop+rename", problems, sides(tgt_v, tgt_v))
        if sorted(g["name"] for g in got) != sorted(w["name"] for w in want):
            problems.append(f"{tag} after drop+rename: runs {sorted(g['name'] for g in got)}")
        r = after(tgt_v, ddir, "sweepedge", "after-2")
        if r != "ok":
            problems.append(f"{tag} after drop+rename: {r}")
    return problems


if __name__ == "__main__":
    out, old = Path(sys.argv[1]), sys.argv[2]
    new = sys.argv[3] if len(sys.argv) > 3 else "0.43.0"
    ps = main(out, old, new, Path(os.environ.get("SWEEP_WORK", "/tmp/sweep/merge")) / old)
    print(f"== merge {old}: {len(ps)} problems")
    for p in ps:
        print("  ", p)
