"""Metric and nested key names that polars would read as patterns (``*``, ``^a$``) stay names."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from trackio_tool.sources import ProjectFiles, resolve_sources
from trackio_tool.store import _decode, open_project, series
from trackio_tool.store.parquet import _numeric_columns

NESTED = {"*": 1.5, "^a$": 2, "x": {"*": 3.0}}


def test_flatten_numeric_keeps_pattern_like_nested_keys() -> None:
    frame = _decode.decode_payloads(pl.Series(['{"m":{"*":1.5,"^a$":2,"x":{"*":3.0}}}']))
    flat = _decode.flatten_numeric(frame)
    assert flat.to_dicts() == [{"m/*": 1.5, "m/^a$": 2, "m/x/*": 3.0}]


def test_parquet_numeric_columns_keep_pattern_like_nested_keys(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(pa.Table.from_pylist([{"m": NESTED}]), path)
    got = _numeric_columns(pl.read_parquet(path).get_columns())
    assert got.to_dicts() == [{"m/*": 1.5, "m/^a$": 2, "m/x/*": 3.0}]


def test_struct_field_helpers_by_position() -> None:
    s = pl.Series("v", [NESTED])
    assert [name for name, _ in _decode.struct_fields(s)] == ["*", "^a$", "x"]
    assert [f.to_list() for _, f in _decode.struct_fields(s)] == [[1.5], [2], [{"*": 3.0}]]
    assert isinstance(s.dtype, pl.Struct)
    exprs = _decode.struct_field_exprs(pl.col("v"), s.dtype)
    got = s.to_frame().select(e.alias(name) for name, e in exprs)
    assert got.row(0) == (1.5, 2, {"*": 3.0})


def _parquet(
    tmp_path: Path, runs: list[str], columns: dict[str, list[float | None]]
) -> ProjectFiles:
    """A two-row parquet export with the given metric columns."""
    path = tmp_path / "p.parquet"
    pl.DataFrame(
        {
            "id": [1, 2],
            "timestamp": ["2026-01-01T00:00:00"] * 2,
            "run_name": runs,
            "step": [0, 1],
            **columns,
        }
    ).write_parquet(path)
    (files,) = resolve_sources([str(path)])
    return files


def test_parquet_analyze_keys_pattern_like_columns(tmp_path: Path) -> None:
    files = _parquet(
        tmp_path, ["r1", "r2"], {"a": [1.0, None], "*": [None, 2.0], "^a$": [3.0, None]}
    )
    with open_project(files) as project:
        got = set(project.metric_keys(None).iter_rows())
    assert got == {("r1", "a"), ("r1", "^a$"), ("r2", "*")}


def test_parquet_pattern_like_columns_are_plotted(tmp_path: Path) -> None:
    files = _parquet(tmp_path, ["r1", "r1"], {"a": [1.0, 2.0], "*": [5.0, 6.0], "^a$": [3.0, 4.0]})
    got = {t.metric: t.y.to_list() for t in series.collect([files]).traces}
    assert got == {"a": [1.0, 2.0], "*": [5.0, 6.0], "^a$": [3.0, 4.0]}


def test_a_metric_named_empty_reads_alike_from_db_and_parquet(tmp_path: Path) -> None:
    """A metric logged as trackio.log({"": x}) was "column_1" in analyze of a parquet
    export and plotted there as "column_0" (pl.DataFrame renames a "" column); the .db
    listed "" and did not plot it. Both now list "" and plot "/a" and "loss" only."""
    from tests.store.test_series import _edge_db
    from trackio_tool.store.summary import summarize

    rows = [{"": 1.0, "n": {"": {"a": 2.0}}, "loss": 0.5}, {"": 2.0, "loss": 0.4}]
    db = _edge_db(tmp_path / "e.db", [("r", "r", i, json.dumps(p)) for i, p in enumerate(rows)])
    pq_path = tmp_path / "e.parquet"
    pq.write_table(
        pa.table(
            {
                "id": [1, 2],
                "timestamp": ["2026-01-01T00:00:00"] * 2,
                "run_name": ["r", "r"],
                "step": [0, 1],
                "": [1.0, 2.0],
                "n": [{"": {"a": 2.0}}, None],
                "loss": [0.5, 0.4],
            }
        ),
        pq_path,
    )
    for source in (db, pq_path):
        (files,) = resolve_sources([str(source)])
        with open_project(files) as project:
            assert summarize(project, media=False).metrics == ["", "loss", "n"]
        got = {t.metric: t.y.to_list() for t in series.collect([files]).traces}
        assert got == {"n//a": [2.0], "loss": [0.5, 0.4]}, source
