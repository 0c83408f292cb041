"""Turn what the user typed (a path, a project name, a URL) into project files.

Everything here speaks fsspec: local paths use fsspec's LocalFileSystem, so
layout detection, companion lookup and media listing are one code path for
local disks, SSH hosts, the Hub and Modal volumes.
"""

from trackio_tool.sources._layout import (
    ProjectFiles,
    canonical_project_name,
    default_trackio_dir,
    resolve_sources,
    split_source_args,
)

__all__ = [
    "ProjectFiles",
    "canonical_project_name",
    "default_trackio_dir",
    "resolve_sources",
    "split_source_args",
]
