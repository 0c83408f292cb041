"""plot with real kaleido and a real Chromium: write every format, then decode each file.

One browser serves the module (as one serves a command); the last test runs the
CLI end to end, which starts its own. Without Chromium these tests are skipped
locally and fail on CI (``CI`` set), where Debian's ``chromium`` is installed.
"""

from __future__ import annotations

import io
import os
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader

from tests.conftest import FIXTURES
from trackio_tool.commands import _charts
from trackio_tool.errors import MissingDependencyError
from trackio_tool.sources import resolve_sources
from trackio_tool.store import series

pytestmark = pytest.mark.slow

V043 = FIXTURES / "trackio-0.43.0" / "toyproj.db"


@pytest.fixture(scope="module")
def browser() -> Iterator[_charts.Browser]:
    try:
        path = _charts.find_browser()
    except MissingDependencyError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no Chromium here: {exc}")
    b = _charts.Browser(path)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="module")
def data() -> series.PlotData:
    return series.collect(resolve_sources([str(V043)]), window=5)


def _pages(data: series.PlotData, out: Path, fmt: str) -> list[_charts.Page]:
    pages, _ = _charts.paginate(data, _charts.Target(out, fmt), cols=1, log_y=False, window=5)
    return pages


@pytest.mark.parametrize("fmt", ["webp", "png", "svg", "pdf"])
def test_every_image_format_decodes(
    browser: _charts.Browser, data: series.PlotData, tmp_path: Path, fmt: str
) -> None:
    (page,) = _pages(data, tmp_path / f"plot.{fmt}", fmt)
    (blob,) = browser.render([page], fmt)
    _charts.write_files([(page.path, blob)])
    raw = page.path.read_bytes()
    assert len(raw) > 20_000, len(raw)
    assert page.height == 80 + len(data.metrics) * 320 + 60
    if fmt in ("webp", "png"):
        with Image.open(io.BytesIO(raw)) as img:
            assert img.format == fmt.upper()
            assert img.size == (1200, page.height)
            img.load()
            # Mostly white (plotly_white) with coloured lines: not a blank page.
            assert len(img.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 50
    elif fmt == "svg":
        root = ET.fromstring(raw)
        assert root.tag.endswith("svg")
        assert (root.get("width"), root.get("height")) == ("1200", str(page.height))
        assert b"beta (66bbe705)" in raw
        assert b"loss" in raw
    else:
        reader = PdfReader(io.BytesIO(raw))
        assert len(reader.pages) == 1
        box = reader.pages[0].mediabox
        assert float(box.width) / float(box.height) == pytest.approx(1200 / page.height, rel=0.02)
    assert sorted(p.name for p in tmp_path.iterdir()) == [page.path.name]


def test_the_browser_starts_without_the_omnibox_popup(browser: _charts.Browser) -> None:
    """Chromium 156's headless mode preloads its address bar's popup page in a renderer
    of its own: ~0.5 CPU-s of the boot, on the cores that read the data meanwhile.
    The browser is started with that page switched off (LIGHT_START)."""
    import asyncio

    k = browser._ready()
    ours = [
        Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        for pid in _charts._children(k.subprocess.pid)  # choreographer's wrapper -> Chromium
    ]
    assert ours, "no Chromium process under kaleido's wrapper"
    assert all(os.fsencode(flag) in args for flag in _charts.LIGHT_START for args in ours)
    infos = asyncio.run_coroutine_threadsafe(
        k.send_command("Target.getTargets"), browser._loop
    ).result(timeout=30)["result"]["targetInfos"]
    urls = [t["url"] for t in infos]
    assert any(u.endswith("/index.html") for u in urls), urls  # kaleido's page
    assert "chrome://omnibox-popup.top-chrome/" not in urls, urls


def test_html_needs_no_browser(data: series.PlotData, tmp_path: Path) -> None:
    target = _charts.check_target(tmp_path / "plot.html")
    with _charts.Exporter(target) as ex:
        (page,) = ex.write(data, window=5)
        assert ex._browser is None
    text = page.path.read_text()
    assert "Plotly.newPlot" in text
    assert "gamma" in text


def test_a_figure_too_tall_for_webp_is_split(browser: _charts.Browser, tmp_path: Path) -> None:
    import polars as pl

    n = 82  # 50 charts on the first page (the tallest a WebP allows), 32 on the second
    traces = [
        series.Trace(f"m{i:03d}", 0, pl.Series([0, 1, 2]), pl.Series([0.0, i, 0.0]), logged=3)
        for i in range(n)
    ]
    data = series.PlotData(
        projects=["tall"],
        runs=[series.Run("tall", "r", None, "r", "r")],
        metrics=[t.metric for t in traces],
        traces=traces,
        x_mode="step",
        x_title="step",
        table="metrics",
    )
    pages, notes = _charts.paginate(
        data, _charts.Target(tmp_path / "tall.webp", "webp"), cols=1, log_y=False, window=0
    )
    assert [p.charts for p in pages] == [50, 32]
    assert "split into 2 files, tall-1.webp .. tall-2.webp" in notes[0]
    first = pages[0]  # the tallest: rendering it proves the cap holds
    (blob,) = browser.render([first], "webp")
    _charts.write_files([(first.path, blob)])
    with Image.open(first.path) as img:
        assert img.format == "WEBP"
        assert img.size == (1200, first.height)
        assert 16000 < img.size[1] <= 16383


def _need_chromium() -> None:
    """Skip where no Chromium is installed, except on CI (which installs one)."""
    try:
        _charts.find_browser()
    except MissingDependencyError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no Chromium here: {exc}")


def test_cli_writes_a_webp(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    _need_chromium()
    d = fixture_copy("trackio-0.43.0")
    out = tmp_path / "out" / "plot.webp"
    out.parent.mkdir()
    r = cli("plot", str(d / "toyproj.db"), "-o", str(out), "--metric", "loss,acc", "--smooth", "3")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == f"{out}\n"
    # Only our own lines on stderr: no choreographer/kaleido/Chromium log noise.
    assert all(line.startswith(("note: ", "wrote ")) for line in r.stderr.splitlines()), r.stderr
    with Image.open(out) as img:
        assert img.format == "WEBP"
        assert img.size == (1200, 80 + 2 * 320 + 60)
    assert sorted(p.name for p in out.parent.iterdir()) == ["plot.webp"]


def test_a_tmpdir_too_long_for_chromium_still_gives_images(
    cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the polish audit: Chromium keeps a socket in $TMPDIR and exits at once
    when its path is longer than a socket allows (TMPDIR over 62 characters), so
    `plot -o x.png` failed with kaleido's "The browser seemed to close immediately
    after starting ... choreo_get_chrome". Chromium now gets a short TMPDIR (/tmp)."""
    _need_chromium()
    long = tmp_path / ("t" * 120)
    long.mkdir()
    monkeypatch.setenv("TMPDIR", str(long))
    monkeypatch.setattr(tempfile, "tempdir", None)  # Python's own temp files go there too
    out = tmp_path / "plot.png"
    r = cli("plot", str(V043), "-o", str(out), "--metric", "loss", "-q")
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"{out}\n", "")
    with Image.open(out) as img:
        assert img.format == "PNG"
        assert img.size == (1200, 80 + 320 + 60)
    r = cli("plot", str(V043), "-o", str(tmp_path / "plot.html"), "--metric", "loss", "-q")
    assert (r.exit_code, r.stderr) == (0, "")
    assert list(long.iterdir()) == []  # the browser's profile and page are gone
