"""The list of commands beyond ``analyze``, in the order ``--help`` shows them.

Each entry is ``(name, "module:function")``; modules are imported at start-up
but import their heavy dependencies lazily inside the function.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

COMMANDS: list[tuple[str, str]] = [
    ("plot", "trackio_tool.commands.plot:plot"),
    ("merge", "trackio_tool.commands.merge:merge"),
    ("drop", "trackio_tool.commands.drop:drop"),
    ("rename", "trackio_tool.commands.rename:rename"),
]


def commands() -> Iterator[tuple[str, Callable[..., Any]]]:
    for name, target in COMMANDS:
        module, func = target.split(":")
        yield name, getattr(importlib.import_module(module), func)
