"""Listing a project's media folder."""

from __future__ import annotations

from pathlib import Path

from fsspec.implementations.local import LocalFileSystem

from trackio_tool.sources import resolve_sources


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
