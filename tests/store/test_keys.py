"""Per-run metric keys: the learn-then-certify scanner gives exactly the keys every row holds."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import FIXTURES
from tests.store.test_decode import STYLES, encode, keys, leaf, nested
from trackio_tool.store import _decode, sqlite

rows_strategy = st.lists(
    st.dictionaries(keys, st.one_of(leaf, nested, st.lists(leaf, max_size=3)), max_size=5),
    min_size=1,
    max_size=12,
)


def _want(runs: list[str], rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(run, k) for run, row in zip(runs, rows, strict=True) for k in row}


@pytest.fixture(autouse=True)
def small_head(monkeypatch: pytest.MonkeyPatch) -> None:
    # Learn from one row only, so certification and re-learning do the work.
    monkeypatch.setattr(_decode, "_HEAD_ROWS", 1)


@settings(max_examples=200, deadline=None)
@given(rows=rows_strategy, style=STYLES, split=st.integers(1, 6))
def test_scanner_rows_are_exact(rows: list[dict[str, Any]], style: str, split: int) -> None:
    runs = [f"r{i % 2}" for i in range(len(rows))]
    frame = pl.DataFrame({"run_key": runs, "t": [encode(r, style).decode() for r in rows]})
    scanner = _decode.KeyScanner()
    for start in range(0, frame.height, split):
        scanner.feed(frame.slice(start, split))
    assert set(scanner.pairs().iter_rows()) == _want(runs, rows)


@settings(max_examples=200, deadline=None)
@given(
    rows=rows_strategy,
    style=STYLES,
    damaged=st.lists(
        st.sampled_from([b"", b"not json", b"\xff\xfe", b"[1, 2]", b"null", b'{"a": 1', None]),
        max_size=3,
    ),
)
def test_parsed_keys_skip_and_count_what_cannot_be_read(
    rows: list[dict[str, Any]], style: str, damaged: list[bytes | None]
) -> None:
    """Damaged payloads hold no keys; those that are not JSON (or not UTF-8) are counted
    as invalid; JSON that is not an object, or no payload at all, is not."""
    payloads: list[bytes | None] = [encode(r, style) for r in rows] + damaged
    runs = [f"r{i % 3}" if i % 4 else None for i in range(len(payloads))]
    before = _decode.invalid_payloads()
    found = _decode.parsed_keys(list(zip(runs, payloads, strict=True)))
    got = set(_decode.pairs_frame(found).iter_rows())
    assert got == {(run, k) for run, row in zip(runs, rows, strict=False) for k in row}
    invalid = [d for d in damaged if d not in (b"[1, 2]", b"null", None)]
    assert _decode.invalid_payloads() - before == len(invalid)


@settings(max_examples=200, deadline=None)
@given(rows=rows_strategy, style=STYLES, learn=st.integers(0, 3))
def test_scanner_blob_is_exact(rows: list[dict[str, Any]], style: str, learn: int) -> None:
    """Joined payloads: one match proves the known keys, else rows are read."""
    payloads = [encode(r, style) for r in rows]
    scanner = _decode.KeyScanner()
    head = pl.Series([p.decode() for p in payloads[:learn]], dtype=pl.String)
    scanner.feed(pl.DataFrame({"run_key": ["r"] * len(head), "t": head}))
    assert scanner.feed_blob("r", b"\n".join(payloads), len(payloads))
    assert set(scanner.pairs().iter_rows()) == _want(["r"] * len(rows), rows)


@pytest.mark.parametrize("ascii_only", [False, True])
def test_member_pattern_refuses_what_it_cannot_vouch_for(ascii_only: bool) -> None:
    pattern = _decode.member_pattern(["a", "b"], ascii_only=ascii_only)
    ok = ['{"a":1}', '{"a" : 1, "b": "NaN"}', '{"b":{"x":1,"a":[1,2]}}', '{"a":[1,"x"]}', "{}"]
    refused = [
        '{"a":1,"c":2}',  # another key
        '{"a":{"c":{"d":1}}}',  # deeper nesting: unproven
        '{"a":"x\\"","c":1}',  # an escaped quote could hide a key
        '{"b":1}\n{"c":1}',  # two objects
        '{"a":1,"b":2,"c":{}}',  # another key, last
    ]
    got = pl.Series(ok + refused).str.contains(pattern).to_list()
    assert got == [True] * len(ok) + [False] * len(refused)
    assert (
        pl.Series(['{"a":1}\n{"b":2}'])
        .str.contains(_decode.member_pattern(["a", "b"], lines=True, ascii_only=ascii_only))
        .item()
    )


def test_ascii_pattern_is_a_faster_subset_and_non_ascii_rows_still_pass() -> None:
    """The ASCII-only pattern refuses non-ASCII strings; the full one takes them, so a
    window of such rows is still certified in one match, not read row by row."""
    rows = ['{"a":"café"}', '{"b":{"x":"日本"}}', '{"a":["ü",1]}']
    texts = pl.Series(rows)
    fast = texts.str.contains(_decode.member_pattern(["a", "b"], ascii_only=True))
    full = texts.str.contains(_decode.member_pattern(["a", "b"]))
    assert fast.to_list() == [False] * 3
    assert full.to_list() == [True] * 3
    assert _decode._certified(texts, {"a", "b"}).to_list() == [True] * 3
    ascii_rows = pl.Series(['{"a":1,"b":"x y"}', '{"a":{"q":[1,"z"]}}'])
    assert _decode._certified(ascii_rows, {"a", "b"}).to_list() == [True, True]
    assert _decode._certified(pl.Series(['{"a":1,"c":"é"}']), {"a"}).to_list() == [False]

    scanner = _decode.KeyScanner()
    scanner.feed(pl.DataFrame({"run_key": ["r"], "t": ['{"a":1,"b":2}']}))
    blob = "\n".join(rows).encode()
    assert scanner.feed_blob("r", blob, len(rows))
    assert set(scanner.pairs().iter_rows()) == {("r", "a"), ("r", "b")}
    assert scanner.feed_blob("r", blob + '\n{"cé":1}'.encode(), len(rows) + 1)
    assert set(scanner.pairs().iter_rows()) == {("r", "a"), ("r", "b"), ("r", "cé")}


def test_blob_with_a_newline_inside_a_payload_is_refused() -> None:
    scanner = _decode.KeyScanner()
    pretty = json.dumps({"a": 1, "z": 2}, indent=1).encode()
    assert not scanner.feed_blob("r", b'{"a":1}\n' + pretty, 2)


# -- against a database: contiguous runs (windows) and interleaved runs (rows) ----------


def _db(tmp_path: Path, order: str, *, indexed: bool = True) -> tuple[Path, set[tuple[str, str]]]:
    db = tmp_path / f"{order}.db"
    shutil.copyfile(FIXTURES / "trackio-0.43.0" / "toyproj-edge.db", db)
    want: set[tuple[str, str]] = set()
    rows = []
    for run in range(3):
        for i in range(400):
            m: dict[str, Any] = {"loss": i, f"r{run}": 1}
            if i == 333:
                m["late key"] = 1  # seen once, in a late window
            if i % 50 == 0:
                m["eval"] = {"acc": 0.5, "deep": {"x": [1, [2]]}}
            if i == 77:
                m['q"uo\\te'] = "x"
            raw = json.dumps(m, indent=1) if i == 200 else json.dumps(m)  # a payload with newlines
            rows.append((i, run, raw.encode()))
            want |= {(f"id{run}", k) for k in m}
    if order == "interleaved":
        rows.sort(key=lambda r: (r[0], r[1]))
    elif order == "overlapping":  # run 1 starts before run 0 ends, run 2 stands alone
        rows.sort(key=lambda r: (r[1] == 2, r[0] + 300 * r[1], r[1]))
    con = sqlite3.connect(db)
    with con:
        con.execute("DELETE FROM metrics")
        if not indexed:  # as files written before trackio indexed run_id
            for (name,) in con.execute(
                "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='metrics'"
                " AND sql IS NOT NULL"
            ).fetchall():
                con.execute(f'DROP INDEX "{name}"')
        con.executemany(
            "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?,?,?,?,?)",
            [(f"id{run}", "2026-01-01T00:00:00", f"run{run}", i, raw) for i, run, raw in rows],
        )
    con.close()
    return db, want


@pytest.mark.parametrize("keys", ["windows", "one-pass"])
@pytest.mark.parametrize("indexed", [True, False], ids=["indexed", "no-index"])
@pytest.mark.parametrize("order", ["contiguous", "interleaved", "overlapping"])
def test_metric_keys_from_database_are_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, order: str, indexed: bool, keys: str
) -> None:
    """Windows of one run, runs read through their index, rows read with their run key;
    and the one pass of a small table."""
    monkeypatch.setattr(sqlite, "SMALL_TABLE_ROWS", 0 if keys == "windows" else 10**9)
    monkeypatch.setattr(sqlite, "WINDOW_BYTES", 2000)
    monkeypatch.setattr(sqlite, "CHUNK_ROWS", 64)
    db, want = _db(tmp_path, order, indexed=indexed)
    with sqlite.SqliteReader(db) as reader:
        groups = reader._run_groups(reader.con, "metrics", "run_id")
        sizes = {"contiguous": [1, 1, 1], "interleaved": [3], "overlapping": [2, 1]}
        assert [len(g) for g in groups] == sizes[order]
        assert set(reader.metric_keys().iter_rows()) == want
        picked = reader.metric_keys(["id1"])
        assert set(picked.iter_rows()) == {p for p in want if p[0] == "id1"}


@pytest.mark.parametrize("small", [0, 10**9], ids=["windows", "one-pass"])
def test_a_cancelled_scan_reads_no_more_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small: int
) -> None:
    """Ctrl-C during analyze cancels the key scan running on other threads."""
    monkeypatch.setattr(sqlite, "SMALL_TABLE_ROWS", small)
    db, want = _db(tmp_path, "contiguous")
    with sqlite.SqliteReader(db) as reader:
        assert set(reader.metric_keys().iter_rows()) == want
        reader.cancel()
        assert reader.metric_keys().is_empty()


@pytest.mark.skipif(
    not hasattr(sqlite3.Connection, "setlimit"), reason="Connection.setlimit needs Python 3.11"
)
def test_a_window_past_sqlites_length_limit_is_halved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows are sized from a run's first rows. A run whose later rows are far larger
    (a table logged every step after a warm-up) once made a window past SQLite's
    string limit (1 GB by default), and analyze failed with "string or blob too big".
    Here the limit is 64 KB and the large rows are 4 KB."""
    db = tmp_path / "grows.db"
    shutil.copy(FIXTURES / "trackio-0.43.0" / "toyproj.db", db)
    small = b'{"loss": 0.5}'
    cells = ",".join(f'{{"i": {i}, "text": "{"x" * 30}"}}' for i in range(100))
    big = f'{{"loss": 0.5, "preds": {{"_type": "trackio.table", "_value": [{cells}]}}}}'.encode()
    con = sqlite3.connect(db)
    with con:
        con.execute("DELETE FROM metrics")
        con.executemany(
            "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?,?,?,?,?)",
            [("rid", "2026-01-01T00:00:00", "A", i, small if i < 300 else big) for i in range(600)],
        )
        con.execute(
            "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?,?,?,?,?)",
            ("rid", "2026-01-01T00:00:00", "A", 600, b'{"loss": 0.5, "late": 1}'),
        )
    con.close()
    monkeypatch.setattr(sqlite, "WINDOW_BYTES", 4096)  # windows of ~300 rows from the head
    monkeypatch.setattr(sqlite, "SMALL_TABLE_ROWS", 0)

    connect = sqlite.SqliteReader._connect

    def limited(self: sqlite.SqliteReader, path: Path) -> sqlite3.Connection:
        con = connect(self, path)
        con.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 64 << 10)
        return con

    monkeypatch.setattr(sqlite.SqliteReader, "_connect", limited)
    with sqlite.SqliteReader(db) as reader:
        got = set(reader.metric_keys().iter_rows())
    assert got == {("rid", "loss"), ("rid", "preds"), ("rid", "late")}


# -- wide runs: thousands of keys ------------------------------------------------------

STATS = (
    "grad_norm weight_norm act_mean act_std update_ratio grad_max weight_max act_max sparsity rank"
)
LAYER_KEYS = [
    f"layers/{layer}/{module}/{stat}"
    for layer in range(75)
    for module in ("attn", "mlp", "ln1", "ln2")
    for stat in STATS.split()
]


@settings(max_examples=200, deadline=None)
@given(
    words=st.sets(st.text(st.sampled_from("ab/1é"), max_size=6), min_size=1, max_size=12),
    probe=st.text(st.sampled_from("ab/1é"), max_size=7),
)
def test_names_regex_matches_exactly_its_keys(words: set[str], probe: str) -> None:
    pattern = f"^(?:{_decode.names_regex(words)})$"
    for text in [*words, probe]:
        assert pl.Series([text]).str.contains(pattern).item() == (text in words), text


def test_thousands_of_structured_keys_make_a_small_pattern() -> None:
    """3,000 per-layer keys once made a 280 KB alternation, which polars' regex engine
    ran at ~10 MB/s instead of ~400 (analyze of 5 runs x 2,000 steps x 2,000 keys:
    48 s, against 13 s for a json.loads loop). Factored, it is a few hundred bytes."""
    assert len(LAYER_KEYS) == 3000
    assert len(_decode.member_pattern(LAYER_KEYS, lines=True)) < 5000
    row = json.dumps(dict.fromkeys(LAYER_KEYS, 0.5), separators=(",", ":"))
    texts = pl.Series([row, row.replace('"layers/7/mlp/rank"', '"layers/7/mlp/rank2"')])
    assert _decode._certified(texts, set(LAYER_KEYS)) is not None
    assert _decode._certified(texts, set(LAYER_KEYS)).to_list() == [True, False]


@pytest.mark.parametrize("kind", ["structured", "unrelated"])
def test_wide_runs_keys_are_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """3,000 keys x 20 rows, read in windows: structured keys are certified by one
    factored pattern; 3,000 unrelated keys (too large a regex to run fast) are read
    exactly. A key logged once, late, is found either way."""
    monkeypatch.setattr(sqlite, "SMALL_TABLE_ROWS", 0)
    monkeypatch.setattr(sqlite, "WINDOW_BYTES", 200_000)
    names = (
        LAYER_KEYS if kind == "structured" else [f"{i * 7919 % 10007:x}-{i}" for i in range(3000)]
    )
    db = tmp_path / "wide.db"
    shutil.copyfile(FIXTURES / "trackio-0.43.0" / "toyproj.db", db)
    con = sqlite3.connect(db)
    with con:
        con.execute("DELETE FROM metrics")
        for run in ("a", "b"):
            con.executemany(
                "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?,?,?,?,?)",
                [
                    (
                        run,
                        "2026-01-01T00:00:00",
                        run,
                        i,
                        json.dumps(
                            dict.fromkeys(names, i)
                            | ({"late": 1} if i == 17 and run == "b" else {})
                        ),
                    )
                    for i in range(20)
                ],
            )
    con.close()
    with sqlite.SqliteReader(db) as reader:
        got = set(reader.metric_keys().iter_rows())
    assert got == {(r, k) for r in ("a", "b") for k in names} | {("b", "late")}


def _many_runs_db(tmp_path: Path, runs: int, rows: int) -> tuple[Path, set[tuple[str, str]]]:
    db = tmp_path / "many.db"
    shutil.copyfile(FIXTURES / "trackio-0.43.0" / "toyproj.db", db)
    want: set[tuple[str, str]] = set()
    data = []
    for run in range(runs):
        for i in range(rows):
            m = {"loss": 0.5, f"only/{run}": 1} if i == rows - 1 else {"loss": 0.5}
            data.append((f"id{run}", "2026-01-01T00:00:00", f"run{run % 3}", i, json.dumps(m)))
            want |= {(f"id{run}", k) for k in m}
    con = sqlite3.connect(db)
    with con:
        con.execute("DELETE FROM metrics")
        con.executemany(
            "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?,?,?,?,?)",
            data,
        )
    con.close()
    return db, want


def test_many_short_runs_are_read_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """1,000 runs of a few rows each: each run was planned and read on its own (~7 ms of
    polars calls per run, 7.7 s for 1,000 runs x 200 rows); they are now read together,
    still exactly, and a run left out by --run is not read."""
    monkeypatch.setattr(sqlite, "SMALL_TABLE_ROWS", 0)
    monkeypatch.setattr(sqlite, "SMALL_BATCH_ROWS", 700)  # several batches
    monkeypatch.setattr(sqlite, "WINDOW_BYTES", 5000)  # several pieces per batch
    db, want = _many_runs_db(tmp_path, 1000, 3)
    with sqlite.SqliteReader(db) as reader:
        start = time.perf_counter()
        assert set(reader.metric_keys().iter_rows()) == want
        assert time.perf_counter() - start < 2.5  # 7-8 s before
        picked = ["id5", "id6", "id8", "id999"]
        got = set(reader.metric_keys(picked).iter_rows())
        assert got == {p for p in want if p[0] in picked}


def test_windows_with_null_payloads_are_read_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A joined window counts its rows with COUNT(*), which a NULL payload (left out of
    the join) makes disagree with the blob's lines: such windows, and windows of NULLs
    only, must still give exactly the keys of their other rows."""
    monkeypatch.setattr(sqlite, "SMALL_TABLE_ROWS", 0)
    monkeypatch.setattr(sqlite, "WINDOW_BYTES", 2000)
    db = tmp_path / "nulls.db"
    con = sqlite3.connect(db)
    with con:
        con.execute(
            "CREATE TABLE metrics (id INTEGER PRIMARY KEY, run_id TEXT, timestamp TEXT,"
            " run_name TEXT, step INTEGER, metrics TEXT)"
        )
        rows = []
        for i in range(600):
            payload: str | None = json.dumps({"loss": i, **({"late": 1} if i == 333 else {})})
            if 100 <= i < 300 or i % 7 == 0:  # whole windows of NULLs, and NULLs among rows
                payload = None
            rows.append(("rid", "2026-01-01T00:00:00", "A", i, payload))
        con.executemany(
            "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?,?,?,?,?)",
            rows,
        )
    con.close()
    with sqlite.SqliteReader(db) as reader:
        assert sorted(reader.metric_keys().iter_rows()) == [("rid", "late"), ("rid", "loss")]
