"""Property tests: every way Trackio ever encoded a metrics payload decodes to the logged values."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from trackio_tool.store import _decode

# Keys as users write them, plus the characters that break naive parsers.
keys = st.one_of(
    st.sampled_from(
        [
            "loss",
            "acc",
            "train/lr",
            "eval",
            "a:b",
            'q"uote',
            "back\\slash",
            "{brace}",
            "ünï",
            "x,y",
            "",
            "run_key",  # names of our own internal columns
            "_x",
            "\x00row",
        ]
    ),
    st.text(min_size=1, max_size=8),
)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
special = st.sampled_from([math.nan, math.inf, -math.inf])
ints = st.one_of(st.integers(-(2**63) + 1, 2**63 - 1), st.just(2**53 + 1), st.just(-(2**53) - 1))
numbers = st.one_of(finite, special, ints)
# A logged *string* "NaN"/"Infinity"/"-Infinity" reads back as the float, as in
# trackio itself (deserialize_values cannot tell it from its own encoding).
text_leaf = st.text(max_size=6).filter(lambda s: s not in ("NaN", "Infinity", "-Infinity"))
leaf = st.one_of(numbers, text_leaf, st.booleans())
nested = st.recursive(
    st.dictionaries(keys, numbers, max_size=3),
    lambda children: st.dictionaries(keys, st.one_of(numbers, children), max_size=3),
    max_leaves=6,
)


def serialize_values(value: Any, *, nested_too: bool) -> Any:
    """Trackio's serializer: non-finite floats -> strings (top level only before 0.24)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict) and nested_too:
        return {k: serialize_values(v, nested_too=True) for k, v in value.items()}
    return value


def encode(row: dict[str, Any], style: str) -> bytes:
    if style == "json-bare":  # <= 0.3.2: json.dumps, bare NaN/Infinity tokens, TEXT
        return json.dumps(row).encode()
    if style == "json-top-strings":  # 0.3.3-0.4.x: top-level strings, nested bare tokens
        return json.dumps(
            {k: serialize_values(v, nested_too=False) for k, v in row.items()}
        ).encode()
    if style == "orjson-strings":  # 0.24+: orjson, strings at any depth, BLOB
        return orjson.dumps({k: serialize_values(v, nested_too=True) for k, v in row.items()})
    raise AssertionError(style)


STYLES = st.sampled_from(["json-bare", "json-top-strings", "orjson-strings"])


def numeric_leaves(value: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(numeric_leaves(v, (*path, k)))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[path] = value
    return out


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return (a == b and type(a) is type(b)) or (
        isinstance(a, float) and isinstance(b, float) and a == b
    )


@settings(max_examples=300, deadline=None)
@given(row=st.dictionaries(keys, st.one_of(leaf, nested), max_size=5), style=STYLES)
def test_loads_matches_logged_values(row: dict[str, Any], style: str) -> None:
    """The exact (reference) decoder restores NaN/inf at any depth and keeps ints exact."""
    decoded = _decode.loads(encode(row, style))
    assert decoded.keys() == row.keys()
    want, got = numeric_leaves(row), numeric_leaves(decoded)
    assert want.keys() == got.keys()
    for k in want:
        assert same(got[k], want[k]) or (isinstance(want[k], int) and got[k] == want[k]), (
            k,
            got[k],
            want[k],
        )


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.dictionaries(keys, st.one_of(leaf, nested), max_size=5), min_size=1, max_size=6
    ),
    style=STYLES,
)
def test_parsed_keys_are_exact(rows: list[dict[str, Any]], style: str) -> None:
    """Keys found per run are exactly the top-level keys, whatever the nesting or escaping."""
    payloads = [(f"r{i % 2}", encode(r, style)) for i, r in enumerate(rows)]
    got = set(_decode.pairs_frame(_decode.parsed_keys(payloads)).iter_rows())
    want = {(f"r{i % 2}", k) for i, row in enumerate(rows) for k in row}
    assert got == want


# Rows that share a per-key shape, as a real run does: each key keeps its type.
def typed_rows() -> st.SearchStrategy[list[dict[str, Any]]]:
    shapes = st.dictionaries(
        keys,
        st.sampled_from(["float", "int", "str", "nested"]),
        min_size=1,
        max_size=5,
    )

    def build(shape: dict[str, str]) -> st.SearchStrategy[list[dict[str, Any]]]:
        value = {
            "float": st.one_of(finite, special),
            "int": ints,
            "str": st.text(max_size=5),
            "nested": st.fixed_dictionaries({"loss": st.one_of(finite, special), "n": ints}),
        }
        row = st.fixed_dictionaries({}, optional={k: value[t] for k, t in shape.items()})
        return st.lists(row, min_size=1, max_size=8)

    return shapes.flatmap(build)


@settings(max_examples=200, deadline=None)
@given(rows=typed_rows(), style=st.sampled_from(["json-bare", "orjson-strings"]))
def test_vectorised_decode_matches_reference(rows: list[dict[str, Any]], style: str) -> None:
    """decode_payloads + flatten_numeric give every numeric leaf, NaN/inf kept, ints exact."""
    texts = pl.Series("t", [encode(r, style) for r in rows], dtype=pl.Binary)
    flat = _decode.flatten_numeric(_decode.decode_payloads(texts))
    for i, row in enumerate(rows):
        for path, want in numeric_leaves(row).items():
            name = "/".join(path)
            if "" in path:
                continue  # polars cannot name a column "" (documented in decode_payloads)
            assert name in flat.columns, (name, flat.columns)
            got = flat.get_column(name)[i]
            if isinstance(want, float) and math.isnan(want):
                assert got is not None
                assert math.isnan(got)
            elif isinstance(want, float) and abs(want) >= 2**53 and isinstance(got, int):
                # polars prints an integral float without its ".0", so a huge
                # integral float can come back as the nearest decimal integer.
                assert math.isclose(got, want, rel_tol=1e-15), (name, got, want)
            else:
                assert got == want, (name, got, want)


def test_big_int_is_exact() -> None:
    texts = pl.Series("t", [b'{"big":9007199254740993}', b'{"big":1}'])
    flat = _decode.flatten_numeric(_decode.decode_payloads(texts))
    assert flat.schema["big"] == pl.Int64
    assert flat.get_column("big").to_list() == [2**53 + 1, 1]


def test_media_tables_strings_are_not_numeric() -> None:
    texts = pl.Series(
        "t",
        [
            '{"img":{"_type":"trackio.image","file_path":"p/r/0/x.png","caption":null},'
            '"phase":"warmup","loss":"NaN","ok":true,"tab":{"_type":"trackio.table","_value":[{"a":1}]}}',
            '{"phase":"main","loss":0.5}',
        ],
    )
    flat = _decode.flatten_numeric(_decode.decode_payloads(texts))
    assert flat.columns == ["loss"]
    assert math.isnan(flat.get_column("loss")[0])
    assert flat.get_column("loss")[1] == 0.5


def test_a_key_after_a_string_value_is_not_misread() -> None:
    """Found by hypothesis: in {"loss": "NaN", ":": 1} a key regex read '", "' as a key."""
    rows = ['{"loss": "NaN", ":": 9007199254740993}', '{"a": "x,", ":": 1}']
    got = set(
        _decode.pairs_frame(_decode.parsed_keys([("r", rows[0]), ("r", rows[1])])).iter_rows()
    )
    assert got == {("r", "loss"), ("r", ":"), ("r", "a")}
    assert set(_decode.decode_payloads(pl.Series(rows)).columns) == {"loss", ":", "a"}
