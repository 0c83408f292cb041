"""Download cache for remote project files.

A remote ``.db`` is fetched with its ``-wal`` into
``<cache>/<hash of the URL>/``; a second command on an unchanged file (same
size and mtime, or etag/revision on the Hub) downloads nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackio_tool.errors import CorruptFileError

if TYPE_CHECKING:
    from trackio_tool.sources._layout import ProjectFiles


def cache_dir() -> Path:
    """``$TRACKIO_TOOL_CACHE`` or the platform's user cache folder."""
    if env := os.environ.get("TRACKIO_TOOL_CACHE"):
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("trackio-tool")) / "downloads"


def _stamp(info: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "size",
        "mtime",
        "etag",
        "ETag",
        "last_modified",
        "LastModified",
        "blob_id",
        "oid",
        "xetHash",
    )
    out = {k: info[k] for k in keys if k in info}
    if "mtime" in out and not isinstance(out["mtime"], (int, float, str)):
        out["mtime"] = str(out["mtime"])
    return {k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in out.items()}


def fetch_db(pf: ProjectFiles, *, refresh: bool = False, quiet: bool = True) -> Path:
    fs = pf.fs
    key = hashlib.sha256(f"{pf.url_prefix}{pf.path}".encode()).hexdigest()[:24]
    folder = cache_dir() / key
    target = folder / Path(pf.path).name
    stamp_file = folder / "stamp.json"
    info = fs.info(pf.path)
    wal_path = pf.path + "-wal"
    try:
        wal_info: dict[str, Any] | None = fs.info(wal_path)
    except (FileNotFoundError, OSError):
        wal_info = None
    stamp = {"db": _stamp(info), "wal": _stamp(wal_info) if wal_info else None}
    if not refresh and target.exists() and stamp_file.exists():
        try:
            if json.loads(stamp_file.read_text()) == stamp:
                return target
        except ValueError:
            pass
    folder.mkdir(parents=True, exist_ok=True)
    # Download into a private temp folder, check, then swap in: an interrupted
    # fetch never leaves a half-written database in the cache.
    with tempfile.TemporaryDirectory(dir=folder, prefix=".fetch-") as tmp:
        tmp_db = Path(tmp) / target.name
        fs.get_file(pf.path, str(tmp_db))
        if wal_info is not None:
            fs.get_file(wal_path, str(tmp_db) + "-wal")
        _check(tmp_db)
        for suffix in ("", "-wal", "-shm"):
            old = Path(str(target) + suffix)
            if old.exists():
                old.unlink()
        os.replace(tmp_db, target)
        if Path(str(tmp_db) + "-wal").exists():
            os.replace(str(tmp_db) + "-wal", str(target) + "-wal")
    stamp_file.write_text(json.dumps(stamp))
    return target


def _check(db: Path) -> None:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            ok = con.execute("PRAGMA quick_check").fetchone()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise CorruptFileError(
            f"the fetched copy of {db.name} is not a readable SQLite database: {exc}"
        ) from exc
    if not ok or ok[0] != "ok":
        raise CorruptFileError(f"the fetched copy of {db.name} failed PRAGMA quick_check: {ok}")


def clear(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
