"""Run names, metric names and paths are the user's text: never read as rich markup."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

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


@pytest.mark.parametrize("fixture", ["toyproj.db", "toyproj-edge.db"])
def test_table_width_is_riches_own_measurement(
    fixture: str, fixture_copy: Callable[[str], Path]
) -> None:
    """``fits`` sums cell widths itself (rich measuring the table and then each column
    took seconds for 1,000 runs): the sum must be what rich measures, for every table
    analyze and drop print."""
    from rich.console import Console
    from rich.measure import Measurement

    from trackio_tool.commands import _output, analyze
    from trackio_tool.commands.merge import _table
    from trackio_tool.sources import resolve_sources
    from trackio_tool.store import open_project, summarize
    from trackio_tool.store.write import drop

    db = fixture_copy("trackio-0.43.0") / fixture
    (files,) = resolve_sources([str(db)])
    with open_project(files) as project:
        summary = summarize(project)
    console = Console(width=80)
    unbounded = console.options.update_width(1_000_000)
    tables = [
        analyze._run_table(summary, short=short, split=split)
        for short in (False, True)
        for split in (False, True)
    ]
    preview = drop(db, runs=[summary.runs[0].name], dry_run=True)
    tables.append(_table(preview))
    for table in tables:
        assert (
            _output.table_width(console, table)
            == Measurement.get(console, unbounded, table).maximum
        )
