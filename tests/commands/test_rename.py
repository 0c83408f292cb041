"""``trackio-tool rename``: every table, the media folder and the media paths."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.commands.test_merge import _one_clean_line
from tests.conftest import tree_digest

GAMMA = "72fff1558ccb4329ba0cc5a87f1e458d"
BETA_2 = "6afb4a0011dc4614bf8df66d3e75156b"
TABLES = ("metrics", "configs", "system_metrics", "alerts", "traces")


def _rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def _paths(db: Path) -> list[str]:
    return sorted(
        json.loads(m)["samples"]["file_path"]
        for (m,) in _rows(db, "SELECT metrics FROM metrics WHERE instr(metrics, 'file_path') > 0")
    )


def test_rename_everywhere(cli: Callable[..., Any], fixture_copy: Callable[[str], Path]) -> None:
    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    ids_before = _rows(db, "SELECT id, log_id FROM metrics WHERE run_id = ? ORDER BY id", GAMMA)
    r = cli("rename", str(db), "--run", "gamma", "--to", "delta")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == (
        f"Renamed run 'gamma' (72fff155) to 'delta' in {db}: 120 metrics, 1 configs,"
        " 3 system_metrics, 1 alerts, 1 traces rows, 4 media files moved\n"
    )
    for t in TABLES:
        assert _rows(db, f"SELECT DISTINCT run_name FROM {t} WHERE run_id = ?", GAMMA) == [
            ("delta",)
        ]
    assert _rows(db, "SELECT run_name FROM run_artifact_links") == [("delta",)]
    assert _rows(db, "SELECT producer_run_name FROM artifact_versions") == [("delta",)]
    # Unlike Trackio's own rename, row ids and log_ids stay.
    assert (
        _rows(db, "SELECT id, log_id FROM metrics WHERE run_id = ? ORDER BY id", GAMMA)
        == ids_before
    )
    paths = _paths(db)
    assert len(paths) == 4
    for p in paths:
        assert p.startswith("toyproj/delta/")
        assert (d / "media" / p).is_file()
    assert not (d / "media" / "toyproj" / "gamma").exists()
    assert _rows(db, "PRAGMA integrity_check") == [("ok",)]


def test_rename_legacy_paths_with_media_prefix(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    d = fixture_copy("trackio-0.2.9")
    db = d / "toyproj.db"
    r = cli("rename", str(db), "--run", "gamma", "--to", "delta")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.endswith(": 120 metrics rows, 4 media files moved\n")
    paths = _paths(db)
    assert all(p.startswith("media/toyproj/delta/0/") for p in paths)
    assert all((d / p).is_file() for p in paths)


def test_rename_one_of_two_same_named_runs(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    con = sqlite3.connect(db)
    with con:  # alpha becomes a second "gamma", sharing gamma's media folder
        for t in TABLES:
            con.execute(f"UPDATE {t} SET run_name = 'gamma' WHERE run_name = 'alpha'")
    con.close()
    (d / "media" / "toyproj" / "gamma" / "0" / "other-run.png").write_bytes(b"x")
    r = cli("rename", str(db), "--run", GAMMA, "--to", "delta")
    assert r.exit_code == 0, r.stderr
    assert r.stderr == (
        "note: media/toyproj/gamma/ is shared with another run named 'gamma':"
        " only the files this run references were moved\n"
    )
    assert [p.name for p in (d / "media" / "toyproj" / "gamma").rglob("*.png")] == ["other-run.png"]
    assert all((d / "media" / p).is_file() for p in _paths(db))


def test_rename_refusals(cli: Callable[..., Any], fixture_copy: Callable[[str], Path]) -> None:
    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    before = tree_digest(d)
    _one_clean_line(
        cli("rename", str(db), "--run", "gamma", "--to", "alpha"),
        "a run named 'alpha' already exists",
    )
    _one_clean_line(
        cli("rename", str(db), "--run", "beta", "--to", "b2"), "named 'beta'", "by its id"
    )
    _one_clean_line(cli("rename", str(db), "--run", "gamma", "--to", "a/b"), "'a/b' would escape")
    _one_clean_line(cli("rename", str(db), "--run", "gamma", "--to", "  "), "empty")
    _one_clean_line(cli("rename", str(db), "--run", "gamma,alpha", "--to", "x"), "exactly one")
    _one_clean_line(cli("rename", str(db), "--run", "nope", "--to", "x"), "no run 'nope'")
    assert tree_digest(d) == before
    r = cli("rename", str(db), "--run", BETA_2, "--to", "beta-resumed")
    assert r.exit_code == 0, r.stderr
    assert _rows(db, "SELECT DISTINCT run_name FROM metrics WHERE run_id = ?", BETA_2) == [
        ("beta-resumed",)
    ]
