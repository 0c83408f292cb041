"""``trackio-tool analyze``: what is in a project, run by run."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from trackio_tool._text import listing, plural
from trackio_tool.commands._options import JsonOpt, MediaOpt, QuietOpt, RefreshOpt, RunOpt

SourcesArg = Annotated[
    Optional[list[str]],  # noqa: UP045 - Typer needs Optional on 3.10
    typer.Argument(
        help="A .db or .parquet file, a static-export folder, a Trackio directory, a project"
        " name in $TRACKIO_DIR, or a URL (hf://, ssh://, modal://, any fsspec URL)."
        " Several may be given, also comma-separated. Default: every project in $TRACKIO_DIR.",
        show_default=False,
    ),
]


def analyze(
    sources: SourcesArg = None,
    run: RunOpt = None,
    media: MediaOpt = True,
    json_: JsonOpt = False,
    refresh: RefreshOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Summarise projects: rows, steps, times, metrics and media of every run.

    Example: trackio-tool analyze ~/.cache/huggingface/trackio/myproj.db --run alpha,beta
    """
    from trackio_tool.sources._args import split_source_args
    from trackio_tool.store import _early

    specs = split_source_args(sources or [])
    for spec in specs:  # local .db files: their run spans are read while we import
        _early.start(spec)
    from trackio_tool.commands import _output, _progress

    _progress.enable(quiet or json_)
    from trackio_tool.sources import resolve_sources
    from trackio_tool.store import open_project, summarize
    from trackio_tool.store.select import Spread, split_selectors

    selectors = split_selectors(run)
    projects = resolve_sources(specs)
    # Over several projects a run need be in one only (as plot takes it); projects
    # where nothing is selected are left out.
    spread = Spread(selectors) if selectors and len(projects) > 1 else None
    summaries = []
    for files in projects:
        with open_project(files, refresh=refresh, quiet=quiet or json_) as project:
            wanted = selectors
            if spread is not None:
                wanted = spread.pick(project.run_index(), project.name)
                if not wanted:
                    continue
            summaries.append(summarize(project, runs=wanted, media=media, with_config=not json_))
    if spread is not None:
        spread.check()
    if json_:
        _output.print_json({"projects": [s.to_json() for s in summaries]})
        return
    for i, summary in enumerate(summaries):
        if i:
            _output.out().print()
        render(summary)


def _time(value: str | None, *, since: str | None = None, short: bool = False) -> str:
    """``2026-11-27 04:37:40`` (``11-27 04:37:40`` when short); only the time when
    ``since`` is the same day."""
    if not value:
        return "-"
    text = value.replace("T", " ")[:19]
    if since and since[:10] == value[:10]:
        return text[11:]
    return text[5:] if short else text


def _zone(runs: Any) -> str:
    stamps = [t for r in runs for t in (r.first, r.last) if t]
    if stamps and all(t.endswith(("+00:00", "Z")) for t in stamps):
        return " (UTC)"
    if stamps and not any("+" in t[10:] or t.endswith("Z") for t in stamps):
        return " (local)"
    return ""


def _steps(lo: int | None, hi: int | None) -> str:
    return "-" if lo is None else f"{lo}..{hi}"


# A config is printed on one line per run, cut to stay readable: a run with 5,000
# keys, or one value holding a long text or a deep dict, printed ~100 KB per run.
CONFIG_ITEM_CHARS = 80
CONFIG_LINE_CHARS = 500


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 3] + "..."


def _config_text(config: dict[str, Any]) -> str:
    user = [(k, v) for k, v in config.items() if not k.startswith("_")]
    if not user:
        return "(no user config)"
    items: list[str] = []
    used = 0
    for i, (k, v) in enumerate(user):
        item = _cut(f"{k}={v}", CONFIG_ITEM_CHARS)
        if items and used + len(item) > CONFIG_LINE_CHARS:
            rest = len(user) - i
            items.append(f"... {plural(rest, 'more key')}")
            break
        items.append(item)
        used += len(item) + 2
    return ", ".join(items)


def render(summary: Any) -> None:
    from rich.markup import escape

    from trackio_tool.commands._output import fits, out, print_blocks

    console = out()
    dup = summary.duplicate_names
    everything = set(summary.metrics)
    # Names and paths are the user's text: a run called "[/x]" is not rich markup.
    console.print(
        f"[bold]{escape(summary.project)}[/bold]"
        f"  [dim]({summary.kind}: {escape(summary.source)})[/dim]"
    )
    inbox = ""
    if summary.inbox_rows and summary.kind != "inbox":
        inbox = f" ({summary.inbox_rows:,} from Trackio's JSONL inbox, not imported yet)"
    console.print(
        f"{plural(summary.total_rows, 'row')}{inbox}, {plural(len(summary.runs), 'run')},"
        f" {plural(len(summary.metrics), 'metric')}: {_metric_list(summary.metrics)}",
        markup=False,
    )
    table = _run_table(summary, short=console.width < 100)
    if not fits(console, table):  # dates above times
        table = _run_table(summary, short=True, split=True)
    if fits(console, table):
        console.print(table)
    else:  # a narrow terminal: one block per run, with the year back in the times
        print_blocks(console, _run_table(summary, short=False))
    # Per-run metric lists only where a run tracked less than the whole project.
    partial = [r for r in summary.runs if set(r.metrics) != everything]
    if partial:
        console.print("[bold]Metrics not tracked by every run[/bold]")
        # Runs that lack the same metrics share a line (20 runs without one key: one line).
        lacking: dict[tuple[str, ...], list[str]] = {}
        for r in partial:
            lacking.setdefault(tuple(sorted(everything - set(r.metrics))), []).append(
                _label(r, dup)
            )
        # One print per block: a print call costs ~1-3 ms in rich (1,000 runs: seconds).
        console.print(
            "\n".join(
                f"  {', '.join(labels)}: all but {_metric_list(list(missing))}"
                for missing, labels in lacking.items()
            ),
            markup=False,
        )
    configs = [r for r in summary.runs if r.config]
    if configs:
        console.print("[bold]Configs[/bold]")
        console.print(
            "\n".join(f"  {_label(r, dup)}: {_config_text(r.config)}" for r in configs),
            markup=False,
        )


LISTED_METRICS = 40  # past this many, metrics are counted by group


def _metric_list(metrics: list[str]) -> str:
    """The names, or for a wide project (2,000 per-layer keys: 50 KB on one line) the
    count per ``/`` group: ``eval/* (10), layers/* (2,000), loss``."""
    if len(metrics) <= LISTED_METRICS:
        return ", ".join(metrics) or "-"
    groups: dict[str, list[str]] = {}
    for m in metrics:
        groups.setdefault(m.split("/", 1)[0] + "/*" if "/" in m else m, []).append(m)
    parts = [
        names[0] if len(names) == 1 else f"{k} ({len(names):,})" for k, names in groups.items()
    ]
    return f"{listing(parts, limit=LISTED_METRICS)} (--json lists every name)"


def _run_table(summary: Any, *, short: bool, split: bool = False) -> Any:
    """The runs as a table; ``split`` puts each date above its time (and the zone
    under "First"), for a terminal too narrow for them side by side."""
    from rich.table import Table
    from rich.text import Text

    dup = summary.duplicate_names
    table = Table(header_style="bold", box=None, pad_edge=False, padding=(0, 1, 0, 0))
    width = max((len(r.name) for r in summary.runs), default=3)
    table.add_column("Run", overflow="fold", min_width=min(width, 24))
    if dup:
        table.add_column("ID", min_width=8, no_wrap=True)
    for col in ("Rows", "Steps"):
        table.add_column(col, justify="right", no_wrap=True)
    # The run name is the only column that may wrap (fold): rich's squeezing of several
    # wrappable columns can cut one to "…" even where all would fit; a table that
    # does not fit is printed as blocks instead (render).
    sep = "\n" if split else " "
    table.add_column("First" + _zone(summary.runs).replace(" ", sep), no_wrap=True)
    table.add_column("Last", no_wrap=True)
    table.add_column("Metrics", justify="right", min_width=7, no_wrap=True)
    media = any(r.media_files is not None for r in summary.runs)
    system = any(r.system_rows for r in summary.runs)
    alerts = any(r.alerts for r in summary.runs)
    traces = any(r.traces for r in summary.runs)
    if media:
        table.add_column("Media", justify="right", min_width=5, no_wrap=True)
    if system:
        table.add_column("System", justify="right", min_width=6, no_wrap=True)
    if alerts:
        table.add_column("Alerts", justify="right", min_width=6, no_wrap=True)
    if traces:
        table.add_column("Traces", justify="right", min_width=6, no_wrap=True)
    for r in summary.runs:
        cells: list[str | Text] = [Text(r.name)]
        if dup:
            cells.append((r.id or "")[:8] if r.name in dup else "")
        cells += [
            f"{r.rows:,}",
            _steps(r.step_min, r.step_max),
            _time(r.first, short=short).replace(" ", sep),
            _time(r.last, since=r.first, short=short).replace(" ", sep),
            str(len(r.metrics)),
        ]
        if media:
            cells.append("-" if r.media_files is None else str(r.media_files))
        if system:
            cells.append(str(r.system_rows))
        if alerts:
            cells.append(str(r.alerts))
        if traces:
            cells.append(f"{r.traces:,}")
        table.add_row(*cells)
    return table


def _label(run: Any, dup: set[str]) -> str:
    return f"{run.name} ({(run.id or '')[:8]})" if run.name in dup else run.name
