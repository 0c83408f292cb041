"""SOURCE arguments as given on the command line (no fsspec: used before heavy imports)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path


def split_source_args(values: Iterable[str]) -> list[str]:
    """Accept the seed's ``a.db,b.db`` form as well as repeated arguments.

    A comma inside a URL's query or a path that exists as such is kept whole.
    """
    out: list[str] = []
    for value in values:
        if "," in value and not Path(os.path.expanduser(value)).exists():
            out.extend(part for part in (p.strip() for p in value.split(",")) if part)
        elif value.strip():
            out.append(value.strip())
    return out


def count_from_env(name: str, default: int) -> int:
    """A positive whole number from ``$name`` (unset or empty: ``default``), refused in
    one line like a bad timeout rather than silently replaced by the default."""
    from trackio_tool.errors import SourceError

    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdecimal() or int(raw) < 1:
        raise SourceError(f"{name} must be a positive whole number, not {raw!r}")
    return int(raw)


def seconds_from_env(name: str, default: float) -> float:
    """A positive number of seconds from ``$name`` (unset or empty: ``default``)."""
    from trackio_tool.errors import SourceError

    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (0 < value < math.inf):
        raise SourceError(f"{name} must be a positive number of seconds, not {raw!r}")
    return value
