"""One Trackio project, whatever its on-disk form, behind one small API."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from trackio_tool._text import listing, plural
from trackio_tool.errors import SourceError, SourceNotFoundError
from trackio_tool.sources import ProjectFiles
from trackio_tool.sources.progress import get_reporter
from trackio_tool.store import inbox
from trackio_tool.store.inbox import Pending
from trackio_tool.store.parquet import ParquetReader
from trackio_tool.store.sqlite import RUN_INDEX_SCHEMA, SqliteReader


class Project:
    """A read-only view of a project: runs, their keys, values and media.

    ``run_key`` identifies a run inside a project: its run_id where the files
    have one, else its name (two runs may share a name since Trackio 0.24).
    """

    def __init__(
        self,
        files: ProjectFiles,
        *,
        refresh: bool = False,
        quiet: bool = True,
        with_inbox: bool = True,
    ) -> None:
        self.files = files
        self.reader: SqliteReader | ParquetReader
        self.pending: Pending | None = None
        """Rows read from Trackio's JSONL inbox, not yet imported into the file."""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if files.kind == "sqlite":
            self.reader = self._open_sqlite(refresh=refresh, quiet=quiet, with_inbox=with_inbox)
        else:
            self.reader = ParquetReader(files)
        self._index: pl.DataFrame | None = None

    def _open_sqlite(self, *, refresh: bool, quiet: bool, with_inbox: bool) -> SqliteReader:
        files = self.files
        path = None
        if not files.inbox_only:
            path = files.local_sqlite_path(refresh=refresh, quiet=quiet)
        if with_inbox:
            self.pending = inbox.pending(
                files.fs, files.inbox_dir, files.project, display=files.url_prefix + files.inbox_dir
            )
        if self.pending is None:
            if path is None:
                raise SourceNotFoundError(f"no such Trackio database: {files.display}")
            return SqliteReader(path, label=files.display)
        if path is not None:
            SqliteReader(path, label=files.display).close()  # one clean line if it is bad
        self._tmp = tempfile.TemporaryDirectory(prefix="trackio-tool-inbox-")
        copy = Path(self._tmp.name) / f"{files.project}.db"
        try:
            inbox.materialize(path, self.pending, copy)
        except sqlite3.Error as exc:
            self._tmp.cleanup()
            what = "disk is full" if "full" in str(exc) else str(exc)
            raise SourceError(
                f"cannot add the JSONL inbox rows of {files.display} to a private copy: {what}"
            ) from exc
        held = self.pending.describe()
        get_reporter().note(
            f"note: project {files.project!r} has no .db yet: it is only in Trackio's JSONL"
            f" inbox ({held} at {self.pending.where})"
            if path is None
            else f"note: {files.display}: {held} of Trackio's JSONL inbox"
            f" ({self.pending.where}) are not imported yet; they are included"
        )
        return SqliteReader(copy, label=files.display)

    @property
    def name(self) -> str:
        return self.files.project

    @property
    def source(self) -> str:
        return self.files.display

    @property
    def has_run_ids(self) -> bool:
        return self.reader.run_key_column == "run_id"

    def cancel(self) -> None:
        """Ask long reads running on other threads to stop early (Ctrl-C)."""
        if isinstance(self.reader, SqliteReader):
            self.reader.cancel()

    def close(self) -> None:
        if isinstance(self.reader, SqliteReader):
            self.reader.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Project:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close()
        if isinstance(exc, sqlite3.DatabaseError) and isinstance(self.reader, SqliteReader):
            # Work on a worker's connection (spans, key scans, a write's checks) can
            # meet a damaged page too: the same one line as the reader's own errors.
            raise self.reader.translate(exc) from exc

    def run_index(self) -> pl.DataFrame:
        if self._index is None:
            self._index = self.reader.run_index().cast(RUN_INDEX_SCHEMA)  # type: ignore[arg-type]
        return self._index

    def metric_keys(self, run_keys: Sequence[str] | None = None) -> pl.DataFrame:
        return self.reader.metric_keys(run_keys)

    def side_counts(self, table: str) -> pl.DataFrame:
        return self.reader.side_counts(table)

    def read_numeric(
        self, run_keys: Sequence[str] | None = None, *, table: str = "metrics"
    ) -> pl.DataFrame:
        return self.reader.read_numeric(run_keys, table=table)

    def configs(self) -> dict[str, dict[str, Any]]:
        return self.reader.configs()

    def media_counts(self, names: Collection[str] | None = None) -> dict[str, int]:
        """Media files per run folder: ``ProjectFiles.media_listing``, the files a merge
        of the run copies. A folder that cannot be listed does not stop a summary (the
        rest of the project is still worth reading): the counts leave it out, and a note
        on stderr names it and the runs (of ``names``, default all) whose count may be
        low."""
        found = self.files.media_listing()
        lost = [u for u in found.unreadable if names is None or u.run is None or u.run in names]
        if lost:
            first = lost[0]
            more = len(lost) - 1
            runs = list(dict.fromkeys(u.run for u in lost))
            who = (
                f"the runs of project {self.name!r} may have"
                if None in runs
                else f"{'run' if len(runs) == 1 else 'runs'}"
                f" {listing([repr(r) for r in runs])} may have"
            )
            get_reporter().note(
                f"note: cannot read {first.folder} ({first.why})"
                + (f" and {plural(more, 'other folder')}" if more else "")
                + f": {who} more media files than counted"
            )
        return {run: len(files) for run, files in found.runs.items()}


def open_project(
    files: ProjectFiles, *, refresh: bool = False, quiet: bool = True, with_inbox: bool = True
) -> Project:
    return Project(files, refresh=refresh, quiet=quiet, with_inbox=with_inbox)
