"""URL sources: map a URL to an fsspec filesystem, and fetch remote SQLite files.

This module is the only place that knows URL schemes. The scheme-specific
filesystems (ssh, hf, modal) live in their own modules and are imported lazily
so that ``trackio-tool --help`` never pays for them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from trackio_tool.errors import BadURLError, SourceError, SourceNotFoundError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from trackio_tool.sources._layout import ProjectFiles

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(spec: str) -> bool:
    return bool(_URL.match(spec)) and not spec.startswith("file://")


def open_url(spec: str) -> tuple[AbstractFileSystem, str, str]:
    """``(filesystem, path on it, display prefix)`` for a URL."""
    import fsspec.core

    scheme = spec.split("://", 1)[0].lower()
    try:
        fs, path = fsspec.core.url_to_fs(spec)
    except ImportError as exc:
        raise BadURLError(
            f"cannot read {scheme}:// URLs: {exc} (install the fsspec backend for {scheme})"
        ) from exc
    except ValueError as exc:
        if "Protocol not known" in str(exc):
            raise BadURLError(f"unsupported URL scheme {scheme}:// in {spec}") from exc
        raise BadURLError(f"invalid URL {spec}: {exc}") from exc
    return fs, path, f"{scheme}://" if not path.startswith(f"{scheme}://") else ""


def fetch_sqlite(pf: ProjectFiles, *, refresh: bool = False, quiet: bool = True) -> Path:
    """Copy a remote ``.db`` (and its ``-wal``) into a local cache folder."""
    from trackio_tool.sources.cache import fetch_db

    try:
        return fetch_db(pf, refresh=refresh, quiet=quiet)
    except FileNotFoundError as exc:
        raise SourceNotFoundError(f"no such file: {pf.display}") from exc
    except OSError as exc:
        raise SourceError(f"could not fetch {pf.display}: {exc}") from exc
