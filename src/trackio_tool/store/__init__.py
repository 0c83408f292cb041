"""Trackio projects as polars frames: read every layout, write SQLite transactionally.

Attributes are imported lazily so that light submodules (``_sqlite_ro``, used by
shell completion) do not pull in polars.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trackio_tool.store.project import Project, open_project
    from trackio_tool.store.summary import ProjectSummary, RunSummary, summarize

__all__ = ["Project", "ProjectSummary", "RunSummary", "open_project", "summarize"]

_HOMES = {
    "Project": "trackio_tool.store.project",
    "open_project": "trackio_tool.store.project",
    "ProjectSummary": "trackio_tool.store.summary",
    "RunSummary": "trackio_tool.store.summary",
    "summarize": "trackio_tool.store.summary",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'trackio_tool.store' has no attribute {name!r}")
