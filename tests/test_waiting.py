"""The interruptible waits return what plain waits return, and raise what they raise."""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from trackio_tool import _waiting


def test_result_waits_across_slices_and_returns() -> None:
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(lambda: time.sleep(3 * _waiting.SLICE_S) or 42)
        assert _waiting.result(future) == 42


def test_result_raises_the_worker_error() -> None:
    def boom() -> None:
        raise ValueError("bad")

    with ThreadPoolExecutor(1) as pool, pytest.raises(ValueError, match="bad"):
        _waiting.result(pool.submit(boom))


def test_get_waits_for_a_late_item() -> None:
    box: queue.Queue[int] = queue.Queue()
    threading.Timer(3 * _waiting.SLICE_S, box.put, args=(7,)).start()
    assert _waiting.get(box) == 7
