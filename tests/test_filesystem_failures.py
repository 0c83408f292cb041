"""merge, drop and rename on file systems that fail under them: full (ENOSPC, out of
inodes), read-only, or another device than the one the media is staged on.

Real tmpfs mounts (root only: skipped where mounting is not permitted), so the
errors are the kernel's own. Each case checks the one-line error and that the
target, its media and its folder are exactly as before.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.commands.test_merge import _one_clean_line, immutable
from tests.conftest import FIXTURES, tree_digest

Mount = Callable[..., Path]


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Mount]:
    """``tmpfs(name, size=..., nr_inodes=...)`` mounts a small tmpfs under tmp_path;
    ``tmpfs(name, bind=folder)`` mounts ``folder`` there instead (same device)."""
    mounts: list[Path] = []

    def mount(name: str = "fs", bind: Path | None = None, **options: Any) -> Path:
        point = tmp_path / name
        point.mkdir(parents=True, exist_ok=True)
        opts = ",".join(f"{k}={v}" for k, v in {"size": "8m", **options}.items())
        args = ["--bind", str(bind)] if bind else ["-t", "tmpfs", "-o", opts, "tmpfs"]
        r = subprocess.run(["mount", *args, str(point)], capture_output=True)
        if r.returncode:
            pytest.skip(f"mounting a tmpfs is not permitted here (needs root): {r.stderr.decode()}")
        mounts.append(point)
        return point

    yield mount
    for point in reversed(mounts):
        subprocess.run(["umount", "-l", str(point)], check=False)


def _remount(point: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(point)], check=True)


def _spare_inodes(point: Path, spare: int) -> None:
    """Leave ``spare`` free inodes on the tmpfs at ``point``."""
    st = os.statvfs(point)
    _remount(point, f"nr_inodes={st.f_files - st.f_ffree + spare}")


def _copy(name: str, into: Path) -> Path:
    dst = into / name
    shutil.copytree(FIXTURES / name, dst)
    return dst


def _listing(root: Path) -> list[str]:
    """Every entry, hidden ones and folders included (tree_digest sees files only)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_a_full_disk_under_the_target_is_not_called_an_output_error(
    cli: Callable[..., Any], tmpfs: Mount
) -> None:
    """Any ENOSPC reaching the error boundary was reported as "could not write the
    output" (meant for stdout on a full device), though nothing had been written."""
    d = _copy("trackio-0.43.0", tmpfs())
    before, entries = tree_digest(d), _listing(d)
    _spare_inodes(d.parent, 2)  # room for -wal and -shm, not for media/toyproj/g2
    r = cli("rename", str(d / "toyproj.db"), "--run", "gamma", "--to", "g2")
    _one_clean_line(r, "No space left on device", "nothing was changed")
    assert "could not write the output" not in r.stderr
    assert tree_digest(d) == before
    assert _listing(d) == entries


def test_rename_takes_back_a_half_copied_file_when_the_disk_fills(
    cli: Callable[..., Any], tmpfs: Mount
) -> None:
    """The run's media folder is on another device, so rename copies (no hard link across
    devices); the disk filled during the second copy. The rename was rolled back, but the
    half-copied file stayed in media/toyproj/g2/ (it was recorded only once complete),
    with its folders, and made the next rename fail on "other content"."""
    d = tmpfs("target", size="1m")
    for name in ("toyproj.db", "toyproj.lock"):
        shutil.copy2(FIXTURES / "trackio-0.43.0" / name, d / name)
    gamma = tmpfs("target/media/toyproj/gamma")  # a mount point: another device
    for src in (FIXTURES / "trackio-0.43.0" / "media" / "toyproj" / "gamma").rglob("*.png"):
        dst = gamma / src.relative_to(src.parents[1])
        dst.parent.mkdir(exist_ok=True)
        dst.write_bytes(os.urandom(300_000))  # two of these do not fit beside the database
    before, entries = tree_digest(d), _listing(d)
    r = cli("rename", str(d / "toyproj.db"), "--run", "gamma", "--to", "g2")
    _one_clean_line(r, "No space left on device", "nothing was changed")
    assert tree_digest(d) == before
    assert _listing(d) == entries


def test_a_new_target_whose_folders_cannot_all_be_created_leaves_none(
    cli: Callable[..., Any], tmpfs: Mount
) -> None:
    """--into a/b/new.db on a disk with one inode to spare: 'a' was created, 'b' failed,
    and 'a' stayed behind (the folders were recorded for removal only once all existed),
    with an unexpected-error line."""
    fs = tmpfs()
    _spare_inodes(fs, 1)
    src = FIXTURES / "trackio-0.43.0" / "toyproj.db"
    r = cli("merge", "--from", str(src), "--into", str(fs / "a" / "b" / "new.db"))
    _one_clean_line(r, "No space left on device", "nothing was changed")
    assert _listing(fs) == []


@pytest.mark.parametrize(
    ("new", "bind"), [(False, False), (True, False), (False, True)], ids=["existing", "new", "bind"]
)
def test_merge_into_a_media_folder_on_another_device(
    cli: Callable[..., Any], tmpfs: Mount, tmp_path: Path, new: bool, bind: bool
) -> None:
    """media/ beside the target is a mount (or a link) to another disk: the media staged
    beside the target could not be renamed into it (EXDEV), so every merge with media
    failed with an unexpected OSError. It is staged on the media's own device now, and
    copied where a bind mount of the same device refuses the rename."""
    d = tmp_path / "t"
    d.mkdir()
    target = d / ("new.db" if new else "toyproj-edge.db")
    if not new:
        shutil.copy2(FIXTURES / "trackio-0.43.0" / "toyproj-edge.db", target)
    if bind:
        (tmp_path / "elsewhere").mkdir()
    media = tmpfs("t/media", bind=tmp_path / "elsewhere" if bind else None)
    src = FIXTURES / "trackio-0.43.0" / "toyproj.db"
    r = cli("merge", "--from", str(src), "--into", str(target), "--run", "gamma")
    assert r.exit_code == 0, r.stderr
    copied = sorted(p.relative_to(media) for p in media.rglob("*.png"))
    assert [p.parent for p in copied] == [
        Path(target.stem, "gamma", step) for step in ("0", "30", "60", "90")
    ]
    assert [*d.rglob(".*"), *media.rglob(".*")] == []  # no staging left


def test_merge_into_a_read_only_media_folder_changes_nothing(
    cli: Callable[..., Any], tmpfs: Mount, tmp_path: Path
) -> None:
    """media/ read-only: the rows and media were staged, then placing the first file
    failed with an unexpected OSError. It is refused first, in one line."""
    d = tmp_path / "t"
    d.mkdir()
    target = d / "toyproj-edge.db"
    shutil.copy2(FIXTURES / "trackio-0.43.0" / "toyproj-edge.db", target)
    media = tmpfs("t/media")
    _remount(media, "ro")
    before, entries = tree_digest(d), _listing(d)
    src = FIXTURES / "trackio-0.43.0" / "toyproj.db"
    r = cli("merge", "--from", str(src), "--into", str(target))
    _one_clean_line(r, f"{media} is not writable", "--no-media", "nothing was changed")
    assert tree_digest(d) == before
    assert _listing(d) == entries
    assert cli("merge", "--from", str(src), "--into", str(target), "--no-media").exit_code == 0


@pytest.mark.parametrize("command", ["drop", "rename"])
def test_a_media_file_that_cannot_be_removed_after_the_commit(
    cli: Callable[..., Any], tmp_path: Path, command: str
) -> None:
    """Media files go after the commit. One that could not (immutable) stopped the
    removal there: drop named that file alone while later ones stayed too, and rename
    reported an unexpected PermissionError though the run was renamed, leaving the
    rest of its old files in place beside their new copies."""
    d = _copy("trackio-0.43.0", tmp_path)
    gamma = d / "media" / "toyproj" / "gamma"
    stuck = next((gamma / "30").iterdir())
    args = ["--yes"] if command == "drop" else ["--to", "g2"]
    with immutable(stuck):
        r = cli(command, str(d / "toyproj.db"), "--run", "gamma", *args)
        done = "the runs were dropped" if command == "drop" else "the run was renamed"
        _one_clean_line(r, done, str(stuck), "Operation not permitted", "delete it by hand")
        assert [p for p in gamma.rglob("*") if p.is_file()] == [stuck]  # the others went
        assert sorted(p.name for p in gamma.iterdir()) == ["30"]  # emptied folders too
    if command == "rename":
        assert len(list((d / "media" / "toyproj" / "g2").rglob("*.png"))) == 4


def test_a_target_that_cannot_be_created_is_not_blamed_on_the_source(
    cli: Callable[..., Any], tmpfs: Mount
) -> None:
    """No inode left for the new database: SQLite's "unable to open database file" about
    the target was reported as "cannot read <source>"."""
    fs = tmpfs()
    _spare_inodes(fs, 0)
    src = FIXTURES / "trackio-0.43.0" / "toyproj.db"
    r = cli("merge", "--from", str(src), "--into", str(fs / "new.db"))
    _one_clean_line(r, f"could not write {fs / 'new.db'}", "unable to open database file")
    assert str(src) not in r.stderr
    assert _listing(fs) == []


@pytest.mark.parametrize("command", ["merge", "drop", "rename"])
def test_a_linked_target_in_a_folder_sqlite_cannot_write(
    cli: Callable[..., Any], tmp_path: Path, command: str
) -> None:
    """SQLite follows a symlinked .db and keeps its -wal or -journal beside the real file.
    Only the link's folder was checked: with the real one read-only, drop and rename
    ended in an unexpected OperationalError and merge blamed its source ("cannot read
    <source>: attempt to write a readonly database")."""
    d = _copy("trackio-0.43.0", tmp_path)
    (tmp_path / "link").mkdir()
    target = tmp_path / "link" / "toyproj.db"
    target.symlink_to(d / "toyproj.db")
    src = FIXTURES / "trackio-0.43.0" / "toyproj-edge.db"
    args = {
        "merge": ["merge", "--from", str(src), "--into", str(target)],
        "drop": ["drop", str(target), "--run", "alpha", "--yes"],
        "rename": ["rename", str(target), "--run", "alpha", "--to", "a2"],
    }[command]
    before = tree_digest(d)
    with immutable(d):
        r = cli(*args)
    _one_clean_line(r, f"the folder of {d / 'toyproj.db'}", "read-only", "nothing was changed")
    assert tree_digest(d) == before


def test_merge_into_a_dangling_link(cli: Callable[..., Any], tmp_path: Path) -> None:
    """--into a symlink whose file is missing was taken for a new target, built, and
    then refused as "created by another process meanwhile"."""
    target = tmp_path / "toyproj.db"
    target.symlink_to(tmp_path / "gone" / "toyproj.db")
    src = FIXTURES / "trackio-0.43.0" / "toyproj.db"
    r = cli("merge", "--from", str(src), "--into", str(target))
    _one_clean_line(r, f"{target} is a symbolic link to a missing file", "nothing was changed")
    assert _listing(tmp_path) == ["toyproj.db"]


def test_no_room_for_the_shm_index_is_not_called_damage(tmp_path: Path) -> None:
    """Opening a WAL database creates its -shm index; where that write fails for a reason
    other than a full disk (over quota, a file-size limit: EDQUOT/EFBIG, which SQLite
    reports as "disk I/O error"), the intact target was called damaged, with a hint to
    run `.recover` on it."""
    import resource
    import sys

    db = tmp_path / "toyproj.db"
    shutil.copy2(FIXTURES / "trackio-0.43.0" / "toyproj.db", db)
    before = tree_digest(tmp_path)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    env = {k: v for k, v in os.environ.items() if k != "TRACKIO_TOOL_DEBUG"}
    r = subprocess.run(
        [sys.executable, "-m", "trackio_tool", "drop", str(db), "--run", "gamma", "--yes"],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        env=env,
        timeout=60,
    )
    assert r.returncode == 1, r.stderr
    assert len(r.stderr.splitlines()) == 1, r.stderr
    assert tree_digest(tmp_path) == before
    if sys.version_info >= (3, 11):  # sqlite3.Error.sqlite_errorcode tells SHM errors apart
        assert r.stderr.startswith(
            f"error: cannot open {db}: SQLite could not make its -shm index"
        ), r.stderr
        assert "damaged" not in r.stderr
        assert "recover" not in r.stderr
    assert _listing(tmp_path) == ["toyproj.db"]
