"""``trackio-tool drop``: not implemented yet."""

from __future__ import annotations

from trackio_tool.errors import TrackioToolError


def drop() -> None:
    """Not implemented yet."""
    raise TrackioToolError("drop is not implemented yet")
