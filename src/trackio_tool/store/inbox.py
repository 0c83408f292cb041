"""Trackio's JSONL inbox: logged rows that are not in ``<project>.db`` yet (TRACKIO_FORMATS.md §9).

Since 0.28, when TRACKIO_DIR is on a network file system (NFS, Lustre, ...) or
``TRACKIO_STORAGE_MODE=jsonl``, ``trackio.log`` writes no SQLite at all: every
batch becomes an immutable fragment ``<TRACKIO_DIR>/inbox/<writer>/<seq>.jsonl``
(Spaces with a bucket do the same under ``trackio/inbox/``). The dashboard
(``trackio show``) or the Space imports them later (``fragments.import_records``:
``INSERT OR IGNORE`` by ``log_id``) and deletes them. Until then a project's
newest rows, or the whole project, exist only there.

Readers see a project as Trackio will once it has imported its inbox: the
database (if any) is copied to a private temporary file and the project's
records are replayed into the copy as Trackio's import does. Writers refuse a
project with pending records (a dropped run would come back at the next
import, a renamed one would split).
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import orjson
from fsspec import AbstractFileSystem

from trackio_tool.store import _schema
from trackio_tool.store._fragments import Records, by_project
from trackio_tool.store._schema import quote

TRACE_TYPE = "trackio.trace"


@dataclass(frozen=True)
class Pending:
    """The inbox records of one project, in the order Trackio imports them."""

    where: str
    """The inbox folder, as printed."""
    records: tuple[dict[str, Any], ...]
    fragments: int
    """Fragment files holding at least one of these records."""

    def count(self, kind: str) -> int:
        return sum(1 for r in self.records if r.get("kind") == kind)

    def describe(self) -> str:
        """``5 logged rows, 1 system row and 1 alert in 4 fragments``."""
        parts = [
            f"{n:,} {word}{'' if n == 1 else 's'}"
            for kind, word in (
                ("metric", "logged row"),
                ("system_metric", "system row"),
                ("alert", "alert"),
            )
            if (n := self.count(kind))
        ]
        what = ", ".join(parts[:-1]) + f" and {parts[-1]}" if len(parts) > 1 else parts[0]
        return f"{what} in {self.fragments:,} fragment{'' if self.fragments == 1 else 's'}"


_cache: dict[tuple[Any, ...], Records] = {}
_cache_lock = threading.Lock()


def read_inbox(fs: AbstractFileSystem, inbox: str) -> Records:
    """Canonical project name -> (its records in import order, fragments holding them).

    A TRACKIO_DIR's projects share one inbox: it is read once per process for
    as long as it holds the same fragments (Trackio never changes one).
    """
    try:
        found = fs.find(inbox, withdirs=False)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        found = []
    # Trackio imports `sorted(inbox.rglob("*.jsonl"))`: path order decides which
    # of two records with one log_id wins, and which config a run keeps.
    paths = sorted(str(p) for p in found if str(p).endswith(".jsonl"))
    key = (getattr(fs, "_fs_token", id(fs)), inbox, *paths)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    found_by_project: Records = {}
    if paths:
        contents = cast("dict[str, Any]", fs.cat(paths, on_error="omit"))
        # A fragment deleted by an import meanwhile, or unreadable: Trackio skips it too.
        found_by_project = by_project(
            data for path in paths if isinstance(data := contents.get(path), bytes)
        )
    with _cache_lock:
        _cache[key] = found_by_project
    return found_by_project


def pending(fs: AbstractFileSystem, inbox: str, project: str, *, display: str) -> Pending | None:
    """The records of ``project`` in the inbox folder ``inbox``, or None when there are none."""
    found = read_inbox(fs, inbox).get(project)  # (a project is there only with records)
    if found is None:
        return None
    return Pending(where=display, records=tuple(found[0]), fragments=found[1])


def inbox_projects(fs: AbstractFileSystem, inbox: str) -> list[str]:
    """Canonical names of the projects with records in the inbox folder ``inbox``."""
    return sorted(read_inbox(fs, inbox))


# -- replaying records as Trackio's import does ---------------------------------


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def _group(records: Iterable[dict[str, Any]], kind: str) -> dict[tuple[Any, ...], list[dict]]:
    grouped: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in records:
        if r.get("kind") == kind:
            grouped.setdefault((r.get("run"), r.get("run_id")), []).append(r)
    return grouped


def _is_trace(value: Any) -> bool:
    return isinstance(value, dict) and value.get("_type") == TRACE_TYPE


def _split_traces(metrics: Any) -> tuple[dict[str, Any], list[tuple[str, int | None, dict]]]:
    """``SQLiteStorage._split_trace_metrics``: trace payloads leave the metrics row."""
    if not isinstance(metrics, dict):
        return {}, []
    clean: dict[str, Any] = {}
    traces: list[tuple[str, int | None, dict[str, Any]]] = []
    for key, value in metrics.items():
        is_list = isinstance(value, list)
        items = value if is_list else [value]
        found = [(i if is_list else None, v) for i, v in enumerate(items) if _is_trace(v)]
        if not found:
            clean[key] = value
            continue
        if is_list and (rest := [v for v in items if not _is_trace(v)]):
            clean[key] = rest
        traces.extend((key, i, v) for i, v in found)
    return clean, traces


class _Target:
    """The copy being filled: its layout, and inserts limited to the columns it has."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.layout = _schema.table_columns(con)
        legacy = "run_id" not in self.layout.get("metrics", ["run_id"])
        for table in ("metrics", "configs", "system_metrics", "alerts", "traces"):
            if table not in self.layout:  # Trackio's init_db creates missing tables
                _schema.create_missing_table(con, table, legacy=legacy)
        self.layout = _schema.table_columns(con)

    def has_ids(self, table: str) -> bool:
        return "run_id" in self.layout[table]

    def insert(self, table: str, rows: Sequence[dict[str, Any]], verb: str = "OR IGNORE") -> None:
        if not rows:
            return
        cols = [c for c in rows[0] if c in self.layout[table]]
        sql = (
            f"INSERT {verb} INTO {quote(table)} ({', '.join(quote(c) for c in cols)})"
            f" VALUES ({', '.join('?' * len(cols))})"
        )
        self.con.executemany(sql, [tuple(r[c] for c in cols) for r in rows])


def replay(con: Any, records: Sequence[dict[str, Any]]) -> None:
    """Import ``records`` into the database open on ``con`` (``fragments.import_records``)."""
    t = _Target(con)
    for (run, run_id), group in _group(records, "metric").items():
        _log_metrics(t, run, run_id, group)
    for (run, run_id), group in _group(records, "system_metric").items():
        stamps = _stamps(group)
        rid = run_id or run
        t.insert(
            "system_metrics",
            [
                {
                    "timestamp": ts,
                    "run_id": rid,
                    "run_name": run,
                    "metrics": orjson.dumps(r.get("metrics") or {}),
                    "log_id": r.get("log_id"),
                    "space_id": None,
                }
                for r, ts in zip(group, stamps, strict=True)
            ],
        )
    for (run, run_id), group in _group(records, "alert").items():
        stamps = _stamps(group)
        rid = run_id or run
        t.insert(
            "alerts",
            [
                {
                    "run_id": rid,
                    "timestamp": ts,
                    "run_name": run,
                    "title": r.get("title") or "",
                    "text": r.get("text"),
                    "level": r.get("level") or "WARN",
                    "step": r.get("step"),
                    "alert_id": r.get("alert_id"),
                }
                for r, ts in zip(group, stamps, strict=True)
            ],
        )


def _stamps(group: Sequence[dict[str, Any]]) -> list[str]:
    if all(r.get("timestamp") for r in group):
        return [r["timestamp"] for r in group]
    return [_now()] * len(group)


def _log_metrics(t: _Target, run: str, run_id: str | None, group: list[dict[str, Any]]) -> None:
    """``SQLiteStorage.bulk_log`` for one run's records."""
    rid = run_id or run
    ids = t.has_ids("metrics")
    stamps = _stamps(group)
    steps = [r.get("step") for r in group]
    if any(s is None for s in steps):
        col, key = ("run_id", rid) if ids else ("run_name", run)
        last = t.con.execute(f"SELECT MAX(step) FROM metrics WHERE {col} = ?", (key,)).fetchone()[0]
        nxt = 0 if last is None else last + 1
        filled = []
        for s in steps:
            if s is None:
                filled.append(nxt)
                nxt += 1
            else:
                filled.append(s)
        steps = filled
    rows, traces = [], []
    for r, ts, step in zip(group, stamps, steps, strict=True):
        clean, found = _split_traces(r.get("metrics") or {})
        lid = r.get("log_id")
        rows.append(
            {
                "timestamp": ts,
                "run_id": rid,
                "run_name": run,
                "step": step,
                "metrics": orjson.dumps(clean),
                "log_id": lid,
                "space_id": None,
            }
        )
        for key, index, trace in found:
            tid = ":".join(
                str(p) for p in [rid, lid or "", key, *([] if index is None else [index])]
            )
            traces.append(
                {
                    "id": tid,
                    "run_id": rid,
                    "timestamp": ts,
                    "run_name": run,
                    "step": step,
                    "key": key,
                    "trace_index": index,
                    "messages": orjson.dumps(trace.get("messages", [])),
                    "metadata": orjson.dumps(trace.get("metadata", {})),
                    "search_text": f"{tid} {key}".lower(),
                    "log_id": lid,
                    "space_id": None,
                    "spans": orjson.dumps(trace.get("spans", [])),
                }
            )
    t.insert("metrics", rows)
    t.insert("traces", traces)
    config = next((r["config"] for r in reversed(group) if r.get("config")), None)
    if config:
        t.insert(
            "configs",
            [
                {
                    "run_id": rid,
                    "run_name": run,
                    "config": orjson.dumps(config),
                    "created_at": _now(),
                }
            ],
            verb="OR REPLACE",
        )


def materialize(db: Path | None, pending_: Pending, dest: Path) -> Path:
    """A private copy of ``db`` (or a new 0.43 database) with ``pending_`` imported."""
    import sqlite3

    from trackio_tool.store import _sqlite_ro

    out = sqlite3.connect(dest)
    try:
        if db is not None:
            try:
                with _sqlite_ro.read_only(db) as src:
                    src.backup(out)  # a consistent snapshot, rows in -wal included
            except sqlite3.OperationalError as exc:
                if "unable to open" not in str(exc) and "readonly" not in str(exc):
                    raise
                # A WAL file in a folder we cannot write (no -shm): copy its files.
                out.close()
                for sfx in ("", "-wal"):
                    if Path(f"{db}{sfx}").exists():
                        shutil.copyfile(f"{db}{sfx}", f"{dest}{sfx}")
                out = sqlite3.connect(dest)
        else:
            _schema.create_new_database(out)
        with out:
            replay(out, pending_.records)
        if db is None:
            out.execute(f"PRAGMA user_version = {_schema.SCHEMA_VERSION}")
    finally:
        out.close()
    return dest
