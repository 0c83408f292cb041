"""Read Trackio parquet exports: ``<project>.parquet`` + sidecars, and static exports (§7).

Exports are wide: one column per top-level metric key, nested dicts as struct
columns. Which version wrote them shows in the data: <= 0.23 turned NaN into
null and ints with gaps into doubles; 0.2.2-0.2.3 kept the raw JSON column.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import IO, Any, cast

import polars as pl

from trackio_tool.errors import (
    CorruptFileError,
    NotATrackioFileError,
    SourceError,
    SourcePermissionError,
)
from trackio_tool.sources import ProjectFiles
from trackio_tool.store import _decode
from trackio_tool.store.sqlite import STRUCTURAL


def read_parquet_file(pf: ProjectFiles, path: str, *, what: str) -> pl.DataFrame:
    """A parquet file on any filesystem, with errors in one line."""
    try:
        with pf.fs.open(path, "rb") as fh:
            if pf.is_local:
                return pl.read_parquet(cast("IO[bytes]", fh))
            # A remote file is read whole first: polars panics (300 lines on stderr)
            # when a read on a Python file object fails, as a lost connection does.
            try:
                data = fh.read()
            except (FileNotFoundError, PermissionError):
                raise
            except ConnectionError as exc:  # reset, aborted: worth another try
                reason = str(exc) or "no reason given"
                raise SourceError(
                    f"could not read {pf.url_prefix}{path}: the connection to the remote"
                    f" source failed ({type(exc).__name__}: {reason}); try again"
                ) from exc
            except OSError as exc:
                raise SourceError(f"could not read {pf.url_prefix}{path}: {exc}") from exc
        return pl.read_parquet(io.BytesIO(cast(bytes, data)))
    except FileNotFoundError as exc:
        raise NotATrackioFileError(f"{what} not found: {pf.url_prefix}{path}") from exc
    except PermissionError as exc:
        raise SourcePermissionError(
            f"permission denied: cannot read {pf.url_prefix}{path}"
        ) from exc
    except (pl.exceptions.ComputeError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CorruptFileError(
            f"{pf.url_prefix}{path} is not a readable parquet file ({first})"
        ) from exc


class ParquetReader:
    """A parquet or static-export project held in memory as polars frames."""

    def __init__(self, pf: ProjectFiles) -> None:
        self.pf = pf
        metrics_path = f"{pf.path.rstrip('/')}/metrics.parquet" if pf.kind == "static" else pf.path
        self.label = pf.url_prefix + metrics_path
        frame = read_parquet_file(pf, metrics_path, what="metrics parquet")
        if "run_name" not in frame.columns:
            raise NotATrackioFileError(
                f"{self.label} is not a Trackio export: it has no run_name column"
            )
        missing = frame.get_column("run_name").null_count()
        if missing:
            # Trackio <= 0.21 let a metric named run_name overwrite the column in its
            # export: those rows' runs cannot be told any more, and the rest may be wrong.
            raise CorruptFileError(
                f"{self.label}: {missing:,} of {frame.height:,} rows have no run_name, so their"
                " runs cannot be told (an export by Trackio <= 0.21 of a run that logged a"
                " metric named 'run_name' looks like this); export the .db again"
            )
        step = frame.schema.get("step")
        if step is not None and not (step.is_numeric() or isinstance(step, pl.Null)):
            raise NotATrackioFileError(
                f"{self.label} is not a Trackio export: its step column holds {step}, not numbers"
            )
        if "metrics" in frame.columns and frame.schema["metrics"] in (pl.String, pl.Binary):
            # 0.2.2-0.2.3 exports kept the JSON payload column: expand it like a DB.
            decoded = _decode.decode_payloads(frame.get_column("metrics"))
            frame = pl.concat([frame.drop("metrics"), decoded], how="horizontal")
        self.metrics = frame
        self._side: dict[str, pl.DataFrame] = {}
        self.companions = dict(pf.companions)

    @property
    def run_key_column(self) -> str:
        return "run_id" if "run_id" in self.metrics.columns else "run_name"

    @property
    def metric_columns(self) -> list[str]:
        return [c for c in self.metrics.columns if c not in STRUCTURAL]

    def side(self, table: str) -> pl.DataFrame | None:
        if table not in self.companions:
            return None
        if table not in self._side:
            self._side[table] = read_parquet_file(
                self.pf, self.companions[table], what=f"{table} parquet"
            )
        return self._side[table]

    def _key_expr(self) -> pl.Expr:
        return pl.col(self.run_key_column).cast(pl.String).alias("run_key")

    def run_index(self) -> pl.DataFrame:
        m = self.metrics.with_row_index("_row")
        step = pl.col("step") if "step" in m.columns else pl.lit(None, dtype=pl.Int64)
        ts = (
            pl.col("timestamp").cast(pl.String)
            if "timestamp" in m.columns
            else pl.lit(None, dtype=pl.String)
        )
        rid = (
            pl.col("run_id").cast(pl.String)
            if "run_id" in m.columns
            else pl.lit(None, dtype=pl.String)
        )
        return (
            m.group_by(self._key_expr(), pl.col("run_name").cast(pl.String))
            .agg(
                rid.first().alias("run_id"),
                pl.len().cast(pl.Int64).alias("rows"),
                step.min().cast(pl.Int64).alias("step_min"),
                step.max().cast(pl.Int64).alias("step_max"),
                ts.min().alias("first"),
                ts.max().alias("last"),
                pl.col("_row").min().alias("_first_row"),
            )
            # Rows with no run (a null run_name, which trackio never exports) belong to none.
            .filter(pl.col("run_key").is_not_null())
            .sort("_first_row")
            .select(
                "run_key", "run_id", "run_name", "rows", "step_min", "step_max", "first", "last"
            )
        )

    def metric_keys(self, run_keys: Sequence[str] | None = None) -> pl.DataFrame:
        """Columns with at least one non-null value, per run."""
        cols = self.metric_columns
        # Columns by name and position, never pl.col(name): a metric may be "*" or "^a$",
        # and the run key gets a name no metric has (one may be called "run_key").
        by = "\x00run_key"
        while {by, by + "m", by + "p"} & set(cols):
            by += "_"
        key = self.metrics.select(self._key_expr()).to_series().alias(by)
        # Columns renamed by position: pl.DataFrame renames a column called "" (a
        # metric logged as trackio.log({"": x})) to column_N.
        named = {f"{by}{i}": c for i, c in enumerate(cols)}
        frame = pl.DataFrame(
            [key, *(self.metrics.get_column(c).alias(n) for n, c in zip(named, cols, strict=True))]
        )
        if run_keys is not None:
            frame = frame.filter(pl.col(by).is_in(list(run_keys)))
        if not cols:
            return pl.DataFrame(schema={"run_key": pl.String, "metric": pl.String})
        present = frame.group_by(by).agg(
            pl.nth(i).is_not_null().any() for i in range(1, len(cols) + 1)
        )
        name, flag = by + "m", by + "p"
        return (
            present.unpivot(index=by, variable_name=name, value_name=flag)
            .filter(pl.col(flag))
            .select(
                pl.col(by).alias("run_key"),
                pl.col(name).replace_strict(named, return_dtype=pl.String).alias("metric"),
            )
        )

    def _side_key(self, side: pl.DataFrame) -> str:
        return (
            "run_id" if "run_id" in side.columns and self.run_key_column == "run_id" else "run_name"
        )

    def side_counts(self, table: str) -> pl.DataFrame:
        schema = {"run_key": pl.String, "n": pl.Int64}
        side = self.side(table)
        if side is None or not side.height:
            return pl.DataFrame(schema=schema)
        key = self._side_key(side)
        if key not in side.columns:
            return pl.DataFrame(schema=schema)
        return side.group_by(pl.col(key).cast(pl.String).alias("run_key")).agg(
            pl.len().cast(pl.Int64).alias("n")
        )

    def read_numeric(
        self, run_keys: Sequence[str] | None = None, *, table: str = "metrics"
    ) -> pl.DataFrame:
        if table == "metrics":
            # Metric columns renamed so none is taken for run_key (_decode.metric_column).
            frame = _decode.escape_metrics(self.metrics, keep=STRUCTURAL).with_columns(
                self._key_expr()
            )
        else:
            side = self.side(table)
            if side is None:
                return pl.DataFrame(
                    schema={"run_key": pl.String, "step": pl.Int64, "timestamp": pl.String}
                )
            frame = _decode.escape_metrics(side, keep=STRUCTURAL).with_columns(
                pl.col(self._side_key(side)).cast(pl.String).alias("run_key")
            )
        if run_keys is not None:
            frame = frame.filter(pl.col("run_key").is_in(list(run_keys)))
        base = frame.select(
            "run_key",
            (
                pl.col("step").cast(pl.Int64)
                if "step" in frame.columns
                else pl.lit(None, dtype=pl.Int64)
            ).alias("step"),
            (
                pl.col("timestamp").cast(pl.String)
                if "timestamp" in frame.columns
                else pl.lit(None, dtype=pl.String)
            ).alias("timestamp"),
        )
        # By name, not select(name): a metric may be called "*" or "^a$".
        # As Series, not a frame: pl.DataFrame renames a column called "" to column_N.
        numeric = _numeric_columns(
            [frame.get_column(c) for c in frame.columns if c not in STRUCTURAL and c != "run_key"]
        )
        return pl.concat([base, numeric], how="horizontal") if numeric.width else base

    def configs(self) -> dict[str, dict[str, Any]]:
        side = self.side("configs")
        if side is None:
            return {}
        key = self._side_key(side)
        out: dict[str, dict[str, Any]] = {}
        structural = STRUCTURAL | {"created_at"}
        for row in side.iter_rows(named=True):  # one row per run: tiny
            out[str(row[key])] = {
                k: v for k, v in row.items() if k not in structural and v is not None
            }
        return out

    def runs_json(self) -> list[dict[str, Any]] | None:
        if not self.pf.runs_json:
            return None
        try:
            with self.pf.fs.open(self.pf.runs_json, "rb") as fh:
                value = json.loads(fh.read())
        except (OSError, ValueError):
            return None
        return value if isinstance(value, list) else None


def _numeric_columns(columns: Sequence[pl.Series]) -> pl.DataFrame:
    def leaf(path: tuple[str, ...], s: pl.Series) -> list[_decode.Leaf]:
        dt, name = s.dtype, "/".join(path)
        if dt.is_integer():
            as_int = s.cast(pl.Int64, strict=False)  # a uint64 may pass 2**63 (a seed)
            exact = as_int.null_count() == s.null_count()
            return [(path, (as_int if exact else s.cast(pl.Float64)).alias(name))]
        if dt.is_float():
            return [(path, s.cast(pl.Float64).alias(name))]
        if dt == pl.String:
            # Text is not a number, however it reads ("3", "1e3"); only Trackio's
            # "NaN"/"Infinity"/"-Infinity" strings are (older exports kept some).
            # Under a plain name: polars runs these as pl.col(<name>), and a metric
            # called "^a$" would be a regex (IndexError, found by the read-side fuzz).
            v = s.alias("v")
            if v.is_in(list(_decode.NONFINITE)).any():
                typed = v.replace_strict(_decode.NONFINITE, default=None, return_dtype=pl.Float64)
                return [(path, typed.alias(name))]
        return []

    return _decode.numeric_leaves(((c.name, c) for c in columns), leaf)
