"""Pytest fixtures wrapping the test servers.

tests/conftest.py loads this module with ``pytest_plugins = ["tests.servers.fixtures"]``,
so every test can request these fixtures by name.

Fixtures:

* ``sshd_server`` (session; alias ``sshd``) -> ``SshdInfo``: real OpenSSH on 127.0.0.1.
  Skips when /usr/sbin/sshd is missing.
* ``ssh_home`` (function) -> ``Path``: a temp HOME with ``~/.ssh/config`` (Host "trk")
  and a known_hosts trusting the server; ``HOME`` is set to it.
* ``fake_hub`` (function) -> ``FakeHub``: fresh root + server per test, HF_* env set
  and ``huggingface_hub.constants`` patched (they are read at import time).
* ``fake_modal`` (function) -> ``FakeModal``: fresh root + server per test, MODAL_* env
  and HOME set; modal's process-wide client is reset before and after.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.fake_hub import FakeHub
from tests.servers.fake_modal import FakeModal, reset_modal_env_client
from tests.servers.sshd import SshdInfo, sshd_available, start_sshd

HF_DUMMY_TOKEN = "hf_dummy_token_for_tests"


# -- ssh ---------------------------------------------------------------------
@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdInfo]:
    if not sshd_available():
        pytest.skip("openssh-server (/usr/sbin/sshd) is not installed")
    with start_sshd(tmp_path_factory.mktemp("sshd")) as info:
        yield info


@pytest.fixture(scope="session")
def sshd(sshd_server: SshdInfo) -> SshdInfo:
    """Alias of ``sshd_server``."""
    return sshd_server


@pytest.fixture
def ssh_home(sshd_server: SshdInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME with ``.ssh/config`` alias "trk" and a trusting known_hosts.

    For other cases call ``sshd_server.write_client_home(home, host_key="unknown"|"mismatch")``
    on the returned path again. Clears SSH_AUTH_SOCK so a developer's agent
    keys cannot make a test pass by accident.
    """
    home = tmp_path / "home"
    sshd_server.write_client_home(home)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


# -- Hugging Face Hub ----------------------------------------------------------
def _point_hf_client_at(url: str, hf_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "HF_ENDPOINT": url,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HOME": str(hf_home),
        "HF_TOKEN": HF_DUMMY_TOKEN,
        # Keep the client quiet and deterministic.
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    # huggingface_hub copies these env vars into module constants at import
    # time; if it is already imported (likely in a test session), patch them.
    from huggingface_hub import constants as c

    monkeypatch.setattr(c, "ENDPOINT", url)
    monkeypatch.setattr(
        c, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(c, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(c, "HF_HOME", str(hf_home))
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(hf_home / "hub"))
    monkeypatch.setattr(c, "HUGGINGFACE_HUB_CACHE", str(hf_home / "hub"))
    monkeypatch.setattr(c, "HF_TOKEN_PATH", str(hf_home / "token"))
    monkeypatch.setattr(c, "HF_STORED_TOKENS_PATH", str(hf_home / "stored_tokens"))


def _clear_hf_fs_cache() -> None:
    # fsspec caches filesystem instances by constructor args; an HfFileSystem()
    # created without endpoint= in an earlier test would still talk to the old port.
    from huggingface_hub import HfFileSystem

    HfFileSystem.clear_instance_cache()


@pytest.fixture
def fake_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    hub = FakeHub(tmp_path / "hub").start()
    try:
        _point_hf_client_at(hub.url, tmp_path / "hf_home", monkeypatch)
        _clear_hf_fs_cache()
        yield hub
    finally:
        _clear_hf_fs_cache()
        hub.stop()


# -- Modal ---------------------------------------------------------------------
@pytest.fixture
def fake_modal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeModal]:
    server = FakeModal(tmp_path / "modal").start()
    try:
        reset_modal_env_client()
        for k, v in server.client_env().items():
            monkeypatch.setenv(k, v)
        home = tmp_path / "modal_home"
        home.mkdir()
        monkeypatch.setenv("HOME", str(home))
        # Settings from a developer's environment would override ours.
        for k in list(os.environ):
            if k.startswith("MODAL_") and k not in server.client_env():
                monkeypatch.delenv(k)
        yield server
    finally:
        reset_modal_env_client()  # close the gRPC connection before the server goes
        server.stop()
