"""Trackio's own project lock, so a running Trackio waits for us instead of failing (§1, §10).

Trackio (0.3.4+) wraps every write in ``flock(LOCK_EX)`` on
``<TRACKIO_DIR>/<project>.lock`` and gives up after ~10 s. The folder of a
project's ``.db`` *is* its TRACKIO_DIR, so the lock sits beside the database.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from trackio_tool.errors import WriteError

try:  # pragma: no cover - Windows has no fcntl; Trackio itself uses msvcrt there
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

LOCK_TIMEOUT = 60.0
BUSY_TIMEOUT = 30.0


def lock_path(db: Path) -> Path:
    return db.with_name(f"{db.stem}.lock")


@contextlib.contextmanager
def project_lock(db: Path, *, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold Trackio's lock of the project stored in ``db``.

    The lock file is created only where the folder is writable (a Trackio
    that could log there would create it too); otherwise SQLite's own
    locking is all there is.
    """
    path = lock_path(db)
    if fcntl is None or not (path.exists() or os.access(path.parent, os.W_OK)):
        yield
        return
    try:
        fh = path.open("a")
    except OSError:
        yield
        return
    with fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if time.monotonic() >= deadline:
                    raise WriteError(
                        f"{path} is held by another process (a Trackio run logging to"
                        f" {db.stem}?) for more than {timeout:.0f} s; nothing was changed,"
                        " try again when it is idle"
                    ) from exc
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def connect_rw(db: Path, *, timeout: float = BUSY_TIMEOUT) -> sqlite3.Connection:
    """A read-write connection in autocommit mode: transactions are explicit.

    The journal mode is left as the file has it (WAL for Trackio 0.3.4+).
    In WAL mode the settings are Trackio's own (``synchronous=NORMAL``: a
    commit is atomic, and durable from the next checkpoint), and the
    checkpoint is left to :func:`checkpoint`, after the project lock is
    released: Trackio's writers should wait for our commit, not for a copy of
    it into the main file.
    """
    con = sqlite3.connect(str(db), timeout=timeout, isolation_level=None)
    con.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    con.execute("PRAGMA cache_size = -131072")  # 128 MiB: index updates of a big merge
    if str(con.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        con.execute("PRAGMA synchronous = NORMAL")
        con.execute("PRAGMA wal_autocheckpoint = 0")
    return con


def begin_immediate(con: sqlite3.Connection, *, timeout: float = BUSY_TIMEOUT) -> None:
    """``BEGIN IMMEDIATE``, waiting up to ``timeout`` for another writer in short slices.

    SQLite's busy handler sleeps inside C, where Python runs no signal handler: a
    process that holds the database's write lock without Trackio's lock file (the
    ``sqlite3`` shell, a DB browser) made a Ctrl-C wait out the whole 30 s timeout.
    Between slices the interrupt is seen at once.
    """
    deadline = time.monotonic() + timeout
    con.execute(f"PRAGMA busy_timeout = {_SLICE_MS}")
    try:
        while True:
            try:
                con.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or time.monotonic() >= deadline:
                    raise
    finally:
        con.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")


_SLICE_MS = 100


def _busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)  # type: ignore[attr-defined]
    return "locked" in str(exc)


def checkpoint(con: sqlite3.Connection) -> None:
    """Copy committed WAL pages into the database file without blocking anyone."""
    with contextlib.suppress(sqlite3.Error):
        con.execute("PRAGMA wal_checkpoint(PASSIVE)")
