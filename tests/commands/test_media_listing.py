"""One listing of a project's media files: what ``analyze`` counts is what ``merge``
copies, and ``drop``/``rename`` never reach through a symbolic link out of the
project's media folder.

The listing is the one ``fsspec``'s ``find`` gives (``sources._layout.walk_local``):
every entry below ``media/<project>/<run>/`` that is not a folder, a symbolic link
counting as one file, never followed (a link to a folder too). ``merge`` copies
what a link to a file holds, and a link to a folder or to nothing as a link to the
same place.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tree_digest

# Every fixture source that has media files (tests/data/fixtures/README.md).
SOURCES = [
    ("trackio-0.2.9", "toyproj.db"),
    ("trackio-0.2.9", "toyproj.parquet"),
    ("trackio-0.20.2", "toyproj.db"),
    ("trackio-0.20.2", "toyproj.parquet"),
    ("trackio-0.20.2-static", "toyproj"),
    ("trackio-0.20.2-then-0.43.0", "toyproj.db"),
    ("trackio-0.20.2-then-0.43.0", "toyproj.parquet"),
    ("trackio-0.20.2-then-0.43.0-static", "toyproj"),
    ("trackio-0.4.1-dotted", "myproj.db"),
    ("trackio-0.43.0", "toyproj.db"),
    ("trackio-0.43.0", "toyproj.parquet"),
    ("trackio-0.43.0-static", "toyproj"),
]
GAMMA_IMAGES = 4  # media/toyproj/gamma/{0,30,60,90}/<uuid>.png in the 0.43 fixture


def _entries(folder: Path) -> list[str]:
    """Everything below ``folder`` that is not a folder, links not followed."""
    out: list[str] = []
    for top, dirs, files in os.walk(folder):  # (os.walk lists a link to a folder in dirs)
        names = [*files, *(d for d in dirs if os.path.islink(os.path.join(top, d)))]
        out += [os.path.relpath(os.path.join(top, n), folder) for n in names]
    return sorted(out)


def _analyzed(cli: Callable[..., Any], source: Path) -> dict[str, int]:
    """Run name -> analyze's media_files (runs sharing a name share the folder)."""
    r = cli("analyze", str(source), "--json")
    assert r.exit_code == 0, r.stderr
    return {
        run["name"]: run["media_files"]
        for project in json.loads(r.stdout)["projects"]
        for run in project["runs"]
    }


def _merged(
    cli: Callable[..., Any], source: Path, target: Path, *args: str
) -> tuple[dict[str, int], str]:
    """Run name -> media files merge reports for it; its stderr."""
    r = cli("merge", "--from", str(source), "--into", str(target), "--json", *args)
    assert r.exit_code == 0, r.stderr
    out: dict[str, int] = {}
    for run in json.loads(r.stdout)["runs"]:
        out[run["name"]] = out.get(run["name"], 0) + run["media_files"]
    return out, r.stderr


@pytest.mark.parametrize(("fixture", "name"), SOURCES, ids=["/".join(s) for s in SOURCES])
def test_analyze_counts_what_merge_copies(
    cli: Callable[..., Any],
    fixture_copy: Callable[[str], Path],
    tmp_path: Path,
    fixture: str,
    name: str,
) -> None:
    source = fixture_copy(fixture) / name
    target = tmp_path / "out" / "t.db"
    counted = _analyzed(cli, source)
    merged, _ = _merged(cli, source, target)
    on_disk = {run: len(_entries(target.parent / "media" / "t" / run)) for run in counted}
    assert counted == merged == on_disk
    assert sum(counted.values()) > 0


def _link_zoo(d: Path) -> Path:
    """Beside gamma's 4 images (0.43 fixture): a link to a file, a link to a folder
    (holding 2 files) and a dangling link, all relative, into ``d/outside``."""
    gamma = d / "media" / "toyproj" / "gamma"
    outside = d / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "file.png").write_bytes(b"behind a link")
    (outside / "folder" / "a.png").write_bytes(b"a")
    (outside / "folder" / "b.png").write_bytes(b"b")
    (gamma / "0" / "to-file.png").symlink_to("../../../../outside/file.png")
    (gamma / "to-folder").symlink_to("../../../outside/folder")
    (gamma / "0" / "dangling.png").symlink_to("../../../../outside/missing.png")
    return outside


def test_links_in_a_run_folder_count_and_copy_alike(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    """A link to a folder or to nothing made merge fail ("Is a directory", "No such
    file") while analyze counted it; the three links are 3 files for both now."""
    d = fixture_copy("trackio-0.43.0")
    outside = _link_zoo(d)
    before = tree_digest(outside)
    source, target = d / "toyproj.db", tmp_path / "out" / "t.db"
    assert _analyzed(cli, source)["gamma"] == GAMMA_IMAGES + 3
    merged, stderr = _merged(cli, source, target, "-r", "gamma")
    assert merged == {"gamma": GAMMA_IMAGES + 3}
    copied = target.parent / "media" / "t" / "gamma"
    src = d / "media" / "toyproj" / "gamma"
    assert _entries(copied) == _entries(src)
    assert _analyzed(cli, target)["gamma"] == GAMMA_IMAGES + 3
    # A link to a file: its content, as for any file.
    assert not (copied / "0" / "to-file.png").is_symlink()
    assert (copied / "0" / "to-file.png").read_bytes() == b"behind a link"
    # The others: links to the same place (nothing to copy, or not a file).
    for rel in ("to-folder", "0/dangling.png"):
        assert (copied / rel).is_symlink()
        assert os.path.realpath(copied / rel) == os.path.realpath(src / rel)
    assert sorted(p.name for p in (copied / "to-folder").iterdir()) == ["a.png", "b.png"]
    assert "to-folder" in stderr
    assert "copied as links" in stderr
    assert tree_digest(outside) == before


def test_a_pipe_in_a_run_folder_is_not_a_media_file(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    """analyze counted a named pipe as a media file; merge then failed on it."""
    d = fixture_copy("trackio-0.43.0")
    os.mkfifo(d / "media" / "toyproj" / "gamma" / "0" / "pipe")
    assert _analyzed(cli, d / "toyproj.db")["gamma"] == GAMMA_IMAGES
    merged, _ = _merged(cli, d / "toyproj.db", tmp_path / "t.db", "-r", "gamma")
    assert merged == {"gamma": GAMMA_IMAGES}


def test_a_file_in_both_media_folders_of_a_project_counts_once(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    """Trackio <= 0.29 put a project's media under its raw name (``media/toy.proj``);
    the same file there and in ``media/toyproj`` was counted twice by analyze (8) and
    merged once (4)."""
    d = fixture_copy("trackio-0.43.0")
    shutil.copytree(d / "media" / "toyproj" / "gamma", d / "media" / "toy.proj" / "gamma")
    assert _analyzed(cli, d / "toyproj.db")["gamma"] == GAMMA_IMAGES
    merged, _ = _merged(cli, d / "toyproj.db", tmp_path / "t.db", "-r", "gamma")
    assert merged == {"gamma": GAMMA_IMAGES}


def _unreadable_folder(parent: Path) -> None:
    """A folder with a file in it that no process can list by its path, root
    included: its path is longer than PATH_MAX (4096 bytes), ENAMETOOLONG. (A mode
    000 folder would do for other users, but the tests run as root.)"""
    fd = os.open(parent, os.O_RDONLY)
    try:
        for _ in range(17):
            os.mkdir("d" * 250, dir_fd=fd)
            child = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
        os.mkdir("5", dir_fd=fd)
        f = os.open("5/lost.png", os.O_CREAT | os.O_WRONLY, dir_fd=fd)
        os.write(f, b"png")
        os.close(f)
    finally:
        os.close(fd)


def test_an_unreadable_media_folder_stops_a_merge_and_is_noted_by_analyze(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    """A folder below a run's media folder that cannot be listed was left out
    silently: merge copied the rest and said it was done."""
    d = fixture_copy("trackio-0.43.0")
    gamma = d / "media" / "toyproj" / "gamma"
    _unreadable_folder(gamma)
    try:
        target = tmp_path / "out" / "t.db"
        r = cli("merge", "--from", str(d / "toyproj.db"), "--into", str(target), "-r", "gamma")
        assert r.exit_code == 1, r.stdout
        assert r.stdout == ""
        [line] = r.stderr.splitlines()
        assert line.startswith(f"error: cannot read {gamma}/ddd"), line
        assert "File name too long" in line
        assert "nothing was changed" in line
        assert not (tmp_path / "out").exists()
        # Other runs' media are not in the way; --no-media merges the rows.
        r = cli("merge", "--from", str(d / "toyproj.db"), "--into", str(target), "-r", "alpha")
        assert r.exit_code == 0, r.stderr
        r = cli("merge", "--from", str(d / "toyproj.db"), "--into", str(tmp_path / "n.db"),
                "-r", "gamma", "--no-media")  # fmt: skip
        assert r.exit_code == 0, r.stderr
        # analyze counts what it can read, and says what it could not (on stderr;
        # --json keeps it quiet, as every note of analyze).
        assert _analyzed(cli, d / "toyproj.db")["gamma"] == GAMMA_IMAGES
        r = cli("analyze", str(d / "toyproj.db"), env={"COLUMNS": "10000"})  # a 4 KB path
        assert r.exit_code == 0, r.stderr
        [note] = r.stderr.splitlines()
        assert note.startswith(f"note: cannot read {gamma}/ddd"), note
        assert note.endswith(
            "(File name too long): run 'gamma' may have more media files than counted"
        )
        r = cli("analyze", str(d / "toyproj.db"), "-r", "alpha")
        assert r.exit_code == 0, r.stderr
        assert r.stderr == ""  # gamma's folder is not alpha's
    finally:
        shutil.rmtree(gamma / ("d" * 250))


def _gamma_paths(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return sorted(
            json.loads(m)["samples"]["file_path"]
            for (m,) in con.execute(
                "SELECT metrics FROM metrics WHERE instr(metrics, 'file_path') > 0"
            )
        )
    finally:
        con.close()


def _step_folder_outside(d: Path) -> Path:
    """gamma's step-30 folder moved out of the media folder, a link left in its place
    (as one would to free a disk); an empty folder beside its image."""
    outside = d / "outside"
    outside.mkdir()
    gamma = d / "media" / "toyproj" / "gamma"
    shutil.move(gamma / "30", outside / "30")
    (outside / "30" / "empty").mkdir()
    (gamma / "30").symlink_to(outside / "30")
    return outside


def test_drop_never_deletes_through_a_link_to_a_folder(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    """drop deleted the image at outside/30/ through the link gamma/30, which
    analyze counts as one file of gamma's, not as a folder of it."""
    d = fixture_copy("trackio-0.43.0")
    outside = _step_folder_outside(d)
    before = tree_digest(outside)
    r = cli("drop", str(d / "toyproj.db"), "-r", "gamma", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["media_files"] == GAMMA_IMAGES - 1
    assert tree_digest(outside) == before
    assert (outside / "30" / "empty").is_dir()
    assert _entries(d / "media" / "toyproj" / "gamma") == ["30"]  # the link stays
    assert "symbolic link" in r.stderr
    assert "kept" in r.stderr


def test_drop_never_deletes_through_a_linked_run_folder(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    """The run folder itself a link: drop deleted the 4 images it leads to and
    removed the empty folders there; analyze counted no media for the run."""
    d = fixture_copy("trackio-0.43.0")
    outside = d / "outside"
    outside.mkdir()
    shutil.move(d / "media" / "toyproj" / "gamma", outside / "gamma")
    (outside / "gamma" / "empty").mkdir()
    (d / "media" / "toyproj" / "gamma").symlink_to(outside / "gamma")
    before = tree_digest(outside)
    assert _analyzed(cli, d / "toyproj.db")["gamma"] == 0
    r = cli("drop", str(d / "toyproj.db"), "-r", "gamma", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["media_files"] == 0
    assert tree_digest(outside) == before
    assert (outside / "gamma" / "empty").is_dir()
    assert (d / "media" / "toyproj" / "gamma").is_symlink()


def _image_linked_outside(d: Path) -> tuple[Path, Path]:
    """Move one of gamma's images to ``d/outside/`` and leave a link to it in its place."""
    image = next((d / "media" / "toyproj" / "gamma" / "30").iterdir())
    outside = d / "outside"
    outside.mkdir()
    shutil.move(image, outside / image.name)
    image.symlink_to(outside / image.name)
    return image, outside


def test_drop_deletes_a_link_to_a_file_not_the_file(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    d = fixture_copy("trackio-0.43.0")
    _, outside = _image_linked_outside(d)
    before = tree_digest(outside)
    assert _analyzed(cli, d / "toyproj.db")["gamma"] == GAMMA_IMAGES
    r = cli("drop", str(d / "toyproj.db"), "-r", "gamma", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["media_files"] == GAMMA_IMAGES
    assert tree_digest(outside) == before
    assert not (d / "media" / "toyproj" / "gamma").exists()


def test_rename_refuses_to_move_files_through_a_link_to_a_folder(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    """rename moved outside/30/<image> into media/toyproj/delta/30/ through the link
    (the file left the folder it had been put in)."""
    d = fixture_copy("trackio-0.43.0")
    outside = _step_folder_outside(d)
    before, media = tree_digest(outside), _entries(d / "media")
    paths = _gamma_paths(d / "toyproj.db")
    r = cli("rename", str(d / "toyproj.db"), "-r", "gamma", "--to", "delta")
    assert r.exit_code == 1, r.stdout
    [line] = r.stderr.splitlines()
    assert line.startswith("error: "), line
    assert "symbolic link" in line
    assert str(d / "media" / "toyproj" / "gamma" / "30") in line
    assert "nothing was changed" in line
    assert tree_digest(outside) == before
    assert _entries(d / "media") == media
    assert _gamma_paths(d / "toyproj.db") == paths


def test_rename_moves_a_link_to_a_file_as_a_link(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    d = fixture_copy("trackio-0.43.0")
    image, outside = _image_linked_outside(d)
    before = tree_digest(outside)
    r = cli("rename", str(d / "toyproj.db"), "-r", "gamma", "--to", "delta")
    assert r.exit_code == 0, r.stderr
    moved = d / "media" / "toyproj" / "delta" / "30" / image.name
    assert moved.is_symlink()
    assert os.readlink(moved) == str(outside / image.name)
    assert tree_digest(outside) == before
    assert _analyzed(cli, d / "toyproj.db")["delta"] == GAMMA_IMAGES
