"""Shared test fixtures: isolated user state, copies of real Trackio files, a CLI runner."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
FIXTURES = DATA / "fixtures"
GROUND_TRUTH = FIXTURES / "ground_truth"
REPO = Path(__file__).parent.parent

# A suite started in the background (`pytest &` in a script, nohup) inherits SIGINT
# ignored, and so would every command it runs; the Ctrl-C tests need it delivered, as
# at a terminal. (A command keeps an inherited SIG_IGN on purpose: cli._catch_stop_signals.)
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

pytest_plugins = (
    ["tests.servers.fixtures"]
    if (Path(__file__).parent / "servers" / "fixtures.py").exists()
    else []
)


@pytest.fixture(autouse=True)
def _isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Point every per-user location at a temp folder (simonw/llm's env_setup)."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TRACKIO_DIR", str(home / "trackio"))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("TRACKIO_TOOL_CACHE", str(home / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.delenv("TRACKIO_TOOL_DEBUG", raising=False)
    return home


@pytest.fixture
def fixture_copy(tmp_path: Path) -> Callable[[str], Path]:
    """Copy one fixture folder (e.g. ``trackio-0.43.0``) into tmp_path and return it."""

    def copy(name: str) -> Path:
        dst = tmp_path / name
        shutil.copytree(FIXTURES / name, dst)
        for p in dst.rglob("*"):
            p.chmod(p.stat().st_mode | 0o200)
        return dst

    return copy


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under root (to prove nothing changed)."""
    if root.is_file():
        return {root.name: hashlib.sha256(root.read_bytes()).hexdigest()}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    """Run the real entry point (``cli.main``, with its error boundary) in-process."""
    import sys

    from typer.testing import CliRunner

    from trackio_tool import cli as cli_module

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> CliResult:
        runner = CliRunner()
        code = 0
        with runner.isolation(input=input, env=env) as streams:
            old = sys.argv
            sys.argv = ["trackio-tool", *args]
            try:
                cli_module.main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            finally:
                sys.argv = old
            stdout = streams[0].getvalue().decode()
            stderr = streams[1].getvalue().decode()
        return CliResult(code, stdout, stderr)

    return run


def env_without(*names: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in names}
