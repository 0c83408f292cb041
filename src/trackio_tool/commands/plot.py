"""``trackio-tool plot``: one chart per metric, every run overlaid, as an image or HTML."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from trackio_tool.commands._options import PlotRunOpt, QuietOpt, RefreshOpt, no_empty_values


class XAxis(str, Enum):
    step = "step"
    time = "time"
    relative = "relative"


SourcesArg = Annotated[
    list[str],
    typer.Argument(
        help="A .db or .parquet file, a static-export folder, a Trackio directory, a project"
        " name in $TRACKIO_DIR, or a URL (hf://, ssh://, modal://, any fsspec URL)."
        " Several may be given, also comma-separated; their runs are overlaid.",
        show_default=False,
    ),
]
OutputOpt = Annotated[
    str,  # not Path: Path drops the trailing "/" that marks a folder given by mistake
    typer.Option(
        "--output",
        "-o",
        help="File to write; the extension picks the format: .webp .png .jpg .svg .pdf"
        " (rendered by Chromium through kaleido) or .html (an interactive page, no browser needed).",
    ),
]
MetricOpt = Annotated[
    Optional[list[str]],  # noqa: UP045 - Typer needs Optional on 3.10
    typer.Option(
        "--metric",
        "-m",
        help="Metrics to plot, as globs ('train/*', '*loss') or exact names; repeat it or"
        " separate with commas (a metric whose name has commas is matched whole)"
        " (default: every numeric metric).",
        show_default=False,
        callback=no_empty_values,
    ),
]
XOpt = Annotated[
    XAxis,
    typer.Option(
        "--x",
        help="x axis: the logged step, the wall-clock time, or the time since each run's start.",
    ),
]
SmoothOpt = Annotated[
    int,
    typer.Option(
        "--smooth",
        min=0,
        help="Draw a centred moving average over N logged points (no lag; NaN/inf skipped)"
        " on top of the raw line, which stays faint underneath. 0 or 1: off.",
    ),
]
LogYOpt = Annotated[bool, typer.Option("--log-y", help="Logarithmic y axes.")]
SystemOpt = Annotated[
    bool,
    typer.Option(
        "--system", help="Plot the system metrics (CPU, memory, GPU...) instead of the metrics."
    ),
]
MaxPointsOpt = Annotated[
    int,
    typer.Option(
        "--max-points",
        min=10,
        help="Most points drawn per line: longer runs keep the lowest and highest value of"
        " each x bucket, so spikes stay visible.",
    ),
]
ColsOpt = Annotated[
    int, typer.Option("--cols", min=1, max=12, help="Charts per row (default: one column).")
]


def plot(
    sources: SourcesArg,
    output: OutputOpt = "plot.webp",
    run: PlotRunOpt = None,
    metric: MetricOpt = None,
    x: XOpt = XAxis.step,
    smooth: SmoothOpt = 0,
    log_y: LogYOpt = False,
    system: SystemOpt = False,
    max_points: MaxPointsOpt = 2000,
    cols: ColsOpt = 1,
    refresh: RefreshOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Plot every numeric metric, one chart each, with the runs of all SOURCES overlaid.

    A run keeps its name when it is unique; a name found in several projects is
    shown as project:run, and two runs sharing a name in one project get a short
    id. NaN and inf values leave gaps. The written file name(s) go to stdout.

    Example: trackio-tool plot a.db b.db -o runs.png --metric 'train/*' --smooth 20
    """
    from trackio_tool.sources._args import split_source_args
    from trackio_tool.store import _early

    specs = split_source_args(sources)
    for spec in specs:  # local .db files: their run spans are read while we import
        _early.start(spec)
    from trackio_tool.commands import _charts, _output, _progress

    _progress.enable(quiet)
    from trackio_tool.sources import resolve_sources
    from trackio_tool.store import series
    from trackio_tool.store.select import split_selectors

    target = _charts.check_target(output)
    with _charts.Exporter(target) as exporter:
        data = series.collect(
            resolve_sources(specs),
            runs=split_selectors(run),
            metrics=split_selectors(metric),  # split at commas by collect (a name may have some)
            x=x.value,
            window=smooth,
            max_points=max_points,
            system=system,
            refresh=refresh,
            quiet=quiet,
            on_selected=exporter.warm_up,
        )
        pages = exporter.write(data, cols=cols, log_y=log_y, window=smooth)
    for message in [*data.notes, *exporter.notes]:
        _output.note(f"note: {message}", quiet=quiet)
    for page in pages:
        _output.note(
            f"wrote {page.path}: {_output.plural(page.charts, 'chart')},"
            f" {_output.plural(len(data.runs), 'run')},"
            f" {page.width}x{page.height} px",
            quiet=quiet,
        )
    _output.write("".join(f"{page.path}\n" for page in pages))
