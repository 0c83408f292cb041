"""hf:// against a local HTTP server speaking the Hub's API (tests/servers/fake_hub.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES
from tests.servers.fake_hub import FakeHub
from tests.sources.conftest import analyze_json, fixture_files, one_clean_line, without_source


def _upload(hub: FakeHub, prefix: str, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        hub.add_file(f"{prefix}/{rel}", data)


def _local(cli: Any, path: Path, *args: str) -> list[dict[str, Any]]:
    return without_source(analyze_json(cli, str(path), *args))


def _db_downloads(hub: FakeHub, name: str) -> int:
    return sum(1 for m, p in hub.resolve_requests() if m == "GET" and name in p)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("hf://org/ds/toyproj.db", "datasets/org/ds/toyproj.db"),
        ("hf://org/ds", "datasets/org/ds"),
        ("hf://datasets/org/ds@v1/x.db", "datasets/org/ds@v1/x.db"),
        ("hf://buckets/org/bk/trackio", "buckets/org/bk/trackio"),
        ("hf://spaces/org/sp/config.json", "spaces/org/sp/config.json"),
        ("hf://models/org/m/x", "org/m/x"),
    ],
)
def test_url_forms(url: str, path: str) -> None:
    from trackio_tool.sources.hf import hf_path

    assert hf_path(url) == path


@pytest.mark.parametrize("url", ["hf://org", "hf://datasets/org", "hf://buckets/"])
def test_bad_hf_urls(cli: Any, url: str) -> None:
    one_clean_line(cli("analyze", url), "expected hf://")


def test_seed_form_is_a_dataset(cli: Any, fake_hub: FakeHub) -> None:
    _upload(fake_hub, "datasets/org/ds", fixture_files("trackio-0.43.0"))
    data = analyze_json(cli, "hf://org/ds/toyproj.db")
    (project,) = data["projects"]
    assert project["source"] == "hf://datasets/org/ds/toyproj.db"
    assert without_source(data) == _local(cli, FIXTURES / "trackio-0.43.0" / "toyproj.db")
    assert sum(r["media_files"] for r in project["runs"]) == 4


def test_datasets_form_with_revision(cli: Any, fake_hub: FakeHub) -> None:
    _upload(fake_hub, "datasets/org/ds", fixture_files("trackio-0.43.0"))
    _upload(fake_hub, "datasets/org/ds@v1", fixture_files("trackio-0.20.2"))
    current = analyze_json(cli, "hf://datasets/org/ds/toyproj.db")
    old = analyze_json(cli, "hf://datasets/org/ds@v1/toyproj.db")
    assert old["projects"][0]["source"] == "hf://datasets/org/ds@v1/toyproj.db"
    assert without_source(current) == _local(cli, FIXTURES / "trackio-0.43.0" / "toyproj.db")
    assert without_source(old) == _local(cli, FIXTURES / "trackio-0.20.2" / "toyproj.db")
    sha = fake_hub.dataset_sha("org/ds", "v1")
    pinned = analyze_json(cli, f"hf://datasets/org/ds@{sha}/toyproj.db")
    assert without_source(pinned) == without_source(old)


def test_bucket_with_trackio_layout(cli: Any, fake_hub: FakeHub) -> None:
    # Trackio 0.21+ on Spaces: TRACKIO_DIR=/data/trackio on a mounted bucket (§8).
    _upload(
        fake_hub,
        "buckets/org/bk/trackio",
        fixture_files("trackio-0.43.0", only=lambda p: not p.name.startswith("toyproj-edge")),
    )
    data = analyze_json(cli, "hf://buckets/org/bk")
    (project,) = data["projects"]
    assert project["source"] == "hf://buckets/org/bk/trackio/toyproj.db"
    assert without_source(data) == _local(cli, FIXTURES / "trackio-0.43.0" / "toyproj.db")


def test_static_layout(cli: Any, fake_hub: FakeHub) -> None:
    _upload(fake_hub, "buckets/org/static", fixture_files("trackio-0.43.0-static/toyproj"))
    _upload(fake_hub, "datasets/org/static", fixture_files("trackio-0.20.2-static/toyproj"))
    bucket = analyze_json(cli, "hf://buckets/org/static")
    dataset = analyze_json(cli, "hf://datasets/org/static/metrics.parquet")
    assert bucket["projects"][0]["kind"] == dataset["projects"][0]["kind"] == "static"
    # A static export's project is named after its folder; compare the rest.
    for data, fixture in ((bucket, "trackio-0.43.0-static"), (dataset, "trackio-0.20.2-static")):
        (got,) = without_source(data)
        (want,) = _local(cli, FIXTURES / fixture / "toyproj")
        assert {**got, "project": "-"} == {**want, "project": "-"}


def test_parquet_with_companions(cli: Any, fake_hub: FakeHub) -> None:
    _upload(
        fake_hub,
        "datasets/org/pq",
        fixture_files("trackio-0.43.0", only=lambda p: p.suffix != ".db"),
    )
    data = analyze_json(cli, "hf://datasets/org/pq/toyproj.parquet")
    assert without_source(data) == _local(cli, FIXTURES / "trackio-0.43.0" / "toyproj.parquet")


def test_live_wal_db(cli: Any, fake_hub: FakeHub) -> None:
    _upload(fake_hub, "datasets/org/wal", fixture_files("trackio-0.43.0-wal-snapshot"))
    data = analyze_json(cli, "hf://datasets/org/wal/walproj.db")
    assert data["projects"][0]["total_rows"] == 40  # 1 in .db + 39 only in -wal


def test_cache_second_command_downloads_nothing(cli: Any, fake_hub: FakeHub) -> None:
    _upload(fake_hub, "buckets/org/bk/trackio", fixture_files("trackio-0.20.2"))
    url = "hf://buckets/org/bk/trackio/toyproj.db"
    fake_hub.reset_log()
    first = analyze_json(cli, url, "--no-media")
    assert _db_downloads(fake_hub, "toyproj.db") == 1
    fake_hub.reset_log()
    assert analyze_json(cli, url, "--no-media") == first
    assert fake_hub.bytes_served == 0  # validated by the bucket's xet hash + mtime
    analyze_json(cli, url, "--no-media", "--refresh")
    assert _db_downloads(fake_hub, "toyproj.db") == 1
    # New content under the same name (a new commit / upload) is fetched again.
    fake_hub.add_file(
        "buckets/org/bk/trackio/toyproj.db",
        (FIXTURES / "trackio-0.43.0" / "toyproj.db").read_bytes(),
    )
    fake_hub.reset_log()
    from trackio_tool.sources import remote

    remote.close_all()  # HfFileSystem caches listings for the life of an instance
    changed = analyze_json(cli, url, "--no-media")
    assert _db_downloads(fake_hub, "toyproj.db") == 1
    assert without_source(changed) == _local(
        cli, FIXTURES / "trackio-0.43.0" / "toyproj.db", "--no-media"
    )


def test_missing_things(cli: Any, fake_hub: FakeHub) -> None:
    _upload(fake_hub, "datasets/org/ds", fixture_files("trackio-0.43.0"))
    fake_hub.add_file("buckets/org/bk/x.txt", "x")
    one_clean_line(
        cli("analyze", "hf://datasets/org/ds/nope.db"),
        "no such file or directory: hf://datasets/org/ds/nope.db",
    )
    one_clean_line(
        cli("analyze", "hf://org/nope/toyproj.db"),
        "hf: no such repository datasets/org/nope",
        "hf auth login",
    )
    one_clean_line(cli("analyze", "hf://buckets/org/nope"), "hf: no such bucket buckets/org/nope")
    one_clean_line(
        cli("analyze", "hf://datasets/org/ds@v9/toyproj.db"),
        "hf: no revision 'v9' in datasets/org/ds",
    )


def test_unreachable_hub(cli: Any, fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from huggingface_hub import constants

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setattr(constants, "ENDPOINT", dead)
    line = one_clean_line(cli("analyze", "hf://org/ds/toyproj.db"), f"hf: cannot reach {dead}")
    assert "hf_dummy_token_for_tests" not in line


def test_forbidden_is_permission_denied() -> None:
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    from trackio_tool.errors import SourcePermissionError
    from trackio_tool.sources.hf import _translated

    request = httpx2.Request("GET", "https://hub.example/api/datasets/org/ds")
    err = HfHubHTTPError("403 Forbidden", response=httpx2.Response(403, request=request))
    better = _translated(err, "datasets/org/ds/x.db")
    assert isinstance(better, SourcePermissionError)
    assert "access to datasets/org/ds denied (HTTP 403" in str(better)


def test_gated_repo_says_so() -> None:
    """Found by the remote fault test: a gated dataset (HTTP 403, X-Error-Code GatedRepo,
    which huggingface_hub raises as a RepositoryNotFoundError subclass) read "no such
    repository"."""
    import httpx2
    from huggingface_hub.errors import GatedRepoError

    from trackio_tool.errors import SourcePermissionError
    from trackio_tool.sources.hf import _translated

    request = httpx2.Request("GET", "https://hub.example/api/datasets/org/ds")
    gated = GatedRepoError("403 gated", response=httpx2.Response(403, request=request))
    err = FileNotFoundError("datasets/org/ds/x.db")  # as HfFileSystem re-raises it
    err.__cause__ = gated
    better = _translated(err, "datasets/org/ds/x.db")
    assert isinstance(better, SourcePermissionError)
    assert str(better).startswith("hf: datasets/org/ds is gated: accept its conditions")
