"""The run index a summary starts from (SqliteReader.run_index)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.commands.test_drop import GAMMA
from trackio_tool.store.sqlite import SqliteReader


@pytest.mark.parametrize("other", ["gamma-old", "early-gamma"])
def test_a_run_id_under_two_names_is_two_rows(
    fixture_copy: Callable[[str], Path], other: str
) -> None:
    """The index shortcut must notice a second name whether it sorts after the first
    row's name or before it (the check seeks both sides of it in the run-record index)."""
    db = fixture_copy("trackio-0.43.0") / "toyproj.db"
    con = sqlite3.connect(db)
    with con:
        con.execute(
            "UPDATE metrics SET run_name = ? WHERE run_id = ? AND step >= 60", (other, GAMMA)
        )
        indexes = [r[1] for r in con.execute("PRAGMA index_list(metrics)")]
    con.close()
    assert "idx_metrics_run_record" in indexes  # the index the shortcut seeks in
    with SqliteReader(db) as reader:
        rows = reader.run_index().filter(run_id=GAMMA)
    assert sorted(zip(rows["run_name"], rows["rows"], strict=True)) == sorted(
        [("gamma", 60), (other, 60)]
    )
