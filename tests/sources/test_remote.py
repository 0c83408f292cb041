"""URL dispatch, optional extras, other fsspec schemes, redaction, the connection registry."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from tests.conftest import FIXTURES
from tests.sources.conftest import analyze_json, one_clean_line, without_source
from trackio_tool.sources import remote


def test_file_urls_are_local_files(cli: Any) -> None:
    path = FIXTURES / "trackio-0.43.0" / "toyproj.db"
    data = analyze_json(cli, f"file://{path}")
    assert data["projects"][0]["source"] == f"file://{path}"
    assert without_source(data) == without_source(analyze_json(cli, str(path)))


@pytest.mark.parametrize(("url", "package"), [("s3://bucket/x.db", "s3fs"), ("gs://b/x", "gcsfs")])
def test_fsspec_scheme_without_its_backend(
    cli: Any, monkeypatch: pytest.MonkeyPatch, url: str, package: str
) -> None:
    monkeypatch.setitem(sys.modules, package, None)  # as if not installed
    one_clean_line(cli("analyze", url), "sources need an fsspec backend that is not installed")


def test_unknown_scheme(cli: Any) -> None:
    one_clean_line(cli("analyze", "nosuch://x/y.db"), "unsupported URL scheme nosuch://")


@pytest.mark.parametrize(
    ("module", "url", "extra"),
    [
        ("sshfs", "ssh://host/x.db", "trackio-tool[ssh]"),
        ("asyncssh", "ssh://host/x.db", "trackio-tool[ssh]"),
        ("modal", "modal://vol/x.db", "trackio-tool[modal]"),
    ],
)
def test_missing_extra_names_what_to_install(
    cli: Any, monkeypatch: pytest.MonkeyPatch, module: str, url: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    one_clean_line(cli("analyze", url), f"pip install '{extra}'")


@pytest.mark.parametrize(
    ("spec", "shown"),
    [
        ("s3://AKIA:s3cr3t@bucket/x.db", "s3://AKIA:***@bucket/x.db"),
        ("https://h/x.db?token=abc&v=1", "https://h/x.db?token=***&v=1"),
        ("https://h/x.db?X-Amz-Signature=abc", "https://h/x.db?X-Amz-Signature=***"),
        ("ssh://me@host/x.db", "ssh://me@host/x.db"),
        ("/local/path", "/local/path"),
    ],
)
def test_redact(spec: str, shown: str) -> None:
    assert remote.redact(spec) == shown


def test_registry_reuses_and_closes() -> None:
    made: list[int] = []

    class Closable:
        closed = False

        def close(self) -> None:
            self.closed = True

    def factory() -> Any:
        made.append(1)
        return Closable()

    a = remote._cached_fs(("test", "x"), factory)
    assert remote._cached_fs(("test", "x"), factory) is a
    assert len(made) == 1
    remote.close_all()
    assert a.closed
    remote.close_all()  # idempotent
    assert remote._cached_fs(("test", "x"), factory) is not a


def test_configure_overrides_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKIO_TOOL_SSH_ACCEPT_NEW_HOST_KEY", "1")
    assert remote._accept_new_host_key()
    remote.configure(accept_new_host_key=False)
    assert not remote._accept_new_host_key()
    remote.configure()  # None: leaves the setting alone
    assert not remote._accept_new_host_key()


def test_help_does_not_import_remote_backends() -> None:
    import subprocess

    code = (
        "import sys\n"
        "from trackio_tool.sources import remote\n"
        "remote.configure(accept_new_host_key=True); remote.close_all()\n"
        "heavy = {m.split('.')[0] for m in sys.modules} & "
        "{'fsspec', 'sshfs', 'asyncssh', 'modal', 'huggingface_hub', 'rich', 'polars'}\n"
        "print(sorted(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_connection_reset_while_reading_a_remote_parquet_says_so() -> None:
    """Over SSH a lost link surfaces as asyncssh's ConnectionLost or, depending on timing,
    as the socket's ConnectionResetError: both read as a failed connection worth retrying."""
    from fsspec.implementations.memory import MemoryFile, MemoryFileSystem

    from trackio_tool.errors import SourceError
    from trackio_tool.sources._layout import ProjectFiles
    from trackio_tool.store.parquet import read_parquet_file

    class ResetFile(MemoryFile):
        def read(self, *args: Any) -> bytes:
            raise ConnectionResetError(104, "Connection reset by peer")

    class ResetFS(MemoryFileSystem):
        def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
            return ResetFile(self, path, b"PAR1")

    fs = ResetFS()
    pf = ProjectFiles(
        project="p",
        kind="parquet",
        fs=fs,
        path="/r/p.parquet",
        source="ssh://host/r/p.parquet",
        media_dir=None,
        url_prefix="ssh://host",
    )
    with pytest.raises(SourceError) as info:
        read_parquet_file(pf, "/r/p.parquet", what="metrics")
    assert str(info.value) == (
        "could not read ssh://host/r/p.parquet: the connection to the remote source failed"
        " (ConnectionResetError: [Errno 104] Connection reset by peer); try again"
    )
