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


def test_result_raises_a_timeout_the_worker_raised() -> None:
    """A call that itself raised TimeoutError (kaleido's render timeout, a socket's) was
    mistaken for the wait's own slice running out: the wait looped for ever, re-raising
    it with an ever longer traceback (17 GB in 3 minutes behind a hung Chromium)."""

    def late_timeout() -> None:
        time.sleep(2 * _waiting.SLICE_S)
        raise TimeoutError("the render took too long")

    outcome: list[BaseException] = []

    def wait() -> None:
        with ThreadPoolExecutor(1) as pool:
            try:
                _waiting.result(pool.submit(late_timeout))
            except BaseException as exc:
                outcome.append(exc)

    waiter = threading.Thread(target=wait, daemon=True)  # the old code never returns
    waiter.start()
    waiter.join(timeout=10)
    assert not waiter.is_alive(), "the wait never ended"
    assert [type(e) for e in outcome] == [TimeoutError]
    assert str(outcome[0]) == "the render took too long"


def test_get_waits_for_a_late_item() -> None:
    box: queue.Queue[int] = queue.Queue()
    threading.Timer(3 * _waiting.SLICE_S, box.put, args=(7,)).start()
    assert _waiting.get(box) == 7
