"""Progress reporting: the library protocol (sources.progress) and its rich renderer."""

from __future__ import annotations

import io
import time
import uuid
from pathlib import Path
from typing import Any

import fsspec
import pytest
from rich.console import Console

from trackio_tool.commands import _progress
from trackio_tool.sources import progress
from trackio_tool.sources._transfer import get_files


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def note(self, message: str) -> None:
        self.events.append(("note", message))

    def task(self, description: str, *, total: int | None = None, unit: str = "bytes") -> Any:
        import contextlib

        rec = self

        class Task:
            def advance(self, amount: int = 1) -> None:
                rec.events.append(("advance", amount))

            def set_total(self, total: int | None) -> None:
                rec.events.append(("total", total))

        @contextlib.contextmanager
        def cm() -> Any:
            rec.events.append(("start", description, total, unit))
            yield Task()
            rec.events.append(("end", description))

        return cm()


def test_default_reporter_reports_nothing() -> None:
    progress.set_reporter(None)
    reporter = progress.get_reporter()
    assert isinstance(reporter, progress.NullReporter)
    with reporter.task("x", total=3) as task:
        task.advance(2)
        task.set_total(4)
    reporter.note("ignored")


def test_downloads_report_bytes(tmp_path: Path) -> None:
    fs = fsspec.filesystem("memory")
    root = f"/progress-{uuid.uuid4().hex[:8]}"
    fs.pipe_file(f"{root}/a.bin", b"x" * 5000)
    fs.pipe_file(f"{root}/b.bin", b"y" * 3000)
    rec = Recorder()
    progress.set_reporter(rec)
    try:
        get_files(
            fs,
            [(f"{root}/a.bin", tmp_path / "a.bin"), (f"{root}/b.bin", tmp_path / "b.bin")],
            description="fetching",
            total=8000,
        )
    finally:
        progress.set_reporter(None)
        fs.rm(root, recursive=True)
    assert rec.events[0] == ("start", "fetching", 8000, "bytes")
    assert rec.events[-1] == ("end", "fetching")
    assert sum(e[1] for e in rec.events if e[0] == "advance") == 8000


def _console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=True, width=80, color_system=None), buf


def test_rich_bar_appears_only_for_slow_transfers() -> None:
    console, _ = _console()
    reporter = _progress.RichReporter(console, delay=0.05)
    with reporter.task("quick", total=10) as task:
        task.advance(10)
    assert reporter._progress is None  # done before the delay: no bar at all
    with reporter.task("slow", total=10, unit="files") as task:
        time.sleep(0.06)
        task.advance(1)
        assert reporter._progress is not None
        (shown,) = reporter._progress.tasks
        assert (shown.description, shown.completed, shown.total) == ("slow", 1, 10)
        task.set_total(20)
        assert reporter._progress.tasks[0].total == 20
    assert reporter._progress is None  # stopped when the last task ended


def test_no_bars_when_not_a_terminal_but_notes_still_shown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _progress.enable(quiet=False)  # pytest's stderr is not a terminal
    reporter = progress.get_reporter()
    assert isinstance(reporter, _progress.RichReporter)
    assert not reporter.bars
    with reporter.task("slow", total=1) as task:
        time.sleep(_progress.DELAY_S + 0.01)
        task.advance(1)
        assert reporter._progress is None
    reporter.note("Permanently added the host key of trk")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Permanently added the host key of trk" in captured.err


def test_quiet_installs_the_null_reporter() -> None:
    _progress.enable(quiet=True)
    assert isinstance(progress.get_reporter(), progress.NullReporter)


def test_rendered_columns() -> None:
    console, buf = _console()
    reporter = _progress.RichReporter(console, delay=0)
    with reporter.task("copying media", total=4, unit="files") as task:
        task.advance(3)
        assert reporter._progress is not None
        reporter._progress.refresh()
    with reporter.task("fetching x.db", total=2_000_000) as task:
        task.advance(1_000_000)
        assert reporter._progress is not None
        reporter._progress.refresh()
    text = buf.getvalue()
    assert "3/4 files" in text
    assert "1.0/2.0 MB" in text
