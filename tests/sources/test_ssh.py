"""ssh:// against a real OpenSSH sshd on loopback (tests/servers/sshd.py)."""

from __future__ import annotations

import asyncio
import glob
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from tests.commands.test_media_listing import _link_zoo
from tests.conftest import FIXTURES, tree_digest
from tests.servers.sshd import SshdInfo
from tests.servers.tcpproxy import TcpProxy
from tests.sources.conftest import (
    analyze_json,
    fixture_files,
    one_clean_line,
    without_source,
    write_tree,
)
from trackio_tool.sources import remote

pytestmark = pytest.mark.slow


def _local(cli: Any, path: Path) -> list[dict[str, Any]]:
    return without_source(analyze_json(cli, str(path)))


def _remote_tmp_leftovers() -> list[str]:
    # The sshd is this machine and its user shares /tmp with us.
    tmp = os.environ.get("TMPDIR") or tempfile.gettempdir()
    return glob.glob(os.path.join(tmp, "trackio-tool-*.db"))


# -- URL grammar -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ssh://box/data/x.db", (None, "box", None, "/data/x.db", False)),
        ("ssh://me@box:2222/data/x.db", ("me", "box", 2222, "/data/x.db", False)),
        ("ssh://me@Box.Alias/~/trackio", ("me", "Box.Alias", None, "trackio", True)),
        ("ssh://box/~", (None, "box", None, "", True)),
        ("ssh://[::1]:22/x.db", (None, "::1", 22, "/x.db", False)),
        ("sftp://box/", (None, "box", None, "/", False)),
    ],
)
def test_parse_ssh_url(url: str, expected: tuple[Any, ...]) -> None:
    from trackio_tool.sources.ssh import parse_ssh_url

    u = parse_ssh_url(url)
    assert (u.user, u.host, u.port, u.path, u.in_home) == expected


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("ssh:///x.db", "no host"),
        ("ssh://box", "no path"),
        ("ssh://me:secret@box/x.db", "passwords in ssh:// URLs are not supported"),
        ("ssh://box:notaport/x.db", "invalid port"),
        ("ssh://box/~other/x.db", "~user paths are not supported"),
    ],
)
def test_bad_ssh_urls(cli: Any, url: str, needle: str) -> None:
    line = one_clean_line(cli("analyze", url), needle)
    assert "secret" not in line


# -- reading -----------------------------------------------------------------------
def test_absolute_path_through_alias(
    cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path
) -> None:
    write_tree(ssh_dir, fixture_files("trackio-0.43.0"))
    data = analyze_json(cli, f"ssh://trk{ssh_dir}/toyproj.db")
    (project,) = data["projects"]
    assert project["source"] == f"ssh://trk{ssh_dir}/toyproj.db"
    assert without_source(data) == _local(cli, FIXTURES / "trackio-0.43.0" / "toyproj.db")
    assert sum(r["media_files"] for r in project["runs"]) == 4


def test_explicit_user_host_port_with_default_key(
    cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path
) -> None:
    # No alias: host, port and user come from the URL; the key is ~/.ssh/id_ed25519.
    shutil.copy(sshd_server.client_key, ssh_home / ".ssh" / "id_ed25519")
    (ssh_home / ".ssh" / "id_ed25519").chmod(0o600)
    write_tree(ssh_dir, fixture_files("trackio-0.20.2"))
    url = f"ssh://{sshd_server.user}@127.0.0.1:{sshd_server.port}{ssh_dir}"
    data = analyze_json(cli, url)
    assert [p["source"] for p in data["projects"]] == [
        f"{url}/toyproj.db",
        f"{url}/toyproj-edge.db",
    ]
    assert without_source(data) == _local(cli, FIXTURES / "trackio-0.20.2")


def test_home_relative_path(
    cli: Any, sshd_server: SshdInfo, ssh_home: Path, remote_home_dir: tuple[Path, str]
) -> None:
    local, rel = remote_home_dir
    write_tree(local, fixture_files("trackio-0.43.0-static"))
    data = analyze_json(cli, f"ssh://trk/~/{rel}/toyproj")
    (project,) = data["projects"]
    assert project["kind"] == "static"
    assert project["source"] == f"ssh://trk{local}/toyproj"
    assert without_source(data) == _local(cli, FIXTURES / "trackio-0.43.0-static" / "toyproj")


def test_parquet_with_companions(
    cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path
) -> None:
    write_tree(ssh_dir, fixture_files("trackio-0.43.0", only=lambda p: p.suffix != ".db"))
    data = analyze_json(cli, f"ssh://trk{ssh_dir}/toyproj.parquet")
    assert without_source(data) == _local(cli, FIXTURES / "trackio-0.43.0" / "toyproj.parquet")


# -- live WAL databases ---------------------------------------------------------------
def _live_wal_db(folder: Path) -> tuple[Path, sqlite3.Connection]:
    """walproj.db with 39 rows only in -wal, plus one more written by an open writer."""
    for name in ("walproj.db", "walproj.db-wal"):
        shutil.copy(FIXTURES / "trackio-0.43.0-wal-snapshot" / name, folder / name)
    db = folder / "walproj.db"
    writer = sqlite3.connect(db)
    writer.execute("PRAGMA wal_autocheckpoint=0")
    row = writer.execute(
        "SELECT run_id, timestamp, run_name, step, metrics FROM metrics ORDER BY id DESC LIMIT 1"
    ).fetchone()
    writer.execute(
        "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?,?,?,?,?)",
        (row[0], row[1], row[2], row[3] + 1, row[4]),
    )
    writer.commit()
    return db, writer


@pytest.mark.parametrize("host_sqlite3", ["sqlite3", "none"], ids=["snapshot", "copy-db-and-wal"])
def test_live_wal_db_is_read_consistently(
    cli: Any,
    sshd_server: SshdInfo,
    ssh_home: Path,
    ssh_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    host_sqlite3: str,
) -> None:
    monkeypatch.setenv("TRACKIO_TOOL_SSH_SQLITE3", host_sqlite3)
    db, writer = _live_wal_db(ssh_dir)
    try:
        before = sorted(p.name for p in ssh_dir.iterdir())
        data = analyze_json(cli, f"ssh://trk{db}")
        (project,) = data["projects"]
        assert project["total_rows"] == 41  # 1 in .db, 39 in -wal, 1 from the open writer
        # Nothing created or left behind, on the host or in its temp folder
        # (once the command has closed its connections, as main() does).
        remote.close_all()
        assert sorted(p.name for p in ssh_dir.iterdir()) == before
        assert _remote_tmp_leftovers() == []
    finally:
        writer.close()


def test_snapshot_is_used_when_the_host_has_sqlite3(
    cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trackio_tool.sources.ssh import TrackioSSHFileSystem

    fetched: list[str] = []
    original = TrackioSSHFileSystem._get_file

    async def spy(self: Any, rpath: str, lpath: str, **kw: Any) -> None:
        fetched.append(rpath)
        await original(self, rpath, lpath, **kw)

    monkeypatch.setattr(TrackioSSHFileSystem, "_get_file", spy)
    db, writer = _live_wal_db(ssh_dir)
    try:
        data = analyze_json(cli, f"ssh://trk{db}")
    finally:
        writer.close()
    assert data["projects"][0]["total_rows"] == 41
    (only,) = fetched  # one file: the host-side .backup, not .db + -wal
    assert Path(only).name.startswith("trackio-tool-")


@pytest.mark.parametrize("mode", ["old-sqlite3", "failing-sqlite3"])
def test_snapshot_fallbacks(
    cli: Any,
    sshd_server: SshdInfo,
    ssh_home: Path,
    ssh_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    """SQLite < 3.27 has no VACUUM INTO: .backup; a failing sqlite3: copy .db + -wal."""
    log = ssh_dir / "calls.log"
    wrapper = ssh_dir / "sqlite3-wrapper"
    refuse = "*VACUUM*" if mode == "old-sqlite3" else "*"
    wrapper.write_text(
        "#!/bin/sh\n"
        'input=$(cat); printf "%s\\n" "$input" >> ' + str(log) + "\n"
        f'case "$input" in {refuse}) echo "Error: syntax error" >&2; exit 1;; esac\n'
        'printf "%s\\n" "$input" | exec sqlite3 "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("TRACKIO_TOOL_SSH_SQLITE3", str(wrapper))
    db, writer = _live_wal_db(ssh_dir / "p" if (ssh_dir / "p").mkdir() is None else ssh_dir)
    try:
        data = analyze_json(cli, f"ssh://trk{db}")
    finally:
        writer.close()
    assert data["projects"][0]["total_rows"] == 41
    calls = log.read_text()
    assert "VACUUM INTO" in calls
    assert ".backup" in calls
    remote.close_all()
    assert _remote_tmp_leftovers() == []


def test_db_without_wal_is_copied_without_touching_the_host(
    cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path
) -> None:
    write_tree(ssh_dir, fixture_files("trackio-0.43.0", only=lambda p: p.name == "toyproj.db"))
    before = tree_digest(ssh_dir)
    analyze_json(cli, f"ssh://trk{ssh_dir}/toyproj.db")
    assert tree_digest(ssh_dir) == before  # no -wal/-shm created by a remote open


def test_interrupted_snapshot_cleans_up(
    cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trackio_tool.sources.ssh import TrackioSSHFileSystem

    async def interrupted(self: Any, rpath: str, lpath: str, **kw: Any) -> None:
        # Ctrl-C while the snapshot is being fetched: SIGINT reaches the main
        # thread, which is waiting for this coroutine on fsspec's loop.
        Path(lpath).write_bytes(b"partial")
        os.kill(os.getpid(), signal.SIGINT)  # process-directed, like a real Ctrl-C
        await asyncio.sleep(30)

    monkeypatch.setattr(TrackioSSHFileSystem, "_get_file", interrupted)
    db, writer = _live_wal_db(ssh_dir)
    started = time.monotonic()
    try:
        result = cli("analyze", f"ssh://trk{db}", "--json")
    finally:
        writer.close()
    assert result.exit_code == 130
    assert result.stderr == "interrupted\n"
    assert time.monotonic() - started < 10  # the 30 s sleep was cancelled
    assert _remote_tmp_leftovers() == []
    cache = Path(os.environ["TRACKIO_TOOL_CACHE"])
    assert not list(cache.rglob(".fetch-*"))
    assert not list(cache.rglob("*.db"))


def _flaky_alias(sshd_server: SshdInfo, ssh_home: Path, proxy: TcpProxy) -> str:
    """An ssh config alias "flaky" that reaches the test sshd through ``proxy``."""
    ssh = ssh_home / ".ssh"
    with (ssh / "config").open("a") as fh:
        fh.write(
            f"Host flaky\n    HostName 127.0.0.1\n    Port {proxy.port}\n"
            f"    User {sshd_server.user}\n    IdentityFile {sshd_server.client_key}\n"
            "    IdentitiesOnly yes\n"
        )
    with (ssh / "known_hosts").open("a") as fh:
        fh.write(f"[127.0.0.1]:{proxy.port} {sshd_server.host_key_line}\n")
    return "flaky"


@pytest.mark.parametrize("mode", ["stall", "close"])
def test_a_link_lost_mid_transfer_is_one_line_not_a_hang(
    cli: Any,
    sshd_server: SshdInfo,
    ssh_home: Path,
    ssh_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: Literal["stall", "close"],
) -> None:
    """Found by the remote fault test: a link that stopped forwarding (or was reset)
    mid-transfer left the command waiting forever; a clean close gave "unexpected
    SFTPConnectionLost". Keepalives now notice a dead link within the SSH timeout."""
    write_tree(ssh_dir, fixture_files("trackio-0.43.0"))
    proxy = TcpProxy(sshd_server.port, mode=mode, after=100_000)
    try:
        alias = _flaky_alias(sshd_server, ssh_home, proxy)
        monkeypatch.setenv("TRACKIO_TOOL_SSH_TIMEOUT", "2")
        started = time.monotonic()
        result = cli("analyze", f"ssh://{alias}{ssh_dir}/toyproj.db", "--json")
        assert time.monotonic() - started < 15
        one_clean_line(
            result, "the connection to the remote source failed (SFTPConnectionLost", "try again"
        )
        assert not list(Path(os.environ["TRACKIO_TOOL_CACHE"]).rglob("*.db"))
        remote.close_all()
        # The next command gets through (the proxy spoils only the first connection).
        data = analyze_json(cli, f"ssh://{alias}{ssh_dir}/toyproj.db")
        assert without_source(data) == _local(cli, FIXTURES / "trackio-0.43.0" / "toyproj.db")
    finally:
        proxy.close()


def test_ctrl_c_mid_transfer_is_one_line(
    sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path
) -> None:
    """Found by the remote fault test: Ctrl-C during a copy printed ~7 tracebacks ("Task
    exception was never retrieved") from the cancelled SFTP reads, and exited without a
    word elsewhere (typer turns the interrupt into a silent exit 130)."""
    write_tree(ssh_dir, fixture_files("trackio-0.43.0"))
    proxy = TcpProxy(sshd_server.port, mode="slow", rate=60_000)
    try:
        alias = _flaky_alias(sshd_server, ssh_home, proxy)
        tool = subprocess.Popen(
            [sys.executable, "-m", "trackio_tool", "analyze", f"ssh://{alias}{ssh_dir}/toyproj.db"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "HOME": str(ssh_home)},
        )
        time.sleep(2.5)  # connected, and fetching 352 KB at 60 KB/s
        tool.send_signal(signal.SIGINT)
        _, err = tool.communicate(timeout=30)
    finally:
        proxy.close()
    assert (tool.returncode, err) == (130, "interrupted\n")
    assert not list(Path(os.environ["TRACKIO_TOOL_CACHE"]).rglob(".fetch-*"))


def test_a_link_lost_while_reading_a_parquet_is_one_line(
    sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path
) -> None:
    """Found by the remote fault test: polars read the remote parquet through a Python
    file object and panicked when a read failed, printing ~300 lines of Rust and Python
    tracebacks. A remote parquet is now read whole first."""
    write_tree(ssh_dir, fixture_files("trackio-0.43.0", only=lambda p: p.suffix != ".db"))
    proxy = TcpProxy(sshd_server.port, mode="close", after=20_000)
    try:
        alias = _flaky_alias(sshd_server, ssh_home, proxy)
        tool = subprocess.run(
            [
                sys.executable,
                "-m",
                "trackio_tool",
                "analyze",
                f"ssh://{alias}{ssh_dir}/toyproj.parquet",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "HOME": str(ssh_home)},
            timeout=60,
        )
    finally:
        proxy.close()
    assert tool.returncode == 1
    assert len(tool.stderr.splitlines()) == 1, tool.stderr[:2000]
    # asyncssh reports the lost link (ConnectionLost) or the socket does (reset by peer),
    # depending on timing: the same message either way.
    assert tool.stderr.startswith("error: "), tool.stderr
    assert "the connection to the remote source failed" in tool.stderr, tool.stderr


def test_a_slow_link_that_pauses_between_bursts_is_not_cut(
    cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the second remote fault run: keepalive probes a third of the timeout apart
    cut a slow link whose bursts came ~1 s apart (the probes' answers queue behind the
    data). Probes now go after half the timeout of silence."""
    write_tree(ssh_dir, fixture_files("trackio-0.43.0"))
    proxy = TcpProxy(sshd_server.port, mode="slow", rate=48_000)  # 64 KiB, then ~1.4 s idle
    try:
        alias = _flaky_alias(sshd_server, ssh_home, proxy)
        monkeypatch.setenv("TRACKIO_TOOL_SSH_TIMEOUT", "3")
        data = analyze_json(cli, f"ssh://{alias}{ssh_dir}/toyproj.db")
    finally:
        proxy.close()
    assert without_source(data) == _local(cli, FIXTURES / "trackio-0.43.0" / "toyproj.db")


@pytest.mark.parametrize("value", ["abc", "nan", "-5", "0", "inf"])
def test_a_bad_timeout_is_named(cli: Any, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """Found by the second remote fault run: "abc" was ignored, "nan" read "no answer
    within nan s" about a healthy host, "0" waited forever."""
    monkeypatch.setenv("TRACKIO_TOOL_SSH_TIMEOUT", value)
    one_clean_line(
        cli("analyze", "ssh://127.0.0.1/x.db"),
        f"TRACKIO_TOOL_SSH_TIMEOUT must be a positive number of seconds, not {value!r}",
    )


# -- cache ---------------------------------------------------------------------------
def test_second_command_downloads_nothing(
    cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trackio_tool.sources.ssh import TrackioSSHFileSystem

    fetched: list[str] = []
    original = TrackioSSHFileSystem._get_file

    async def spy(self: Any, rpath: str, lpath: str, **kw: Any) -> None:
        fetched.append(rpath)
        await original(self, rpath, lpath, **kw)

    monkeypatch.setattr(TrackioSSHFileSystem, "_get_file", spy)
    write_tree(ssh_dir, fixture_files("trackio-0.43.0"))
    url = f"ssh://trk{ssh_dir}/toyproj.db"
    first = analyze_json(cli, url)
    assert fetched == [f"{ssh_dir}/toyproj.db"]
    assert analyze_json(cli, url) == first
    assert len(fetched) == 1  # unchanged size + mtime: served from the cache
    analyze_json(cli, url, "--refresh")
    assert len(fetched) == 2
    # A changed remote file is fetched again.
    db = ssh_dir / "toyproj.db"
    os.utime(db, (db.stat().st_atime, db.stat().st_mtime + 10))
    analyze_json(cli, url)
    assert len(fetched) == 3


# -- connections and listings --------------------------------------------------------
def test_one_connection_per_host_and_one_media_listing(
    cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trackio_tool.sources import ssh

    connects: list[str] = []
    original_connect = ssh.connect

    def counting_connect(url: Any, **kw: Any) -> Any:
        connects.append(url.host)
        return original_connect(url, **kw)

    walks: list[str] = []
    original_ls = ssh.TrackioSSHFileSystem._ls

    async def counting_ls(self: Any, path: str, *a: Any, **kw: Any) -> Any:
        walks.append(path)
        return await original_ls(self, path, *a, **kw)

    monkeypatch.setattr(ssh, "connect", counting_connect)
    monkeypatch.setattr(ssh.TrackioSSHFileSystem, "_ls", counting_ls)
    write_tree(ssh_dir / "a", fixture_files("trackio-0.43.0"))
    write_tree(ssh_dir / "b", fixture_files("trackio-0.20.2"))
    data = analyze_json(cli, f"ssh://trk{ssh_dir}/a/toyproj.db", f"ssh://trk{ssh_dir}/b/toyproj.db")
    assert len(data["projects"]) == 2
    assert connects == ["trk"]
    # Media were counted by one `find` on the host: no per-folder SFTP listing, only
    # one of media/ itself per project (for the folders Trackio <= 0.29 named after
    # a project's raw name).
    assert sorted(w for w in walks if "/media" in w) == [f"{ssh_dir}/a/media", f"{ssh_dir}/b/media"]


def test_media_listing_falls_back_to_sftp_without_a_shell(
    sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trackio_tool.sources import remote, ssh

    write_tree(ssh_dir, fixture_files("trackio-0.43.0", only=lambda p: p.parts[0] == "media"))

    async def no_shell(self: Any, script: str, *args: str) -> None:
        return None

    fs, path, _ = remote.open_url(f"ssh://trk{ssh_dir}")
    expected = fs.find(f"{path}/media")
    monkeypatch.setattr(ssh.TrackioSSHFileSystem, "_exec", no_shell)
    assert fs.find(f"{path}/media") == expected
    assert len(expected) == 4
    assert fs.find(f"{path}/nothing-here") == []


# -- links and unreadable folders in the media -------------------------------------
GAMMA_IMAGES = 4  # media/toyproj/gamma/{0,30,60,90}/<uuid>.png in the 0.43 fixture


def _media_files(data: dict[str, Any]) -> dict[str, int]:
    return {r["name"]: r["media_files"] for p in data["projects"] for r in p["runs"]}


async def _no_shell(self: Any, script: str, *args: str) -> None:
    return None  # as a host with ForceCommand internal-sftp


def test_links_in_the_media_count_as_locally(
    cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The host's `find -type f` left links out: analyze counted 4 of gamma's media
    files over ssh://, 7 locally, and a merge from there left them behind."""
    from trackio_tool.sources import ssh

    write_tree(ssh_dir, fixture_files("trackio-0.43.0"))
    outside = _link_zoo(ssh_dir)
    before = tree_digest(outside)
    url = f"ssh://trk{ssh_dir}/toyproj.db"
    local = _local(cli, ssh_dir / "toyproj.db")
    assert _media_files({"projects": local})["gamma"] == GAMMA_IMAGES + 3
    assert without_source(analyze_json(cli, url)) == local
    # Without a shell on the host (SFTP, one request per folder): the same.
    with monkeypatch.context() as m:
        m.setattr(ssh.TrackioSSHFileSystem, "_exec", _no_shell)
        remote.close_all()
        assert without_source(analyze_json(cli, url)) == local
    remote.close_all()
    assert tree_digest(outside) == before


def test_merge_copies_a_link_to_a_file_and_refuses_other_links(
    cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path, tmp_path: Path
) -> None:
    """A merge from a local folder copies a link to a file as the file, and a link to a
    folder or to nothing as a link to the same place; from a host, that place is not
    here: refused, naming the link, rather than left out (analyze counts it)."""
    write_tree(ssh_dir, fixture_files("trackio-0.43.0"))
    outside = _link_zoo(ssh_dir)
    before = tree_digest(outside)
    url = f"ssh://trk{ssh_dir}/toyproj.db"
    target = tmp_path / "out" / "t.db"
    line = one_clean_line(
        cli("merge", "--from", url, "--into", str(target), "-r", "gamma"),
        f"cannot copy ssh://trk{ssh_dir}/media/toyproj/gamma/0/dangling.png: a symbolic link"
        " to nothing on the host",
        "(and 1 other such link in the merged runs)",
        "nothing was changed",
    )
    assert "--no-media" in line
    assert not (tmp_path / "out").exists()
    r = cli("merge", "--from", url, "--into", str(target), "-r", "gamma", "--dry-run")
    one_clean_line(r, "dangling.png")
    r = cli("merge", "--from", url, "--into", str(target), "-r", "gamma", "--no-media")
    assert r.exit_code == 0, r.stderr
    target.unlink()
    (ssh_dir / "media" / "toyproj" / "gamma" / "0" / "dangling.png").unlink()
    line = one_clean_line(
        cli("merge", "--from", url, "--into", str(target), "-r", "gamma"),
        "gamma/to-folder: a symbolic link to a folder on the host",
    )
    assert "other such" not in line
    (ssh_dir / "media" / "toyproj" / "gamma" / "to-folder").unlink()
    r = cli("merge", "--from", url, "--into", str(target), "-r", "gamma", "--json")
    assert r.exit_code == 0, r.stderr
    assert [run["media_files"] for run in json.loads(r.stdout)["runs"]] == [GAMMA_IMAGES + 1]
    copied = target.parent / "media" / "t" / "gamma" / "0" / "to-file.png"
    assert not copied.is_symlink()
    assert copied.read_bytes() == b"behind a link"
    assert tree_digest(outside) == before


@pytest.fixture(scope="module")
def sshd_obeying_modes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdInfo]:
    """One more sshd, whose sessions a folder of mode 000 stops: the tests run as root
    here, who reads any folder, so it runs without root's capabilities to pass file
    permissions by (setpriv; a test user's sshd needs none of that)."""
    from tests.servers.sshd import sshd_available, start_sshd

    if not sshd_available():
        pytest.skip("openssh-server (/usr/sbin/sshd) is not installed")
    caps = "-dac_override,-dac_read_search"
    wrapper = ["setpriv", "--bounding-set", caps] if os.geteuid() == 0 else []
    if wrapper and shutil.which("setpriv") is None:
        pytest.skip("a mode 000 folder stops no root process here (no setpriv)")
    with start_sshd(tmp_path_factory.mktemp("sshd-modes"), wrapper=wrapper) as info:
        yield info


def test_an_unreadable_run_folder_is_noted_by_analyze_and_stops_a_merge(
    cli: Any,
    sshd_obeying_modes: SshdInfo,
    ssh_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The host's find could not list gamma's folder and said so (exit status 1); the
    listing kept the rest without a word: analyze counted 0 media files for gamma and
    merge copied the run without them."""
    from trackio_tool.sources import ssh

    server = sshd_obeying_modes
    server.write_client_home(ssh_home)
    d = server.root / uuid.uuid4().hex[:12]
    write_tree(d, fixture_files("trackio-0.43.0"))
    gamma = d / "media" / "toyproj" / "gamma"
    url = f"ssh://trk{d}/toyproj.db"
    out = tmp_path / "out"
    r = cli("merge", "--from", url, "--into", str(out / "t.db"), "-r", "alpha")
    assert r.exit_code == 0, r.stderr
    before = tree_digest(out)

    def merge(*args: str) -> Any:
        return cli("merge", "--from", url, "--into", str(out / "t.db"), *args)

    gamma.chmod(0)
    try:
        for shell in (True, False):  # find on the host; SFTP without a shell
            with monkeypatch.context() as m:
                if not shell:
                    m.setattr(ssh.TrackioSSHFileSystem, "_exec", _no_shell)
                remote.close_all()
                one_clean_line(
                    merge("-r", "gamma"),
                    f"cannot read ssh://trk{gamma} (Permission denied), which may hold media",
                    "nothing was changed",
                )
                one_clean_line(merge("-r", "gamma", "--dry-run"), f"cannot read ssh://trk{gamma}")
                assert tree_digest(out) == before
                r = cli("analyze", url, env={"COLUMNS": "1000"})
                assert r.exit_code == 0, r.stderr
                assert r.stderr.splitlines() == [
                    f"note: cannot read ssh://trk{gamma} (Permission denied): run 'gamma' may"
                    " have more media files than counted"
                ]
                r = cli("analyze", url, "-r", "alpha")
                assert r.exit_code == 0, r.stderr
                assert r.stderr == ""  # gamma's folder is not alpha's
        # (This was asyncssh's SFTPPermissionDenied: "the connection ... failed".)
        one_clean_line(cli("analyze", f"ssh://trk{gamma}/x.db"), "permission denied")
        remote.close_all()
        # The whole media folder: any run's media may be in it.
        gamma.chmod(0o755)
        (d / "media" / "toyproj").chmod(0)
        one_clean_line(merge("-r", "beta"), f"cannot read ssh://trk{d}/media/toyproj (")
        r = cli("analyze", url)
        assert "the runs of project 'toyproj' may have more media files" in r.stderr
        assert tree_digest(out) == before
    finally:
        (d / "media" / "toyproj").chmod(0o755)
        gamma.chmod(0o755)
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize(
    ("line", "folder", "errno_name"),
    [
        ("find: '/m/run/plain': Permission denied", "/m/run/plain", "EACCES"),
        ("find: '/m/run/it\\'s': Permission denied", "/m/run/it's", "EACCES"),
        ("find: '/m/run/\\303\\251 x: y': Permission denied", "/m/run/é x: y", "EACCES"),
        ("find: '/m/run/new\\nline\\\\': Input/output error", "/m/run/new\nline\\", "EIO"),
        ("find: /m/run/bsd: Permission denied", "/m/run/bsd", "EACCES"),  # BSD, busybox
        ("find: '/elsewhere': Permission denied", "/m", "EACCES"),  # not below: all of it
        ("find: '/m/run/x': Something new", "/m/run/x", None),
    ],
)
def test_find_errors_name_their_folder(line: str, folder: str, errno_name: str | None) -> None:
    import errno

    from trackio_tool.sources.ssh import _parse_find_errors

    stderr = f"stty: not a tty\n{line}\n".encode()
    [(found, error)] = _parse_find_errors(stderr, "/m") or []
    assert found == folder
    assert error.errno == (getattr(errno, errno_name) if errno_name else None)
    assert error.strerror == line.rsplit(": ", 1)[1]
    assert _parse_find_errors(b"sh: 1: exec: find: not found\n", "/m") is None


# -- errors --------------------------------------------------------------------------
def test_missing_file(cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path) -> None:
    one_clean_line(
        cli("analyze", f"ssh://trk{ssh_dir}/nope.db"),
        f"no such file or directory: ssh://trk{ssh_dir}/nope.db",
    )


@pytest.mark.parametrize("mode", ["unknown", "mismatch"])
def test_untrusted_host_key_is_refused(
    cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path, mode: str
) -> None:
    sshd_server.write_client_home(ssh_home, host_key=mode)  # type: ignore[arg-type]
    write_tree(ssh_dir, fixture_files("trackio-0.43.0"))
    line = one_clean_line(cli("analyze", f"ssh://trk{ssh_dir}/toyproj.db"), "ssh: the host key")
    assert "ssh-ed25519 SHA256:" in line
    if mode == "unknown":
        assert "is not known" in line
        assert "`ssh trk`" in line
        assert "--accept-new-host-key" in line
    else:
        assert "has CHANGED" in line
        assert f"ssh-keygen -R '[127.0.0.1]:{sshd_server.port}'" in line


@pytest.mark.parametrize("how", ["env", "flag"])
def test_accept_new_host_key_opt_in(
    cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path, how: str
) -> None:
    sshd_server.write_client_home(ssh_home, host_key="unknown")
    write_tree(ssh_dir, fixture_files("trackio-0.43.0"))
    url = f"ssh://trk{ssh_dir}/toyproj.db"
    if how == "env":
        result = cli("analyze", url, "--json", env={"TRACKIO_TOOL_SSH_ACCEPT_NEW_HOST_KEY": "1"})
    else:  # the root option wired in cli.py
        result = cli("--accept-new-host-key", "analyze", url, "--json")
    assert result.exit_code == 0, result.stderr
    known = (ssh_home / ".ssh" / "known_hosts").read_text()
    assert known == sshd_server.known_hosts_line("trusted")
    # Trusted from now on, without the opt-in.
    from trackio_tool.sources import remote

    remote.close_all()
    assert cli("analyze", url, "--json").exit_code == 0


def test_accept_new_never_accepts_a_changed_key(
    cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path
) -> None:
    from trackio_tool.sources import remote

    sshd_server.write_client_home(ssh_home, host_key="mismatch")
    remote.configure(accept_new_host_key=True)
    one_clean_line(cli("analyze", f"ssh://trk{ssh_dir}/x.db"), "has CHANGED")
    assert (ssh_home / ".ssh" / "known_hosts").read_text() == sshd_server.known_hosts_line(
        "mismatch"
    )


def test_no_usable_key(cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path) -> None:
    sshd_server.write_client_home(ssh_home, identity=False)
    one_clean_line(cli("analyze", f"ssh://trk{ssh_dir}/x.db"), "ssh: permission denied", "trk")


def test_unreachable_host(cli: Any, ssh_home: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    one_clean_line(
        cli("analyze", f"ssh://127.0.0.1:{port}/x.db"),
        f"ssh: cannot reach 127.0.0.1:{port}: Connection refused",
    )
    one_clean_line(
        cli("analyze", "ssh://no-such-host.invalid/x.db"), "ssh: cannot reach no-such-host.invalid"
    )


def test_permission_denied_on_the_host(
    cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path
) -> None:
    if os.geteuid() == 0:
        # root reads anything; use a path sftp refuses for everyone instead.
        pytest.skip("permission checks do not apply to root")
    secret = ssh_dir / "secret"
    write_tree(secret, fixture_files("trackio-0.43.0", only=lambda p: p.name == "toyproj.db"))
    secret.chmod(0)
    try:
        one_clean_line(cli("analyze", f"ssh://trk{secret}/toyproj.db"), "permission denied")
    finally:
        secret.chmod(0o755)


# -- ~/.ssh/config and the agent -----------------------------------------------------
def test_proxyjump_from_ssh_config(
    cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path
) -> None:
    # "behind" is only reachable through "trk" (here: the same server, twice).
    config = ssh_home / ".ssh" / "config"
    config.write_text(
        config.read_text()
        + "\nHost behind\n"
        + "    HostName 127.0.0.1\n"
        + f"    Port {sshd_server.port}\n"
        + f"    User {sshd_server.user}\n"
        + f"    IdentityFile {sshd_server.client_key}\n"
        + "    IdentitiesOnly yes\n"
        + "    ProxyJump trk\n"
    )
    write_tree(ssh_dir, fixture_files("trackio-0.20.2", only=lambda p: p.name == "toyproj.db"))
    before = sshd_server.log_path.read_text().count("Accepted publickey")
    data = analyze_json(cli, f"ssh://behind{ssh_dir}/toyproj.db")
    assert data["projects"][0]["total_rows"] == 300
    # Two logins: the jump host, then the target through it.
    assert sshd_server.log_path.read_text().count("Accepted publickey") - before == 2


def test_ssh_agent_keys_are_used(
    cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    if not shutil.which("ssh-agent") or not shutil.which("ssh-add"):
        pytest.skip("ssh-agent is not installed")
    sshd_server.write_client_home(ssh_home, identity=False)
    config = ssh_home / ".ssh" / "config"
    config.write_text(config.read_text().replace("    IdentitiesOnly yes\n", ""))
    sock = ssh_home / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        subprocess.run(
            ["ssh-add", "-q", str(sshd_server.client_key)],
            env=env,
            check=True,
            stderr=subprocess.DEVNULL,
        )
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        write_tree(ssh_dir, fixture_files("trackio-0.20.2", only=lambda p: p.name == "toyproj.db"))
        data = analyze_json(cli, f"ssh://trk{ssh_dir}/toyproj.db")
        assert data["projects"][0]["total_rows"] == 300
    finally:
        remote.close_all()
        agent.terminate()
        agent.wait(5)


def test_untrusted_jump_host_is_refused(
    cli: Any, sshd_server: SshdInfo, ssh_home: Path, ssh_dir: Path
) -> None:
    config = ssh_home / ".ssh" / "config"
    config.write_text(
        config.read_text()
        + "\nHost jump\n    HostName localhost\n"
        + f"    Port {sshd_server.port}\n    User {sshd_server.user}\n"
        + f"    IdentityFile {sshd_server.client_key}\n"
        + f"    UserKnownHostsFile {ssh_home / 'empty_known_hosts'}\n"
        + "\nHost behind\n    HostName 127.0.0.1\n"
        + f"    Port {sshd_server.port}\n    User {sshd_server.user}\n"
        + f"    IdentityFile {sshd_server.client_key}\n    ProxyJump jump\n"
    )
    # The jump host is checked against its own (empty) known_hosts: unknown.
    (ssh_home / "empty_known_hosts").write_text("")
    one_clean_line(
        cli("analyze", f"ssh://behind{ssh_dir}/x.db"),
        "ssh: Host key is not trusted for host localhost",
        "on the way to behind",
    )
