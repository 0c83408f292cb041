"""``trackio-tool drop``: delete runs from a project database."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from trackio_tool import _waiting
from trackio_tool.commands._complete import complete_run_to_drop
from trackio_tool.commands._options import (
    DryRunOpt,
    JsonOpt,
    MediaOpt,
    QuietOpt,
    no_empty_values,
)

RunsOpt = Annotated[
    list[str],  # no default: Typer refuses a missing --run as a usage error (exit 2)
    typer.Option(
        "--run",
        "-r",
        help="Runs to delete, by name or id; repeat it or separate with commas.",
        autocompletion=complete_run_to_drop,
        callback=no_empty_values,
        show_default=False,
    ),
]
TargetArg = Annotated[
    str, typer.Argument(help="The project database (<project>.db) to change.", show_default=False)
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def drop(
    target: TargetArg,
    run: RunsOpt,
    media: MediaOpt = True,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Delete runs: their rows in every table, artifact links and (with --media) media files.

    A bare name that several runs share is refused: select one by its id.
    Asks for confirmation on a terminal unless --yes.

    Example: trackio-tool drop ~/.cache/huggingface/trackio/toyproj.db --run 6afb4a00 --dry-run
    """
    from trackio_tool.commands.merge import preview, render
    from trackio_tool.errors import TrackioToolError
    from trackio_tool.store.write import drop as drop_runs

    def confirm(plan: Any) -> bool:
        if yes or sys.stdin is None or sys.stdin.closed or not sys.stdin.isatty():
            return True  # (started with stdin closed: not a terminal either)
        preview(plan)  # not render(): nothing is dropped yet
        return _ask(f"Delete {len(plan.runs)} run(s) from {plan.target}?")

    result = drop_runs(target, runs=run, media=media, dry_run=dry_run, confirm=confirm)
    if result.cancelled:
        raise TrackioToolError("cancelled; nothing was deleted")
    render(result, json_=json_, quiet=quiet)


def _ask(question: str) -> bool:
    """A yes/no question on stderr; anything but y/yes (or end of input) is no.

    Not typer.confirm: it echoes the prompt's last character on stdout, which must
    hold only the result (pure JSON with --json).
    """
    sys.stderr.write(f"{question} [y/N]: ")
    sys.stderr.flush()
    return _waiting.readline(sys.stdin).strip().lower() in ("y", "yes")
