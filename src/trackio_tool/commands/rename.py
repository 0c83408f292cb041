"""``trackio-tool rename``: not implemented yet."""

from __future__ import annotations

from trackio_tool.errors import TrackioToolError


def rename() -> None:
    """Not implemented yet."""
    raise TrackioToolError("rename is not implemented yet")
