"""Change Trackio project databases safely: merge, drop and rename runs (§2-6, §10, §11).

Every change to a ``.db`` is one ``BEGIN IMMEDIATE`` transaction, taken under
Trackio's own project lock with a busy timeout, so a Trackio process logging
into the same project waits and loses nothing. All the slow work (reading the
source, packing parquet rows into JSON, copying media) happens *before* the
lock is taken; the locked part is a few ``INSERT ... SELECT`` statements.

Crash safety: a merge into an existing database stages its rows in temporary
tables and its media in a hidden folder beside the target; a kill before the
commit leaves the database as it was (SQLite rolls the transaction back), at
worst with orphan media files. A new target is built as a hidden file and
linked into place complete, or not at all. Media files of a drop are deleted
after the commit; a rename links the files to their new folder before the
commit and removes the old names after it.
"""

from __future__ import annotations

import contextlib
import errno
import filecmp
import functools
import json
import os
import re
import shutil
import socket
import sqlite3
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from trackio_tool._text import listing, plural
from trackio_tool.errors import (
    ConflictError,
    NotATrackioFileError,
    RunSelectionError,
    SourceError,
    SourcePermissionError,
    WriteError,
)
from trackio_tool.sources import ProjectFiles, canonical_project_name, resolve_sources
from trackio_tool.sources._layout import walk_local
from trackio_tool.sources._names import raw_name_folders
from trackio_tool.sources.remote import is_url
from trackio_tool.store import _lock, _schema
from trackio_tool.store._schema import JSON_COLUMNS, RUN_TABLES, quote
from trackio_tool.store._sqlite_ro import read_only
from trackio_tool.store.project import Project, open_project
from trackio_tool.store.rows import (
    FILE_PATH_KEY,
    MediaMove,
    RunMap,
    SourceRows,
    big_blob_sql,
    json_fragment,
    media_path_regex,
)
from trackio_tool.store.select import select_runs, split_selectors
from trackio_tool.store.sqlite import SqliteReader, missing_columns

RESERVED_SUFFIXES = (
    "_system",
    "_configs",
    "_traces",
    "_artifacts",
    "_artifact_versions",
    "_artifact_aliases",
    "_run_artifact_links",
    "_external_run_artifact_links",
)
_STAGE_PREFIX = ".trackio-tool-"
PROJECT_FILES = "files"  # media/<project>/files/: trackio.save's folder, not a run's


# -- results --------------------------------------------------------------------------


@dataclass(frozen=True)
class RunChange:
    """One run touched by a merge, drop or rename."""

    name: str
    run_id: str | None
    rows: dict[str, int]
    """Rows per table (merged, deleted or renamed)."""
    media_files: int = 0
    source_id: str | None = None
    """The run's id in the source, where it differs from the one in the target."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "id": self.run_id,
            "rows": dict(self.rows),
            "media_files": self.media_files,
        }
        if self.source_id is not None:
            out["source_id"] = self.source_id
        return out


@dataclass(frozen=True)
class WriteResult:
    """What a merge/drop/rename did, or (``dry_run``) would do."""

    action: str
    target: str
    project: str
    runs: tuple[RunChange, ...]
    dry_run: bool = False
    media: bool = True
    source: str | None = None
    created: bool = False
    """The target database did not exist and was created with Trackio 0.43's schema."""
    tables_created: tuple[str, ...] = ()
    new_name: str | None = None
    notes: tuple[str, ...] = ()
    cancelled: bool = False

    @property
    def tables(self) -> list[str]:
        seen: dict[str, None] = {}
        for run in self.runs:
            for t in run.rows:
                seen.setdefault(t, None)
        return [t for t in RUN_TABLES if t in seen]

    @property
    def rows(self) -> dict[str, int]:
        return {t: sum(r.rows.get(t, 0) for r in self.runs) for t in self.tables}

    @property
    def media_files(self) -> int:
        return sum(r.media_files for r in self.runs)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action,
            "dry_run": self.dry_run,
            "target": self.target,
            "project": self.project,
        }
        if self.source is not None:
            out["source"] = self.source
        if self.action == "merge":
            out["created"] = self.created
            out["tables_created"] = list(self.tables_created)
        if self.new_name is not None:
            out["new_name"] = self.new_name
        out["runs"] = [r.to_json() for r in self.runs]
        out["rows"] = self.rows
        out["media"] = self.media
        out["media_files"] = self.media_files
        out["notes"] = list(self.notes)
        return out


# -- target checks --------------------------------------------------------------------


def _target_path(target: str | os.PathLike[str]) -> Path:
    text = os.fspath(target)
    if is_url(text):
        raise WriteError(f"only local .db files can be changed, not {text}")
    expanded = os.path.expanduser(text)
    if expanded.startswith("~"):  # `~name/...` with no user `name`: not a folder to create
        user = expanded[1:].split(os.sep, 1)[0]
        raise WriteError(f"target {text}: ~{user} is no home folder (there is no user {user!r})")
    path = Path(expanded).absolute()
    if path.suffix != ".db":
        raise NotATrackioFileError(
            f"target {text} is not a .db file (Trackio projects are <project>.db)"
        )
    return path


def _check_writable(path: Path) -> None:
    if not os.access(path, os.W_OK):
        raise SourcePermissionError(f"target {path} is read-only; nothing was changed")
    # SQLite follows a symlinked .db and keeps its journal beside the real file.
    for file in dict.fromkeys([path, path.resolve()]):
        if not os.access(file.parent, os.W_OK | os.X_OK):
            raise SourcePermissionError(
                f"the folder of {file} is read-only (SQLite needs it for its journal);"
                " nothing was changed"
            )


def _refers_to_run(column: str, *, by_name: bool) -> bool:
    ends = ("run_name",) if by_name else ("run_id", "run_name")
    return column in ends or column.endswith(tuple(f"_{e}" for e in ends))


@functools.cache
def _known_columns(table: str) -> list[str]:
    return _columns_of(_schema.TABLES[table])


def unknown_run_references(
    layout: dict[str, list[str]], *, by_name: bool = False
) -> list[tuple[str, str | None]]:
    """Tables (``(t, None)``) and columns of known tables (``(t, c)``) that refer to
    runs but that trackio-tool does not know; ``by_name``: only those naming runs.

    Trackio adds run-scoped tables every few releases (configs 0.4, system metrics
    0.14, alerts 0.18, traces 0.26, artifact links 0.30/0.38): a file from a newer
    Trackio may refer to a run where merge, drop and rename do not look.
    """
    found: list[tuple[str, str | None]] = []
    for t, cols in sorted(layout.items()):
        refs = [c for c in cols if _refers_to_run(c, by_name=by_name)]
        if not refs or t.startswith("sqlite_"):
            continue
        if t not in _schema.TABLES:
            found.append((t, None))
        else:
            found.extend((t, c) for c in refs if c not in _known_columns(t))
    return found


def _shown(places: Sequence[tuple[str, str | None]]) -> str:
    """``'run_tags', 'configs.parent_run_id'``."""
    return listing([repr(t if c is None else f"{t}.{c}") for t, c in places])


def _refuse_unknown_run_references(
    path: Path, layout: dict[str, list[str]], what: str, *, by_name: bool = False
) -> None:
    """drop and rename stop where they would leave a run behind in a place they do not know."""
    if unknown := unknown_run_references(layout, by_name=by_name):
        raise WriteError(
            f"{path.name} refers to runs where trackio-tool does not look"
            f" ({_shown(unknown)}; written by a newer Trackio?): {what};"
            " nothing was changed: update trackio-tool, or use Trackio itself"
        )


def _left_behind(
    src: Project, write_tables: Sequence[str], layout: dict[str, list[str]]
) -> list[str]:
    """Notes on what of a newer Trackio's file a merge cannot copy: run tables it does
    not know, and columns it does not know that the target does not have either."""
    reader = src.reader
    if not isinstance(reader, SqliteReader):  # an export's columns are metrics
        return []
    notes = []
    if tables := [(t, c) for t, c in unknown_run_references(reader.columns) if c is None]:
        one = len(tables) == 1
        notes.append(
            f"{'a table' if one else 'tables'} of {src.source} that trackio-tool does not know"
            f" ({_shown(tables)}; written by a newer Trackio?) {'holds' if one else 'hold'}"
            " rows by run: not copied"
        )
    columns: list[tuple[str, str | None]] = [
        (t, c)
        for t in write_tables
        for c in reader.columns.get(t, [])
        if c not in layout.get(t, []) and c not in _known_columns(t)
    ]
    if columns:
        one = len(columns) == 1
        notes.append(
            f"{'a column' if one else 'columns'} of {src.source} that trackio-tool does not"
            f" know and the target lacks ({_shown(columns)}; written by a newer Trackio?):"
            " not copied"
        )
    return notes


def _check_new_target(path: Path) -> None:
    stem = path.stem
    if canonical_project_name(stem) != stem:
        raise NotATrackioFileError(
            f"{path.name} is not a name Trackio would open: project files are named"
            f" <project>.db with only letters, digits, '_' and '-' (e.g. {canonical_project_name(stem)}.db)"
        )
    if stem.startswith("registry-") or any(
        stem.endswith(s) and len(stem) > len(s) for s in RESERVED_SUFFIXES
    ):
        raise NotATrackioFileError(
            f"{path.name}: Trackio reserves project names starting with 'registry-' or ending"
            f" with {', '.join(RESERVED_SUFFIXES[:3])}, ...; choose another target name"
        )
    parent = _nearest_folder(path.parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SourcePermissionError(f"cannot create {path}: {parent} is read-only")


def _check_no_pending(path: Path) -> None:
    """Refuse a target whose project has rows waiting in Trackio's JSONL inbox.

    Trackio imports them later, by run id: a dropped run would come back, a
    renamed one would split in two, a merge could not check them for clashes.
    """
    from fsspec.implementations.local import LocalFileSystem

    from trackio_tool.sources._layout import INBOX_DIR
    from trackio_tool.store import inbox

    where = str(path.parent / INBOX_DIR)
    found = inbox.pending(LocalFileSystem(), where, path.stem, display=where)
    if found is not None:
        raise ConflictError(
            f"project {path.stem!r} has {found.describe()} in Trackio's JSONL inbox"
            f" ({where}), not imported into {path.name} yet; open the project once with"
            " `trackio show` so Trackio imports them, then retry; nothing was changed"
        )


def _open_target(path: Path) -> Project:
    if not path.exists():
        raise NotATrackioFileError(f"no such Trackio database: {path}")
    _check_no_pending(path)
    files = resolve_sources([str(path)])[0]
    project = open_project(files, with_inbox=False)
    if not isinstance(project.reader, SqliteReader):  # pragma: no cover - .db always is
        project.close()
        raise NotATrackioFileError(f"{path} is not a Trackio database")
    return project


def _unsafe_name(name: str) -> bool:
    return "/" in name or "\\" in name or "\x00" in name or name.strip() in ("", ".", "..")


def _check_names(
    names: Iterable[str], what: str, hint: str = "use --no-media, or rename the run first"
) -> None:
    bad = sorted({n for n in names if _unsafe_name(n)})
    if bad:
        raise WriteError(
            f"{what} {', '.join(repr(b) for b in bad)} would escape the media folder"
            f" (a run name may not contain '/' or be '..'); {hint}"
        )


def _layout(con: sqlite3.Connection) -> dict[str, list[str]]:
    return _schema.table_columns(con)


def _existing_runs(
    con: sqlite3.Connection, layout: dict[str, list[str]], schema: str = "main"
) -> tuple[set[str], set[str]]:
    """Run names and run ids a target already uses, in any run-scoped table: a
    mixed file (0.24-0.40 appending to an older one) may hold a run's id only in
    its alerts or system metrics."""
    names: set[str] = set()
    ids: set[str] = set()
    for table in RUN_TABLES:
        cols = layout.get(table, [])
        if "run_name" in cols:
            names.update(
                str(r[0])
                for r in con.execute(f"SELECT DISTINCT run_name FROM {schema}.{table}")
                if r[0] is not None
            )
        if "run_id" in cols:
            ids.update(
                str(r[0])
                for r in con.execute(f"SELECT DISTINCT run_id FROM {schema}.{table}")
                if r[0] is not None
            )
    return names, ids


def _conflicts(runs: Sequence[RunMap], names: set[str], ids: set[str], target: Path) -> None:
    clash = []
    for r in runs:  # one entry per run, by name and/or id
        why = [f"{r.name!r}"] if r.name in names else []
        if r.run_id is not None and r.run_id in ids:
            why.append(f"id {r.run_id}")
        if why:
            clash.append(" ".join(why) if len(why) == 1 else f"{why[0]} ({why[1]})")
    if clash:
        which = (
            "a selected run already exists"
            if len(clash) == 1
            else (f"{len(clash)} selected runs already exist")
        )
        raise ConflictError(
            f"{which} in {target.name}: {listing(clash)};"
            f" drop or rename {'it' if len(clash) == 1 else 'them'} there first, or leave"
            f" {'it' if len(clash) == 1 else 'them'} out with --run"
        )


# -- media ----------------------------------------------------------------------------


def _media_root(target: Path) -> Path:
    return target.parent / "media" / target.stem


def _media_roots(root: Path) -> list[Path]:
    """``root`` (``media/<stem>``) and the folders Trackio <= 0.29 named after the
    project's raw name (``media/my.proj`` for ``myproj.db``): both hold its runs."""
    try:
        names = [p.name for p in root.parent.iterdir()]
    except OSError:  # no media folder yet
        names = []
    raw = (root.parent / f for f in raw_name_folders(names, root.name))
    return [root, *(d for d in raw if d.is_dir())]


def _source_media(files: ProjectFiles, names: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """Run name -> [(source file, path relative to the run folder)]: the files
    ``analyze`` counts (``ProjectFiles.media_listing``). A folder of these runs that
    cannot be listed stops the merge: a copy without its files would look complete; so
    does a link of a remote source that cannot be copied (``_check_remote_links``)."""
    wanted = set(names)
    found = files.media_listing()
    for u in found.unreadable:
        if u.run is None or u.run in wanted:
            error = SourcePermissionError if isinstance(u.error, PermissionError) else SourceError
            raise error(
                f"cannot read {u.folder} ({u.why}), which may hold media files of the merged"
                " runs; nothing was changed (--no-media merges the rows without their media)"
            ) from u.error
    plan = {name: found.runs.get(name, []) for name in wanted}
    if found.links:
        _check_remote_links(
            files, [p for items in plan.values() for p, _ in items if p in found.links]
        )
    return plan


def _check_remote_links(files: ProjectFiles, links: list[str]) -> None:
    """Links of a remote source (ssh://) are copied as what they hold, which works for a
    link to a file only (as a local merge copies it). A link to a folder or to nothing
    is copied as a link by a local merge, pointing at the same place; a place on
    another host cannot be pointed at from here, and its files are not the merged
    runs' to copy (analyze counts the link as one file): refused, naming the first,
    before anything is copied. One request per link: they are few, and merge fetches
    every file it copies anyway."""
    far = "on the host, which a copy here could not point at"
    bad: list[tuple[str, str]] = []
    for link in sorted(links):
        try:
            kind = files.fs.info(link).get("type")
        except FileNotFoundError:
            bad.append((link, f"a symbolic link to nothing {far}"))
            continue
        except SourceError:
            raise
        except OSError as exc:  # (a link into a folder we may not read)
            why = exc.strerror or str(exc)
            bad.append((link, f"a symbolic link on the host that cannot be followed ({why})"))
            continue
        if kind != "file":
            to = "a folder" if kind == "directory" else "what is not a file"
            bad.append((link, f"a symbolic link to {to} {far}"))
    if not bad:
        return
    (first, what), more = bad[0], len(bad) - 1
    raise SourceError(
        f"cannot copy {files.url_prefix}{first}: {what}"
        + (f" (and {plural(more, 'other such link')} in the merged runs)" if more else "")
        + "; nothing was changed (replace the link on the host with what it points at,"
        " or --no-media merges the rows without their media)"
    )


def _local_files(folder: Path) -> list[Path]:
    """The files of a run folder as the media listing has them (``walk_local``): links
    are files, never followed; a run folder that is a link is no run folder. (This
    was ``Path.rglob``, which enters the folder it starts from even through a link.)"""
    if folder.is_symlink():
        return []
    return [Path(p) for p in walk_local(str(folder))]


@dataclass
class _Placed:
    """Files moved or linked into place, so a failure can take them back."""

    files: list[Path] = field(default_factory=list)
    dirs: list[Path] = field(default_factory=list)

    def mkdir(self, folder: Path) -> None:
        missing = []
        p = folder
        while not p.exists():
            missing.append(p)
            p = p.parent
        for d in reversed(missing):  # one by one: a failure halfway takes back the rest
            try:
                d.mkdir()
            except FileExistsError:
                continue  # (another process made it meanwhile: not ours to remove)
            self.dirs.append(d)

    def undo(self) -> None:
        for f in reversed(self.files):
            with contextlib.suppress(OSError):
                f.unlink()
        for d in reversed(self.dirs):
            with contextlib.suppress(OSError):
                d.rmdir()


# Targets whose change this process has committed: a Ctrl-C after that says so (cli).
committed: list[str] = []
# Targets this process set out to change (cli: an output closed before the change was
# committed is then an error, not the reader having what it wanted).
begun: list[str] = []


def _changed_meanwhile(what: str, why: str) -> ConflictError:
    return ConflictError(
        f"{what} changed while this command waited for the project lock ({why});"
        " nothing was changed: run the command again"
    )


@contextlib.contextmanager
def _write_transaction(
    con: sqlite3.Connection, path: Path, lock_timeout: float, placed: _Placed | None
) -> Iterator[None]:
    """Trackio's project lock, then one ``BEGIN IMMEDIATE`` transaction.

    Commits when the block ends; on any failure (or Ctrl-C) rolls back and takes
    back the media files already placed, so the target is left as it was.
    """
    with _lock.project_lock(path, timeout=lock_timeout):
        committing = False
        try:
            _lock.begin_immediate(con)
            yield
            committing = True
            con.execute("COMMIT")
            committed.append(str(path))
        except BaseException as exc:
            # A Ctrl-C is raised as soon as a long COMMIT returns: the change is in,
            # and the media placed for it must stay.
            if committing and not con.in_transaction and not isinstance(exc, sqlite3.Error):
                committed.append(str(path))
                raise
            if con.in_transaction:
                con.execute("ROLLBACK")
            if placed is not None:
                placed.undo()
            if isinstance(exc, sqlite3.Error):
                raise _translate(exc, path) from exc
            raise


def _stage_media(
    files: ProjectFiles, plan: dict[str, list[tuple[str, str]]], staging: Path
) -> list[str]:
    """Copy the planned files into ``staging/<run>/<rel>``; their paths below it."""
    staged = [f"{name}/{rel}" for name, items in plan.items() for _, rel in items]
    pairs = [(src, staging / name / rel) for name, items in plan.items() for src, rel in items]
    if not pairs:
        return staged
    try:
        if files.is_local:
            made: set[Path] = set()
            for src, dst in pairs:
                if dst.parent not in made:  # one mkdir per folder, not per file
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    made.add(dst.parent)
                if _not_a_file_link(src):
                    os.symlink(_link_target(src), dst)
                else:
                    shutil.copy2(src, dst)  # (a link to a file: the file)
        else:
            # Remote sources: parallel transfers with one progress bar (sources/).
            from trackio_tool.sources import download_files

            download_files(files.fs, pairs)
    except (OSError, SourceError) as exc:
        raise WriteError(
            f"cannot copy media files from {files.display}: {exc}; nothing was changed"
        ) from exc
    return staged


def _not_a_file_link(path: str) -> bool:
    """A symbolic link to a folder, to nothing, or to what is not a file. The media
    listing counts it as one file and does not follow it; merge copies it as a link
    (a link to a file is copied as the file, as any other)."""
    return os.path.islink(path) and not os.path.isfile(path)


def _link_target(link: str) -> str:
    """Where ``link`` points, as an absolute path: its copy in another folder points
    at the same place."""
    target = os.readlink(link)
    if os.path.isabs(target):
        return target
    joined = os.path.join(os.path.realpath(os.path.dirname(link)), target)
    parts = target.split("/")
    while parts and parts[0] in ("..", "."):
        parts.pop(0)
    # Leading "..": taken from the folder's real path, as the system does; a ".."
    # after a name would be taken from wherever that name leads: left as it is.
    return joined if ".." in parts else os.path.normpath(joined)


def _links_note(plan: dict[str, list[tuple[str, str]]]) -> str | None:
    links = [
        f"{name}/{rel}"
        for name, items in plan.items()
        for src, rel in items
        if _not_a_file_link(src)
    ]
    if not links:
        return None
    one = len(links) == 1
    return (
        f"{plural(len(links), 'media file')} of the merged runs"
        f" {'is a symbolic link' if one else 'are symbolic links'} to a folder or to nothing"
        f" ({listing(sorted(links), limit=3)}): copied as {'a link' if one else 'links'} to the"
        f" same place; what {'it points' if one else 'they point'} at is not copied"
    )


def _nearest_folder(folder: Path) -> Path:
    while not folder.exists():
        folder = folder.parent
    return folder


def _check_media_writable(root: Path) -> None:
    """Refuse before any work when merged media could not be put in ``root``."""
    folder = _nearest_folder(root)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WriteError(
            f"cannot put media files in {root}: {folder} is not writable; nothing was changed"
            " (--no-media merges the rows without their media)"
        )


def _staging_dir(path: Path, token: str) -> Path:
    """Where a merge stages its media: beside the target, or, when the media folder is
    on another device (a mount, a link to another disk), in it, so that the staged
    files can be renamed into place."""
    folder = path.parent
    media = _nearest_folder(_media_root(path))
    with contextlib.suppress(OSError):
        if media.stat().st_dev != folder.stat().st_dev:
            folder = media
    return folder / f"{_STAGE_PREFIX}media-{token}"


def _place_staged(staging: Path, root: Path, placed: _Placed, staged: Sequence[str]) -> None:
    """Move the ``staged`` files (paths below ``staging``) into ``root``.

    A folder that ``root`` does not have yet (a merged run's, usually) is moved
    whole, with one rename: this runs under Trackio's lock, and Trackio 0.25+ makes
    a folder per logged step, so file by file it was two folder operations per
    image (41,800 files: 16 s under the lock, longer than Trackio waits for it).
    Existing folders are entered; a file already there is the same file (uuid names).
    """
    tree: dict[str, dict[str, None]] = {"": {}}  # folder -> its entries; "" is staging
    files = set(staged)
    for rel in staged:
        parts = rel.split("/")
        parent = ""
        for i in range(1, len(parts) + 1):
            child = "/".join(parts[:i])
            tree[parent][child] = None
            if i < len(parts):
                tree.setdefault(child, {})
            parent = child

    def record(rel: str, dst: Path) -> None:
        """Note ``dst`` and what it holds of ours, for ``placed.undo`` (which takes
        back our files only: a folder someone else writes into keeps theirs)."""
        if rel in files:
            placed.files.append(dst)
            return
        placed.dirs.append(dst)
        for child in tree[rel]:
            record(child, root / child)

    try:
        todo = [""]
        while todo:
            for rel in tree[todo.pop()]:
                src, dst = staging / rel, root / rel
                if os.path.lexists(dst):
                    if rel not in files:
                        todo.append(rel)  # an existing folder: place what it lacks
                    continue  # uuid-named: the same file is already there
                placed.mkdir(dst.parent)
                try:
                    os.rename(src, dst)
                except OSError as exc:
                    if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) and rel not in files:
                        todo.append(rel)  # made by another process meanwhile: enter it
                        continue
                    if exc.errno != errno.EXDEV:
                        raise
                    # Another mount of the same device (a bind mount): copy. Noted
                    # first, so a partial copy goes too.
                    record(rel, dst)
                    if rel in files:
                        shutil.copy2(src, dst, follow_symlinks=False)  # (a link stays one)
                    else:
                        shutil.copytree(src, dst, symlinks=True)
                    continue
                record(rel, dst)
    except OSError as exc:  # a full disk, a read-only folder, another device below root
        raise WriteError(f"cannot put media files in {root}: {exc}; nothing was changed") from exc


# -- merge ----------------------------------------------------------------------------


def merge(
    source: ProjectFiles,
    target: str | os.PathLike[str],
    *,
    runs: Sequence[str] = (),
    media: bool = True,
    dry_run: bool = False,
    lock_timeout: float = _lock.LOCK_TIMEOUT,
) -> WriteResult:
    """Copy runs of ``source`` (any layout) into the Trackio database ``target``.

    ``target`` is created with Trackio 0.43's schema when it does not exist.
    Raises before writing anything when a run is unknown, already in the
    target, or cannot be represented in the target's layout.
    """
    begun.append(str(target))
    path = _target_path(target)
    exists = path.exists()
    if exists:
        _check_writable(path)
    elif path.is_symlink():
        raise WriteError(
            f"{path} is a symbolic link to a missing file ({os.readlink(path)});"
            " nothing was changed: give the real path, or remove the link"
        )
    else:
        _check_new_target(path)
    _check_no_pending(path)
    if source.is_local and exists and Path(source.path).resolve() == path.resolve():
        raise ConflictError(f"source and target are the same file: {path}")
    project = path.stem
    notes: list[str] = []
    with open_project(source) as src:
        index = src.run_index()
        keys = select_runs(index, split_selectors(runs), where=source.display)
        if not keys:
            raise RunSelectionError(f"{source.display} has no runs to merge")
        selected = index.filter(pl.col("run_key").is_in(keys))
        names = selected.get_column("run_name").to_list()
        if media:
            _check_names(names, "run name")
        rows = SourceRows(src.reader)
        src_tables = rows.tables()
        notes.extend(_missing_companions(source, src_tables))
        notes.extend(_artifacts_left(src.reader, selected))
        counts = {t: rows.counts(t, _keys_for(rows, t, selected)) for t in src_tables}
        write_tables = [t for t in RUN_TABLES if any(counts.get(t, {}).values())]

        if exists:
            target_layout, target_names, target_ids = _inspect_target(path)
        else:
            target_layout = {t: _columns_of(sql) for t, sql in _schema.TABLES.items()}
            target_names, target_ids = set(), set()
        _check_payload_columns(rows, target_layout, write_tables, source.display, path)
        legacy = "run_id" not in target_layout.get("metrics", [])
        created_tables = tuple(t for t in write_tables if t not in target_layout)
        layout = dict(target_layout)
        for t in created_tables:
            sql = (
                _schema.LEGACY_TABLES[t]
                if legacy and t in _schema.LEGACY_TABLES
                else _schema.TABLES[t]
            )
            layout[t] = _columns_of(sql)

        notes.extend(_left_behind(src, write_tables, layout))
        run_maps = _run_maps(src, rows, selected, layout, write_tables, legacy, path)
        _conflicts(run_maps, target_names, target_ids, path)
        media_plan = _source_media(source, dict.fromkeys(names)) if media else {}
        if source.is_local and (note := _links_note(media_plan)):
            notes.append(note)
        changes = []
        counted: set[str] = set()
        for r, row in zip(run_maps, selected.iter_rows(named=True), strict=True):
            # Same-named runs share one media folder: count it once.
            n_media = 0 if r.name in counted else len(media_plan.get(r.name, []))
            counted.add(r.name)
            sid = row["run_id"]
            changes.append(
                RunChange(
                    name=r.name,
                    run_id=None if legacy else r.run_id,
                    source_id=str(sid) if sid is not None and (legacy or sid != r.run_id) else None,
                    rows={t: counts[t].get(_key_of(rows, t, row), 0) for t in write_tables},
                    media_files=n_media,
                )
            )
        if created_tables and exists:
            notes.append(
                f"tables created in {path.name}: {', '.join(created_tables)}"
                + (" (run-name layout, like the rest of the file)" if legacy else "")
            )
        result = WriteResult(
            action="merge",
            target=str(path),
            project=project,
            runs=tuple(changes),
            dry_run=dry_run,
            media=media,
            source=source.display,
            created=not exists,
            tables_created=created_tables,
            notes=tuple(notes),
        )
        if exists:
            # Rows merged before are refused on a read-only connection first: a refusal
            # then leaves the target's bytes alone (a write connection folds its -wal in
            # when it closes), and --dry-run says what the real run would.
            _precheck_duplicates(path, _TablePlan(rows, run_maps, layout, write_tables, None))
        if any(media_plan.values()):
            _check_media_writable(_media_root(path))
        if dry_run:
            return result
        media_to = MediaMove(project, tuple(names)) if media else None
        plan = _TablePlan(rows, run_maps, layout, write_tables, media_to)
        if exists:
            _merge_into_existing(path, plan, source, media_plan, lock_timeout=lock_timeout)
        else:
            _merge_into_new(path, plan, source, media_plan, lock_timeout=lock_timeout)
        if note := _media_not_found(media_to, media_plan):
            result = replace(result, notes=(*result.notes, note))
    return result


def _check_payload_columns(
    rows: SourceRows,
    target_layout: dict[str, list[str]],
    tables: Sequence[str],
    source: str,
    target: Path,
) -> None:
    """A table without its JSON column would take rows and drop their values."""
    sqlite_source = isinstance(rows.reader, SqliteReader)
    for table in tables:
        for col in (c for c in JSON_COLUMNS[table] if c not in _schema.DEFAULTS):
            for where, cols in (
                (source, rows.columns(table) if sqlite_source else [col]),
                (str(target), target_layout.get(table, [col])),
            ):
                if col not in cols:
                    raise missing_columns(where, table, [col])


def _columns_of(create_sql: str) -> list[str]:
    con = sqlite3.connect(":memory:")
    try:
        con.execute(create_sql)
        name = create_sql.split("(", 1)[0].split()[-1]
        return [r[1] for r in con.execute(f"PRAGMA table_info({quote(name)})")]
    finally:
        _lock.checkpoint(con)
        con.close()


def _media_not_found(
    media_to: MediaMove | None, plan: dict[str, list[tuple[str, str]]]
) -> str | None:
    """A note for merged runs whose rows refer to media files of their own run folder
    when no such folder was found in the source (media never copied along, a folder
    deleted, a remote project's old raw-name folder): the merged rows point at files
    that are not there. Learnt while the rows are copied, so a dry run cannot say it."""
    if media_to is None:
        return None
    missing = [r for r in media_to.referred() if not plan.get(r)]
    if not missing:
        return None
    runs = ", ".join(repr(r) for r in missing)
    return (
        f"no media files were found in the source for {runs}, whose rows refer to some:"
        " the merged rows point at files that are not there"
    )


def _artifacts_left(reader: Any, selected: pl.DataFrame) -> list[str]:
    """A note when the merged runs have artifacts, which merge does not copy (their
    blobs live in the source's ``artifacts/`` store): silence would look like a loss."""
    if not isinstance(reader, SqliteReader):
        return []
    ids = [str(v) for v in selected.get_column("run_id").to_list() if v is not None]
    names = [str(v) for v in selected.get_column("run_name").to_list() if v is not None]
    if not names:
        return []
    id_marks, name_marks = ",".join("?" * len(ids)) or "NULL", ",".join("?" * len(names))
    links = versions = 0
    for table in ("run_artifact_links", "external_run_artifact_links"):
        if reader.has_table(table) and "run_id" in reader.columns[table]:
            links += reader.execute(
                f"SELECT COUNT(*) FROM {table} WHERE run_id IN ({id_marks})"
                f" OR (run_id IS NULL AND run_name IN ({name_marks}))",
                (*ids, *names),
            ).fetchone()[0]
    if reader.has_table("artifact_versions") and "producer_run_id" in reader.columns.get(
        "artifact_versions", []
    ):
        versions = reader.execute(
            f"SELECT COUNT(*) FROM artifact_versions WHERE producer_run_id IN ({id_marks})"
            f" OR (producer_run_id IS NULL AND producer_run_name IN ({name_marks}))",
            (*ids, *names),
        ).fetchone()[0]
    if not links and not versions:
        return []
    parts = []
    if versions:
        parts.append(f"{plural(versions, 'artifact version')} they produced")
    if links:
        parts.append(plural(links, "artifact link"))
    what = " and ".join(parts)
    return [f"artifacts are not copied: the merged runs' {what} stay in the source only"]


def _missing_companions(files: ProjectFiles, tables: Sequence[str]) -> list[str]:
    if files.kind == "sqlite":
        return []
    missing = [t for t in ("system_metrics", "configs", "traces") if t not in tables]
    if not missing:
        return []
    stem = files.path.rstrip("/").rsplit("/", 1)[-1]
    if files.kind == "static":
        where = [f"aux/{t}.parquet" for t in missing]
    else:
        base = stem[: -len(".parquet")]
        suffix = {"system_metrics": "_system", "configs": "_configs", "traces": "_traces"}
        where = [f"{base}{suffix[t]}.parquet" for t in missing]
    return [
        f"no {', '.join(where)} beside {stem}: {', '.join(missing)} not merged"
        " (that export has none, or it was not copied)"
    ]


def _keys_for(rows: SourceRows, table: str, selected: pl.DataFrame) -> list[str]:
    col = "run_key" if rows.key_column(table) == "run_id" else "run_name"
    return [str(v) for v in selected.get_column(col).to_list()]


def _key_of(rows: SourceRows, table: str, row: dict[str, Any]) -> str:
    return str(row["run_key"] if rows.key_column(table) == "run_id" else row["run_name"])


def _inspect_target(path: Path) -> tuple[dict[str, list[str]], set[str], set[str]]:
    with _open_target(path) as proj:
        reader = proj.reader
        assert isinstance(reader, SqliteReader)
        layout = dict(reader.columns)
        names, ids = _existing_runs(reader.con, layout)
    return layout, names, ids


def _run_maps(
    src: Project,
    rows: SourceRows,
    selected: pl.DataFrame,
    layout: dict[str, list[str]],
    write_tables: Sequence[str],
    legacy: bool,
    target: Path,
) -> list[RunMap]:
    has_ids = src.has_run_ids
    names = selected.get_column("run_name").to_list()
    keys = selected.get_column("run_key").to_list()
    if legacy and has_ids:
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            detail = "; ".join(
                f"{n!r}: ids {', '.join(str(k) for k, m in zip(keys, names, strict=True) if m == n)}"
                for n in dup
            )
            raise ConflictError(
                f"{target.name} keys runs by name (written before Trackio 0.24), but several"
                f" selected runs share a name ({detail}); merge one of them with --run <id>"
            )
    if has_ids:
        return [
            RunMap(key=str(k), name=str(n), run_id=str(k)) for k, n in zip(keys, names, strict=True)
        ]
    needs_ids = any("run_id" in layout.get(t, []) for t in write_tables if t != "traces")
    if not needs_ids:
        return [
            RunMap(key=str(k), name=str(n), run_id=None) for k, n in zip(keys, names, strict=True)
        ]
    # Trackio's migration: one new uuid4().hex per legacy run name, the same in
    # every table; a name that already has an id in a run_id table keeps it.
    known = rows.latest_ids_by_name([str(n) for n in names])
    return [
        RunMap(key=str(k), name=str(n), run_id=known.get(str(n)) or uuid.uuid4().hex)
        for k, n in zip(keys, names, strict=True)
    ]


@dataclass
class _TablePlan:
    rows: SourceRows
    runs: list[RunMap]
    layout: dict[str, list[str]]
    tables: list[str]
    media_to: MediaMove | None

    def columns(self, table: str) -> list[str]:
        return _schema.insert_columns(table, self.layout[table])

    def read(self, table: str) -> Iterator[tuple[Any, ...]]:
        return self.rows.read(table, self.columns(table), self.runs, media_to=self.media_to)


def _connect_rw(path: Path) -> sqlite3.Connection:
    """``_lock.connect_rw``, its errors about the target (inside a merge's ``with
    open_project(source)``, an untranslated one would be reported as the source's)."""
    try:
        return _lock.connect_rw(path)
    except sqlite3.Error as exc:
        raise _translate(exc, path) from exc


def _translate(exc: sqlite3.Error, path: Path, *, changed: bool = False) -> WriteError:
    state = "it may be partly changed" if changed else "it was left unchanged"
    msg = str(exc)
    if "readonly" in msg or "read-only" in msg:
        return WriteError(f"{path} is read-only ({msg}); {state}")
    if "locked" in msg or "busy" in msg:
        return WriteError(f"{path} stayed locked by another process ({msg}); {state}")
    if msg.startswith("NOT NULL constraint failed: "):
        # Trackio's schema needs the value; only a damaged source lacks it.
        column = msg.rpartition(": ")[2]
        return WriteError(
            f"a source row has no {column.partition('.')[2] or column}, which {path.name}"
            f" requires ({msg}); {path} {state.partition(' ')[2]}"
        )
    return WriteError(f"could not write {path}: {msg}; {state}")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())[:64] or "host"


def _stage_token() -> str:
    """Names this process's staging files: host, pid (see ``_sweep_leftovers``), random."""
    return f"{_host()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


_LEFTOVER = re.compile(
    rf"^{re.escape(_STAGE_PREFIX)}.*-(?P<host>[A-Za-z0-9._]+)-(?P<pid>\d+)-[0-9a-f]{{12}}"
    r"(?:\.db-building(?:-wal|-shm|-journal)?)?$"
)


def _sweep_leftovers(folder: Path) -> None:
    """Remove what a killed merge left beside its target: a half-built database or
    staged media of a process of this host that no longer runs. (Another host's
    files, on a shared disk, are left alone: its processes cannot be seen from here.)"""
    if os.name != "posix":  # os.kill(pid, 0) would end the process on Windows
        return
    host = _host()
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        m = _LEFTOVER.match(entry.name)
        if m is None or m["host"] != host or _alive(int(m["pid"])):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: someone else's process
        return True
    return True


def _merge_into_new(
    path: Path,
    plan: _TablePlan,
    source: ProjectFiles,
    media_plan: dict[str, list[tuple[str, str]]],
    *,
    lock_timeout: float,
) -> None:
    folders = _Placed()  # the target's folders this merge creates, gone if it fails
    try:
        folders.mkdir(path.parent)
    except OSError as exc:
        folders.undo()
        raise WriteError(f"cannot create the folder of {path}: {exc}; nothing was changed") from exc
    done = False
    token = _stage_token()
    # Not "*.db": Trackio lists every *.db of its directory as a project (dot files
    # too), so a build left by a killed merge would show up as one.
    tmp = path.with_name(f"{_STAGE_PREFIX}{path.stem}-{token}.db-building")
    staging = _staging_dir(path, token)
    for folder in dict.fromkeys([path.parent, staging.parent]):
        _sweep_leftovers(folder)
    placed = _Placed()
    try:
        try:
            con = sqlite3.connect(str(tmp), isolation_level=None)
        except sqlite3.Error as exc:  # no room for the file (not the source's fault)
            raise _translate(exc, path) from exc
        try:
            # Nobody else can see this file yet: no journal, no fsync per page.
            con.execute("PRAGMA journal_mode = OFF")
            con.execute("PRAGMA synchronous = OFF")
            _schema.create_new_database(con, indexes=False)
            con.execute("BEGIN")
            for table in plan.tables:
                cols = plan.columns(table)
                con.executemany(
                    f"INSERT INTO {table} ({', '.join(map(quote, cols))})"
                    f" VALUES ({', '.join('?' * len(cols))})",
                    plan.read(table),
                )
            con.execute("COMMIT")
            _schema.create_indexes(con)
            _schema.finish_new_database(con)
        except sqlite3.Error as exc:
            raise _translate(exc, path) from exc
        finally:
            con.close()
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        staged = _stage_media(source, media_plan, staging)
        with _lock.project_lock(path, timeout=lock_timeout):
            if path.exists():
                raise ConflictError(
                    f"{path} was created by another process meanwhile; nothing was changed"
                )
            _place_staged(staging, _media_root(path), placed, staged)
            try:
                os.link(tmp, path)
            except FileExistsError as exc:
                raise ConflictError(
                    f"{path} was created by another process meanwhile; nothing was changed"
                ) from exc
        done = True
        committed.append(str(path))
    except BaseException:
        placed.undo()
        raise
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                Path(f"{tmp}{suffix}").unlink()
        shutil.rmtree(staging, ignore_errors=True)
        if not done:
            folders.undo()


def _merge_into_existing(
    path: Path,
    plan: _TablePlan,
    source: ProjectFiles,
    media_plan: dict[str, list[tuple[str, str]]],
    *,
    lock_timeout: float,
) -> None:
    token = _stage_token()
    staging = _staging_dir(path, token)
    for folder in dict.fromkeys([path.parent, staging.parent]):
        _sweep_leftovers(folder)
    placed = _Placed()
    con = _connect_rw(path)
    try:
        try:
            # Stage every row in temp tables first: the locked transaction below
            # is then a few INSERT ... SELECT statements, whatever the source.
            # (The schema is read before BEGIN, so staging holds no lock on main.)
            con.execute("SELECT COUNT(*) FROM main.sqlite_master").fetchone()
            planned = _table_keys(_layout(con))
            con.execute("BEGIN")
            for table in plan.tables:
                cols = plan.columns(table)
                con.execute(
                    f"CREATE TEMP TABLE {quote('stage_' + table)} ({', '.join(map(quote, cols))})"
                )
                con.executemany(
                    f"INSERT INTO temp.{quote('stage_' + table)} VALUES ({', '.join('?' * len(cols))})",
                    plan.read(table),
                )
            con.execute("COMMIT")
            _check_duplicates(con, plan, path)
        except sqlite3.Error as exc:
            raise _translate(exc, path) from exc
        staged = _stage_media(source, media_plan, staging)
        with _write_transaction(con, path, lock_timeout, placed):
            layout = _check_unchanged(con, path, planned, runs=())
            names, ids = _existing_runs(con, layout)
            _conflicts(plan.runs, names, ids, path)
            legacy = "run_id" not in layout.get("metrics", [])
            for table in plan.tables:
                if table not in layout:
                    _schema.create_missing_table(con, table, legacy=legacy)
                cols = ", ".join(map(quote, plan.columns(table)))
                con.execute(
                    f"INSERT INTO main.{quote(table)} ({cols}) SELECT {cols}"
                    f" FROM temp.{quote('stage_' + table)} ORDER BY rowid"
                )
            _place_staged(staging, _media_root(path), placed, staged)
    finally:
        _lock.checkpoint(con)
        con.close()
        shutil.rmtree(staging, ignore_errors=True)


_DUPLICATE_CHECKS = {
    "metrics": "log_id",
    "system_metrics": "log_id",
    "alerts": "alert_id",
    "traces": "id",
}


def _precheck_duplicates(path: Path, plan: _TablePlan) -> None:
    """``_check_duplicates`` on a read-only connection: only the id columns are staged
    (in its temp schema), so the target is not touched. The write transaction checks
    again (another merge may land in between)."""
    with read_only(path) as con:
        # (Errors about the target are its own; the source's are read in the loop.)
        try:
            checks = _id_checks(plan, _layout(con))
        except sqlite3.Error as exc:
            raise _translate(exc, path) from exc
        for table, col in checks:
            con.execute(f"CREATE TEMP TABLE {quote('stage_' + table)} ({quote(col)})")
            con.executemany(
                f"INSERT INTO temp.{quote('stage_' + table)} VALUES (?)",
                plan.rows.read(table, [col], plan.runs, media_to=None),
            )
        try:
            _check_duplicates(con, plan, path)
        except sqlite3.Error as exc:
            raise _translate(exc, path) from exc


def _id_checks(plan: _TablePlan, layout: dict[str, list[str]]) -> list[tuple[str, str]]:
    """``(table, id column)`` that both the merged rows and the target have."""
    return [
        (table, col)
        for table, col in _DUPLICATE_CHECKS.items()
        if table in plan.tables and col in plan.columns(table) and col in layout.get(table, [])
    ]


def _check_duplicates(con: sqlite3.Connection, plan: _TablePlan, path: Path) -> None:
    """Rows the target already has (same log_id / trace id / alert id): merged before."""
    for table, col in _id_checks(plan, _layout(con)):
        stage = quote("stage_" + table)
        n, example = con.execute(
            f"SELECT COUNT(*), MIN(s.{col}) FROM temp.{stage} AS s"
            f" WHERE s.{col} IS NOT NULL AND s.{col} IN"
            f" (SELECT {col} FROM main.{quote(table)} WHERE {col} IS NOT NULL)"
        ).fetchone()
        if n:
            raise ConflictError(
                f"{n} {table} rows of the source are already in {path.name} (same {col},"
                f" e.g. {example}): these runs were merged before, maybe under another name;"
                " nothing was changed"
            )


# -- drop -----------------------------------------------------------------------------


def _table_keys(layout: dict[str, list[str]]) -> dict[str, str]:
    metrics_ids = "run_id" in layout.get("metrics", [])
    return {
        t: ("run_id" if metrics_ids and "run_id" in layout[t] else "run_name")
        for t in RUN_TABLES
        if t in layout
    }


def drop(
    target: str | os.PathLike[str],
    *,
    runs: Sequence[str],
    media: bool = True,
    dry_run: bool = False,
    confirm: Callable[[WriteResult], bool] | None = None,
    lock_timeout: float = _lock.LOCK_TIMEOUT,
) -> WriteResult:
    """Delete runs (rows of every run-scoped table, artifact links, media) from ``target``.

    ``confirm`` sees the plan and may refuse (the result is then ``cancelled``).
    """
    begun.append(str(target))
    path = _target_path(target)
    selectors = split_selectors(runs)
    if not selectors:
        raise RunSelectionError("say which runs to drop with --run NAME_OR_ID")
    with _open_target(path) as proj:
        _check_writable(path)
        reader = proj.reader
        assert isinstance(reader, SqliteReader)
        layout = dict(reader.columns)
        _refuse_unknown_run_references(path, layout, "dropping a run would leave it there")
        index = proj.run_index()
        keys = select_runs(index, selectors, where=path.name, unique=True)
        selected = index.filter(pl.col("run_key").is_in(keys))
        tkeys = _table_keys(layout)
        remaining = set(
            index.filter(~pl.col("run_key").is_in(keys)).get_column("run_name").to_list()
        )
        notes: list[str] = []
        root = _media_root(path)
        changes = []
        planned: list[_DropRun] = []
        # One run per key: a run Trackio went on logging under its old name after a
        # rename carries two names (its rows and media folders under both are its own).
        by_key: dict[str, list[str]] = {}
        for row in selected.iter_rows(named=True):
            key = str(row["run_key"])
            # (Trackio's run index keeps the first row's name: ask the table.)
            by_key[key] = by_key.get(key) or _names_of(reader.con, tkeys, key)
            if not by_key[key]:  # its rows went after the run index was read
                raise ConflictError(
                    f"run {row['run_name']!r} was renamed or dropped by another process while"
                    " this command read the project; nothing was changed: run the command again"
                )
        ids = dict(zip(selected.get_column("run_key"), selected.get_column("run_id"), strict=True))
        seen: set[Path] = set()
        behind: dict[Path, int] = {}  # links to folders -> referenced files behind them
        for key, names in by_key.items():
            counts = dict.fromkeys(tkeys, 0)
            for t, k in tkeys.items():
                for value in _by_run(k, key, names):
                    counts[t] += int(
                        reader.execute(
                            f"SELECT COUNT(*) FROM {quote(t)} WHERE {k} = ?", (value,)
                        ).fetchone()[0]
                    )
            files: list[Path] = []
            if media:
                _check_names(names, "run name")
                files = _files_of(reader.con, layout, tkeys, key, names, root, seen, behind)
                if files:
                    _check_removable(root, dirs=sorted({f.parent for f in files}))
            if len(names) > 1:
                notes.append(
                    f"run {ids[key]} carries the names {', '.join(map(repr, names))} (Trackio went"
                    " on logging under its old name after a rename): all its rows go"
                )
            planned.append(_DropRun(key, ids[key], names))
            changes.append(
                RunChange(name=names[0], run_id=ids[key], rows=counts, media_files=len(files))
            )
        all_names = list(dict.fromkeys(n for r in planned for n in r.names))
        roots = _media_roots(root)
        for name in all_names if media else ():
            on_disk = {f for r in roots for f in _local_files(r / name)}
            if kept := len(on_disk - seen - behind.keys()):
                notes.append(_kept_note(path.stem, name, kept, remaining, "the dropped runs'"))
        if behind:
            n = sum(behind.values())
            links = listing([str(link.relative_to(root.parent.parent)) for link in behind], limit=3)
            notes.append(
                f"{plural(n, 'media file')} of the dropped runs {'is' if n == 1 else 'are'} behind"
                f" {'a symbolic link' if len(behind) == 1 else 'symbolic links'} to a folder"
                f" ({links}), which drop never deletes through: {'it was' if n == 1 else 'they were'}"
                " kept, with the link"
            )
    result = WriteResult(
        action="drop",
        target=str(path),
        project=path.stem,
        runs=tuple(changes),
        dry_run=dry_run,
        media=media,
        notes=tuple(dict.fromkeys(notes)),
    )
    if dry_run:
        return result
    if confirm is not None and not confirm(result):
        return replace(result, cancelled=True)
    done = _apply_drop(path, planned, tkeys, root if media else None, lock_timeout=lock_timeout)
    failed: list[tuple[Path, OSError]] = []
    removed = [
        replace(change, rows=rows, media_files=_remove(files, failed))
        for change, (rows, files) in zip(result.runs, done, strict=True)
    ]
    for name in all_names if media else ():
        for r in roots:
            _prune(r / name)
    if failed:
        raise _not_removed("the runs were dropped", failed)
    return replace(result, runs=tuple(removed))


@dataclass(frozen=True)
class _DropRun:
    key: str  # run_id, or the name in a name-keyed file
    run_id: str | None
    names: list[str]


def _apply_drop(
    path: Path,
    runs: Sequence[_DropRun],
    tkeys: dict[str, str],
    root: Path | None,
    *,
    lock_timeout: float,
) -> list[tuple[dict[str, int], list[Path]]]:
    """Delete the runs' rows under the lock; per run, the counts and the media files
    to delete after the commit (listed under the lock: rows logged since the plan
    may reference more)."""
    con = _connect_rw(path)
    out: list[tuple[dict[str, int], list[Path]]] = []
    seen: set[Path] = set()
    try:
        with _write_transaction(con, path, lock_timeout, placed=None):
            layout = _check_unchanged(con, path, tkeys, [(r.key, r.names) for r in runs])
            for run in runs:
                files = (
                    []
                    if root is None
                    else _files_of(con, layout, tkeys, run.key, run.names, root, seen)
                )
                counts = dict.fromkeys(tkeys, 0)
                for t, k in tkeys.items():
                    for value in _by_run(k, run.key, run.names):
                        counts[t] += con.execute(
                            f"DELETE FROM {quote(t)} WHERE {k} = ?", (value,)
                        ).rowcount
                id_col = tkeys["metrics"]
                for name in run.names:
                    _detach_artifacts(con, id_col, run.key if id_col == "run_id" else name, name)
                out.append((counts, files))
            if root is not None and any(files for _, files in out):
                # Files that rows of other runs point at stay. Only asked when there are
                # files: it scans every row of the project for the runs' folder names,
                # under the lock (~2.5 s per million rows). The runs' own rows are
                # deleted by now.
                pairs = [(r.key, r.names) for r in runs]
                mine = [f for _, files in out for f in files]
                shared = _used_elsewhere(con, layout, tkeys, pairs, root, mine)
                out = [(counts, [f for f in files if f not in shared]) for counts, files in out]
    finally:
        _lock.checkpoint(con)
        con.close()
    return out


def _check_unchanged(
    con: sqlite3.Connection,
    path: Path,
    tkeys: dict[str, str],
    runs: Sequence[tuple[str, Sequence[str]]],
) -> dict[str, list[str]]:
    """Under the lock: the tables are keyed as planned (Trackio 0.41+ rebuilds a legacy
    file on its next write) and each planned run still has the names it had; the
    layout, for what follows."""
    layout = _layout(con)
    if _table_keys(layout) != tkeys:
        raise _changed_meanwhile(path.name, "Trackio upgraded its tables")
    for run_key, names in runs:
        if set(_names_of(con, tkeys, run_key)) != set(names):
            raise _changed_meanwhile(f"run {names[0]!r}", "another process renamed or dropped it")
    return layout


def _has(con: sqlite3.Connection, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
        ).fetchone()
    )


def _name_in_use(
    con: sqlite3.Connection, name: str, run_id: Any, *, other_metrics_only: bool = False
) -> bool:
    """Trackio's ``_run_name_still_in_use``: does any other run still carry ``name``?

    ``other_metrics_only`` ignores this run's own metrics rows (for a rename,
    whose rows still carry the old name while it runs).
    """
    metrics_sql = "SELECT 1 FROM metrics WHERE run_name = ?"
    metrics_args: tuple[Any, ...] = (name,)
    if other_metrics_only:
        metrics_sql += " AND run_id != ?"
        metrics_args = (name, run_id)
    if con.execute(metrics_sql + " LIMIT 1", metrics_args).fetchone():
        return True
    for table in ("run_artifact_links", "external_run_artifact_links"):
        if (
            _has(con, table)
            and con.execute(
                f"SELECT 1 FROM {table} WHERE run_name = ? AND run_id IS NOT NULL AND run_id != ? LIMIT 1",
                (name, run_id),
            ).fetchone()
        ):
            return True
    return False


def _detach_artifacts(con: sqlite3.Connection, id_col: str, id_val: Any, name: str) -> None:
    """Trackio's ``_detach_run_artifact_refs``: links go, versions stay without a producer."""
    legacy_cleanup = id_col == "run_id" and not _name_in_use(con, name, id_val)
    for table in ("run_artifact_links", "external_run_artifact_links"):
        if not _has(con, table):
            continue
        con.execute(f"DELETE FROM {table} WHERE {id_col} = ?", (id_val,))
        if legacy_cleanup:
            con.execute(f"DELETE FROM {table} WHERE run_id IS NULL AND run_name = ?", (name,))
    if _has(con, "artifact_versions"):
        producer = "producer_run_id" if id_col == "run_id" else "producer_run_name"
        con.execute(
            "UPDATE artifact_versions SET producer_run_id = NULL, producer_run_name = NULL"
            f" WHERE {producer} = ?",
            (id_val,),
        )
        if legacy_cleanup:
            con.execute(
                "UPDATE artifact_versions SET producer_run_id = NULL, producer_run_name = NULL"
                " WHERE producer_run_id IS NULL AND producer_run_name = ?",
                (name,),
            )


def _check_removable(folder: Path, *, dirs: Sequence[Path] | None = None) -> None:
    """Refuse before any change when a media folder (or ``dirs`` in it) cannot be
    emptied: the database would be committed and the files left behind."""
    if dirs is None:
        dirs = [folder, *(p for p in folder.rglob("*") if p.is_dir() and not p.is_symlink())]
    for d in [folder.parent, *dirs]:
        if d.exists() and not os.access(d, os.W_OK | os.X_OK):
            raise WriteError(
                f"cannot move or delete the files in {folder}: {d} is not writable;"
                " nothing was changed"
            )


def _remove(files: Sequence[Path], failed: list[tuple[Path, OSError]]) -> int:
    """Delete media files after the commit; how many went. Every file is tried: those
    that cannot go are added to ``failed`` (see ``_not_removed``)."""
    n = 0
    for f in files:
        try:
            f.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            failed.append((f, exc))
            continue
        n += 1
    return n


def _not_removed(
    done: str, failed: Sequence[tuple[Path, OSError]], what: str = "the media file"
) -> WriteError:
    f, exc = failed[0]
    more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
    return WriteError(
        f"{done}, but {what} {f}{more} could not be removed"
        f" ({exc.strerror or exc}); delete {'them' if more else 'it'} by hand"
    )


def _run_files(
    con: sqlite3.Connection,
    layout: dict[str, list[str]],
    tkeys: dict[str, str],
    run_key: Any,
    name: str,
    root: Path,
    behind: dict[Path, int] | None = None,
) -> list[Path]:
    """The files in ``media/<project>/<name>/`` that the run's rows reference.

    A file reached through a symbolic link to a folder (the run folder or one below
    it) is not one of them; ``behind`` counts them per link.

    Only these are the run's: Trackio names media files by uuid4, and a folder is
    per run *name*, so it may also hold the files of a same-named run, or of one
    that a live Trackio process is logging and whose rows are not written yet.
    """
    roots = _media_roots(root)
    if not any(os.path.lexists(folder / name) for folder in roots):
        # No run folder (nor a link by its name) in any of the project's media folders:
        # no referenced file can be in one, and the payloads need not be read (a
        # scan of every row of the run, ~0.5 s per 2,000 rows of 2,000 keys).
        return []
    refs: set[str] = set()
    for table, key in tkeys.items():
        value = run_key if key == "run_id" else name
        for col in JSON_COLUMNS[table]:
            if col in layout[table]:
                refs |= _referenced_files(con, table, col, key, [value])
    prefixes = tuple(f"{folder.name}/{name}/" for folder in roots)
    media, links = root.parent, _LinkCheck()
    out = []
    for r in sorted(refs):
        if not r.startswith(prefixes):
            continue
        if link := links.first(media, r):
            # Not in the run's media folder as analyze lists it, which never follows a
            # link: deleting or moving it would reach out of media/<project>/.
            if behind is not None:
                behind[media / link] = behind.get(media / link, 0) + 1
            continue
        f = media / r
        if f.is_file() or f.is_symlink():
            out.append(f)
    return out


class _LinkCheck:
    """Which folders of media paths are symbolic links (each asked once)."""

    def __init__(self) -> None:
        self._seen: dict[str, bool] = {}

    def first(self, media: Path, rel: str) -> str | None:
        """The first folder of ``rel`` (``<project>/<run>/...``, below ``media``) after
        its project folder that is a symbolic link, if any. (The project folder may be
        one, as ``media/`` may: the media listing starts there, and follows them.)"""
        parts = rel.split("/")
        for i in range(2, len(parts)):
            folder = "/".join(parts[:i])
            if folder not in self._seen:
                self._seen[folder] = os.path.islink(media / folder)
            if self._seen[folder]:
                return folder
        return None


def _used_elsewhere(
    con: sqlite3.Connection,
    layout: dict[str, list[str]],
    tkeys: dict[str, str],
    runs: Sequence[tuple[str, Sequence[str]]],
    root: Path,
    files: Iterable[Path],
) -> set[Path]:
    """Those of ``files`` that rows of runs other than ``runs`` ((key, names) pairs)
    reference: never deleted or moved with these (one scan of every media-bearing row,
    reading only those that may point into the runs' folders).
    (Compared as strings: a Path for every file of the project cost ~1 s per 40,000
    under the lock.)"""
    refs: set[str] = set()
    folders = sorted({name for _, names in runs for name in names})
    for table, key in tkeys.items():
        values = [v for run_key, names in runs for v in _by_run(key, run_key, names)]
        for col in JSON_COLUMNS[table]:
            if col in layout[table]:
                refs |= _referenced_files(
                    con, table, col, key, values, others=True, folders=folders
                )
    return {f for f in files if f.relative_to(root.parent).as_posix() in refs}


def _by_run(column: str, run_key: str, names: Sequence[str]) -> list[str]:
    """The values that pick a run's rows in a table keyed by ``column``: its key, or
    each of its names (a table keyed by name, in a legacy or mixed file)."""
    return [run_key] if column == "run_id" else list(names)


def _files_of(
    con: sqlite3.Connection,
    layout: dict[str, list[str]],
    tkeys: dict[str, str],
    run_key: str,
    names: Sequence[str],
    root: Path,
    seen: set[Path],
    behind: dict[Path, int] | None = None,
) -> list[Path]:
    """``_run_files`` over all of a run's names, leaving out (and adding to) ``seen``."""
    files: list[Path] = []
    for name in names:
        found = _run_files(con, layout, tkeys, run_key, name, root, behind)
        files += [f for f in found if f not in seen]
        seen.update(found)
    return files


def _names_of(con: sqlite3.Connection, tkeys: dict[str, str], run_key: str) -> list[str]:
    key = tkeys["metrics"]
    sql = f"SELECT DISTINCT run_name FROM metrics WHERE {key} = ? ORDER BY run_name"
    return [str(r[0]) for r in con.execute(sql, (run_key,))]


def _kept_note(project: str, name: str, kept: int, others: set[str], runs: str) -> str:
    """Why files in a run's media folder were left where they are."""
    files = f"{kept} file{'s' if kept != 1 else ''} that {'is' if kept == 1 else 'are'} not"
    if name == PROJECT_FILES:
        why = "Trackio keeps the project's files there, trackio.save"
    elif name in others:
        why = f"another run named {name!r} shares the folder"
    else:
        why = "no row references them: maybe a run Trackio is still logging under that name"
    it = "it was" if kept == 1 else "they were"
    return f"media/{project}/{name}/ also holds {files} {runs} ({why}): {it} kept"


# -- rename ---------------------------------------------------------------------------


def _path_rewriter(projects: Sequence[str], olds: Sequence[str], new: str) -> Callable[[Any], Any]:
    """``file_path`` values ``[media/]<project>/<old>/...`` -> ``.../<new>/...``.

    An SQL function of the payload as a BLOB: the new bytes, or NULL when nothing
    changes. The SQL around it keeps each value's storage class, and never has
    Python decode a TEXT payload (one that is not UTF-8 would stop the rename).
    """
    # The old name as orjson writes it, and as json.dumps (trackio <= 0.4) did,
    # with ASCII escapes ("caf\u00e9"); the project segment may hold escapes too.
    pattern = re.compile(media_path_regex(olds, projects=projects).encode())
    repl = rb"\g<1>\g<2>" + json_fragment(new).encode().replace(b"\\", b"\\\\") + b"/"

    def apply(raw: Any) -> Any:
        if raw is None:
            return None
        out = pattern.sub(repl, raw)
        return None if out == raw else out

    return apply


_REFERENCED = FILE_PATH_KEY + r'(?:[^"\\]|\\.)*"'


_CONTAINS = "trackio_tool_contains"


def _contains(raw: Any, needle: str) -> bool | None:
    """SQL ``instr(raw, needle) > 0`` for a BLOB ``raw``, by Python's substring search."""
    return None if raw is None else needle.encode() in raw


def _contains_sql(q: str) -> str:
    """``instr(q, ?) > 0`` (the needle given twice): a big BLOB (``big_blob_sql``) is
    searched by ``_contains``, ~3x faster than SQLite's byte-by-byte ``instr`` (a
    drop's look for other runs' references to its files reads every media-free
    payload of the project whole: ~2 s per 10,000 payloads of 2,000 keys), the rest
    by ``instr``, which a Python call per row would slow down."""
    return f"(CASE WHEN {big_blob_sql(q)} THEN {_CONTAINS}({q}, ?) ELSE instr({q}, ?) > 0 END)"


def _referenced_files(
    con: sqlite3.Connection,
    table: str,
    col: str,
    key: str,
    values: Sequence[Any],
    *,
    others: bool = False,
    folders: Sequence[str] = (),
) -> set[str]:
    """Media paths the payloads of the runs ``values`` (``others``: of every other
    run) point at, relative to TRACKIO_DIR/media.

    ``folders`` (run folder names) leaves out payloads that cannot point into them:
    those holding neither ``<name>/`` nor a backslash (a path spelled with JSON
    escapes is read whole). A drop or rename then reads only the few other rows
    that may share its files, not every media row of the project (~1 s per 40,000
    under the lock).
    """
    q = quote(col)
    marks = ",".join("?" * len(values))
    con.create_function(_CONTAINS, 2, _contains, deterministic=True)
    needles = ['"file_path"']
    near = ""
    if folders:
        needles += [f"{name}/" for name in folders] + ["\\"]
        near = " AND (" + " OR ".join([_contains_sql(q)] * (len(folders) + 1)) + ")"
    rows = con.execute(
        f"SELECT CAST({q} AS BLOB) FROM {quote(table)}"
        f" WHERE {key} {'NOT IN' if others else 'IN'} ({marks})"
        f" AND {_contains_sql(q)}{near}",
        [*values, *(n for needle in needles for n in (needle, needle))],
    ).fetchall()
    if not rows:
        return set()
    # Decoded in Python: a payload that is not UTF-8 (never Trackio's) keeps its paths.
    texts = pl.Series("t", [r[0].decode(errors="replace") for r in rows], dtype=pl.String)
    paths = texts.str.extract_all(_REFERENCED).explode().drop_nulls()
    found = paths.str.replace("^" + FILE_PATH_KEY, "").str.strip_suffix('"')
    out = set()
    for v in found.to_list():
        try:
            p = json.loads(f'"{v}"') if "\\" in v else v  # JSON escapes: \", \u00e9
        except ValueError:
            continue
        rel = p[len("media/") :] if p.startswith("media/") else p
        parts = rel.split("/")
        if rel.startswith("/") or "\\" in rel or any(x in ("", ".", "..") for x in parts):
            continue  # not a path Trackio writes; '..' could point out of the media folder
        out.add(rel)
    return out


def rename(
    target: str | os.PathLike[str],
    *,
    run: Sequence[str] | str,
    to: str,
    lock_timeout: float = _lock.LOCK_TIMEOUT,
) -> WriteResult:
    """Rename one run in every table, move its media and rewrite its media paths."""
    begun.append(str(target))
    path = _target_path(target)
    selectors = split_selectors([run] if isinstance(run, str) else run)
    if len(selectors) != 1:
        raise RunSelectionError("rename takes exactly one --run NAME_OR_ID")
    new = to.strip()
    if not new:
        raise WriteError("the new run name is empty")
    _check_names([new], "new name", "choose another name")
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in new):
        # Trackio takes them, but a newline or escape in a name garbles every table
        # and listing it appears in, and names a media folder with it.
        raise WriteError(
            f"the new name {new!r} contains a control character (newline, tab, escape...);"
            " choose another name"
        )
    if len(new.encode()) > 255:
        raise WriteError(
            f"the new name ({len(new.encode())} bytes) is longer than a media folder name may be"
            " (255 bytes); choose a shorter one"
        )
    with _open_target(path) as proj:
        _check_writable(path)
        reader = proj.reader
        assert isinstance(reader, SqliteReader)
        layout = dict(reader.columns)
        _refuse_unknown_run_references(
            path, layout, "renaming a run would leave its old name there", by_name=True
        )
        index = proj.run_index()
        keys = select_runs(index, selectors, where=path.name, unique=True)
        if len(keys) != 1:  # "-r a,b" names two runs
            raise RunSelectionError("rename takes exactly one --run NAME_OR_ID")
        key = keys[0]
        mine = index.filter(pl.col("run_key") == key)
        # Usually one name; two when Trackio went on logging under the old name after
        # a rename (the run's rows and folders under both names are its own).
        tkeys = _table_keys(layout)
        old, run_id = str(mine.get_column("run_name")[0]), mine.get_column("run_id")[0]
        olds = [old, *(o for o in _names_of(reader.con, tkeys, key) if o != old)]
        if olds == [new]:
            raise ConflictError(f"the run is already named {new!r}")
        names, _ = _existing_runs(reader.con, layout)
        if new in names and new not in olds:
            raise ConflictError(
                f"a run named {new!r} already exists in {path.name}; choose another name"
            )
        _check_names(olds, "run name", "its media folder cannot be moved safely")
        others = set(index.filter(pl.col("run_key") != key).get_column("run_name").to_list())
        root = _media_root(path)
        behind: dict[Path, int] = {}
        moving = _files_of(reader.con, layout, tkeys, key, olds, root, set(), behind)
        _refuse_links(behind)
        if moving:
            _check_removable(root, dirs=sorted({p.parent for p in moving}))
    notes = []
    if len(olds) > 1:
        notes.append(
            f"run {run_id} carried the names {', '.join(map(repr, olds))} (Trackio went on"
            " logging under its old name after a rename): all its rows were renamed"
        )
    roots = _media_roots(root)
    for o in olds:
        on_disk = {f for r in roots for f in _local_files(r / o)}
        if kept := len(on_disk - set(moving)):
            notes.append(_kept_note(path.stem, o, kept, others, "this run's"))
    rows, moved, failed = _apply_rename(
        path, tkeys, key=key, olds=olds, new=new, root=root, lock_timeout=lock_timeout
    )
    for o in olds:
        if o != new:
            for r in roots:
                _prune(r / o)
    if failed:
        raise _not_removed(f"the run was renamed to {new!r}", failed, "the old media file")
    return WriteResult(
        action="rename",
        target=str(path),
        project=path.stem,
        runs=(RunChange(name=old, run_id=run_id, rows=rows, media_files=moved),),
        new_name=new,
        notes=tuple(notes),
    )


def _apply_rename(
    path: Path,
    tkeys: dict[str, str],
    *,
    key: str,
    olds: Sequence[str],
    new: str,
    root: Path,
    lock_timeout: float,
) -> tuple[dict[str, int], int, list[tuple[Path, OSError]]]:
    """Rename under the lock; the files to move are listed there too (a run still
    being logged has more rows, and files, than when the command planned)."""
    con = _connect_rw(path)
    roots = _media_roots(root)
    # A file stays in its project folder (Trackio <= 0.29's raw-name one too): only
    # the run segment of its path changes.
    rewrite = _path_rewriter([r.name for r in roots], olds, new)
    con.create_function("trackio_tool_paths", 1, rewrite, deterministic=True)
    con.create_function(_CONTAINS, 2, _contains, deterministic=True)
    placed = _Placed()
    counts: dict[str, int] = {}
    moving: list[Path] = []
    pairs: list[tuple[Path, Path]] = []
    run_id = key if tkeys["metrics"] == "run_id" else None
    try:
        with _write_transaction(con, path, lock_timeout, placed):
            layout = _check_unchanged(con, path, tkeys, [(key, olds)])
            names, _ = _existing_runs(con, layout)
            if new in names and new not in olds:
                raise ConflictError(f"a run named {new!r} already exists in {path.name}")
            behind: dict[Path, int] = {}
            pairs += [
                (src, r / new / src.relative_to(r / o))
                for o in olds
                if o != new
                for src in _run_files(con, layout, tkeys, key, o, root, behind)
                for r in roots
                if src.is_relative_to(r / o)
            ]
            _refuse_links(behind)  # (rows logged since the plan)
            # Files that other runs' rows point at stay (asked only when there are files:
            # it scans every row of the project, under the lock).
            shared = (
                _used_elsewhere(con, layout, tkeys, [(key, olds)], root, [p for p, _ in pairs])
                if pairs
                else set()
            )
            for table, k in tkeys.items():
                sets = ["run_name = ?"]
                params: list[Any] = [new]
                for col in JSON_COLUMNS[table]:
                    if col in layout[table]:
                        q = quote(col)
                        moved = f"trackio_tool_paths(CAST({q} AS BLOB))"
                        sets.append(
                            f"{q} = CASE WHEN NOT {_contains_sql(q)} THEN {q}"
                            f" WHEN typeof({q}) = 'text' THEN coalesce(CAST({moved} AS TEXT), {q})"
                            f" ELSE coalesce({moved}, {q}) END"
                        )
                        params += ['"file_path"', '"file_path"']
                if table == "traces" and k == "run_name":
                    # Trackio keys a legacy file's traces by name in run_id too.
                    sets.append("run_id = CASE WHEN run_id = ? THEN ? ELSE run_id END")
                    params.extend([olds[0], new])
                counts[table] = 0
                for value in _by_run(k, key, olds):
                    counts[table] += con.execute(
                        f"UPDATE {quote(table)} SET {', '.join(sets)} WHERE {k} = ?",
                        [*params, value],
                    ).rowcount
            for o in olds:
                _rename_artifact_refs(con, tkeys["metrics"], run_id, o, new)
            # Link (or copy) media under the new name; the old names go after the commit.
            try:
                for src, dst in pairs:
                    if src not in shared:  # another run's rows point there too: it stays
                        moving.append(src)
                    if dst.exists():
                        if filecmp.cmp(src, dst, shallow=False):
                            continue  # (placed by an interrupted rename: the same bytes)
                        raise ConflictError(
                            f"{dst} already exists with other content; move it away first"
                        )
                    placed.mkdir(dst.parent)
                    placed.files.append(dst)  # before the copy: a partial one goes too
                    # A link moves as a link (what it points at stays where it is).
                    try:
                        os.link(src, dst, follow_symlinks=False)
                    except OSError:  # another device, or no hard links there
                        shutil.copy2(src, dst, follow_symlinks=False)
            except OSError as exc:  # a full disk, a read-only folder
                raise WriteError(
                    f"cannot put the run's media files in {root / new}: {exc}; nothing was changed"
                ) from exc
    finally:
        _lock.checkpoint(con)
        con.close()
    failed: list[tuple[Path, OSError]] = []
    _remove(moving, failed)
    return counts, len(pairs), failed


def _refuse_links(behind: dict[Path, int]) -> None:
    """A rename moves the run's files; one behind a symbolic link to a folder would
    leave the folder the link leads to (out of the media folder)."""
    if not behind:
        return
    link, n = next(iter(behind.items()))
    raise WriteError(
        f"{link} is a symbolic link to a folder, and {plural(n, 'media file')} of the run"
        f" {'is' if n == 1 else 'are'} behind it: rename does not move files out of where a"
        " link leads; nothing was changed (replace the link by the folder, then rename)"
    )


def _layout_cols(con: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in con.execute(f"PRAGMA table_info({quote(table)})")]


def _rename_artifact_refs(
    con: sqlite3.Connection, id_col: str, run_id: Any, old: str, new: str
) -> None:
    """Trackio's rename of artifact link and producer names."""
    legacy_ok = id_col == "run_id" and not _name_in_use(con, old, run_id, other_metrics_only=True)
    for table, ic, nc in (
        ("run_artifact_links", "run_id", "run_name"),
        ("external_run_artifact_links", "run_id", "run_name"),
        ("artifact_versions", "producer_run_id", "producer_run_name"),
    ):
        if not _has(con, table):
            continue
        if id_col == "run_id":
            if legacy_ok:
                con.execute(
                    f"UPDATE {table} SET {nc} = ? WHERE {ic} = ? OR ({ic} IS NULL AND {nc} = ?)",
                    (new, run_id, old),
                )
            else:
                con.execute(f"UPDATE {table} SET {nc} = ? WHERE {ic} = ?", (new, run_id))
        else:
            con.execute(f"UPDATE {table} SET {nc} = ? WHERE {nc} = ?", (new, old))


def _prune(folder: Path) -> None:
    """Remove empty folders left under ``folder`` (and it), deepest first; never in a
    folder a symbolic link leads to (``folder`` itself one included): those are not
    the project's."""
    if folder.is_symlink() or not folder.is_dir():
        return
    for top, _, _ in os.walk(folder, topdown=False):  # (does not follow links)
        with contextlib.suppress(OSError):
            os.rmdir(top)


__all__ = ["RunChange", "WriteResult", "drop", "merge", "rename"]
