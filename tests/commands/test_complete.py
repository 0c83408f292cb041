"""Shell completion helpers (the protocol itself is driven in tests/test_cli.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from trackio_tool.commands._complete import (
    _Run,
    _short_id,
    _with_commas,
    complete_plot_run,
    complete_run,
    complete_run_to_drop,
    complete_run_to_rename,
)


def _run(name: str, run_id: str) -> _Run:
    return _Run(name, run_id, run_id, 1)


def test_short_id_is_8_characters_unless_that_selects_nothing() -> None:
    a = _run("beta", "66bbe7058728471b8bdfacf8593ad4a1")
    b = _run("beta", "6afb4a0011dc4614bf8df66d3e75156b")
    assert _short_id(a, [a, b]) == "66bbe705"
    # Another id starting the same way: longer, until unique.
    c = _run("gamma", "66bbe705ffff471b8bdfacf8593ad4a1")
    assert _short_id(a, [a, b, c]) == "66bbe7058728"
    # A prefix that is another run's name selects that run, not this one.
    d = _run("66bbe705", "0123456789abcdef0123456789abcdef")
    assert _short_id(a, [a, b, d]) == "66bbe7058728"
    # One run stored under two names fills two index rows: only its whole id is unique.
    e = _run("beta-old", a.key)
    assert _short_id(a, [a, b, e]) == a.key
    # Short ids (not Trackio's) are given whole.
    f, g = _run("x", "abc"), _run("x", "abd")
    assert _short_id(f, [f, g]) == "abc"


def test_completion_gives_nothing_when_a_path_cannot_be_checked(monkeypatch: Any) -> None:
    """Path.is_file raises PermissionError for a file in a folder we may not enter."""

    def refuse(self: Path) -> bool:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "is_file", refuse)
    ctx: Any = SimpleNamespace(params={"sources": ["/locked/toyproj.db"]}, args=[])
    for complete in (complete_run, complete_run_to_drop, complete_run_to_rename, complete_plot_run):
        assert complete(ctx, "") == []


def test_after_a_comma_only_names_the_selector_accepts_there() -> None:
    """The selector splits a value at every comma and strips the parts, so after a comma
    a name holding a comma or outer spaces was offered and then refused (`a,c,d`,
    `a, lead`), and `a,b` came twice: whole, and as `a` + `b`."""
    names = {n: n for n in ["a", "b", "a,b", "c,d", " lead", "gamma"]}
    assert [v for v, _ in _with_commas(names, "a,", set())] == ["a,b", "a,gamma"]
    assert [v for v, _ in _with_commas(names, "gamma,", set())] == ["gamma,a", "gamma,b"]
