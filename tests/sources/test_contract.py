"""The contract every source passes (fsspec ``tests/abstract`` style).

The same Trackio files, put on each backend, must give the same
``analyze --json`` (all but the ``source`` field) as the local files, and
``merge --from`` each must copy the same rows and the same media.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, tree_digest
from tests.sources.conftest import analyze_json, fixture_files, without_source, write_tree

BACKENDS = ["local", "memory", "ssh", "hf", "modal"]
# (fixture folder, what to pass inside it)
CASES = [
    ("trackio-0.43.0", "toyproj.db"),
    ("trackio-0.20.2", "toyproj.db"),
    ("trackio-0.2.9", "toyproj.db"),
    ("trackio-0.43.0", "toyproj.parquet"),
    ("trackio-0.20.2-then-0.43.0", "toyproj.parquet"),
    ("trackio-0.43.0-static", "toyproj"),
    ("trackio-0.43.0-wal-snapshot", "walproj.db"),
    ("trackio-0.43.0", ""),  # a whole Trackio directory
    ("trackio-0.43.0-inbox", ""),  # one project partly, one only in the JSONL inbox
    ("trackio-0.43.0-inbox", "mixed.db"),
    ("trackio-0.4.1-dotted", "myproj.db"),  # media under the raw name, media/my.proj/
]
MERGE_CASES = [
    ("trackio-0.43.0", "toyproj.db"),
    ("trackio-0.20.2-then-0.43.0", "toyproj.parquet"),
    ("trackio-0.43.0-static", "toyproj"),
    ("trackio-0.43.0-inbox", "mixed.db"),
    ("trackio-0.4.1-dotted", "myproj.db"),
]

Place = Callable[[str], str]


@pytest.fixture(params=BACKENDS)
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Place]:
    """``place(fixture) -> base URL`` of a copy of that fixture folder on the backend."""
    backend = request.param
    token = uuid.uuid4().hex[:8]
    cleanup: list[Callable[[], None]] = []

    def put(fixture: str) -> str:
        files = fixture_files(fixture)
        if backend == "local":
            return str(write_tree(tmp_path / "local" / fixture, files))
        if backend == "memory":
            import fsspec

            mem = fsspec.filesystem("memory")
            root = f"/contract-{token}/{fixture}"
            for rel, data in files.items():
                mem.pipe_file(f"{root}/{rel}", data)
            cleanup.append(lambda: mem.rm(f"/contract-{token}", recursive=True))
            return f"memory://{root}"
        if backend == "ssh":
            sshd = request.getfixturevalue("sshd_server")
            request.getfixturevalue("ssh_home")
            root = sshd.root / token / fixture
            write_tree(root, files)
            cleanup.append(lambda: shutil.rmtree(sshd.root / token, ignore_errors=True))
            return f"ssh://trk{root}"
        if backend == "hf":
            hub = request.getfixturevalue("fake_hub")
            for rel, data in files.items():
                hub.add_file(f"datasets/org/{fixture}/{rel}", data)
            return f"hf://datasets/org/{fixture}"
        server = request.getfixturevalue("fake_modal")
        for rel, data in files.items():
            server.add_file(f"vol/{fixture}/{rel}", data)
        return f"modal://vol/{fixture}"

    yield put
    for undo in cleanup:
        undo()


def _join(base: str, rel: str) -> str:
    return f"{base}/{rel}" if rel else base


@pytest.mark.parametrize(("fixture", "rel"), CASES, ids=[f"{f}/{r}" for f, r in CASES])
def test_analyze_is_the_same_everywhere(cli: Any, place: Place, fixture: str, rel: str) -> None:
    expected = without_source(analyze_json(cli, str(FIXTURES / fixture / rel)))
    url = _join(place(fixture), rel)
    data = analyze_json(cli, url)
    assert without_source(data) == expected
    assert all(p["source"].startswith(url) for p in data["projects"])


def _merged(cli: Any, source: str, into: Path) -> tuple[list[dict[str, Any]], dict[str, str]]:
    result = cli("merge", "--from", source, "--into", str(into), "--json")
    assert result.exit_code == 0, result.stderr
    media = into.parent / "media"
    return without_source(analyze_json(cli, str(into))), tree_digest(
        media
    ) if media.exists() else {}


@pytest.mark.parametrize(("fixture", "rel"), MERGE_CASES, ids=[f"{f}/{r}" for f, r in MERGE_CASES])
def test_merge_copies_the_same_rows_and_media(
    cli: Any, place: Place, tmp_path: Path, fixture: str, rel: str
) -> None:
    want_db, want_media = _merged(
        cli, str(FIXTURES / fixture / rel), tmp_path / "expected" / "merged.db"
    )
    got_db, got_media = _merged(cli, _join(place(fixture), rel), tmp_path / "got" / "merged.db")
    if fixture == "trackio-0.4.1-dotted":  # no run ids there: each merge makes new ones
        for data in (want_db, got_db):
            for run in data[0]["runs"]:
                assert len(run.pop("id")) == 32
    assert got_db == want_db
    assert got_media == want_media
    # media did get copied (these two have none)
    assert want_media or fixture in ("trackio-0.20.2-then-0.43.0", "trackio-0.43.0-inbox")
    if fixture == "trackio-0.43.0-inbox":
        assert got_db[0]["total_rows"] == 9  # the 5 rows still in the inbox came along


def test_parallel_media_downloads(place: Place, tmp_path: Path) -> None:
    """``sources.download_files`` (merge's media copy) fetches the same bytes from each."""
    from trackio_tool.sources import download_files
    from trackio_tool.sources.remote import open_url

    base = place("trackio-0.43.0")
    if "://" in base:
        fs, root, _ = open_url(base)
    else:
        fs, root = fsspec_local(), base
    media = f"{root.rstrip('/')}/media/toyproj"
    found = fs.find(media)
    assert len(found) == 4
    out = tmp_path / "out"
    download_files(fs, [(p, out / p[len(media) + 1 :]) for p in found], workers=4)
    assert tree_digest(out) == tree_digest(FIXTURES / "trackio-0.43.0" / "media" / "toyproj")


def fsspec_local() -> Any:
    from fsspec.implementations.local import LocalFileSystem

    return LocalFileSystem()
