"""Counted words and short lists for the tool's messages (no heavy imports: the
store, the sources and the commands all use them)."""

from __future__ import annotations

from collections.abc import Sequence


def plural(n: int, word: str) -> str:
    """``1 run``, ``2 runs``, ``1,234 rows``: never "1 runs"."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def listing(items: Sequence[str], *, limit: int = 10) -> str:
    """``a, b, c``; past ``limit`` items, the first ones and ``... and 290 more``: an
    error about 300 runs stays one readable line (it was 12 KB of ids)."""
    if len(items) <= limit:
        return ", ".join(items)
    return f"{', '.join(items[:limit])}, ... and {len(items) - limit:,} more"
