"""How plot names projects, kept free of polars so shell completion can use it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath


def project_labels(names: Sequence[str], sources: Sequence[str]) -> list[str]:
    """Project names, qualified by their folder where two sources hold the same name."""
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    labels: list[str] = []
    for name, source in zip(names, sources, strict=True):
        if counts[name] == 1:
            labels.append(name)
            continue
        parent = PurePosixPath(source.rstrip("/")).parent.name
        label = f"{parent}/{name}" if parent else name
        k = 2
        base = label
        while label in labels:
            label = f"{base}#{k}"
            k += 1
        labels.append(label)
    return labels
