"""plot: the figure (checked through ``fig.to_dict()``), HTML output and bad input.

Images need Chromium and live in test_plot_export.py; everything here runs
without a browser.
"""

from __future__ import annotations

import base64
import json
import math
import re
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import pytest

from tests.conftest import FIXTURES, REPO, env_without, tree_digest
from trackio_tool.commands import _charts
from trackio_tool.sources import resolve_sources
from trackio_tool.store import series
from trackio_tool.store._sqlite_ro import read_only

# The independent reading below sees a .db alone; the inbox fixture's project is more
# than its .db (tests/store/test_inbox.py checks it against trackio's own import).
SQLITE_FILES = sorted(p for p in FIXTURES.glob("*/*.db") if not p.parent.name.endswith("-inbox"))
V043 = FIXTURES / "trackio-0.43.0" / "toyproj.db"
V020 = FIXTURES / "trackio-0.20.2" / "toyproj.db"
NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


# -- an independent reading of the fixtures: sqlite3 + json, nothing from the tool ----


def _leaves(value: Any, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, v in value.items():
        name = f"{prefix}{key}"
        if isinstance(v, dict):
            if "_type" in v:
                continue  # media, tables, histograms
            out.update(_leaves(v, f"{name}/"))
        elif isinstance(v, bool) or v is None or isinstance(v, list):
            continue
        elif isinstance(v, (int, float)):
            out[name] = float(v)
        elif isinstance(v, str):
            if v in NONFINITE:
                out[name] = NONFINITE[v]
            else:
                try:
                    out[name] = float(v)
                except ValueError:
                    continue
    return out


def reference(db: Path) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """(run key, metric) -> [(step, value)] for every numeric leaf, NaN/inf included."""
    # read_only: a plain read-only open of a WAL file would leave -wal/-shm in the fixtures.
    with read_only(db) as con:
        cols = [r[1] for r in con.execute("PRAGMA table_info(metrics)")]
        key = "run_id" if "run_id" in cols else "run_name"
        rows = con.execute(f"SELECT {key}, step, metrics FROM metrics ORDER BY id").fetchall()
    out: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for run, step, raw in rows:
        for name, value in _leaves(json.loads(raw)).items():
            out.setdefault((str(run), name), []).append((step, value))
    return out


def _figure(paths: list[Path], **kw: Any) -> tuple[series.PlotData, dict[str, Any]]:
    build = {k: kw.pop(k) for k in ("cols", "log_y") if k in kw}
    data = series.collect(resolve_sources([str(p) for p in paths]), **kw)
    spec = _charts.build_figure(data, window=kw.get("window", 0), **build)
    # Through plotly's own Figure: the spec must validate, and to_dict is what users see.
    return data, go.Figure(spec).to_dict()


def _titles(fig: dict[str, Any]) -> list[str]:
    """Chart titles in axis order (annotations that name a chart)."""
    return [
        re.sub(r"<[^>]+>", "", a["text"]).split("  ")[0]
        for a in fig["layout"]["annotations"]
        if a["text"].startswith("<b>")
    ]


def _by_chart(fig: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    titles = _titles(fig)
    out: dict[str, list[dict[str, Any]]] = {t: [] for t in titles}
    for tr in fig["data"]:
        axis = tr["xaxis"][1:]
        out[titles[int(axis or 1) - 1]].append(tr)
    return out


def _arr(value: Any) -> list[Any]:
    """A trace array from ``fig.to_dict()``: plotly ships numpy arrays as base64 typed arrays."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return list(np.asarray(value).tolist())


def _xs(trace: dict[str, Any]) -> list[Any]:
    return _arr(trace["x"])


def _ys(trace: dict[str, Any]) -> list[float]:
    return [float("nan") if v is None else float(v) for v in _arr(trace["y"])]


# -- figures ---------------------------------------------------------------------------


@pytest.mark.parametrize("db", SQLITE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_one_chart_per_numeric_metric_and_one_line_per_run(db: Path) -> None:
    before = tree_digest(db.parent)
    truth = reference(db)
    data, fig = _figure([db])
    assert tree_digest(db.parent) == before  # read in place, nothing left behind
    metrics = sorted({m for _, m in truth})
    assert sorted(_titles(fig)) == metrics
    assert len([k for k in fig["layout"] if k.startswith("xaxis")]) == len(metrics)
    key_of = {r.label: r.key for r in data.runs}
    for metric, traces in _by_chart(fig).items():
        runs = sorted(key_of[t["name"]] for t in traces)
        assert runs == sorted(k for k, m in truth if m == metric), metric
        for t in traces:
            want = truth[(key_of[t["name"]], metric)]
            assert _xs(t) == sorted(s for s, _ in want)
            got = _ys(t)
            exp = [v if math.isfinite(v) else math.nan for _, v in sorted(want, key=lambda p: p[0])]
            assert got == pytest.approx(exp, nan_ok=True), (metric, t["name"])


def test_nan_metrics_stay_with_gaps_and_are_counted() -> None:
    data, fig = _figure([V043])
    charts = _by_chart(fig)
    alpha = next(t for t in charts["loss"] if t["name"] == "alpha")
    ys = _ys(alpha)
    assert math.isnan(ys[17])
    assert all(math.isfinite(v) for i, v in enumerate(ys) if i != 17)
    grad = next(t for t in charts["grad_norm"] if t["name"] == "alpha")
    assert [i for i, v in enumerate(_ys(grad)) if math.isnan(v)] == [23, 41]  # +inf and -inf
    assert alpha["connectgaps"] is False
    flags = {
        _titles({"layout": {"annotations": [a]}})[0]: a["text"]
        for a in fig["layout"]["annotations"]
        if a["text"].startswith("<b>")
    }
    assert "2 NaN/inf" in flags["loss"]  # alpha at step 17, gamma at step 5
    assert "NaN/inf" not in flags["acc"]
    assert any(
        "NaN/inf values are drawn as gaps in grad_norm (1 run), loss (2 runs)" in n
        for n in data.notes
    )


def _data_of(traces: list[series.Trace], labels: tuple[str, ...] = ("r",)) -> series.PlotData:
    return series.PlotData(
        projects=["p"],
        runs=[series.Run("p", label, None, label, label) for label in labels],
        metrics=list(dict.fromkeys(t.metric for t in traces)),
        traces=traces,
        x_mode="step",
        x_title="step",
        table="metrics",
    )


def test_lone_points_of_long_lines_are_drawn_as_markers() -> None:
    """A point between two NaNs (or a NaN and the end) gives a line nothing to draw: a
    metric logged at even steps only, with NaN at odd ones, made an empty chart. Such
    points get a markers-only trace; lines without them get none (render time)."""
    x = np.arange(120)
    evens = np.where(x % 2 == 0, x * 1.0, math.nan)
    one = np.sin(x / 10.0)
    one[[50, 52, 118]] = math.nan  # 51 and 119 stand alone
    traces = [
        series.make_trace("evens", 0, x, evens),
        series.make_trace("one", 0, x, one),
        series.make_trace("clean", 0, x, np.sin(x / 10.0)),
        series.make_trace("smoothed", 0, x, evens, window=5),
    ]
    fig = go.Figure(_charts.build_figure(_data_of(traces), window=5)).to_dict()
    charts = _by_chart(fig)
    line, dots = charts["evens"]
    assert line["mode"] == "lines"
    assert dots["mode"] == "markers"
    assert _xs(dots) == list(range(0, 120, 2))
    assert _ys(dots) == [float(v) for v in range(0, 120, 2)]
    assert dots["showlegend"] is False
    assert dots["marker"]["color"] == line["line"]["color"]
    assert dots["legendgroup"] == line["legendgroup"]
    assert dots["hovertemplate"] == line["hovertemplate"]
    assert [(_xs(t), t["mode"]) for t in charts["one"][1:]] == [([51, 119], "markers")]
    assert [t["mode"] for t in charts["clean"]] == ["lines"]
    # Smoothed: the average steps over the NaNs; the faint raw line gets faint markers.
    raw, raw_dots, smooth = charts["smoothed"]
    assert [raw["mode"], raw_dots["mode"], smooth["mode"]] == ["lines", "markers", "lines"]
    assert _xs(raw_dots) == list(range(0, 120, 2))
    assert raw_dots["opacity"] == 0.25
    assert raw_dots["hoverinfo"] == "skip"


def test_hover_shows_names_as_they_are() -> None:
    """Names were put in the hovertemplate, where plotly.js substitutes %{x} and %{y}: a
    run called run-%{x} read run-1. They go in the trace's meta, which it does not."""
    x = np.arange(120)
    evens = np.where(x % 2 == 0, 1.0, math.nan)  # long, with lone points: two traces
    traces = [series.make_trace("acc %{y} <b>", 0, x, evens)]
    fig = go.Figure(_charts.build_figure(_data_of(traces, ("run-%{x}",)))).to_dict()
    assert len(fig["data"]) == 2
    for t in fig["data"]:
        assert t["hovertemplate"] == "%{meta[0]}<br>%{meta[1]}: %{y}<br>x: %{x}<extra></extra>"
        assert t["meta"] == ["run-%{x}", "acc %{y} &lt;b&gt;"]


def test_labels_and_legend() -> None:
    data, fig = _figure([V043])
    assert [r.label for r in data.runs] == ["alpha", "beta (66bbe705)", "beta (6afb4a00)", "gamma"]
    assert fig["layout"]["showlegend"] is True
    legend = [t["name"] for t in fig["data"] if t.get("showlegend")]
    assert legend == ["alpha", "beta (66bbe705)", "beta (6afb4a00)", "gamma"]
    colors = {t["name"]: t["line"]["color"] for t in fig["data"]}
    assert len(set(colors.values())) == 4  # one colour per run, in every chart
    assert fig["layout"]["title"]["text"].startswith("toyproj<br>")


def test_runs_of_several_projects_are_qualified_only_when_needed() -> None:
    _, fig = _figure([V043, V020])
    names = {t["name"] for t in fig["data"]}
    assert "trackio-0.43.0/toyproj:alpha" in names
    assert "trackio-0.20.2/toyproj:alpha" in names
    assert "trackio-0.43.0/toyproj:beta (6afb4a00)" in names
    assert "dainty-sunset-0" in names  # one project only: bare
    assert fig["layout"]["title"]["text"].startswith(
        "trackio-0.43.0/toyproj, trackio-0.20.2/toyproj"
    )


def test_select_runs_and_metrics() -> None:
    data, fig = _figure(
        [V043, V020], runs=["trackio-0.20.2/toyproj:alpha", "6afb4a00"], metrics=["*loss", "eval/*"]
    )
    # Labels depend on every run of the sources, not only the selected ones.
    assert [r.label for r in data.runs] == [
        "trackio-0.43.0/toyproj:beta (6afb4a00)",
        "trackio-0.20.2/toyproj:alpha",
    ]
    assert _titles(fig) == [
        "loss",
        "eval/acc",
        "eval/detail/count",
        "eval/detail/top5",
        "eval/loss",
    ]


def test_smoothing_draws_a_centred_average_over_the_faint_raw_line() -> None:
    _, fig = _figure([V043], runs=["alpha"], metrics=["loss"], window=5)
    raw, smooth = fig["data"]
    assert raw["opacity"] == 0.25
    assert raw["showlegend"] is False
    assert smooth["name"] == raw["name"] == "alpha"
    assert smooth["showlegend"] is True
    values = [(x, y) for x, y in zip(_xs(raw), _ys(raw), strict=True) if math.isfinite(y)]
    ys = [y for _, y in values]
    i = 40
    assert _ys(smooth)[[x for x, _ in values].index(_xs(smooth)[i])] == pytest.approx(
        _ys(smooth)[i]
    )
    assert _ys(smooth)[i] == pytest.approx(sum(ys[i - 2 : i + 3]) / 5)
    assert _ys(smooth)[0] == pytest.approx(sum(ys[:3]) / 3)  # shrinks at the ends
    assert all(math.isfinite(v) for v in _ys(smooth))  # the average steps over NaN


def test_x_axis_modes() -> None:
    data, fig = _figure([V043], runs=["alpha"], metrics=["acc"], x="time")
    (trace,) = fig["data"]
    assert data.x_title == "time (UTC)"
    assert _xs(trace)[0] == "2026-11-27 04:37:40.833811"
    assert fig["layout"]["xaxis"]["title"]["text"] == "time (UTC)"
    data, fig = _figure([V043], runs=["alpha"], metrics=["acc"], x="relative")
    xs = _xs(fig["data"][0])
    assert data.x_title == "time since run start (s)"
    assert xs[0] == 0.0
    assert xs[-1] == pytest.approx(42.976410 - 40.833811)
    data, fig = _figure([FIXTURES / "trackio-0.2.9" / "toyproj.db"], x="time", metrics=["acc"])
    assert data.x_title == "time (as logged: the writer's local time)"


def test_log_y_and_grid() -> None:
    _, fig = _figure([V043], metrics=["loss", "acc", "tokens"], log_y=True, cols=2)
    layout = fig["layout"]
    assert [layout[k]["type"] for k in ("yaxis", "yaxis2", "yaxis3")] == ["log"] * 3
    assert layout["xaxis"]["domain"][1] < layout["xaxis2"]["domain"][0]  # side by side
    assert layout["xaxis3"]["domain"] == layout["xaxis"]["domain"]  # next row
    assert layout["xaxis2"]["matches"] == "x"


def _flags(fig: dict[str, Any]) -> dict[str, str]:
    """Chart title -> its flags, as shown (markup removed, entities decoded)."""
    import html

    return {
        _titles({"layout": {"annotations": [a]}})[0]: html.unescape(
            re.sub(r"<[^>]+>", "", a["text"])
        )
        for a in fig["layout"]["annotations"]
        if a["text"].startswith("<b>")
    }


def test_log_y_says_which_values_it_cannot_draw(cli: Callable[..., Any], tmp_path: Path) -> None:
    """A log axis silently drops values <= 0: the chart title counts them (before
    downsampling), a chart with nothing > 0 says so, and one stderr note names them."""
    import polars as pl

    x = np.arange(5000)
    ramp = np.where(x < 3000, -1.0, x * 1.0)  # 3,000 values <= 0, downsampled to 100 points
    traces = [
        series.make_trace("mixed", 0, np.arange(5), [0.0, -1.0, 1.0, 10.0, 100.0]),
        series.make_trace("neg", 0, np.arange(5), [-1.0, -2.0, math.nan, -3.0, 0.0]),
        series.make_trace("ramp", 0, x, ramp, max_points=100),
        series.make_trace("fine", 0, np.arange(3), [1.0, 2.0, 3.0]),
        # Built without counts: the flag cannot give a number.
        series.Trace("uncounted", 0, pl.Series([0, 1]), pl.Series([-1.0, 2.0]), logged=2),
    ]
    data = _data_of(traces)
    fig = go.Figure(_charts.build_figure(data, log_y=True)).to_dict()
    assert _flags(fig) == {
        "mixed": "mixed  2 values <= 0 not drawn",
        "neg": "neg  1 NaN/inf  4 values <= 0 not drawn",
        "ramp": "ramp  3,000 values <= 0 not drawn",
        "fine": "fine",
        "uncounted": "uncounted  values <= 0 not drawn",
    }
    empty = [a["text"] for a in fig["layout"]["annotations"] if "no values" in a["text"]]
    assert empty == ["no values &gt; 0 to draw on a log axis"]  # neg only
    assert _flags(go.Figure(_charts.build_figure(data)).to_dict())["mixed"] == "mixed"
    target = _charts.Target(tmp_path / "plot.html", "html")
    assert _charts.paginate(data, target, cols=1, log_y=True, window=0)[1] == [
        "values <= 0 are not drawn on a log y axis: mixed (1 run), neg (1 run), ramp (1 run),"
        " uncounted (1 run)"
    ]
    out = tmp_path / "log.html"
    r = cli("plot", str(V043), "--metric", "epoch,loss", "--log-y", "-o", str(out))
    assert r.exit_code == 0, r.stderr
    assert "note: values <= 0 are not drawn on a log y axis: epoch (3 runs)\n" in r.stderr
    r = cli("plot", str(V043), "--metric", "epoch,loss", "-o", str(out))
    assert "<= 0" not in r.stderr


def test_downsampling_keeps_each_lines_min_and_max(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from generate import generate_db
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    db = generate_db(tmp_path / "big.db", runs=2, steps=6000, metrics=5, system_rows_per_run=5)
    truth = reference(db)
    data, fig = _figure([db], max_points=300)
    key_of = {r.label: r.key for r in data.runs}
    checked = 0
    for metric, traces in _by_chart(fig).items():
        for t in traces:
            want = [v for _, v in truth[(key_of[t["name"]], metric)] if math.isfinite(v)]
            got = [v for v in _ys(t) if math.isfinite(v)]
            assert len(_ys(t)) <= 300
            assert max(got) == max(want), (metric, t["name"])
            assert min(got) == min(want), (metric, t["name"])
            checked += 1
    assert checked == 2 * 5 + 2 * 2  # 5 metrics and eval/{loss,acc} per run
    assert any("reduced to the lowest and highest value per x bucket" in n for n in data.notes)


def test_images_send_float32_only_where_no_point_can_move(tmp_path: Path) -> None:
    """An image's figure goes to Chromium with float32 values where rounding stays under
    1/10,000 of the line's spread; HTML keeps float64 for its hover labels."""
    import polars as pl

    ys = {
        "loss": [2.5, 2.25, math.nan, 1.75, math.inf, 1.5],  # -> f4
        "unix_time": [1.7e9, 1.7e9 + 1, 1.7e9 + 2, 1.7e9 + 3, 1.7e9 + 4, 1.7e9 + 5],  # f8
        "flat": [0.1] * 6,  # f8: the axis is centred on the value itself
        "huge": [1e35, 2e35, 3e35, 4e35, 5e35, 6e35],  # f8: past float32's range
        "tiny": [1e-35, 2e-35, 3e-35, 4e-35, 5e-35, 6e-35],  # f8: float32 underflows
        "only_nan": [math.nan] * 6,  # f4 holds NaN exactly
    }
    traces = [
        series.Trace(m, 0, pl.Series(range(6)), pl.Series(v, dtype=pl.Float64), logged=6)
        for m, v in ys.items()
    ]
    data = series.PlotData(
        projects=["p"],
        runs=[series.Run("p", "r", None, "r", "r")],
        metrics=list(ys),
        traces=traces,
        x_mode="step",
        x_title="step",
        table="metrics",
    )
    want = {
        "loss": "f4",
        "unix_time": "f8",
        "flat": "f8",
        "huge": "f8",
        "tiny": "f8",
        "only_nan": "f4",
    }
    for fmt, compact in (("webp", True), ("html", False)):
        target = _charts.Target(tmp_path / f"plot.{fmt}", fmt)
        (page,), _ = _charts.paginate(data, target, cols=1, log_y=False, window=0)
        go.Figure(page.figure)  # still a valid figure
        got = {}
        for metric, trace in zip(ys, page.figure["data"], strict=True):
            got[metric] = trace["y"]["dtype"]
            assert trace["x"]["dtype"] == "i4"
            values = _ys(trace)
            for v, w in zip(values, ys[metric], strict=True):
                assert (math.isnan(v) and math.isnan(w)) or v == pytest.approx(w, rel=1e-7)
        assert got == (want if compact else dict.fromkeys(ys, "f8"))


def _fake_data(n_metrics: int) -> series.PlotData:
    import polars as pl

    traces = [
        series.Trace(f"m{i:03d}", 0, pl.Series([0, 1]), pl.Series([0.0, 1.0]), logged=2)
        for i in range(n_metrics)
    ]
    return series.PlotData(
        projects=["p"],
        runs=[series.Run("p", "r", None, "r", "r")],
        metrics=[t.metric for t in traces],
        traces=traces,
        x_mode="step",
        x_title="step",
        table="metrics",
    )


def test_tall_images_shrink_then_split(tmp_path: Path) -> None:
    webp = _charts.Target(tmp_path / "plot.webp", "webp")
    (page,), notes = _charts.paginate(_fake_data(22), webp, cols=1, log_y=False, window=0)
    assert (page.width, page.height, notes) == (1200, 80 + 22 * 320 + 60, [])
    (page,), notes = _charts.paginate(_fake_data(60), webp, cols=1, log_y=False, window=0)
    assert page.height <= 16383
    assert page.charts == 60
    assert notes == [
        "60 charts are 270 px tall instead of 320 to fit one WEBP (16383 px high at most)"
    ]
    pages, notes = _charts.paginate(_fake_data(120), webp, cols=1, log_y=False, window=0)
    assert [p.path.name for p in pages] == ["plot-1.webp", "plot-2.webp", "plot-3.webp"]
    assert all(p.height <= 16383 for p in pages)
    assert sum(p.charts for p in pages) == 120
    assert "split into 3 files, plot-1.webp .. plot-3.webp" in notes[0]
    html = _charts.Target(tmp_path / "plot.html", "html")
    (page,), notes = _charts.paginate(_fake_data(120), html, cols=1, log_y=False, window=0)
    assert page.charts == 120
    assert notes == []


def test_an_html_page_too_heavy_for_a_browser_says_so(tmp_path: Path) -> None:
    """The wide-project audit: 2,000 charts made a 49 MB page that headless Chromium had
    not drawn after 15 minutes, without a word."""
    html = _charts.Target(tmp_path / "plot.html", "html")
    (page,), notes = _charts.paginate(_fake_data(201), html, cols=1, log_y=False, window=0)
    assert page.charts == 201
    assert notes == [
        "201 charts in one page: a browser takes minutes to draw more than a few hundred;"
        " choose some with --metric PATTERN"
    ]
    (page,), notes = _charts.paginate(_fake_data(200), html, cols=1, log_y=False, window=0)
    assert notes == []


# -- the command: HTML end to end, bad input ---------------------------------------


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_html_end_to_end(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    d = fixture_copy("trackio-0.43.0")
    out = tmp_path / "out" / "plot.html"
    out.parent.mkdir()
    r = cli(
        "plot",
        f"{d / 'toyproj.db'},{d / 'toyproj-edge.db'}",
        "-o",
        str(out),
        "--metric",
        "loss,grp/*",
    )
    assert r.exit_code == 0, r.stderr
    assert r.stdout == f"{out}\n"
    assert f"wrote {out}: 3 charts, 5 runs," in r.stderr
    assert "note: NaN/inf values are drawn as gaps" in r.stderr
    text = out.read_text()
    assert text.startswith("<!doctype html>")
    assert "Plotly.newPlot" in text
    assert "beta (66bbe705)" in text
    assert _listing(out.parent) == ["plot.html"]  # no temp file left
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)  # a normal file, not mkstemp's 0600


def test_one_chart_of_one_run_is_said_in_the_singular(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    out = tmp_path / "one.html"
    db = FIXTURES / "trackio-0.43.0" / "toyproj.db"
    r = cli("plot", str(db), "-r", "alpha", "-m", "loss", "-o", str(out))
    assert r.exit_code == 0, r.stderr
    assert f"wrote {out}: 1 chart, 1 run, " in r.stderr  # not "1 charts, 1 runs"


def _one_clean_line(result: Any, *needles: str) -> None:
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--run", "alpah"], ["no run 'alpah' in toyproj; closest: 'alpha'"]),
        (["--metric", "los"], ["no numeric metric in toyproj matches 'los'; closest: 'loss'"]),
        (["-o", "{tmp}/plot.gif"], ["unknown output format for plot.gif ('.gif')"]),
        (["-o", "{tmp}/plot"], ["unknown output format for plot (no extension)"]),
        (["-o", "{tmp}/missing/plot.webp"], ["the folder", "missing does not exist"]),
        (["-o", "{tmp}/missing/plot.html"], ["missing does not exist"]),
        (["-o", "{tmp}/"], ["that names a folder; give a file name such as plot.webp"]),
        (["-o", "{tmp}/sub"], ["that names a folder"]),
        (["-o", "{tmp}/new/"], ["new/: that names a folder"]),
    ],
)
def test_bad_input(
    cli: Callable[..., Any],
    fixture_copy: Callable[[str], Path],
    tmp_path: Path,
    args: list[str],
    needles: list[str],
) -> None:
    d = fixture_copy("trackio-0.43.0")
    out = tmp_path / "o"
    out.mkdir()
    if "{tmp}/sub" in args:
        (out / "sub").mkdir()
    args = [a.replace("{tmp}", str(out)) for a in args]
    if "-o" not in args:
        args += ["-o", str(out / "plot.webp")]
    r = cli("plot", str(d / "toyproj.db"), *args)
    _one_clean_line(r, *needles)
    assert _listing(out) == (["sub"] if (out / "sub").exists() else [])


def test_ambiguous_bare_name(cli: Callable[..., Any], tmp_path: Path) -> None:
    out = tmp_path / "plot.webp"
    r = cli("plot", str(V043), str(V020), "--run", "alpha", "-o", str(out))
    _one_clean_line(
        r,
        "run 'alpha' exists in 2 projects (trackio-0.43.0/toyproj, trackio-0.20.2/toyproj)",
        "--run trackio-0.43.0/toyproj:alpha",
    )
    assert not out.exists()


def test_no_numeric_metrics(cli: Callable[..., Any], tmp_path: Path) -> None:
    db = tmp_path / "words.db"
    db.write_bytes((FIXTURES / "trackio-0.43.0" / "toyproj-edge.db").read_bytes())
    con = sqlite3.connect(db)
    with con:
        con.execute("""UPDATE metrics SET metrics = '{"phase":"warmup"}'""")
    con.close()
    r = cli("plot", str(db), "-o", str(tmp_path / "plot.webp"))
    _one_clean_line(r, "nothing to plot: the selected runs of words have no numeric metrics")
    assert _listing(tmp_path) == ["words.db"]


def test_no_browser_is_one_clean_line_and_html_still_works(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    env = {**env_without("BROWSER_PATH"), "BROWSER_PATH": str(tmp_path / "no-such-chrome")}
    r = cli("plot", str(V043), "-o", str(tmp_path / "plot.png"), env=env)
    _one_clean_line(
        r,
        "needs Chrome or Chromium",
        "apt-get install chromium",
        "plotly_get_chrome",
        "BROWSER_PATH (",
        "no-such-chrome) is not an executable file",
    )
    assert not (tmp_path / "plot.png").exists()
    r = cli("plot", str(V043), "-o", str(tmp_path / "plot.html"), "-q", env=env)
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""  # --quiet: no notes
    assert (tmp_path / "plot.html").stat().st_size > 1_000_000  # plotly.js is inside


def test_help_has_an_example(cli: Callable[..., Any]) -> None:
    r = cli("plot", "--help")
    assert r.exit_code == 0
    assert "Example: trackio-tool plot" in r.stdout
    assert "centred moving average" in r.stdout


def test_chromium_flags_extend_a_feature_list_rather_than_replace_it() -> None:
    """Chromium keeps only the last value of a switch given twice: a ``--disable-features``
    that kaleido's launcher (or a later version of it) passes must keep its features."""
    light = _charts.LIGHT_START[0].split("=", 1)[1]
    given = ["chromium", "--disable-features=PaintHolding", "--headless"]
    assert _charts._with_flags(given, _charts.LIGHT_START) == [
        "chromium",
        f"--disable-features=PaintHolding,{light}",
        "--headless",
    ]
    assert _charts._with_flags(["chromium"], _charts.LIGHT_START) == [
        "chromium",
        *_charts.LIGHT_START,
    ]
