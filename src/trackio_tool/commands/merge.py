"""``trackio-tool merge``: copy runs from any Trackio project into a project database."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from trackio_tool.commands._options import DryRunOpt, JsonOpt, MediaOpt, QuietOpt, RunOpt

FromOpt = Annotated[
    str,
    typer.Option(
        "--from",
        help="The source project: a .db or .parquet file (with its _system/_configs/_traces"
        " companions) or a static-export folder.",
        show_default=False,
    ),
]
IntoOpt = Annotated[
    str,
    typer.Option(
        "--into",
        help="The target <project>.db: any Trackio schema; created with Trackio's newest"
        " schema if it does not exist.",
        show_default=False,
    ),
]


def merge(
    from_: FromOpt,
    into: IntoOpt,
    run: RunOpt = None,
    media: MediaOpt = True,
    dry_run: DryRunOpt = False,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Copy runs (metrics, configs, system metrics, alerts, traces, media) into a project DB.

    Nothing is written when a selected run already exists in the target, and
    the target is changed in one transaction under Trackio's own lock, so a
    Trackio process logging into it meanwhile loses nothing.

    Example: trackio-tool merge --from old/toyproj.parquet --into ~/.cache/huggingface/trackio/toyproj.db --run alpha,beta --dry-run
    """
    from trackio_tool.commands import _progress
    from trackio_tool.sources import resolve_sources

    _progress.enable(quiet or json_)
    from trackio_tool.store.write import merge as merge_runs

    sources = resolve_sources([from_])
    if len(sources) != 1:
        names = ", ".join(s.project for s in sources)
        from trackio_tool.errors import SourceError

        raise SourceError(
            f"{from_} holds {len(sources)} projects ({names}); pass one .db/.parquet file"
        )
    result = merge_runs(sources[0], into, runs=run or [], media=media, dry_run=dry_run)
    render(result, json_=json_, quiet=quiet)


# -- rendering shared by merge, drop and rename ---------------------------------------

_VERBS = {
    ("merge", False): "Merged",
    ("merge", True): "Would merge",
    ("drop", False): "Dropped",
    ("drop", True): "Would drop",
}


def render(result: Any, *, json_: bool = False, quiet: bool = False) -> None:
    """Print a write result: a run table on stdout, notes on stderr."""
    from trackio_tool.commands import _output

    if json_:
        _output.print_json(result.to_json())
    else:
        _print_runs(result, _output.out(), dry_run=result.dry_run)
    notes = [f"note: {n}" for n in result.notes]
    if result.dry_run:
        notes.append("dry run: nothing was written")
    if not quiet:
        for line in notes:
            _output.err().print(line, markup=False, highlight=False, soft_wrap=True)


def preview(plan: Any) -> None:
    """A plan shown before a confirmation question: worded as a dry run, and on stderr
    with the question, so stdout holds only the result (pure JSON with --json)."""
    from trackio_tool.commands import _output

    _print_runs(plan, _output.err(), dry_run=True)


def _print_runs(result: Any, console: Any, *, dry_run: bool) -> None:
    from trackio_tool.commands._output import fits, plural, print_blocks

    if result.action == "rename":
        run = result.runs[0]
        ident = f" ({run.run_id[:8]})" if run.run_id else ""
        # "126 rows (metrics 120, configs 1, ...)": a table name is not a plural.
        tables = ", ".join(f"{t} {n:,}" for t, n in run.rows.items() if n)
        console.print(
            f"Renamed run {run.name!r}{ident} to {result.new_name!r} in {result.target}:"
            f" {plural(sum(run.rows.values()), 'row')}"
            + (f" ({tables})" if tables else "")
            + f", {plural(run.media_files, 'media file')} moved",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    else:
        verb = _VERBS[(result.action, dry_run)]
        head = f"{verb} {plural(len(result.runs), 'run')}"
        if result.action == "merge":
            head += f" from {result.source} into {result.target}"
            if result.created:
                head += " (a new database with Trackio 0.43's schema)"
        else:
            head += f" from {result.target}"
        console.print(head, markup=False, highlight=False, soft_wrap=True)
        table = _table(result)
        if fits(console, table):
            console.print(table)
        else:  # a narrow terminal: one block per run
            print_blocks(console, table)


def _table(result: Any) -> Any:
    from rich.table import Table
    from rich.text import Text

    tables = result.tables
    table = Table(header_style="bold", box=None, pad_edge=False, padding=(0, 2, 0, 0))
    width = max((len(run.name) for run in result.runs), default=3)
    table.add_column("Run", overflow="fold", min_width=min(width, 24))
    table.add_column("ID", no_wrap=True)
    # Only the run name may wrap: rich squeezing several wrappable columns folded
    # numbers and headers apart ("10" over "0"); a table that does not fit is
    # printed as blocks instead (_print_runs).
    for t in tables:
        table.add_column(t, justify="right", no_wrap=True)
    media_head = "media" if result.action == "merge" else "media deleted"
    if result.media:
        table.add_column(media_head, justify="right", no_wrap=True)
    for run in result.runs:
        cells: list[str | Text] = [Text(run.name), (run.run_id or "")[:8]]  # a name is not markup
        cells += [f"{run.rows.get(t, 0):,}" for t in tables]
        if result.media:
            cells.append(f"{run.media_files:,}")
        table.add_row(*cells)
    if len(result.runs) > 1:
        totals = ["total", ""] + [f"{result.rows[t]:,}" for t in tables]
        if result.media:
            totals.append(f"{result.media_files:,}")
        table.add_row(*totals, style="bold")
    return table
