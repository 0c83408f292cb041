"""The console script's first code: start the run-span query of a big ``.db`` at once.

``analyze`` and ``plot`` of a local ``.db`` begin with one aggregate over every row
(``store._early``). Importing typer and the command modules takes ~0.17 s before a
command function runs; started here, from a plain look at the arguments, the query
overlaps that import too. A guess that is wrong costs nothing: a file the command
does not open is never claimed, and its query is stopped when the command ends.
"""

from __future__ import annotations

import contextlib
import os
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
    paths = []
    for arg in args[1:]:
        if arg.startswith("-") or (not arg.endswith(".db") and ".db," not in arg):
            continue
        parts = arg.split(",") if "," in arg and not os.path.exists(arg) else [arg]
        paths += [p.strip() for p in parts if p.strip().endswith(".db")]
    if not paths:
        return
    from trackio_tool.store import _early

    for path in paths:
        _early.start(path)
