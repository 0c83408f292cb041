"""The download cache and consistent copies of remote SQLite files (sources/cache.py).

Backends are fsspec's in-memory filesystem plus small subclasses that change a
file at the worst moment; the servers' own tests cover the real backends.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from tests.conftest import FIXTURES
from trackio_tool.errors import CorruptFileError, SourceNotFoundError
from trackio_tool.sources import cache, remote

WAL = FIXTURES / "trackio-0.43.0-wal-snapshot"


@pytest.fixture
def mem() -> Iterator[tuple[MemoryFileSystem, str]]:
    fs = fsspec.filesystem("memory")
    root = f"/cache-{uuid.uuid4().hex[:8]}"
    yield fs, root
    if fs.exists(root):
        fs.rm(root, recursive=True)


def _put(fs: Any, path: str, data: bytes) -> None:
    fs.pipe_file(path, data)


class _Counting(MemoryFileSystem):
    """Memory FS that counts downloads; ``info`` can be made to lie about mtimes."""

    cachable = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gets: list[str] = []
        self.mtimes: list[float] = []  # successive mtimes reported for the .db
        self.fail_get: dict[str, BaseException] = {}

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        out = dict(super().info(path, **kwargs))
        out.pop("created", None)
        if path.endswith(".db"):
            out["mtime"] = self.mtimes.pop(0) if len(self.mtimes) > 1 else self.mtimes[0]
        return out

    def get_file(self, rpath: str, lpath: str, callback: Any = None, **kwargs: Any) -> None:
        self.gets.append(rpath)
        if rpath in self.fail_get:
            raise self.fail_get.pop(rpath)
        super().get_file(rpath, lpath, callback=callback, **kwargs)


@pytest.fixture
def counting(mem: tuple[MemoryFileSystem, str]) -> tuple[_Counting, str]:
    fs = _Counting()
    fs.mtimes = [1.0]
    return fs, mem[1]


def _rows(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    finally:
        con.close()


def test_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRACKIO_TOOL_CACHE", str(tmp_path / "c"))
    assert cache.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("TRACKIO_TOOL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "trackio-tool" / "downloads"


def test_wal_is_folded_into_one_self_contained_copy(counting: tuple[_Counting, str]) -> None:
    fs, root = counting
    _put(fs, f"{root}/walproj.db", (WAL / "walproj.db").read_bytes())
    _put(fs, f"{root}/walproj.db-wal", (WAL / "walproj.db-wal").read_bytes())
    got = cache.fetch_db(fs, f"{root}/walproj.db", url=f"memory://{root}/walproj.db")
    assert sorted(p.name for p in got.parent.iterdir() if not p.name.startswith(".")) == [
        "stamp.json",
        "walproj.db",
    ]
    assert _rows(got) == 40
    con = sqlite3.connect(got)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    con.close()
    assert fs.gets == [f"{root}/walproj.db", f"{root}/walproj.db-wal"]


def test_unchanged_file_is_not_fetched_again(counting: tuple[_Counting, str]) -> None:
    fs, root = counting
    _put(fs, f"{root}/t.db", (FIXTURES / "trackio-0.20.2" / "toyproj.db").read_bytes())
    url = f"memory://{root}/t.db"
    first = cache.fetch_db(fs, f"{root}/t.db", url=url)
    assert cache.fetch_db(fs, f"{root}/t.db", url=url) == first
    assert len(fs.gets) == 1
    cache.fetch_db(fs, f"{root}/t.db", url=url, refresh=True)
    assert len(fs.gets) == 2
    fs.mtimes = [2.0]
    cache.fetch_db(fs, f"{root}/t.db", url=url)
    assert len(fs.gets) == 3


def test_size_alone_never_vouches_for_a_copy(counting: tuple[_Counting, str]) -> None:
    fs, root = counting

    class SizeOnly(_Counting):
        def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
            out = MemoryFileSystem.info(self, path, **kwargs)
            return {"name": out["name"], "size": out["size"], "type": out["type"]}

    fs = SizeOnly()
    _put(fs, f"{root}/t.db", (FIXTURES / "trackio-0.20.2" / "toyproj.db").read_bytes())
    for _ in range(2):
        cache.fetch_db(fs, f"{root}/t.db", url=f"memory://{root}/t.db")
    assert len(fs.gets) == 2


def test_a_change_during_the_copy_is_retried(counting: tuple[_Counting, str]) -> None:
    fs, root = counting
    _put(fs, f"{root}/t.db", (FIXTURES / "trackio-0.20.2" / "toyproj.db").read_bytes())
    # before, after (changed!), then stable on the retry
    fs.mtimes = [1.0, 2.0, 2.0, 2.0]
    got = cache.fetch_db(fs, f"{root}/t.db", url=f"memory://{root}/t.db")
    assert len(fs.gets) == 2
    assert _rows(got) == 300
    stamp = (got.parent / "stamp.json").read_text()
    assert '"mtime": 2.0' in stamp  # the stamp of the copy that was kept


def test_a_file_that_keeps_changing_is_a_clear_error(counting: tuple[_Counting, str]) -> None:
    fs, root = counting
    _put(fs, f"{root}/t.db", (FIXTURES / "trackio-0.20.2" / "toyproj.db").read_bytes())
    fs.mtimes = [1.0, 2.0, 3.0, 4.0, 5.0]
    with pytest.raises(CorruptFileError, match="it changed while being copied, twice; try again"):
        cache.fetch_db(fs, f"{root}/t.db", url=f"memory://{root}/t.db")
    assert not list(cache.entry_dir(f"memory://{root}/t.db").glob("*.db"))


def test_wal_vanishing_mid_copy_is_retried(counting: tuple[_Counting, str]) -> None:
    fs, root = counting
    _put(fs, f"{root}/walproj.db", (WAL / "walproj.db").read_bytes())
    _put(fs, f"{root}/walproj.db-wal", (WAL / "walproj.db-wal").read_bytes())
    fs.fail_get[f"{root}/walproj.db-wal"] = FileNotFoundError("gone")
    got = cache.fetch_db(fs, f"{root}/walproj.db", url=f"memory://{root}/walproj.db")
    assert _rows(got) == 40
    assert len(fs.gets) == 4


def _delete_mode_copy(tmp_path: Path) -> bytes:
    """The 0.20.2 fixture in rollback-journal mode (how Trackio writes on Spaces)."""
    db = tmp_path / "delete-mode.db"
    db.write_bytes((FIXTURES / "trackio-0.20.2" / "toyproj.db").read_bytes())
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    return db.read_bytes()


def test_quick_check_runs_unless_nobody_can_have_written(
    counting: tuple[_Counting, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs, root = counting
    checks: list[bool] = []
    original = cache._normalize

    def spy(db: Path, *, check: bool) -> str | None:
        checks.append(check)
        return original(db, check=check)

    monkeypatch.setattr(cache, "_normalize", spy)
    # WAL mode and no -wal before or after: every write would have made one.
    _put(fs, f"{root}/wal-mode.db", (FIXTURES / "trackio-0.20.2" / "toyproj.db").read_bytes())
    cache.fetch_db(fs, f"{root}/wal-mode.db", url=f"memory://{root}/wal-mode.db")
    # Rollback-journal mode: writes go straight into .db, so check the copy.
    _put(fs, f"{root}/delete-mode.db", _delete_mode_copy(tmp_path))
    cache.fetch_db(fs, f"{root}/delete-mode.db", url=f"memory://{root}/delete-mode.db")
    # A -wal was copied too: check.
    _put(fs, f"{root}/walproj.db", (WAL / "walproj.db").read_bytes())
    _put(fs, f"{root}/walproj.db-wal", (WAL / "walproj.db-wal").read_bytes())
    cache.fetch_db(fs, f"{root}/walproj.db", url=f"memory://{root}/walproj.db")
    assert checks == [False, True, True]


def test_damaged_file_is_reported_as_damaged(
    counting: tuple[_Counting, str], tmp_path: Path
) -> None:
    fs, root = counting
    data = bytearray(_delete_mode_copy(tmp_path))
    data[4096 * 3 : 4096 * 6] = b"\xff" * (4096 * 3)  # scribble over b-tree pages
    _put(fs, f"{root}/t.db", bytes(data))
    with pytest.raises(CorruptFileError, match=rf"memory://{root}/t.db is damaged"):
        cache.fetch_db(fs, f"{root}/t.db", url=f"memory://{root}/t.db")


def test_interrupt_leaves_no_temporary_files(counting: tuple[_Counting, str]) -> None:
    fs, root = counting
    _put(fs, f"{root}/walproj.db", (WAL / "walproj.db").read_bytes())
    _put(fs, f"{root}/walproj.db-wal", (WAL / "walproj.db-wal").read_bytes())
    fs.fail_get[f"{root}/walproj.db-wal"] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        cache.fetch_db(fs, f"{root}/walproj.db", url=f"memory://{root}/walproj.db")
    folder = cache.entry_dir(f"memory://{root}/walproj.db")
    assert sorted(p.name for p in folder.iterdir()) == [".lock"]


def test_memory_url_end_to_end(cli: Any, mem: tuple[MemoryFileSystem, str]) -> None:
    fs, root = mem
    _put(fs, f"{root}/toyproj.db", (FIXTURES / "trackio-0.43.0" / "toyproj.db").read_bytes())
    result = cli("analyze", f"memory://{root}/toyproj.db", "--json")
    assert result.exit_code == 0, result.stderr
    assert '"total_rows": 300' in result.stdout


def test_a_copy_found_damaged_is_fetched_again(cli: Any, mem: tuple[MemoryFileSystem, str]) -> None:
    """Found by the remote fault test: a download damaged in transit (or a cache file
    damaged on disk) kept its stamp and was served, damaged, to every later command."""
    fs, root = mem
    good = (FIXTURES / "trackio-0.43.0" / "toyproj.db").read_bytes()
    _put(fs, f"{root}/toyproj.db", good)
    url = f"memory://{root}/toyproj.db"
    assert cli("analyze", url, "--json").exit_code == 0
    copy = cache.entry_dir(url) / "toyproj.db"
    data = bytearray(copy.read_bytes())
    data[4096:8192] = b"\0" * 4096  # what a bad transfer or disk left behind
    copy.write_bytes(bytes(data))
    r = cli("analyze", url, "--json")
    assert r.exit_code == 1
    assert r.stderr == (
        f"error: {url} is damaged and cannot be read (database disk image is malformed);"
        " the next command downloads it again (the copy is discarded); if that fails too,"
        " the file itself is damaged\n"
    )
    r = cli("analyze", url, "--json")
    assert r.exit_code == 0, r.stderr
    assert '"total_rows": 300' in r.stdout
    assert _rows(copy) == 300


@pytest.mark.parametrize(("age", "fetches"), [(0.5, 2), (30.0, 1)])
def test_a_file_written_in_the_second_of_the_copy_is_not_trusted(
    counting: tuple[_Counting, str], age: float, fetches: int
) -> None:
    """Found by the remote fault test: SFTP and Modal give whole-second mtimes, so a file
    rewritten at the same size within the second of the copy looked unchanged and the
    next command answered from the old copy. A stamp that recent vouches for nothing."""
    import time

    fs, root = counting
    fs.mtimes = [float(int(time.time() - age))]
    _put(fs, f"{root}/t.db", (FIXTURES / "trackio-0.20.2" / "toyproj.db").read_bytes())
    url = f"memory://{root}/t.db"
    for _ in range(2):
        cache.fetch_db(fs, f"{root}/t.db", url=url)
    assert len(fs.gets) == fetches


def test_a_directory_in_place_of_a_cached_copy_is_replaced(
    counting: tuple[_Counting, str],
) -> None:
    """Found by the second remote fault run: every command failed with "Is a directory"."""
    fs, root = counting
    _put(fs, f"{root}/t.db", (FIXTURES / "trackio-0.20.2" / "toyproj.db").read_bytes())
    url = f"memory://{root}/t.db"
    got = cache.fetch_db(fs, f"{root}/t.db", url=url)
    got.unlink()
    (got / "junk").mkdir(parents=True)
    assert _rows(cache.fetch_db(fs, f"{root}/t.db", url=url)) == 300


def test_download_files(mem: tuple[MemoryFileSystem, str], tmp_path: Path) -> None:
    fs, root = mem
    pairs = []
    for i in range(20):
        _put(fs, f"{root}/media/run/{i}/{i}.png", bytes([i]) * (i + 1))
        pairs.append((f"{root}/media/run/{i}/{i}.png", tmp_path / "out" / str(i) / f"{i}.png"))
    remote.download_files(fs, pairs, workers=4)
    for i in range(20):
        assert (tmp_path / "out" / str(i) / f"{i}.png").read_bytes() == bytes([i]) * (i + 1)
    with pytest.raises(SourceNotFoundError, match="vanished"):
        remote.download_files(fs, [(f"{root}/nope.png", tmp_path / "nope.png")], workers=4)
