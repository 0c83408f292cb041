"""Rich progress bars on stderr for downloads and media copies made by ``sources/``.

``sources/`` reports through the small protocol in ``sources.progress``; this
module renders it. A bar appears only once a transfer has taken longer than
``DELAY_S`` (no flicker for cached or tiny files), only when stderr is a
terminal, and never with ``--quiet``. Notes (e.g. "trusted a new host key")
are printed on stderr unless ``--quiet``, terminal or not.

Commands call ``enable(quiet)`` once, before touching any source.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from trackio_tool.sources.progress import ProgressTask, Unit, set_reporter

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

DELAY_S = 0.3


def enable(quiet: bool) -> None:
    """Install the stderr reporter for this command (``quiet``: report nothing)."""
    if quiet:
        set_reporter(None)
        return
    from trackio_tool.commands._output import err

    console = err()
    set_reporter(RichReporter(console, bars=console.is_terminal))


class RichReporter:
    """One shared ``rich.progress.Progress`` on stderr, started on demand."""

    def __init__(self, console: Console, *, bars: bool = True, delay: float = DELAY_S) -> None:
        self.console = console
        self.bars = bars
        self.delay = delay
        self._lock = threading.RLock()
        self._progress: Progress | None = None
        self._shown = 0

    def note(self, message: str) -> None:
        self.console.print(message, markup=False, highlight=False)

    @contextlib.contextmanager
    def task(
        self, description: str, *, total: int | None = None, unit: Unit = "bytes"
    ) -> Iterator[ProgressTask]:
        handle = _RichTask(self, description, total, unit)
        try:
            yield handle
        finally:
            handle.finish()

    # -- called by tasks, under the lock ------------------------------------------
    def _show(self, description: str, total: int | None, completed: int, unit: Unit) -> TaskID:
        with self._lock:
            if self._progress is None:
                self._progress = _make_progress(self.console)
                self._progress.start()
            self._shown += 1
            return self._progress.add_task(description, total=total, completed=completed, unit=unit)

    def _hide(self, task_id: TaskID) -> None:
        with self._lock:
            if self._progress is None:
                return
            self._progress.remove_task(task_id)
            self._shown -= 1
            if self._shown == 0:
                self._progress.stop()
                self._progress = None


class _RichTask:
    def __init__(
        self, reporter: RichReporter, description: str, total: int | None, unit: Unit
    ) -> None:
        self.reporter = reporter
        self.description = description
        self.total = total
        self.unit: Unit = unit
        self.completed = 0
        self.started = time.monotonic()
        self._id: TaskID | None = None
        self._done = False
        self._lock = threading.Lock()

    def _maybe_show(self) -> None:
        if (
            self._id is None
            and not self._done
            and self.reporter.bars
            and time.monotonic() - self.started >= self.reporter.delay
        ):
            self._id = self.reporter._show(self.description, self.total, self.completed, self.unit)

    def advance(self, amount: int = 1) -> None:
        with self._lock:
            self.completed += amount
            self._maybe_show()
            progress = self.reporter._progress
            if self._id is not None and progress is not None:
                progress.update(self._id, completed=self.completed)

    def set_total(self, total: int | None) -> None:
        with self._lock:
            self.total = total
            progress = self.reporter._progress
            if self._id is not None and progress is not None:
                progress.update(self._id, total=total)

    def finish(self) -> None:
        with self._lock:
            self._done = True
            if self._id is not None:
                self.reporter._hide(self._id)
                self._id = None


def _make_progress(console: Console) -> Progress:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.text import Text

    class AmountColumn(ProgressColumn):
        """Bytes for downloads, ``n/m files`` for batches of copies."""

        def __init__(self) -> None:
            super().__init__()
            self._bytes = DownloadColumn()

        def render(self, task: Task) -> Text:
            if task.fields.get("unit") == "files":
                done = int(task.completed)
                return Text(f"{done}/{int(task.total)} files" if task.total else f"{done} files")
            return self._bytes.render(task)

    class SpeedColumn(ProgressColumn):
        def __init__(self) -> None:
            super().__init__()
            self._speed = TransferSpeedColumn()

        def render(self, task: Task) -> Text:
            if task.fields.get("unit") == "files":
                return Text("")
            return self._speed.render(task)

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        AmountColumn(),
        SpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
