"""Check trackio-tool against the projects writer.py wrote; print every mismatch.

    PYTHONPATH=src .venv/bin/python scripts/version_sweep/check.py OUT/<version> [...]

Reads OUT/<version>/truth.json and checks, for the .db, the parquet export and the
static export: ``analyze --json`` (runs, ids, rows, steps, metrics, media, system
rows, alerts), every numeric value of ``read_float_series`` and ``read_numeric``
(exact ints), and that ``plot -o x.html`` succeeds.
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

from trackio_tool.sources import resolve_sources
from trackio_tool.store import numeric, open_project

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def vtuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split(".")[:3])


def leaves(m: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in m.items():
        if isinstance(v, dict):
            if "_type" in v:
                continue
            out.update(leaves(v, f"{prefix}{k}/"))
        elif isinstance(v, (bool, str, list)) or v is None:
            continue
        else:
            out[prefix + k] = v
    return out


def expected_runs(truth: dict[str, Any], project: str) -> list[dict[str, Any]]:
    runs: dict[tuple[str, str | None], dict[str, Any]] = {}
    for s in truth["sessions"]:
        if s.get("project", truth["project"]) != project:
            continue
        key = (s["name"], s["id"])
        run = runs.setdefault(
            key,
            {
                "name": s["name"],
                "id": s["id"],
                "rows": [],
                "system_rows": 0,
                "alerts": 0,
                "media": 0,
            },
        )
        for r in s["rows"]:
            step = r["step"]
            if step is None:
                step = max((x["step"] for x in run["rows"]), default=-1) + 1
            run["rows"].append({"step": step, "metrics": r["metrics"]})
        run["system_rows"] += s["system_rows"]
        run["alerts"] += s["alerts"]
        run["media"] += s["media"]
    return list(runs.values())


def same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    fa, fb = float(a), float(b)
    return (math.isnan(fa) and math.isnan(fb)) or fa == fb


def value_rule(v: tuple[int, ...], kind: str, path: str, value: Any) -> Any:
    """What trackio itself keeps of a logged value (documented losses), as a float or None."""
    f = float(value)
    nested = "/" in path and not path.startswith("train/")
    if not math.isfinite(f) and nested and (0, 4, 1) <= v < (0, 24):
        return None  # orjson (0.4.1+; the spec says 0.5.0) writes nested non-finite as null
    if math.isnan(f) and kind != "sqlite" and v < (0, 24):
        return None  # pandas export: NaN -> null
    return value


def check_source(
    src: str, kind: str, truth: dict[str, Any], project: str, problems: list[str]
) -> None:
    v = vtuple(truth["version"])
    want = expected_runs(truth, project)
    tag = f"{truth['version']} {kind} {project}"
    proc = subprocess.run(
        [sys.executable, "-m", "trackio_tool", "analyze", src, "--json"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
    )
    if proc.returncode != 0:
        problems.append(f"{tag}: analyze rc={proc.returncode}: {proc.stderr.strip()[-500:]}")
        return
    if proc.stderr.strip():
        problems.append(f"{tag}: analyze stderr: {proc.stderr.strip()[:300]}")
    got = json.loads(proc.stdout)["projects"][0]["runs"]
    if len(got) != len(want):
        problems.append(f"{tag}: {len(got)} runs, want {len(want)}: {[r['name'] for r in got]}")
    for w in want:
        cand = [
            g
            for g in got
            if g["name"] == w["name"] and (w["id"] is None or g["id"] in (w["id"], None))
        ]
        if len(cand) != 1:
            problems.append(f"{tag}: run {w['name']}/{w['id']} matched {len(cand)} analyze runs")
            continue
        g = cand[0]
        if w["id"] and kind == "sqlite" and g["id"] != w["id"]:
            problems.append(f"{tag}: {w['name']} id {g['id']} != {w['id']}")
        steps = [r["step"] for r in w["rows"]]
        keys = sorted({k for r in w["rows"] for k in r["metrics"]})
        exp = {
            "rows": len(w["rows"]),
            "step_min": min(steps),
            "step_max": max(steps),
            "metrics": keys,
            # by design: files on disk under the run-NAME folder (same-named runs share it)
            "media_files": sum(x["media"] for x in want if x["name"] == w["name"]),
            "system_rows": w["system_rows"],
            "alerts": w["alerts"] if kind == "sqlite" else 0,
        }
        for k, e in exp.items():
            if g.get(k) != e:
                problems.append(f"{tag}: {w['name']}: analyze {k}={g.get(k)!r}, want {e!r}")
        if (
            not g.get("first")
            or not g.get("last")
            or (g["first"] > g["last"] and g["first"][:19] > g["last"][:19])
        ):
            problems.append(f"{tag}: {w['name']}: first/last {g.get('first')} {g.get('last')}")
    for files in resolve_sources([src]):
        with open_project(files) as p:
            index = p.run_index()
            fl = numeric.read_float_series(p, table="metrics")
            exact = p.read_numeric(table="metrics")
            for w in want:
                sel = index.filter(index["run_name"] == w["name"])
                if w["id"] and "run_id" in sel.columns and sel["run_id"].null_count() == 0:
                    sel = sel.filter(sel["run_id"] == w["id"])
                if sel.height != 1:
                    problems.append(f"{tag}: run_index has {sel.height} rows for {w['name']}")
                    continue
                key = sel["run_key"][0]
                for frame, what in ((fl, "float"), (exact, "exact")):
                    rows = frame.filter(frame["run_key"] == key)
                    if rows.height != len(w["rows"]):
                        problems.append(
                            f"{tag}: {w['name']} {what}: {rows.height} rows, want {len(w['rows'])}"
                        )
                        continue
                    expected_cols: set[str] = set()
                    for i, r in enumerate(w["rows"]):
                        if rows["step"][i] != r["step"]:
                            problems.append(
                                f"{tag}: {w['name']} row {i}: step {rows['step'][i]} != {r['step']}"
                            )
                        lv = leaves(r["metrics"])
                        for path, val in lv.items():
                            exp_v = value_rule(v, kind, path, val)
                            if path not in rows.columns:
                                if exp_v is not None:
                                    problems.append(
                                        f"{tag}: {w['name']} {what}: no column {path!r}"
                                    )
                                    expected_cols.add(path)
                                continue
                            expected_cols.add(path)
                            gv = rows[path][i]
                            # <=0.23 parquet (pandas): an int column with gaps is double
                            pandas = kind != "sqlite" and v < (0, 24)
                            if (
                                what == "exact"
                                and isinstance(val, int)
                                and not pandas
                                and gv != val
                            ):
                                problems.append(
                                    f"{tag}: {w['name']} exact row {i} {path}: {gv!r} != {val!r}"
                                )
                            elif not same(gv, exp_v):
                                problems.append(
                                    f"{tag}: {w['name']} {what} row {i} {path}: {gv!r} != {exp_v!r}"
                                )
                        for c in rows.columns:
                            if c in ("run_key", "step", "timestamp") or c in lv:
                                continue
                            if rows[c][i] is not None:
                                problems.append(
                                    f"{tag}: {w['name']} {what} row {i}: extra {c}={rows[c][i]!r}"
                                )
    out = Path(src).parent / f"plot-{kind}-{project}.html"
    proc = subprocess.run(
        [sys.executable, "-m", "trackio_tool", "plot", src, "-o", str(out)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
    )
    if proc.returncode != 0 or not out.exists():
        problems.append(f"{tag}: plot rc={proc.returncode}: {proc.stderr.strip()[-400:]}")


AFTER = [  # what after.py logs (run "after", then one row resumed into RUN)
    {
        "requested": "after",
        "name": "after",
        "id": None,
        "resume": None,
        "system_rows": 0,
        "alerts": 0,
        "media": 0,
        "config": None,
        "rows": [
            {"step": None, "metrics": {"after_loss": 1.0 + i, "nested": {"v": i}}} for i in range(3)
        ],
    },
    {
        "requested": "alpha",
        "name": "alpha",
        "id": None,
        "resume": "allow",
        "system_rows": 0,
        "alerts": 0,
        "media": 0,
        "config": None,
        "rows": [{"step": None, "metrics": {"resumed": 1.0}}],
    },
]


def upgraded(d: Path, new_python: str) -> list[str]:
    """The old version's TRACKIO_DIR, logged to by a new trackio (after.py; 0.41+ migrates,
    0.24-0.40 append legacy rows and create missing tables with run_id: a mixed schema)."""
    truth = json.loads((d / "truth.json").read_text())
    up = d.parent / f"{d.name}-upgraded-{Path(new_python).parents[1].name}"
    if up.exists():
        shutil.rmtree(up)
    shutil.copytree(d / "hf", up / "hf")
    tdir = up / "hf" / "trackio"
    e = dict(os.environ, HF_HUB_OFFLINE="1", TRACKIO_DIR=str(tdir), HF_HOME=str(tdir.parent))
    p = subprocess.run(
        [new_python, str(HERE / "after.py"), "sweep", "alpha"],
        capture_output=True,
        text=True,
        env=e,
    )
    if p.returncode != 0:
        return [f"{truth['version']} upgraded: after.py failed: {p.stderr[-500:]}"]
    done = json.loads(p.stdout.strip().splitlines()[-1])
    AFTER[0].update(system_rows=done["system"], alerts=done["alerts"])
    for s in truth["sessions"]:
        if s.get("project", "sweep") == "sweep" and s["id"] and s["name"] == "alpha":
            AFTER[1]["id"] = s["id"]
    truth["sessions"] += [dict(s, project="sweep") for s in AFTER]
    truth["exports"] = {}
    problems: list[str] = []
    check_source(str(tdir / "sweep.db"), "sqlite", truth, "sweep", problems)
    return [f"upgraded {p}" for p in problems]


def check_version(d: Path) -> list[str]:
    truth = json.loads((d / "truth.json").read_text())
    problems: list[str] = []
    tdir = d / "hf" / "trackio"
    for project in ("sweep", "sweepedge"):
        check_source(str(tdir / f"{project}.db"), "sqlite", truth, project, problems)
    ex = truth.get("exports", {})
    if "parquet" in ex:
        check_source(ex["parquet"], "parquet", truth, "sweep", problems)
    if "static" in ex:
        check_source(ex["static"], "static", truth, "sweep", problems)
    for k in ("parquet_error", "static_error"):
        if k in ex:
            problems.append(f"{truth['version']}: trackio {k}: {ex[k][:200]}")
    return problems


if __name__ == "__main__":
    new_python = os.environ.get("SWEEP_NEW_PYTHON", "/tmp/sweep/venvs/0.43.0/bin/python")
    for arg in sys.argv[1:]:
        ps = [] if os.environ.get("SWEEP_ONLY_UPGRADE") else check_version(Path(arg))
        ps += upgraded(Path(arg), new_python)
        print(f"== {Path(arg).name}: {len(ps)} problems")
        for p in ps:
            print("  ", p)
