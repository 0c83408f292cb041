"""Waiting on other threads without deafening Ctrl-C.

CPython runs signal handlers in the main thread, but the OS may hand SIGINT to
any thread; a main thread blocked in a plain ``lock.acquire()`` (``Future.result()``,
``Queue.get()``) then notices it only when the wait ends, seconds later. These
helpers wait in short slices, so KeyboardInterrupt is raised within ~0.1 s.
Kept free of heavy imports (the CLI's --help path stays fast).
"""

from __future__ import annotations

import queue
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError  # builtin only from 3.11
from typing import Any, TypeVar

T = TypeVar("T")
SLICE_S = 0.1


def result(future: Future[T]) -> T:
    """``future.result()``, interruptible."""
    while True:
        try:
            return future.result(timeout=SLICE_S)
        except FutureTimeoutError:
            continue


def get(box: queue.Queue[Any]) -> Any:
    """``box.get()``, interruptible."""
    while True:
        try:
            return box.get(timeout=SLICE_S)
        except queue.Empty:
            continue
