"""Run names, metric names and paths are the user's text: never read as rich markup."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

NAMES = ["[bold]r1", "[/x]"]


def _export(tmp_path: Path) -> Path:
    path = tmp_path / "[exp]" / "markup.parquet"
    path.parent.mkdir()
    pl.DataFrame(
        {
            "id": [1, 2],
            "timestamp": ["2026-01-01T00:00:00"] * 2,
            "run_name": NAMES,
            "step": [0, 1],
            "[/x]": [1.0, 2.0],
            "[red]m": [1.0, None],
        }
    ).write_parquet(path)
    return path


def test_analyze_table_shows_names_as_typed(tmp_path: Path, cli: Callable[..., Any]) -> None:
    src = _export(tmp_path)
    result = cli("analyze", str(src))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"(parquet: {src})" in lines[0]  # "[exp]" in the path is kept
    assert any(line.startswith("[bold]r1 ") for line in lines)
    assert any(line.startswith("[/x] ") for line in lines)
    assert "  [/x]: all but [red]m" in lines


def test_merge_table_shows_names_as_typed(tmp_path: Path, cli: Callable[..., Any]) -> None:
    src = _export(tmp_path)
    result = cli("merge", "--from", str(src), "--into", str(tmp_path / "t.db"), "--no-media")
    assert result.exit_code == 0, result.stderr
    rows = [line.split()[0] for line in result.stdout.splitlines()[2:]]
    assert rows[:2] == NAMES
