"""Waiting on other threads without deafening Ctrl-C.

CPython runs signal handlers in the main thread, but the OS may hand SIGINT to
any thread; a main thread blocked in a plain ``lock.acquire()`` (``Future.result()``,
``Queue.get()``) then notices it only when the wait ends, seconds later. These
helpers wait in short slices, so KeyboardInterrupt is raised within ~0.1 s.
Kept free of heavy imports (the CLI's --help path stays fast).
"""

from __future__ import annotations

import io
import queue
import select
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError  # builtin only from 3.11
from typing import IO, Any, TypeVar

T = TypeVar("T")
SLICE_S = 0.1


def result(future: Future[T]) -> T:
    """``future.result()``, interruptible."""
    while True:
        try:
            return future.result(timeout=SLICE_S)
        except FutureTimeoutError:
            # Since 3.11 this is the builtin TimeoutError: the call itself may have
            # raised it (a render or a connection that timed out). Waiting again
            # would re-raise it for ever, each time with a longer traceback.
            if future.done():
                raise
            continue


def get(box: queue.Queue[Any]) -> Any:
    """``box.get()``, interruptible."""
    while True:
        try:
            return box.get(timeout=SLICE_S)
        except queue.Empty:
            continue


def readline(stream: IO[str]) -> str:
    """``stream.readline()`` of a terminal, interruptible.

    polars installs its SIGINT handler with SA_RESTART, so a read blocked on the
    terminal is resumed after Ctrl-C instead of failing with EINTR: Ctrl-C at a
    prompt went unnoticed until Enter. Waiting in ``select`` slices first (never
    restarted) lets the KeyboardInterrupt through.
    """
    try:
        fd = stream.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return stream.readline()
    while not select.select([fd], [], [], SLICE_S)[0]:
        continue
    return stream.readline()
