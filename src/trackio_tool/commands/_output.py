"""Rendering: data on stdout (tables or JSON), progress and notes on stderr."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

from trackio_tool._text import plural as plural  # the commands' counted words

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

# rich is imported on first use: `--json` output never needs it.
_stdout: Console | None = None
_stderr: Console | None = None


def out() -> Console:
    global _stdout
    if _stdout is None:
        from rich.console import Console

        _stdout = Console(soft_wrap=False, highlight=False, width=_piped_width(sys.stdout))
        _stdout.on_broken_pipe = _closed  # type: ignore[method-assign]
    return _stdout


class OutputClosed(Exception):
    """stdout or stderr was closed by its reader (``| head``); the boundary (cli) exits.

    Not an OSError: click turns a broken pipe under a command into exit status 1, so a
    cut output would end with 0 or 1 depending on how much of it fitted in the pipe."""


def _closed() -> None:
    # In place of rich's own handler, which exits with status 1.
    raise OutputClosed


def write(text: str) -> None:
    """Data on stdout, as it is (no rich markup or wrapping)."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError as exc:
        raise OutputClosed from exc


def err() -> Console:
    global _stderr
    if _stderr is None:
        from rich.console import Console

        _stderr = Console(stderr=True, highlight=False, width=_piped_width(sys.stderr))
        _stderr.on_broken_pipe = _closed  # type: ignore[method-assign]
    return _stderr


def reset() -> None:
    """Forget the consoles, so the next ones measure the current streams again."""
    global _stdout, _stderr
    _stdout = _stderr = None


def _piped_width(stream: Any) -> int | None:
    """Piped output (``| grep``, ``> file``): rich would wrap tables at 80 columns and
    split run names across lines; lines as long as they need instead. COLUMNS, when
    set, and a terminal's own width still win (None: rich decides)."""
    columns = os.environ.get("COLUMNS", "").strip()
    if (columns.isdigit() and int(columns) > 0) or stream is None:
        return None
    try:
        if not stream.isatty():
            return 10_000
        # rich takes COLUMNS=0 as a width of 0 and prints nothing at all.
        return os.get_terminal_size(stream.fileno()).columns or 80 if columns else None
    except (AttributeError, ValueError, OSError):  # a closed or unusual stream
        return None


def fits(console: Console, table: Table) -> bool:
    """Whether ``table`` fits the console's width with every cell whole. Narrower than
    its columns' minimum, rich cuts cells to "…" and then drops whole columns.

    Exact for a table with one wrappable column (the others ``no_wrap``): rich then
    narrows only that one, and by no more than it can wrap (or fold, down to its
    ``min_width``). With several, rich
    narrows the widest first, below what its words need, and cuts it.
    """
    need, columns = _measure(console, table)
    for column, (widest, least) in zip(table.columns, columns, strict=True):
        floor = column.min_width or 0
        if column.no_wrap:  # rich's own minimum takes it as wrappable at its spaces
            least = widest
        elif column.overflow == "fold" and floor:
            least = floor  # a long word folds, whole, down to min_width
        need -= max(widest, floor) - max(least, floor)
    return need <= console.width


def table_width(console: Console, table: Table) -> int:
    """The width rich gives ``table`` with no limit (its measurement's maximum)."""
    return _measure(console, table)[0]


def _measure(console: Console, table: Table) -> tuple[int, list[tuple[int, int]]]:
    """``table``'s unbounded width, and each column's widest and least cell width
    (rich's maximum and minimum, padding aside), every cell measured once: rich's own
    measurement of the table and then of each column took seconds for 1,000 runs.
    The sum follows rich's ``Table.__rich_measure__`` for borderless tables."""
    from rich.measure import Measurement

    # Measured as if unbounded: rich clamps a measurement to the width it is given.
    unbounded = console.options.update_width(1_000_000)
    columns: list[tuple[int, int]] = []
    for column in table.columns:
        sizes = [Measurement.get(console, unbounded, c) for c in (column.header, *column.cells)]
        columns.append((max(m.maximum for m in sizes), max(m.minimum for m in sizes)))
    plain = (
        table.box is None
        and not table.show_footer
        and table.show_header
        and table.width is None
        and not table.collapse_padding
        and all(c.width is None and c.max_width is None for c in table.columns)
    )
    if not plain:  # a layout the sum below does not follow: rich measures it
        return Measurement.get(console, unbounded, table).maximum, columns
    _, right, _, left = table.padding
    need = 0
    for column, (widest, _) in zip(table.columns, columns, strict=True):
        need += max(widest, column.min_width or 0) + left + right
    if not table.pad_edge and table.columns:
        need -= left + right  # no padding on the outer edges
    return need, columns


def print_blocks(console: Console, table: Table) -> None:
    """``table`` one row at a time, for a terminal too narrow for it: the first cell as
    a heading, then one ``header: value`` line per other non-empty cell (long values
    wrap, nothing is cut)."""
    from rich.text import Text

    columns = [(str(c.header), list(c.cells)) for c in table.columns]
    for i in range(table.row_count):
        console.print(Text(str(columns[0][1][i]), style="bold"))
        for header, cells in columns[1:]:
            value = str(cells[i])
            if value:
                console.print(Text(f"  {header}: {value}"))


def note(message: str, *, quiet: bool = False) -> None:
    """A hint or warning for humans: stderr, never mixed into data."""
    if not quiet:
        err().print(message, markup=False)


def print_json(data: Any) -> None:
    # Plain print, not rich: JSON must be byte-exact for `| jq`. On a stdout that is not
    # UTF-8 (PYTHONIOENCODING=ascii, a Latin-1 locale) non-ASCII text goes as \u escapes:
    # still the same JSON, where the stream's fallback escapes would not be JSON.
    ascii_only = not _unicode(getattr(sys.stdout, "encoding", None))
    write(json.dumps(data, indent=2, ensure_ascii=ascii_only, allow_nan=False, default=str) + "\n")


def _unicode(encoding: str | None) -> bool:
    import codecs

    try:
        return encoding is not None and codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        return False


def progress(*, quiet: bool, transient: bool = True):  # type: ignore[no-untyped-def]
    """A rich progress bar on stderr, silent when quiet or stderr is not a terminal."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err(),
        transient=transient,
        disable=quiet or not err().is_terminal,
    )
