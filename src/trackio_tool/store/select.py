"""Pick runs by name or id (``--run``), with helpful errors."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence

import polars as pl

from trackio_tool._text import listing
from trackio_tool.errors import AmbiguousRunError, RunNotFoundError

LISTED = 10  # ids an error names before '... and N more'


def split_selectors(values: Iterable[str] | None) -> list[str]:
    """``--run a,b --run c`` -> ``["a,b", "c"]``: values as given, blanks dropped.

    A value is split at its commas (the seed's ``-r a,b`` form) only when it is
    matched against runs (``expand``), because a run name may contain commas.
    Spaces are kept too: a run may be called " lead" (``match`` also tries the
    value without them).
    """
    return [v for v in values or () if v.strip()]


def split_commas(values: Iterable[str] | None) -> list[str]:
    """``--metric 'a*,b' --metric c`` -> ``["a*", "b", "c"]``."""
    return [p.strip() for v in values or () for p in v.split(",") if p.strip()]


def expand(selector: str, names_a_run: Callable[[str], bool]) -> list[str]:
    """A ``--run`` value: itself when it names a run whole, else its comma-separated parts."""
    if "," not in selector or names_a_run(selector):
        return [selector]
    return split_commas([selector])


def match(index: pl.DataFrame, selector: str) -> pl.DataFrame:
    """Runs of one project a selector names: exact name, exact id, or unique id prefix
    (>= 6 chars); as given first, then without surrounding spaces."""
    hit = _match(index, selector)
    if not hit.height and selector.strip() != selector:
        hit = _match(index, selector.strip())
    return hit


def _match(index: pl.DataFrame, selector: str) -> pl.DataFrame:
    by_name = index.filter(pl.col("run_name") == selector)
    if by_name.height:
        return by_name
    by_id = index.filter(pl.col("run_id") == selector)
    if by_id.height:
        return by_id
    if len(selector) >= 6:
        by_prefix = index.filter(pl.col("run_id").str.starts_with(selector))
        if by_prefix.height == 1:
            return by_prefix
    return index.clear()


def suggestions(selector: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(selector, sorted(set(names)), n=3, cutoff=0.4)
    return ", ".join(repr(c) for c in close)


def not_found(selector: str, names: Iterable[str], where: str) -> RunNotFoundError:
    names = list(names)
    hint = suggestions(selector, names)
    tail = (
        f"; closest: {hint}"
        if hint
        else (f"; runs: {', '.join(sorted(set(names))[:8])}" if names else "; it has no runs")
    )
    return RunNotFoundError(f"no run {selector!r} in {where}{tail}")


def select_runs(
    index: pl.DataFrame,
    selectors: Sequence[str],
    *,
    where: str,
    unique: bool = False,
) -> list[str]:
    """Run keys named by ``selectors`` (all runs when empty), in index order.

    ``unique=True`` (for writes) refuses a bare name that matches several runs
    and lists their ids, so the user can pick one.
    """
    if not selectors:
        return index.get_column("run_key").to_list()
    chosen: set[str] = set()
    whole = [x for sel in selectors for x in expand(sel, lambda v: bool(match(index, v).height))]
    for sel in whole:
        hit = match(index, sel)
        if not hit.height:
            raise not_found(sel, index.get_column("run_name").to_list(), where)
        # (One run may fill two index rows: logged under two names, see write.drop.)
        if unique and hit.get_column("run_key").n_unique() > 1:
            all_ids = [str(i) for i in hit.get_column("run_id").to_list()]
            ids = listing(all_ids, limit=LISTED)
            more = "; `analyze --json` lists them all" if len(all_ids) > LISTED else ""
            raise AmbiguousRunError(
                f"{hit.height} runs in {where} are named {sel!r} (ids {ids}); select one by"
                f" its id{more}"
            )
        chosen.update(hit.get_column("run_key").to_list())
    return [k for k in dict.fromkeys(index.get_column("run_key").to_list()) if k in chosen]


class Spread:
    """``--run`` over several projects read one by one (analyze), as plot takes it: a
    selector must name a run in some project, not in each.

    ``pick`` gives each project the selectors (or their comma-separated parts) that
    name its runs; ``check`` then refuses one that named a run nowhere.
    """

    def __init__(self, selectors: Sequence[str]) -> None:
        self.selectors = list(selectors)
        self.found: set[str] = set()
        self.names: list[str] = []
        self.projects: list[str] = []

    def pick(self, index: pl.DataFrame, project: str) -> list[str]:
        self.projects.append(project)
        self.names.extend(index.get_column("run_name").to_list())
        picked: list[str] = []
        for sel in self.selectors:
            for part in expand(sel, lambda v: bool(match(index, v).height)):
                if match(index, part).height:
                    picked.append(part)
                    self.found.add(part)
        return picked

    def check(self) -> None:
        where = f"{len(self.projects)} projects ({', '.join(self.projects)})"
        for sel in self.selectors:
            # Named whole somewhere ("a,b" is a run), else every part must be.
            parts = [] if sel in self.found or "," not in sel else split_commas([sel])
            for part in parts or [sel]:
                if part not in self.found:
                    raise not_found(part, self.names, where)
