"""The run-span query started while the CLI imports: same result, never stale, no files left."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, CliResult
from trackio_tool.store import _early
from trackio_tool.store.sqlite import SqliteReader

DB = FIXTURES / "trackio-0.43.0" / "toyproj.db"


def _wal_copy(tmp_path: Path, name: str = "walproj.db") -> Path:
    """A WAL-mode copy with no -wal/-shm beside it (as Trackio leaves a closed project)."""
    db = tmp_path / name
    shutil.copyfile(DB, db)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    con.close()  # the last connection removes -wal and -shm
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    return db


def _started_copy(tmp_path: Path) -> Path:
    """A copy of the fixture whose early span query has been started."""
    db = tmp_path / "toyproj.db"
    shutil.copyfile(DB, db)
    _early.start(db)
    return db


def _direct_spans(db: Path) -> list[tuple[object, ...]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return sorted(con.execute(_early.spans_sql("run_id")).fetchall())
    finally:
        con.close()


def test_reader_uses_the_early_spans(tmp_path: Path) -> None:
    db = _started_copy(tmp_path)
    reader = SqliteReader(db)
    try:
        assert reader._early is not None
        early_rows = reader._early.spans("run_id")
        assert early_rows is not None
        assert sorted(early_rows) == _direct_spans(db)
        assert sorted(reader._metric_spans()) == _direct_spans(db)
        index = reader.run_index()
        assert index.get_column("rows").sum() == sum(r[1] for r in _direct_spans(db))
    finally:
        reader.close()


def test_early_spans_of_a_changed_file_are_not_used(tmp_path: Path) -> None:
    db = _started_copy(tmp_path)
    early, _ = _early.claim(db)
    assert early is not None
    early.result.result()  # the early query is done
    run_id, rows = _direct_spans(db)[0][:2]
    con = sqlite3.connect(db)
    with con:
        con.execute(
            "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics)"
            " SELECT run_id, timestamp, run_name, step + 1000, metrics FROM metrics"
            " WHERE run_id = ? LIMIT 1",
            (run_id,),
        )
    con.close()
    assert early.spans("run_id") is None
    _early.release(early)
    reader = SqliteReader(db)
    try:
        counts = dict(reader.run_index().select("run_key", "rows").iter_rows())
        assert counts[run_id] == rows + 1
    finally:
        reader.close()


def test_finish_forgets_finished_queries(tmp_path: Path) -> None:
    db = _started_copy(tmp_path)
    _early.finish()
    assert _early.claim(db)[0] is None  # a later command starts afresh


@pytest.mark.parametrize("attempt", range(12))
def test_no_sidecars_left_whoever_closes_last(tmp_path: Path, attempt: int) -> None:
    """Early query and reader race for the same WAL file: -wal/-shm go away either way."""
    db = _wal_copy(tmp_path)
    _early.start(db)
    if attempt % 3 == 1:
        _early.finish()  # the early query finishes (and tidies up) before the reader opens
    reader = SqliteReader(db)
    try:
        assert reader.run_index().height == len(_direct_spans(db))
        _early.finish()
        # The reader's connection is open: nobody may have removed its -shm.
        assert (tmp_path / "walproj.db-shm").exists()
    finally:
        reader.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walproj.db"]


def test_unclaimed_early_query_tidies_up(tmp_path: Path) -> None:
    db = _wal_copy(tmp_path)
    _early.start(db)
    _early.finish()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walproj.db"]


def test_failing_command_leaves_no_sidecars(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    """A second SOURCE that does not exist fails before any reader opens the first."""
    db = _wal_copy(tmp_path)
    result = cli("analyze", str(db), str(tmp_path / "missing.db"))
    assert result.exit_code == 1
    assert "missing.db" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walproj.db"]


def test_real_process_leaves_no_sidecars(tmp_path: Path) -> None:
    db = _wal_copy(tmp_path)
    for args in (
        ["analyze", "--json", str(db)],
        ["analyze", str(db), str(tmp_path / "no.db")],
        ["analyze", "--no-such-option", str(db)],  # started by the entry point, never claimed
        ["plot", f"{db},{tmp_path / 'no.db'}", "-o", str(tmp_path / "x.html")],
    ):
        subprocess.run(
            [sys.executable, "-m", "trackio_tool", *args], capture_output=True, check=False
        )
        assert sorted(p.name for p in tmp_path.iterdir()) == ["walproj.db"]


def test_not_a_database_is_left_to_the_reader(tmp_path: Path) -> None:
    text = tmp_path / "notes.db"
    text.write_text("not sqlite")
    _early.start(text)
    early, before = _early.claim(text)
    assert early is not None
    assert early.spans("run_id") is None  # it failed: the reader runs the query itself
    _early.release(early)
    assert before == {"-wal": False, "-shm": False}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def _spans_both_ways(db: Path, key: str) -> tuple[list[Any], list[Any]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return (
            sorted(_early.run_spans(con, key), key=repr),
            sorted(con.execute(_early.spans_sql(key)).fetchall(), key=repr),
        )
    finally:
        con.close()


@pytest.mark.parametrize(
    ("fixture", "key"),
    [("trackio-0.43.0", "run_id"), ("trackio-0.20.2", "run_name"), ("trackio-0.2.9", "run_name")],
)
def test_run_spans_equal_the_plain_aggregate(tmp_path: Path, fixture: str, key: str) -> None:
    runs = 0
    for src in sorted((FIXTURES / fixture).glob("*.db")):
        db = tmp_path / src.name  # a read-only open of a WAL file adds -wal/-shm beside it
        shutil.copyfile(src, db)
        fast, plain = _spans_both_ways(db, key)
        assert fast == plain
        runs += len(fast)
    assert runs >= 3


def test_run_spans_seek_steps_the_way_the_aggregate_reads_them(tmp_path: Path) -> None:
    """Step ranges come from seeks in the (run_id, step) index: they must match the
    aggregate where steps go back (a resumed run), are NULL, or the run key is NULL."""
    db = tmp_path / "toyproj.db"
    shutil.copyfile(DB, db)
    con = sqlite3.connect(db)
    with con:
        (run,) = con.execute("SELECT run_id FROM metrics ORDER BY id LIMIT 1").fetchone()
        con.execute(
            "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics)"
            " SELECT run_id, timestamp, run_name, step - 1000, metrics FROM metrics"
            " WHERE run_id = ? LIMIT 3",
            (run,),
        )
    con.close()
    # NULLs: a copy of the table without the NOT NULL constraints, same indexes.
    nullable = tmp_path / "nullable.db"
    con = sqlite3.connect(nullable)
    with con:
        con.execute(
            "CREATE TABLE metrics (id INTEGER PRIMARY KEY, run_id TEXT, timestamp TEXT,"
            " run_name TEXT, step INTEGER, metrics TEXT)"
        )
        con.execute("CREATE INDEX idx_metrics_run_step ON metrics(run_id, step)")
        con.executemany(
            "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?, ?, ?, ?, ?)",
            [
                ("a", "t", "a", 5, "{}"),
                ("a", "t", "a", None, "{}"),
                ("a", "t", "a", 2, "{}"),
                (None, "t", "x", 7, "{}"),
                (None, "t", "x", 3, "{}"),
                ("b", "t", "b", None, "{}"),
            ],
        )
    con.close()
    for path in (db, nullable):
        fast, plain = _spans_both_ways(path, "run_id")
        assert fast == plain
    assert ("b", 1, None, None, 6, 6) in fast


def test_entry_point_starts_the_queries_of_the_files_it_names(tmp_path: Path) -> None:
    """Before typer is imported, only `.db` arguments of analyze and plot are started."""
    from trackio_tool import _entry

    a, b = tmp_path / "a.db", tmp_path / "b.db"
    for p in (a, b):
        shutil.copyfile(DB, p)
    _early.finish()  # forget what earlier tests started
    try:
        _entry.start_early(["merge", "--from", str(a), "--into", str(b)])
        assert not _early._started
        _entry.start_early(["plot", f"{a},{b}", "--run", "x", "-o", str(tmp_path / "p.png")])
        assert sorted(_early._started) == sorted(_early._id(p) for p in (a, b))
    finally:
        _early.finish()
    assert not _early._started
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.db", "b.db"]
