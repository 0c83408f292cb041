"""Bad input to analyze: one clean line on stderr, exit 1, nothing modified."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.conftest import FIXTURES, tree_digest


def _one_clean_line(result: Any, *needles: str) -> None:
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _make_empty(tmp: Path) -> Path:
    p = tmp / "empty.db"
    p.write_bytes(b"")
    return p


def _make_text(tmp: Path) -> Path:
    p = tmp / "notes.db"
    p.write_text("this is not a database\n")
    return p


def _make_no_metrics(tmp: Path) -> Path:
    p = tmp / "other.db"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT)")
    con.commit()
    con.close()
    return p


def _make_truncated(tmp: Path) -> Path:
    src = (FIXTURES / "trackio-0.20.2" / "toyproj.db").read_bytes()
    p = tmp / "truncated.db"
    p.write_bytes(src[: len(src) // 3])
    return p


def _make_parquet_without_run_name(tmp: Path) -> Path:
    p = tmp / "weird.parquet"
    pl.DataFrame({"step": [0, 1], "loss": [0.5, 0.4]}).write_parquet(p)
    return p


def _make_parquet_with_null_run_names(tmp: Path) -> Path:
    p = tmp / "proj.parquet"
    pl.DataFrame({"run_name": ["a", None], "step": [0, 1], "loss": [0.5, 0.4]}).write_parquet(p)
    return p


def _make_parquet_with_text_steps(tmp: Path) -> Path:
    p = tmp / "proj.parquet"
    pl.DataFrame({"run_name": ["a", "a"], "step": ["s0", "s1"], "loss": [0.5, 0.4]}).write_parquet(
        p
    )
    return p


def _make_garbage_parquet(tmp: Path) -> Path:
    p = tmp / "broken.parquet"
    p.write_bytes(b"PAR1 but not really")
    return p


def _make_empty_dir(tmp: Path) -> Path:
    d = tmp / "nothing-here"
    d.mkdir()
    (d / "readme.txt").write_text("hi")
    return d


def _make_wrong_suffix(tmp: Path) -> Path:
    p = tmp / "data.csv"
    p.write_text("a,b\n1,2\n")
    return p


def _make_fifo(tmp: Path) -> Path:
    p = tmp / "pipe.db"
    os.mkfifo(p)
    return p


def _make_device_link(tmp: Path) -> Path:
    p = tmp / "zeros.parquet"
    p.symlink_to("/dev/zero")
    return p


def _make_symlink_loop(tmp: Path) -> Path:
    p = tmp / "loop.db"
    p.symlink_to(p)
    return p


def _make_no_payload_column(tmp: Path) -> Path:
    p = tmp / "toyproj.db"
    con = sqlite3.connect(p)
    con.execute(
        "CREATE TABLE metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT NOT NULL,"
        " run_name TEXT NOT NULL, step INTEGER NOT NULL)"
    )
    con.execute("INSERT INTO metrics (timestamp, run_name, step) VALUES ('2026-01-01', 'a', 0)")
    con.commit()
    con.close()
    return p


def _loose_db_with(row: tuple[Any, ...]) -> Callable[[Path], Path]:
    """A metrics table without Trackio's NOT NULLs, a good row and ``row``."""

    def make(tmp: Path) -> Path:
        p = tmp / "toyproj.db"
        con = sqlite3.connect(p)
        con.execute(
            "CREATE TABLE metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT,"
            " run_name TEXT, step INTEGER, metrics TEXT)"
        )
        con.executemany(
            "INSERT INTO metrics (timestamp, run_name, step, metrics) VALUES (?, ?, ?, ?)",
            [("2026-01-01T00:00:00", "a", 0, '{"loss": 1}'), row],
        )
        con.commit()
        con.close()
        return p

    return make


CASES: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "empty file": (_make_empty, ("empty",)),
    "text file named .db": (_make_text, ("not an SQLite database",)),
    "db without metrics table": (_make_no_metrics, ("no metrics table",)),
    "truncated db": (_make_truncated, ("damaged",)),
    "parquet without run_name": (_make_parquet_without_run_name, ("no run_name column",)),
    "garbage parquet": (_make_garbage_parquet, ("not a readable parquet file",)),
    "folder without projects": (_make_empty_dir, ("no Trackio projects",)),
    "unknown file type": (_make_wrong_suffix, ("not a Trackio project file",)),
    # found by the bad-input fuzz: a FIFO hung every command, /dev/zero ran out of memory
    "fifo named .db": (_make_fifo, ("is not a regular file",)),
    "link to a device": (_make_device_link, ("is not a regular file",)),
    "symlink loop": (_make_symlink_loop, ("Too many levels of symbolic links",)),
    # values Trackio's schema rules out ("unexpected TypeError/ComputeError" before)
    "a NULL run_name": (
        _loose_db_with(("2026-01-01T00:00:01", None, 1, '{"loss": 2}')),
        ("metrics rows without a run_name",),
    ),
    # found by the bad-input fuzz: merged into, it took rows and dropped their values
    "no payload column": (_make_no_payload_column, ("its metrics table has no 'metrics' column",)),
    # read-side fuzz: those rows were left out without a word
    "parquet rows without a run_name": (
        _make_parquet_with_null_run_names,
        ("1 of 2 rows have no run_name",),
    ),
    "parquet with text steps": (
        _make_parquet_with_text_steps,
        ("its step column holds String, not numbers",),
    ),
    "a text step": (
        _loose_db_with(("2026-01-01T00:00:01", "a", "abc", '{"loss": 2}')),
        ("a step, time or run key of the wrong type",),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(cli: Any, tmp_path: Path, case: str) -> None:
    make, needles = CASES[case]
    target = make(tmp_path)
    before = tree_digest(tmp_path)
    for extra in ([], ["--json"]):
        _one_clean_line(cli("analyze", str(target), *extra), *needles)
    assert tree_digest(tmp_path) == before


def test_missing_path_and_unknown_project(cli: Any, tmp_path: Path) -> None:
    _one_clean_line(cli("analyze", str(tmp_path / "missing.db")), "no such file")
    _one_clean_line(cli("analyze", "no-such-project"), "no such file or project")


def test_companion_parquet_points_at_main_file(cli: Any) -> None:
    _one_clean_line(
        cli("analyze", str(FIXTURES / "trackio-0.43.0" / "toyproj_system.parquet")),
        "companion file of toyproj.parquet",
    )


def test_missing_trackio_dir(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKIO_DIR", str(tmp_path / "absent"))
    _one_clean_line(cli("analyze"), "does not exist")


def test_trackio_dir_that_is_a_file(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("TRACKIO_DIR", str(tmp_path / "file"))
    _one_clean_line(cli("analyze"), "Trackio directory", "is not a folder")


@pytest.mark.parametrize(
    ("spec", "fixed"),
    [
        ("hf:/org/ds/p.db", "hf://org/ds/p.db"),
        ("ssh:host/p.db", "ssh://host/p.db"),
        ("file:/tmp/p.db", "file:///tmp/p.db"),
    ],
)
def test_url_with_a_slash_missing_says_so(cli: Any, spec: str, fixed: str) -> None:
    _one_clean_line(cli("analyze", spec), f"a URL takes two slashes: {fixed}")


def test_debug_env_shows_traceback(tmp_path: Path) -> None:
    bad = _make_text(tmp_path)
    env = {**os.environ, "TRACKIO_TOOL_DEBUG": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "trackio_tool", "analyze", str(bad)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr
    assert "NotATrackioFileError" in proc.stderr


def test_usage_error_exits_2(cli: Any) -> None:
    result = cli("analyze", "--no-such-option")
    assert result.exit_code == 2
    assert "No such option" in result.stderr


def test_unreadable_file(tmp_path: Path) -> None:
    """A file we may not read: permission error in one line (run as nobody when root)."""
    db = tmp_path / "secret.db"
    db.write_bytes((FIXTURES / "trackio-0.43.0" / "toyproj.db").read_bytes())
    db.chmod(0o000)
    tmp_path.chmod(0o755)
    before = tree_digest(tmp_path) if os.geteuid() == 0 else None
    prefix: list[str] = []
    if os.geteuid() == 0:
        # root reads any file; drop the capabilities that let it (util-linux setpriv).
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to test permissions as root"
        caps = "-dac_override,-dac_read_search"
        prefix = [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}"]
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "trackio_tool", "analyze", str(db)],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), proc.stderr
    assert "permission denied" in lines[0].lower()
    if before is not None:
        assert tree_digest(tmp_path) == before


def test_a_full_disk_is_not_called_damage(
    fixture_copy: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening a WAL file needs room for its -wal/-shm; on a full disk SQLite says "disk I/O
    error" about a healthy file, and the advice was to .recover it (write-side fuzz, on a
    full tmpfs). Here the disk reports 4 KB free."""
    from trackio_tool.errors import CorruptFileError, SourceError
    from trackio_tool.store.sqlite import SqliteReader

    db = fixture_copy("trackio-0.43.0") / "toyproj.db"
    with SqliteReader(db) as reader:
        err = sqlite3.OperationalError("disk I/O error")
        assert isinstance(reader.translate(err), CorruptFileError)
        usage = shutil.disk_usage(db.parent)
        monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=4096))
        got = reader.translate(err)
    assert isinstance(got, SourceError)
    assert "disk is full" in str(got)


@pytest.mark.parametrize(
    ("fixture", "page", "command"),
    [("trackio-0.20.2", 5, "analyze"), ("trackio-0.2.9", 3, "merge-into")],
)
def test_a_damaged_page_met_by_a_worker_is_one_line(
    cli: Any, tmp_path: Path, fixture: str, page: int, command: str
) -> None:
    """A zeroed b-tree page read on a worker's connection (the run spans) or by a
    merge's target checks ended in "unexpected DatabaseError" (bad-input fuzz)."""
    shutil.copytree(FIXTURES / fixture, tmp_path / "p")
    db = tmp_path / "p" / "toyproj-edge.db"
    data = bytearray(db.read_bytes())
    data[page * 4096 : (page + 1) * 4096] = bytes(4096)
    db.write_bytes(bytes(data))
    before = tree_digest(tmp_path)
    if command == "analyze":
        r = cli("analyze", str(db), "--json")
    else:
        src = tmp_path / "src.db"
        shutil.copy(FIXTURES / "trackio-0.43.0" / "toyproj-edge.db", src)
        before = tree_digest(tmp_path)
        r = cli("merge", "--from", str(src), "--into", str(db), "--dry-run")
    _one_clean_line(r, f"{db} is damaged and cannot be read")
    assert tree_digest(tmp_path) == before


def test_payloads_nested_absurdly_deep(cli: Any, tmp_path: Path) -> None:
    """Found by the bad-input fuzz: '[' * 50000 ended analyze in "unexpected
    RecursionError". It is now an unreadable row; a 900-level object, which the
    parser accepts, stops plot with one line."""
    db = _loose_db_with(("2026-01-01T00:00:01", "a", 1, "[" * 50000 + "]" * 50000))(tmp_path)
    r = cli("analyze", str(db), "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["projects"][0]["runs"][0]["rows"] == 2
    deep = tmp_path / "deep"
    deep.mkdir()
    db = _loose_db_with(("2026-01-01T00:00:01", "a", 1, '{"a":' * 900 + "1" + "}" * 900))(deep)
    before = tree_digest(tmp_path)
    _one_clean_line(cli("plot", str(db), "-o", str(tmp_path / "p.html")), "nested too deeply")
    assert tree_digest(tmp_path) == before
