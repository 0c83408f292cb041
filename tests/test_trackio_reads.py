"""Real Trackio (the pinned 0.43.x of the test extras) reads what merge/drop/rename wrote.

Trackio runs in a subprocess with TRACKIO_DIR pointing at the target's folder, so
its import-time side effects stay out of the test process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES
from tests.store.test_write_support import canon
from trackio_tool.sources import resolve_sources
from trackio_tool.store._decode import loads, map_nonfinite
from trackio_tool.store._sqlite_ro import read_only
from trackio_tool.store.write import drop, merge, rename

READER = r"""
import json, sys
from pathlib import Path
import trackio
from trackio.sqlite_storage import SQLiteStorage as S

project = sys.argv[1]
if len(sys.argv) > 2 and sys.argv[2] == "init":
    S.init_db(project)  # what trackio.init() does first: migrate the schema if needed
out = []
for run in trackio.Api().runs(project):
    logs = S.get_logs(project, run.name, run_id=run.id)
    system = S.get_system_logs(project, run.name, run_id=run.id)
    out.append({
        "name": run.name,
        "id": run.id,
        "config": run.config,
        "logs": logs,
        "system": system,
        "alerts": [a["title"] for a in run.alerts()],
    })
print(json.dumps({"version": trackio.__version__, "runs": out}, default=str))
"""


def trackio_read(db: Path, *, init: bool = False) -> dict[str, Any]:
    env = {**os.environ, "TRACKIO_DIR": str(db.parent), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", READER, db.stem, *(["init"] if init else [])],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    assert data["version"].startswith("0.43.")
    return data


def _logs(entries: list[dict[str, Any]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for e in entries:
        e = dict(e)
        step = e.pop("step", None)
        e.pop("timestamp", None)
        out[canon({"step": step, "v": map_nonfinite(e)})] += 1
    return out


def source_logs(db: Path, run_id: str | None, name: str, table: str = "metrics") -> Counter[str]:
    """A run's payloads straight from a source DB, as Trackio would return them."""
    with read_only(db) as con:
        cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
        if not cols:
            return Counter()
        key, value = ("run_id", run_id) if "run_id" in cols and run_id else ("run_name", name)
        step = "step" if "step" in cols else "NULL"
        rows = con.execute(f"SELECT {step}, metrics FROM {table} WHERE {key} = ?", (value,))
        return Counter(canon({"step": s, "v": loads(m)}) for s, m in rows)


def _source_configs(db: Path) -> dict[str, Any]:
    with read_only(db) as con:
        cols = [r[1] for r in con.execute("PRAGMA table_info(configs)")]
        if not cols:
            return {}
        key = "run_id" if "run_id" in cols else "run_name"
        return {k: loads(c) for k, c in con.execute(f"SELECT {key}, config FROM configs")}


def _check_runs(data: dict[str, Any], expected: list[tuple[str, str, Path, str | None]]) -> None:
    """expected: (name, id in the target, source db, id in the source or None if legacy)."""
    runs = data["runs"]
    assert sorted((r["name"], r["id"]) for r in runs) == sorted((e[0], e[1]) for e in expected)
    configs: dict[Path, dict[str, Any]] = {}
    for name, rid, src, src_id in expected:
        (run,) = [r for r in runs if r["name"] == name and r["id"] == rid]
        assert _logs(run["logs"]) == source_logs(src, src_id, name)
        assert _logs(run["system"]) == source_logs(src, src_id, name, "system_metrics")
        config = configs.setdefault(src, _source_configs(src)).get(src_id or name)
        if config is not None:
            assert canon(run["config"]) == canon(config)


ALPHA = "3ff25f583aa544c883e1a6edc4747c87"
BETA_1 = "66bbe7058728471b8bdfacf8593ad4a1"
BETA_2 = "6afb4a0011dc4614bf8df66d3e75156b"
GAMMA = "72fff1558ccb4329ba0cc5a87f1e458d"


def test_trackio_reads_merged_dropped_renamed(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for name in ("trackio-0.43.0", "trackio-0.2.9"):
        shutil.copytree(FIXTURES / name, src / name)
    v43 = src / "trackio-0.43.0" / "toyproj.db"
    v29 = src / "trackio-0.2.9" / "toyproj.db"
    target = tmp_path / "trackio" / "merged.db"

    merge(resolve_sources([str(v43)])[0], target)
    merge(resolve_sources([str(v29)])[0], target, runs=["dainty-sunset-0"])
    data = trackio_read(target)
    dainty = next(r["id"] for r in data["runs"] if r["name"] == "dainty-sunset-0")
    kept = [
        ("alpha", ALPHA, v43, ALPHA),
        ("beta", BETA_1, v43, BETA_1),
        ("dainty-sunset-0", dainty, v29, None),
    ]
    _check_runs(data, [*kept, ("beta", BETA_2, v43, BETA_2), ("gamma", GAMMA, v43, GAMMA)])
    (gamma,) = [r for r in data["runs"] if r["name"] == "gamma"]
    assert len(gamma["alerts"]) == 1

    drop(target, runs=[BETA_2])
    rename(target, run="gamma", to="delta")
    data = trackio_read(target)
    renamed = [r for r in data["runs"] if r["name"] == "delta"]
    data["runs"] = [r for r in data["runs"] if r["name"] != "delta"]
    _check_runs(data, kept)
    (delta,) = renamed
    assert delta["id"] == GAMMA
    moved = Counter(
        {
            k.replace("<project>/delta/", "<project>/gamma/"): n
            for k, n in _logs(delta["logs"]).items()
        }
    )
    assert moved == source_logs(v43, GAMMA, "gamma")
    assert _logs(delta["system"]) == source_logs(v43, GAMMA, "gamma", "system_metrics")
    images = [log["samples"]["file_path"] for log in delta["logs"] if "samples" in log]
    assert len(images) == 4
    for p in images:
        assert p.startswith("merged/delta/")
        assert (target.parent / "media" / p).is_file()


@pytest.mark.parametrize("legacy_fixture", ["trackio-0.2.9", "trackio-0.20.2"])
def test_trackio_migrates_a_legacy_target_we_wrote(tmp_path: Path, legacy_fixture: str) -> None:
    """Runs with ids merged into a run-name-keyed DB survive Trackio's own migration."""
    folder = tmp_path / "trackio"
    shutil.copytree(FIXTURES / legacy_fixture, folder)
    target = folder / "toyproj.db"
    drop(target, runs=["alpha", "beta", "gamma", "dainty-sunset-0"])
    shutil.copytree(FIXTURES / "trackio-0.43.0", tmp_path / "src")
    v43 = tmp_path / "src" / "toyproj.db"
    merge(resolve_sources([str(v43)])[0], target, runs=[ALPHA, BETA_1, GAMMA])
    data = trackio_read(target, init=True)
    assert sorted(r["name"] for r in data["runs"]) == ["alpha", "beta", "gamma"]
    ids = {"alpha": ALPHA, "beta": BETA_1, "gamma": GAMMA}
    configs = _source_configs(v43)
    for run in data["runs"]:
        key = ids[run["name"]]
        assert _logs(run["logs"]) == source_logs(v43, key, run["name"])
        assert _logs(run["system"]) == source_logs(v43, key, run["name"], "system_metrics")
        assert canon(run["config"]) == canon(configs[key])
    # Trackio gave each name one new id, the same in every table it migrated.
    assert len({r["id"] for r in data["runs"]}) == 3
