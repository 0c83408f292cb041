"""URL sources: map a URL to an fsspec filesystem, fetch remote SQLite files, copy media.

This module is the only place that knows URL schemes:

* ``hf://`` -> ``sources.hf`` (HfFileSystem; datasets, buckets, the seed's ``hf://ORG/NAME``)
* ``ssh://`` / ``sftp://`` -> ``sources.ssh`` (sshfs with host-key checks)
* ``modal://`` -> ``sources.modal_volume`` (registered with fsspec here)
* anything else fsspec knows (``s3://``, ``gs://``, ``memory://``, ``file://``, ...)

Filesystems are opened once per process (one SSH connection per host) and
kept in a registry that ``close_all()`` empties; the CLI calls it on exit.
Scheme-specific modules are imported lazily so that ``--help`` never pays.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackio_tool.errors import (
    BadURLError,
    MissingDependencyError,
    RemoteError,
    SourceError,
    SourceNotFoundError,
    SourcePermissionError,
    TrackioToolError,
)

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from trackio_tool.sources._layout import ProjectFiles

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
ACCEPT_NEW_ENV = "TRACKIO_TOOL_SSH_ACCEPT_NEW_HOST_KEY"
MEDIA_WORKERS_ENV = "TRACKIO_TOOL_TRANSFERS"
DEFAULT_MEDIA_WORKERS = 16


# -- settings --------------------------------------------------------------------------
@dataclass
class _Settings:
    accept_new_host_key: bool | None = None  # None: from the environment


_settings = _Settings()


def configure(*, accept_new_host_key: bool | None = None) -> None:
    """Process-wide source options, set from the CLI's root options.

    ``accept_new_host_key=True`` trusts an SSH host whose key is not in
    known_hosts yet and appends the key there (OpenSSH ``accept-new``); a
    *changed* key is still refused. Default: ``$TRACKIO_TOOL_SSH_ACCEPT_NEW_HOST_KEY``.
    """
    if accept_new_host_key is not None:
        _settings.accept_new_host_key = accept_new_host_key


def _accept_new_host_key() -> bool:
    if _settings.accept_new_host_key is not None:
        return _settings.accept_new_host_key
    return os.environ.get(ACCEPT_NEW_ENV, "").strip().lower() in ("1", "true", "yes", "on")


# -- the registry of open filesystems -------------------------------------------------
_open: dict[tuple[str, ...], AbstractFileSystem] = {}
_open_lock = threading.Lock()


def _cached_fs(key: tuple[str, ...], factory: Callable[[], AbstractFileSystem]) -> Any:
    with _open_lock:
        fs = _open.get(key)
        if fs is None:
            fs = _open[key] = factory()
        return fs


def close_all() -> None:
    """Close every filesystem opened for URLs (SSH connections first of all).

    Safe to call more than once, and when nothing was opened. The CLI's
    ``main()`` calls it in ``finally``; tests call it between cases.
    """
    with _open_lock:
        items = list(_open.values())
        _open.clear()
    for fs in items:
        close = getattr(fs, "close", None)
        if callable(close):
            # Best effort: closing must never mask how the command ended.
            with contextlib.suppress(Exception):
                close()


# -- URLs -> filesystems ----------------------------------------------------------------
def is_url(spec: str) -> bool:
    return bool(_URL.match(spec))


_SECRET_QUERY = re.compile(
    r"(?i)([?&](?:token|key|secret|password|sig|signature|x-amz-[a-z-]+|access_token)=)[^&#]*"
)


def redact(spec: str) -> str:
    """``spec`` fit for messages: no ``user:password@``, no secret query values."""
    if not _URL.match(spec):
        return spec
    scheme, rest = spec.split("://", 1)
    netloc, sep, tail = rest.partition("/")
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
    return _SECRET_QUERY.sub(r"\1***", f"{scheme}://{netloc}{sep}{tail}")


def open_url(spec: str) -> tuple[AbstractFileSystem, str, str]:
    """``(filesystem, path on it, display prefix)`` for a URL.

    ``display prefix + path`` is how the file is shown to the user; it never
    carries a secret.
    """
    scheme = spec.split("://", 1)[0].lower()
    if scheme == "hf":
        return _open_hf(spec)
    if scheme in ("ssh", "sftp"):
        return _open_ssh(spec)
    if scheme == "modal":
        return _open_modal(spec)
    return _open_fsspec(spec, scheme)


def _open_hf(spec: str) -> tuple[AbstractFileSystem, str, str]:
    from trackio_tool.sources import hf

    path = hf.hf_path(spec)
    fs = _cached_fs(("hf",), hf.open_hf)
    return fs, path, "hf://"


def _open_ssh(spec: str) -> tuple[AbstractFileSystem, str, str]:
    from trackio_tool._optional import import_optional

    import_optional("sshfs", purpose="ssh:// sources")
    import_optional("asyncssh", purpose="ssh:// sources")
    from trackio_tool.sources import ssh

    url = ssh.parse_ssh_url(spec)
    key = ("ssh", url.user or "", url.host, str(url.port or ""))
    fs = _cached_fs(key, lambda: ssh.connect(url, accept_new_host_key=_accept_new_host_key()))
    path = url.path
    if url.in_home:
        try:
            home = fs.home()
        except (OSError, TrackioToolError) as exc:
            raise RemoteError(f"ssh: cannot find the home folder on {url.label}: {exc}") from exc
        path = f"{home.rstrip('/')}/{url.path}".rstrip("/") or "/"
    return fs, path, url.prefix


def register_modal() -> None:
    """Make ``modal://`` known to fsspec (``fsspec.filesystem("modal", volume=...)``)."""
    from fsspec.registry import known_implementations, register_implementation

    if "modal" not in known_implementations:
        register_implementation(
            "modal",
            "trackio_tool.sources.modal_volume.ModalVolumeFileSystem",
            errtxt="modal:// sources need the modal package: pip install 'trackio-tool[modal]'",
        )


def _open_modal(spec: str) -> tuple[AbstractFileSystem, str, str]:
    from trackio_tool._optional import import_optional

    import_optional("modal", purpose="modal:// sources")
    register_modal()
    from trackio_tool.sources.modal_volume import ModalVolumeFileSystem, split_modal_url

    volume, env, path = split_modal_url(spec)
    fs = _cached_fs(("modal", volume, env or ""), lambda: ModalVolumeFileSystem(volume, env))
    return fs, path, fs.label


def _open_fsspec(spec: str, scheme: str) -> tuple[AbstractFileSystem, str, str]:
    import fsspec.core

    try:
        fs, path = fsspec.core.url_to_fs(spec)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{scheme}:// sources need an fsspec backend that is not installed: {exc}"
        ) from exc
    except ValueError as exc:
        if "Protocol not known" in str(exc):
            raise BadURLError(f"unsupported URL scheme {scheme}:// in {spec}") from exc
        raise BadURLError(f"invalid URL {spec}: {exc}") from exc
    return fs, path, f"{scheme}://" if not path.startswith(f"{scheme}://") else ""


# -- fetching -------------------------------------------------------------------------
def fetch_sqlite(pf: ProjectFiles, *, refresh: bool = False, quiet: bool = True) -> Path:
    """A local, consistent copy of a remote ``.db`` (with its ``-wal`` rows), cached.

    ``quiet`` is accepted for compatibility; progress goes to the reporter
    installed in ``sources.progress``.
    """
    from trackio_tool.sources.cache import Snapshotter, fetch_db

    snap = getattr(pf.fs, "snapshot_sqlite", None)
    snapshot: Snapshotter | None = None
    if callable(snap):
        snapshot = functools.partial(_snapshot_with_progress, snap)

    try:
        return fetch_db(pf.fs, pf.path, url=pf.display, refresh=refresh, snapshot=snapshot)
    except TrackioToolError:
        raise
    except FileNotFoundError as exc:
        raise SourceNotFoundError(f"no such file: {pf.display}") from exc
    except PermissionError as exc:
        raise SourcePermissionError(f"permission denied: cannot read {pf.display}") from exc
    except OSError as exc:
        raise SourceError(f"could not fetch {pf.display}: {exc}") from exc


def _snapshot_with_progress(snap: Callable[..., object], remote: str, local: Path) -> bool:
    import threading as _threading

    from trackio_tool.sources._transfer import TransferCallback
    from trackio_tool.sources.progress import get_reporter

    cancel = _threading.Event()
    with get_reporter().task(f"fetching {local.name} (snapshot)", unit="bytes") as task:
        callback = TransferCallback(task, cancel, sets_total=True)
        try:
            return bool(snap(remote, local, callback=callback))
        except BaseException:
            cancel.set()
            raise


def _media_workers() -> int:
    from trackio_tool.sources._args import count_from_env

    return count_from_env(MEDIA_WORKERS_ENV, DEFAULT_MEDIA_WORKERS)


def download_files(
    fs: AbstractFileSystem,
    pairs: Sequence[tuple[str, str | os.PathLike[str]]],
    *,
    description: str = "copying media",
    workers: int | None = None,
) -> None:
    """Copy ``(path on fs, local path)`` pairs, in parallel, with one progress bar.

    For merge's media: local paths get their parent folders created; remote
    errors come out as one-line ``SourceError``s. Works for any filesystem,
    including the local one (then it is a plain parallel copy).
    """
    from trackio_tool.sources._transfer import get_files

    todo = [(src, Path(dst)) for src, dst in pairs]
    try:
        get_files(
            fs,
            todo,
            description=description,
            total=len(todo),
            unit="files",
            workers=workers or _media_workers(),
        )
    except TrackioToolError:
        raise
    except FileNotFoundError as exc:
        raise SourceNotFoundError(f"a media file vanished while copying: {exc}") from exc
    except PermissionError as exc:
        raise SourcePermissionError(f"permission denied while copying media: {exc}") from exc
    except OSError as exc:
        raise SourceError(f"could not copy media: {exc}") from exc
