"""Copy files from any fsspec filesystem to local paths: progress, parallelism, Ctrl-C.

Interrupting a transfer must not leave it running: fsspec's async backends
(sshfs) run on fsspec's event-loop thread and keep going after the calling
thread is interrupted, and worker threads cannot be killed. So every transfer
gets a callback that raises ``Cancelled`` once the caller gives up; the
backend's next progress report then ends the transfer where it runs.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from fsspec import AbstractFileSystem
from fsspec.callbacks import Callback

from trackio_tool.sources.progress import ProgressTask, Unit, get_reporter

# How long an interrupted batch waits for its workers to notice the cancel flag,
# so that temporary folders are removed after the last write, not before.
_CANCEL_GRACE_S = 2.0


class Cancelled(Exception):
    """Raised inside a backend's progress hook to stop a transfer."""


class TransferCallback(Callback):
    """Feeds byte counts to a ``ProgressTask`` and stops the transfer on cancel."""

    def __init__(
        self,
        task: ProgressTask,
        cancel: threading.Event,
        *,
        count_bytes: bool = True,
        sets_total: bool = False,
    ) -> None:
        super().__init__()
        self._task = task
        self._cancel = cancel
        self._count = count_bytes
        self._sets_total = sets_total
        self._reported = 0
        self._lock = threading.Lock()

    def set_size(self, size: int | None) -> None:
        if self._sets_total:
            self._task.set_total(size)
        super().set_size(size)

    def call(self, hook_name: str | None = None, **kwargs: Any) -> None:
        if self._cancel.is_set():
            raise Cancelled("transfer cancelled")
        if not self._count or not isinstance(self.value, int):
            return
        with self._lock:
            delta = self.value - self._reported
            if delta > 0:
                self._reported = self.value
        if delta > 0:
            self._task.advance(delta)


def get_files(
    fs: AbstractFileSystem,
    pairs: Sequence[tuple[str, Path]],
    *,
    description: str,
    total: int | None = None,
    unit: Unit = "bytes",
    workers: int = 1,
) -> None:
    """Copy ``(remote path, local path)`` pairs; ``workers > 1`` copies in parallel.

    With ``unit="bytes"`` the bar counts bytes (``total`` = their sum, if
    known); with ``"files"`` it counts finished files.
    """
    if not pairs:
        return
    cancel = threading.Event()
    with get_reporter().task(description, total=total, unit=unit) as task:

        def one(src: str, dst: Path) -> None:
            dst.parent.mkdir(parents=True, exist_ok=True)
            callback = TransferCallback(task, cancel, count_bytes=unit == "bytes")
            fs.get_file(src, str(dst), callback=cast(Any, callback))
            if unit == "files":
                task.advance(1)

        if workers <= 1 or len(pairs) == 1:
            try:
                for src, dst in pairs:
                    one(src, dst)
            except BaseException:
                cancel.set()
                raise
            return
        pool = cf.ThreadPoolExecutor(
            max_workers=min(workers, len(pairs)), thread_name_prefix="trackio-tool-copy"
        )
        futures = [pool.submit(one, src, dst) for src, dst in pairs]
        try:
            pending = set(futures)
            while pending:
                # Short waits: a main thread blocked for good would not notice
                # a Ctrl-C that the kernel delivered to a worker thread.
                done, pending = cf.wait(pending, timeout=0.25, return_when=cf.FIRST_EXCEPTION)
                for future in done:
                    future.result()
        except BaseException:
            # First failure (or Ctrl-C): stop the others, give them a moment to
            # notice, and never block on a transfer that is still running.
            cancel.set()
            pool.shutdown(wait=False, cancel_futures=True)
            cf.wait(futures, timeout=_CANCEL_GRACE_S)
            raise
        pool.shutdown(wait=True)
