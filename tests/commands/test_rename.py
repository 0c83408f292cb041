"""``trackio-tool rename``: every table, the media folder and the media paths."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

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
        f"Renamed run 'gamma' (72fff155) to 'delta' in {db}: 126 rows (metrics 120, configs 1,"
        " system_metrics 3, alerts 1, traces 1), 4 media files moved\n"
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
    assert r.stdout.endswith(": 120 rows (metrics 120), 4 media files moved\n")
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
        "note: media/toyproj/gamma/ also holds 1 file that is not this run's"
        " (another run named 'gamma' shares the folder): it was kept\n"
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
    r = cli("rename", str(db), "--run", "gamma", "--to", "a/b")
    _one_clean_line(r, "'a/b' would escape", "choose another name")
    assert "--no-media" not in r.stderr  # rename has no such option (found by the fuzz)
    _one_clean_line(cli("rename", str(db), "--run", "gamma", "--to", "  "), "empty")
    _one_clean_line(cli("rename", str(db), "--run", "gamma", "--to", "x" * 300), "(300 bytes)")
    for name in ("two\nlines", "tab\there", "esc\x1b[31m", "line\u2028separator"):
        _one_clean_line(
            cli("rename", str(db), "--run", "gamma", "--to", name), "contains a control character"
        )
    _one_clean_line(cli("rename", str(db), "--run", "gamma,alpha", "--to", "x"), "exactly one")
    _one_clean_line(cli("rename", str(db), "--run", "nope", "--to", "x"), "no run 'nope'")
    r = cli("rename", str(db), "--to", "x")  # a usage error, as a missing --to is
    assert (r.exit_code, r.stdout) == (2, ""), r.stderr
    assert "Missing option '--run'" in r.stderr
    assert tree_digest(d) == before
    r = cli("rename", str(db), "--run", BETA_2, "--to", "beta-resumed")
    assert r.exit_code == 0, r.stderr
    assert _rows(db, "SELECT DISTINCT run_name FROM metrics WHERE run_id = ?", BETA_2) == [
        ("beta-resumed",)
    ]


def _escaped_project(tmp_path: Path, name: str, *, run_id: bool) -> Path:
    """A project whose payloads spell the run name with JSON escapes (json.dumps' ASCII
    escapes as trackio <= 0.4 wrote them, or an escaped quote), with one image."""
    d = tmp_path / "escaped"
    db = d / "proj.db"
    (d / "media" / "proj" / name / "0").mkdir(parents=True)
    (d / "media" / "proj" / name / "0" / "u1.png").write_bytes(b"png")
    con = sqlite3.connect(db)
    with con:
        con.execute(
            "CREATE TABLE metrics (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            + (" run_id TEXT NOT NULL," if run_id else "")
            + " timestamp TEXT NOT NULL, run_name TEXT NOT NULL, step INTEGER NOT NULL,"
            " metrics TEXT NOT NULL)"
        )
        image = {"_type": "trackio.image", "file_path": f"media/proj/{name}/0/u1.png"}
        for rid in ("r1", "r2") if run_id else ("r1",):
            payload = json.dumps({"loss": 0.5, "samples": image} if rid == "r1" else {"loss": 1})
            cols = "run_id, " if run_id else ""
            con.execute(
                f"INSERT INTO metrics ({cols}timestamp, run_name, step, metrics)"
                f" VALUES ({'?, ' if run_id else ''}'2026-01-01T00:00:00', ?, 0, ?)",
                ((rid,) if run_id else ()) + (name, payload),
            )
    con.close()
    return db


def test_rename_finds_media_paths_written_with_json_escapes(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    """Found by the write-side fuzz: the run name was matched only as orjson writes it,
    so a legacy file's "caf\\u00e9" kept pointing at the old folder after the move, and
    an escaped quote in a shared folder moved nothing."""
    for name, run_id in (("café", False), ('q"x', True)):
        db = _escaped_project(tmp_path / name.replace('"', "_"), name, run_id=run_id)
        assert "\\" in _rows(db, "SELECT metrics FROM metrics")[0][0]  # escaped in the file
        r = cli("rename", str(db), "--run", "r1" if run_id else name, "--to", "new")
        assert r.exit_code == 0, r.stderr
        (path,) = _paths(db)
        assert path == "media/proj/new/0/u1.png"
        assert (db.parent / path).read_bytes() == b"png"


def test_merge_moves_media_paths_of_an_escaped_project_name(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    """The project segment of a legacy path ("caf\\u00e9/...") is rewritten too."""
    src = _escaped_project(tmp_path, "run", run_id=False)
    legacy = src.with_name("café.db")
    src.rename(legacy)
    (src.parent / "media" / "proj").rename(src.parent / "media" / "café")
    con = sqlite3.connect(legacy)
    with con:
        con.execute("UPDATE metrics SET metrics = replace(metrics, 'proj', 'caf\\u00e9')")
    con.close()
    target = tmp_path / "out" / "t.db"
    target.parent.mkdir()
    r = cli("merge", "--from", str(legacy), "--into", str(target))
    assert r.exit_code == 0, r.stderr
    (path,) = _paths(target)
    assert path == "media/t/run/0/u1.png"
    assert (target.parent / path).read_bytes() == b"png"


def test_a_referenced_path_with_dot_dot_is_not_moved(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    """One of two runs named beta is renamed: only files its rows reference move. A
    crafted reference 'media/toyproj/beta/../../../sentinel.txt' passed the prefix
    check and ended the rename in "unexpected SameFileError" (bad-input fuzz)."""
    d = fixture_copy("trackio-0.43.0")
    (d / "sentinel.txt").write_text("not a media file\n")
    (d / "media" / "toyproj" / "beta" / "0").mkdir(parents=True)
    (d / "media" / "toyproj" / "beta" / "0" / "img.png").write_bytes(b"png")
    con = sqlite3.connect(d / "toyproj.db")
    with con:
        con.execute(
            "UPDATE metrics SET metrics = ? WHERE rowid = (SELECT MIN(rowid) FROM metrics"
            " WHERE run_id = ?)",
            (
                b'{"samples": {"_type": "trackio.image",'
                b' "file_path": "media/toyproj/beta/../../../sentinel.txt"}}',
                BETA_2,
            ),
        )
    con.close()
    r = cli("rename", str(d / "toyproj.db"), "--run", BETA_2, "--to", "zeta")
    assert r.exit_code == 0, r.stderr
    assert (d / "sentinel.txt").read_text() == "not a media file\n"
    assert (d / "media" / "toyproj" / "beta" / "0" / "img.png").is_file()
    assert not (d / "media" / "toyproj" / "zeta").exists()


def test_rename_leaves_files_no_row_references(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    """Found by the live-writer stress test: rename moved the image files that a run Trackio
    was logging under the same name had written before its rows; its rows then pointed at
    missing files. Only the files this run's rows reference move."""
    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    live = d / "media" / "toyproj" / "gamma" / "0" / "0e6c1f0e-live.png"
    live.write_bytes(b"live")
    r = cli("rename", str(db), "--run", "gamma", "--to", "delta")
    assert r.exit_code == 0, r.stderr
    assert "also holds 1 file that is not this run's (no row references them" in r.stderr
    assert live.read_bytes() == b"live"
    assert len(list((d / "media" / "toyproj" / "delta").rglob("*.png"))) == 4
    assert all((d / "media" / p).is_file() for p in _paths(db))


class _CtrlCAfterCommit(sqlite3.Connection):
    """SQLite's connection, with the Ctrl-C that Python raises as a long COMMIT returns."""

    locked = False

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        cursor = super().execute(sql, *args)
        self.locked = self.locked or sql == "BEGIN IMMEDIATE"  # the locked write
        if sql == "COMMIT" and self.locked:
            raise KeyboardInterrupt
        return cursor


@pytest.mark.parametrize("command", ["rename", "merge"])
def test_ctrl_c_right_after_the_commit_keeps_the_media(
    cli: Callable[..., Any],
    fixture_copy: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: str,
) -> None:
    """Found by the live-writer stress test: a Ctrl-C during COMMIT (raised as it returns)
    took back the media the command had put in place, though the rows were committed:
    the renamed or merged run's images were gone."""
    d = fixture_copy("trackio-0.43.0")
    if command == "rename":
        db, args = (
            d / "toyproj.db",
            ["rename", str(d / "toyproj.db"), "--run", "gamma", "--to", "delta"],
        )
    else:
        db = tmp_path / "t" / "target.db"  # an existing target (a new one is linked last)
        assert (
            cli(
                "merge", "--from", str(d / "toyproj.db"), "--into", str(db), "-r", "alpha"
            ).exit_code
            == 0
        )
        args = ["merge", "--from", str(d / "toyproj.db"), "--into", str(db), "--run", "gamma"]
    connect = sqlite3.connect

    def write_connections_interrupted(*a: Any, **kw: Any) -> sqlite3.Connection:
        if a and a[0] == str(db) and kw.get("isolation_level", "") is None:  # _lock.connect_rw
            kw["factory"] = _CtrlCAfterCommit
        return connect(*a, **kw)

    monkeypatch.setattr(sqlite3, "connect", write_connections_interrupted)
    r = cli(*args)
    monkeypatch.setattr(sqlite3, "connect", connect)
    assert r.exit_code == 130
    assert r.stderr.startswith(f"interrupted after the change to {db} was committed")
    paths = _paths(db)
    assert len(paths) == 4
    assert all((db.parent / "media" / p).is_file() for p in paths)


def test_a_run_dropped_while_rename_waits_is_an_error(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    """Found by the live-writer stress test: rename planned, another process dropped the
    run, and rename still said it had renamed it. The plan is checked again under the lock."""
    import fcntl
    import threading
    import time

    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    results: list[Any] = []
    with (d / "toyproj.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a Trackio write in progress
        worker = threading.Thread(
            target=lambda: results.append(cli("rename", str(db), "--run", "gamma", "--to", "delta"))
        )
        worker.start()
        time.sleep(1.5)  # rename has planned and waits for the lock
        con = sqlite3.connect(db)
        with con:  # another process drops the run (SQLite's own locking suffices here)
            for table in ("metrics", "configs", "system_metrics", "alerts", "traces"):
                con.execute(f"DELETE FROM {table} WHERE run_id = ?", (GAMMA,))
        con.close()
        fcntl.flock(lock, fcntl.LOCK_UN)
    worker.join(30)
    _one_clean_line(
        results[0], "run 'gamma' changed while this command waited", "nothing was changed"
    )
    assert len(list((d / "media" / "toyproj" / "gamma").rglob("*.png"))) == 4
    assert not (d / "media" / "toyproj" / "delta").exists()


def split_gamma(d: Path) -> Path:
    """gamma's rows from step 60 on carry the name "gamma-old", their images in
    media/toyproj/gamma-old/: what Trackio leaves when a run it is still logging is
    renamed (its process goes on writing under the old name)."""
    db = d / "toyproj.db"
    con = sqlite3.connect(db)
    with con:
        con.execute(
            "UPDATE metrics SET run_name = 'gamma-old',"
            " metrics = replace(CAST(metrics AS TEXT), 'toyproj/gamma/', 'toyproj/gamma-old/')"
            " WHERE run_id = ? AND step >= 60",
            (GAMMA,),
        )
    con.close()
    media = d / "media" / "toyproj"
    for step in ("60", "90"):
        (media / "gamma-old").mkdir(exist_ok=True)
        (media / "gamma" / step).rename(media / "gamma-old" / step)
    return db


def test_rename_a_run_logged_under_two_names(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    """Found by the second live-writer run: renaming a run Trackio is still logging leaves
    its id under two names, and neither rename nor drop could act on it again."""
    d = fixture_copy("trackio-0.43.0")
    db = split_gamma(d)
    r = cli("rename", str(db), "--run", "gamma-old", "--to", "delta")
    assert r.exit_code == 0, r.stderr
    assert "carried the names 'gamma', 'gamma-old'" in r.stderr
    assert _rows(db, "SELECT DISTINCT run_name FROM metrics WHERE run_id = ?", GAMMA) == [
        ("delta",)
    ]
    paths = _paths(db)
    assert all(p.startswith("toyproj/delta/") for p in paths)
    assert all((d / "media" / p).is_file() for p in paths)
    assert not (d / "media" / "toyproj" / "gamma").exists()
    assert not (d / "media" / "toyproj" / "gamma-old").exists()


def test_rename_moves_the_files_of_rows_logged_after_its_plan(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    """Found by the second live-writer run: rename listed the run's files before taking the
    lock, so the rows a still-running Trackio added meanwhile were renamed while their files
    stayed in the old folder."""
    import fcntl
    import threading
    import time

    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    results: list[Any] = []
    late = d / "media" / "toyproj" / "gamma" / "120" / "0e6c1f0e-late.png"
    with (d / "toyproj.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # Trackio is writing
        worker = threading.Thread(
            target=lambda: results.append(cli("rename", str(db), "--run", "gamma", "--to", "delta"))
        )
        worker.start()
        time.sleep(1.5)  # rename has planned and waits for the lock
        late.parent.mkdir()
        late.write_bytes(b"late")
        con = sqlite3.connect(db)
        with con:
            con.execute(
                "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics)"
                " VALUES (?, '2026-01-01T00:00:00+00:00', 'gamma', 120, ?)",
                (
                    GAMMA,
                    '{"samples": {"_type": "trackio.image", "file_path":'
                    ' "toyproj/gamma/120/0e6c1f0e-late.png"}}',
                ),
            )
        con.close()
        fcntl.flock(lock, fcntl.LOCK_UN)
    worker.join(30)
    assert results[0].exit_code == 0, results[0].stderr
    paths = _paths(db)
    assert "toyproj/delta/120/0e6c1f0e-late.png" in paths
    assert all((d / "media" / p).is_file() for p in paths)


def test_files_another_run_references_stay_where_its_rows_point(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    """Found by the write-side fuzz (round 3): drop deleted, and rename moved, a file that a
    row of a run they kept also referenced; and rename rewrote a path into another
    project's folder (``merge --no-media`` leaves those) without moving its file."""
    from trackio_tool.store.write import drop

    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    shared = sorted((d / "media" / "toyproj" / "gamma" / "0").iterdir())[0]
    other = d / "media" / "otherproj" / "gamma" / "0" / "z.png"
    other.parent.mkdir(parents=True)
    other.write_bytes(b"z")
    con = sqlite3.connect(db)
    with con:
        image = '{{"samples": {{"_type": "trackio.image", "file_path": "{}"}}}}'
        con.execute(
            "UPDATE metrics SET metrics = ? WHERE run_name = 'alpha' AND step = 5",
            (image.format(f"toyproj/gamma/0/{shared.name}"),),
        )
        con.execute(
            "UPDATE metrics SET metrics = ? WHERE run_id = ? AND step = 7",
            (image.format("otherproj/gamma/0/z.png"), GAMMA),
        )
    con.close()
    r = cli("rename", str(db), "--run", "gamma", "--to", "delta")
    assert r.exit_code == 0, r.stderr
    assert _paths(db).count("otherproj/gamma/0/z.png") == 1  # not this project's: as it was
    assert all((d / "media" / p).is_file() for p in _paths(db))
    drop(db, runs=["delta"])
    assert all((d / "media" / p).is_file() for p in _paths(db))
    assert shared.is_file()


def test_a_different_file_at_the_destination_is_refused(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    """Found by reading the code (write-side fuzz, round 3): when the new folder already
    held a file at the same relative path, rename kept that one and deleted the run's."""
    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    own = sorted((d / "media" / "toyproj" / "gamma" / "0").iterdir())[0]
    stray = d / "media" / "toyproj" / "delta" / "0" / own.name
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"stray")
    before = tree_digest(d)
    _one_clean_line(
        cli("rename", str(db), "--run", "gamma", "--to", "delta"),
        f"{stray} already exists with other content",
    )
    assert tree_digest(d) == before
