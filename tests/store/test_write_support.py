"""Helpers shared by the write tests (no tests here): exact, NaN-aware row comparison."""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from tests.conftest import FIXTURES
from trackio_tool.store._decode import loads
from trackio_tool.store._sqlite_ro import read_only

JSON_COLS = {
    "metrics": ("metrics",),
    "system_metrics": ("metrics",),
    "configs": ("config",),
    "traces": ("messages", "metadata", "spans"),
    "alerts": (),
}
# What a row is, whatever its id: the columns compared per table (when both sides have them).
ROW_COLS = {
    "metrics": ("run_name", "step", "timestamp", "metrics"),
    "system_metrics": ("run_name", "timestamp", "metrics"),
    "configs": ("run_name", "config", "created_at"),
    "alerts": ("run_name", "timestamp", "title", "text", "level", "step", "alert_id"),
    "traces": ("id", "run_name", "step", "key", "messages", "metadata", "search_text"),
}
PARQUET_STRUCTURAL = {
    "metrics": {"id", "run_id", "timestamp", "run_name", "step", "log_id", "space_id"},
    "system_metrics": {"id", "run_id", "timestamp", "run_name", "log_id", "space_id"},
    "configs": {"id", "run_id", "run_name", "created_at"},
}
_PATH = re.compile(r"^(media/)?[^/]+/")

SOURCE_DBS = [
    "trackio-0.2.9/toyproj.db",
    "trackio-0.2.9/toyproj-edge.db",
    "trackio-0.20.2/toyproj.db",
    "trackio-0.20.2/toyproj-edge.db",
    "trackio-0.43.0/toyproj.db",
    "trackio-0.43.0/toyproj-edge.db",
    "trackio-0.20.2-then-0.43.0/toyproj.db",
    "trackio-0.43.0-wal-snapshot/walproj.db",
]
SOURCE_EXPORTS = [
    "trackio-0.2.9/toyproj.parquet",
    "trackio-0.20.2/toyproj.parquet",
    "trackio-0.43.0/toyproj.parquet",
    "trackio-0.20.2-then-0.43.0/toyproj.parquet",
    "trackio-0.20.2-static/toyproj",
    "trackio-0.43.0-static/toyproj",
    "trackio-0.20.2-then-0.43.0-static/toyproj",
]


def norm(value: Any) -> Any:
    """Decoded JSON with NaN/inf as tokens and media paths without their project."""
    if isinstance(value, float) and not math.isfinite(value):
        return "<nan>" if math.isnan(value) else ("<inf>" if value > 0 else "<-inf>")
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "file_path" and isinstance(v, str):
                v = _PATH.sub(r"\1<project>/", v)
            out[k] = norm(v)
        return out
    if isinstance(value, list):
        return [norm(v) for v in value]
    return value


def canon(value: Any) -> str:
    return json.dumps(norm(value), sort_keys=True)


def drop_nulls(value: Any, *, keep: frozenset[str] = frozenset()) -> Any:
    """A parquet row as Trackio stored it: null dict entries are missing keys."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None or k in keep}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def db_rows(
    db: Path, table: str, names: Iterable[str] | None = None, ids: Iterable[str] | None = None
) -> Counter[str]:
    """Multiset of a table's rows (id-free, payloads decoded), optionally for some runs."""
    with read_only(db) as con:
        cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
        if not cols:
            return Counter()
        use = [c for c in ROW_COLS[table] if c in cols]
        rid = "run_id" if "run_id" in cols else "NULL"
        rows = con.execute(f"SELECT {rid}, {', '.join(use)} FROM {table}").fetchall()
    wanted = None if names is None else set(names)
    wanted_ids = None if ids is None else set(ids)
    out: Counter[str] = Counter()
    for run_id, *row in rows:
        rec = dict(zip(use, row, strict=True))
        if wanted is not None and rec["run_name"] not in wanted:
            continue
        if wanted_ids is not None and run_id not in wanted_ids:
            continue
        for c in JSON_COLS[table]:
            if c in rec:
                rec[c] = loads(rec[c])
        out[canon(rec)] += 1
    return out


def parquet_rows(
    path: Path, table: str, names: Iterable[str] | None = None, ids: Iterable[str] | None = None
) -> Counter[str]:
    """The same multiset, from a parquet export table."""
    frame = pl.read_parquet(path)
    wanted = None if names is None else set(names)
    wanted_ids = None if ids is None else set(ids)
    out: Counter[str] = Counter()
    keep = (
        frozenset(c for c in frame.columns if c.startswith("_"))
        if table == "configs"
        else frozenset()
    )
    for row in frame.to_dicts():
        if wanted is not None and row["run_name"] not in wanted:
            continue
        if wanted_ids is not None and row.get("run_id") not in wanted_ids:
            continue
        if table in PARQUET_STRUCTURAL:
            payload = drop_nulls(
                {k: v for k, v in row.items() if k not in PARQUET_STRUCTURAL[table]}, keep=keep
            )
            rec = {k: row.get(k) for k in ROW_COLS[table] if k in row or k == JSON_COLS[table][0]}
            rec[JSON_COLS[table][0]] = payload
        else:
            rec = {k: row.get(k) for k in ROW_COLS[table] if k in row}
            for c in JSON_COLS[table]:
                if isinstance(rec.get(c), str):
                    rec[c] = loads(rec[c])
        out[canon(rec)] += 1
    return out


def export_tables(source: Path) -> dict[str, Path]:
    """Table -> parquet file of an export (``<p>.parquet`` + sidecars, or a static folder)."""
    if source.is_dir():
        out = {"metrics": source / "metrics.parquet"}
        for t in ("system_metrics", "configs", "traces"):
            if (source / "aux" / f"{t}.parquet").exists():
                out[t] = source / "aux" / f"{t}.parquet"
        return out
    stem = source.name[: -len(".parquet")]
    out = {"metrics": source}
    for t, sfx in (("system_metrics", "_system"), ("configs", "_configs"), ("traces", "_traces")):
        p = source.with_name(f"{stem}{sfx}.parquet")
        if p.exists():
            out[t] = p
    return out


def counts(db: Path) -> dict[str, int]:
    with read_only(db) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in tables
            if t in JSON_COLS
        }


def run_ids_by_name(db: Path) -> dict[str, set[str]]:
    """Run name -> every run_id it has across run-scoped tables."""
    out: dict[str, set[str]] = {}
    with read_only(db) as con:
        for t in JSON_COLS:
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({t})")]
            if "run_id" in cols:
                for name, rid in con.execute(f"SELECT DISTINCT run_name, run_id FROM {t}"):
                    out.setdefault(name, set()).add(rid)
    return out


def integrity(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def fixture(name: str) -> Path:
    return FIXTURES / name
