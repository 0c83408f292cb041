"""Turn what the user typed (a path, a project name, a URL) into project files.

Everything here speaks fsspec: local paths use fsspec's LocalFileSystem, so
layout detection, companion lookup and media listing are one code path for
local disks, SSH hosts, the Hub and Modal volumes.

Attributes are imported lazily (as in ``store``): the CLI's start-up may call
``sources.remote.configure``/``close_all`` without importing fsspec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trackio_tool.sources._args import split_source_args
    from trackio_tool.sources._layout import ProjectFiles, resolve_sources
    from trackio_tool.sources._names import canonical_project_name, default_trackio_dir
    from trackio_tool.sources.remote import close_all, configure, download_files

__all__ = [
    "ProjectFiles",
    "canonical_project_name",
    "close_all",
    "configure",
    "default_trackio_dir",
    "download_files",
    "resolve_sources",
    "split_source_args",
]

_HOMES = {
    "ProjectFiles": "trackio_tool.sources._layout",
    "canonical_project_name": "trackio_tool.sources._names",
    "default_trackio_dir": "trackio_tool.sources._names",
    "resolve_sources": "trackio_tool.sources._layout",
    "split_source_args": "trackio_tool.sources._args",
    "close_all": "trackio_tool.sources.remote",
    "configure": "trackio_tool.sources.remote",
    "download_files": "trackio_tool.sources.remote",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'trackio_tool.sources' has no attribute {name!r}")
