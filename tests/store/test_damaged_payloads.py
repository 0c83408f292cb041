"""Payloads trackio never writes (not JSON, not objects, numbers out of range) are read
as empty rows: analyze and plot still work, and plot says how many it could not read."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from tests.conftest import FIXTURES
from trackio_tool.store import _decode

DAMAGED = ['{"a":', "", "not json", b"\xff\xfe"]
NOT_OBJECTS = ["null", "[]", "42", '"text"']
GOOD = ['{"a": 1}', '{"a": 2, "b": {"c": 3}}', '{"a": NaN}']
BIG = ['{"a": 123456789012345678901234567890}']


def test_decode_payloads_reads_damaged_rows_as_null() -> None:
    rows: list[Any] = [*GOOD, *DAMAGED, *NOT_OBJECTS, *BIG]
    text = pl.Series("t", [r.encode() if isinstance(r, str) else r for r in rows], dtype=pl.Binary)
    before = _decode.invalid_payloads()
    got = _decode.flatten_numeric(_decode.decode_payloads(text))
    values = got.to_dicts()
    assert values[0]["a"] == 1
    assert values[1] == {"a": 2, "b/c": 3}
    assert all(v["a"] is None and v["b/c"] is None for v in values[3:-1])
    assert values[-1]["a"] == float(123456789012345678901234567890)  # beyond 64 bits: a float
    # '{"a":', "", "not json" and the bytes that are not UTF-8 could not be read;
    # null, [], 42 and "text" are JSON but not objects: no metrics either, counted too.
    assert _decode.invalid_payloads() - before == len(DAMAGED) + len(NOT_OBJECTS)


def _damaged_db(tmp_path: Path) -> Path:
    db = tmp_path / "damaged.db"
    shutil.copyfile(FIXTURES / "trackio-0.43.0" / "toyproj-edge.db", db)
    con = sqlite3.connect(db)
    with con:
        for i, payload in enumerate([*GOOD, *DAMAGED, *NOT_OBJECTS, *BIG]):
            con.execute(
                "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics)"
                " VALUES ('rid', '2026-01-01T00:00:00+00:00', 'damaged', ?, ?)",
                (i, payload),
            )
    con.close()
    return db


def test_analyze_and_plot_a_file_with_damaged_rows(tmp_path: Path, cli: Callable[..., Any]) -> None:
    db = _damaged_db(tmp_path)
    result = cli("analyze", "--json", str(db), "--run", "damaged")
    assert result.exit_code == 0, result.stderr
    (run,) = json.loads(result.stdout)["projects"][0]["runs"]
    assert run["rows"] == len(GOOD) + len(DAMAGED) + len(NOT_OBJECTS) + len(BIG)
    assert {"a", "b"} <= set(run["metrics"])
    out = tmp_path / "p.html"
    result = cli("plot", str(db), "--run", "damaged", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    # Every row that is not a readable object is counted, whichever decoder read it.
    bad = len(DAMAGED) + len(NOT_OBJECTS)
    assert f"{bad} rows of metrics hold a payload that cannot be read" in " ".join(
        result.stderr.split()
    )
    assert out.stat().st_size > 0


def test_keys_of_rows_that_are_not_json_are_not_metrics(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    """A truncated or otherwise invalid row holds no keys in analyze, as in plot."""
    db = tmp_path / "bad.db"
    shutil.copyfile(FIXTURES / "trackio-0.43.0" / "toyproj-edge.db", db)
    bad = ['{"trunc":1', '{"word": xyz}', '{"lead":01}', '{"ctl":"a\tb"}', '{"comma":1,}']
    con = sqlite3.connect(db)
    with con:
        for i, payload in enumerate(['{"loss": 1.0}', *bad, '{"loss": 2.0, "late": NaN}']):
            con.execute(
                "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics)"
                " VALUES ('rid', '2026-01-01T00:00:00+00:00', 'bad', ?, ?)",
                (i, payload),
            )
    con.close()
    result = cli("analyze", "--json", str(db), "--run", "bad")
    assert result.exit_code == 0, result.stderr
    (run,) = json.loads(result.stdout)["projects"][0]["runs"]
    assert (run["rows"], run["metrics"]) == (len(bad) + 2, ["late", "loss"])


def test_many_numbers_polars_cannot_read_take_bounded_time() -> None:
    """Valid JSON that polars refuses (1e999): found by bisection, capped, not row by row."""
    rows = ['{"a": 1}', *['{"a": 1e999}'] * 100, '{"a": 2}']
    before = _decode.invalid_payloads()
    got = _decode.flatten_numeric(_decode.decode_payloads(pl.Series("t", rows)))
    assert got.height == len(rows)
    assert got.get_column("a").to_list()[0] == 1
    assert got.get_column("a").to_list()[-1] in (2, None)  # may share a dropped range
    assert got.get_column("a").to_list()[1:-1] == [None] * 100
    assert 100 <= _decode.invalid_payloads() - before <= 101


def test_parquet_rows_without_a_run_are_refused(tmp_path: Path, cli: Callable[..., Any]) -> None:
    """Rows with no run_name were left out without a word (analyze's total_rows did not
    count them; read-side fuzz). As in a .db, that is a file to refuse, in plot as in
    analyze: Trackio <= 0.21 exports lose run names this way, and the rest may be wrong."""
    path = tmp_path / "nulls.parquet"
    pl.DataFrame(
        {
            "id": [1, 2, 3],
            "timestamp": ["2026-01-01T00:00:00", None, "2026-01-02T00:00:00"],
            "run_name": ["r1", None, "r1"],
            "step": [0, None, 2],
            "loss": [1.0, 2.0, None],
        }
    ).write_parquet(path)
    for args in (
        ["analyze", "--json", str(path)],
        ["plot", str(path), "-o", str(tmp_path / "p.html")],
    ):
        result = cli(*args)
        assert result.exit_code == 1
        assert result.stderr.startswith("error: ")
        assert result.stderr.count("\n") == 1
        assert "1 of 3 rows have no run_name" in result.stderr
    assert not (tmp_path / "p.html").exists()
