"""Trackio's JSON payloads, decoded the way every version wrote them (TRACKIO_FORMATS.md §4).

Rules: payloads are TEXT or BLOB; non-finite floats are bare ``NaN``/``Infinity``
tokens (<= 0.4) or the strings ``"NaN"``/``"Infinity"``/``"-Infinity"`` (0.3.3+,
at any depth since 0.24); nested dicts stay nested; integers are exact (2**53+1
survives).

The vectorised path decodes every leaf as *text* with polars' JSON decoder and
types it afterwards, so one schema copes with ints, floats, the NaN strings and
huge integers alike. Only rows whose shape the fast path cannot vouch for
(nested values, escaped characters) go through Python's parser, and only to
learn their keys and nested schema.
"""

from __future__ import annotations

import functools
import json
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson
import polars as pl

NONFINITE: dict[str, float] = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
# Quote bare tokens (json.dumps of trackio <= 0.4) so strict decoders accept them;
# trackio's own "NaN" strings are preceded by a quote and left alone.
_BARE_TOKEN = r"([:\[,]\s*)(-?(?:NaN|Infinity))"
# A whole member (key and value) of a row ``flat_mask`` vouches for: matched left to
# right, each match ends after its value, so the next starts at a real key (a key
# regex alone is fooled by {"a": "x,", ":": 1}, where ", " looks like a key).
_FLAT_MEMBER_TOKEN = r'"[^"\\]*"\s*:\s*(?:"[^"\\]*"|[^,}\s"]+)'
_MEMBER_KEY = r'^"([^"\\]*)"'
_INT_TEXT = r"^-?[0-9]+$"
# A JSON string value that a Float64 cast may read ("3", ".5", "1e3", "inf", "nan",
# or one that starts with an escape: "\u0033" is "3"; it also finds trackio's
# "NaN"/"Infinity"/"-Infinity").
NUMBER_LIKE_STRING = r'[:\[,][ \t\n\r]*"(?:[-+.0-9\\]|(?i:inf|nan))'


# Numeric frames hold metric columns beside run_key/step/timestamp (and plot's
# _x): a metric spelled like one of those, or starting with NUL, gets one NUL
# in front, which metric_name takes off again (injective: nothing is lost).
INTERNAL_COLUMNS = frozenset({"run_key", "step", "timestamp", "_x"})


def metric_column(name: str) -> str:
    return "\x00" + name if name.startswith("\x00") or name in INTERNAL_COLUMNS else name


def metric_name(column: str) -> str:
    return column[1:] if column.startswith("\x00") else column


def escape_metrics(frame: pl.DataFrame, *, keep: Iterable[str] = ()) -> pl.DataFrame:
    """``frame`` with every column name but ``keep`` through ``metric_column``."""
    kept = set(keep)
    renames = {
        c: metric_column(c) for c in frame.columns if c not in kept and metric_column(c) != c
    }
    return frame.rename(renames) if renames else frame


def map_nonfinite(value: Any) -> Any:
    """Replace trackio's "NaN"/"Infinity"/"-Infinity" strings by floats, at any depth."""
    if isinstance(value, str):
        return NONFINITE.get(value, value)
    if isinstance(value, dict):
        return {k: map_nonfinite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [map_nonfinite(v) for v in value]
    return value


def _parse(raw: bytes | str) -> Any:
    """One payload as JSON, trackio's non-finite strings left as they are; ValueError
    if it is not JSON (or not UTF-8)."""
    try:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            # Bare NaN/Infinity tokens (trackio <= 0.4): the stdlib parser accepts them.
            return json.loads(raw)
    except RecursionError as exc:  # '[' * 50000: no Trackio payload nests like that
        raise ValueError("payload nested too deeply") from exc


def loads(raw: bytes | str | None) -> Any:
    """Decode one payload exactly (reference implementation and slow path)."""
    return None if raw is None else map_nonfinite(_parse(raw))


# Payloads that cannot be read (not JSON, not UTF-8, a number polars cannot hold,
# not an object).
# Trackio never writes one, but a damaged or hand-edited file may hold some: they
# are read as empty (the row still counts), and plot says how many it met.
_invalid = [0]
_invalid_lock = threading.Lock()


def invalid_payloads() -> int:
    """How many invalid payloads this process has read as empty so far."""
    return _invalid[0]


def _count_invalid(n: int = 1) -> None:
    with _invalid_lock:
        _invalid[0] += n


def loads_or_none(raw: bytes | str | None) -> Any:
    """``loads``, with an invalid payload read as None (and counted)."""
    try:
        return loads(raw)
    except ValueError:  # orjson's and json's decode errors, bad UTF-8
        _count_invalid()
        return None


def parsed_keys(rows: Sequence[tuple[Any, bytes | str | None]]) -> dict[str | None, set[str]]:
    """Run key (as text) -> the top-level JSON keys it logged in ``(run key, payload)``
    rows (TEXT or BLOB payloads; invalid ones are counted).

    Each payload is parsed by orjson: ~170 MB/s on 20-key and 2,000-key rows alike,
    ~3x (wide rows ~2x) the polars pass it replaces (a flat-row regex extracting the
    keys, the rest parsed one by one)."""
    known: dict[str | None, set[str]] = {}
    invalid = 0
    for run, raw in rows:
        if raw is None:
            continue
        try:
            value = _parse(raw)
        except ValueError:
            invalid += 1
            continue
        if isinstance(value, dict):
            known.setdefault(None if run is None else str(run), set()).update(value)
    if invalid:
        _count_invalid(invalid)
    return known


def pairs_frame(known: Mapping[str | None, Iterable[str]]) -> pl.DataFrame:
    """Run key -> keys as distinct ``(run_key, metric)`` rows."""
    return pl.DataFrame(
        {
            "run_key": [r for r, ks in known.items() for _ in ks],
            "metric": [k for ks in known.values() for k in ks],
        },
        schema={"run_key": pl.String, "metric": pl.String},
    )


def payload_text(raw: pl.Series) -> pl.Series:
    """Payloads (Binary or String) as String; one that is not UTF-8 becomes null (counted)."""
    try:
        return raw.cast(pl.String)
    except pl.exceptions.PolarsError:  # polars raises even with strict=False
        pass
    out: list[str | None] = []
    for value in raw.to_list():
        try:
            out.append(None if value is None else bytes(value).decode("utf-8"))
        except UnicodeDecodeError:
            out.append(None)
            _count_invalid()
    return pl.Series(raw.name, out, dtype=pl.String)


def as_text(col: pl.Expr) -> pl.Expr:
    """A payload column (Binary or String) as String, bare tokens quoted."""
    text = col.cast(pl.String)
    has_token = text.str.contains("NaN", literal=True) | text.str.contains("Infinity", literal=True)
    return pl.when(has_token).then(text.str.replace_all(_BARE_TOKEN, r'${1}"${2}"')).otherwise(text)


# A whole flat JSON object (strings without escapes or control characters, JSON
# numbers, true/false/null, and the bare NaN/Infinity tokens of trackio <= 0.4).
_FLAT_STRING = r'"[^"\\\x00-\x1f]*"'
_FLAT_SCALAR = (
    rf"(?:{_FLAT_STRING}|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"
    r"|true|false|null|NaN|-?Infinity)"
)
_WS = r"[ \t\n\r]*"  # JSON's whitespace (regex's \s also takes Unicode spaces)
_FLAT_MEMBER = rf"{_FLAT_STRING}{_WS}:{_WS}{_FLAT_SCALAR}"
_FLAT_OBJECT = rf"\A{_WS}\{{{_WS}(?:{_FLAT_MEMBER}{_WS}(?:,{_WS}{_FLAT_MEMBER}{_WS})*)?\}}{_WS}\z"


def flat_mask(text: pl.Expr) -> pl.Expr:
    """Rows that are a whole flat JSON object: every ``"...":`` token is a top-level key.

    One ``{``, no ``[`` and no backslash means: no nested object or list, and no
    string can contain a quote, so a key regex cannot be fooled. The grammar
    check keeps out what is not JSON at all (a truncated row has no keys).
    """
    return (
        (text.str.count_matches("{", literal=True) == 1)
        & ~text.str.contains("[", literal=True)
        & ~text.str.contains("\\", literal=True)
        & text.str.contains(_FLAT_OBJECT)
    )


# -- per-run key sets, learnt and then certified --------------------------------
# No part of these patterns can match a newline, so lines of a joined blob are
# matched one by one (see ``KeyScanner.feed_blob``). Each comes in two alphabets:
# printable ASCII, which the regex engine runs ~1.5x faster, and any character;
# the first is a subset of the second, so both vouch for the same rows.
_STRING_CHAR = {True: r"[ !#-\[\]-~]", False: r'[^"\\\n]'}  # no quote, no backslash
_OBJECT_CHAR = {True: r"[ !#-\[\]-z|~]", False: r'[^{}"\\\n]'}  # ... no brace either
_LIST_CHAR = {True: r"[ !#-Z^-z|~]", False: r'[^\[\]{}"\\\n]'}  # ... no bracket either
_HEAD_ROWS = 256


def _json_value(ascii_only: bool) -> str:
    string = f'"{_STRING_CHAR[ascii_only]}*"'
    return (
        rf"(?:{string}|[-+0-9.eEa-zA-Z]+"  # strings, numbers, NaN/Infinity, true/false/null
        rf"|\{{(?:{_OBJECT_CHAR[ascii_only]}|{string})*\}}"  # an object one level deep
        rf"|\[(?:{_LIST_CHAR[ascii_only]}|{string})*\])"  # a list one level deep
    )


def _regex_literal(text: str) -> str:
    return "".join(
        c if c.isascii() and (c.isalnum() or c in "_/") else f"\\x{{{ord(c):x}}}" for c in text
    )


# Longest key alternation (``names_regex``) worth a certifying match. Past a few KB,
# polars' regex engine keeps rebuilding its lazy DFA and runs at ~10 MB/s instead of
# ~400 (2,000 unrelated 32-character keys; measured); the exact key extraction it
# would save runs at ~60-80 MB/s.
MAX_NAMES_REGEX = 4096


def names_regex(keys: Iterable[str]) -> str:
    """A regex matching exactly the strings ``keys`` (at least one), factored like a
    radix tree whose identical branches are written once.

    ``layers/0/attn/grad_norm`` ... ``layers/49/mlp/rank`` (2,000 keys) becomes
    ``layers/(?:0|1|...|49)/(?:attn|...)/(?:grad_norm|...)``, ~500 characters instead
    of ~60,000: a flat alternation of ~1,000 keys made every certifying match ~40x
    slower (polars' regex engine keeps rebuilding its lazy DFA).
    """
    words = set(keys)
    try:
        return _factored(words)
    except RecursionError:  # thousands of nested prefixes ("a", "aa", "aaa", ...)
        return "(?:" + "|".join(_regex_literal(k) for k in sorted(words)) + ")"


def _factored(words: set[str]) -> str:
    by_first: dict[str, list[str]] = {}
    for w in words:
        if w:
            by_first.setdefault(w[0], []).append(w)
    by_rest: dict[str, list[str]] = {}  # the regex of what follows -> the prefixes it follows
    for group in by_first.values():
        prefix = group[0]
        for w in group[1:]:
            n = 0
            while n < len(prefix) and n < len(w) and prefix[n] == w[n]:
                n += 1
            prefix = prefix[:n]
        by_rest.setdefault(_factored({w[len(prefix) :] for w in group}), []).append(prefix)
    branches = []
    for rest, prefixes in sorted(by_rest.items()):
        heads = [_regex_literal(p) for p in sorted(prefixes)]
        branches.append((heads[0] if len(heads) == 1 else f"(?:{'|'.join(heads)})") + rest)
    if not branches:
        return ""
    if "" in words:
        return f"(?:{'|'.join(branches)})?"
    return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"


def _safe_names(keys: Iterable[str]) -> str | None:
    """``names_regex`` of the keys a row without escapes can hold (None: no such key)."""
    safe = [k for k in keys if all(c not in '"\\' and c >= " " for c in k)]
    return names_regex(safe) if safe else None


def _member_object(names: str | None, ascii_only: bool) -> str:
    if names is None:
        return r"\{ ?\}"
    member = f'"{names}" ?: ?{_json_value(ascii_only)}'
    return rf"\{{ ?(?:{member}(?: ?, ?{member})*)? ?\}}"


def member_pattern(keys: Iterable[str], *, lines: bool = False, ascii_only: bool = False) -> str:
    """A regex matching exactly the JSON objects whose top-level keys all are in ``keys``.

    It is a sub-grammar of JSON (strings without escapes, scalars, objects and
    lists one level deep), so a row it matches parses the same way under JSON:
    every top-level key of such a row is one of ``keys``. Rows it does not
    match (escapes, deeper nesting, other keys) prove nothing and are read
    exactly by the caller. Keys that need escaping in JSON cannot occur in an
    escape-free row and are left out. ``lines=True``: a whole newline-joined
    blob of such objects. ``ascii_only=True``: the same grammar, with strings
    of printable ASCII only (a faster first try).
    """
    return _object_pattern(_safe_names(keys), lines=lines, ascii_only=ascii_only)


def _object_pattern(names: str | None, *, lines: bool, ascii_only: bool) -> str:
    obj = _member_object(names, ascii_only)
    return rf"\A(?:{obj}\n)*{obj}\z" if lines else rf"\A{obj}\z"


def _certified(text: pl.Series, keys: set[str], *, lines: bool = False) -> pl.Series | None:
    """Which values of ``text`` ``member_pattern(keys)`` vouches for (ASCII pattern first);
    None when the keys make a regex too large to run fast: read the rows exactly."""
    names = _certifying_names(frozenset(keys))
    if names == _TOO_LARGE:
        return None
    ok = text.str.contains(_object_pattern(names, lines=lines, ascii_only=True))
    if ok.all():
        return ok
    return ok | text.str.contains(_object_pattern(names, lines=lines, ascii_only=False))


_TOO_LARGE = "\0"  # never a names_regex, which escapes NUL


@functools.lru_cache(maxsize=64)
def _certifying_names(keys: frozenset[str]) -> str | None:
    # A run's keys are matched window after window: factor them once.
    names = _safe_names(keys)
    return _TOO_LARGE if names is not None and len(names) > MAX_NAMES_REGEX else names


def _blob_series(blob: bytes) -> pl.Series:
    """A joined blob as a String Series, padded with an empty object ``{}``.

    polars keeps a one-value Series as a scalar column when it evaluates an
    expression, and copies the scalar's whole string each time (measured: ~2
    extra copies of every 4 MB blob). Two values keep it a plain column; the
    pad is a key-less object, which every pattern vouches for.
    """
    try:
        return pl.Series("t", [blob, b"{}"], dtype=pl.Binary).cast(pl.String)
    except pl.exceptions.PolarsError:  # a payload is not UTF-8
        return pl.Series("t", [None, "{}"], dtype=pl.String)


class KeyScanner:
    """Exact top-level keys per run, without extracting every key of every row.

    Rows of a run nearly always repeat a few key sets. For each run the keys of
    its first rows are read exactly; every later row is then only *checked*
    against the keys known so far with one regex match (``member_pattern``),
    and the rows that fail the check are read exactly and teach new keys. The
    result is the same as reading every row: each listed key was seen in a row
    of the run, and every other row was proven to hold no other key.
    """

    def __init__(self) -> None:
        self.known: dict[str | None, set[str]] = {}
        # feed/feed_blob may be called from several threads: one lock per run.
        self._lock = threading.Lock()
        self._run_locks: dict[str | None, threading.Lock] = {}

    def _lock_of(self, run: str | None) -> threading.Lock:
        with self._lock:
            return self._run_locks.setdefault(run, threading.Lock())

    def feed(self, frame: pl.DataFrame, *, key: str = "run_key", text: str = "t") -> None:
        """Scan ``frame`` (a run-key column and a String payload column)."""
        parts = frame.partition_by(key, as_dict=True, maintain_order=False)
        for (run,), part in parts.items():
            run = run if run is None else str(run)
            with self._lock_of(run):
                self._feed_run(run, part.get_column(text))

    def learn(self, found: Mapping[str | None, set[str]]) -> None:
        """Add keys read exactly elsewhere (``parsed_keys``)."""
        for run, keys in found.items():
            with self._lock_of(run):
                self.known.setdefault(run, set()).update(keys)

    def feed_payloads(self, run: Any, payloads: Sequence[bytes | str | None]) -> None:
        """Scan raw payloads (TEXT or BLOB values) of one run."""
        text = payload_text(pl.Series("t", payloads, dtype=pl.Binary))
        self.feed(pl.DataFrame({"run_key": [run] * len(text), "t": text}))

    def _exact(self, run: str | None, rows: pl.Series) -> int:
        known = self.known.setdefault(run, set())
        before = len(known)
        known.update(parsed_keys([(run, t) for t in rows.to_list()]).get(run, ()))
        return len(known) - before

    def _feed_run(self, run: str | None, rows: pl.Series) -> None:
        if not self.known.get(run):
            self._exact(run, rows.head(_HEAD_ROWS))
            rows = rows.slice(_HEAD_ROWS)
        while len(rows):
            try:
                matched = _certified(rows, self.known[run])
            except pl.exceptions.PolarsError:  # e.g. a pattern over the regex size limit
                matched = None
            if matched is None:
                self._exact(run, rows)
                return
            rows = rows.filter(~matched)  # null payloads are dropped: they hold no keys
            if not len(rows):
                return
            if not self._exact(run, rows.head(_HEAD_ROWS)):
                # These rows do not fit the pattern for another reason: read them all.
                self._exact(run, rows.slice(_HEAD_ROWS))
                return
            rows = rows.slice(_HEAD_ROWS)

    def feed_blob(self, run: str | None, blob: bytes, rows: int) -> bool:
        """Scan ``rows`` payloads of one run joined by newlines (``group_concat``).

        When the run's keys are known, one match over the whole blob usually
        proves that no row holds another key; otherwise the blob is split into
        rows and scanned row by row. False: a payload holds a newline itself, so
        the blob cannot be split; the caller feeds those rows one by one.
        """
        text = _blob_series(blob)
        if text[0] is None:
            return False  # a payload is not UTF-8: the caller reads the rows one by one
        with self._lock_of(run):
            known = set(self.known.get(run, ()))
        if known:
            try:
                matched = _certified(text, known, lines=True)
            except pl.exceptions.PolarsError:
                matched = None
            if matched is not None and matched[0]:
                return True
        if blob.count(b"\n") != rows - 1:
            return False
        with self._lock_of(run):
            self._feed_run(run, text.str.split("\n").explode().head(-1))  # without the pad
        return True

    def pairs(self) -> pl.DataFrame:
        """Distinct ``(run_key, metric)`` found so far."""
        with self._lock:  # called once feeding is over; a copy all the same
            known = {r: set(ks) for r, ks in self.known.items()}
        return pairs_frame(known)


def infer_dtype(values: Iterable[Any]) -> pl.DataType | None:
    """A polars dtype that decodes all ``values`` with leaves as String.

    Returns None when the values mix objects with scalars or lists, or hold a
    string that reads as a number (``"3"``, ``"1e3"``, ``"inf"``): leaves decoded
    as text cannot tell such a string from a number, so that key is decoded
    through Python instead.
    """
    kinds: set[str] = set()
    children: dict[str, list[Any]] = {}
    items: list[Any] = []
    texts: list[str] = []
    for v in values:
        if v is None:
            continue
        if isinstance(v, dict):
            kinds.add("dict")
            for k, sub in v.items():
                children.setdefault(k, []).append(sub)
        elif isinstance(v, list):
            kinds.add("list")
            items.extend(v)
        else:
            kinds.add("scalar")
            if isinstance(v, str) and v not in NONFINITE:
                texts.append(v)
    if texts and _reads_as_number(texts):
        return None
    if not kinds or kinds == {"scalar"}:
        return pl.String()
    if kinds == {"dict"}:
        fields: dict[str, pl.DataType] = {}
        for k, subs in children.items():
            dt = infer_dtype(subs)
            if dt is None:
                return None
            fields[k] = dt
        return pl.Struct(fields)
    if kinds == {"list"}:
        inner = infer_dtype(items)
        return pl.List(inner) if inner is not None else None
    return None


def _reads_as_number(texts: list[str]) -> bool:
    """Whether ``type_leaf`` would read any of these JSON strings as a number."""
    return pl.Series(texts, dtype=pl.String).cast(pl.Float64, strict=False).null_count() < len(
        texts
    )


def _raw_schema(
    raw_values: Mapping[str, list[Any]], flat_keys: Iterable[str]
) -> dict[str, pl.DataType | None]:
    schema: dict[str, pl.DataType | None] = {k: pl.String() for k in flat_keys}
    for k, vals in raw_values.items():
        dt = infer_dtype([*vals, *([None] if k in schema else [])])
        if k in schema and dt is not None and not isinstance(dt, pl.String):
            # The key is a scalar in flat rows and nested elsewhere: mixed shapes.
            dt = None
        schema[k] = dt
    return schema


def decode_payloads(text: pl.Series) -> pl.DataFrame:
    """Decode a column of JSON objects into one column per top-level key.

    Leaves come back as text (``"0.5"``, ``"NaN"``, ``"warmup"``, ``"true"``);
    nested objects as Struct, lists as List. ``type_leaves`` turns them into
    numbers. Keys whose shape varies between rows fall back to Python decoding.
    A payload that cannot be read (not JSON, not UTF-8, a number out of range
    such as ``1e999``) is read as null and counted (``invalid_payloads``).
    """
    text = payload_text(text)  # once: bytes that are not UTF-8 are counted here
    # A payload that is not a JSON object (plain text, [1, 2], "x", null) holds no
    # metrics: read as empty, and counted with the payloads that cannot be read.
    odd = (text.str.strip_chars_start().str.starts_with("{").not_() & text.is_not_null()).fill_null(
        False
    )
    if odd.any():
        _count_invalid(int(odd.sum()))
        text = text.scatter(odd.arg_true(), None)
    try:
        return _decode_payloads(text)
    except (pl.exceptions.PolarsError, ValueError):
        pass
    # Slow path, for damaged files only: first drop what is not JSON (one Python
    # pass), then find what polars still cannot read (e.g. a number such as 1e999).
    parsed = [None if r is None or loads_or_none(r) is None else r for r in text.to_list()]
    text = pl.Series(text.name, parsed, dtype=pl.String)
    try:
        return _decode_payloads(text)
    except (pl.exceptions.PolarsError, ValueError):
        bad = _unreadable(text)
        if not bad:
            raise  # no single payload is at fault: a bug, not bad data
        _count_invalid(len(bad))
        return _decode_payloads(text.scatter(bad, None))


_BISECT_BAD = 32  # past this many unreadable payloads, failing ranges are dropped whole


def _unreadable(text: pl.Series) -> list[int]:
    """Positions of the payloads ``_decode_payloads`` fails on, found by bisection
    (a damaged file holds few; each costs ~2 log2(n) small decodes)."""
    bad: list[int] = []

    def walk(lo: int, hi: int) -> None:
        try:
            _decode_payloads(text.slice(lo, hi - lo))
            return
        except (pl.exceptions.PolarsError, ValueError):
            pass
        if hi - lo == 1 or len(bad) >= _BISECT_BAD:
            bad.extend(range(lo, hi))
            return
        mid = (lo + hi) // 2
        walk(lo, mid)
        walk(mid, hi)

    if len(text):
        walk(0, len(text))
    return bad


def _decode_payloads(text: pl.Series) -> pl.DataFrame:
    """``decode_payloads`` of a String column, failing on any payload it cannot read.

    Every payload is an object or null: ``decode_payloads`` nulled (and counted) the rest.
    """
    frame = pl.DataFrame({"t": text}).with_columns(as_text(pl.col("t")).alias("t"))
    flat = frame.get_column("t").to_frame().select(flat_mask(pl.col("t"))).to_series()
    # A flat row holding a string that may read as a number is parsed in Python
    # too (with trackio's "NaN" strings), so ``infer_dtype`` sees its values.
    parse = ~flat | frame.get_column("t").str.contains(NUMBER_LIKE_STRING).fill_null(False)
    flat_keys = (
        frame.filter(flat)
        .select(pl.col("t").str.extract_all(_FLAT_MEMBER_TOKEN).explode().drop_nulls())
        .to_series()
        .str.extract(_MEMBER_KEY, 1)
        .unique()
        .to_list()
    )
    nested_rows = frame.filter(parse).get_column("t").to_list()
    raw_values: dict[str, list[Any]] = {}
    for raw in nested_rows:
        value = orjson.loads(raw) if raw is not None else None
        if isinstance(value, dict):
            for k, v in value.items():
                raw_values.setdefault(k, []).append(v)
    schema = _raw_schema(raw_values, flat_keys)
    # polars cannot name a struct field "" (it becomes "column_1"), so an empty
    # key is left out of decoded values; it is still listed by parsed_keys.
    schema.pop("", None)
    good = {k: dt for k, dt in schema.items() if dt is not None}
    columns: list[pl.Series] = []
    if good:
        decoded = frame.get_column("t").str.json_decode(pl.Struct(good)).struct.unnest()
        columns.extend(decoded.get_columns())
    exact = [k for k, dt in schema.items() if dt is None]
    if exact:
        # Mixed shapes, or strings that read as numbers: keep the exact Python
        # values (NaN rules applied); ``flatten_numeric`` walks them.
        objs = [loads(r) for r in frame.get_column("t").to_list()]
        for k in exact:
            vals = [o.get(k) if isinstance(o, dict) else None for o in objs]
            columns.append(pl.Series(k, vals, dtype=pl.Object))
    return pl.DataFrame(columns) if columns else pl.DataFrame(schema={})


def type_leaf(s: pl.Series) -> pl.Series | None:
    """Text leaf -> Int64 when every value is an integer, Float64 when any is numeric.

    ``"NaN"``/``"Infinity"``/``"-Infinity"`` become nan/inf. A leaf with no
    numeric value at all (strings, booleans) is not a series: None. In a leaf
    mixing numbers and strings the strings become gaps.
    """
    if s.dtype != pl.String:
        return None
    # Many Series methods run as ``pl.col(name)``: a leaf called "*" or "^a$"
    # would select nothing (or everything). Work under a plain name.
    name, s = s.name, s.alias("leaf")
    present = s.drop_nulls()
    if present.is_empty():
        return None
    if present.str.contains(_INT_TEXT).all():
        as_int = s.cast(pl.Int64, strict=False)
        if as_int.null_count() == s.null_count():
            return as_int.alias(name)
    as_float = s.cast(pl.Float64, strict=False)
    if as_float.null_count() == len(as_float):
        return None
    return as_float.alias(name)


def struct_fields(s: pl.Series) -> list[tuple[str, pl.Series]]:
    """``(name, values)`` per field of a struct Series, by position.

    The values carry plain names (``f0``, ``f1``...): many Series methods run as
    ``pl.col(series.name)``, and polars reads a name such as ``*`` or ``^a$`` as
    a pattern (``struct.field("*")`` even panics in polars 2.1).
    """
    assert isinstance(s.dtype, pl.Struct)
    names = [f.name for f in s.dtype.fields]
    plain = s.alias("s").struct.rename_fields([f"f{i}" for i in range(len(names))])
    return list(zip(names, plain.struct.unnest().get_columns(), strict=True))


def struct_field_exprs(value: pl.Expr, dtype: pl.Struct) -> list[tuple[str, pl.Expr]]:
    """``(name, expression)`` per field of a struct expression, safe for any name."""
    names = [f.name for f in dtype.fields]
    safe = value.struct.rename_fields([f"f{i}" for i in range(len(names))])
    return [(name, safe.struct.field(f"f{i}")) for i, name in enumerate(names)]


def _python_leaves(path: tuple[str, ...], values: list[Any], sep: str) -> list[Leaf]:
    """``flatten_numeric`` for one key decoded in Python (``decode_payloads``' exact
    values): a number here and an object there gives both ``name`` and
    ``name/child``; strings, booleans, lists and media are not numbers."""
    leaves: dict[tuple[str, ...], list[Any]] = {}

    def walk(at: tuple[str, ...], v: Any, row: int) -> None:
        if isinstance(v, dict):
            if "_type" not in v:  # media, tables, histograms
                for k, sub in v.items():
                    walk((*at, k), sub, row)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            leaves.setdefault(at, [None] * len(values))[row] = v

    for row, v in enumerate(values):
        walk(path, v, row)
    # Typed by the same rule as text leaves (Int64 when every value is an integer
    # that fits, else Float64): repr gives "nan"/"inf" for the non-finite floats.
    texts = (
        (
            at,
            pl.Series(sep.join(at), [None if v is None else repr(v) for v in col], dtype=pl.String),
        )
        for at, col in leaves.items()
    )
    return [(at, typed) for at, t in texts if (typed := type_leaf(t)) is not None]


# A numeric leaf: its JSON path (top-level key first) and its values, named by
# the path joined with "/".
Leaf = tuple[tuple[str, ...], pl.Series]


def leaf_frame(leaves: Sequence[Leaf]) -> pl.DataFrame:
    """Flattened leaves as one frame; leaves with the same name are one series.

    A flat key ``"eval/loss"`` and a nested ``{"eval": {"loss": ...}}`` (logged by
    different runs, or at different times) are the same chart: their values are
    merged. In a row that holds both, the spelling with fewer levels wins (the
    flat key), then the path that sorts first: one rule for every reader,
    however a row was decoded.
    """
    groups: dict[str, list[Leaf]] = {}
    for path, s in leaves:
        # A chart needs a name: a top-level metric "" is listed by analyze, not
        # plotted (pl.DataFrame would also rename it column_N).
        if s.name:
            groups.setdefault(s.name, []).append((path, s))
    out = []
    for name, group in groups.items():
        if len(group) == 1:
            out.append(group[0][1])
            continue
        same = [s for _, s in sorted(group, key=lambda leaf: (len(leaf[0]), leaf[0]))]
        dtype = same[0].dtype if all(x.dtype == same[0].dtype for x in same) else pl.Float64
        merged = pl.select(
            pl.coalesce([pl.lit(x.cast(dtype).alias(f"v{i}")) for i, x in enumerate(same)])
        ).to_series()
        out.append(merged.alias(name))
    return pl.DataFrame(out) if out else pl.DataFrame(schema={})


def numeric_leaves(
    columns: Iterable[tuple[str, pl.Series]],
    leaf: Callable[[tuple[str, ...], pl.Series], list[Leaf]],
) -> pl.DataFrame:
    """Walk decoded top-level ``(key, values)`` into ``parent/child`` leaves, one frame.

    Structs are walked field by field, except media, tables and histograms
    (objects with ``_type``); ``leaf(path, series)`` types every other value
    (each reader has its own rule) and returns the leaves it yields. A top-level
    key may itself be called ``_type``: only nested objects are checked.
    """
    out: list[Leaf] = []

    def visit(path: tuple[str, ...], s: pl.Series) -> None:
        if isinstance(s.dtype, pl.Struct):
            if "_type" in [f.name for f in s.dtype.fields]:
                return
            for field, f in struct_fields(s):
                visit((*path, field), f)
            return
        out.extend(leaf(path, s))

    for name, col in columns:
        visit((name,), col)
    return leaf_frame(out)


def flatten_numeric(frame: pl.DataFrame, *, sep: str = "/") -> pl.DataFrame:
    """Numeric leaves of decoded payloads as ``parent/child`` columns.

    Media, tables and histograms (objects with ``_type``), lists and strings are
    skipped: they are not series one can plot.
    """

    def leaf(path: tuple[str, ...], s: pl.Series) -> list[Leaf]:
        if s.dtype == pl.Object:
            return _python_leaves(path, s.to_list(), sep)
        typed = type_leaf(s)
        return [] if typed is None else [(path, typed.alias(sep.join(path)))]

    return numeric_leaves(((c.name, c) for c in frame.get_columns()), leaf)
