"""Signals and the terminal: Ctrl-C and kills at awkward moments, a prompt on a TTY.

Real processes, real signals. Each test waits for a marker (a file that grows, a
prompt on the terminal) rather than for a fixed time.
"""

from __future__ import annotations

import os
import pty
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, tree_digest
from tests.test_crash import _lock_held

ENV = {k: v for k, v in os.environ.items() if k != "TRACKIO_TOOL_DEBUG"}
NAN_ROWS = 300_000


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert proc.poll() is None, f"the command ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"no {what} after 120 s"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def nan_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose every metrics row holds "NaN": a merge passes each one through
    its SQL function, so a long INSERT runs Python code only there."""
    db = tmp_path_factory.mktemp("nan") / "toyproj.db"
    db.write_bytes((FIXTURES / "trackio-0.43.0" / "toyproj.db").read_bytes())
    con = sqlite3.connect(db)
    for (index,) in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'metrics'"
        " AND sql IS NOT NULL"
    ).fetchall():
        con.execute(f"DROP INDEX {index}")  # (a quicker insert)
    con.execute(
        "INSERT INTO metrics (timestamp, run_name, run_id, step, metrics)"
        " WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
        " SELECT '2026-01-01T00:00:00+00:00', 'big', 'big-run-id', i,"
        ' CAST(\'{"loss": "NaN", "acc": \' || i || \'}\' AS BLOB) FROM n',
        (NAN_ROWS - 1,),
    )
    con.commit()
    con.close()
    return db


def test_ctrl_c_inside_an_sql_function_is_an_interrupt(nan_source: Path, tmp_path: Path) -> None:
    """Found by the environment audit: Ctrl-C while a merge copied rows through its SQL
    function printed "error: cannot read ...: user-defined function raised exception"
    and exited 1 (sqlite3 swallows the KeyboardInterrupt raised inside the function)."""
    target = tmp_path / "out.db"
    cmd = ["merge", "--from", str(nan_source), "--into", str(target), "--run", "big"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "trackio_tool", *cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )

    def copying() -> bool:
        # The new target's schema is written (the file is no longer empty): its rows
        # are now selected, sorted by id, each passing through the function before
        # the first one is inserted.
        return any(p.stat().st_size for p in tmp_path.glob(".trackio-tool-*building"))

    try:
        _wait_for(copying, proc, "the target being built")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert (proc.returncode, err.decode(), out) == (130, "interrupted\n", b"")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_ctrl_c_at_the_drop_prompt(fixture_copy: Callable[[str], Path]) -> None:
    """Found by the environment audit: Ctrl-C at drop's "[y/N]" question did nothing
    until Enter was pressed (polars' SIGINT handler has the blocked terminal read
    resumed rather than interrupted)."""
    d = fixture_copy("trackio-0.43.0")
    before = tree_digest(d)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "trackio_tool", "drop", str(d / "toyproj.db"), "--run", "alpha"],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    os.close(slave)
    err = b""
    try:
        assert proc.stderr is not None
        os.set_blocking(proc.stderr.fileno(), False)

        def asking() -> bool:
            nonlocal err
            err += proc.stderr.read() or b""  # type: ignore[union-attr]
            return b"[y/N]: " in err

        _wait_for(asking, proc, "the question")
        proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.returncode == 130, "still waiting for an answer after Ctrl-C"
        err += proc.stderr.read() or b""
    finally:
        proc.kill()
        proc.communicate()
        os.close(master)
    assert err.decode().endswith("[y/N]: interrupted\n"), err
    assert tree_digest(d) == before


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


def _plot_command(out: Path) -> list[str]:
    """``trackio-tool plot`` of the 0.43.0 fixture folder to ``out``, as a new process."""
    return [
        sys.executable,
        "-m",
        "trackio_tool",
        "plot",
        str(FIXTURES / "trackio-0.43.0"),
        "-o",
        str(out),
    ]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_while_chromium_boots_cleans_up_quickly(
    signum: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Found by the environment audit: `kill` (SIGTERM) or closing the terminal (SIGHUP)
    during an image plot ended the process on the spot, leaving Chromium's profile
    and kaleido's page (~2 MB) in TMPDIR each time; a killed merge left its half-built
    target, a killed read the -wal/-shm it had created beside the database. They now
    unwind like Ctrl-C, and exit 143 (129 for SIGHUP) with one line. And a stop while
    Chromium boots no longer waits for the boot and the warm-up render to finish
    (3-5 s here): the shutdown starts at once (0.6-1.7 s)."""
    if not shutil.which("chromium"):
        pytest.skip("no chromium")
    # A short TMPDIR: Chromium cannot start when its profile's socket path passes 108 bytes.
    tmp = Path(tempfile.mkdtemp(prefix="tt-", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(tmp, ignore_errors=True))
    out = tmp_path / "plot.png"
    proc = subprocess.Popen(
        _plot_command(out),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**ENV, "TMPDIR": str(tmp)},
    )
    try:
        # Chromium's profile folder is in TMPDIR once the browser is being started.
        _wait_for(lambda: any(tmp.glob("*/Default")), proc, "Chromium's profile")
        stopped = time.monotonic()
        proc.send_signal(signum)
        stdout, err = proc.communicate(timeout=60)
        waited = time.monotonic() - stopped
    finally:
        proc.kill()
        proc.communicate()
    word = "terminated" if signum == signal.SIGTERM else "interrupted"
    assert (proc.returncode, err.decode(), stdout) == (128 + signum, f"{word}\n", b"")
    assert waited < 3, f"{waited:.1f} s to stop"
    deadline = time.monotonic() + 10  # (Chromium's helpers may take a moment to go)
    while _processes_mentioning(str(tmp)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_mentioning(str(tmp)) == []
    assert sorted(p.name for p in tmp.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def _hanging_browser(folder: Path) -> tuple[Path, Path]:
    """A "Chromium" that starts and never answers (as a broken install or a blocked
    sandbox does); it writes its pid to a file first."""
    pidfile = folder / "browser.pid"
    script = folder / "hung-chromium"
    script.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 1000\n")
    script.chmod(0o755)
    return script, pidfile


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":  # ended, waiting for a parent that is not us
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("stop", ["timeout", "ctrl-c"])
def test_a_browser_that_never_answers(
    stop: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Found by the signals audit: a Chromium that hangs at boot hung `plot` for ever,
    and Ctrl-C then took 64 s and left the browser running. Worse, with a timeout
    the wait re-raised it in a loop (17 GB RSS in 3 minutes). Now the boot has a
    deadline (TRACKIO_TOOL_BROWSER_TIMEOUT, 60 s by default) and the browser is
    stopped on the way out, whatever state it is in."""
    tmp = Path(tempfile.mkdtemp(prefix="tt-", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(tmp, ignore_errors=True))
    browser, pidfile = _hanging_browser(tmp_path)
    out = tmp_path / "plot.png"
    env = {
        **ENV,
        "TMPDIR": str(tmp),
        "BROWSER_PATH": str(browser),
        "TRACKIO_TOOL_BROWSER_TIMEOUT": "2" if stop == "timeout" else "600",
    }
    started = time.monotonic()
    proc = subprocess.Popen(
        _plot_command(out),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        _wait_for(
            lambda: pidfile.exists() and pidfile.read_text().strip() != "", proc, "the browser"
        )
        if stop == "ctrl-c":
            time.sleep(1)  # well into the boot
            proc.send_signal(signal.SIGINT)
        stopped = time.monotonic()
        stdout, err = proc.communicate(timeout=60)
        waited = time.monotonic() - stopped
    finally:
        proc.kill()
        proc.communicate()
    if stop == "timeout":
        assert proc.returncode == 1
        assert err.decode().startswith(
            f"error: Chromium ({browser}) did not start: no answer after 2 s"
        )
        assert err.decode().count("\n") == 1, err
        assert time.monotonic() - started < 30
    else:
        assert (proc.returncode, err.decode()) == (130, "interrupted\n")
        assert waited < 10, f"{waited:.1f} s to stop"
    assert stdout == b""
    assert _gone(int(pidfile.read_text())), "the browser is still running"
    assert sorted(p.name for p in tmp.iterdir()) == []
    assert not out.exists()


def test_a_bad_browser_timeout_setting(tmp_path: Path) -> None:
    proc = subprocess.run(
        _plot_command(tmp_path / "p.png"),
        capture_output=True,
        env={**ENV, "TRACKIO_TOOL_BROWSER_TIMEOUT": "soon"},
    )
    assert (proc.returncode, proc.stderr.decode()) == (
        1,
        "error: TRACKIO_TOOL_BROWSER_TIMEOUT must be a positive number of seconds, not 'soon'\n",
    )
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_while_another_program_holds_the_write_lock(
    fixture_copy: Callable[[str], Path],
) -> None:
    """Found by the environment audit: a program that holds the database's write lock
    without Trackio's lock file (the `sqlite3` shell inside a transaction) made drop wait
    SQLite's 30 s busy timeout, and a Ctrl-C meanwhile was seen only at its end."""
    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    # (Read before the lock is taken: closing any file of the database in this process
    # would drop the POSIX locks SQLite holds on it.)
    before = tree_digest(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    proc = subprocess.Popen(
        [sys.executable, "-m", "trackio_tool", "drop", str(db), "--run", "alpha", "--yes"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )

    try:
        # drop takes Trackio's lock file, then waits for SQLite's write lock.
        _wait_for(lambda: _lock_held(d / "toyproj.lock"), proc, "Trackio's lock taken")
        time.sleep(0.5)  # now in SQLite's busy wait
        stopped = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        waited = time.monotonic() - stopped
    finally:
        proc.kill()
        proc.communicate()
        holder.rollback()
        holder.close()
    assert (proc.returncode, err.decode(), out) == (130, "interrupted\n", b"")
    assert waited < 3, f"{waited:.1f} s to stop"
    assert tree_digest(db) == before
