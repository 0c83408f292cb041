"""Shell completion of ``--run`` values, from the local .db files (or project names) on
the command line, and the rows of those projects still in Trackio's JSONL inbox.

It runs on every TAB: stdlib sqlite3 and orjson only (no polars, no fsspec), and nothing but
candidates on stdout. Whatever goes wrong (a junk or unreadable file, ``~nouser``,
a folder we may not enter) means no candidates, never a message: one on stderr
would land in the middle of the line being typed.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import typer

from trackio_tool.commands._output import plural
from trackio_tool.sources._names import INBOX_DIR, canonical_project_name, default_trackio_dir
from trackio_tool.store._fragments import local_fragments, metric_runs
from trackio_tool.store._labels import project_labels
from trackio_tool.store._sqlite_ro import read_only


def _source_from_line(ctx: typer.Context) -> list[str]:
    # While completing `--run <TAB>` click leaves positionals unparsed in ctx.args
    # (DEPENDENCIES.md §6), so look in both places.
    found: list[str] = []
    for name in ("sources", "source", "target"):
        value = ctx.params.get(name)
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found.extend(str(v) for v in value)
    from_opt = ctx.params.get("from_")
    if isinstance(from_opt, str):
        found.append(from_opt)
    found.extend(a for a in ctx.args if not a.startswith("-"))
    out: list[str] = []
    for item in found:
        out.extend(p for p in item.split(",") if p)
    return out


@dataclass(frozen=True)
class _Run:
    name: str
    key: str
    """What tells runs apart in the file: its run_id, or its name where there is none."""
    run_id: str | None
    rows: int


def _runs_of(path: Path) -> list[_Run]:
    """The runs in ``metrics``, in the order they started (one per run and name),
    then those only in the project's JSONL inbox beside it."""
    ids = True  # a project only in the inbox becomes a new file, with run ids
    rows: list[tuple[object, object, int]] = []
    if path.is_file():
        with read_only(path, timeout=1) as con:
            columns = {str(c[1]) for c in con.execute("PRAGMA table_info(metrics)")}
            ids = "run_id" in columns
            rid = "run_id" if ids else "NULL"
            # Trackio's (run_id, run_name, timestamp) index covers this: no table scan.
            rows = con.execute(
                f"SELECT run_name, {rid}, COUNT(*) FROM metrics"
                f" GROUP BY {rid}, run_name ORDER BY MIN(id)"
            ).fetchall()
    runs = {
        (name, key): _Run(name, key, None if run_id is None else key, n)
        for name, run_id, n in rows
        if isinstance(name, str)  # not Trackio's (a NULL, a blob): nothing to offer
        for key in [name if run_id is None else str(run_id)]
    }
    for (name, run_id), n in _inbox_runs(path).items():
        # As Trackio imports them: the run id, or the name where a record has none;
        # a file keyed by name keeps only the name.
        key = (run_id or name) if ids else name
        old = runs.get((name, key))
        runs[(name, key)] = _Run(name, key, key if ids else None, n + (old.rows if old else 0))
    return list(runs.values())


def _inbox_runs(path: Path) -> dict[tuple[str, str | None], int]:
    """``(run, run_id)`` -> rows the project of ``path`` has in Trackio's JSONL inbox
    beside it (not imported into the file yet), in import order."""
    inbox = path.parent / INBOX_DIR
    if not inbox.is_dir():
        return {}
    return metric_runs(local_fragments(inbox)).get(canonical_project_name(path.stem), {})


def _projects(ctx: typer.Context) -> list[tuple[Path, list[_Run]]]:
    """The local .db files on the line that can be read, each once, with their runs.
    A project name stands for ``$TRACKIO_DIR/<name>.db``, which may exist only as
    rows in Trackio's inbox there."""
    out: list[tuple[Path, list[_Run]]] = []
    seen: set[str] = set()
    for src in _source_from_line(ctx):
        if "://" in src:
            continue
        path = Path(os.path.expanduser(src))
        if _bare_name(src, path):
            path = default_trackio_dir() / f"{canonical_project_name(src)}.db"
            if not path.is_file() and path.with_suffix(".parquet").exists():
                continue  # the commands read that parquet file
        elif path.suffix != ".db" or not path.is_file():
            continue
        if os.path.abspath(path) in seen:
            continue
        seen.add(os.path.abspath(path))
        try:
            runs = _runs_of(path)
        except (sqlite3.Error, OSError):
            continue
        if runs or path.is_file():
            out.append((path, runs))
    return out


def _bare_name(src: str, path: Path) -> bool:
    """A project name (as the commands resolve it): no folder, no suffix, no such path."""
    return (
        "/" not in src
        and os.sep not in src
        and path.suffix not in (".db", ".parquet")
        and not os.path.lexists(path)
    )


def _candidates(ctx: typer.Context, *, unique: bool) -> dict[str, str]:
    """Values to offer for ``--run``, with their help text (zsh and fish show it).

    ``unique`` (drop, rename) offers the id of each run whose name another run
    shares, since those commands refuse a bare name that selects several runs.
    """
    found: dict[str, str] = {}
    for path, runs in _projects(ctx):
        keys: dict[str, set[str]] = {}
        for run in runs:
            keys.setdefault(run.name, set()).add(run.key)
        for run in runs:
            where = f"in {path.stem} ({plural(run.rows, 'row')})"
            if unique and len(keys[run.name]) > 1 and run.run_id is not None:
                found.setdefault(_short_id(run, runs), f"{run.name} {where}")
            else:
                found.setdefault(run.name, f"run {where}")
    return found


def _plot_candidates(ctx: typer.Context) -> dict[str, str]:
    """plot's ``--run`` values: a bare name where one project holds it, else
    ``PROJECT:RUN`` with the project named as plot labels it (``folder/project``
    where two sources hold projects of one name), since plot refuses a bare name
    found in several projects. A name that reads as another project's
    ``PROJECT:RUN`` is qualified too."""
    projects = _projects(ctx)
    labels = project_labels(
        [path.stem for path, _ in projects], [os.path.abspath(path) for path, _ in projects]
    )
    prefixes = set(labels) | {path.stem for path, _ in projects}
    holders: dict[str, set[str]] = {}
    for (_, runs), label in zip(projects, labels, strict=True):
        for run in runs:
            holders.setdefault(run.name, set()).add(label)
    found: dict[str, str] = {}
    for (_, runs), label in zip(projects, labels, strict=True):
        for run in runs:
            bare = len(holders[run.name]) == 1 and not any(
                run.name[:i] in prefixes for i, ch in enumerate(run.name) if ch == ":"
            )
            value = run.name if bare else f"{label}:{run.name}"
            found.setdefault(value, f"run in {label} ({plural(run.rows, 'row')})")
    return found


def _short_id(run: _Run, runs: list[_Run]) -> str:
    """The run's id cut to 8 characters (more where that is not unique), as the
    selector takes a unique id prefix of 6 or more; the whole id where a prefix
    would not select it (it names a run, or the run is stored under two names)."""
    rid = str(run.run_id)
    ids = [str(r.run_id) for r in runs if r.run_id is not None]
    names = {r.name for r in runs}
    if ids.count(rid) > 1:
        return rid
    width = 8
    while width < len(rid):
        prefix = rid[:width]
        if prefix not in names and sum(i.startswith(prefix) for i in ids) == 1:
            return prefix
        width += 4
    return rid


def _given_runs(ctx: typer.Context) -> set[str]:
    """Values of the ``--run`` options before the one being completed, and their parts."""
    value = ctx.params.get("run")
    given = [value] if isinstance(value, str) else [str(v) for v in value or ()]
    return {p.strip() for v in given for p in [v, *v.split(",")] if p.strip()}


def _with_commas(
    candidates: dict[str, str], incomplete: str, given: set[str]
) -> list[tuple[str, str]]:
    """``(value, help)`` pairs for the word ``incomplete``: whole candidates starting
    with it (a run name may hold commas), then ``head,candidate`` for the part after
    its last comma, leaving out what the word or ``given`` already lists."""
    out = [(v, h) for v, h in candidates.items() if v.startswith(incomplete) and v not in given]
    if "," in incomplete:
        head, _, part = incomplete.rpartition(",")
        listed = given | {p.strip() for p in head.split(",")}
        seen = {v for v, _ in out}
        # After a comma the selector splits the value at every comma and strips the
        # parts: a name with a comma or outer spaces cannot follow one.
        out += [
            (f"{head},{v}", h)
            for v, h in candidates.items()
            if v.startswith(part)
            and v not in listed
            and "," not in v
            and v == v.strip()
            and f"{head},{v}" not in seen
        ]
    return out


Completer = Callable[[typer.Context, str], list[tuple[str, str]]]


def _never_fails(complete: Completer) -> Completer:
    @functools.wraps(complete)
    def guarded(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
        try:
            return complete(ctx, incomplete)
        except Exception:  # see the module docstring
            return []

    return guarded


@_never_fails
def complete_run(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """``--run`` of analyze and merge: run names.

    After a comma (``--run alpha,<TAB>``) the part after the last comma is
    completed and the word kept whole (``alpha,beta``): shells replace the whole
    word with a candidate and drop those that do not start with it. Runs already
    given (in this word or an earlier ``--run``) are not offered again.
    """
    return _with_commas(_candidates(ctx, unique=False), incomplete, _given_runs(ctx))


@_never_fails
def complete_run_to_drop(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """``--run`` of drop: unique names, and ids where runs share a name."""
    return _with_commas(_candidates(ctx, unique=True), incomplete, _given_runs(ctx))


@_never_fails
def complete_run_to_rename(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """``--run`` of rename: as drop, but one run (no comma-separated list)."""
    given = _given_runs(ctx)
    return [(v, h) for v, h in _candidates(ctx, unique=True).items() if v not in given]


@_never_fails
def complete_plot_run(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """``--run`` of plot: names, as ``PROJECT:RUN`` where several projects hold one."""
    return _with_commas(_plot_candidates(ctx), incomplete, _given_runs(ctx))
