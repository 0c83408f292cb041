"""Raw rows of a project's run-scoped tables, shaped for another database (§3, §4, §7).

Two sources, one output: an iterable of tuples in the *target's* column order.

* SQLite: rows are selected as they are stored; payload bytes are copied
  untouched (TEXT stays TEXT, BLOB stays BLOB). Only rows that need it are
  changed, each by one SQL-called function: bare ``NaN``/``Infinity`` tokens
  (Trackio <= 0.4, not readable by any Trackio since 0.5) become Trackio's
  strings, and media ``file_path`` values move to the target project.
* Parquet exports: the wide columns are packed back into the JSON object
  Trackio would have stored, in polars (:func:`pack_json`), vectorised.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, cast

import orjson
import polars as pl

from trackio_tool.store import _decode
from trackio_tool.store._schema import DEFAULTS, JSON_COLUMNS, quote
from trackio_tool.store.parquet import ParquetReader, read_parquet_file
from trackio_tool.store.sqlite import SqliteReader, _prefetch

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

# Structural columns of each table in a parquet export (Trackio's
# ``import_from_parquet``); everything else is a key of the JSON payload.
PARQUET_STRUCTURAL: dict[str, tuple[str, ...]] = {
    "metrics": ("id", "run_id", "timestamp", "run_name", "step", "log_id", "space_id"),
    "system_metrics": ("id", "run_id", "timestamp", "run_name", "log_id", "space_id"),
    "configs": ("id", "run_id", "run_name", "created_at"),
}
# The parquet tables a merge reads, by the table they export.
PARQUET_TABLES = ("metrics", "system_metrics", "configs", "traces")
SLICE_ROWS = 200_000
# Past this many bytes, a BLOB payload is searched by Python (bytes.find, ``in``)
# rather than SQLite's instr, which reads it byte by byte (~3x slower on 2,000-key rows,
# while a Python call per small row costs more than instr saves).
PYTHON_SEARCH_BYTES = 4096


def big_blob_sql(q: str) -> str:
    """SQL: column ``q`` holds a BLOB past PYTHON_SEARCH_BYTES."""
    return f"(typeof({q}) = 'blob' AND length({q}) > {PYTHON_SEARCH_BYTES})"


# A bare non-finite token after ':', ',' or '[' (json.dumps of Trackio <= 0.4).
_BARE = re.compile(rb"[:\[,]\s*-?(?:NaN|Infinity)")
# A media path's project and run segments: "file_path": "[media/]<project>/<run>/..."
# (both path styles, §5). A segment may hold JSON escapes: trackio <= 0.4 wrote
# json.dumps' ASCII escapes ("caf\\u00e9"), any version escapes a quote or backslash.
_SEGMENT = r'(?:[^/"\\]|\\.)+'
# A "file_path" key and the opening quote of its value. A key follows "{" or ",":
# that keeps out a key that merely ends so (the key 'q"file_path' is "q\"file_path").
FILE_PATH_KEY = r'[{,]\s*"file_path"\s*:\s*"'


@dataclass(frozen=True)
class RunMap:
    """One selected source run and the identity it gets in the target."""

    key: str
    """The run's key in the source (run_id, or run_name in legacy files)."""
    name: str
    run_id: str | None
    """run_id for target tables that have one; None keeps what the source rows have."""


def json_fragment(text: str) -> str:
    """``text`` as the inside of a JSON string, as orjson writes it."""
    return orjson.dumps(text).decode()[1:-1]


def json_spellings(text: str) -> list[str]:
    """``text`` inside a JSON string as orjson writes it, and as json.dumps did
    (Trackio <= 0.4: ASCII escapes, "caf\\u00e9")."""
    return sorted({json_fragment(text), json.dumps(text)[1:-1]})


def _alternation(names: Iterable[str], spell: Callable[[str], Iterable[str]]) -> str:
    return "|".join(re.escape(s) for name in sorted(set(names)) for s in spell(name))


def media_path_regex(runs: Iterable[str], *, projects: Iterable[str] | None = None) -> str:
    """A media ``file_path`` in JSON text whose run segment is one of ``runs`` (and
    project segment one of ``projects``, if given), in three groups: up to the path's
    start (``[media/]`` included), the project segment with its slash, and the run
    segment with its slash."""
    names = _alternation(runs, json_spellings)
    segment = _SEGMENT if projects is None else f"(?:{_alternation(projects, json_spellings)})"
    return rf"({FILE_PATH_KEY}(?:media/)?)({segment}/)((?:{names})/)"


@dataclass(frozen=True)
class MediaMove:
    """Media ``file_path`` values of the merged runs, moved to the target project.

    Only a path whose run segment is one of ``runs`` moves: those are the folders
    the merge copies. Any other ``file_path`` (a user's own ``{"file_path":
    "data/train.csv"}`` in a config, a path into another project) is data, and
    is copied as it is.
    """

    project: str
    runs: tuple[str, ...]
    # Run segments (as spelled in the JSON) of the paths moved so far: the runs whose
    # rows refer to media files (``payload`` only; a merge checks them against the
    # files it found).
    moved: set[bytes] = field(default_factory=set, compare=False, hash=False)

    def referred(self) -> list[str]:
        """The runs of ``runs`` whose rows had a media path moved by ``payload``."""
        seen = {m.decode("utf-8", "replace") for m in self.moved}
        return [r for r in self.runs if any(s in seen for s in json_spellings(r))]

    @cached_property
    def _payload_re(self) -> tuple[re.Pattern[bytes], bytes] | None:
        if not self.runs:
            return None
        target = json_fragment(self.project).encode().replace(b"\\", b"\\\\")
        return re.compile(media_path_regex(self.runs).encode()), rb"\g<1>" + target + rb"/\g<3>"

    def payload(self, raw: bytes) -> bytes:
        """A JSON payload with its media paths moved (``raw`` itself when none is)."""
        if self._payload_re is None or b'"file_path"' not in raw:
            return raw
        pattern, repl = self._payload_re
        out = pattern.sub(repl, raw)
        if out == raw:
            return raw
        self.moved.update(m.group(3)[:-1] for m in pattern.finditer(raw))
        return out

    def json_expr(self, text: pl.Expr) -> pl.Expr:
        """The same move on a column of JSON texts, vectorised."""
        if not self.runs:
            return text
        target = json_fragment(self.project).replace("$", "$$")
        return text.str.replace_all(media_path_regex(self.runs), "${1}" + target + "/${3}")

    def value_expr(self, value: pl.Expr, name: str, dtype: PolarsDataType) -> pl.Expr:
        """The same move on raw ``file_path`` strings (a parquet column or struct
        field called ``name``, of ``dtype``); any other value as it is."""
        if not self.runs or name != "file_path" or dtype != pl.String:
            return value
        names = _alternation(self.runs, lambda n: [n])
        return value.str.replace(
            rf"^(media/)?[^/]+/((?:{names})/)", "${1}" + self.project.replace("$", "$$") + "/${2}"
        )


# -- non-finite values and media paths ------------------------------------------------


def _trackio_values(value: Any) -> Any:
    """Trackio's ``serialize_values``: non-finite floats -> "NaN"/"Infinity"/"-Infinity"."""
    if isinstance(value, dict):
        return {str(k): _trackio_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trackio_values(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def fix_payload(raw: bytes, *, media_to: MediaMove | None) -> bytes:
    """The payload with bare tokens quoted and media paths moved by ``media_to``.

    Returns ``raw`` itself when nothing changes (the common case).
    """
    out = raw
    if _may_be_bare(raw) and _BARE.search(raw):
        try:
            orjson.loads(raw)  # valid strict JSON: the "tokens" were inside strings
        except orjson.JSONDecodeError:
            out = _requote(raw)
    if media_to is not None:
        out = media_to.payload(out)
    return out


def _may_be_bare(raw: bytes) -> bool:
    """False when ``_BARE`` cannot match: every ``NaN`` and ``Infinity`` opens a JSON
    string (``"NaN"``, ``"Infinity"``, ``"-Infinity"``: Trackio's own spellings).

    Found with ``bytes.find``, in C: ``_BARE`` tries its class at every ``:`` and
    ``,``, which on a payload of thousands of keys cost more than the rest of the
    copy (~0.9 ms per 2,000 keys, against ~0.15).
    """
    for token in (b"NaN", b"Infinity"):
        at = raw.find(token)
        while at >= 0:
            if raw[at - 1 : at] != b'"' and (token == b"NaN" or raw[at - 2 : at] != b'"-'):
                return True
            at = raw.find(token, at + 1)
    return False


def _requote(raw: bytes) -> bytes:
    """A payload of trackio <= 0.4 with bare NaN/Infinity tokens, as Trackio's strings.

    orjson cannot write integers past 64 bits (json.dumps wrote 2**70 as it is),
    so those rows go through ``json``. A row that is not JSON at all (Trackio never
    writes one) is copied as it is: it stays what it was, and does not stop a merge.
    """
    try:
        value = _trackio_values(json.loads(raw))
    except ValueError:  # not JSON, not UTF-8
        return raw
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer past 64 bits
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _payload_function(media_to: MediaMove | None) -> Callable[[Any, Any], Any]:
    """``fix_payload`` as an SQL function of (payload as BLOB, was it TEXT).

    The payload comes in as bytes, so a TEXT value that is not UTF-8 (Trackio
    never writes one: its TEXT payloads are json.dumps' ASCII) cannot stop the
    read; it goes out as the same bytes, a BLOB. Valid TEXT stays TEXT.
    """

    def apply(raw: Any, was_text: Any) -> Any:
        if raw is None:
            return None
        out = fix_payload(raw, media_to=media_to)
        if not was_text:
            return out
        try:
            return out.decode()
        except UnicodeDecodeError:
            return out

    return apply


# -- parquet -> Trackio JSON ------------------------------------------------------------

_INF = float("inf")
# Dense float columns are encoded by polars' JSON writer, which writes NaN/inf as
# null; they go in as these subnormal doubles and their (unique) texts are then
# replaced by Trackio's strings. A count check proves no other value produced them.
_SENTINELS: tuple[tuple[float, str, str], ...] = (
    (5e-324, "5e-324", '"NaN"'),
    (1e-323, "1e-323", '"Infinity"'),
    (1.5e-323, "1.5e-323", '"-Infinity"'),
)
_SENTINEL_RE = r"5e-324|1e-323|1\.5e-323"


def _string_json(value: pl.Expr) -> pl.Expr:
    # polars' JSON writer escapes strings exactly like orjson (quotes, backslash,
    # control characters; non-ASCII kept as UTF-8).
    encoded = pl.struct(value.alias("v")).struct.json_encode()
    return (
        pl.when(value.is_null())
        .then(None)
        .otherwise(encoded.str.strip_prefix('{"v":').str.strip_suffix("}"))
    )


def _value_json(
    value: pl.Expr, dtype: PolarsDataType, media_to: MediaMove | None = None
) -> pl.Expr:
    """JSON text of each value (String), null where the value is null."""
    if isinstance(dtype, pl.Null):
        return pl.lit(None, dtype=pl.String)
    if isinstance(dtype, pl.Boolean):
        return pl.when(value).then(pl.lit("true")).when(~value).then(pl.lit("false"))
    if dtype.is_integer():
        return value.cast(pl.String)
    if dtype.is_float() or isinstance(dtype, pl.Decimal):
        x = value.cast(pl.Float64)
        # ryu formatting: byte-identical to orjson for every finite double.
        return (
            pl.when(x.is_nan())
            .then(pl.lit('"NaN"'))
            .when(x == _INF)
            .then(pl.lit('"Infinity"'))
            .when(x == -_INF)
            .then(pl.lit('"-Infinity"'))
            .otherwise(x.cast(pl.String))
        )
    if isinstance(dtype, pl.Struct):
        return _object_json(
            [
                (name, expr, f.dtype)
                for (name, expr), f in zip(
                    _decode.struct_field_exprs(value, dtype), dtype.fields, strict=True
                )
            ],
            null_if=value.is_null(),
            media_to=media_to,
        )
    if isinstance(dtype, (pl.List, pl.Array)):
        inner = dtype.inner
        assert inner is not None
        items = value.cast(pl.List(inner)) if isinstance(dtype, pl.Array) else value
        # List items keep their place: a null item is written as null.
        body = items.list.eval(
            _value_json(pl.element(), inner, media_to).fill_null(pl.lit("null"))
        ).list.join(",")
        return pl.concat_str([pl.lit("["), body, pl.lit("]")])
    if isinstance(dtype, pl.Binary):
        return _string_json(value.bin.encode("base64"))
    return _string_json(value.cast(pl.String))


def _key_json(name: str) -> str:
    return orjson.dumps(name).decode() + ":"


def _field_json(
    name: str,
    expr: pl.Expr,
    dtype: PolarsDataType,
    *,
    keep_null: Callable[[str], bool] | None = None,
    media_to: MediaMove | None = None,
) -> pl.Expr:
    """``"name":value``, or null when the value is (so the key is left out)."""
    if media_to is not None:
        expr = media_to.value_expr(expr, name, dtype)
    value = _value_json(expr, dtype, media_to)
    if keep_null is not None and keep_null(name):
        value = value.fill_null(pl.lit("null"))
    return pl.concat_str([pl.lit(_key_json(name)), value])


def _object_json(
    fields: Sequence[tuple[str, pl.Expr, PolarsDataType]],
    *,
    null_if: pl.Expr | None = None,
    keep_null: Callable[[str], bool] | None = None,
    media_to: MediaMove | None = None,
) -> pl.Expr:
    """``{"k":v,...}`` with null values left out (or written as null where asked)."""
    parts = [
        _field_json(name, expr, dtype, keep_null=keep_null, media_to=media_to)
        for name, expr, dtype in fields
    ]
    body = pl.concat_str(parts, separator=",", ignore_nulls=True) if parts else pl.lit("")
    text = pl.concat_str([pl.lit("{"), body, pl.lit("}")])
    return text if null_if is None else pl.when(null_if).then(None).otherwise(text)


def _dense_expr(series: pl.Series, col: pl.Expr) -> tuple[pl.Expr, pl.Expr | None, int] | None:
    """A column polars' JSON writer can encode as Trackio would (``col`` selects it).

    Returns the expression, a mask of rows given a sentinel (non-finite floats)
    and how many. Dense means a scalar type and no nulls (a null is a missing
    key, which the writer cannot leave out); None sends the column down the
    general path.
    """
    dtype = series.dtype
    if series.name == "" or series.null_count():
        return None
    if dtype.is_integer() or dtype in (pl.Boolean, pl.String):
        return col.alias(series.name), None, 0
    if not dtype.is_float():
        return None
    x = series.alias("x").cast(pl.Float64)
    nonfinite = len(x) - int(x.is_finite().sum())
    expr = col.cast(pl.Float64)
    if not nonfinite:
        return expr.alias(series.name), None, 0
    substituted = (
        pl.when(expr.is_nan())
        .then(pl.lit(_SENTINELS[0][0]))
        .when(expr == _INF)
        .then(pl.lit(_SENTINELS[1][0]))
        .when(expr == -_INF)
        .then(pl.lit(_SENTINELS[2][0]))
        .otherwise(expr)
    )
    return substituted.alias(series.name), ~expr.is_finite(), nonfinite


def pack_json(
    frame: pl.DataFrame,
    columns: Sequence[str],
    *,
    keep_null: Callable[[str], bool] | None = None,
    media_to: MediaMove | None = None,
) -> pl.Series:
    """Pack ``columns`` of ``frame`` into Trackio's JSON object per row (a String series).

    Trackio writes ``orjson.dumps(serialize_values(row))``: missing keys are
    absent, NaN/inf are the strings "NaN"/"Infinity"/"-Infinity", ints stay
    ints, nested dicts are objects. Parquet cannot tell a missing key from a
    logged ``None``, so nulls are left out unless ``keep_null(key)`` says
    Trackio always stores that key (configs' ``_Username``, ``_Group``).
    ``media_to`` moves the merged runs' media ``file_path`` values (:class:`MediaMove`).

    Runs of dense scalar columns are encoded by one call of polars' JSON
    writer; the rest by per-column expressions joined with ``concat_str``.
    """
    if not columns:  # an export row with no values: Trackio's empty object
        return pl.Series("json", ["{}"] * frame.height, dtype=pl.String)
    if frame.n_chunks("all") != [1] * frame.width:
        # polars 2.0 (the last release for Python 3.10) panics on a struct built
        # from multi-chunk columns that include a Null column; 2.1 does not.
        frame = frame.rechunk()
    schema = frame.schema
    # Columns by position: pl.col("*") or pl.col("^a$") would be patterns.
    position = {c: i for i, c in enumerate(frame.columns)}
    parts: list[pl.Expr] = []
    group: list[pl.Expr] = []
    masks: list[pl.Expr] = []
    substituted = 0
    dense_only = True

    def flush() -> None:
        if group:
            # Views, not copies: drop the writer's braces, concat_str adds ours.
            encoded = pl.struct(list(group)).struct.json_encode()
            parts.append(encoded.str.tail(-1).str.head(-1))
            group.clear()

    for c in columns:
        col = pl.nth(position[c])
        # A top-level file_path follows the same rule as a media dict's (as in a
        # .db source): the dense writer gets the moved value.
        dense_col = col if media_to is None else media_to.value_expr(col, c, schema[c])
        dense = None if keep_null is not None and keep_null(c) else _dense_expr(frame[c], dense_col)
        if dense is not None:
            group.append(dense[0])
            if dense[1] is not None:
                masks.append(dense[1])
            substituted += dense[2]
            continue
        dense_only = False
        flush()
        parts.append(_field_json(c, col, schema[c], keep_null=keep_null, media_to=media_to))
    if dense_only and group:
        text_expr = pl.struct(list(group)).struct.json_encode()
    else:
        flush()
        body = pl.concat_str(parts, separator=",", ignore_nulls=True) if parts else pl.lit("")
        text_expr = pl.concat_str([pl.lit("{"), body, pl.lit("}")])
    text = frame.select(text_expr.alias("json")).to_series()
    if not substituted:
        return text
    rows = frame.select(pl.any_horizontal(masks).alias("m")).to_series().arg_true()
    marked = text.gather(rows)
    if int(marked.str.count_matches(_SENTINEL_RE).sum()) != substituted:
        # Some logged value or string spells a sentinel: take the general path.
        fields = [
            _field_json(c, pl.nth(position[c]), schema[c], keep_null=keep_null, media_to=media_to)
            for c in columns
        ]
        inner = pl.concat_str(fields, separator=",", ignore_nulls=True) if fields else pl.lit("")
        general = pl.concat_str([pl.lit("{"), inner, pl.lit("}")])
        return frame.select(general.alias("json")).to_series()
    fixed = marked.str.replace_many([s[1] for s in _SENTINELS], [s[2] for s in _SENTINELS])
    return text.scatter(rows, fixed)


def _config_keep_null(key: str) -> bool:
    # Trackio stores its own config keys (_Username, _Created, _Group) even when None.
    return key.startswith("_")


# -- reading ----------------------------------------------------------------------------


def _sqlite_key(reader: SqliteReader, table: str) -> str:
    # Mixed files (0.24-0.40 appending to a legacy DB): match side tables by name.
    return "run_id" if reader.has_run_id(table) and reader.has_run_id("metrics") else "run_name"


def _parquet_key(reader: ParquetReader, frame: pl.DataFrame) -> str:
    return (
        "run_id" if "run_id" in frame.columns and reader.run_key_column == "run_id" else "run_name"
    )


def _raw_metrics(reader: ParquetReader) -> pl.DataFrame:
    """The metrics export as stored (the reader expands a 0.2.2-0.2.3 raw JSON column)."""
    pf = reader.pf
    path = f"{pf.path.rstrip('/')}/metrics.parquet" if pf.kind == "static" else pf.path
    with pf.fs.open(path, "rb") as fh:
        schema = pl.read_parquet_schema(cast("IO[bytes]", fh))
    if schema.get("metrics") in (pl.String, pl.Binary):
        return read_parquet_file(pf, path, what="metrics parquet")
    return reader.metrics


class SourceRows:
    """Run-scoped rows of one opened project (``store.open_project``)."""

    def __init__(self, reader: SqliteReader | ParquetReader) -> None:
        self.reader = reader
        self._frames: dict[str, pl.DataFrame | None] = {}

    # -- what is there --------------------------------------------------------------
    def tables(self) -> list[str]:
        """Run-scoped tables the source has (in Trackio's order)."""
        if isinstance(self.reader, SqliteReader):
            return [t for t in JSON_COLUMNS if self.reader.has_table(t)]
        return [t for t in PARQUET_TABLES if self.frame(t) is not None]

    def columns(self, table: str) -> list[str]:
        if isinstance(self.reader, SqliteReader):
            return list(self.reader.columns.get(table, []))
        frame = self.frame(table)
        return [] if frame is None else frame.columns

    def key_column(self, table: str) -> str:
        if isinstance(self.reader, SqliteReader):
            return _sqlite_key(self.reader, table)
        frame = self.frame(table)
        return "run_name" if frame is None else _parquet_key(self.reader, frame)

    def frame(self, table: str) -> pl.DataFrame | None:
        """A parquet table as read (metrics: the raw export, not the expanded view)."""
        assert isinstance(self.reader, ParquetReader)
        if table not in self._frames:
            self._frames[table] = (
                _raw_metrics(self.reader) if table == "metrics" else self.reader.side(table)
            )
        return self._frames[table]

    def counts(self, table: str, keys: Sequence[str]) -> dict[str, int]:
        """Rows per selected run key in ``table``."""
        key = self.key_column(table)
        if isinstance(self.reader, SqliteReader):
            if not self.reader.has_table(table) or key not in self.reader.columns[table]:
                return {}
            marks = ",".join("?" * len(keys))
            n = "MIN(COUNT(*), 1)" if table == "configs" else "COUNT(*)"  # one per run (read)
            rows = self.reader.execute(
                f"SELECT {key}, {n} FROM {quote(table)} WHERE {key} IN ({marks}) GROUP BY {key}",
                list(keys),
            ).fetchall()
            return {str(k): int(n) for k, n in rows}
        frame = self.frame(table)
        if frame is None or key not in frame.columns:
            return {}
        counted = (
            frame.select(pl.col(key).cast(pl.String).alias("k"))
            .filter(pl.col("k").is_in(list(keys)))
            .group_by("k")
            .len()
        )
        return dict(zip(counted["k"].to_list(), counted["len"].to_list(), strict=True))

    def latest_ids_by_name(self, names: Sequence[str]) -> dict[str, str]:
        """run_ids a legacy source already gave these names in tables that have one.

        Trackio's migration (0.41+) reuses them; so do we.
        """
        if not isinstance(self.reader, SqliteReader) or not names:
            return {}
        found: dict[str, str] = {}
        marks = ",".join("?" * len(names))
        for table in ("metrics", "configs", "system_metrics", "alerts", "traces"):
            cols = self.reader.columns.get(table, [])
            if "run_id" not in cols:
                continue
            order = " ORDER BY timestamp DESC" if "timestamp" in cols else ""
            for name, rid in self.reader.execute(
                f"SELECT run_name, run_id FROM {quote(table)} WHERE run_name IN ({marks}){order}",
                list(names),
            ).fetchall():
                if rid is not None:
                    found.setdefault(str(name), str(rid))
        return found

    # -- rows -------------------------------------------------------------------------
    def read(
        self,
        table: str,
        columns: Sequence[str],
        runs: Sequence[RunMap],
        *,
        media_to: MediaMove | None,
    ) -> Iterator[tuple[Any, ...]]:
        """Rows of ``runs`` in ``table`` as tuples in ``columns`` order (the target's).

        ``space_id`` is always NULL (Trackio must not re-send the rows to a
        Space); columns the source lacks get Trackio's default or NULL.
        ``media_to`` moves the runs' media paths (None: unchanged).
        """
        if isinstance(self.reader, SqliteReader):
            return self._read_sqlite(self.reader, table, columns, runs, media_to=media_to)
        return self._read_parquet(self.reader, table, columns, runs, media_to=media_to)

    def _read_sqlite(
        self,
        reader: SqliteReader,
        table: str,
        columns: Sequence[str],
        runs: Sequence[RunMap],
        *,
        media_to: MediaMove | None,
    ) -> Iterator[tuple[Any, ...]]:
        src = set(reader.columns.get(table, []))
        key = _sqlite_key(reader, table)
        params: list[Any] = []
        exprs: list[str] = []
        payload_fn = "trackio_tool_payload"
        reader.con.create_function(payload_fn, 2, _payload_function(media_to), deterministic=True)
        for col in columns:
            if col == "space_id":
                exprs.append("NULL")
            elif col == "run_id":
                exprs.append(self._run_id_sql(runs, key, src, params))
            elif col in JSON_COLUMNS[table] and col in src:
                q = quote(col)
                needs = f"instr({q}, 'NaN') OR instr({q}, 'Infinity')"
                if media_to is not None:
                    needs += f" OR instr({q}, '\"file_path\"')"
                # TEXT payloads (Trackio < 0.5) all go through the function: one
                # that is not UTF-8 would stop Python's sqlite3 at that row. So do
                # big BLOBs (big_blob_sql): the function's searches (bytes.find) read them
                # ~3x faster than instr, which reads one without these tokens three
                # times; the function gives back the same bytes when nothing changes.
                needs = f"typeof({q}) = 'text' OR {big_blob_sql(q)} OR {needs}"
                call = f"{payload_fn}(CAST({q} AS BLOB), typeof({q}) = 'text')"
                exprs.append(f"CASE WHEN {needs} THEN {call} ELSE {q} END")
            elif col in src:
                exprs.append(quote(col))
            elif col in DEFAULTS:
                exprs.append("?")
                params.append(DEFAULTS[col])
            elif col in JSON_COLUMNS[table]:
                exprs.append("?")
                params.append(b"{}")
            else:
                exprs.append("NULL")
        keys = [r.key for r in runs]
        marks = ",".join("?" * len(keys))
        order = " ORDER BY id" if "id" in src else ""
        where = f"{key} IN ({marks})"
        if table == "configs":
            # One config per run. A legacy file that Trackio 0.24-0.40 appended to holds
            # two rows for a resumed run (run_id = a uuid, then run_id = its name): the
            # last one written is the run's config.
            where += f" AND rowid IN (SELECT MAX(rowid) FROM configs GROUP BY {key})"
        if order:
            # The rows by rowid, which is id in Trackio's tables: SQLite then reads them
            # in order instead of sorting them (a sort copies every selected payload
            # through temporary files, ~0.9 GB for 10,000 rows of 2,000 keys).
            where = f"rowid IN (SELECT rowid FROM {quote(table)} WHERE {where})"
        sql = f"SELECT {', '.join(exprs)} FROM {quote(table)} WHERE {where}{order}"
        cur = reader.execute(sql, [*params, *keys])
        return iter(cur)

    @staticmethod
    def _run_id_sql(runs: Sequence[RunMap], key: str, src: set[str], params: list[Any]) -> str:
        fallback = "run_id" if "run_id" in src else "run_name"
        mapped = [r for r in runs if r.run_id is not None]
        if not mapped:
            return fallback
        whens = []
        for r in mapped:
            whens.append("WHEN ? THEN ?")
            params.extend([r.key, r.run_id])
        return f"CASE {key} {' '.join(whens)} ELSE {fallback} END"

    def _read_parquet(
        self,
        reader: ParquetReader,
        table: str,
        columns: Sequence[str],
        runs: Sequence[RunMap],
        *,
        media_to: MediaMove | None,
    ) -> Iterator[tuple[Any, ...]]:
        frame = self.frame(table)
        if frame is None:
            return iter(())
        key = _parquet_key(reader, frame)
        selected = frame.filter(pl.col(key).cast(pl.String).is_in([r.key for r in runs]))
        return _iter_packed(selected, table, columns, runs, key=key, media_to=media_to)


def _iter_packed(
    frame: pl.DataFrame,
    table: str,
    columns: Sequence[str],
    runs: Sequence[RunMap],
    *,
    key: str,
    media_to: MediaMove | None,
) -> Iterator[tuple[Any, ...]]:
    # Pack the next slice in a background thread (polars releases the GIL)
    # while SQLite inserts this one.
    packed = (
        to_table_frame(chunk, table, columns, runs, key=key, media_to=media_to)
        for chunk in frame.iter_slices(SLICE_ROWS)
    )
    for chunk in _prefetch(packed, depth=1):
        yield from chunk.iter_rows()


def to_table_frame(
    frame: pl.DataFrame,
    table: str,
    columns: Sequence[str],
    runs: Sequence[RunMap],
    *,
    key: str,
    media_to: MediaMove | None,
) -> pl.DataFrame:
    """A parquet table's rows as the target table's columns (payloads as Binary)."""
    structural = PARQUET_STRUCTURAL.get(table)
    payloads: dict[str, pl.Expr] = {}
    if structural is not None:
        json_col = JSON_COLUMNS[table][0]
        raw = frame.schema.get(json_col)
        if table == "metrics" and raw in (pl.String, pl.Binary):
            # 0.2.2-0.2.3 exports kept the JSON column itself: copy it.
            text = pl.col(json_col).cast(pl.String)
        else:
            packed = [c for c in frame.columns if c not in structural]
            text = pl.lit(
                pack_json(
                    frame,
                    packed,
                    keep_null=_config_keep_null if table == "configs" else None,
                    media_to=media_to,
                )
            )
            media_to = None  # already moved, value by value
        payloads[json_col] = text
    else:
        for col in JSON_COLUMNS[table]:
            if col in frame.columns:
                payloads[col] = pl.col(col).cast(pl.String)
    ids = {r.key: r.run_id for r in runs if r.run_id is not None}
    exprs: list[pl.Expr] = []
    for col in columns:
        if col == "space_id":
            exprs.append(pl.lit(None, dtype=pl.String).alias(col))
        elif col == "run_id":
            fallback = pl.col("run_id") if "run_id" in frame.columns else pl.col("run_name")
            fallback = fallback.cast(pl.String)
            expr = (
                pl.col(key)
                .cast(pl.String)
                .replace_strict(list(ids), list(ids.values()), default=fallback)
                if ids
                else fallback
            )
            exprs.append(expr.alias(col))
        elif col in payloads:
            text = payloads[col]
            if media_to is not None:
                text = media_to.json_expr(text)
            default = DEFAULTS.get(col, "{}")
            exprs.append(text.fill_null(pl.lit(default)).cast(pl.Binary).alias(col))
        elif col in frame.columns:
            dtype = frame.schema[col]
            value = pl.col(col)
            if isinstance(dtype, pl.Null) or not (dtype.is_numeric() or dtype == pl.String):
                value = value.cast(pl.String)
            if col in DEFAULTS:
                value = value.fill_null(pl.lit(DEFAULTS[col]))
            exprs.append(value.alias(col))
        elif col in DEFAULTS:
            exprs.append(pl.lit(DEFAULTS[col]).alias(col))
        else:
            exprs.append(pl.lit(None).alias(col))
    return frame.select(exprs)
