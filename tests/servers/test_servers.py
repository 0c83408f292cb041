"""Prove each test server works with the real client library it imitates/hosts.

These tests double as usage examples for the fixtures in tests/servers/fixtures.py,
which tests/conftest.py loads through ``pytest_plugins``.
"""

from __future__ import annotations

import io
import os
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.servers.fake_hub import FakeHub
from tests.servers.fake_modal import FakeModal
from tests.servers.fixtures import HF_DUMMY_TOKEN
from tests.servers.sshd import SshdInfo, close_sshfs


# -- sshd + sshfs (asyncssh) -----------------------------------------------------
def _sshfs(host: str = "trk", **kw):
    from sshfs import SSHFileSystem

    # known_hosts=() restores asyncssh's default (check ~/.ssh/known_hosts);
    # sshfs itself defaults to known_hosts=None, i.e. NO host key checking.
    # skip_instance_cache: fsspec would otherwise hand back a cached, already
    # connected instance and skip the host key check entirely.
    kw.setdefault("known_hosts", ())
    return SSHFileSystem(host, skip_instance_cache=True, **kw)


@pytest.mark.slow
def test_sshfs_reads_through_config_alias(sshd_server: SshdInfo, ssh_home: Path):
    f = sshd_server.root / "runs" / "a.txt"
    f.parent.mkdir(exist_ok=True)
    f.write_bytes(b"0123456789" * 10)

    fs = _sshfs("trk")  # HostName/Port/User/IdentityFile all come from ~/.ssh/config
    try:
        assert fs.cat_file(str(f)) == b"0123456789" * 10
        assert fs.ls(str(f.parent), detail=False) == [str(f)]
        assert fs.info(str(f))["size"] == 100
        with fs.open(str(f), "rb") as fh:
            fh.seek(95)
            assert fh.read(10) == b"56789"
        with pytest.raises(FileNotFoundError):
            fs.cat_file(str(f.parent / "missing.txt"))
    finally:
        close_sshfs(fs)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["unknown", "mismatch"])
def test_sshfs_refuses_untrusted_host_key(sshd_server: SshdInfo, ssh_home: Path, mode: str):
    from asyncssh.misc import HostKeyNotVerifiable

    sshd_server.write_client_home(ssh_home, host_key=mode)
    with pytest.raises(HostKeyNotVerifiable):
        _sshfs("trk")


@pytest.mark.slow
def test_sshfs_default_skips_host_key_check(sshd_server: SshdInfo, ssh_home: Path):
    """Documents the sshfs default the tool must override (known_hosts=None)."""
    sshd_server.write_client_home(ssh_home, host_key="unknown")
    fs = _sshfs("trk", known_hosts=None)
    try:
        assert fs.exists(str(sshd_server.root))
    finally:
        close_sshfs(fs)


# -- fake Hugging Face Hub ---------------------------------------------------------
@pytest.fixture
def hub(fake_hub: FakeHub) -> FakeHub:
    fake_hub.add_file("datasets/org/ds/README.md", "current readme")
    fake_hub.add_file("datasets/org/ds/data/train.bin", bytes(range(256)) * 400)  # 102,400 B
    fake_hub.add_file("datasets/org/ds/data/sub/x.txt", "x")
    fake_hub.add_file("datasets/org/ds@v1/README.md", "old readme")
    fake_hub.add_file("buckets/org/bk/top.txt", "top")
    fake_hub.add_file("buckets/org/bk/logs/a.txt", "aaaa")
    fake_hub.add_file("buckets/org/bk/logs/deep/b.bin", bytes(range(256)) * 40)
    return fake_hub


def _hffs(hub: FakeHub):
    from huggingface_hub import HfFileSystem

    return HfFileSystem(endpoint=hub.url, token=HF_DUMMY_TOKEN, skip_instance_cache=True)


def test_hf_dataset_ls_info_cat_range(hub: FakeHub):
    fs = _hffs(hub)
    assert sorted(fs.ls("datasets/org/ds", detail=False)) == [
        "datasets/org/ds/README.md",
        "datasets/org/ds/data",
    ]
    info = fs.info("hf://datasets/org/ds/data/train.bin")
    assert (info["type"], info["size"]) == ("file", 102_400)
    assert fs.cat("datasets/org/ds/README.md") == b"current readme"
    assert fs.find("datasets/org/ds/data") == [
        "datasets/org/ds/data/sub/x.txt",
        "datasets/org/ds/data/train.bin",
    ]

    hub.reset_log()
    with fs.open("datasets/org/ds/data/train.bin", block_size=1024) as f:
        f.seek(50_000)
        assert f.read(4) == bytes([(50_000 + i) % 256 for i in range(4)])
    assert 0 < hub.bytes_served <= 2048  # a ranged GET, not the whole file
    assert any(
        p.startswith("/datasets/org/ds/resolve/main/data/train.bin")
        for _, p in hub.resolve_requests()
    )


def test_hf_dataset_revisions(hub: FakeHub):
    fs = _hffs(hub)
    assert fs.cat("datasets/org/ds@v1/README.md") == b"old readme"
    # Any 40-hex sha reads as main, and the repo's fake sha is predictable.
    assert fs.cat(f"datasets/org/ds@{hub.dataset_sha('org/ds')}/README.md") == b"current readme"
    assert fs.cat(f"datasets/org/ds@{hub.dataset_sha('org/ds', 'v1')}/README.md") == b"old readme"
    assert fs.info("datasets/org/ds@v1/README.md")["size"] == len("old readme")
    with pytest.raises(FileNotFoundError):
        fs.cat("datasets/org/ds@v2/README.md")


def test_hf_missing_file_and_repo(hub: FakeHub):
    fs = _hffs(hub)
    for missing in [
        "datasets/org/ds/nope.txt",
        "datasets/org/nope/README.md",
        "datasets/org/ds/data/nope/x",
    ]:
        with pytest.raises(FileNotFoundError):
            fs.cat(missing)
        assert not fs.exists(missing)


def test_hf_buckets(hub: FakeHub):
    fs = _hffs(hub)
    assert sorted(fs.ls("hf://buckets/org/bk", detail=False)) == [
        "buckets/org/bk/logs",
        "buckets/org/bk/top.txt",
    ]
    assert fs.find("buckets/org/bk/logs") == [
        "buckets/org/bk/logs/a.txt",
        "buckets/org/bk/logs/deep/b.bin",
    ]
    info = fs.info("buckets/org/bk/logs/deep/b.bin")
    assert (info["type"], info["size"]) == ("file", 10_240)
    assert fs.info("buckets/org/bk/logs")["type"] == "directory"
    assert fs.cat("hf://buckets/org/bk/logs/a.txt") == b"aaaa"

    hub.reset_log()
    with fs.open("buckets/org/bk/logs/deep/b.bin", block_size=256) as f:
        f.seek(1000)
        assert f.read(3) == bytes([1000 % 256, 1001 % 256, 1002 % 256])
    assert 0 < hub.bytes_served <= 512

    for missing in [
        "buckets/org/bk/nope.txt",
        "buckets/org/bk/logs/nope/x",
        "buckets/org/nope/a.txt",
    ]:
        with pytest.raises(FileNotFoundError):
            fs.cat(missing)


def test_hf_env_endpoint_without_explicit_endpoint(hub: FakeHub):
    """The fixture patches huggingface_hub.constants, so code that relies on
    HF_ENDPOINT (HfFileSystem(), fsspec "hf://" URLs) reaches the fake too."""
    import fsspec
    from huggingface_hub import HfFileSystem

    assert HfFileSystem().cat("datasets/org/ds/README.md") == b"current readme"
    with fsspec.open("hf://buckets/org/bk/top.txt", "rb") as f:
        assert f.read() == b"top"


def test_hf_api_and_download_cache(hub: FakeHub, tmp_path: Path):
    from huggingface_hub import HfApi, hf_hub_download

    api = HfApi(endpoint=hub.url, token=HF_DUMMY_TOKEN)
    assert api.dataset_info("org/ds").sha == hub.dataset_sha("org/ds")
    assert [
        p.path for p in api.get_paths_info("org/ds", ["README.md", "nope"], repo_type="dataset")
    ] == ["README.md"]
    assert sorted(f.path for f in api.list_bucket_tree("org/bk", recursive=True)) == [
        "logs/a.txt",
        "logs/deep/b.bin",
        "top.txt",
    ]
    assert [f.path for f in api.get_bucket_paths_info("org/bk", ["top.txt", "nope"])] == ["top.txt"]

    # The byte counter lets tests assert that a cached second read downloads nothing.
    hub.reset_log()
    kw = {"repo_id": "org/ds", "filename": "data/train.bin", "repo_type": "dataset"}
    kw["endpoint"] = hub.url
    path1 = hf_hub_download(**kw, cache_dir=tmp_path / "c")
    assert hub.bytes_served == 102_400
    path2 = hf_hub_download(**kw, cache_dir=tmp_path / "c")
    assert path1 == path2
    assert hub.bytes_served == 102_400


def test_hf_agent_harnesses_is_404(fake_hub: FakeHub):
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(fake_hub.url + "/api/agent-harnesses", timeout=5)
    ei.value.close()  # HTTPError holds the response socket open
    assert ei.value.code == 404


# -- fake Modal ----------------------------------------------------------------------
BIG = os.urandom(9 * 1024 * 1024 + 7)  # > 8 MiB: two blocks, the second one short


@pytest.fixture
def modal_vol(fake_modal: FakeModal) -> FakeModal:
    fake_modal.add_file("vol/a.txt", "hello")
    fake_modal.add_file("vol/runs/r1/metrics.db", BIG)
    fake_modal.add_file("vol/runs/r2/empty.db", b"")
    fake_modal.add_file("devvol/x.txt", "dev", env="dev")
    return fake_modal


def test_modal_listdir_and_read(modal_vol: FakeModal):
    import modal
    from modal.volume import FileEntryType

    vol = modal.Volume.from_name("vol")
    entries = {e.path: (e.type, e.size) for e in vol.listdir("/", recursive=True)}
    assert entries == {
        "a.txt": (FileEntryType.FILE, 5),
        "runs": (FileEntryType.DIRECTORY, 0),
        "runs/r1": (FileEntryType.DIRECTORY, 0),
        "runs/r1/metrics.db": (FileEntryType.FILE, len(BIG)),
        "runs/r2": (FileEntryType.DIRECTORY, 0),
        "runs/r2/empty.db": (FileEntryType.FILE, 0),
    }
    assert sorted(e.path for e in vol.listdir("runs")) == ["runs/r1", "runs/r2"]
    assert [e.path for e in vol.listdir("a.txt")] == ["a.txt"]  # a file path lists the file

    assert b"".join(vol.read_file("a.txt")) == b"hello"
    assert b"".join(vol.read_file("runs/r2/empty.db")) == b""
    buf = io.BytesIO()
    assert vol.read_file_into_fileobj("runs/r1/metrics.db", buf) == len(BIG)
    assert buf.getvalue() == BIG
    assert sum(1 for kind, _ in modal_vol.requests if kind == "GET block") == 3  # a.txt + 2 blocks

    dev = modal.Volume.from_name("devvol", environment_name="dev")
    assert [e.path for e in dev.listdir("/")] == ["x.txt"]


def test_modal_not_found(modal_vol: FakeModal):
    import modal
    from modal.exception import NotFoundError

    with pytest.raises(NotFoundError):
        modal.Volume.from_name("missing-vol").listdir("/")
    with pytest.raises(NotFoundError):
        modal.Volume.from_name("vol", environment_name="no-such-env").listdir("/")
    vol = modal.Volume.from_name("vol")
    with pytest.raises(NotFoundError):  # a missing folder is NOT a FileNotFoundError
        vol.listdir("no/such/dir")
    with pytest.raises(FileNotFoundError):
        b"".join(vol.read_file("missing.txt"))
    with pytest.raises(FileNotFoundError):
        vol.read_file_into_fileobj("missing.txt", io.BytesIO())


def test_modal_without_token_raises_auth_error(
    modal_vol: FakeModal, monkeypatch: pytest.MonkeyPatch
):
    import modal
    import modal.config
    from modal.exception import AuthError

    monkeypatch.delenv("MODAL_TOKEN_ID")
    monkeypatch.delenv("MODAL_TOKEN_SECRET")
    monkeypatch.setattr(modal.config, "_user_config", {})  # ~/.modal.toml was read at import
    vol = modal.Volume.from_name("vol")  # lazy: does not raise
    with pytest.raises(AuthError, match="Token missing"):
        vol.listdir("/")
    assert modal_vol.requests == []  # raised before any network traffic


# -- teardown hygiene ------------------------------------------------------------------
def test_servers_stop_cleanly(tmp_path: Path):
    from tests.servers.sshd import sshd_available, start_sshd

    with FakeHub(tmp_path / "h"), FakeModal(tmp_path / "m"):
        pass
    assert not [t for t in threading.enumerate() if t.name in ("fake-hub", "fake-modal")]
    if sshd_available():
        with start_sshd(tmp_path / "s") as info:
            pid_file = info.dir / "sshd.pid"
            assert pid_file.exists()
            pid = int(pid_file.read_text())
        assert not Path(f"/proc/{pid}").exists()
