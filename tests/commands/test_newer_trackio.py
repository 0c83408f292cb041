"""A file from a newer Trackio: a run-scoped table trackio-tool does not know.

Trackio adds such tables every few releases (configs, system_metrics, alerts,
traces, artifact links). drop and rename would leave a run's rows there (orphans,
or rows under the old name), so they refuse; merge copies what it knows and says
what it left.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.commands.test_merge import _one_clean_line
from tests.conftest import tree_digest


def _sql(db: Path, *statements: str) -> list[Any]:
    """Run ``statements`` on ``db`` in one transaction; the rows of the last one."""
    con = sqlite3.connect(db)
    try:
        rows = [con.execute(sql).fetchall() for sql in statements][-1]
        con.commit()
        return rows
    finally:
        con.close()


def _add_run_tags(db: Path) -> None:
    _sql(
        db,
        "CREATE TABLE run_tags (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " run_id TEXT NOT NULL, run_name TEXT NOT NULL, tag TEXT NOT NULL)",
        "INSERT INTO run_tags (run_id, run_name, tag)"
        " SELECT DISTINCT run_id, run_name, 'baseline' FROM metrics",
    )


def test_drop_and_rename_refuse_a_run_table_they_do_not_know(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    _add_run_tags(db)
    before = tree_digest(d)
    _one_clean_line(
        cli("drop", str(db), "--run", "gamma"),
        "toyproj.db refers to runs where trackio-tool does not look ('run_tags'; written by a"
        " newer Trackio?): dropping a run would leave it there; nothing was changed",
    )
    _one_clean_line(
        cli("rename", str(db), "--run", "gamma", "--to", "gamma-2"),
        "('run_tags'; written by a newer Trackio?): renaming a run would leave its old name"
        " there; nothing was changed",
    )
    assert tree_digest(d) == before
    r = cli("analyze", str(db), "--json")  # reading is unaffected
    assert r.exit_code == 0, r.stderr


def test_a_new_column_naming_a_run_in_a_known_table_is_refused_where_it_matters(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    # Say, a newer Trackio's "resumed from" link between runs.
    _sql(db, "ALTER TABLE configs ADD COLUMN parent_run_id TEXT")
    before = tree_digest(d)
    _one_clean_line(cli("drop", str(db), "--run", "alpha"), "('configs.parent_run_id';")
    assert tree_digest(d) == before
    # A run's id never changes in a rename: a column of ids is no obstacle there.
    r = cli("rename", str(db), "--run", "alpha", "--to", "alpha-2")
    assert r.exit_code == 0, r.stderr


def test_merge_copies_what_it_knows_and_names_what_it_left(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    d = fixture_copy("trackio-0.43.0")
    source = d / "toyproj.db"
    _add_run_tags(source)
    _sql(
        source, "ALTER TABLE metrics ADD COLUMN origin TEXT", "UPDATE metrics SET origin = 'laptop'"
    )
    target = tmp_path / "other.db"
    r = cli("merge", "--from", str(source), "--into", str(target), "--run", "alpha")
    assert r.exit_code == 0, r.stderr
    assert r.stderr.splitlines() == [
        f"note: a table of {source} that trackio-tool does not know ('run_tags'; written by a"
        " newer Trackio?) holds rows by run: not copied",
        f"note: a column of {source} that trackio-tool does not know and the target lacks"
        " ('metrics.origin'; written by a newer Trackio?): not copied",
    ]
    assert ("run_tags",) not in _sql(target, "SELECT name FROM sqlite_master")
    assert _sql(target, "SELECT COUNT(*) FROM metrics WHERE run_name = 'alpha'") == [(100,)]
    _sql(target, "ALTER TABLE metrics ADD COLUMN origin TEXT")  # a target that has it
    r = cli("merge", "--from", str(source), "--into", str(target), "--run", "gamma")
    assert r.exit_code == 0, r.stderr
    assert "metrics.origin" not in r.stderr  # copied like any column both sides have
    origins = _sql(target, "SELECT run_name, origin FROM metrics GROUP BY 1, 2")
    assert sorted(origins, key=str) == [("alpha", None), ("gamma", "laptop")]
