"""``modal://VOLUME[@ENV]/path``: a read-only fsspec filesystem over a Modal volume.

No fsspec backend for Modal exists (DEPENDENCIES.md §5), so this is a thin
``AbstractFileSystem`` over the ``modal`` client's public Volume API
(``listdir``, ``read_file``, and ``read_file_into_fileobj``, which downloads
8 MiB blocks in parallel). Paths are absolute inside the volume (``/runs/x.db``).

Two client behaviours shape it:

* with credentials but no reachable server the client retries for about a
  minute, so every metadata call is bounded (``TRACKIO_TOOL_MODAL_TIMEOUT``);
* a missing folder in ``listdir`` is ``modal.exception.NotFoundError``, not
  ``FileNotFoundError``; both become ``FileNotFoundError`` here, and every
  other client error a one-line ``SourceError``.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from fsspec import AbstractFileSystem
from fsspec.utils import stringify_path

from trackio_tool.errors import (
    BadURLError,
    RemoteError,
    SourceNotFoundError,
    SourcePermissionError,
)
from trackio_tool.sources._args import seconds_from_env

T = TypeVar("T")

TIMEOUT_ENV = "TRACKIO_TOOL_MODAL_TIMEOUT"
DEFAULT_TIMEOUT_S = 20.0


def _default_timeout() -> float:
    return seconds_from_env(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)


def split_modal_url(spec: str) -> tuple[str, str | None, str]:
    """``modal://VOLUME[@ENV]/path`` -> (volume, environment or None, /path)."""
    rest = spec.split("://", 1)[1] if "://" in spec else spec
    netloc, _, path = rest.partition("/")
    volume, _, env = netloc.partition("@")
    if not volume:
        raise BadURLError(f"no volume in {spec}; expected modal://VOLUME[@ENV]/path")
    return volume, env or None, "/" + path.strip("/")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].split(". ")[0].rstrip(".") if text else type(exc).__name__


class ModalVolumeFileSystem(AbstractFileSystem):
    """Read-only access to one Modal volume (in one environment)."""

    protocol = "modal"
    root_marker = "/"
    # Instances hold a client-bound Volume handle; sources.remote keeps one per
    # volume for a command, fsspec should not keep them across clients.
    cachable = False

    def __init__(
        self,
        volume: str,
        environment: str | None = None,
        *,
        timeout: float | None = None,
        **storage_options: Any,
    ) -> None:
        super().__init__(**storage_options)
        self.volume_name = volume
        self.environment = environment
        self.timeout = timeout if timeout is not None else _default_timeout()
        self._vol: Any = None
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return f"modal://{self.volume_name}" + (f"@{self.environment}" if self.environment else "")

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        text = stringify_path(path)
        if text.startswith("modal://"):
            return split_modal_url(text)[2]
        return "/" + text.strip("/")

    @staticmethod
    def _get_kwargs_from_urls(path: str) -> dict[str, Any]:
        volume, env, _ = split_modal_url(path)
        return {"volume": volume, "environment": env}

    def unstrip_protocol(self, name: str) -> str:
        return self.label + self._strip_protocol(name)

    # -- calling the client ------------------------------------------------------
    def _call(self, make: Callable[[], Awaitable[T]], *, bounded: bool = True) -> T:
        """Run one async client call to completion, within ``timeout`` if bounded."""

        async def run() -> T:
            if bounded:
                return await asyncio.wait_for(make(), self.timeout)
            return await make()

        try:
            return asyncio.run(run())
        except (FileNotFoundError, SourceNotFoundError):
            raise
        except Exception as exc:
            raise self._translate(exc) from exc

    def _translate(self, exc: Exception) -> Exception:
        from modal import exception as mex

        if isinstance(exc, (asyncio.TimeoutError, TimeoutError, mex.ConnectionError)):
            from modal.config import config

            server = config.get("server_url")
            return RemoteError(
                f"modal: cannot reach the Modal server ({server}) within {self.timeout:g} s"
                f" (set {TIMEOUT_ENV} to wait longer)"
            )
        if isinstance(exc, mex.AuthError):
            return SourcePermissionError(
                f"modal: not authenticated ({_first_line(exc)}); run `modal token new`, or set"
                " MODAL_TOKEN_ID and MODAL_TOKEN_SECRET"
            )
        if isinstance(exc, mex.PermissionDeniedError):
            return SourcePermissionError(
                f"modal: permission denied on {self.label}: {_first_line(exc)}"
            )
        if isinstance(exc, mex.NotFoundError):
            return FileNotFoundError(_first_line(exc))
        if isinstance(exc, mex.InvalidError):
            return BadURLError(f"modal: {_first_line(exc)}")
        if isinstance(exc, mex.Error):
            return RemoteError(f"modal: {_first_line(exc)}")
        return exc

    def _volume(self) -> Any:
        """The hydrated Volume handle; the first call is the one that may time out."""
        with self._lock:
            if self._vol is None:
                import modal
                from modal import exception as mex

                try:
                    vol = modal.Volume.from_name(
                        self.volume_name, environment_name=self.environment
                    )
                except mex.InvalidError as exc:
                    raise BadURLError(f"modal: {_first_line(exc)}") from exc
                try:
                    self._call(lambda: vol.hydrate.aio())
                except FileNotFoundError as exc:
                    raise SourceNotFoundError(
                        f"modal: no such volume {self.label} ({exc})"
                    ) from exc
                self._vol = vol
            return self._vol

    # -- listings ----------------------------------------------------------------
    def _entry(self, entry: Any) -> dict[str, Any]:
        from modal.types import FileEntryType

        kind = {
            FileEntryType.FILE: "file",
            FileEntryType.DIRECTORY: "directory",
            FileEntryType.SYMLINK: "link",
        }.get(entry.type, "other")
        return {
            "name": "/" + str(entry.path).strip("/"),
            "type": kind,
            "size": int(entry.size) if kind == "file" else 0,
            "mtime": int(entry.mtime),
        }

    def _listdir(self, path: str, *, recursive: bool = False) -> list[dict[str, Any]]:
        vol = self._volume()
        try:
            entries = self._call(lambda: vol.listdir.aio(path, recursive=recursive))
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"no such file or directory: {self.label}{path}") from exc
        return [self._entry(e) for e in entries]

    def _is_the_file(self, path: str, entries: list[dict[str, Any]]) -> bool:
        # listdir of a file path lists just that file.
        return (
            len(entries) == 1 and entries[0]["name"] == path and entries[0]["type"] != "directory"
        )

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        entries = self.dircache.get(path)
        if entries is None:
            entries = self._listdir(path)
            if not self._is_the_file(path, entries):
                self.dircache[path] = entries
        return entries if detail else [e["name"] for e in entries]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        if path == "/":
            self._volume()
            return {"name": "/", "type": "directory", "size": 0}
        parent = self._parent(path) or "/"
        listed = self.dircache.get(parent)
        if listed is not None:
            for entry in listed:
                if entry["name"] == path:
                    return entry
            raise FileNotFoundError(f"no such file or directory: {self.label}{path}")
        entries = self._listdir(path)
        if self._is_the_file(path, entries):
            return entries[0]
        self.dircache[path] = entries
        return {"name": path, "type": "directory", "size": 0}

    def find(
        self,
        path: str,
        maxdepth: int | None = None,
        withdirs: bool = False,
        detail: bool = False,
        **kwargs: Any,
    ) -> Any:
        """One recursive listing, whatever the depth of the tree."""
        path = self._strip_protocol(path)
        try:
            entries = self._listdir(path, recursive=True)
        except FileNotFoundError:
            entries = []
        base = path.rstrip("/").count("/")
        out = {
            e["name"]: e
            for e in entries
            if (withdirs or e["type"] != "directory")
            and (maxdepth is None or e["name"].count("/") - base <= maxdepth)
        }
        names = sorted(out)
        return {n: out[n] for n in names} if detail else names

    # -- reading -----------------------------------------------------------------
    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        path = self._strip_protocol(path)
        vol = self._volume()

        async def read() -> bytes:
            return b"".join([chunk async for chunk in vol.read_file.aio(path)])

        try:
            data = self._call(read, bounded=False)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"no such file: {self.label}{path}") from exc
        return data[start:end] if start is not None or end is not None else data

    def get_file(
        self,
        rpath: str,
        lpath: Any = None,
        callback: Any = None,
        outfile: Any = None,
        **kwargs: Any,
    ) -> None:
        if lpath is None:
            raise ValueError("get_file needs a local path")
        path = self._strip_protocol(rpath)
        vol = self._volume()
        if callback is not None:
            callback.set_size(self.info(path).get("size"))

        def progress(*args: Any, advance: int = 0, **kw: Any) -> None:
            if callback is not None and advance:
                callback.relative_update(advance)

        local = Path(lpath)
        try:
            with local.open("wb") as fh:
                self._call(
                    lambda: vol.read_file_into_fileobj.aio(path, fh, progress_cb=progress),
                    bounded=False,
                )
        except BaseException:
            local.unlink(missing_ok=True)
            raise

    def _open(  # type: ignore[override]  # a BytesIO, not an AbstractBufferedFile
        self,
        path: str,
        mode: str = "rb",
        block_size: Any = None,
        autocommit: bool = True,
        cache_options: Any = None,
        **kwargs: Any,
    ) -> io.BytesIO:
        if mode not in ("rb", "r"):
            raise PermissionError(f"{self.label} is opened read-only")
        # No ranged reads in the public Volume API: read the whole file once.
        return io.BytesIO(self.cat_file(path))
