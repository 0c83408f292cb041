"""Trackio's table definitions, verbatim, and the layout rules a writer follows (§2, §3, §11).

``TABLES``/``INDEXES`` are the ``sqlite_master`` texts of a database written by
Trackio 0.43.0 (``user_version = 2``), in the order Trackio's ``init_db`` creates
them: every table first, then every index. A database created from them is
opened by Trackio without any migration. ``LEGACY_*`` are the run-name-keyed
definitions Trackio 0.20 wrote (before 0.24 added ``run_id``): a table missing
from a legacy target is created that way, so the file keeps one layout and
Trackio's own migration (0.41+) can still upgrade it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from trackio_tool.store._sqlite_ro import quote_name

SCHEMA_VERSION = 2
RUN_TABLES = ("metrics", "configs", "system_metrics", "alerts", "traces")
# JSON payload columns of each run-scoped table (TEXT or BLOB values).
JSON_COLUMNS: dict[str, tuple[str, ...]] = {
    "metrics": ("metrics",),
    "system_metrics": ("metrics",),
    "configs": ("config",),
    "traces": ("messages", "metadata", "spans"),
    "alerts": (),
}
# NOT NULL columns with a DEFAULT: a source that predates them gets the default.
DEFAULTS: dict[str, str] = {"level": "warn", "spans": "[]"}

TABLES: dict[str, str] = {
    "metrics": "CREATE TABLE metrics (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        run_id TEXT NOT NULL,\n                        timestamp TEXT NOT NULL,\n                        run_name TEXT NOT NULL,\n                        step INTEGER NOT NULL,\n                        metrics TEXT NOT NULL\n                    , log_id TEXT, space_id TEXT)",
    "configs": "CREATE TABLE configs (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        run_id TEXT NOT NULL,\n                        run_name TEXT NOT NULL,\n                        config TEXT NOT NULL,\n                        created_at TEXT NOT NULL,\n                        UNIQUE(run_id)\n                    )",
    "system_metrics": "CREATE TABLE system_metrics (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        run_id TEXT NOT NULL,\n                        timestamp TEXT NOT NULL,\n                        run_name TEXT NOT NULL,\n                        metrics TEXT NOT NULL\n                    , log_id TEXT, space_id TEXT)",
    "traces": "CREATE TABLE traces (\n                        id TEXT PRIMARY KEY,\n                        run_id TEXT NOT NULL,\n                        timestamp TEXT NOT NULL,\n                        run_name TEXT NOT NULL,\n                        step INTEGER NOT NULL,\n                        key TEXT NOT NULL,\n                        trace_index INTEGER,\n                        messages TEXT NOT NULL,\n                        metadata TEXT NOT NULL,\n                        search_text TEXT NOT NULL,\n                        log_id TEXT,\n                        space_id TEXT,\n                        spans TEXT NOT NULL DEFAULT '[]'\n                    )",
    "project_metadata": "CREATE TABLE project_metadata (\n                        key TEXT PRIMARY KEY,\n                        value TEXT NOT NULL\n                    )",
    "pending_uploads": "CREATE TABLE pending_uploads (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        space_id TEXT NOT NULL,\n                        run_id TEXT,\n                        run_name TEXT,\n                        step INTEGER,\n                        file_path TEXT NOT NULL,\n                        relative_path TEXT,\n                        created_at TEXT NOT NULL\n                    , kind TEXT NOT NULL DEFAULT 'media', digest TEXT)",
    "alerts": "CREATE TABLE alerts (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        run_id TEXT NOT NULL,\n                        timestamp TEXT NOT NULL,\n                        run_name TEXT NOT NULL,\n                        title TEXT NOT NULL,\n                        text TEXT,\n                        level TEXT NOT NULL DEFAULT 'warn',\n                        step INTEGER,\n                        alert_id TEXT\n                    )",
    "artifacts": "CREATE TABLE artifacts (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        name TEXT NOT NULL UNIQUE,\n                        type TEXT NOT NULL,\n                        description TEXT,\n                        created_at TEXT NOT NULL\n                    )",
    "artifact_versions": "CREATE TABLE artifact_versions (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        artifact_id INTEGER NOT NULL REFERENCES artifacts(id),\n                        version INTEGER NOT NULL,\n                        manifest_digest TEXT NOT NULL,\n                        manifest TEXT NOT NULL,\n                        metadata TEXT,\n                        size_bytes INTEGER NOT NULL,\n                        producer_run_id TEXT,\n                        producer_run_name TEXT,\n                        created_at TEXT NOT NULL,\n                        UNIQUE(artifact_id, version),\n                        UNIQUE(artifact_id, manifest_digest)\n                    )",
    "artifact_aliases": "CREATE TABLE artifact_aliases (\n                        artifact_id INTEGER NOT NULL REFERENCES artifacts(id),\n                        alias TEXT NOT NULL,\n                        artifact_version_id INTEGER NOT NULL REFERENCES artifact_versions(id),\n                        PRIMARY KEY (artifact_id, alias)\n                    )",
    "run_artifact_links": "CREATE TABLE run_artifact_links (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        run_id TEXT,\n                        run_name TEXT,\n                        run_project TEXT,\n                        artifact_version_id INTEGER NOT NULL REFERENCES artifact_versions(id),\n                        direction TEXT NOT NULL CHECK(direction IN ('input', 'output')),\n                        created_at TEXT NOT NULL\n                    )",
    "external_run_artifact_links": "CREATE TABLE external_run_artifact_links (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        run_id TEXT,\n                        run_name TEXT,\n                        source_project TEXT NOT NULL,\n                        source_version_id INTEGER NOT NULL,\n                        source_artifact TEXT NOT NULL,\n                        source_type TEXT NOT NULL,\n                        source_version INTEGER NOT NULL,\n                        source_size_bytes INTEGER NOT NULL,\n                        direction TEXT NOT NULL CHECK(direction IN ('input', 'output')),\n                        created_at TEXT NOT NULL\n                    )",
}
INDEXES: tuple[tuple[str, str], ...] = (
    (
        "run_artifact_links",
        "CREATE INDEX idx_run_artifact_links_run\n                    ON run_artifact_links(run_id, run_name)\n                    ",
    ),
    (
        "run_artifact_links",
        "CREATE INDEX idx_run_artifact_links_name\n                    ON run_artifact_links(run_name, run_id)\n                    ",
    ),
    (
        "run_artifact_links",
        "CREATE INDEX idx_run_artifact_links_version\n                    ON run_artifact_links(artifact_version_id)\n                    ",
    ),
    (
        "run_artifact_links",
        "CREATE INDEX idx_run_artifact_links_project_run\n                    ON run_artifact_links(run_project, run_id, run_name)",
    ),
    (
        "external_run_artifact_links",
        "CREATE INDEX idx_external_artifact_links_run\n                    ON external_run_artifact_links(run_id, run_name)",
    ),
    (
        "external_run_artifact_links",
        "CREATE UNIQUE INDEX idx_external_artifact_links_unique\n                    ON external_run_artifact_links(\n                        COALESCE(run_id, ''), COALESCE(run_name, ''),\n                        source_project, source_version_id, direction\n                    )",
    ),
    (
        "pending_uploads",
        "CREATE INDEX idx_pending_uploads_kind\n                    ON pending_uploads(kind)\n                    ",
    ),
    (
        "metrics",
        "CREATE INDEX idx_metrics_run_step\n                    ON metrics(run_id, step)\n                    ",
    ),
    (
        "metrics",
        "CREATE INDEX idx_metrics_run_timestamp\n                    ON metrics(run_id, timestamp)\n                    ",
    ),
    (
        "configs",
        "CREATE INDEX idx_configs_run_name\n                    ON configs(run_name)\n                    ",
    ),
    (
        "system_metrics",
        "CREATE INDEX idx_system_metrics_run_timestamp\n                    ON system_metrics(run_id, timestamp)\n                    ",
    ),
    (
        "traces",
        "CREATE INDEX idx_traces_run_step\n                    ON traces(run_id, step)\n                    ",
    ),
    (
        "traces",
        "CREATE INDEX idx_traces_run_timestamp\n                    ON traces(run_id, timestamp)\n                    ",
    ),
    (
        "traces",
        "CREATE INDEX idx_traces_search\n                    ON traces(search_text)\n                    ",
    ),
    (
        "alerts",
        "CREATE INDEX idx_alerts_run\n                    ON alerts(run_id)\n                    ",
    ),
    (
        "alerts",
        "CREATE INDEX idx_alerts_timestamp\n                    ON alerts(timestamp)\n                    ",
    ),
    (
        "alerts",
        "CREATE UNIQUE INDEX idx_alerts_alert_id\n                    ON alerts(alert_id) WHERE alert_id IS NOT NULL\n                    ",
    ),
    (
        "metrics",
        "CREATE UNIQUE INDEX idx_metrics_log_id\n                        ON metrics(log_id) WHERE log_id IS NOT NULL",
    ),
    (
        "metrics",
        "CREATE INDEX idx_metrics_pending\n                        ON metrics(space_id) WHERE space_id IS NOT NULL",
    ),
    (
        "system_metrics",
        "CREATE UNIQUE INDEX idx_system_metrics_log_id\n                        ON system_metrics(log_id) WHERE log_id IS NOT NULL",
    ),
    (
        "system_metrics",
        "CREATE INDEX idx_system_metrics_pending\n                        ON system_metrics(space_id) WHERE space_id IS NOT NULL",
    ),
    (
        "metrics",
        "CREATE INDEX idx_metrics_run_record\n                        ON metrics(run_id, run_name, timestamp)",
    ),
    (
        "run_artifact_links",
        "CREATE UNIQUE INDEX idx_run_artifact_links_unique\n                    ON run_artifact_links(\n                        COALESCE(run_project, ''), COALESCE(run_id, ''),\n                        COALESCE(run_name, ''), artifact_version_id, direction\n                    )",
    ),
)
LEGACY_TABLES: dict[str, str] = {
    "configs": "CREATE TABLE configs (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        run_name TEXT NOT NULL,\n                        config TEXT NOT NULL,\n                        created_at TEXT NOT NULL,\n                        UNIQUE(run_name)\n                    )",
    "system_metrics": "CREATE TABLE system_metrics (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        timestamp TEXT NOT NULL,\n                        run_name TEXT NOT NULL,\n                        metrics TEXT NOT NULL\n                    , log_id TEXT, space_id TEXT)",
    "alerts": "CREATE TABLE alerts (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        timestamp TEXT NOT NULL,\n                        run_name TEXT NOT NULL,\n                        title TEXT NOT NULL,\n                        text TEXT,\n                        level TEXT NOT NULL DEFAULT 'warn',\n                        step INTEGER,\n                        alert_id TEXT\n                    )",
}
LEGACY_INDEXES: tuple[tuple[str, str], ...] = (
    (
        "configs",
        "CREATE INDEX idx_configs_run_name\n                    ON configs(run_name)\n                    ",
    ),
    (
        "system_metrics",
        "CREATE INDEX idx_system_metrics_run_timestamp\n                    ON system_metrics(run_name, timestamp)\n                    ",
    ),
    (
        "alerts",
        "CREATE INDEX idx_alerts_run\n                    ON alerts(run_name)\n                    ",
    ),
    (
        "alerts",
        "CREATE INDEX idx_alerts_timestamp\n                    ON alerts(timestamp)\n                    ",
    ),
    (
        "alerts",
        "CREATE UNIQUE INDEX idx_alerts_alert_id\n                    ON alerts(alert_id) WHERE alert_id IS NOT NULL\n                    ",
    ),
    (
        "system_metrics",
        "CREATE UNIQUE INDEX idx_system_metrics_log_id\n                        ON system_metrics(log_id) WHERE log_id IS NOT NULL",
    ),
    (
        "system_metrics",
        "CREATE INDEX idx_system_metrics_pending\n                        ON system_metrics(space_id) WHERE space_id IS NOT NULL",
    ),
)


quote = quote_name  # one quoting rule for every SQL identifier (_sqlite_ro)


def table_columns(con: sqlite3.Connection, schema: str = "main") -> dict[str, list[str]]:
    """Table -> column names, from ``PRAGMA table_info`` (§11.1)."""
    names = [
        r[0]
        for r in con.execute(
            f"SELECT name FROM {quote(schema)}.sqlite_master WHERE type = 'table'"
        ).fetchall()
    ]
    return {
        t: [r[1] for r in con.execute(f"PRAGMA {quote(schema)}.table_info({quote(t)})")]
        for t in names
    }


def create_new_database(con: sqlite3.Connection, *, indexes: bool = True) -> None:
    """Every table of a fresh Trackio 0.43 database (indexes may follow a bulk load)."""
    for sql in TABLES.values():
        con.execute(sql)
    if indexes:
        create_indexes(con)


def create_indexes(con: sqlite3.Connection, tables: Sequence[str] | None = None) -> None:
    for table, sql in INDEXES:
        if tables is None or table in tables:
            con.execute(sql)


def finish_new_database(con: sqlite3.Connection) -> None:
    """Stamp the schema version Trackio checks; WAL as Trackio's writers leave it (§10)."""
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    con.execute("PRAGMA journal_mode = WAL")


def create_missing_table(con: sqlite3.Connection, table: str, *, legacy: bool) -> None:
    """Add ``table`` to an existing target in the target's own layout.

    ``traces`` has had ``run_id`` since it first appeared (0.26), so it is
    created the same way in both layouts.
    """
    if legacy and table in LEGACY_TABLES:
        con.execute(LEGACY_TABLES[table])
        for owner, sql in LEGACY_INDEXES:
            if owner == table:
                con.execute(sql)
        return
    con.execute(TABLES[table])
    create_indexes(con, [table])


def insert_columns(table: str, columns: Sequence[str]) -> list[str]:
    """Columns a merge writes: all but the AUTOINCREMENT id (the target numbers rows)."""
    return [c for c in columns if not (c == "id" and table != "traces")]
