"""SIGKILL a merge at several points: the target is always exactly before or exactly after.

The kill points cover the staging phase (source read, rows staged in temp
tables, media copied) and, found through Trackio's own project lock which the
merge holds only while it writes, the write transaction itself.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from generate import generate_db

SOURCE_ROWS = 100_000


@pytest.fixture(scope="module")
def big_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("big")
    return generate_db(
        folder / "big.db", runs=2, steps=SOURCE_ROWS // 2, metrics=8, system_rows_per_run=50
    )


def _start(source: Path, target: Path, err: Any = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "TRACKIO_TOOL_DEBUG"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trackio_tool",
            "merge",
            "--from",
            str(source),
            "--into",
            str(target),
            "-q",
        ],
        stdout=subprocess.DEVNULL,
        stderr=err,
        env=env,
    )


def _lock_held(lock: Path) -> bool:
    if not lock.exists():
        return False
    with lock.open("a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False


def _state(target: Path) -> tuple[str, dict[str, int]]:
    con = sqlite3.connect(target)  # read-write: rolls back what the kill left behind
    try:
        check = con.execute("PRAGMA integrity_check").fetchone()[0]
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        counts = {
            t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("metrics", "configs", "system_metrics", "alerts")
            if t in tables
        }
    finally:
        con.close()
    return check, counts


BEFORE = {"metrics": 300, "configs": 4, "system_metrics": 6, "alerts": 2}
AFTER = {"metrics": 300 + SOURCE_ROWS, "configs": 6, "system_metrics": 106, "alerts": 5}


def test_sigkill_during_merge_into_existing(big_source: Path, tmp_path: Path) -> None:
    # One full run shows how long the phases take on this machine.
    ref = tmp_path / "ref"
    shutil.copytree(FIXTURES / "trackio-0.43.0", ref)
    t0 = time.monotonic()
    log = tmp_path / "ref.log"
    with log.open("wb") as fh:
        proc = _start(big_source, ref / "toyproj.db", fh)
        locked_at = None
        while proc.poll() is None:
            if locked_at is None and _lock_held(ref / "toyproj.lock"):
                locked_at = time.monotonic() - t0
            time.sleep(0.005)
    total = time.monotonic() - t0
    print(f"merge took {total:.2f} s, lock taken at {locked_at}")
    assert proc.returncode == 0, log.read_text()
    assert _state(ref / "toyproj.db") == ("ok", AFTER)
    staging = locked_at if locked_at is not None else total

    outcomes = []
    delays = [staging * f for f in (0.3, 0.85)]
    for i, delay in enumerate([*delays, "locked", "locked+"]):
        folder = tmp_path / f"k{i}"
        shutil.copytree(FIXTURES / "trackio-0.43.0", folder)
        proc = _start(big_source, folder / "toyproj.db")
        if isinstance(delay, float):
            time.sleep(delay)
        else:
            # Inside the write transaction: wait for Trackio's lock to be taken.
            deadline = time.monotonic() + 60
            while not _lock_held(folder / "toyproj.lock") and proc.poll() is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.001)
            time.sleep({"locked": 0.0, "locked+": 0.05}[delay])
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        check, counts = _state(folder / "toyproj.db")
        assert check == "ok", (delay, check)
        assert counts in (BEFORE, AFTER), (delay, counts)
        outcomes.append(counts == AFTER)
        print("kill", delay, "->", "after" if counts == AFTER else "before")
        # Nothing of a killed merge is left in the project's media folder.
        assert sorted(p.name for p in (folder / "media" / "toyproj").iterdir()) == ["gamma"]
    assert not all(outcomes), "every kill came too late to test anything"


def test_sigkill_while_creating_a_new_target(big_source: Path, tmp_path: Path) -> None:
    for i, delay in enumerate((0.5, 1.2, 2.0)):
        target = tmp_path / f"n{i}" / "fresh.db"
        proc = _start(big_source, target)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if target.exists():
            check, counts = _state(target)
            assert check == "ok"
            assert counts == {
                "metrics": SOURCE_ROWS,
                "configs": 2,
                "system_metrics": 100,
                "alerts": 3,
            }
        else:
            assert not list(target.parent.glob("fresh.db*"))


def test_the_next_merge_removes_what_a_killed_one_left(big_source: Path, tmp_path: Path) -> None:
    """Found by the live-writer stress test: a killed merge leaves its half-built database
    (as big as the source) or its staged media hidden beside the target, for good. The
    next merge there removes those of dead processes of this host, and only those."""
    from trackio_tool.store.write import _host

    target = tmp_path / "n" / "fresh.db"
    proc = _start(big_source, target)
    deadline = time.monotonic() + 60
    while not list(target.parent.glob(".trackio-tool-*")) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    left = list(target.parent.glob(".trackio-tool-*"))
    assert any(p.name.endswith(".db-building") for p in left), left
    assert not target.exists()
    # What the next merge must not touch: another host's (a shared disk), a live process's.
    others = [
        target.parent / f".trackio-tool-media-otherhost-{proc.pid}-{'a' * 12}",
        target.parent / f".trackio-tool-media-{_host()}-{os.getpid()}-{'b' * 12}",
    ]
    for folder in others:
        folder.mkdir()
    small = tmp_path / "src"
    shutil.copytree(FIXTURES / "trackio-0.43.0", small)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "trackio_tool",
            "merge",
            "--from",
            str(small / "toyproj.db"),
            "--into",
            str(target),
            "-q",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(target.parent.glob(".trackio-tool-*")) == sorted(others)
