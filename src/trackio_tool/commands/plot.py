"""``trackio-tool plot``: not implemented yet."""

from __future__ import annotations

from trackio_tool.errors import TrackioToolError


def plot() -> None:
    """Not implemented yet."""
    raise TrackioToolError("plot is not implemented yet")
