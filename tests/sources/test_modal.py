"""modal:// with the real modal client (pinned 1.6.4) against tests/servers/fake_modal.py."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES
from tests.servers.fake_modal import FakeModal, reset_modal_env_client
from tests.sources.conftest import (
    analyze_json,
    backdate,
    fixture_files,
    one_clean_line,
    without_source,
)


def _upload(server: FakeModal, prefix: str, files: dict[str, bytes], env: str = "main") -> None:
    for rel, data in files.items():
        backdate(server.add_file(f"{prefix}/{rel}", data, env=env))


def _local(cli: Any, path: Path, *args: str) -> list[dict[str, Any]]:
    return without_source(analyze_json(cli, str(path), *args))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("modal://vol/runs/x.db", ("vol", None, "/runs/x.db")),
        ("modal://vol@dev/runs/", ("vol", "dev", "/runs")),
        ("modal://vol", ("vol", None, "/")),
    ],
)
def test_url_forms(url: str, expected: tuple[Any, ...]) -> None:
    from trackio_tool.sources.modal_volume import split_modal_url

    assert split_modal_url(url) == expected


def test_db_with_media(cli: Any, fake_modal: FakeModal) -> None:
    _upload(fake_modal, "vol/trackio", fixture_files("trackio-0.43.0"))
    data = analyze_json(cli, "modal://vol/trackio/toyproj.db")
    (project,) = data["projects"]
    assert project["source"] == "modal://vol/trackio/toyproj.db"
    assert without_source(data) == _local(cli, FIXTURES / "trackio-0.43.0" / "toyproj.db")
    # Media were counted from one recursive listing of the project's media folder (and
    # one of media/ itself, for the raw-name folders of Trackio <= 0.29).
    media_lists = [d for k, d in fake_modal.requests if k == "VolumeListFiles2" and "media" in d]
    assert media_lists == [
        "/trackio/media recursive=False",
        "/trackio/media/toyproj recursive=True",
    ]


def test_environment_and_static_layout(cli: Any, fake_modal: FakeModal) -> None:
    _upload(fake_modal, "exports/toyproj", fixture_files("trackio-0.43.0-static/toyproj"), "dev")
    data = analyze_json(cli, "modal://exports@dev/toyproj")
    (project,) = data["projects"]
    assert (project["kind"], project["source"]) == ("static", "modal://exports@dev/toyproj")
    assert without_source(data) == _local(cli, FIXTURES / "trackio-0.43.0-static" / "toyproj")


def test_live_wal_db(cli: Any, fake_modal: FakeModal) -> None:
    _upload(fake_modal, "vol", fixture_files("trackio-0.43.0-wal-snapshot"))
    data = analyze_json(cli, "modal://vol/walproj.db")
    assert data["projects"][0]["total_rows"] == 40  # 1 in .db + 39 only in -wal


def test_cache_second_command_downloads_nothing(cli: Any, fake_modal: FakeModal) -> None:
    _upload(fake_modal, "vol", fixture_files("trackio-0.20.2"))
    url = "modal://vol/toyproj.db"
    first = analyze_json(cli, url)
    assert fake_modal.bytes_served == (FIXTURES / "trackio-0.20.2" / "toyproj.db").stat().st_size
    fake_modal.reset_log()
    assert analyze_json(cli, url) == first
    assert fake_modal.bytes_served == 0  # same size + mtime: nothing downloaded
    analyze_json(cli, url, "--refresh")
    assert fake_modal.bytes_served > 0


def test_missing_volume_file_and_environment(cli: Any, fake_modal: FakeModal) -> None:
    fake_modal.add_file("vol/a.txt", "a")
    one_clean_line(cli("analyze", "modal://nope/x.db"), "modal: no such volume modal://nope")
    one_clean_line(
        cli("analyze", "modal://vol@nowhere/x.db"), "modal: no such volume modal://vol@nowhere"
    )
    one_clean_line(
        cli("analyze", "modal://vol/x.db"), "no such file or directory: modal://vol/x.db"
    )


def test_no_credentials(cli: Any, fake_modal: FakeModal, monkeypatch: pytest.MonkeyPatch) -> None:
    import modal.config

    fake_modal.add_file("vol/a.txt", "a")
    monkeypatch.delenv("MODAL_TOKEN_ID")
    monkeypatch.delenv("MODAL_TOKEN_SECRET")
    monkeypatch.setattr(modal.config, "_user_config", {})  # ~/.modal.toml was read at import
    reset_modal_env_client()
    one_clean_line(
        cli("analyze", "modal://vol/x.db"), "modal: not authenticated", "modal token new"
    )
    assert fake_modal.requests == []


def test_unreachable_server_is_bounded(
    cli: Any, fake_modal: FakeModal, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("MODAL_SERVER_URL", dead)
    monkeypatch.setenv("TRACKIO_TOOL_MODAL_TIMEOUT", "1.5")
    reset_modal_env_client()
    started = time.monotonic()
    line = one_clean_line(
        cli("analyze", "modal://vol/x.db"), "modal: cannot reach the Modal server"
    )
    assert time.monotonic() - started < 10  # the client alone would retry for ~60 s
    assert "TRACKIO_TOOL_MODAL_TIMEOUT" in line
    assert "as-x" not in line  # the token secret


def test_fsspec_registration(fake_modal: FakeModal) -> None:
    import fsspec

    from trackio_tool.sources.remote import register_modal

    fake_modal.add_file("vol/dir/a.txt", "hello")
    register_modal()
    with fsspec.open("modal://vol/dir/a.txt", "rb") as f:
        assert f.read() == b"hello"
    fs = fsspec.filesystem("modal", volume="vol")
    assert fs.ls("/dir", detail=False) == ["/dir/a.txt"]
    assert fs.info("/dir") == {"name": "/dir", "type": "directory", "size": 0}
    assert fs.info("/dir/a.txt")["size"] == 5
    assert fs.cat_file("/dir/a.txt", start=1, end=3) == b"el"
    assert fs.find("/") == ["/dir/a.txt"]
    assert fs.find("/", withdirs=True) == ["/dir", "/dir/a.txt"]
    assert fs.find("/nope") == []
    with pytest.raises(FileNotFoundError):
        fs.info("/dir/nope.txt")
    with pytest.raises(FileNotFoundError):
        fs.cat_file("/nope.txt")
