"""Trackio's JSONL inbox (TRACKIO_FORMATS.md §9): rows logged on a network file system.

The fixture was written by trackio 0.43.0 itself (tests/data/trackio-0.43.0-inbox/README.md).
The reference is trackio's own import: a copy of the folder where trackio imported
its inbox must read exactly like the original with its inbox still pending.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, tree_digest

INBOX = FIXTURES / "trackio-0.43.0-inbox"


def _copy(dst: Path) -> Path:
    shutil.copytree(INBOX, dst, ignore=shutil.ignore_patterns("README.md", "make.py"))
    return dst


def _trackio_import(folder: Path) -> None:
    """What `trackio show` does on start: import the inbox into the databases."""
    env = {**os.environ, "TRACKIO_DIR": str(folder), "HF_HUB_OFFLINE": "1"}
    code = "from trackio import fragments; print(fragments.import_inbox_dir())"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert not list((folder / "inbox").rglob("*.jsonl"))


def _analyze(cli: Any, *args: str) -> dict[str, Any]:
    res = cli("analyze", *args, "--json")
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def _unwrapped(text: str) -> str:
    return " ".join(text.split())


def _comparable(data: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in data["projects"]:
        p = {k: v for k, v in p.items() if k not in ("source", "kind", "inbox_rows")}
        out.append(p)
    return sorted(out, key=lambda p: p["project"])


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = _copy(tmp_path_factory.mktemp("imported") / "trackio")
    _trackio_import(folder)
    return folder


def test_analyze_sees_the_inbox_as_trackio_will_import_it(
    cli: Any, tmp_path: Path, imported: Path
) -> None:
    folder = _copy(tmp_path / "trackio")
    before = tree_digest(folder)
    ours = _analyze(cli, str(folder))
    theirs = _analyze(cli, str(imported))
    assert _comparable(ours) == _comparable(theirs)
    assert tree_digest(folder) == before  # reading imported nothing
    mixed, fresh = sorted(ours["projects"], key=lambda p: p["project"])[::-1]
    assert (mixed["project"], mixed["kind"], mixed["inbox_rows"]) == ("mixed", "sqlite", 5)
    assert (fresh["project"], fresh["kind"], fresh["inbox_rows"]) == ("fresh", "inbox", 1)
    assert fresh["source"] == str(folder / "inbox")
    runs = {r["name"]: r for r in mixed["runs"]}
    assert (runs["a"]["rows"], runs["a"]["step_min"], runs["a"]["step_max"]) == (6, 0, 5)
    assert runs["a"]["metrics"] == ["deep", "loss", "nan"]
    assert runs["a"]["alerts"] == 1
    assert (runs["c"]["rows"], runs["c"]["step_min"], runs["c"]["step_max"]) == (2, 10, 11)
    assert theirs["projects"][0].get("inbox_rows", 0) == 0


def test_a_project_only_in_the_inbox_by_name(cli: Any, tmp_path: Path) -> None:
    folder = _copy(tmp_path / "trackio")
    res = cli("analyze", "fresh", env={"TRACKIO_DIR": str(folder)})
    assert res.exit_code == 0, res.stderr
    assert "fresh  (inbox: " in res.stdout
    assert "only in Trackio's JSONL inbox (1 logged row in 1 fragment at" in _unwrapped(res.stderr)
    res = cli("analyze", str(folder / "mixed.db"))
    assert res.exit_code == 0, res.stderr
    assert "(5 from Trackio's JSONL inbox, not imported yet)" in res.stdout
    assert (
        "5 logged rows, 1 system row and 1 alert in 4 fragments of Trackio's JSONL inbox"
        in _unwrapped(res.stderr)
    )


def test_values_and_rows_match_trackios_import(tmp_path: Path, imported: Path) -> None:
    from trackio_tool.sources import resolve_sources
    from trackio_tool.store import open_project

    folder = _copy(tmp_path / "trackio")
    for name in ("mixed", "fresh"):
        [ours] = [f for f in resolve_sources([str(folder)]) if f.project == name]
        [theirs] = resolve_sources([str(imported / f"{name}.db")])
        with open_project(ours) as a, open_project(theirs) as b:
            assert a.pending is not None
            assert b.pending is None
            key = ["run_key", "step"]
            fa = a.read_numeric().drop("timestamp").sort(key)
            fb = b.read_numeric().drop("timestamp").sort(key)
            assert sorted(fa.columns) == sorted(fb.columns)
            assert fa.equals(fb.select(fa.columns))  # NaN and inf included
            for table in ("system_metrics", "alerts", "configs"):
                assert (
                    a.side_counts(table)
                    .sort("run_key")
                    .equals(b.side_counts(table).sort("run_key"))
                )


def test_a_fragment_left_after_its_import_is_not_counted_twice(
    cli: Any, tmp_path: Path, imported: Path
) -> None:
    """Trackio deletes fragments after importing them; a crash in between leaves both.

    Its import is INSERT OR IGNORE by log_id, so nothing is counted twice.
    """
    folder = tmp_path / "trackio"
    shutil.copytree(imported, folder)
    shutil.copytree(INBOX / "inbox", folder / "inbox", dirs_exist_ok=True)
    assert _comparable(_analyze(cli, str(folder))) == _comparable(_analyze(cli, str(imported)))


@pytest.mark.parametrize("command", ["drop", "rename", "merge"])
def test_writes_refuse_a_project_with_pending_rows(
    cli: Any, tmp_path: Path, command: str, fixture_copy: Any
) -> None:
    source = fixture_copy("trackio-0.43.0") / "toyproj.db"
    folder = _copy(tmp_path / "trackio")
    before = tree_digest(folder)
    target = str(folder / "mixed.db")
    args = {
        "drop": ["drop", target, "--run", "b", "--yes"],
        "rename": ["rename", target, "--run", "b", "--to", "bb"],
        "merge": ["merge", "--from", str(source), "--into", target],
    }[command]
    res = cli(*args)
    assert res.exit_code == 1, res.stdout
    assert res.stderr.startswith("error: "), res.stderr
    assert res.stderr.count("\n") == 1, res.stderr
    assert "5 logged rows" in res.stderr, res.stderr
    assert "trackio show" in res.stderr, res.stderr
    assert tree_digest(folder) == before


def test_merge_from_a_project_with_pending_rows_takes_them(
    cli: Any, tmp_path: Path, imported: Path
) -> None:
    folder = _copy(tmp_path / "trackio")
    for src, name in ((folder, "ours"), (imported, "theirs")):
        res = cli("merge", "--from", str(src / "mixed.db"), "--into", str(tmp_path / name / "m.db"))
        assert res.exit_code == 0, res.stderr
    a = _analyze(cli, str(tmp_path / "ours" / "m.db"))
    b = _analyze(cli, str(tmp_path / "theirs" / "m.db"))
    assert _comparable(a) == _comparable(b)
    assert a["projects"][0]["total_rows"] == 9
