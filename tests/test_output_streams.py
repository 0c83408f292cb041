"""stdout and stderr that do not take what we write: cut by their reader (`| head`),
full, or in an encoding that lacks a character of a run or file name."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, tree_digest

TOOL = str(Path(sys.executable).with_name("trackio-tool"))
DB = FIXTURES / "trackio-0.43.0" / "toyproj.db"


def _cut(args: list[str], **kw: object) -> subprocess.CompletedProcess[bytes]:
    """Run with a stdout whose reader has gone before the first byte is written."""
    proc = subprocess.Popen([TOOL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()  # long before the command has started Python
    with proc.stderr:
        err = proc.stderr.read()
    return subprocess.CompletedProcess(args, proc.wait(), b"", err)


@pytest.mark.parametrize("form", ["table", "json", "plot", "merge"])
def test_a_cut_output_ends_with_status_0(form: str, tmp_path: Path) -> None:
    """Found by the environment audit: `analyze | head` ended with status 1 when the cut
    came while we were writing (click's and rich's broken-pipe handling) and 0 when the
    output had fitted in the pipe: the status of a `set -o pipefail` script depended on
    timing. Now always 0 and silent; a write's result is cut only after its commit."""
    target = tmp_path / "new.db"
    args = {
        "table": ["analyze", str(FIXTURES / "trackio-0.43.0")],
        "json": ["analyze", str(FIXTURES / "trackio-0.43.0"), "--json"],
        "plot": ["plot", str(DB), "-o", str(tmp_path / "p.html"), "--quiet"],
        "merge": ["merge", "--from", str(DB), "--into", str(target)],
    }[form]
    proc = _cut(args)
    assert (proc.returncode, proc.stderr) == (0, b"")
    if form == "plot":
        assert (tmp_path / "p.html").stat().st_size > 10_000
    if form == "merge":
        check = subprocess.run(
            [TOOL, "analyze", str(target), "--json"], capture_output=True, check=True
        )
        assert len(json.loads(check.stdout)["projects"][0]["runs"]) == 4


def test_a_write_cut_before_its_commit_is_a_failure(tmp_path: Path) -> None:
    """The other side of the rule above: a write command whose output is cut before
    anything was committed (here a dry run) did not do what was asked."""
    target = tmp_path / "toyproj-edge.db"
    shutil.copy(DB.with_name(target.name), target)
    before = tree_digest(tmp_path)
    proc = _cut(["merge", "--from", str(DB), "--into", str(target), "--dry-run"])
    assert proc.returncode == 1
    assert proc.stderr.decode() == (
        "error: the output was closed before the change was committed; nothing was changed\n"
    )
    assert tree_digest(tmp_path) == before


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="this machine has no /dev/full")
def test_a_committed_write_says_so_when_its_output_fails(tmp_path: Path) -> None:
    """Found by the environment audit: `merge ... > /dev/full` said only "could not write
    the output", though the merge was complete: a user would run it again."""
    target = tmp_path / "new.db"
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [TOOL, "merge", "--from", str(DB), "--into", str(target)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert proc.returncode == 1
    assert proc.stderr == (
        "error: could not write the output: No space left on device"
        f" (the change to {target} was committed: it is complete)\n"
    )
    assert target.stat().st_size > 0


def _env(encoding: str) -> dict[str, str]:
    return {**os.environ, "PYTHONIOENCODING": encoding}


def test_a_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    """Found by the environment audit: under a UTF-8 locale other than C.UTF-8 (stdout
    then refuses lone surrogates), a project file whose name is not UTF-8 (Latin-1
    `pr\\xe9j.db`, from an old machine) failed with "unexpected UnicodeEncodeError".
    The name is now written back as the bytes it has, in the table and in the JSON."""
    name = os.fsdecode(b"pr\xe9j")
    shutil.copy(DB, tmp_path / f"{name}.db")
    for extra in ([], ["--json"]):
        proc = subprocess.run(
            [TOOL, "analyze", str(tmp_path), *extra], capture_output=True, env=_env("utf-8")
        )
        assert proc.returncode == 0, proc.stderr
        assert b"pr\xe9j" in proc.stdout
    data = json.loads(proc.stdout.decode("utf-8", "surrogateescape"))
    assert data["projects"][0]["project"] == name


def test_an_ascii_terminal(tmp_path: Path) -> None:
    """Found by the environment audit: with PYTHONIOENCODING=ascii (or a Latin-1
    terminal) a non-ASCII run or project name failed with UnicodeEncodeError. The
    JSON now escapes it the JSON way (same data), the table and messages the Python way."""
    target = tmp_path / "prój.db"
    shutil.copy(DB, target)
    subprocess.run(
        [TOOL, "rename", str(target), "--run", "alpha", "--to", "rün-✓"],
        capture_output=True,
        check=True,
    )
    env = _env("ascii")
    proc = subprocess.run([TOOL, "analyze", str(target), "--json"], capture_output=True, env=env)
    assert proc.returncode == 0, proc.stderr
    proc.stdout.decode("ascii")  # pure ASCII
    data = json.loads(proc.stdout)["projects"][0]
    assert data["project"] == "prój"
    assert "rün-✓" in [r["name"] for r in data["runs"]]

    proc = subprocess.run([TOOL, "analyze", str(target)], capture_output=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert b"pr\\xf3j" in proc.stdout
    assert b"r\\xfcn-\\u2713" in proc.stdout

    proc = subprocess.run(
        [TOOL, "analyze", str(target), "--run", "rün"], capture_output=True, env=env
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith(b"error: no run 'r\\xfcn' in project 'pr\\xf3j'")
