"""Open an SQLite file read-only in place, leaving the folder as it was.

Kept free of polars so shell completion can use it on every TAB.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

SIDECARS = ("-wal", "-shm")
SQLITE_MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite file


def quote_name(name: str) -> str:
    """An SQL identifier, quoted (a table or index may be called anything)."""
    return '"' + name.replace('"', '""') + '"'


def index_columns(con: sqlite3.Connection, table: str) -> list[list[str]]:
    """The column lists of ``table``'s indexes. A partial index (``WHERE ...``) holds
    only some rows, so no query for a run or a step range can use it: left out."""
    return [
        [c[2] for c in con.execute(f"PRAGMA index_info({quote_name(row[1])})").fetchall()]
        for row in con.execute(f"PRAGMA index_list({quote_name(table)})").fetchall()
        if not row[4]
    ]


def connect_ro(path: Path, *, timeout: float = 30) -> sqlite3.Connection:
    """``mode=ro`` (never ``immutable=1``): rows that live only in ``-wal`` are seen."""
    # fsencode: a file name that is not UTF-8 (surrogate-escaped by Python) still opens.
    uri = f"file:{quote(os.fsencode(Path(path).absolute()))}?mode=ro"
    con = sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)
    con.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    return con


def sidecars_present(path: Path) -> dict[str, bool]:
    return {sfx: Path(f"{path}{sfx}").exists() for sfx in SIDECARS}


def remove_created_sidecars(path: Path, before: dict[str, bool]) -> None:
    """Delete the empty -wal/-shm a read-only open created, if nobody else uses them.

    A read-only open of a WAL database creates them when missing and cannot
    delete them on close. SQLite keeps a shared lock on byte 128 of -shm (the
    "DMS" byte) while a connection uses it; if we can take it exclusively, no
    other process has the database open and the files are ours to remove.
    """
    if before.get("-wal") or before.get("-shm"):
        return
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    try:
        if not wal.exists() or wal.stat().st_size != 0 or not shm.exists():
            return
        import fcntl

        with shm.open("rb+") as fh:
            try:
                fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)
            except OSError:
                return  # someone opened the database meanwhile: leave it alone
            try:
                if wal.stat().st_size == 0:
                    wal.unlink()
                    shm.unlink()
            finally:
                fcntl.lockf(fh, fcntl.LOCK_UN, 1, 128)
    except OSError:
        return


@contextlib.contextmanager
def read_only(path: Path, *, timeout: float = 30) -> Iterator[sqlite3.Connection]:
    """A read-only connection that tidies up after itself."""
    before = sidecars_present(path)
    con = connect_ro(path, timeout=timeout)
    try:
        yield con
    finally:
        con.close()
        remove_created_sidecars(path, before)
