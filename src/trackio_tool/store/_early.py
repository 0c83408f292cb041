"""Start the run-span query of a local ``.db`` while Python is still importing.

A summary of a Trackio database starts with one aggregate over every row: per
run, its row count, step range and first/last rowid (``run_spans``, one scan of
Trackio's ``(run_id, step)`` index; ~0.4 s per million rows). It needs only
``sqlite3``, while the command itself first spends ~0.4 s importing polars and
resolving its sources on one core. ``start`` runs the query on a thread: the
console script (``_entry``) calls it for the ``.db`` arguments of analyze and plot
before it even imports typer, the commands again once their arguments are parsed
(a second call for the same file does nothing); it is usually done when the reader asks.

The result is only used if the file is unchanged since the query began (size
and mtime of the ``.db`` and of a non-empty ``-wal``). The read-only open may
create ``-wal``/``-shm`` beside a WAL database; whoever closes last removes
them again (``remove_created_sidecars``), under one lock, so they are never
removed while one of this process's connections still uses them.

Kept free of polars, like ``_sqlite_ro``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sqlite3
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from trackio_tool.store import _sqlite_ro

Spans = list[tuple[Any, ...]]


def spans_sql(key: str) -> str:
    """Per run of ``metrics``: key, rows, min step, max step, first and last rowid."""
    return (
        f"SELECT {key}, COUNT(*), MIN(step), MAX(step), MIN(rowid), MAX(rowid)"
        f" FROM metrics GROUP BY {key}"
    )


def run_spans(con: sqlite3.Connection, key: str) -> Spans:
    """``spans_sql``'s rows, faster where Trackio's ``(key, step)`` index exists.

    Each aggregate costs SQLite ~0.12 s per million rows; the step range of a
    run is the first and last entry of that index, two seeks per run. So the
    scan keeps only the count and the rowid range (1M rows: 0.39 s, not 0.64 s).
    """
    if [key, "step"] not in [cols[:2] for cols in _sqlite_ro.index_columns(con, "metrics")]:
        return con.execute(spans_sql(key)).fetchall()
    # One statement: run while the command imports, a Python round trip per run
    # would wait for the GIL each time.
    return con.execute(
        f"SELECT k, n, (SELECT MIN(step) FROM metrics WHERE {key} IS k),"
        f" (SELECT MAX(step) FROM metrics WHERE {key} IS k), lo, hi FROM"
        f" (SELECT {key} AS k, COUNT(*) AS n, MIN(rowid) AS lo, MAX(rowid) AS hi"
        f" FROM metrics GROUP BY {key})"
    ).fetchall()


def _stamp(path: Path) -> tuple[Any, ...] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    try:
        wal = Path(f"{path}-wal").stat()
        wal_stamp = (wal.st_size, wal.st_mtime_ns) if wal.st_size else None
    except OSError:
        wal_stamp = None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, wal_stamp)


class Early:
    """One early query: its result, and the sidecar state before anything opened the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.before = _sqlite_ro.sidecars_present(path)
        self.stamp = _stamp(path)
        self.result: Future[tuple[str, Spans] | None] = Future()
        self.closed = threading.Event()  # its connection is closed
        self.claimed = False  # a reader took it over (and its sidecar duty)
        self.con: sqlite3.Connection | None = None

    def spans(self, key: str) -> Spans | None:
        """The early result for run key ``key``, if it is still the file's content."""
        try:
            got = self.result.result()
        except Exception:
            return None
        if got is None or got[0] != key or _stamp(self.path) != self.stamp:
            return None
        return got[1]


_lock = threading.Lock()
_started: dict[str, Early] = {}


def _id(path: Path) -> str:
    return os.path.realpath(path)


def start(path: str | os.PathLike[str]) -> None:
    """Begin the span query of ``path`` if it is a local SQLite file (else do nothing).

    Never raises: whatever is wrong with the argument is the command's to report.
    """
    try:
        p = Path(os.path.expanduser(path))  # (os.path leaves `~nosuchuser` as it is)
        if p.suffix != ".db" or not p.is_file():
            return
    except (OSError, ValueError, RuntimeError):
        return
    with _lock:
        if _id(p) in _started:
            return
        early = Early(p)
        _started[_id(p)] = early
    threading.Thread(target=_run, args=(early,), name="trackio-tool-early", daemon=True).start()


def _run(early: Early) -> None:
    try:
        with early.path.open("rb") as fh:
            if fh.read(len(_sqlite_ro.SQLITE_MAGIC)) != _sqlite_ro.SQLITE_MAGIC:
                raise ValueError("not an SQLite file")
        con = _sqlite_ro.connect_ro(early.path, timeout=5)
        early.con = con
        try:
            columns = {r[1] for r in con.execute("PRAGMA table_info(metrics)")}
            if "step" not in columns:
                raise ValueError("no metrics table with steps")
            key = "run_id" if "run_id" in columns else "run_name"
            early.result.set_result((key, run_spans(con, key)))
        finally:
            early.con = None
            con.close()
    except BaseException as exc:  # any failure: the reader simply runs the query itself
        if not early.result.done():
            early.result.set_exception(exc)
    finally:
        with _lock:
            if not early.claimed:
                _sqlite_ro.remove_created_sidecars(early.path, early.before)
            early.closed.set()


def claim(path: str | os.PathLike[str]) -> tuple[Early | None, dict[str, bool]]:
    """For a reader opening ``path``: the early query, if any, and the sidecar state to
    restore on close. Call before opening the file, and ``release`` on close."""
    p = Path(path)
    with _lock:
        early = _started.get(_id(p))
        if early is None or early.closed.is_set():
            # None ran, or it ran, closed and tidied up: the file is as the user left it.
            return early, _sqlite_ro.sidecars_present(p)
        early.claimed = True
        return early, early.before


def release(early: Early | None) -> None:
    """Wait until the early connection is closed (before removing sidecars)."""
    if early is not None:
        early.closed.wait()


@atexit.register
def finish() -> None:
    """Stop early queries nobody used and wait until they have tidied up.

    A command that fails before a reader claims its file must not leave the early
    open's -wal/-shm behind. The CLI calls this when a command ends (and at exit);
    finished queries are then forgotten, so no later command reuses their result.
    """
    with _lock:
        pending = [e for e in _started.values() if not e.closed.is_set()]
    for early in pending:
        con = early.con
        if con is not None:
            with contextlib.suppress(Exception):
                con.interrupt()
        early.closed.wait(timeout=10)
    with _lock:
        for key in [k for k, e in _started.items() if e.closed.is_set()]:
            del _started[key]
