"""Fixtures for remote-source tests: put a Trackio fixture onto a backend, compare JSON.

Each backend test copies real Trackio files (tests/data/fixtures) onto a real
server started by tests/servers (sshd, the fake Hub, the fake Modal server)
and reads them through the CLI, exactly as a user would.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES


@pytest.fixture(autouse=True)
def _fresh_remote_state() -> Iterator[None]:
    """Every test starts with no open connections and default source settings."""
    from trackio_tool.sources import remote
    from trackio_tool.sources.progress import set_reporter

    remote.close_all()
    yield
    remote.close_all()
    remote._settings.accept_new_host_key = None
    set_reporter(None)


def fixture_files(name: str, *, only: Callable[[Path], bool] | None = None) -> dict[str, bytes]:
    """Relative path -> bytes of a fixture folder (no lock files, no -shm).

    ``-wal`` files are part of a fixture only where it is about WAL; elsewhere
    they can appear for a moment while another test reads the folder in place.
    """
    root = FIXTURES / name
    keep_wal = "wal" in name
    out: dict[str, bytes] = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name.endswith(("-shm", ".lock")):
            continue
        if p.name.endswith("-wal") and not keep_wal:
            continue
        if only is not None and not only(p.relative_to(root)):
            continue
        out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` under ``root``, dated an hour ago like a finished project (a file
    modified within a second or two of its download is fetched again next time)."""
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        backdate(p)
    return root


def backdate(path: Path, seconds: float = 3600) -> None:
    when = time.time() - seconds
    os.utime(path, (when, when))


def analyze_json(cli: Any, *args: str) -> dict[str, Any]:
    result = cli("analyze", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def without_source(data: dict[str, Any]) -> list[dict[str, Any]]:
    """analyze --json minus where it came from: what every source must agree on."""
    return [{k: v for k, v in p.items() if k != "source"} for p in data["projects"]]


def one_clean_line(result: Any, *needles: str) -> str:
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def ssh_dir(sshd_server: Any) -> Iterator[Path]:
    """A fresh folder the test sshd can serve (same machine, so files are written locally)."""
    d = sshd_server.root / uuid.uuid4().hex[:12]
    d.mkdir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def remote_home_dir(sshd_server: Any) -> Iterator[tuple[Path, str]]:
    """(local path, path relative to the SSH user's real home) for ``/~/`` URLs.

    sshd takes the home from the password database, not from $HOME, so this is
    a unique folder in that real home, removed afterwards.
    """
    import pwd

    home = Path(pwd.getpwnam(sshd_server.user).pw_dir)
    rel = f".cache/trackio-tool-tests/{uuid.uuid4().hex[:12]}"
    d = home / rel
    d.mkdir(parents=True)
    yield d, rel
    shutil.rmtree(d, ignore_errors=True)
    for parent in (d.parent, d.parent.parent):
        try:
            parent.rmdir()  # only if empty: never touch what was there before
        except OSError:
            break
