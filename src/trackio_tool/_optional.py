"""Import optional extras with an error that says what to install."""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType

from trackio_tool.errors import MissingDependencyError

# module -> (extra, pip package) so the hint is copy-pasteable.
_EXTRAS: dict[str, tuple[str, str]] = {
    "sshfs": ("ssh", "sshfs"),
    "asyncssh": ("ssh", "asyncssh"),
    "modal": ("modal", "modal"),
}
_PYTHON_EOL_NOTICE = r".*Python 3\.\d+ is EOL"


def import_optional(name: str, *, purpose: str) -> ModuleType:
    """Import ``name`` or raise ``MissingDependencyError`` naming the extra."""
    try:
        with warnings.catch_warnings():
            # modal warns on import under Python 3.10 that a later modal drops
            # 3.10: a second stderr line that says nothing about the command.
            warnings.filterwarnings("ignore", message=_PYTHON_EOL_NOTICE)
            return importlib.import_module(name)
    except ImportError as exc:
        extra, package = _EXTRAS.get(name.split(".")[0], (None, name))
        how = f"pip install 'trackio-tool[{extra}]'" if extra else f"pip install {package}"
        raise MissingDependencyError(
            f"{purpose} needs the optional package '{package}', which is not installed: {how}"
            " (or pipx inject trackio-tool " + package + ")"
        ) from exc
