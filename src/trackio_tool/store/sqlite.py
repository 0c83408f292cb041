"""Read a Trackio SQLite project, whatever version wrote it (TRACKIO_FORMATS.md §2-4, §10).

The database is opened read-only *in place* (``mode=ro``), so rows that still
live only in ``-wal`` are seen and nothing is written. Summaries are SQL
aggregates; payloads are only read when a command needs their keys or values.
"""

from __future__ import annotations

import contextlib
import queue
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from trackio_tool import _waiting
from trackio_tool.errors import (
    CorruptFileError,
    NotATrackioFileError,
    SourceError,
    SourcePermissionError,
)
from trackio_tool.store import _decode, _early, _sqlite_ro

RUN_TABLES = ("metrics", "configs", "system_metrics", "alerts", "traces")
STRUCTURAL = frozenset({"id", "run_id", "run_name", "step", "timestamp", "log_id", "space_id"})
CHUNK_ROWS = 50_000
WINDOW_BYTES = 4 << 20  # payload bytes per group_concat window
SMALL_TABLE_ROWS = 2_000  # up to this many rows, keys are read in one pass (faster there)
# A run of at most SMALL_RUN_ROWS rows is read whole (its head read would take them all),
# together with neighbouring such runs, up to SMALL_BATCH_ROWS rows at a time: one exact
# pass per batch instead of ~7 ms of polars calls per run (1,000 runs x 200 rows).
SMALL_RUN_ROWS = 256
SMALL_BATCH_ROWS = 10_000
# One row per run, whatever the format (Project.run_index casts every reader's to it).
RUN_INDEX_SCHEMA: dict[str, Any] = {
    "run_key": pl.String,
    "run_id": pl.String,
    "run_name": pl.String,
    "rows": pl.Int64,
    "step_min": pl.Int64,
    "step_max": pl.Int64,
    "first": pl.String,
    "last": pl.String,
}
_Span = tuple[Any, int, int, int]  # run key, first rowid, last rowid, rows
# (kind, run keys, from rowid, to rowid exclusive). Kinds: "joined", one run alone in
# the range; "run", one run among others, read through an index on the run key;
# "keyed", rows of several runs, each with its run key (no such index).
_Window = tuple[str, list[Any], int, int]


def _prefetch(chunks: Iterator[pl.DataFrame], depth: int = 2) -> Iterator[pl.DataFrame]:
    """Produce ``chunks`` in a background thread, ``depth`` ahead of the consumer.

    SQLite releases the GIL while it steps and polars while it computes, so the
    fetch of the next chunk overlaps the scan of this one.
    """
    box: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                box.put(("chunk", chunk))
            box.put(("done", None))
        except BaseException as exc:  # handed to the consumer, re-raised there
            box.put(("error", exc))

    worker = threading.Thread(target=produce, name="trackio-tool-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = _waiting.get(box)
            if kind == "done":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                box.get_nowait()
            except queue.Empty:
                worker.join(0.05)


def _keyed_frame(rows: Sequence[tuple[Any, Any]]) -> pl.DataFrame:
    """``(run key, payload)`` rows as the key scan reads them: a String ``run_key``
    column and the payloads as text (``t``)."""
    runs = [r[0] if r[0] is None else str(r[0]) for r in rows]
    text = _decode.payload_text(pl.Series("t", [r[1] for r in rows], dtype=pl.Binary))
    return pl.DataFrame([pl.Series("run_key", runs, dtype=pl.String), text])


def _nearly_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path.parent).free < (1 << 20)
    except OSError:
        return False


_q = _sqlite_ro.quote_name


def rowid_windows(lo: int, hi: int, rows: int, per: int) -> list[tuple[int, int]]:
    """``[a, b)`` rowid ranges over ``lo..hi`` (a run's ``rows`` rows, alone there)
    holding about ``per`` rows each."""
    width = max(1, (hi - lo + 1) * per // max(rows, 1))
    return [(a, min(a + width, hi + 1)) for a in range(lo, hi + 1, width)]


_METRICS_REQUIRED = ("run_name", "step", "timestamp", "metrics")


def missing_columns(where: str, table: str, columns: Sequence[str]) -> NotATrackioFileError:
    """The error for a table that lacks columns every Trackio version writes."""
    return NotATrackioFileError(
        f"{where}: its {table} table has no {', '.join(map(repr, columns))} column,"
        " which every Trackio version writes (damaged or not written by Trackio)"
    )


class SqliteReader:
    """One read-only connection to a project database, plus its layout."""

    def __init__(self, path: Path, *, label: str | None = None) -> None:
        self.path = Path(path)
        self.label = label or str(path)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._cancelled = threading.Event()
        self._check_header()
        # A read-only open of a WAL database creates empty -wal/-shm files when
        # they are missing; remember so close() can remove them again. If the
        # command started the run-span query early, its snapshot is the original.
        self._early, self._sidecars_before = _early.claim(self.path)
        self._spans: list[tuple[Any, ...]] | None = None
        self._spans_lock = threading.Lock()
        self.con = self._connect(self.path)
        self._opened = self.path
        try:
            self._init_layout()
        except BaseException:
            self.close()
            raise

    def _init_layout(self) -> None:
        try:
            self.columns = self._layout()
        except sqlite3.OperationalError as exc:
            if "unable to open" not in str(exc) and "readonly" not in str(exc):
                raise self.translate(exc) from exc
            # A WAL database in a folder we may not write to: SQLite cannot
            # create the -shm it needs, so read a private copy (db + wal) instead.
            self.con.close()
            self._opened = self._private_copy()
            self.con = self._connect(self._opened)
            self.columns = self._layout()
        except sqlite3.DatabaseError as exc:
            raise self.translate(exc) from exc
        if "metrics" not in self.columns:
            raise NotATrackioFileError(
                f"{self.label} is an SQLite database but not a Trackio project (it has no metrics table)"
            )
        # Every Trackio version writes these; without them rows cannot be read or merged.
        lacking = [c for c in _METRICS_REQUIRED if c not in self.columns["metrics"]]
        if lacking:
            raise missing_columns(self.label, "metrics", lacking)

    # -- opening -----------------------------------------------------------
    def _check_header(self) -> None:
        try:
            with self.path.open("rb") as fh:
                head = fh.read(len(_sqlite_ro.SQLITE_MAGIC))
        except PermissionError as exc:
            raise SourcePermissionError(f"permission denied: cannot read {self.label}") from exc
        except IsADirectoryError as exc:
            raise NotATrackioFileError(f"{self.label} is a directory, not a .db file") from exc
        if not head:
            raise NotATrackioFileError(f"{self.label} is empty (0 bytes): not a Trackio database")
        if head != _sqlite_ro.SQLITE_MAGIC:
            raise NotATrackioFileError(
                f"{self.label} is not an SQLite database (a Trackio .db file was expected)"
            )

    def _connect(self, path: Path) -> sqlite3.Connection:
        try:
            return _sqlite_ro.connect_ro(path)
        except sqlite3.Error as exc:
            raise self.translate(exc) from exc

    def _private_copy(self) -> Path:
        self._tmp = tempfile.TemporaryDirectory(prefix="trackio-tool-ro-")
        dst = Path(self._tmp.name) / self.path.name
        shutil.copyfile(self.path, dst)
        wal = Path(str(self.path) + "-wal")
        if wal.exists():
            shutil.copyfile(wal, str(dst) + "-wal")
        return dst

    def translate(self, exc: sqlite3.Error) -> Exception:
        msg = str(exc)
        if "not a database" in msg or "file is encrypted" in msg:
            return NotATrackioFileError(
                f"{self.label} is not an SQLite database (a Trackio .db file was expected)"
            )
        if "disk I/O" in msg and _nearly_full(self.path):
            # Opening a WAL file needs room for its -wal/-shm: on a full disk SQLite
            # says "disk I/O error" about a file that is fine.
            return SourceError(
                f"cannot open {self.label}: {msg}, and its disk is full; free some space"
            )
        if str(getattr(exc, "sqlite_errorname", "")).startswith("SQLITE_IOERR_SHM"):
            # The same where that write fails otherwise (a quota, a file-size limit):
            # not damage, which `.recover` would be the hint for.
            return SourceError(
                f"cannot open {self.label}: SQLite could not make its -shm index beside it"
                f" ({msg}: over a disk quota or a file-size limit?); this is not damage to"
                " the database"
            )
        if "malformed" in msg or "disk I/O" in msg or "corrupt" in msg:
            from trackio_tool.sources.remote import is_url

            hint = (
                "the next command downloads it again (the copy is discarded); if that fails"
                " too, the file itself is damaged"
                if is_url(self.label)
                else f"try `sqlite3 {self.label} .recover`"
            )
            return CorruptFileError(f"{self.label} is damaged and cannot be read ({msg}); {hint}")
        if "locked" in msg or "busy" in msg:
            return CorruptFileError(
                f"{self.label} is locked by another process for more than 30 s ({msg})"
            )
        return CorruptFileError(f"cannot read {self.label}: {msg}")

    def cancel(self) -> None:
        """Make scans running on other threads stop at their next window."""
        self._cancelled.set()

    def close(self) -> None:
        self.con.close()
        _early.release(self._early)  # its connection too must be closed first
        _sqlite_ro.remove_created_sidecars(self.path, self._sidecars_before)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> SqliteReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _layout(self) -> dict[str, list[str]]:
        tables = [
            r[0] for r in self.con.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return {t: [r[1] for r in self.con.execute(f"PRAGMA table_info({_q(t)})")] for t in tables}

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self.con.execute(sql, params)
        except sqlite3.DatabaseError as exc:
            raise self.translate(exc) from exc

    # -- layout --------------------------------------------------------------
    @property
    def user_version(self) -> int:
        return int(self.execute("PRAGMA user_version").fetchone()[0])

    def has_table(self, table: str) -> bool:
        return table in self.columns

    def has_run_id(self, table: str) -> bool:
        return "run_id" in self.columns.get(table, [])

    @property
    def run_key_column(self) -> str:
        """Run identity in ``metrics``: run_id where the table has it (§11.2)."""
        return "run_id" if self.has_run_id("metrics") else "run_name"

    def _side_key(self, table: str) -> str:
        # Mixed files (0.24-0.40 appending to a legacy DB) have run_id in new
        # tables only; match such tables to metrics runs by name.
        return "run_id" if self.has_run_id(table) and self.has_run_id("metrics") else "run_name"

    # -- runs ----------------------------------------------------------------
    def run_index(self) -> pl.DataFrame:
        """One row per run in ``metrics``, in the order runs started."""
        key = self.run_key_column
        schema = {**RUN_INDEX_SCHEMA, "first_id": pl.Int64}
        rows = self._run_index_from_indexes(key) or self._run_index_by_scan(key)
        damaged = "damaged or not written by Trackio"
        missing = list(
            dict.fromkeys(
                c for c, i in ((key, 0), ("run_name", 2)) if any(r[i] is None for r in rows)
            )
        )
        if missing:
            raise CorruptFileError(
                f"{self.label}: metrics rows without a {' or '.join(missing)}, which Trackio"
                f" always writes ({damaged})"
            )
        try:
            frame = pl.DataFrame(rows, schema=schema, orient="row")
        except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError) as exc:
            raise CorruptFileError(
                f"{self.label}: metrics rows hold a step, time or run key of the wrong type"
                f" ({damaged}: {str(exc).splitlines()[0].split(';')[0]})"
            ) from exc
        return frame.sort("first_id").drop("first_id")

    def _run_index_by_scan(self, key: str) -> list[tuple[Any, ...]]:
        rid = "run_id" if key == "run_id" else "NULL"
        sql = (
            f"SELECT {key}, {rid}, run_name, COUNT(*), MIN(step), MAX(step),"
            " MIN(timestamp), MAX(timestamp), MIN(id)"
            f" FROM metrics GROUP BY {key}, run_name"
        )
        return self.execute(sql).fetchall()

    def _index_columns(self, table: str, con: sqlite3.Connection | None = None) -> list[list[str]]:
        """``_sqlite_ro.index_columns`` (on ``con``, e.g. a worker's, if given)."""
        if con is not None:
            return _sqlite_ro.index_columns(con, table)
        try:
            return _sqlite_ro.index_columns(self.con, table)
        except sqlite3.DatabaseError as exc:
            raise self.translate(exc) from exc

    def _run_index_from_indexes(self, key: str) -> list[tuple[Any, ...]] | None:
        """The run index from Trackio's own indexes, without reading the table.

        Trackio indexes ``(key, step)`` and ``(key, timestamp)`` (0.5+), so counts,
        step ranges and first ids come from one covering-index scan and the
        time range from two index seeks per run. Files without those indexes
        (or with a run stored under two names) take the full scan.
        """
        indexes = self._index_columns("metrics")
        if [key, "step"] not in [i[:2] for i in indexes] or [key, "timestamp"] not in [
            i[:2] for i in indexes
        ]:
            return None
        out: list[tuple[Any, ...]] = []
        for run, count, smin, smax, first_id, _ in self._metric_spans():
            names = self.execute(
                f"SELECT run_name FROM metrics WHERE {key} = ? AND id = ?", (run, first_id)
            ).fetchone()
            if names is None:  # a NULL key (never Trackio's): the scan reports it
                return None
            if key == "run_id":
                # A run_id stored under two names (a half-finished rename) needs the full scan.
                # Two range seeks on (run_id, run_name, ...): `run_name != ?` would walk
                # every index entry of the run (~0.17 s per million rows).
                other = [key, "run_name"] in [i[:2] for i in indexes] and any(
                    self.execute(
                        f"SELECT 1 FROM metrics WHERE run_id = ? AND run_name {op} ? LIMIT 1",
                        (run, names[0]),
                    ).fetchone()
                    for op in ("<", ">")
                )
                if other:
                    return None
            first = self.execute(
                f"SELECT MIN(timestamp) FROM metrics WHERE {key} = ?", (run,)
            ).fetchone()[0]
            last = self.execute(
                f"SELECT MAX(timestamp) FROM metrics WHERE {key} = ?", (run,)
            ).fetchone()[0]
            out.append(
                (
                    run,
                    run if key == "run_id" else None,
                    names[0],
                    count,
                    smin,
                    smax,
                    first,
                    last,
                    first_id,
                )
            )
        return out

    def side_counts(self, table: str) -> pl.DataFrame:
        """Rows per run in a run-scoped side table (empty when the table is absent)."""
        schema = {"run_key": pl.String, "n": pl.Int64}
        if not self.has_table(table):
            return pl.DataFrame(schema=schema)
        key = self._side_key(table)
        rows = self.execute(f"SELECT {key}, COUNT(*) FROM {_q(table)} GROUP BY {key}").fetchall()
        return pl.DataFrame(rows, schema=schema, orient="row")

    def _where_runs(self, run_keys: Sequence[str] | None, key: str) -> tuple[str, list[str]]:
        if run_keys is None:
            return "", []
        marks = ",".join("?" * len(run_keys))
        return f" WHERE {key} IN ({marks})", list(run_keys)

    def _chunks(
        self, sql: str, params: Sequence[Any], schema: dict[str, Any]
    ) -> Iterator[pl.DataFrame]:
        cur = self.execute(sql, params)
        names = list(schema)
        while True:
            try:
                rows = cur.fetchmany(CHUNK_ROWS)
            except sqlite3.DatabaseError as exc:
                raise self.translate(exc) from exc
            if not rows:
                return
            cols = list(zip(*rows, strict=True))
            yield pl.DataFrame(
                {n: pl.Series(n, c, dtype=schema[n]) for n, c in zip(names, cols, strict=True)}
            )

    def metric_keys(
        self, run_keys: Sequence[str] | None = None, *, table: str = "metrics"
    ) -> pl.DataFrame:
        """Distinct ``(run_key, metric)``: the top-level keys each run logged.

        Exact, but most rows are only checked, not parsed (``_decode.KeyScanner``).
        A run alone in its rowid range (the usual case) is read in windows that
        SQLite joins itself (``group_concat``: no Python object per row); rows
        where runs interleave are read one by one with their run key. Two
        connections of its own work at once, so it may run beside other queries.
        """
        key = self.run_key_column if table == "metrics" else self._side_key(table)
        if not self.has_table(table):
            return pl.DataFrame(schema={"run_key": pl.String, "metric": pl.String})
        scanner = _decode.KeyScanner()
        cons = [self._connect(self._opened)]
        try:
            groups = self._run_groups(cons[0], table, key)
            wanted = None if run_keys is None else set(run_keys)
            if sum(span[3] for group in groups for span in group) <= SMALL_TABLE_ROWS:
                if self._cancelled.is_set():
                    return scanner.pairs()
                return self._small_keys(cons[0], table, key, wanted)
            cons.append(self._connect(self._opened))
            self._scan_windows(cons, table, key, groups, wanted, scanner)
        except sqlite3.DatabaseError as exc:
            raise self.translate(exc) from exc
        finally:
            for con in cons:
                con.close()
        return scanner.pairs()

    @staticmethod
    def _small_keys(
        con: sqlite3.Connection, table: str, key: str, wanted: set[Any] | None
    ) -> pl.DataFrame:
        """A small table's keys in one exact pass: no windows, threads or second
        connection, whose set-up (~50 ms) is most of a small project's analyze."""
        rows = con.execute(f"SELECT {key}, CAST(metrics AS BLOB) FROM {_q(table)}").fetchall()
        if wanted is not None:
            rows = [r for r in rows if r[0] in wanted]
        return _decode.pairs_frame(_decode.parsed_keys(rows))

    def _metric_spans(self) -> list[tuple[Any, ...]]:
        """``_early.run_spans`` for ``metrics``, run once per reader (and maybe early).

        Both the run index and the key scan need it, often at the same moment.
        """
        with self._spans_lock:
            if self._spans is None:
                key = self.run_key_column
                spans = self._early.spans(key) if self._early is not None else None
                if spans is None:
                    con = self._connect(self._opened)
                    try:
                        spans = _early.run_spans(con, key)
                    finally:
                        con.close()
                self._spans = spans
            return self._spans

    def _run_groups(self, con: sqlite3.Connection, table: str, key: str) -> list[list[_Span]]:
        """Runs as ``(run, first rowid, last rowid, rows)``, grouped where their ranges overlap."""
        if table == "metrics" and key == self.run_key_column and "step" in self.columns[table]:
            spans = sorted(
                ((r[0], r[4], r[5], r[1]) for r in self._metric_spans()), key=lambda s: s[1]
            )
        else:
            spans = con.execute(
                f"SELECT {key}, MIN(rowid), MAX(rowid), COUNT(*) FROM {_q(table)}"
                f" GROUP BY {key} ORDER BY MIN(rowid)"
            ).fetchall()
        groups: list[list[_Span]] = []
        end = None
        for span in spans:
            if end is not None and span[1] <= end:
                groups[-1].append(span)
                end = max(end, span[2])
            else:
                groups.append([span])
                end = span[2]
        return groups

    @staticmethod
    def _plan_windows(
        con: sqlite3.Connection, table: str, span: _Span, scanner: _decode.KeyScanner
    ) -> list[_Window]:
        """One run's windows of about WINDOW_BYTES of payload.

        The run's first rows teach the scanner its keys (so each window can be
        checked at once) and give the average payload size.
        """
        run, lo, hi, rows = span
        head = [
            r[0]
            for r in con.execute(
                f"SELECT CAST(metrics AS BLOB) FROM {_q(table)}"
                " WHERE rowid >= ? AND rowid <= ? LIMIT 256",
                (lo, hi),
            ).fetchall()
        ]
        scanner.feed_payloads(run, head)
        avg = max(1, sum(len(h) for h in head if h) // max(len(head), 1))
        per = max(256, min(CHUNK_ROWS, WINDOW_BYTES // avg))
        return [("joined", [run], a, b) for a, b in rowid_windows(lo, hi, rows, per)]

    def _scan_windows(
        self,
        cons: list[sqlite3.Connection],
        table: str,
        key: str,
        groups: list[list[_Span]],
        wanted: set[Any] | None,
        scanner: _decode.KeyScanner,
    ) -> None:
        """Check every window, two at a time, planning the next run meanwhile."""
        # A literal newline, not char(10), which SQLite calls again for every row; and
        # COUNT(*), which reads no payload: 1M rows, ~0.5 s less CPU. A NULL payload
        # (never Trackio's) is left out of the join, so its window fails the line count
        # in feed_blob and is read row by row.
        joined = (
            "SELECT CAST(group_concat(metrics, '\n') AS BLOB),"
            f" COUNT(*) FROM {_q(table)} WHERE rowid >= ? AND rowid < ?"
        )
        single = f"SELECT CAST(metrics AS BLOB) FROM {_q(table)} WHERE rowid >= ? AND rowid < ?"
        keyed = (
            f"SELECT {key}, CAST(metrics AS BLOB) FROM {_q(table)} WHERE rowid >= ? AND rowid < ?"
        )
        free: queue.Queue[sqlite3.Connection] = queue.Queue()
        for con in cons:
            free.put(con)

        by_run = (
            f"SELECT CAST(metrics AS BLOB) FROM {_q(table)}"
            f" WHERE {key} = ? AND rowid >= ? AND rowid < ?"
        )

        def scan(window: _Window) -> None:
            kind, runs, a, b = window
            if self._cancelled.is_set():
                return
            con = free.get()
            try:
                if kind == "run":  # one run among others: its rows through the index
                    cur = con.execute(by_run, (runs[0], a, b))
                    while rows := cur.fetchmany(CHUNK_ROWS):
                        scanner.feed_payloads(runs[0], [r[0] for r in rows])
                elif kind == "keyed":  # no index on the run key: every row with its key
                    marks = ",".join("?" * len(runs))
                    rows = con.execute(f"{keyed} AND {key} IN ({marks})", (a, b, *runs)).fetchall()
                    if rows:
                        scanner.feed(_keyed_frame(rows))
                elif kind == "small":  # whole runs, each too short for windows
                    cur = con.execute(keyed, (a, b))
                    batch: list[tuple[Any, Any]] = []
                    size = 0
                    while rows := cur.fetchmany(256):
                        batch += rows
                        size += sum(len(r[1]) for r in rows if r[1] is not None)
                        if size >= WINDOW_BYTES:
                            learn(batch, runs)
                            batch, size = [], 0
                    learn(batch, runs)
                else:
                    scan_joined(con, runs[0], a, b)
            finally:
                free.put(con)

        def learn(rows: list[tuple[Any, Any]], runs: list[Any]) -> None:
            if rows:
                wanted = set(runs)
                scanner.learn(_decode.parsed_keys([r for r in rows if r[0] in wanted]))

        def scan_joined(con: sqlite3.Connection, run: Any, a: int, b: int) -> None:
            try:
                blob, n = con.execute(joined, (a, b)).fetchone()
            except sqlite3.DataError as exc:
                # Windows are sized from a run's first rows; when later rows are much
                # larger (tables logged after a warm-up), one can pass SQLite's 1 GB
                # string limit. Halve it until it fits.
                if "too big" not in str(exc) or b - a < 2:
                    raise
                mid = (a + b) // 2
                scan_joined(con, run, a, mid)
                scan_joined(con, run, mid, b)
                return
            if blob is not None and not scanner.feed_blob(run, blob, n):
                # A payload holds a newline itself: take these rows one by one.
                scanner.feed_payloads(run, [r[0] for r in con.execute(single, (a, b))])

        def plan(planner: sqlite3.Connection) -> Iterator[_Window]:
            indexed = any(cols[:1] == [key] for cols in self._index_columns(table, planner))
            small: list[_Span] = []  # neighbouring small runs, read together

            def together() -> Iterator[_Window]:
                if small:
                    yield ("small", [s[0] for s in small], small[0][1], small[-1][2] + 1)
                    small.clear()

            for group in groups:
                if self._cancelled.is_set():
                    return
                runs = [s[0] for s in group if wanted is None or s[0] in wanted]
                if not runs:
                    yield from together()  # never read across a run left out
                    continue
                if len(group) == 1 and group[0][3] <= SMALL_RUN_ROWS:
                    small.append(group[0])
                    if sum(s[3] for s in small) >= SMALL_BATCH_ROWS:
                        yield from together()
                    continue
                yield from together()
                if len(group) == 1:
                    yield from self._plan_windows(planner, table, group[0], scanner)
                elif indexed:
                    yield from (("run", [s[0]], s[1], s[2] + 1) for s in group if s[0] in runs)
                else:
                    lo, hi = min(s[1] for s in group), max(s[2] for s in group)
                    for a in range(lo, hi + 1, CHUNK_ROWS):
                        yield ("keyed", runs, a, min(a + CHUNK_ROWS, hi + 1))
            yield from together()

        planner = self._connect(self._opened)
        pool = ThreadPoolExecutor(len(cons), thread_name_prefix="trackio-tool-keys")
        try:
            pending = [pool.submit(scan, window) for window in plan(planner)]
            for done in pending:
                _waiting.result(done)
        except BaseException:
            # A failed window or Ctrl-C: drop the queued windows instead of reading them.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)
            planner.close()

    def read_numeric(
        self, run_keys: Sequence[str] | None = None, *, table: str = "metrics"
    ) -> pl.DataFrame:
        """Numeric series of the selected runs: run_key, step, timestamp + one column per leaf.

        Nested dicts become ``parent/child`` columns; NaN/inf are kept as floats.
        """
        if not self.has_table(table):
            return pl.DataFrame(
                schema={"run_key": pl.String, "step": pl.Int64, "timestamp": pl.String}
            )
        key = self.run_key_column if table == "metrics" else self._side_key(table)
        step = "step" if "step" in self.columns[table] else "NULL"
        where, params = self._where_runs(run_keys, key)
        sql = f"SELECT {key}, {step}, timestamp, CAST(metrics AS BLOB) FROM {_q(table)}{where} ORDER BY id"
        schema = {"run_key": pl.String, "step": pl.Int64, "timestamp": pl.String, "t": pl.Binary}
        parts: list[pl.DataFrame] = []
        for chunk in self._chunks(sql, params, schema):
            values = _decode.flatten_numeric(_decode.decode_payloads(chunk.get_column("t")))
            values = _decode.escape_metrics(values)
            parts.append(pl.concat([chunk.drop("t"), values], how="horizontal"))
        if not parts:
            return pl.DataFrame(schema={k: v for k, v in schema.items() if k != "t"})
        return pl.concat(parts, how="diagonal_relaxed")

    def configs(self) -> dict[str, dict[str, Any]]:
        """Run key -> decoded config (absent table: empty)."""
        if not self.has_table("configs"):
            return {}
        key = self._side_key("configs")
        rows = self.execute(f"SELECT {key}, config FROM configs ORDER BY id").fetchall()
        out: dict[str, dict[str, Any]] = {}
        for run, raw in rows:
            with contextlib.suppress(ValueError):
                value = _decode.loads(raw)
                if isinstance(value, dict):
                    out[run] = value
        return out
