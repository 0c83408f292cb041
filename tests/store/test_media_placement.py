"""How merge puts a run's media files in place, under Trackio's project lock.

Trackio 0.25+ writes each logged image into a folder of its own step, so a run's
media is as many folders as files. Moved file by file, placing them took two folder
operations per image under the lock: 41,800 images held it 16 s, longer than the
10 s Trackio waits for it before a ``log`` fails.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from fsspec.implementations.local import LocalFileSystem

from trackio_tool.sources import resolve_sources
from trackio_tool.store.write import merge

GAMMA_IMAGES = 4  # media/toyproj/gamma/{0,30,60,90}/<uuid>.png in the 0.43 fixture


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _spy_renames(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    moved: list[Path] = []
    real = os.rename

    def rename(src: str | Path, dst: str | Path) -> None:
        moved.append(Path(dst))
        real(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    return moved


@pytest.mark.parametrize("existing", [False, True], ids=["new-target", "existing-target"])
def test_a_merged_runs_folder_is_moved_whole(
    fixture_copy: Callable[[str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    existing: bool,
) -> None:
    src = fixture_copy("trackio-0.43.0")
    target = tmp_path / "t" / "other.db"
    if existing:  # a target that already has runs and media
        merge(resolve_sources([str(src / "toyproj.db")])[0], target, runs=["alpha"])
    moved = _spy_renames(monkeypatch)
    result = merge(resolve_sources([str(src / "toyproj.db")])[0], target, runs=["gamma"])
    assert result.media_files == GAMMA_IMAGES
    gamma = target.parent / "media" / "other" / "gamma"
    assert moved == [gamma]  # one rename, not one per image
    assert _files(gamma) == _files(src / "media" / "toyproj" / "gamma")
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".trackio-tool")]


def test_files_already_in_the_run_folder_stay_beside_the_merged_ones(
    fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    """A run folder the target already has (files no row references, say) is entered:
    folders it lacks move in whole, its own files stay."""
    src = fixture_copy("trackio-0.43.0")
    target = tmp_path / "t" / "other.db"
    gamma = target.parent / "media" / "other" / "gamma"
    (gamma / "30").mkdir(parents=True)
    (gamma / "30" / "left.png").write_bytes(b"left by someone")
    (gamma / "notes").mkdir()
    (gamma / "notes" / "n.txt").write_text("x")
    result = merge(resolve_sources([str(src / "toyproj.db")])[0], target, runs=["gamma"])
    assert result.media_files == GAMMA_IMAGES
    source_files = _files(src / "media" / "toyproj" / "gamma")
    assert _files(gamma) == sorted([*source_files, "30/left.png", "notes/n.txt"])
    assert (gamma / "30" / "left.png").read_bytes() == b"left by someone"


def test_local_media_listing_is_fsspecs(tmp_path: Path) -> None:
    """The local listing (os.scandir) gives what fsspec's ``find`` gives: files at any
    depth, and links (to a file, to a folder, dangling) as files, not followed."""
    root = tmp_path / "media" / "p"
    (root / "run" / "3").mkdir(parents=True)
    (root / "run" / "3" / "a.png").write_bytes(b"a")
    (root / "run" / "b.wav").write_bytes(b"b")
    (root / "empty" / "deeper").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "c.png").write_bytes(b"c")
    (root / "run" / "to-file").symlink_to(tmp_path / "elsewhere" / "c.png")
    (root / "run" / "to-folder").symlink_to(tmp_path / "elsewhere")
    (root / "run" / "dangling").symlink_to(tmp_path / "missing")
    (tmp_path / "p.db").write_bytes(b"")
    files = resolve_sources([str(tmp_path / "p.db")])[0]
    assert files.media_dirs() == [str(root)]
    assert files.find_files(str(root)) == LocalFileSystem().find(str(root), withdirs=False)
    assert len(files.find_files(str(root))) == 5
    assert files.find_files(str(tmp_path / "nowhere")) == []
