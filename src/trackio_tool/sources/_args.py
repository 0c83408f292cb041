"""SOURCE arguments as given on the command line (no fsspec: used before heavy imports)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def split_source_args(values: Iterable[str]) -> list[str]:
    """Accept the seed's ``a.db,b.db`` form as well as repeated arguments.

    A comma inside a URL's query or a path that exists as such is kept whole.
    """
    out: list[str] = []
    for value in values:
        if "," in value and not Path(value).expanduser().exists():
            out.extend(part for part in (p.strip() for p in value.split(",")) if part)
        elif value.strip():
            out.append(value.strip())
    return out
