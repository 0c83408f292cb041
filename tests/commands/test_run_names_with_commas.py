"""A run name may contain commas (``lr=1e-3,bs=32``): --run takes it whole, and still
splits ``-r alpha,gamma`` when no run has that whole name."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

COMMA = "lr=1e-3,bs=32"


def _project(fixture_copy: Callable[[str], Path], cli: Callable[..., Any]) -> Path:
    db = fixture_copy("trackio-0.43.0") / "toyproj.db"
    result = cli("rename", str(db), "--run", "alpha", "--to", COMMA)
    assert result.exit_code == 0, result.stderr
    return db


def _names(cli: Callable[..., Any], *args: str) -> list[str]:
    result = cli("analyze", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return [r["name"] for r in json.loads(result.stdout)["projects"][0]["runs"]]


def test_analyze_selects_a_name_with_commas_whole(
    fixture_copy: Callable[[str], Path], cli: Callable[..., Any]
) -> None:
    db = _project(fixture_copy, cli)
    assert _names(cli, str(db), "--run", COMMA) == [COMMA]
    assert _names(cli, str(db), "-r", COMMA, "-r", "gamma") == [COMMA, "gamma"]
    assert _names(cli, str(db), "-r", "beta,gamma") == ["beta", "beta", "gamma"]
    result = cli("analyze", str(db), "-r", "lr=1e-3")
    assert result.exit_code == 1
    assert COMMA in result.stderr  # the closest name is offered


def test_plot_and_drop_take_a_name_with_commas(
    fixture_copy: Callable[[str], Path], cli: Callable[..., Any], tmp_path: Path
) -> None:
    db = _project(fixture_copy, cli)
    result = cli("plot", str(db), "--run", COMMA, "-o", str(tmp_path / "p.html"))
    assert result.exit_code == 0, result.stderr
    assert re.search(r"charts?, 1 runs?,", result.stderr), result.stderr
    result = cli("drop", str(db), "--run", COMMA, "--yes")
    assert result.exit_code == 0, result.stderr
    assert COMMA not in _names(cli, str(db))


def test_rename_refuses_two_runs_given_with_a_comma(
    fixture_copy: Callable[[str], Path], cli: Callable[..., Any]
) -> None:
    db = fixture_copy("trackio-0.43.0") / "toyproj.db"
    result = cli("rename", str(db), "--run", "alpha,gamma", "--to", "x")
    assert result.exit_code == 1
    assert "exactly one" in result.stderr


def test_names_with_surrounding_spaces_can_be_selected(
    fixture_copy: Callable[[str], Path], cli: Callable[..., Any]
) -> None:
    """Found by the write-side fuzz: --run values were stripped, so a run called " lead"
    could not be analysed, plotted or dropped. A value is now tried as given first."""
    import sqlite3

    db = fixture_copy("trackio-0.43.0") / "toyproj.db"
    con = sqlite3.connect(db)
    with con:
        for table in ("metrics", "configs", "system_metrics"):
            con.execute(f"UPDATE {table} SET run_name = ' lead' WHERE run_name = 'alpha'")
    con.close()
    assert _names(cli, str(db), "--run", " lead") == [" lead"]
    assert _names(cli, str(db), "--run", " gamma ") == ["gamma"]  # a stray space still works
    result = cli("drop", str(db), "--run", " lead", "--yes")
    assert result.exit_code == 0, result.stderr
    assert " lead" not in _names(cli, str(db))
