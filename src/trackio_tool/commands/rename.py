"""``trackio-tool rename``: rename a run, its media folder and its media paths."""

from __future__ import annotations

from typing import Annotated

import typer

from trackio_tool.commands._complete import complete_run_to_rename
from trackio_tool.commands._options import JsonOpt, QuietOpt, no_empty_values

RunsOpt = Annotated[
    list[str],  # no default: Typer refuses a missing --run as a usage error (exit 2)
    typer.Option(
        "--run",
        "-r",
        help="The run to rename, by name or id.",
        autocompletion=complete_run_to_rename,
        callback=no_empty_values,
        show_default=False,
    ),
]
TargetArg = Annotated[
    str, typer.Argument(help="The project database (<project>.db) to change.", show_default=False)
]
ToOpt = Annotated[str, typer.Option("--to", help="The new run name.", show_default=False)]


def rename(
    target: TargetArg,
    to: ToOpt,
    run: RunsOpt,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Rename one run in every table, move its media files and rewrite their paths.

    Refused when a run already has the new name.

    Example: trackio-tool rename ~/.cache/huggingface/trackio/toyproj.db --run dainty-sunset-0 --to beta-2
    """
    from trackio_tool.commands.merge import render
    from trackio_tool.store.write import rename as rename_run

    result = rename_run(target, run=run, to=to)
    render(result, json_=json_, quiet=quiet)
