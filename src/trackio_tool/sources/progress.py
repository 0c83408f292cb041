"""Progress and notes from the sources layer, without a rendering dependency.

``sources/`` may not import rich (STYLE.md "The shape"), yet downloads and media
copies deserve a progress bar. So the library reports to whatever reporter is
installed here; the default drops everything, and ``commands/_progress.py``
installs a rich one on stderr. Reporters must be thread-safe: transfers report
from worker threads and from fsspec's event-loop thread.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from typing import Literal, Protocol

Unit = Literal["bytes", "files"]


class ProgressTask(Protocol):
    def advance(self, amount: int = 1) -> None: ...

    def set_total(self, total: int | None) -> None: ...


class ProgressReporter(Protocol):
    def task(
        self, description: str, *, total: int | None = None, unit: Unit = "bytes"
    ) -> AbstractContextManager[ProgressTask]:
        """A unit of work (one download, one batch of copies) shown while it runs."""
        ...

    def note(self, message: str) -> None:
        """A one-line hint for humans (stderr), e.g. that a host key was trusted."""
        ...


class _NullTask:
    def advance(self, amount: int = 1) -> None:
        pass

    def set_total(self, total: int | None) -> None:
        pass


class NullReporter:
    """Reports nothing: the library default, and what ``--quiet`` installs."""

    def task(
        self, description: str, *, total: int | None = None, unit: Unit = "bytes"
    ) -> AbstractContextManager[ProgressTask]:
        return contextlib.nullcontext(_NullTask())

    def note(self, message: str) -> None:
        pass


_reporter: ProgressReporter = NullReporter()


def set_reporter(reporter: ProgressReporter | None) -> None:
    """Install ``reporter`` for this process (``None``: report nothing)."""
    global _reporter
    _reporter = reporter if reporter is not None else NullReporter()


def get_reporter() -> ProgressReporter:
    return _reporter
