"""Runs of several projects as plot-ready series: the data behind ``plot``.

Everything here is polars (plus tsdownsample for the shape-preserving
reduction); figures are drawn by ``commands/_charts.py`` from a ``PlotData``.

* runs of all projects are collected into one frame and labelled: a bare name
  where it is unique, ``project:run`` where the name exists in several
  projects, ``name (id8)`` where one project holds two runs of that name;
* ``--run`` accepts bare names, ``project:run`` and run ids (or id prefixes);
* metrics are chosen by glob and ordered by their ``/`` prefix;
* each (run, metric) becomes one trace: finite points, NaN/inf kept as gaps,
  an optional centred moving average, and at most ``max_points`` points.
"""

from __future__ import annotations

import contextlib
import fnmatch
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import polars as pl

from trackio_tool import _waiting
from trackio_tool.errors import AmbiguousRunError, OutputError, RunNotFoundError
from trackio_tool.sources import ProjectFiles
from trackio_tool.store import select
from trackio_tool.store._decode import invalid_payloads, metric_name
from trackio_tool.store._labels import project_labels
from trackio_tool.store.numeric import read_float_series
from trackio_tool.store.project import Project, open_project

XMode = Literal["step", "time", "relative"]
DEFAULT_MAX_POINTS = 2000
STRUCTURAL = ("run_key", "step", "timestamp")
_ISO_AWARE = "%Y-%m-%dT%H:%M:%S%.f%#z"
_ISO_NAIVE = "%Y-%m-%dT%H:%M:%S%.f"


@dataclass(frozen=True)
class Run:
    """One selected run and how the chart names it."""

    project: str
    """The project's label: its name, qualified by folder when two sources share it."""
    name: str
    id: str | None
    key: str
    """The run's key inside its project (run_id where the files have one)."""
    label: str


@dataclass(frozen=True)
class Trace:
    """One line: a metric of one run, ready to draw."""

    metric: str
    run: int
    """Index into ``PlotData.runs``."""
    x: pl.Series
    y: pl.Series
    """Float64; NaN where the line breaks (a logged NaN or +-inf)."""
    raw_x: pl.Series | None = None
    raw_y: pl.Series | None = None
    """With smoothing: the raw values, drawn faint under the average."""
    logged: int = 0
    """Values logged (finite or not) before downsampling."""
    nonfinite: int = 0
    nonpositive: int | None = None
    """Finite values <= 0 before downsampling (a log axis cannot draw them); None: not counted."""

    @property
    def finite(self) -> int:
        return self.logged - self.nonfinite


@dataclass(frozen=True)
class PlotData:
    projects: list[str]
    runs: list[Run]
    metrics: list[str]
    """Charts in display order (grouped by ``/`` prefix)."""
    traces: list[Trace]
    x_mode: XMode
    x_title: str
    table: str
    notes: list[str] = field(default_factory=list)

    def traces_of(self, metric: str) -> list[Trace]:
        return [t for t in self.traces if t.metric == metric]

    @property
    def title(self) -> str:
        shown = ", ".join(self.projects[:4])
        if len(self.projects) > 4:
            shown += f" and {len(self.projects) - 4} more"
        return shown + (" - system metrics" if self.table == "system_metrics" else "")


# -- runs: labels and selection ---------------------------------------------------


def label_runs(runs: pl.DataFrame) -> pl.Series:
    """Chart labels for ``runs`` (columns ``project``, ``run_name``, ``run_id``).

    A name found in one project only stays bare; one found in several projects
    becomes ``project:name``; runs sharing a name inside one project (trackio
    >= 0.24) get the first 8 characters of their id (more if those collide).
    """
    if not runs.height:
        return pl.Series("label", [], dtype=pl.String)
    spread = runs.group_by("run_name").agg(pl.col("project").n_unique().alias("_np"))
    same = runs.group_by("project", "run_name").agg(pl.len().alias("_nr"))
    frame = (
        runs.with_row_index("_i")
        .join(spread, on="run_name", how="left")
        .join(same, on=["project", "run_name"], how="left")
        .sort("_i")
    )
    labels: list[str] = []
    width: dict[tuple[str, str], int] = {}
    for project, name, nr in frame.select("project", "run_name", "_nr").rows():
        if nr > 1 and (project, name) not in width:
            ids = frame.filter((pl.col("project") == project) & (pl.col("run_name") == name))
            width[(project, name)] = _id_width([str(i or "") for i in ids["run_id"].to_list()])
    ordinal: dict[tuple[str, str], int] = {}
    bare: list[bool] = []
    projects = frame.get_column("project").to_list()
    for project, name, rid, np_, nr in frame.select(
        "project", "run_name", "run_id", "_np", "_nr"
    ).rows():
        label = name if np_ == 1 else f"{project}:{name}"
        if nr > 1:
            if rid:
                label += f" ({str(rid)[: width[(project, name)]]})"
            else:
                k = ordinal.get((project, name), 0) + 1
                ordinal[(project, name)] = k
                label += f" (#{k})"
        labels.append(label)
        bare.append(np_ == 1)
    return pl.Series("label", _distinct(labels, bare, projects), dtype=pl.String)


def _distinct(labels: list[str], bare: list[bool], projects: list[str]) -> list[str]:
    """Labels of distinct runs kept distinct: a bare name that reads like another run's
    ``project:run`` (run ``x:y`` of project z, run ``y`` of project x) is qualified too,
    and whatever still collides (names built to) gets ``#2``, ``#3``..."""
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    out = [
        f"{project}:{label}" if is_bare and counts[label] > 1 else label
        for label, is_bare, project in zip(labels, bare, projects, strict=True)
    ]
    seen: set[str] = set()
    for i, label in enumerate(out):
        k, unique = 2, label
        while unique in seen:
            unique = f"{label} #{k}"
            k += 1
        seen.add(unique)
        out[i] = unique
    return out


def _id_width(ids: list[str], start: int = 8) -> int:
    width = start
    while width < max((len(i) for i in ids), default=0) and len({i[:width] for i in ids}) < len(
        ids
    ):
        width += 4
    return width


def select_runs(runs: pl.DataFrame, selectors: Sequence[str]) -> pl.DataFrame:
    """The rows of ``runs`` named by ``selectors`` (all when empty), in their order.

    ``runs`` has ``uid, project, project_name, run_key, run_id, run_name``. A
    selector is a bare run name, ``project:run``, a run id or a unique id prefix
    (>= 6 characters). A bare name found in several projects is refused with
    the list of projects; an unknown one gets the closest names.
    """
    if not selectors:
        return runs
    chosen: set[int] = set()
    for sel in (x for value in selectors for x in select.expand(value, _names_a_run(runs))):
        chosen.update(_match_one(runs, sel).get_column("uid").to_list())
    return runs.filter(pl.col("uid").is_in(sorted(chosen)))


def _names_a_run(runs: pl.DataFrame) -> Callable[[str], bool]:
    """Whether a selector, commas and all, names some run (bare or as ``project:run``)."""

    def test(sel: str) -> bool:
        try:
            _match_one(runs, sel)
        except (RunNotFoundError, AmbiguousRunError) as exc:
            return isinstance(exc, AmbiguousRunError)
        return True

    return test


def _match_one(runs: pl.DataFrame, sel: str) -> pl.DataFrame:
    # PROJECT:RUN, split at each ':' in turn: a project may be called exp:v2.
    hits: list[pl.DataFrame] = []
    missed: tuple[str, str, pl.DataFrame] | None = None
    for i in (i for i, ch in enumerate(sel) if ch == ":"):
        project, name = sel[:i], sel[i + 1 :]
        scope = runs.filter((pl.col("project") == project) | (pl.col("project_name") == project))
        if scope.height:
            hit = _match_bare(scope, name)
            if hit is not None:
                hits.append(hit)
            else:  # the longest project that holds no such run is named in the error
                missed = (project, name, scope)
    if len(hits) > 1:
        raise AmbiguousRunError(
            f"--run {sel!r} names runs of {len(hits)} projects"
            f" ({', '.join(h.get_column('project')[0] for h in hits)}); select one by its id"
        )
    if hits:
        return hits[0]
    hit = _match_bare(runs, sel)
    if hit is not None:
        return hit
    if missed is not None:
        project, name, scope = missed
        raise select.not_found(name, scope.get_column("run_name").to_list(), f"project {project}")
    projects = runs.get_column("project").unique(maintain_order=True).to_list()
    where = (
        projects[0] if len(projects) == 1 else f"{len(projects)} projects ({', '.join(projects)})"
    )
    raise select.not_found(sel, runs.get_column("run_name").to_list(), where)


def _match_bare(runs: pl.DataFrame, sel: str) -> pl.DataFrame | None:
    found = [
        hit
        for part in runs.partition_by("project", maintain_order=True)
        if (hit := select.match(part, sel)).height
    ]
    if len(found) > 1:
        projects = [h.get_column("project")[0] for h in found]
        raise AmbiguousRunError(
            f"run {sel!r} exists in {len(found)} projects ({', '.join(projects)});"
            f" name one as PROJECT:RUN, e.g. --run {projects[0]}:{sel}"
        )
    return found[0] if found else None


# -- metrics: choice and order ----------------------------------------------------------


def metric_order(name: str) -> tuple[int, str, str]:
    """Ungrouped metrics first, then groups by ``/`` prefix, each sorted by name."""
    prefix, sep, _ = name.partition("/")
    return (1, prefix, name) if sep else (0, "", name)


def order_metrics(names: Iterable[str]) -> list[str]:
    return sorted(set(names), key=metric_order)


def split_patterns(values: Iterable[str] | None) -> list[str]:
    """``--metric 'train/*,loss' --metric acc`` -> three patterns."""
    return select.split_commas(values)


def expand_patterns(values: Iterable[str], available: Iterable[str]) -> list[str]:
    """``--metric`` values as patterns: a value that is a metric's exact name stays whole
    (a metric may be called ``lr=1e-3,bs=32``, like a run), others are split at commas."""
    names = set(available)
    return [p for v in values for p in ([v] if v in names else split_patterns([v]))]


def _candidates(values: Sequence[str]) -> list[str]:
    """Patterns for every way ``expand_patterns`` may read ``values`` (whole or split)."""
    return [*values, *split_patterns(values)]


def _matches(name: str, pattern: str) -> bool:
    """A glob, or a metric's exact name (``acc[0]`` is a character class to fnmatch)."""
    return name == pattern or fnmatch.fnmatchcase(name, pattern)


def match_metrics(names: Iterable[str], patterns: Sequence[str]) -> list[str]:
    """Names matching any glob (or exact name) of ``patterns`` (all when none), in chart order."""
    names = list(names)
    if not patterns:
        return order_metrics(names)
    return order_metrics(n for n in names if any(_matches(n, p) for p in patterns))


def check_patterns(available: Iterable[str], patterns: Sequence[str], where: str) -> None:
    """Refuse a ``--metric`` pattern that matched nothing (most likely a typo)."""
    available = sorted(set(available))
    for p in patterns:
        if not any(_matches(n, p) for n in available):
            hint = select.suggestions(p, available)
            tail = f"; closest: {hint}" if hint else f"; metrics: {', '.join(available[:10])}"
            raise OutputError(f"nothing to plot: no numeric metric in {where} matches {p!r}{tail}")


# -- x axis ---------------------------------------------------------------------------


def parse_timestamps(ts: pl.Expr) -> pl.Expr:
    """Trackio timestamps as naive UTC datetimes (µs).

    0.17+ writes ``...+00:00``; older versions wrote the writer's local time
    without an offset, which is kept as is (no zone is known for it). Date and
    time may be separated by a space instead of 'T'.
    """
    # A space for the 'T' (str(datetime), or a CSV brought in by trackio.import_csv).
    ts = ts.str.replace(r"^(\d{4}-\d\d-\d\d) ", "${1}T")
    aware = ts.str.strptime(pl.Datetime("us", "UTC"), _ISO_AWARE, strict=False)
    naive = ts.str.strptime(pl.Datetime("us"), _ISO_NAIVE, strict=False)
    return pl.coalesce(aware.dt.replace_time_zone(None), naive)


def _zone_title(stamps: pl.Series) -> str:
    present = stamps.drop_nulls()
    aware = present.str.contains(r"(?:[+-]\d\d:?\d\d|Z)$")
    if present.is_empty() or aware.all():
        return "time (UTC)"
    if not aware.any():
        return "time (as logged: the writer's local time)"
    return "time (UTC; runs logged before trackio 0.17 in the writer's local time)"


def with_x(frame: pl.DataFrame, mode: XMode) -> pl.DataFrame:
    """Add ``_x``: the Int64 step, a Datetime, or Float64 seconds since the run's start."""
    if mode == "step":
        x = pl.col("step")
    else:
        t = parse_timestamps(pl.col("timestamp"))
        if mode == "time":
            x = t
        else:
            x = (t - t.min().over("run_key")).dt.total_microseconds() / 1e6
    return frame.with_columns(x.alias("_x"))


def relative_unit(max_seconds: float) -> tuple[str, float]:
    """A readable unit for seconds since start: s, min or h."""
    if max_seconds < 180:
        return "s", 1.0
    if max_seconds < 3 * 3600:
        return "min", 60.0
    return "h", 3600.0


# -- one trace: gaps, smoothing, downsampling -----------------------------------------


def smooth(y: pl.Series, window: int) -> pl.Series:
    """Centred moving average over ``window`` logged points (shrinks at the ends)."""
    if window <= 1 or y.is_empty():
        return y
    mean = y.rolling_mean(window_size=window, center=True, min_samples=1)
    # A sliding sum drifts in the last bits (0.9 -> 0.8999999999999999), which a
    # chart of a constant metric would magnify into fake dips: round it away.
    return mean.round_sig_figs(12)


def _gaps_as_nan(y: pl.Series) -> pl.Series:
    """NaN for +-inf too: plotly breaks a line at NaN only."""
    if y.is_finite().all():
        return y
    return pl.select(pl.when(y.is_finite()).then(y).otherwise(math.nan).alias(y.name)).to_series()


def _numbers(x: Any) -> Any:
    """An x array as numbers tsdownsample can bucket (datetimes as int64 µs)."""
    return x.view("int64") if x.dtype.kind == "M" else x


def downsample_indices(x: Any, y: Any, max_points: int) -> Any:
    """Rows of (``x``, ``y``) numpy arrays to draw: at most ``max_points``.

    ``x`` is sorted; non-finite ``y`` mark gaps. A trace that fits is kept
    whole, every non-finite value a gap. A longer one is cut into equal x
    buckets; each keeps its lowest and highest finite value (tsdownsample's
    MinMax: every spike survives, the trace's min and max are always kept),
    the first and last points are kept, and a run of non-finite values stays a
    gap when it is at least one bucket wide (a narrower one would be under a
    pixel; the chart title still counts the values).
    """
    import numpy as np

    n = len(y)
    if n <= max_points:
        return np.arange(n)
    from tsdownsample import MinMaxDownsampler

    xn = _numbers(x)
    finite = np.isfinite(y)
    everywhere = bool(finite.all())
    fidx = np.arange(n) if everywhere else np.flatnonzero(finite)
    budget = max_points - 2  # the first and last finite points are always kept
    gaps = np.empty(0, dtype=np.int64)
    buckets = max(1, budget // 2)
    if not everywhere:
        xf64 = xn.astype(np.float64)
        gaps, spans = _visible_gaps(xf64, finite, buckets)
        if len(gaps) > budget // 2:  # keep the widest: they are what a reader can see
            gaps = np.sort(gaps[np.argsort(-spans, kind="stable")[: budget // 2]])
        buckets = max(1, (budget - len(gaps)) // 2)
    keep = [fidx[[0, -1]], gaps] if len(fidx) else [gaps]
    if len(fidx) > 2 * buckets:
        xf, yf = (xn, y) if everywhere else (xn[fidx], y[fidx])
        chosen = MinMaxDownsampler().downsample(
            np.ascontiguousarray(xf), np.ascontiguousarray(yf), n_out=2 * buckets
        )
        keep.append(fidx[chosen])
    else:
        keep.append(fidx)
    # Sorted, without repeats: a mark per row (np.unique sorts; ~6x slower on 50k rows).
    marked = np.zeros(n, dtype=bool)
    for rows in keep:
        marked[rows] = True
    return np.flatnonzero(marked)


def _visible_gaps(x: Any, finite: Any, buckets: int) -> tuple[Any, Any]:
    """First row of each non-finite run whose gap spans a bucket or more, and its span."""
    import numpy as np

    bad = ~finite
    starts = np.flatnonzero(bad & np.r_[True, finite[:-1]])
    ends = np.flatnonzero(bad & np.r_[finite[1:], True])
    inner = (starts > 0) & (ends < len(x) - 1)  # a gap needs a line on both sides
    starts, ends = starts[inner], ends[inner]
    width = (x[-1] - x[0]) / buckets
    spans = x[ends + 1] - x[starts - 1]
    wide = spans >= width
    return starts[wide], spans[wide]


def downsample(x: pl.Series, y: pl.Series, max_points: int) -> tuple[pl.Series, pl.Series]:
    """``downsample_indices`` on polars Series; non-finite values come back as NaN
    (plotly breaks lines at NaN only)."""
    rows = downsample_indices(x.to_numpy(), y.cast(pl.Float64).to_numpy(), max_points)
    if len(rows) == len(y):
        return x, _gaps_as_nan(y.cast(pl.Float64))
    return x.gather(rows), _gaps_as_nan(y.cast(pl.Float64).gather(rows))


def make_trace(
    metric: str,
    run: int,
    x: Any,
    y: Any,
    *,
    window: int = 0,
    max_points: int = DEFAULT_MAX_POINTS,
) -> Trace:
    """A trace from one run's values (numpy or polars, sorted by x, nothing absent)."""
    import numpy as np

    xa = x.to_numpy() if isinstance(x, pl.Series) else x
    ya = np.asarray(y.to_numpy() if isinstance(y, pl.Series) else y, dtype=np.float64)
    finite = np.isfinite(ya)
    nonfinite = len(ya) - int(finite.sum())
    nonpositive = int(np.count_nonzero(finite & (ya <= 0)))

    def series(xv: Any, yv: Any) -> tuple[pl.Series, pl.Series]:
        rows = downsample_indices(xv, yv, max_points)
        ys = yv[rows] if len(rows) < len(yv) else yv.copy()
        ys[~np.isfinite(ys)] = np.nan
        return pl.Series("x", xv[rows]), pl.Series("y", ys)

    if window > 1:
        xf, yf = xa[finite], ya[finite]
        ys_ = smooth(pl.Series("y", yf), window).to_numpy()
        xs, ys = series(xf, np.array(ys_, dtype=np.float64))
        rx, ry = series(xa, ya)
        return Trace(metric, run, xs, ys, rx, ry, len(ya), nonfinite, nonpositive)
    xs, ys = series(xa, ya)
    return Trace(metric, run, xs, ys, None, None, len(ya), nonfinite, nonpositive)


# -- collect --------------------------------------------------------------------------


def _run_frame(projects: list[Project]) -> pl.DataFrame:
    labels = project_labels([p.name for p in projects], [p.source for p in projects])
    parts = [
        p.run_index()
        .select("run_key", "run_id", "run_name", "rows")
        .with_columns(
            pl.lit(i, dtype=pl.UInt32).alias("pidx"),
            pl.lit(label).alias("project"),
            pl.lit(p.name).alias("project_name"),
        )
        for i, (p, label) in enumerate(zip(projects, labels, strict=True))
    ]
    runs = pl.concat(parts) if parts else pl.DataFrame()
    runs = runs.with_row_index("uid")
    return runs.with_columns(label_runs(runs))


def collect(
    files: Sequence[ProjectFiles],
    *,
    runs: Sequence[str] = (),
    metrics: Sequence[str] = (),
    x: XMode = "step",
    window: int = 0,
    max_points: int = DEFAULT_MAX_POINTS,
    system: bool = False,
    refresh: bool = False,
    quiet: bool = True,
    on_selected: Callable[[int], None] | None = None,
) -> PlotData:
    """Read the selected runs of every project and build one trace per (metric, run).

    ``metrics`` are ``--metric`` values: globs or exact names, comma-separated
    unless a value is one metric's exact name (``expand_patterns``).
    ``on_selected(rows)`` is called once the runs are resolved, before the
    payloads are read, with the number of metric rows about to be read (the
    CLI uses it to start a browser while the data loads).
    """
    table = "system_metrics" if system else "metrics"
    unreadable = invalid_payloads()
    with contextlib.ExitStack() as stack:
        projects = [
            stack.enter_context(open_project(f, refresh=refresh, quiet=quiet)) for f in files
        ]
        frame = _run_frame(projects)
        chosen = select_runs(frame, runs)
        run_list = [
            Run(r["project"], r["run_name"], r["run_id"], r["run_key"], r["label"])
            for r in chosen.iter_rows(named=True)
        ]
        position = {
            (r["pidx"], r["run_key"]): i for i, r in enumerate(chosen.iter_rows(named=True))
        }
        if on_selected is not None:
            on_selected(int(chosen.get_column("rows").sum() or 0))
        available: set[str] = set()
        frames: list[tuple[int, pl.DataFrame]] = []
        for pidx, project in enumerate(projects):
            keys = chosen.filter(pl.col("pidx") == pidx).get_column("run_key").to_list()
            if not keys:
                continue
            whole = len(keys) == frame.filter(pl.col("pidx") == pidx).height
            # Steps alone need no timestamps, except where a table has no steps at all.
            stamps = x != "step" or system
            data = read_float_series(
                project, None if whole else keys, table=table, timestamps=stamps
            )
            # Metric name -> its column (a metric called "step" has another).
            columns = {metric_name(c): c for c in data.columns if c not in STRUCTURAL}
            available.update(columns)
            # Every reading of a value with commas; the one that holds is kept below.
            wanted = match_metrics(columns, _candidates(metrics))
            if wanted and data.height:
                # Columns by Series: a metric may be called "*" or "^x$".
                picked = [*STRUCTURAL, *(columns[m] for m in wanted)]
                frames.append((pidx, pl.DataFrame([data.get_column(c) for c in picked])))
    patterns = expand_patterns(metrics, available)
    if set(_candidates(metrics)) != set(patterns):  # read whole after all: drop the rest
        keep = set(match_metrics(available, patterns))
        frames = [
            (pidx, pl.DataFrame([f.get_column(c) for c in f.columns if _kept(c, keep)]))
            for pidx, f in frames
        ]
        frames = [(pidx, f) for pidx, f in frames if f.width > len(STRUCTURAL)]
    notes: list[str] = []
    if unreadable := invalid_payloads() - unreadable:
        one = unreadable == 1
        notes.append(
            f"{unreadable:,} {'row' if one else 'rows'} of {table} {'holds' if one else 'hold'}"
            " a payload that cannot be read (not a JSON object, not UTF-8, or a number out of"
            " range such as 1e999; trackio never writes one):"
            f" {'it has' if one else 'they have'} no points"
        )
    mode = x
    if (
        mode == "step"
        and frames
        and all(f.get_column("step").null_count() == f.height for _, f in frames)
    ):
        mode = "relative"  # trackio keeps no steps for system metrics, only times
        notes.append(f"{table} have no steps: x is the time since each run's start")
    x_title = "time (UTC)"
    if mode == "time" and frames:  # none: the "nothing to plot" checks below say why
        x_title = _zone_title(pl.concat([f.get_column("timestamp") for _, f in frames]))
    traces: list[Trace] = []
    # Traces are downsampled on two threads (numpy and tsdownsample work without the GIL).
    with ThreadPoolExecutor(2, thread_name_prefix="trackio-tool-traces") as pool:
        while frames:
            pidx, data = frames.pop(0)  # build one project's traces, then let its frame go
            data = with_x(data, mode)
            wanted = [c for c in data.columns if c not in (*STRUCTURAL, "_x")]
            pending = []
            for key, part in _by_run(data):
                run = position.get((pidx, key))
                if run is None:
                    continue
                if not part.get_column("_x").is_sorted():
                    part = part.sort("_x", maintain_order=True)
                xs = part.get_column("_x")
                has_x = xs.is_not_null().to_numpy()
                xa = xs.to_numpy()
                for metric in wanted:
                    ys = part.get_column(metric).alias("y")  # "^a$" is a pattern to polars
                    # No nulls (the usual case): no mask to build.
                    present = ys.is_not_null().to_numpy() & has_x if ys.null_count() else has_x
                    if not present.any():
                        continue
                    ya = ys.to_numpy()
                    if not present.all():
                        xv, ya = xa[present], ya[present]
                    else:
                        xv = xa
                    pending.append(
                        pool.submit(
                            make_trace,
                            metric_name(metric),
                            run,
                            xv,
                            ya,
                            window=window,
                            max_points=max_points,
                        )
                    )
            traces.extend(_waiting.result(f) for f in pending)
            del data
    where = _where([r.project for r in run_list] or [p.name for p in projects])
    what = "system metrics" if system else "numeric metrics"
    if patterns:
        check_patterns(available, patterns, where)
    if not traces:
        if not run_list:
            raise OutputError(f"nothing to plot: {where} has no runs")
        raise OutputError(f"nothing to plot: the selected runs of {where} have no {what}")
    if mode == "relative":
        unit, div = relative_unit(max(float(t.x.max() or 0) for t in traces))  # type: ignore[arg-type]
        x_title = f"time since run start ({unit})"
        if div != 1.0:
            traces = [_rescale(t, div) for t in traces]
    elif mode == "step":
        x_title = "step"
    ordered = order_metrics(t.metric for t in traces)
    rank = {m: i for i, m in enumerate(ordered)}
    traces.sort(key=lambda t: (rank[t.metric], t.run))
    notes.extend(_notes(traces, run_list, max_points))
    return PlotData(
        projects=list(dict.fromkeys(r.project for r in run_list)),
        runs=run_list,
        metrics=ordered,
        traces=traces,
        x_mode=mode,
        x_title=x_title,
        table=table,
        notes=notes,
    )


def _by_run(data: pl.DataFrame) -> Iterator[tuple[Any, pl.DataFrame]]:
    """Each run's rows, in the order runs first appear. Rows come in log order, where
    a run's rows are usually one stretch: slices then (no copy; partitioning 1M rows
    copied them all, ~0.15 s); runs logged at the same time are partitioned."""
    stretches = data.get_column("run_key").rle()
    values = stretches.struct.field("value").to_list()
    if len(set(values)) < len(values):
        for (key,), part in data.partition_by("run_key", as_dict=True).items():
            yield key, part
        return
    start = 0
    for key, length in zip(values, stretches.struct.field("len").to_list(), strict=True):
        yield key, data.slice(start, length)
        start += length


def _kept(column: str, metrics: set[str]) -> bool:
    return column in STRUCTURAL or metric_name(column) in metrics


def _rescale(t: Trace, div: float) -> Trace:
    return replace(t, x=t.x / div, raw_x=None if t.raw_x is None else t.raw_x / div)


def _where(projects: Sequence[str]) -> str:
    unique = list(dict.fromkeys(projects))
    return unique[0] if len(unique) == 1 else f"{len(unique)} projects ({', '.join(unique)})"


def _notes(traces: list[Trace], runs: list[Run], max_points: int) -> list[str]:
    notes: list[str] = []
    reduced = sum(1 for t in traces if t.logged > max_points)
    if reduced:
        notes.append(
            f"{reduced} of {len(traces)} lines have more than {max_points:,} points: each was"
            " reduced to the lowest and highest value per x bucket (spikes kept; --max-points)"
        )
    gappy: dict[str, int] = {}
    for t in traces:
        if t.nonfinite:
            gappy[t.metric] = gappy.get(t.metric, 0) + 1
    if gappy:
        shown = [f"{m} ({n} run{'s' if n > 1 else ''})" for m, n in list(gappy.items())[:5]]
        more = f" and {len(gappy) - 5} more" if len(gappy) > 5 else ""
        notes.append("NaN/inf values are drawn as gaps in " + ", ".join(shown) + more)
    used = {t.run for t in traces}
    idle = [r.label for i, r in enumerate(runs) if i not in used]
    if idle:
        notes.append(
            f"no numeric values to plot for run{'s' if len(idle) > 1 else ''}: " + ", ".join(idle)
        )
    return notes
