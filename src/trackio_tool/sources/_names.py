"""Where Trackio keeps a project by name: stdlib only, so shell completion can use it."""

from __future__ import annotations

import os
import re
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
INBOX_DIR = "inbox"
"""Trackio's JSONL inbox, beside the projects of a TRACKIO_DIR (0.28+, ``store.inbox``)."""


def canonical_project_name(name: str) -> str:
    """Trackio's file stem for a project name (``canonical_project_name``, 0.30+)."""
    return _UNSAFE.sub("", name.rstrip()) or "default"


def default_trackio_dir() -> Path:
    """``$TRACKIO_DIR``, else ``$HF_HOME/trackio``, else ``~/.cache/huggingface/trackio``."""
    if env := os.environ.get("TRACKIO_DIR"):
        return Path(env).expanduser()
    hf_home = os.environ.get("HF_HOME")
    base = Path(hf_home).expanduser() if hf_home else Path.home() / ".cache" / "huggingface"
    return base / "trackio"
