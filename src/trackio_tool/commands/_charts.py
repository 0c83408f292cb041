"""Charts: plotly figures from ``PlotData``, written as images (kaleido) or HTML.

plotly and kaleido are imported inside functions: ``--help`` never loads them.
One headless Chromium serves the whole command (DEPENDENCIES.md §1): it is
started in the background while a large input is still being read, every
image goes through it, and it is closed on the way out.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import os
import signal
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackio_tool import _waiting
from trackio_tool.commands._output import plural
from trackio_tool.errors import MissingDependencyError, OutputError

if TYPE_CHECKING:
    from trackio_tool.store.series import PlotData, Trace

FORMATS: dict[str, str] = {
    ".webp": "webp",
    ".png": "png",
    ".jpg": "jpg",
    ".jpeg": "jpg",
    ".svg": "svg",
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
}
# Tallest image one file may hold: WebP's format cap, Chromium's canvas cap for
# the other bitmaps; PDF pages are kept to the same size as WebP to be safe.
MAX_HEIGHT: dict[str, int] = {"webp": 16383, "png": 32767, "jpg": 32767, "pdf": 16383}
WIDTH = 1200
COL_WIDTH = 560
ROW_PX = 320
# Past this many charts an HTML page takes a browser minutes to draw (headless Chromium:
# 80 charts 6-11 s, 400 charts 58 s, 2,000 not done after 15 min): say so.
HTML_HEAVY_CHARTS = 200
MIN_ROW_PX = 200
TOP_PX = 80
BOTTOM_PX = 60
TITLE_BAND = 30  # above each chart: its title
TICK_BAND = 40  # below each chart: its x tick labels
MARKERS_UP_TO = 50  # short lines also get markers, so a lone point shows
THIN_FROM = 300  # lines with more points are drawn 1 px wide (see _trace_dicts)
# Reads of at least this many rows start Chromium before reading, so the browser
# boots (3-5 s) while the data loads; small reads start it when it is needed, so
# input errors found while reading never pay for a browser.
EARLY_START_ROWS = 50_000
RENDER_TIMEOUT_S = 600
# Chromium boots and draws the warm-up figure in 2-5 s. One that never answers (a
# broken install, a sandbox that blocks it) used to hang `plot` for ever; past this
# it is an error. TRACKIO_TOOL_BROWSER_TIMEOUT (seconds) changes it.
BOOT_TIMEOUT_S = 60.0
BOOT_TIMEOUT_ENV = "TRACKIO_TOOL_BROWSER_TIMEOUT"
# A polite close takes Chromium well under a second; one that does not answer is
# stopped after this (see Browser._kill).
CLOSE_TIMEOUT_S = 3.0

NO_BROWSER = (
    "image export needs Chrome or Chromium and none was found: install one"
    " (`apt-get install chromium`, or `plotly_get_chrome`), or set BROWSER_PATH to its"
    " executable; .html output needs no browser"
)


@dataclass(frozen=True)
class Target:
    path: Path
    fmt: str


@dataclass(frozen=True)
class Page:
    """One output file: a figure and its pixel size."""

    path: Path
    figure: dict[str, Any]  # a plotly figure dict (see build_figure)
    width: int
    height: int
    charts: int


def check_target(output: str | Path) -> Target:
    """The output file and its format, refused before any data is read."""
    path = Path(os.path.expanduser(output))
    if not path.is_absolute():
        # A deleted current folder fails here (FileNotFoundError, which the boundary
        # explains) rather than after the whole figure was read and rendered.
        path.absolute()
    if path.is_dir() or str(output).endswith(("/", os.sep)):
        raise OutputError(
            f"cannot write {output}: that names a folder; give a file name such as plot.webp"
        )
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        what = f"{path.suffix!r}" if path.suffix else "no extension"
        raise OutputError(
            f"unknown output format for {path.name} ({what}): use .webp, .png, .jpg, .svg, .pdf or .html"
        )
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: permission denied in {parent}")
    return Target(path, fmt)


# -- figures -----------------------------------------------------------------------


def palette(n: int) -> list[str]:
    from plotly import colors

    base = colors.qualitative.Plotly if n <= 10 else colors.qualitative.Dark24
    if n > len(base):
        base = [*base, *colors.qualitative.Light24, *colors.qualitative.Alphabet]
    return [base[i % len(base)] for i in range(n)]


def _template() -> dict[str, Any]:
    # Named templates are resolved by plotly.py, not plotly.js: hand over the dict.
    import plotly.io as pio

    return pio.templates["plotly_white"].to_plotly_json()


def _subtitle(data: PlotData, window: int) -> str:
    runs = len(data.runs)
    parts = [
        f"{runs} run{'s' if runs != 1 else ''}",
        f"{len(data.metrics)} metric{'s' if len(data.metrics) != 1 else ''}",
        f"x: {data.x_title}",
    ]
    if window > 1:
        parts.append(f"smoothed: centred moving average of {window} points over the raw line")
    return ", ".join(parts)


def build_figure(
    data: PlotData,
    metrics: Sequence[str] | None = None,
    *,
    cols: int = 1,
    log_y: bool = False,
    row_px: int = ROW_PX,
    window: int = 0,
    page: str = "",
    compact: bool = False,
) -> dict[str, Any]:
    """One figure as a plotly figure dict: a chart per metric (``cols`` per row), a line
    per run, one legend. Arrays are typed-array specs, so kaleido and the HTML writer
    take it as it is (``plotly.graph_objects.Figure(fig)`` validates it, as tests do).

    ``compact`` (images only): float arrays go as float32 where that cannot move a
    point by a visible amount (``_fits_float32``). The figure travels to Chromium as
    one JSON message, and its size is a good part of the render time; an HTML page
    keeps full precision for its hover labels."""
    metrics = list(data.metrics if metrics is None else metrics)
    cols = max(1, min(cols, len(metrics) or 1))
    rows = max(1, math.ceil(len(metrics) / cols))
    area = rows * row_px
    height = TOP_PX + area + BOTTOM_PX
    width = max(WIDTH, COL_WIDTH * cols)
    colors = palette(len(data.runs))
    gap = 0.06 if cols > 1 else 0.0
    layout: dict[str, Any] = {
        "template": _template(),
        "width": width,
        "height": height,
        "margin": {"t": TOP_PX, "b": BOTTOM_PX, "l": 70, "r": 30},
        "title": {
            "text": f"{_text(data.title)}{page}<br><sup>{_text(_subtitle(data, window))}</sup>",
            "x": 0.01,
            "xanchor": "left",
            "y": 1 - 18 / height,
            "yanchor": "top",
        },
        "showlegend": True,
        "legend": {
            "x": 1.01,
            "xanchor": "left",
            "y": 1,
            "yanchor": "top",
            "title": {"text": "run"},
            "tracegroupgap": 2,
        },
        "hovermode": "closest",
        "annotations": [],
    }
    traces: list[dict[str, Any]] = []
    shown: set[int] = set()
    for i, metric in enumerate(metrics):
        r, c = divmod(i, cols)
        n = "" if i == 0 else str(i + 1)
        top = 1 - (r * row_px + TITLE_BAND) / area
        bottom = 1 - ((r + 1) * row_px - TICK_BAND) / area
        left = c / cols + (gap / 2 if c else 0)
        right = (c + 1) / cols - (gap / 2 if c < cols - 1 else 0)
        last_in_column = i + cols >= len(metrics)
        layout[f"xaxis{n}"] = {
            "domain": [left, right],
            "anchor": f"y{n}",
            "title": {"text": data.x_title if last_in_column else ""},
            "showgrid": True,
            "zeroline": False,
            # The default ("hide past div") measures every tick label's box in the
            # browser, a forced layout per label: ~0.4 s on a 20-chart image. Our
            # margins keep the labels inside the figure anyway.
            "ticklabeloverflow": "allow",
        }
        if i:
            layout[f"xaxis{n}"]["matches"] = "x"  # zoom one chart, all follow (HTML)
        layout[f"yaxis{n}"] = {
            "domain": [max(bottom, 0.0), min(top, 1.0)],
            "anchor": f"x{n}",
            "type": "log" if log_y else "linear",
            "zeroline": False,
            "exponentformat": "SI" if not log_y else "power",
            "ticklabeloverflow": "allow",
        }
        lines = data.traces_of(metric)
        bad = sum(t.nonfinite for t in lines)
        flag = f"  <span style='color:#c0392b'>{bad:,} NaN/inf</span>" if bad else ""
        if log_y and (low := _flag_low(lines)):
            flag += f"  <span style='color:#c0392b'>{_text(low)}</span>"
        layout["annotations"].append(
            {
                "text": f"<b>{_text(metric)}</b>{flag}",
                "x": (left + right) / 2,
                "xref": "paper",
                "y": min(top, 1.0),
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 13},
            }
        )
        empty = (
            "no finite values (NaN/inf only)"
            if not any(t.finite for t in lines)
            else "no values &gt; 0 to draw on a log axis"
            if log_y and not any(_has_positive(t) for t in lines)
            else None
        )
        if empty:  # said in the middle of the chart, where the lines would be
            layout["annotations"].append(
                {
                    "text": empty,
                    "x": (left + right) / 2,
                    "xref": "paper",
                    "y": (top + bottom) / 2,
                    "yref": "paper",
                    "showarrow": False,
                    "font": {"color": "#888"},
                }
            )
        for t in lines:
            traces.extend(
                _trace_dicts(data, t, n, colors[t.run], first=t.run not in shown, compact=compact)
            )
            shown.add(t.run)
    return {"data": traces, "layout": layout}


def _drawn(t: Trace) -> Any:
    """The values a trace shows: its raw ones where smoothed (downsampling keeps the min
    and max of each line, so they tell whether any value is <= 0 or > 0)."""
    return (t.y if t.raw_y is None else t.raw_y).to_numpy()


def _nonpositive(t: Trace) -> int | None:
    """Finite values <= 0 (log axes drop them): counted before downsampling where the
    trace knows it, else 0 or None (some, count unknown) from the drawn values."""
    if t.nonpositive is not None:
        return t.nonpositive
    return None if bool((_drawn(t) <= 0).any()) else 0


def _has_positive(t: Trace) -> bool:
    return bool((_drawn(t) > 0).any())


def _flag_low(lines: Sequence[Trace]) -> str:
    """A chart title's note on the values a log y axis does not draw ("" if none)."""
    counts = [_nonpositive(t) for t in lines]
    if all(c == 0 for c in counts):
        return ""
    if None in counts:
        return "values <= 0 not drawn"
    return f"{plural(sum(c or 0 for c in counts), 'value')} <= 0 not drawn"


def log_y_notes(data: PlotData) -> list[str]:
    """One note naming the metrics with values a log y axis cannot draw."""
    low: dict[str, int] = {}
    for t in data.traces:
        if _nonpositive(t) != 0:
            low[t.metric] = low.get(t.metric, 0) + 1
    if not low:
        return []
    shown = [f"{m} ({plural(n, 'run')})" for m, n in list(low.items())[:5]]
    more = f" and {len(low) - 5} more" if len(low) > 5 else ""
    return ["values <= 0 are not drawn on a log y axis: " + ", ".join(shown) + more]


def _text(value: str) -> str:
    """Plain text for plotly's HTML-ish labels (a metric may be called ``a<b``)."""
    import html

    return html.escape(value, quote=False)


def _trace_dicts(
    data: PlotData, t: Trace, axis: str, color: str, *, first: bool, compact: bool = False
) -> list[dict[str, Any]]:
    run = data.runs[t.run]
    common = {
        "type": "scatter",
        "xaxis": f"x{axis}",
        "yaxis": f"y{axis}",
        "legendgroup": f"run{t.run}",
        "legendrank": t.run + 1,
        "name": _text(run.label),
        "connectgaps": False,
    }
    out: list[dict[str, Any]] = []
    if t.raw_x is not None and t.raw_y is not None:
        faint = {"opacity": 0.25, "showlegend": False, "hoverinfo": "skip"}
        out.append(
            {
                **common,
                "x": _array(t.raw_x, compact=compact),
                "y": _array(t.raw_y, compact=compact),
                "mode": "lines",
                "line": {"color": color, "width": 1},
                **faint,
            }
        )
        out.extend(_lone_points(common, t.raw_x, t.raw_y, color, faint, compact=compact))
    few = len(t.x) <= MARKERS_UP_TO
    hover = {
        # The names go in meta: plotly.js would substitute a %{x} inside the template itself.
        "meta": [_text(run.label), _text(t.metric)],
        "hovertemplate": "%{meta[0]}<br>%{meta[1]}: %{y}<br>x: %{x}<extra></extra>",
    }
    out.append(
        {
            **common,
            "x": _array(t.x, compact=compact),
            "y": _array(t.y, compact=compact),
            "mode": "lines+markers" if few else "lines",
            # Long lines are drawn 1 px wide: Chromium rasterises hairlines several
            # times faster than wider strokes, and dense lines read better thin.
            "line": {"color": color, "width": 1.0 if len(t.x) > THIN_FROM else 1.6},
            "marker": {"color": color, "size": 5},
            "showlegend": first,
            **hover,
        }
    )
    if not few:
        out.extend(
            _lone_points(common, t.x, t.y, color, {"showlegend": False, **hover}, compact=compact)
        )
    return out


def _lone_points(
    common: dict[str, Any], x: Any, y: Any, color: str, extra: dict[str, Any], *, compact: bool
) -> list[dict[str, Any]]:
    """A markers-only trace for the finite points of a ``lines`` trace that have no finite
    neighbour (a metric logged between NaNs): a line draws nothing for them. Only lines
    that have some pay for it; Chromium's render time grows with traces and elements."""
    import numpy as np

    finite = np.isfinite(y.to_numpy())
    if finite.all():
        return []
    lone = finite.copy()
    lone[1:] &= ~finite[:-1]
    lone[:-1] &= ~finite[1:]
    if not lone.any():
        return []
    rows = np.flatnonzero(lone)
    return [
        {
            **common,
            "x": _array(x.gather(rows), compact=compact),
            "y": _array(y.gather(rows), compact=compact),
            "mode": "markers",
            "marker": {"color": color, "size": 5},
            **extra,
        }
    ]


def _array(s: Any, *, compact: bool = False) -> Any:
    """A polars Series as plotly.js takes it: a base64 typed array (what
    ``Figure.to_dict`` makes of numpy arrays; no JSON list of 2,000 numbers),
    or ISO text for datetimes. ``compact``: float32 where ``_fits_float32``."""
    import base64

    if s.dtype.is_temporal():
        return s.dt.to_string("%Y-%m-%d %H:%M:%S%.6f").to_list()
    values = s.to_numpy()
    small_ints = (
        values.dtype.kind in "iu"
        and len(values) > 0
        and values.min() >= -(2**31)
        and values.max() < 2**31
    )
    kind = "i4" if small_ints else "f8"  # plotly.js has no 64-bit integer arrays
    if kind == "f8" and compact and values.dtype.kind == "f" and _fits_float32(values):
        kind = "f4"
    data = values.astype("<" + kind).tobytes()
    return {"dtype": kind, "bdata": base64.b64encode(data).decode("ascii")}


# float32 rounds a value by at most 2**-24 of its magnitude. Used only where that is
# under 1/10,000 of the line's own spread (so under a pixel on any chart we draw),
# far from float32's overflow and underflow. A flat line, or a large value that
# moves little (a Unix time), keeps float64.
_F32_SPREAD = 2.0**-24 * 1e4
_F32_RANGE = (1e-30, 1e30)


def _fits_float32(values: Any) -> bool:
    import numpy as np

    finite = values[np.isfinite(values)]
    if not len(finite):
        return True  # NaN and +-inf are exact in float32
    mag = np.abs(finite)
    top = float(mag.max())
    nonzero = mag[mag > 0]
    if top > _F32_RANGE[1] or (len(nonzero) and float(nonzero.min()) < _F32_RANGE[0]):
        return False
    spread = float(finite.max()) - float(finite.min())
    return spread > 0 and top * _F32_SPREAD <= spread


def width_of(fig: dict[str, Any]) -> int:
    return int(fig["layout"]["width"])


def height_of(fig: dict[str, Any]) -> int:
    return int(fig["layout"]["height"])


def paginate(
    data: PlotData, target: Target, *, cols: int, log_y: bool, window: int
) -> tuple[list[Page], list[str]]:
    """The figure(s) for ``target``: one, unless a tall image must be shrunk or split."""
    metrics = data.metrics
    cols = max(1, min(cols, len(metrics)))
    rows = math.ceil(len(metrics) / cols)
    limit = MAX_HEIGHT.get(target.fmt)
    compact = target.fmt != "html"
    notes: list[str] = log_y_notes(data) if log_y else []
    row_px = ROW_PX
    per_page = rows
    if limit is not None and TOP_PX + rows * ROW_PX + BOTTOM_PX > limit:
        fit = (limit - TOP_PX - BOTTOM_PX) // rows
        if fit >= MIN_ROW_PX:
            row_px = fit
            notes.append(
                f"{len(metrics)} charts are {fit} px tall instead of {ROW_PX} to fit one"
                f" {target.fmt.upper()} ({limit} px high at most)"
            )
        else:
            per_page = (limit - TOP_PX - BOTTOM_PX) // ROW_PX
    if per_page >= rows:
        fig = build_figure(
            data, cols=cols, log_y=log_y, row_px=row_px, window=window, compact=compact
        )
        if target.fmt == "html" and len(metrics) > HTML_HEAVY_CHARTS:
            first = metrics[0]
            example = f" (e.g. --metric '{first.split('/')[0]}/*')" if "/" in first else ""
            notes.append(
                f"{len(metrics)} charts in one page: a browser takes minutes to draw more than"
                f" a few hundred; choose some with --metric PATTERN{example}"
            )
        return [Page(target.path, fig, width_of(fig), height_of(fig), len(metrics))], notes
    pages: list[Page] = []
    chunk = per_page * cols
    count = math.ceil(len(metrics) / chunk)
    for k in range(count):
        part = metrics[k * chunk : (k + 1) * chunk]
        fig = build_figure(
            data,
            part,
            cols=cols,
            log_y=log_y,
            window=window,
            page=f" ({k + 1}/{count})",
            compact=compact,
        )
        path = target.path.with_name(f"{target.path.stem}-{k + 1}{target.path.suffix}")
        pages.append(Page(path, fig, width_of(fig), height_of(fig), len(part)))
    notes.append(
        f"{len(metrics)} charts do not fit one {target.fmt.upper()} ({limit} px high at most):"
        f" split into {count} files, {pages[0].path.name} .. {pages[-1].path.name}"
    )
    return pages, notes


# -- export ------------------------------------------------------------------------


def _quiet_logs() -> None:
    # choreographer/kaleido log through logging (logistro); keep their noise,
    # including the browser's own stderr they relay, off the user's terminal.
    for name in ("choreographer", "kaleido", "logistro", "browser_proc"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def find_browser() -> str:
    """The Chrome/Chromium kaleido will use, or a MissingDependencyError saying what to install."""
    _quiet_logs()
    try:
        from choreographer.browsers.chromium import Chromium
    except ImportError as exc:  # pragma: no cover - kaleido is a dependency
        raise MissingDependencyError("image export needs kaleido: pip install kaleido") from exc
    path = Chromium.find_browser(skip_local=False)
    if path and Path(path).is_file():
        return path
    given = os.environ.get("BROWSER_PATH")
    if given and not (os.path.isfile(given) and os.access(given, os.X_OK)):
        # Nothing else found, and the setting meant to point at one is wrong: say so.
        raise MissingDependencyError(
            f"image export needs Chrome or Chromium, and BROWSER_PATH ({given}) is not an"
            " executable file: point it at one, unset it to use an installed one, or install"
            " one (`apt-get install chromium`, or `plotly_get_chrome`); .html output needs no"
            " browser"
        )
    raise MissingDependencyError(NO_BROWSER)


# Chromium keeps a Unix socket at $TMPDIR/org.chromium.Chromium.XXXXXX/SingletonSocket
# and exits at once when that path is longer than a socket's 107 bytes.
_SOCKET_TAIL = len("/org.chromium.Chromium.XXXXXX/SingletonSocket")
_SOCKET_MAX = 107


def browser_tmpdir() -> str | None:
    """A TMPDIR for Chromium where the user's is too long for its socket (None: keep
    the user's), or an OutputError saying what to do when no short one is usable."""
    given = os.environ.get("TMPDIR") or "/tmp"  # what Chromium uses (base::GetTempDir)
    if len(os.fsencode(given.rstrip("/"))) + _SOCKET_TAIL <= _SOCKET_MAX:
        return None
    for short in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(short) and os.access(short, os.W_OK | os.X_OK):
            return short
    most = _SOCKET_MAX - _SOCKET_TAIL
    raise OutputError(
        f"TMPDIR is too long for Chromium ({len(given)} characters, at most {most}: it"
        " keeps a socket there) and /tmp is not writable: set TMPDIR to a shorter"
        " folder for image output; .html output needs no browser"
    )


# New-headless Chromium preloads the omnibox popup's WebUI in a renderer of its
# own: ~0.5 CPU-s of a 4.5 CPU-s boot (Chromium 156), spent while the data is read
# on the same two cores. Unknown feature names are ignored by older browsers.
LIGHT_START = ("--disable-features=WebUIOmniboxPopup,OmniboxFullPopupWebUIContent",)


def _with_flags(cli: Sequence[str], flags: Sequence[str]) -> list[str]:
    """``cli`` plus ``flags``; a ``--disable-features`` list already there is extended,
    as Chromium keeps only the last value of a switch given twice."""
    out = list(cli)
    for flag in flags:
        name, _, value = flag.partition("=")
        have = [i for i, arg in enumerate(out) if arg.startswith(f"{name}=")]
        if name == "--disable-features" and have:
            out[have[-1]] += f",{value}"
        else:
            out.append(flag)
    return out


def _chromium_class(tmpdir: str | None) -> Any:
    """choreographer's Chromium (kaleido's ``browser_cls`` hook) started with
    LIGHT_START, and with TMPDIR=tmpdir when one is given."""
    from choreographer.browsers.chromium import Chromium

    class LightChromium(Chromium):
        def get_cli(self) -> Any:
            return _with_flags(super().get_cli(), LIGHT_START)

        def get_env(self) -> Any:
            env = super().get_env()
            if tmpdir is not None:
                env["TMPDIR"] = tmpdir
            return env

    return LightChromium


class Browser:
    """One headless Chromium on a private event loop in a background thread."""

    def __init__(self, path: str, *, tmpdir: str | None = None) -> None:
        self._path = path
        self._tmpdir = tmpdir
        self._loop = asyncio.new_event_loop()
        # What fails on this loop reaches the command through its futures; asyncio's
        # own report of a task left behind by a browser that stopped answering
        # ("Task was destroyed but it is pending!") would only clutter stderr.
        if not os.environ.get("TRACKIO_TOOL_DEBUG"):
            self._loop.set_exception_handler(lambda loop, context: None)
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="trackio-tool-kaleido", daemon=True
        )
        self._thread.start()
        self._kaleido: Any = None
        self._closing = False
        self._opened = asyncio.run_coroutine_threadsafe(self._open(), self._loop)

    async def _open(self) -> None:
        import kaleido

        k = kaleido.Kaleido(
            path=self._path,
            n=1,
            mathjax=False,
            timeout=RENDER_TIMEOUT_S,
            browser_cls=_chromium_class(self._tmpdir),
        )
        self._kaleido = k
        boot = asyncio.ensure_future(self._boot(k))
        limit = boot_timeout()
        try:
            done, _ = await asyncio.wait({boot}, timeout=limit)
            if not done:
                raise OutputError(
                    f"Chromium ({self._path}) did not start: no answer after"
                    f" {limit:g} s (set {BOOT_TIMEOUT_ENV} to wait longer);"
                    " .html output needs no browser"
                )
            boot.result()
        except BaseException:
            if self._closing:  # stopped by close(): nobody waits for this any more
                return
            raise
        finally:
            if not boot.done():
                boot.cancel()
                with contextlib.suppress(BaseException):
                    await boot

    @staticmethod
    async def _boot(k: Any) -> None:
        await k.open()
        # The first figure pays for compiling plotly.js; pay it with a tiny one,
        # while (when started early) the data is still being read.
        warm = {"data": [{"type": "scatter", "x": [0, 1], "y": [0, 1]}], "layout": {}}
        await k.calc_fig(warm, opts={"format": "png", "width": 64, "height": 64})

    def _ready(self) -> Any:
        try:
            _waiting.result(self._opened)
        except OutputError:
            raise
        except Exception as exc:
            raise OutputError(f"Chromium ({self._path}) could not be started: {exc}") from exc
        return self._kaleido

    def render(self, pages: Sequence[Page], fmt: str) -> list[bytes]:
        k = self._ready()

        async def run() -> list[bytes]:
            out = []
            for p in pages:
                opts = {"format": fmt, "width": p.width, "height": p.height, "scale": 1}
                out.append(await k.calc_fig(p.figure, opts=opts))
            return out

        try:
            return _waiting.result(asyncio.run_coroutine_threadsafe(run(), self._loop))
        except OutputError:
            raise
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise OutputError(f"Chromium could not render the {fmt} image: {first}") from exc

    def _stop_opening(self) -> None:
        """Closed while Chromium boots (Ctrl-C early in a plot): stop waiting for the boot
        and the warm-up render (3-5 s) rather than finish them. Only once Chromium's
        process exists, so that the shutdown below has a process to stop."""
        deadline = time.monotonic() + 10
        while not self._opened.done() and time.monotonic() < deadline:
            if getattr(self._kaleido, "subprocess", None) is not None:
                self._closing = True
                self._opened.cancel()
                return
            time.sleep(0.01)

    def close(self) -> None:
        async def shut() -> None:
            if self._kaleido is not None:
                await self._kaleido.close()

        if not self._opened.done():
            self._stop_opening()
        with contextlib.suppress(Exception, concurrent.futures.CancelledError):
            self._opened.result()
        closing = asyncio.run_coroutine_threadsafe(shut(), self._loop)
        with contextlib.suppress(Exception):
            closing.result(timeout=CLOSE_TIMEOUT_S)
        if not closing.done():
            # A Chromium that does not answer (hung at boot, say) never acknowledges
            # the close: stop it. kaleido then notices the browser is gone and
            # cleans up (its page, the profile folder) on its own, but this close
            # stays waiting for the answer: give up on it.
            self._kill()
            with contextlib.suppress(Exception):
                closing.result(timeout=0.5)
            closing.cancel()
        self._kill()  # whatever is left of it, never an orphan
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=60)
        if not self._thread.is_alive():
            self._loop.close()

    def _kill(self) -> None:
        """Stop a Chromium that does not answer.

        kaleido starts it through a small wrapper process (choreographer's), in a
        session of its own. SIGTERM goes to Chromium itself: it exits cleanly (and
        removes its socket folder from TMPDIR), then the wrapper tells kaleido that
        the browser is gone, so kaleido's close can finish and remove the profile.
        (The wrapper's own SIGTERM handler waits 5 s for nothing.) Whatever is left
        of the session after that gets SIGKILL.
        """
        proc = getattr(self._kaleido, "subprocess", None)
        if proc is None or proc.poll() is not None:
            return
        for child in _children(proc.pid):
            with contextlib.suppress(OSError):
                os.kill(child, signal.SIGTERM)
        with contextlib.suppress(Exception):
            proc.wait(timeout=CLOSE_TIMEOUT_S)
        with contextlib.suppress(OSError):
            if hasattr(os, "killpg"):
                os.killpg(proc.pid, getattr(signal, "SIGKILL", signal.SIGTERM))
            elif proc.poll() is None:  # pragma: no cover - Windows
                proc.kill()
        with contextlib.suppress(Exception):
            proc.wait(timeout=CLOSE_TIMEOUT_S)


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux; elsewhere none are found)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def boot_timeout() -> float:
    """Seconds Chromium may take to start (``TRACKIO_TOOL_BROWSER_TIMEOUT``, else 60)."""
    from trackio_tool.sources._args import seconds_from_env

    return seconds_from_env(BOOT_TIMEOUT_ENV, BOOT_TIMEOUT_S)


class Exporter:
    """Writes the chart file(s) for one target; owns the browser when one is needed."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.notes: list[str] = []
        self._browser_path: str | None = None
        self._browser_tmpdir: str | None = None
        self._browser: Browser | None = None

    def __enter__(self) -> Exporter:
        if self.target.fmt != "html":
            self._browser_path = find_browser()  # fail before reading any data
            self._browser_tmpdir = browser_tmpdir()
            boot_timeout()  # a bad setting too
        return self

    def __exit__(self, *exc: object) -> None:
        if self._browser is not None:
            self._browser.close()
            self._browser = None

    def warm_up(self, rows: int) -> None:
        """Called once the runs are known: boot Chromium now if the read will take a while."""
        if rows >= EARLY_START_ROWS:
            self._start()

    def _start(self) -> Browser | None:
        if self._browser is None and self._browser_path is not None:
            self._browser = Browser(self._browser_path, tmpdir=self._browser_tmpdir)
        return self._browser

    def write(
        self, data: PlotData, *, cols: int = 1, log_y: bool = False, window: int = 0
    ) -> list[Page]:
        pages, notes = paginate(data, self.target, cols=cols, log_y=log_y, window=window)
        self.notes.extend(notes)
        if self.target.fmt == "html":
            blobs = [_html(p) for p in pages]
        else:
            browser = self._start()
            assert browser is not None
            blobs = browser.render(pages, self.target.fmt)
        write_files([(p.path, b) for p, b in zip(pages, blobs, strict=True)])
        return pages


def _html(page: Page) -> bytes:
    import plotly.io as pio

    layout = {k: v for k, v in page.figure["layout"].items() if k != "width"}
    fig = {"data": page.figure["data"], "layout": {**layout, "autosize": True}}  # fills the window
    text = pio.to_html(
        fig,
        validate=False,
        include_plotlyjs=True,
        full_html=True,
        config={"displaylogo": False, "responsive": True},
        default_height=f"{page.height}px",
    )
    return text.encode("utf-8")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_files(files: Sequence[tuple[Path, bytes]]) -> None:
    """Write every file or none: temp files beside the targets, then ``os.replace``."""
    staged: list[tuple[str, Path]] = []
    mode = 0o666 & ~_umask()  # what open() would give; mkstemp makes 0600
    try:
        for path, blob in files:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
                os.fchmod(fh.fileno(), mode)
        for tmp, path in staged:
            os.replace(tmp, path)
        staged = []
    except OSError as exc:
        raise OutputError(f"cannot write {files[0][0]}: {exc.strerror or exc}") from exc
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
