"""Download cache for remote SQLite projects (TRACKIO_FORMATS.md §10).

A remote ``<project>.db`` is copied to ``<cache>/<hash of its URL>/<project>.db``
as ONE self-contained file: whatever sat in ``-wal`` is checkpointed into the
copy, so readers never depend on a sidecar. ``stamp.json`` beside it records
what the remote files looked like (size + mtime, or the Hub's blob id / xet
hash); a later command whose remote stamp matches downloads nothing.

Consistency: a live Trackio database keeps fresh rows in ``-wal``, and a
checkpoint may rewrite ``.db`` while we copy it. A backend that can snapshot
on the remote host (SSH with ``sqlite3``) does so; otherwise ``.db`` and
``-wal`` are fetched together, the copy is kept only if ``.db`` did not change
meanwhile and ``PRAGMA quick_check`` passes, with one retry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fsspec import AbstractFileSystem

from trackio_tool.errors import CorruptFileError
from trackio_tool.sources._transfer import get_files

CACHE_ENV = "TRACKIO_TOOL_CACHE"
_STAMP_VERSION = 2  # 2: mtimes as epoch seconds
_SQLITE_MAGIC = b"SQLite format 3\x00"
# Keys of fs.info() that change when a file's content does (per backend).
_VALIDATORS = (
    "mtime",  # sshfs (datetime), modal (epoch s), local, bucket files
    "blob_id",  # Hub git oid of a dataset file
    "xet_hash",  # Hub xet hash (buckets, xet-backed repos)
    "lfs",  # Hub LFS pointer (sha256)
    "etag",
    "ETag",
    "LastModified",
    "last_modified",
    "md5",
    "oid",
    "checksum",
    "created",  # memory://
)

# (remote .db path, local destination) -> True if a consistent snapshot was
# written there, False if this backend/host cannot snapshot (then we copy).
Snapshotter = Callable[[str, Path], bool]


def cache_dir() -> Path:
    """``$TRACKIO_TOOL_CACHE`` or the platform's user cache folder."""
    if env := os.environ.get(CACHE_ENV):
        return Path(os.path.expanduser(env))
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("trackio-tool")) / "downloads"


def entry_dir(url: str) -> Path:
    return cache_dir() / hashlib.sha256(url.encode()).hexdigest()[:24]


# Validators that change with the content itself, not only with the time.
_CONTENT_VALIDATORS = frozenset(_VALIDATORS) - {"mtime", "LastModified", "last_modified", "created"}
# Entries read by this process: URL -> stamp file (see ``discard``).
_USED: dict[str, Path] = {}


def _stamp(info: dict[str, Any] | None) -> dict[str, Any] | None:
    if info is None:
        return None
    out: dict[str, Any] = {"size": info.get("size")}
    for key in _VALIDATORS:
        if info.get(key) is not None:
            value = info[key]
            if isinstance(value, datetime):
                value = value.timestamp()
            out[key] = value if isinstance(value, (int, float, str)) else str(value)
    return out


def _racy(stamp: dict[str, Any] | None, fetched_at: float) -> bool:
    """Could the file change again without changing ``stamp``?

    SFTP and Modal give mtimes in whole seconds: a file rewritten at the same
    size within the second of our copy would look unchanged (git's "racy" entries).
    Such a stamp is not trusted later; the next command fetches again.
    """
    if stamp is None or _CONTENT_VALIDATORS & stamp.keys():
        return False
    mtime = stamp.get("mtime")
    return isinstance(mtime, (int, float)) and mtime >= fetched_at - 2


def discard(message: str) -> None:
    """Forget the cached copies this process used whose URL ``message`` names.

    Called when a command found its copy damaged or not a Trackio file: a bad
    download (or a cache file damaged on disk) must not be served again.
    """
    for url, stamp_file in _USED.items():
        if url in message:
            stamp_file.unlink(missing_ok=True)


def _validated(stamp: dict[str, Any] | None) -> bool:
    """A stamp can vouch for a cached copy only if it has more than a size."""
    return stamp is not None and any(k != "size" for k in stamp)


@dataclass(frozen=True)
class RemoteState:
    db: dict[str, Any]
    wal: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {"db": self.db, "wal": self.wal}


def remote_state(fs: AbstractFileSystem, path: str) -> RemoteState:
    """Stamps of ``path`` and its ``-wal`` (raises FileNotFoundError for the .db)."""
    db = _stamp(fs.info(path))
    assert db is not None
    try:
        wal = _stamp(fs.info(path + "-wal"))
    except FileNotFoundError:
        wal = None
    return RemoteState(db, wal)


@contextlib.contextmanager
def _entry_lock(folder: Path) -> Iterator[None]:
    """Serialise fetches of one entry across processes (two shells, one URL)."""
    try:
        import fcntl
    except ImportError:  # Windows: os.replace keeps each file whole anyway
        yield
        return
    with (folder / ".lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_stamp(stamp_file: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(stamp_file.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _cached(target: Path, stamp_file: Path, url: str, state: RemoteState) -> bool:
    if not target.is_file() or not _validated(state.db):
        return False
    saved = _read_stamp(stamp_file)
    return saved == {"version": _STAMP_VERSION, "url": url, **state.to_json()}


def _write_stamp(stamp_file: Path, url: str, state: RemoteState) -> None:
    tmp = stamp_file.with_name(stamp_file.name + ".tmp")
    tmp.write_text(json.dumps({"version": _STAMP_VERSION, "url": url, **state.to_json()}))
    os.replace(tmp, stamp_file)


def fetch_db(
    fs: AbstractFileSystem,
    path: str,
    *,
    url: str,
    refresh: bool = False,
    snapshot: Snapshotter | None = None,
) -> Path:
    """A local, self-contained copy of the remote database ``path``.

    ``url`` names the file for the cache key and messages (never a secret).
    Raises FileNotFoundError/PermissionError from the backend, CorruptFileError
    when no consistent copy could be made.
    """
    name = path.rstrip("/").rsplit("/", 1)[-1]
    folder = entry_dir(url)
    target = folder / name
    stamp_file = folder / "stamp.json"
    started = time.time()
    state = remote_state(fs, path)
    _USED[url] = stamp_file
    if not refresh and _cached(target, stamp_file, url, state):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with _entry_lock(folder):
        # Another process may have fetched it while we waited for the lock.
        if not refresh and _cached(target, stamp_file, url, state):
            return target
        with tempfile.TemporaryDirectory(
            dir=folder, prefix=".fetch-", ignore_cleanup_errors=True
        ) as tmp:
            tmp_db = Path(tmp) / name
            state = _fetch_consistent(fs, path, tmp_db, state, url=url, snapshot=snapshot)
            stamp_file.unlink(missing_ok=True)
            if target.is_dir() and not target.is_symlink():  # (put there by hand)
                shutil.rmtree(target)
            os.replace(tmp_db, target)
        if not (_racy(state.db, started) or _racy(state.wal, started)):
            _write_stamp(stamp_file, url, state)
    return target


def _fetch_consistent(
    fs: AbstractFileSystem,
    path: str,
    dst: Path,
    state: RemoteState,
    *,
    url: str,
    snapshot: Snapshotter | None,
) -> RemoteState:
    problem = ""
    check_errors: list[str] = []
    for attempt in range(2):
        if attempt:
            state = remote_state(fs, path)
        for sfx in ("", "-wal", "-shm", "-journal"):
            Path(f"{dst}{sfx}").unlink(missing_ok=True)
        # Without -wal the .db alone is the whole database: copying it creates
        # nothing on the remote, whereas opening it there would leave -wal/-shm.
        if state.wal is not None and snapshot is not None and snapshot(path, dst):
            _normalize(dst, check=False)
            return state
        pairs = [(path, dst)]
        total = int(state.db.get("size") or 0)
        if state.wal is not None:
            pairs.append((path + "-wal", Path(f"{dst}-wal")))
            total += int(state.wal.get("size") or 0)
        try:
            get_files(fs, pairs, description=f"fetching {dst.name}", total=total or None)
        except FileNotFoundError:
            if state.wal is None or not fs.exists(path):
                raise  # the .db itself is gone
            # -wal vanished under us: the last writer closed and checkpointed.
            problem = "it was checkpointed while being copied"
            continue
        after = remote_state(fs, path)
        # A checkpoint rewrites .db; while .db is unchanged every valid prefix
        # of -wal (SQLite stops at the last intact commit) is a consistent state.
        if after.db != state.db:
            problem = "it changed while being copied"
            continue
        # A WAL-mode database with no -wal before or after the copy had no
        # writer meanwhile: every write (and so every checkpoint) goes through
        # -wal. Only then is the copy trusted without a full quick_check.
        untouched = state.wal is None and after.wal is None and _wal_mode(dst)
        error = _normalize(dst, check=not untouched)
        if error:
            problem = f"the copy failed PRAGMA quick_check ({error})"
            check_errors.append(error)
            continue
        return state
    if len(check_errors) == 2 and check_errors[0] == check_errors[1]:
        # The same failure on two unchanged copies: the file itself is damaged.
        raise CorruptFileError(f"{url} is damaged: PRAGMA quick_check reports {check_errors[0]}")
    raise CorruptFileError(
        f"could not make a consistent copy of {url}: {problem}, twice; try again"
        + (" (or install sqlite3 on the host for exact snapshots)" if url.startswith("ssh") else "")
    )


def _wal_mode(db: Path) -> bool:
    """The header says WAL (file format bytes 18/19 == 2)."""
    try:
        with db.open("rb") as fh:
            head = fh.read(20)
    except OSError:
        return False
    return head.startswith(_SQLITE_MAGIC) and head[18:20] == b"\x02\x02"


def _normalize(db: Path, *, check: bool) -> str | None:
    """Fold ``-wal`` into the copy (journal_mode=DELETE); optionally quick_check it.

    Returns an error text, or None when fine. Files that are not SQLite at all
    are left alone: the store reports them with a better message.
    """
    try:
        with db.open("rb") as fh:
            if fh.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
                return None
    except OSError as exc:
        return str(exc)
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            # A cache entry needs no durability (it is re-fetched if in doubt),
            # and an fsync of a freshly written large file costs seconds.
            con.execute("PRAGMA synchronous=OFF")
            con.execute("PRAGMA journal_mode=DELETE").fetchone()
            if check:
                rows = con.execute("PRAGMA quick_check").fetchall()
                if [r[0] for r in rows] != ["ok"]:
                    return "; ".join(str(r[0]) for r in rows[:3])
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None
