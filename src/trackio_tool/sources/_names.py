"""Where Trackio keeps a project by name: stdlib only, so shell completion can use it."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
INBOX_DIR = "inbox"
"""Trackio's JSONL inbox, beside the projects of a TRACKIO_DIR (0.28+, ``store.inbox``)."""


def canonical_project_name(name: str) -> str:
    """Trackio's file stem for a project name (``canonical_project_name``, 0.30+)."""
    return _UNSAFE.sub("", name.rstrip()) or "default"


def raw_name_folders(folders: Iterable[str], project: str) -> list[str]:
    """Those of ``folders`` (names of sibling media folders) that Trackio <= 0.29 named
    after ``project``'s raw name: ``init(project="my.proj")`` writes ``myproj.db`` but
    put its media in ``media/my.proj/`` (0.30+: ``media/myproj/``)."""
    return sorted(f for f in folders if f != project and canonical_project_name(f) == project)


def default_trackio_dir() -> Path:
    """``$TRACKIO_DIR``, else ``$HF_HOME/trackio``, else ``~/.cache/huggingface/trackio``."""
    if env := os.environ.get("TRACKIO_DIR"):
        return Path(os.path.expanduser(env))
    hf_home = os.environ.get("HF_HOME")
    base = Path(os.path.expanduser(hf_home)) if hf_home else Path.home() / ".cache" / "huggingface"
    return base / "trackio"
