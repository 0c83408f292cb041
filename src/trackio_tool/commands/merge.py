"""``trackio-tool merge``: not implemented yet."""

from __future__ import annotations

from trackio_tool.errors import TrackioToolError


def merge() -> None:
    """Not implemented yet."""
    raise TrackioToolError("merge is not implemented yet")
