"""Media of a project whose name is not its file stem, as Trackio <= 0.29 laid it out.

``trackio.init(project="my.proj")`` writes ``myproj.db`` (the name without the
characters a file name should not have) but, before 0.30, put the media under
``media/my.proj/`` and wrote ``file_path`` as ``my.proj/<run>/<step>/<uuid>.png``
(fixture ``trackio-0.4.1-dotted``). Those files are the project's: counted, merged,
moved and deleted with its runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from trackio_tool.sources import resolve_sources
from trackio_tool.store import open_project
from trackio_tool.store._sqlite_ro import read_only
from trackio_tool.store.summary import summarize
from trackio_tool.store.write import drop, merge, rename

FIXTURE = "trackio-0.4.1-dotted"
IMAGE = "r1/3/9ce24bb4-860d-4eb5-98d0-8f2c28d8d3cb.png"


def _paths(db: Path) -> list[str]:
    with read_only(db) as con:
        rows = con.execute("SELECT json_extract(metrics, '$.img.file_path') FROM metrics")
        return [p for (p,) in rows if p]


def test_analyze_counts_the_raw_name_folder(fixture_copy: Callable[[str], Path]) -> None:
    folder = fixture_copy(FIXTURE)
    with open_project(resolve_sources([str(folder / "myproj.db")])[0]) as project:
        summary = summarize(project)
    assert [(r.name, r.media_files) for r in summary.runs] == [("r1", 1)]


def test_merge_copies_the_raw_name_folder(
    fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    folder = fixture_copy(FIXTURE)
    target = tmp_path / "trackio" / "other.db"
    result = merge(resolve_sources([str(folder / "myproj.db")])[0], target)
    assert result.media_files == 1
    assert _paths(target) == [f"other/{IMAGE}"]
    assert (target.parent / "media" / "other" / IMAGE).is_file()


def test_rename_moves_the_raw_name_folder(fixture_copy: Callable[[str], Path]) -> None:
    folder = fixture_copy(FIXTURE)
    db = folder / "myproj.db"
    result = rename(db, run="r1", to="r2")
    assert result.runs[0].media_files == 1
    moved = IMAGE.replace("r1/", "r2/", 1)
    # The file stays in Trackio's folder for the project, its path rewritten to match.
    assert _paths(db) == [f"my.proj/{moved}"]
    assert (folder / "media" / "my.proj" / moved).is_file()
    assert not (folder / "media" / "my.proj" / "r1").exists()


def test_drop_deletes_the_raw_name_folder(fixture_copy: Callable[[str], Path]) -> None:
    folder = fixture_copy(FIXTURE)
    result = drop(folder / "myproj.db", runs=["r1"])
    assert result.runs[0].media_files == 1
    assert not (folder / "media" / "my.proj" / "r1").exists()
