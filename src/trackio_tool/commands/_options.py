"""Options shared by several commands, declared once (``Annotated`` aliases)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Optional

import typer

from trackio_tool.commands._complete import complete_plot_run, complete_run


def no_empty_values(param: typer.CallbackParam, value: list[str] | None) -> list[str] | None:
    """Refuse ``--run ''`` or ``--run ,`` (an unset variable, ``-r "$RUNS"``): it meant
    every run to merge and none to analyze, where it can only be a mistake."""
    from trackio_tool.errors import UsageError

    for v in value or ():
        if not v.replace(",", "").strip():
            what = "metric name or glob" if param.name == "metric" else "run name or id"
            raise UsageError(f"{param.opts[0]} {v!r} is empty: give a {what}")
    return value


def _run_option(complete: Callable[[typer.Context, str], list[tuple[str, str]]]) -> Any:
    return typer.Option(
        "--run",
        "-r",
        help="Run name or id; repeat it or separate with commas (a name that itself holds"
        " commas is matched whole; default: every run).",
        autocompletion=complete,
        callback=no_empty_values,
        show_default=False,
    )


RunOpt = Annotated[
    Optional[list[str]],  # noqa: UP045 - Typer needs Optional on 3.10
    _run_option(complete_run),
]
PlotRunOpt = Annotated[
    Optional[list[str]],  # noqa: UP045 - Typer needs Optional on 3.10
    _run_option(complete_plot_run),
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
