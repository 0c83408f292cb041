"""Options shared by several commands, declared once (``Annotated`` aliases)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Annotated, Optional

import typer

from trackio_tool.commands._output import plural
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


def complete_run(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Run names from the local .db files given earlier on the command line.

    After a comma (``--run alpha,<TAB>``) the part after the last comma is
    completed and the word kept whole (``alpha,beta``): shells replace the whole
    word with a candidate and drop those that do not start with it. Names already
    given (in this word or an earlier ``--run``) are not offered again.

    Stdlib sqlite3 only: this runs on every TAB, so it must stay cheap.
    """
    runs: dict[str, str] = {}
    for src in _source_from_line(ctx):
        if "://" in src:
            continue
        path = Path(src).expanduser()
        if path.suffix != ".db" or not path.is_file():
            continue
        try:
            with read_only(path, timeout=1) as con:
                rows = con.execute(
                    "SELECT run_name, COUNT(*) FROM metrics GROUP BY run_name ORDER BY MIN(id)"
                ).fetchall()
        except sqlite3.Error:
            continue
        for name, n in rows:
            runs.setdefault(str(name), f"run in {path.stem} ({plural(n, 'row')})")
    return _with_commas(runs, incomplete, _given_runs(ctx))


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
        out += [
            (f"{head},{v}", h)
            for v, h in candidates.items()
            if v.startswith(part) and v not in listed
        ]
    return out


def no_empty_values(param: typer.CallbackParam, value: list[str] | None) -> list[str] | None:
    """Refuse ``--run ''`` or ``--run ,`` (an unset variable, ``-r "$RUNS"``): it meant
    every run to merge and none to analyze, where it can only be a mistake."""
    from trackio_tool.errors import UsageError

    for v in value or ():
        if not v.replace(",", "").strip():
            what = "metric name or glob" if param.name == "metric" else "run name or id"
            raise UsageError(f"{param.opts[0]} {v!r} is empty: give a {what}")
    return value


RunOpt = Annotated[
    Optional[list[str]],  # noqa: UP045 - Typer needs Optional on 3.10
    typer.Option(
        "--run",
        "-r",
        help="Run name or id; repeat it or separate with commas (a name that itself holds"
        " commas is matched whole; default: every run).",
        autocompletion=complete_run,
        callback=no_empty_values,
        show_default=False,
    ),
]
MediaOpt = Annotated[
    bool,
    typer.Option(
        "--media/--no-media", help="Include media files (counting, copying or deleting them)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bars or notes on stderr.")
]
RefreshOpt = Annotated[
    bool,
    typer.Option(
        "--refresh", help="Fetch remote files again even if the download cache is current."
    ),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", "-n", help="Show what would change and write nothing.")
]
