"""Parquet rows packed back into Trackio's JSON, and payload fixes of SQLite rows."""

from __future__ import annotations

import math
from typing import Any

import orjson
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trackio_tool.store._decode import loads
from trackio_tool.store.rows import _BARE, MediaMove, _may_be_bare, fix_payload, pack_json


def trackio_json(row: dict[str, Any]) -> bytes:
    """``orjson.dumps(serialize_values(row))``, Trackio's own encoding (utils.py)."""

    def ser(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): ser(x) for k, x in v.items()}
        if isinstance(v, list):
            return [ser(x) for x in v]
        if isinstance(v, float) and not math.isfinite(v):
            return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
        return v

    return orjson.dumps(ser(row))


def packed(rows: list[dict[str, Any]]) -> list[bytes]:
    """Rows -> parquet-like frame (pyarrow.from_pylist, as Trackio exports) -> pack_json."""
    frame = pl.from_arrow(pa.Table.from_pylist(rows))
    assert isinstance(frame, pl.DataFrame)
    return [s.encode() for s in pack_json(frame, frame.columns).to_list()]


floats = st.floats(allow_nan=True, allow_infinity=True)
texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
KEYS = {
    "loss": floats,
    "train/acc": floats,
    "epoch": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "phase": texts,
    "flag": st.booleans(),
    "eval": st.tuples(floats, st.integers(0, 10**6)).map(lambda t: {"loss": t[0], "n": t[1]}),
    "hist": st.lists(floats, max_size=4),
    'we"ird\\key': texts,
}


@st.composite
def rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 6))
    out = []
    for i in range(n):
        # The first row has every key, so column order = Trackio's key order.
        present = list(KEYS) if i == 0 else [k for k in KEYS if draw(st.booleans())]
        out.append({k: draw(KEYS[k]) for k in present})
    return out


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows())
def test_packing_is_trackios_encoding(data: list[dict[str, Any]]) -> None:
    assert packed(data) == [trackio_json(r) for r in data]


def test_sentinel_lookalikes_take_the_general_path() -> None:
    data = [
        {"a": float("nan"), "b": 5e-324, "s": "5e-324 1e-323"},
        {"a": 1e-323, "b": float("-inf"), "s": "x"},
        {"a": 1.5e-323, "b": float("inf"), "s": "1.5e-323"},
    ]
    assert packed(data) == [trackio_json(r) for r in data]


def test_nulls_int_float_and_configs_keys() -> None:
    frame = pl.DataFrame(
        {
            "lr": [0.1, None],
            "seed": [7, None],
            "_Username": pl.Series([None, None], dtype=pl.Null),
            "_Group": [None, "g"],
        }
    )
    out = pack_json(frame, frame.columns, keep_null=lambda k: k.startswith("_")).to_list()
    assert out == [
        '{"lr":0.1,"seed":7,"_Username":null,"_Group":null}',
        '{"_Username":null,"_Group":"g"}',
    ]
    assert pack_json(frame, frame.columns).to_list() == ['{"lr":0.1,"seed":7}', '{"_Group":"g"}']


def test_media_paths_move_inside_nested_values() -> None:
    frame = pl.DataFrame(
        {
            "img": [
                {"_type": "trackio.image", "file_path": "old/run/0/a.png", "caption": None},
                {"_type": "trackio.image", "file_path": "media/old/run/0/b.png", "caption": "c"},
                {"_type": "trackio.image", "file_path": "old/other/0/c.png", "caption": None},
                {"_type": "str", "file_path": "data/run/train.csv", "caption": None},
            ],
            # top-level values follow the same rule (as the .db path does)
            "file_path": ["old/run/x", "y", "old/other/z", "w"],
        }
    )
    out = pack_json(frame, frame.columns, media_to=MediaMove("new", ("run",))).to_list()
    assert out == [
        '{"img":{"_type":"trackio.image","file_path":"new/run/0/a.png"},"file_path":"new/run/x"}',
        '{"img":{"_type":"trackio.image","file_path":"media/new/run/0/b.png","caption":"c"},"file_path":"y"}',
        # a run that is not merged: its folder is not copied, its path stays
        '{"img":{"_type":"trackio.image","file_path":"old/other/0/c.png"},"file_path":"old/other/z"}',
        # a path whose second segment happens to be a merged run's name moves: the
        # rule is by run folder, and Trackio's layout cannot tell them apart
        '{"img":{"_type":"str","file_path":"new/run/train.csv"},"file_path":"w"}',
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            b'{"loss": NaN, "g": -Infinity, "l": [1, Infinity]}',
            b'{"loss":"NaN","g":"-Infinity","l":[1,"Infinity"]}',
        ),
        (b'{"s": "a, NaN", "t": "[Infinity"}', None),  # inside strings: untouched
        (b'{"loss":"NaN"}', None),
        (b'{"a":1}', None),
        # trackio <= 0.3.2 wrote json.dumps({"loss": nan, "big": 2**70}): orjson cannot
        # write the integer (found by the write-side fuzz: the whole merge failed)
        (
            b'{"loss": NaN, "big": 1180591620717411303424}',
            b'{"loss":"NaN","big":1180591620717411303424}',
        ),
        (b'{"loss": NaN, broken', None),  # not JSON (Trackio never writes it): copied as it is
    ],
)
def test_bare_tokens(raw: bytes, expected: bytes | None) -> None:
    out = fix_payload(raw, media_to=None)
    if expected is None:
        assert out is raw
    else:
        assert out == expected
        assert math.isnan(loads(out)["loss"])


def test_payload_media_paths_both_styles() -> None:
    raw = (
        b'{"a": {"_type": "trackio.image", "file_path": "media/toyproj/gamma/0/x.png"},'
        b' "b":{"file_path":"toyproj/gamma/1/y.png"}, "c": "file_path"}'
    )
    assert fix_payload(raw, media_to=MediaMove("other", ("gamma",))) == (
        b'{"a": {"_type": "trackio.image", "file_path": "media/other/gamma/0/x.png"},'
        b' "b":{"file_path":"other/gamma/1/y.png"}, "c": "file_path"}'
    )


@pytest.mark.parametrize(
    "raw",
    [
        # a user's own file_path values (a config, a logged string): not media
        b'{"file_path": "data/train.csv", "lr": 0.1}',
        b'{"dataset": {"file_path": "corpora/wiki/part-0.jsonl"}}',
        # media of a run that is not merged, and of a run whose name only starts alike
        b'{"img": {"_type": "trackio.image", "file_path": "toyproj/beta/0/x.png"}}',
        b'{"img": {"_type": "trackio.image", "file_path": "toyproj/gamma2/0/x.png"}}',
    ],
)
def test_paths_outside_the_merged_runs_media_are_data(raw: bytes) -> None:
    """Merge rewrote every ``"file_path": "a/b..."`` to ``<target>/b...``: a config's
    ``{"file_path": "data/train.csv"}`` came out as ``other/train.csv``."""
    assert fix_payload(raw, media_to=MediaMove("other", ("gamma",))) is raw


@pytest.mark.parametrize("nulls", [False, True])
def test_a_parquet_and_a_db_source_move_the_same_paths(nulls: bool) -> None:
    """A top-level ``file_path`` moved when merged from a .db but not from its parquet
    export (found by the write-side fuzz). ``nulls``: the column takes the general
    path instead of polars' JSON writer."""
    move = MediaMove("tgt", ("alpha",))
    values = ["src/alpha/0/top.png", "data/train.csv"] + ([None] if nulls else [])
    frame = pl.DataFrame({"loss": [1.0] * len(values), "file_path": values})
    packed = pack_json(frame, frame.columns, media_to=move).to_list()
    for row, text in zip(frame.iter_rows(named=True), packed, strict=True):
        as_db = orjson.dumps({k: v for k, v in row.items() if v is not None})
        assert text.encode() == fix_payload(as_db, media_to=move)
    assert orjson.loads(packed[0])["file_path"] == "tgt/alpha/0/top.png"


def test_a_key_that_only_ends_in_file_path_is_data() -> None:
    """The key 'q"file_path' is ``"q\\"file_path"`` in JSON: its value was moved."""
    raw = orjson.dumps({'q"file_path': "src/alpha/notes.txt", "a": {"file_path": "p/alpha/x"}})
    assert fix_payload(raw, media_to=MediaMove("t", ("alpha",))) == orjson.dumps(
        {'q"file_path': "src/alpha/notes.txt", "a": {"file_path": "t/alpha/x"}}
    )


def test_media_paths_of_names_with_escapes_move() -> None:
    """Run names as orjson and as json.dumps (Trackio <= 0.4) spell them in JSON."""
    move = MediaMove("t$1", ("café", 'say "hi"'))
    raw = (
        b'{"a": {"file_path": "p/caf\\u00e9/0/x.png"}, "b": {"file_path": "p/caf\xc3\xa9/0/y.png"},'
        b' "c": {"file_path": "media/p/say \\"hi\\"/1/z.png"}}'
    )
    assert fix_payload(raw, media_to=move) == (
        b'{"a": {"file_path": "t$1/caf\\u00e9/0/x.png"}, "b": {"file_path": "t$1/caf\xc3\xa9/0/y.png"},'
        b' "c": {"file_path": "media/t$1/say \\"hi\\"/1/z.png"}}'
    )
    text = pl.Series([raw.decode()])
    assert pl.select(move.json_expr(pl.lit(text))).to_series().to_list() == [
        fix_payload(raw, media_to=move).decode()
    ]


def test_keys_that_look_like_patterns_are_packed() -> None:
    """Keys ``*`` or ``^a$``, top-level or nested, are names, not column patterns
    (polars panicked on a nested ``*``; ``pl.col("^a$")`` would pick column ``a``)."""
    rows = [
        {"a": 0, "*": 1, "^a$": 2.5, "m": {"*": 1.5, "^a$": 2, "b": {"*": "x"}}},
        {"a": 9, "*": 3, "^a$": None, "m": {"*": 3.0, "^a$": 4, "b": {"*": "y"}}},
    ]
    want = [trackio_json({k: v for k, v in r.items() if v is not None}) for r in rows]
    assert packed(rows) == want


def test_rows_without_values_pack_to_empty_objects() -> None:
    """An export with only structural columns gave one "{}" for the whole frame
    (a literal), and the merge failed with a ShapeError (bad-input fuzz)."""
    frame = pl.DataFrame({"a": [1, 2, 3]})
    assert pack_json(frame, []).to_list() == ["{}", "{}", "{}"]


_TOKENS = ["NaN", "Infinity", '"', "-", " ", "\n", ":", ",", "[", "a", "N", "I", "nfinity", "x"]


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_TOKENS), max_size=14))
def test_only_payloads_the_find_precheck_passes_can_hold_bare_tokens(parts: list[str]) -> None:
    """``_may_be_bare`` (bytes.find, before the regex) never skips a payload that
    ``_BARE`` matches: "NaNaN", "-NaN", ": Infinity", tokens at the very start."""
    raw = "".join(parts).encode()
    assert _may_be_bare(raw) or _BARE.search(raw) is None


def test_a_wide_payload_of_quoted_tokens_is_left_as_it_is() -> None:
    """2,000 keys, Trackio's "NaN"/"Infinity"/"-Infinity" strings among them: the same
    object back; one bare token at the end still gets quoted."""
    row: dict[str, Any] = {f"layers/{i // 40}/mlp/s{i % 40}": i / 3 for i in range(2000)}
    for i, token in enumerate(("NaN", "Infinity", "-Infinity") * 10):
        row[f"layers/{i}/attn/max"] = token
    raw = orjson.dumps(row)
    assert fix_payload(raw, media_to=None) is raw
    bare = raw[:-1] + b',"last":-Infinity}'
    assert fix_payload(bare, media_to=None) == orjson.dumps(dict(row, last="-Infinity"))
