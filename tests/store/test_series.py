"""Plot data: the fast Float64 reader, run labels and selection, metric order, x axes,
smoothing and shape-preserving downsampling."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tests.conftest import FIXTURES
from tests.store.test_decode import STYLES, encode, keys, leaf, nested, typed_rows
from trackio_tool.errors import AmbiguousRunError, OutputError, RunNotFoundError
from trackio_tool.sources import resolve_sources
from trackio_tool.store import _decode, numeric, open_project, series

SQLITE_FILES = sorted(
    p
    for p in FIXTURES.glob("*/*.db")
    if not p.parent.name.endswith("-static")  # static exports have no .db
)
ALL_SOURCES = [
    *SQLITE_FILES,
    *sorted(FIXTURES.glob("*-static/toyproj")),
    *sorted(FIXTURES.glob("*/toyproj.parquet")),
]


def _floats(frame: pl.DataFrame) -> pl.DataFrame:
    """read_numeric's frame with every value column as Float64, columns sorted."""
    frame = numeric._as_float(frame)
    return pl.DataFrame([frame.get_column(c) for c in sorted(frame.columns)])


# -- read_float_series == read_numeric as floats -----------------------------------


@pytest.mark.parametrize("path", ALL_SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
@pytest.mark.parametrize("table", ["metrics", "system_metrics"])
def test_fast_reader_matches_read_numeric(path: Path, table: str) -> None:
    for files in resolve_sources([str(path)]):
        with open_project(files) as project:
            got = numeric.read_float_series(project, table=table)
            want = project.read_numeric(table=table)
            assert_frame_equal(_floats(got), _floats(want))
            keys = project.run_index().get_column("run_key").to_list()[:2]
            got = numeric.read_float_series(project, keys, table=table)
            want = project.read_numeric(keys, table=table)
            assert_frame_equal(_floats(got), _floats(want))


def _chunk(payloads: list[bytes]) -> pl.DataFrame:
    n = len(payloads)
    return pl.DataFrame(
        [
            pl.Series("run_key", ["r"] * n, dtype=pl.String),
            pl.Series("step", list(range(n)), dtype=pl.Int64),
            pl.Series("timestamp", ["2026-01-01T00:00:00+00:00"] * n, dtype=pl.String),
            pl.Series("t", payloads, dtype=pl.Binary),
        ]
    )


def _exact(payloads: list[bytes]) -> pl.DataFrame:
    chunk = _chunk(payloads)
    values = _decode.flatten_numeric(_decode.decode_payloads(chunk.get_column("t")))
    values = _decode.escape_metrics(values)  # as read_numeric does
    return _floats(pl.concat([chunk.drop("t"), values], how="horizontal"))


def _same_values(got: pl.DataFrame, want: pl.DataFrame) -> None:
    # A leaf with no number in it may exist as an all-null column on one side.
    cols = sorted(set(got.columns) | set(want.columns))
    got = got.with_columns(
        pl.repeat(None, got.height, dtype=pl.Float64, eager=True).alias(c)
        for c in cols
        if c not in got.columns
    )
    want = want.with_columns(
        pl.repeat(None, want.height, dtype=pl.Float64, eager=True).alias(c)
        for c in cols
        if c not in want.columns
    )
    assert_frame_equal(
        pl.DataFrame([got.get_column(c) for c in cols]),
        pl.DataFrame([want.get_column(c) for c in cols]),
    )


@settings(max_examples=150, deadline=None)
@given(rows=typed_rows(), style=STYLES)
def test_fast_decode_matches_exact_on_run_like_rows(rows: list[dict[str, Any]], style: str) -> None:
    payloads = [encode(r, style) for r in rows]
    got = _floats(numeric._decode_chunk(_chunk(payloads), numeric._Schema()))
    _same_values(got, _exact(payloads))


def _kinds(value: Any, path: tuple[str, ...], out: dict[tuple[str, ...], set[str]]) -> None:
    kind = "dict" if isinstance(value, dict) else "list" if isinstance(value, list) else "scalar"
    out.setdefault(path, set()).add(kind)
    if isinstance(value, dict):
        for k, v in value.items():
            _kinds(v, (*path, k), out)


def _consistent(rows: list[dict[str, Any]]) -> bool:
    """Every key keeps one shape (object, list or scalar) across the rows.

    The exact decoder drops a key whose shape varies within a chunk, so its
    result depends on how rows are chunked; runs do not log such keys.
    """
    kinds: dict[tuple[str, ...], set[str]] = {}
    for row in rows:
        for k, v in row.items():
            _kinds(v, (k,), kinds)
    return all(len(k) == 1 for k in kinds.values())


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.dictionaries(keys, st.one_of(leaf, nested), max_size=5), min_size=1, max_size=8
    ),
    style=STYLES,
)
def test_fast_decode_matches_exact_on_any_rows(rows: list[dict[str, Any]], style: str) -> None:
    assume(_consistent(rows))
    payloads = [encode(r, style) for r in rows]
    got = _floats(numeric._decode_chunk(_chunk(payloads), numeric._Schema()))
    _same_values(got, _exact(payloads))


def test_metrics_named_like_internal_columns_are_plotted(tmp_path: Path) -> None:
    """run_key, step, _x and a leading NUL are metric names like any other."""
    names = ["run_key", "_x", "step", "timestamp", "\x00row", "\x00\x00run_key", "loss"]
    db = _edge_db(
        tmp_path / "names.db", [("rid", "run", i, orjson_dumps(names, i)) for i in range(5)]
    )
    (files,) = resolve_sources([str(db)])
    data = series.collect([files])
    got = {t.metric: t.y.to_list() for t in data.traces}
    assert got == {n: [float(i * (k + 1)) for i in range(5)] for k, n in enumerate(names)}
    with open_project(files) as project:
        assert_frame_equal(
            _floats(numeric.read_float_series(project)), _floats(project.read_numeric())
        )


def test_pattern_like_names_at_any_depth_are_read_and_plotted(tmp_path: Path) -> None:
    """``*`` and ``^a$`` are names, not polars column patterns, top-level or nested,
    on the fast path and on the exact one (a JSON null forces the exact path)."""
    rows = [{"*": i, "^a$": 2 * i, "m": {"*": 3 * i, "^b$": 4 * i, "n": None}} for i in range(5)]
    db = _edge_db(
        tmp_path / "patterns.db", [("rid", "run", i, json.dumps(r)) for i, r in enumerate(rows)]
    )
    (files,) = resolve_sources([str(db)])
    got = {t.metric: t.y.to_list() for t in series.collect([files]).traces}
    assert got == {
        "*": [float(i) for i in range(5)],
        "^a$": [2.0 * i for i in range(5)],
        "m/*": [3.0 * i for i in range(5)],
        "m/^b$": [4.0 * i for i in range(5)],
    }
    with open_project(files) as project:
        assert_frame_equal(
            _floats(numeric.read_float_series(project)), _floats(project.read_numeric())
        )
        assert set(project.metric_keys(None).get_column("metric")) == {"*", "^a$", "m"}


WARM = ['{"x": 0.5, "g": {"a": 0.5}, "loss": 1.0}'] * 70  # the fast reader learns floats


@pytest.mark.parametrize(
    ("payloads", "want"),
    [
        pytest.param(  # a JSON string is text, whatever it spells (TRACKIO_FORMATS.md §4)
            [
                '{"phase": "3", "loss": 1.0}',
                '{"phase": "inf", "loss": "2"}',
                '{"phase": "nan", "g": {"a": ".5"}}',
                '{"phase": "1e3", "loss": "NaN"}',
            ],
            {"loss": [1.0, None, None, math.nan]},
            id="number-like-strings",
        ),
        pytest.param(
            [*WARM, '{"x": true, "g": {"a": false}, "loss": 2.0}'],
            {"x": [0.5] * 70 + [None], "g/a": [0.5] * 70 + [None], "loss": [1.0] * 70 + [2.0]},
            id="booleans-after-floats",
        ),
        pytest.param(  # a number in one row, an object in another: both kept
            ['{"eval": 0.5, "l": [1]}', '{"eval": {"loss": 1.0}, "l": [1]}'],
            {"eval": [0.5, None], "eval/loss": [None, 1.0]},
            id="number-then-object",
        ),
        pytest.param(  # ... at depth, beside a sibling that is always a number
            ['{"eval": {"loss": 0.5, "d": 1.0}}', '{"eval": {"loss": 0.4, "d": {"top5": 0.9}}}'],
            {"eval/loss": [0.5, 0.4], "eval/d": [1.0, None], "eval/d/top5": [None, 0.9]},
            id="nested-shape-change",
        ),
        pytest.param(  # "\u0033" is "3": still a string (read-side fuzz)
            ['{"a": "warmup", "loss": 0.5}'] * 70
            + ['{"a": "\\u0033", "loss": 0.4}', '{"a": "\\u0031e3", "loss": 0.3}'],
            {"loss": [0.5] * 70 + [0.4, 0.3]},
            id="escaped-number-like-strings",
        ),
    ],
)
def test_numbers_are_what_json_says_they_are(
    tmp_path: Path, payloads: list[str], want: dict[str, list[float | None]]
) -> None:
    """Found by a differential fuzz against sqlite3 + json.loads: strings read as
    numbers, booleans read as 1/0 by the fast reader, and keys whose shape changes
    dropped whole (with their siblings)."""
    db = _edge_db(tmp_path / "types.db", [("rid", "run", i, p) for i, p in enumerate(payloads)])
    (files,) = resolve_sources([str(db)])
    with open_project(files) as project:
        for frame in (project.read_numeric(), numeric.read_float_series(project)):
            values = numeric._as_float(frame.drop("run_key", "step", "timestamp"))
            got = {c: values.get_column(c).to_list() for c in values.columns}
            assert set(got) == set(want)
            for name, column in want.items():
                for g, w in zip(got[name], column, strict=True):
                    assert (g is None and w is None) or (
                        g is not None
                        and w is not None
                        and (g == w or (math.isnan(g) and math.isnan(w)))
                    ), (name, got[name])


def test_parquet_metric_named_run_key_is_plotted_and_listed(tmp_path: Path) -> None:
    path = tmp_path / "names.parquet"
    pl.DataFrame(
        {
            "id": [1, 2, 3],
            "timestamp": ["2026-01-01T00:00:00"] * 3,
            "run_name": ["run"] * 3,
            "step": [0, 1, 2],
            "run_key": [5.0, 6.0, 7.0],
            "_x": [1.0, 2.0, 3.0],
            "metric": [None, 1.0, None],
            "present": [None, None, None],
        }
    ).write_parquet(path)
    (files,) = resolve_sources([str(path)])
    got = {t.metric: t.y.to_list() for t in series.collect([files]).traces}
    assert got == {"run_key": [5.0, 6.0, 7.0], "_x": [1.0, 2.0, 3.0], "metric": [1.0]}
    with open_project(files) as project:  # analyze's key list (it used to fail: DuplicateError)
        pairs = set(project.metric_keys(None).iter_rows())
    assert pairs == {("run", "run_key"), ("run", "_x"), ("run", "metric")}


def orjson_dumps(names: list[str], i: int) -> bytes:
    import orjson

    return orjson.dumps({n: i * (k + 1) for k, n in enumerate(names)})


def test_a_metric_named_like_the_internal_row_column_keeps_its_values() -> None:
    # Found by hypothesis: any text can be a key, even the reader's own column name.
    payloads = [b'{"\\u0000row": 9007199254740993, "a": 1}', b'{"\\u0000row": 2, "b": NaN}']
    got = _floats(numeric._decode_chunk(_chunk(payloads), numeric._Schema()))
    _same_values(got, _exact(payloads))
    column = _decode.metric_column("\x00row")  # escaped beside run_key/step/timestamp
    assert got.get_column(column).to_list() == [9007199254740993.0, 2.0]


def test_fast_decode_takes_the_exact_path_for_what_it_cannot_vouch_for() -> None:
    payloads = [
        b'{"loss":0.5,"acc":1}',
        b'{"loss":"NaN","acc":"Infinity","new":3}',  # a key seen late
        b'{"loss":-8.98846567431158e307}',  # our NaN sentinel, logged for real
        b'{"loss":NaN,"acc":-Infinity}',  # trackio <= 0.4 bare tokens
        b'{"loss":0.25,"note":"a:b","acc":null}',  # colon in a string, JSON null
        b'{"loss":1,"grp":{"x":"-Infinity","y":[1,2]},"_type":5}',
        b'{"loss":"warmup"}',  # text where numbers were seen
    ]
    schema = numeric._Schema()
    got = _floats(numeric._decode_chunk(_chunk(payloads), schema))
    _same_values(got, _exact(payloads))
    loss = got.get_column("loss").to_list()
    assert loss[0] == 0.5
    assert math.isnan(loss[1])
    assert loss[2] == -8.98846567431158e307  # not mistaken for a NaN
    assert math.isnan(loss[3])
    assert loss[6] is None
    assert got.get_column("acc").to_list()[3] == -math.inf
    assert got.get_column("grp/x").to_list()[5] == -math.inf
    assert got.get_column("_type").to_list()[5] == 5.0  # a top-level key, not a media marker


def test_fast_reader_learns_keys_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = []
    for i in range(300):
        m: dict[str, Any] = {"loss": 1 / (i + 1)}
        if i >= 150:
            m["late"] = i
        if i % 7 == 0:
            m["eval"] = {"acc": i / 300, "bad": "NaN"}
        rows.append(("rid", "run", i, encode(m, "orjson-strings")))
    db = _edge_db(tmp_path / "grow.db", rows)
    monkeypatch.setattr(numeric, "CHUNK_ROWS", 64)
    (files,) = resolve_sources([str(db)])
    with open_project(files) as project:
        got = numeric.read_float_series(project)
        assert_frame_equal(_floats(got), _floats(project.read_numeric()))
    assert got.get_column("late").null_count() == 150
    assert got.get_column("eval/bad").is_nan().sum() == len(range(0, 300, 7))


def shutil_copy(src: Path, dst: Path) -> None:
    dst.write_bytes(src.read_bytes())


def _edge_db(db: Path, rows: Iterable[tuple[str, str, int, Any]]) -> Path:
    """A copy of the 0.43 edge fixture whose metrics are ``(run_id, run_name, step, payload)``."""
    shutil_copy(FIXTURES / "trackio-0.43.0" / "toyproj-edge.db", db)
    con = sqlite3.connect(db)
    with con:
        con.execute("DELETE FROM metrics")
        con.executemany(
            "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics)"
            " VALUES (?, '2026-01-01T00:00:00+00:00', ?, ?, ?)",
            rows,
        )
    con.close()
    return db


# -- labels and run selection ---------------------------------------------------------


def _runs(rows: list[tuple[str, str, str | None]]) -> pl.DataFrame:
    frame = pl.DataFrame(
        rows,
        schema={"project": pl.String, "run_name": pl.String, "run_id": pl.String},
        orient="row",
    )
    return frame.with_row_index("uid").with_columns(
        pl.col("project").alias("project_name"),
        pl.col("run_id").fill_null(pl.col("run_name")).alias("run_key"),
    )


def test_labels_bare_qualified_and_short_ids() -> None:
    runs = _runs(
        [
            ("p1", "alpha", "aaaaaaaa1111"),
            ("p1", "beta", "66bbe7058728"),
            ("p1", "beta", "6afb4a0011dc"),
            ("p2", "alpha", None),
            ("p2", "solo", None),
        ]
    )
    assert series.label_runs(runs).to_list() == [
        "p1:alpha",
        "beta (66bbe705)",
        "beta (6afb4a00)",
        "p2:alpha",
        "solo",
    ]


def test_labels_of_distinct_runs_are_distinct() -> None:
    """Run y of project x was labelled x:y (y is also in project z), and so was run x:y
    of project z (a unique name, kept bare): two runs, one label."""
    runs = _runs([("x", "y", None), ("z", "y", None), ("z", "x:y", None)])
    labels = series.label_runs(runs).to_list()
    assert labels == ["x:y", "z:y", "z:x:y"]
    pick = lambda sel: series.select_runs(runs, [sel]).get_column("uid").to_list()  # noqa: E731
    assert [pick(label) for label in labels] == [[0], [1], [2]]  # each label selects its run
    # Qualified labels that still read alike are numbered.
    runs = _runs([("a", "b:c", None), ("d", "b:c", None), ("a:b", "c", None), ("q", "c", None)])
    assert series.label_runs(runs).to_list() == ["a:b:c", "d:b:c", "a:b:c #2", "q:c"]


def test_labels_widen_ids_that_share_a_prefix() -> None:
    runs = _runs([("p", "b", "0123456789abcdef"), ("p", "b", "0123456799abcdef")])
    assert series.label_runs(runs).to_list() == ["b (0123456789ab)", "b (0123456799ab)"]


def test_project_labels_qualify_same_named_projects() -> None:
    labels = series.project_labels(
        ["toyproj", "toyproj", "other", "toyproj"],
        ["/x/a/toyproj.db", "/x/b/toyproj.db", "/x/a/other.db", "/y/a/toyproj.parquet"],
    )
    assert labels == ["a/toyproj", "b/toyproj", "other", "a/toyproj#2"]


def test_select_by_name_qualified_name_and_id() -> None:
    runs = _runs(
        [("p1", "alpha", "aaaaaaaa1111"), ("p1", "beta", "bbbbbbbb2222"), ("p2", "alpha", None)]
    )
    pick = lambda *sel: series.select_runs(runs, list(sel)).get_column("uid").to_list()  # noqa: E731
    assert pick() == [0, 1, 2]
    assert pick("beta") == [1]
    assert pick("p2:alpha") == [2]
    assert pick("p1:alpha", "p2:alpha") == [0, 2]
    assert pick("bbbbbbbb2222") == [1]
    assert pick("bbbbbb") == [1]  # a unique id prefix of 6+ characters


def test_select_project_names_with_a_colon() -> None:
    """``--run exp:v2:base`` (the label, and the selector the error for a bare 'base'
    suggests) was refused: PROJECT:RUN was split at the first ':' only."""
    runs = _runs(
        [
            ("exp:v2", "base", None),
            ("other", "base", None),
            ("exp", "v2:x", None),
            ("x", "y", None),
            ("z", "x:q", None),
        ]
    )
    pick = lambda *sel: series.select_runs(runs, list(sel)).get_column("uid").to_list()  # noqa: E731
    assert series.label_runs(runs).to_list()[:2] == ["exp:v2:base", "other:base"]
    assert pick("exp:v2:base") == [0]
    assert pick("other:base") == [1]
    assert pick("exp:v2:x") == [2]  # project exp, run v2:x
    assert pick("x:q") == [4]  # a bare name, though project x exists
    with pytest.raises(RunNotFoundError, match=r"no run 'nope' in project exp:v2"):
        series.select_runs(runs, ["exp:v2:nope"])
    both = _runs([("a", "b:c", None), ("a:b", "c", None)])
    with pytest.raises(AmbiguousRunError, match=r"names runs of 2 projects \(a, a:b\)"):
        series.select_runs(both, ["a:b:c"])


def test_select_refuses_a_bare_name_found_in_several_projects() -> None:
    runs = _runs([("p1", "alpha", "a1"), ("p2", "alpha", None)])
    with pytest.raises(
        AmbiguousRunError, match=r"'alpha' exists in 2 projects \(p1, p2\).*p1:alpha"
    ):
        series.select_runs(runs, ["alpha"])


def test_select_unknown_run_names_close_matches() -> None:
    runs = _runs([("p1", "alpha", "a1"), ("p1", "gamma", "g1")])
    with pytest.raises(RunNotFoundError, match=r"no run 'alpah' in p1; closest: 'alpha'"):
        series.select_runs(runs, ["alpah"])
    with pytest.raises(RunNotFoundError, match=r"no run 'zeta' in project p1"):
        series.select_runs(runs, ["p1:zeta"])


# -- metrics ---------------------------------------------------------------------------


def test_metrics_grouped_by_prefix() -> None:
    names = ["train/loss", "loss", "eval/acc", "acc", "train/lr", "eval/loss", "z"]
    assert series.order_metrics(names) == [
        "acc",
        "loss",
        "z",
        "eval/acc",
        "eval/loss",
        "train/loss",
        "train/lr",
    ]
    assert series.match_metrics(names, ["train/*", "acc"]) == ["acc", "train/loss", "train/lr"]
    assert series.split_patterns(["train/*,acc", "z"]) == ["train/*", "acc", "z"]


def test_a_metric_is_selected_by_its_exact_name(tmp_path: Path, cli: Callable[..., Any]) -> None:
    """``--metric 'acc[0]'`` was refused (a character class to fnmatch) with 'acc[0]' as
    the closest name, and ``--metric 'lr=1e-3,bs=32'`` was split at its comma. An exact
    name selects its metric, and a value that is a name is taken whole, as --run does."""
    names = ["acc[0]", "lr=1e-3,bs=32", "lr=1e-3", "bs=32", "loss"]
    db = _edge_db(
        tmp_path / "names.db", [("rid", "run", i, orjson_dumps(names, i)) for i in range(3)]
    )
    files = resolve_sources([str(db)])
    pick = lambda *values: series.collect(files, metrics=list(values)).metrics  # noqa: E731
    assert pick("acc[0]") == ["acc[0]"]
    assert pick("acc[[]*") == ["acc[0]"]  # still a glob
    assert pick("lr=1e-3,bs=32") == ["lr=1e-3,bs=32"]  # whole: not lr=1e-3 and bs=32
    assert pick("loss,acc[0]") == ["acc[0]", "loss"]  # not a name: split
    assert pick("lr=1e-3, bs=32 ") == ["bs=32", "lr=1e-3"]
    # Spaces around a value (-m "$VAR") are not part of it, with or without a comma.
    assert pick("loss ") == pick(" loss") == ["loss"]
    with pytest.raises(OutputError, match=r"matches 'nope'"):
        pick("acc[0],nope")
    out = tmp_path / "p.html"
    r = cli("plot", str(db), "--metric", "lr=1e-3,bs=32", "-m", "acc[0]", "-o", str(out))
    assert r.exit_code == 0, r.stderr
    assert f"wrote {out}: 2 charts, 1 run," in r.stderr


def test_unmatched_metric_pattern_is_refused() -> None:
    with pytest.raises(OutputError, match=r"matches 'los'; closest: 'loss'"):
        series.check_patterns(["loss", "acc"], ["los"], "p")


# -- x axis, smoothing, downsampling -------------------------------------------------


def test_timestamps_aware_and_naive() -> None:
    stamps = pl.Series(
        "t",
        [
            "2026-11-27T04:37:40.833811+00:00",
            "2026-11-27T06:37:40+02:00",
            "2026-11-27T04:36:01.5",
            None,
        ],
    )
    got = pl.select(series.parse_timestamps(pl.lit(stamps))).to_series().to_list()
    assert [g.isoformat() if g else None for g in got] == [
        "2026-11-27T04:37:40.833811",
        "2026-11-27T04:37:40",
        "2026-11-27T04:36:01.500000",
        None,
    ]


def test_relative_x_starts_each_run_at_zero() -> None:
    frame = pl.DataFrame(
        {
            "run_key": ["a", "a", "b", "b"],
            "step": [0, 1, 0, 1],
            "timestamp": [
                "2026-01-01T00:00:10+00:00",
                "2026-01-01T00:00:12.5+00:00",
                "2026-01-02T00:00:00+00:00",
                "2026-01-02T00:01:00+00:00",
            ],
        }
    )
    assert series.with_x(frame, "relative").get_column("_x").to_list() == [0.0, 2.5, 0.0, 60.0]
    assert series.relative_unit(100) == ("s", 1.0)
    assert series.relative_unit(3600) == ("min", 60.0)
    assert series.relative_unit(36_000) == ("h", 3600.0)


def test_smooth_is_a_centred_moving_average() -> None:
    y = pl.Series([1.0, 2.0, 3.0, 10.0, 5.0])
    assert series.smooth(y, 3).to_list() == pytest.approx([1.5, 2.0, 5.0, 6.0, 7.5])
    assert series.smooth(y, 1).to_list() == y.to_list()


def test_short_traces_are_kept_whole_with_gaps() -> None:
    x = pl.Series([0, 1, 2, 3])
    y = pl.Series([1.0, math.nan, math.inf, 2.0])
    xs, ys = series.downsample(x, y, 10)
    assert xs.to_list() == [0, 1, 2, 3]
    assert ys.to_list()[0] == 1.0
    assert math.isnan(ys[1])
    assert math.isnan(ys[2])  # +inf cannot be drawn: a gap too


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(50, 5000),
    max_points=st.integers(10, 400),
    seed=st.integers(0, 2**16),
    nan_share=st.sampled_from([0.0, 0.01, 0.3]),
)
def test_downsampling_keeps_extremes_and_the_budget(
    n: int, max_points: int, seed: int, nan_share: float
) -> None:
    rng = np.random.default_rng(seed)
    x = np.sort(rng.integers(0, 10 * n, n))
    y = np.cumsum(rng.standard_normal(n))
    y[rng.random(n) < nan_share] = rng.choice([np.nan, np.inf, -np.inf])
    rows = series.downsample_indices(x, y, max_points)
    assert len(rows) <= max(max_points, n if n <= max_points else 0)
    assert np.all(np.diff(rows) > 0)
    finite = np.isfinite(y)
    if finite.any():
        kept = y[rows]
        kept = kept[np.isfinite(kept)]
        assert kept.max() == y[finite].max()
        assert kept.min() == y[finite].min()
        assert rows[0] <= np.flatnonzero(finite)[0]
        assert rows[-1] >= np.flatnonzero(finite)[-1]


def test_long_gaps_survive_downsampling_and_single_nans_do_not() -> None:
    n = 50_000
    x = np.arange(n)
    y = np.sin(x / 1000.0)
    y[100] = np.nan  # one value: narrower than a pixel
    y[40_000:41_000] = np.inf  # a long stretch: a visible gap
    rows = series.downsample_indices(x, y, 2000)
    gaps = x[rows][~np.isfinite(y[rows])]
    assert gaps.tolist() == [40_000]


# -- collect on real fixtures -----------------------------------------------------------


def test_collect_overlays_projects_and_qualifies_names() -> None:
    files = resolve_sources(
        [
            str(FIXTURES / "trackio-0.43.0" / "toyproj.db"),
            str(FIXTURES / "trackio-0.20.2" / "toyproj.db"),
        ]
    )
    data = series.collect(files)
    assert data.projects == ["trackio-0.43.0/toyproj", "trackio-0.20.2/toyproj"]
    labels = [r.label for r in data.runs]
    assert "trackio-0.43.0/toyproj:beta (66bbe705)" in labels
    assert "dainty-sunset-0" in labels  # only in one project: kept bare
    assert data.metrics[:5] == ["acc", "epoch", "grad_norm", "loss", "tokens"]


def test_collect_system_metrics_fall_back_to_time_since_start() -> None:
    files = resolve_sources([str(FIXTURES / "trackio-0.43.0" / "toyproj.db")])
    data = series.collect(files, system=True)
    assert data.x_mode == "relative"
    assert data.x_title == "time since run start (s)"
    assert "cpu/percent" in data.metrics
    assert any("no steps" in n for n in data.notes)
    gpu = {data.runs[t.run].label: t for t in data.traces_of("gpu/0/util")}
    assert gpu["beta (66bbe705)"].nonfinite == 1


@pytest.mark.parametrize("x", ["step", "time", "relative"])
def test_collect_nothing_numeric(tmp_path: Path, x: series.XMode) -> None:
    """--x time once failed here with "cannot concat empty list" (its title reads the
    timestamps of the selected data, and there were none)."""
    db = tmp_path / "words.db"
    shutil_copy(FIXTURES / "trackio-0.43.0" / "toyproj-edge.db", db)
    con = sqlite3.connect(db)
    with con:
        con.execute('UPDATE metrics SET metrics = \'{"phase":"warmup","ok":true}\'')
    con.close()
    with pytest.raises(
        OutputError, match="nothing to plot: the selected runs of words have no numeric metrics"
    ):
        series.collect(resolve_sources([str(db)]), x=x)
    with pytest.raises(OutputError, match="nothing to plot: the selected runs of words have no"):
        series.collect(resolve_sources([str(db)]), x=x, system=True)
    v043 = resolve_sources([str(FIXTURES / "trackio-0.43.0" / "toyproj.db")])
    with pytest.raises(OutputError, match="nothing to plot: no numeric metric in toyproj matches"):
        series.collect(v043, x=x, metrics=["nope"])


def test_flat_and_nested_spellings_of_one_metric_are_one_series(tmp_path: Path) -> None:
    """Found by the read-side fuzz: {"eval/loss": x} in one run and {"eval": {"loss": y}}
    in another both flatten to eval/loss, and the readers failed (DuplicateError)."""
    payloads = [("A", '{"eval/loss": 0.5}'), ("B", '{"eval": {"loss": 0.4}}'), ("B", '{"x": 1}')]
    db = _edge_db(tmp_path / "both.db", [(r, r, i, p) for i, (r, p) in enumerate(payloads)])
    (files,) = resolve_sources([str(db)])
    with open_project(files) as project:
        for frame in (project.read_numeric(), numeric.read_float_series(project)):
            assert frame.get_column("eval/loss").to_list() == [0.5, 0.4, None]
    got = {(t.metric, t.run): t.y.to_list() for t in series.collect([files]).traces}
    assert got[("eval/loss", 0)] == [0.5]
    assert got[("eval/loss", 1)] == [0.4]


@pytest.mark.parametrize("flat_first", [True, False])
@pytest.mark.parametrize("python_decoded", [False, True])
def test_a_row_with_both_spellings_plots_the_flat_value_in_every_reader(
    tmp_path: Path, flat_first: bool, python_decoded: bool
) -> None:
    """Found by the read-side fuzz: one log call with {"a/b": 1.0, "a": {"b": 2.0}} gave
    2.0 in read_numeric and 1.0 in plot's reader, depending on which path decoded it (an
    earlier number-like string sends "a/b" to the Python decoder). The flat key wins,
    in either key order, in both readers, from a .db and from its parquet export."""
    both = (
        '"a/b": 1.0, "a": {"b": 2.0, "c": 3}'
        if flat_first
        else '"a": {"b": 2.0, "c": 3}, "a/b": 1.0'
    )
    first = '{"a/b": "1e3"}' if python_decoded else '{"a/b": 5.0}'
    payloads = [("A", first), ("A", "{" + both + "}")]
    db = _edge_db(tmp_path / "both.db", [(r, r, i, p) for i, (r, p) in enumerate(payloads)])
    expected = [None if python_decoded else 5.0, 1.0]
    (files,) = resolve_sources([str(db)])
    with open_project(files) as project:
        for frame in (project.read_numeric(), numeric.read_float_series(project)):
            assert frame.get_column("a/b").to_list() == expected
            assert frame.get_column("a/c").to_list() == [None, 3]
    got = {t.metric: t.y.to_list() for t in series.collect([files]).traces}
    assert got["a/b"] == [v for v in expected if v is not None]
    pq = tmp_path / "both.parquet"
    pl.DataFrame(
        {
            "id": [1, 2],
            "timestamp": ["2026-01-01T00:00:00"] * 2,
            "run_name": ["A"] * 2,
            "step": [0, 1],
            "a/b": [5.0, 1.0],
            "a": [None, {"b": 2.0, "c": 3}],
        }
    ).select(
        ["id", "timestamp", "run_name", "step", *(["a/b", "a"] if flat_first else ["a", "a/b"])]
    ).write_parquet(pq)
    (files,) = resolve_sources([str(pq)])
    with open_project(files) as project:
        for frame in (project.read_numeric(), numeric.read_float_series(project)):
            assert frame.get_column("a/b").to_list() == [5.0, 1.0]


def test_parquet_text_is_not_a_number_and_big_unsigned_ints_are(tmp_path: Path) -> None:
    """Found by the read-side fuzz: a text column that mostly spelled numbers was plotted,
    and a uint64 past 2**63 (pandas writes one for a 64-bit seed) made plot fail."""
    path = tmp_path / "p.parquet"
    pl.DataFrame(
        {
            "id": [1, 2, 3],
            "timestamp": ["2026-01-01T00:00:00"] * 3,
            "run_name": ["run"] * 3,
            "step": [0, 1, 2],
            "phase": ["3", "1e3", "inf"],
            "old_nan": [1.0, None, None],
            "loss": ["NaN", "Infinity", None],
            "seed": pl.Series([2**63 + 5, 1, 2], dtype=pl.UInt64),
            "eval": [{"loss": 0.5, "tag": "7"}] * 3,
        }
    ).write_parquet(path)
    (files,) = resolve_sources([str(path)])
    with open_project(files) as project:
        frame = numeric.read_float_series(project)
    assert set(frame.columns) - {"run_key", "step", "timestamp"} == {
        "old_nan",
        "loss",
        "seed",
        "eval/loss",
    }
    assert frame.get_column("seed").to_list() == [float(2**63 + 5), 1.0, 2.0]
    assert [str(v) for v in frame.get_column("loss").to_list()] == ["nan", "inf", "None"]


def test_timestamps_with_a_space_for_the_t() -> None:
    """Found by the read-side fuzz: a run whose timestamps read "2026-01-01 00:00:03"
    (str(datetime), a CSV brought in by trackio.import_csv) vanished from --x time."""
    from datetime import datetime

    from trackio_tool.store.series import parse_timestamps

    stamps = pl.Series(
        ["2026-01-01 00:00:03", "2026-01-01T00:00:03.5+00:00", "2026-01-01 00:00:04.25+00:00"]
    )
    assert pl.select(parse_timestamps(pl.lit(stamps))).to_series().to_list() == [
        datetime(2026, 1, 1, 0, 0, 3),
        datetime(2026, 1, 1, 0, 0, 3, 500000),
        datetime(2026, 1, 1, 0, 0, 4, 250000),
    ]


def test_parquet_text_column_with_a_pattern_name(tmp_path: Path) -> None:
    """Found by the read-side fuzz: a text metric named "^a$" in a parquet export ended
    plot in "unexpected IndexError" (polars read the name as a regex)."""
    path = tmp_path / "proj.parquet"
    pl.DataFrame(
        {
            "run_name": ["r", "r"],
            "step": [0, 1],
            "^a$": ["x", "NaN"],
            "^b$": ["y", "z"],
            "loss": [1.0, 0.5],
        }
    ).write_parquet(path)
    (files,) = resolve_sources([str(path)])
    with open_project(files) as project:
        frame = project.read_numeric()
    assert frame.get_column("loss").to_list() == [1.0, 0.5]
    values = frame.get_column("^a$").to_list()  # Trackio's "NaN" string is a number
    assert values[0] is None
    assert math.isnan(values[1])
    assert "^b$" not in frame.columns


@pytest.mark.parametrize("schema", ["trackio-0.43", "nullable"])
@pytest.mark.parametrize("timestamps", [True, False])
def test_windowed_fetch_reads_what_the_row_fetch_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schema: str, timestamps: bool
) -> None:
    """Runs alone in their rowid range are read in windows SQLite joins; a window that
    does not split back into its rows (a newline inside a payload; a NULL payload, step
    or time, which the join leaves out) and runs that interleave are read row by row.
    Same chunks as the row fetch, in log order, whichever way each window was read."""
    monkeypatch.setattr(numeric, "CHUNK_ROWS", 7)
    db = tmp_path / "toyproj.db"
    if schema == "trackio-0.43":
        db.write_bytes((FIXTURES / "trackio-0.43.0" / "toyproj.db").read_bytes())
    con = sqlite3.connect(db)
    with con:
        if schema == "nullable":  # as early trackio wrote it: no NOT NULL anywhere
            con.execute(
                "CREATE TABLE metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT,"
                " timestamp TEXT, run_name TEXT, step INTEGER, metrics TEXT)"
            )
        con.execute("DELETE FROM metrics")
        rows: list[tuple[Any, ...]] = []
        for i in range(40):  # run a alone; b and c interleaved; d alone, with odd rows
            rows.append(("a", i, {"loss": i / 3, "nested": {"x": i}}))
        for i in range(30):
            rows += [("b", i, {"loss": -i}), ("c", i, {"acc": i, "loss": "NaN"})]
        for i in range(40):
            rows.append(("d", i, {"loss": 1.5 * i}))
        out = []
        for run, step, payload in rows:
            text: str | None = json.dumps(payload)
            stamp: str | None = f"2026-01-01T00:00:{step % 60:02d}"
            if run == "d" and step == 9:
                text = json.dumps(payload, indent=1)  # newlines inside one payload
            if run == "d" and step == 18:
                # One newline inside, beside a NULL payload (step 17): the line count is
                # right, but every later value of the window would be shifted by one.
                text = '{"loss": 27.0,\n "z": 1}'

            if schema == "nullable" and run == "d":
                if step == 17:
                    text = None
                if step == 24:
                    step = None  # type: ignore[assignment]
                if step == 31:
                    stamp = None
            out.append((f"id-{run}", stamp, run, step, text))
        con.executemany(
            "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?,?,?,?,?)",
            out,
        )
    con.close()
    for files in resolve_sources([str(db)]):
        with open_project(files) as project:
            reader = project.reader
            con = reader._connect(reader._opened)
            try:
                for keys in (None, ["id-d", "id-b"]):
                    where = "" if keys is None else " WHERE +run_id IN ('id-d', 'id-b')"
                    sql = (
                        f"SELECT run_id, step, {'timestamp' if timestamps else 'NULL'},"
                        f" CAST(metrics AS BLOB) FROM metrics{where} ORDER BY id"
                    )
                    want = pl.concat(numeric._fetch(reader, con, sql, []))
                    chunks = list(
                        numeric._fetch_windows(
                            reader, con, "metrics", "run_id", keys, timestamps=timestamps
                        )
                    )
                    assert_frame_equal(pl.concat(chunks), want)
                    assert len(chunks) > 10  # many windows, not one read
            finally:
                con.close()
            got = numeric.read_float_series(project, timestamps=timestamps)
            want_numeric = project.read_numeric()
            if not timestamps:
                want_numeric = want_numeric.with_columns(pl.lit(None, pl.String).alias("timestamp"))
            assert_frame_equal(_floats(got), _floats(want_numeric))


def test_windowed_fetch_reads_one_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The windows are separate queries; a run deleted by another process between two of
    them (a `drop` while `plot` reads) must not vanish from the later windows only."""
    monkeypatch.setattr(numeric, "CHUNK_ROWS", 7)
    db = tmp_path / "toyproj.db"
    db.write_bytes((FIXTURES / "trackio-0.43.0" / "toyproj.db").read_bytes())
    writer = sqlite3.connect(db)
    assert writer.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    before = writer.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    for files in resolve_sources([str(db)]):
        with open_project(files) as project:
            reader = project.reader
            con = reader._connect(reader._opened)
            try:
                chunks = numeric._fetch_windows(
                    reader, con, "metrics", reader.run_key_column, None, timestamps=False
                )
                first = next(chunks)
                with writer:
                    writer.execute("DELETE FROM metrics")
                rest = list(chunks)
            finally:
                con.close()
    writer.close()
    assert first.height + sum(c.height for c in rest) == before > 2 * 7


def test_windowed_fetch_left_half_read_closes_quietly(tmp_path: Path) -> None:
    """A failed decode leaves the fetch generator half read; the reader closes its
    connection first, and the generator's end must not raise then (in garbage
    collection that would print "Exception ignored" on stderr)."""
    db = tmp_path / "toyproj.db"
    db.write_bytes((FIXTURES / "trackio-0.43.0" / "toyproj.db").read_bytes())
    for files in resolve_sources([str(db)]):
        with open_project(files) as project:
            reader = project.reader
            con = reader._connect(reader._opened)
            chunks = numeric._fetch_windows(
                reader, con, "metrics", reader.run_key_column, None, timestamps=False
            )
            assert next(chunks).height
            con.close()
            chunks.close()


@pytest.mark.parametrize(
    "keys",
    [
        ["a", "a", "b", "b", "b", "c"],  # one stretch per run: slices
        ["a", "b", "a", "b", "c", "c"],  # logged at the same time
        ["a", "a", "b", "a", None, None],  # a run resumed after another; a NULL key
        [],
    ],
)
def test_rows_by_run_equal_a_partition(keys: list[str | None]) -> None:
    data = pl.DataFrame({"run_key": pl.Series(keys, dtype=pl.String), "v": list(range(len(keys)))})
    got = [(k, part) for k, part in series._by_run(data)]
    want = [(k, part) for (k,), part in data.partition_by("run_key", as_dict=True).items()]
    assert [k for k, _ in got] == [k for k, _ in want]
    for (_, a), (_, b) in zip(got, want, strict=True):
        assert_frame_equal(a, b)
