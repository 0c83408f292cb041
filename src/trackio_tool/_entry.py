"""The console script's first code: start the run-span query of a big ``.db`` at once.

``analyze`` and ``plot`` of a local ``.db`` begin with one aggregate over every row
(``store._early``). Importing typer and the command modules takes ~0.17 s before a
command function runs; started here, from a plain look at the arguments, the query
overlaps that import too. A guess that is wrong costs nothing: a file the command
does not open is never claimed, and its query is stopped when the command ends.
"""

from __future__ import annotations

import contextlib
import sys

_EARLY_COMMANDS = ("analyze", "plot")


def main() -> None:
    # Only a head start: whatever fails here is the command's to report.
    with contextlib.suppress(Exception):
        start_early(sys.argv[1:])
    from trackio_tool.cli import main as cli_main

    cli_main()


def start_early(args: list[str]) -> None:
    """``_early.start`` for each ``.db`` named among the arguments of analyze or plot."""
    if not args or args[0] not in _EARLY_COMMANDS:
        return
    from trackio_tool.sources._args import split_source_args
    from trackio_tool.store import _early

    # Option values too (`--run x`): a name that is no .db file is passed over.
    for path in split_source_args(a for a in args[1:] if not a.startswith("-")):
        _early.start(path)
