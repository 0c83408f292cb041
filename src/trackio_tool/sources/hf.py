"""``hf://`` sources: Hugging Face datasets and buckets through ``HfFileSystem``.

URL forms (TRACKIO_FORMATS.md §8):

* ``hf://ORG/NAME/path``: the seed script's form, a dataset repo;
* ``hf://datasets/ORG/NAME[@REV]/path``, ``hf://buckets/ORG/NAME/path``
  (Trackio 0.21+ keeps ``trackio/<project>.db`` and ``trackio/media/`` there),
  and ``hf://spaces/...``, ``hf://models/...`` as fsspec spells them.

Every read goes through ``HfFileSystem``, which honours ``HF_ENDPOINT`` and the
token from ``HF_TOKEN`` / ``hf auth login`` (polars' own hf:// reader would
not: it always talks to huggingface.co). Hub errors become one-line
``SourceError``s here, at the edge.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from huggingface_hub import HfFileSystem

from trackio_tool.errors import (
    BadURLError,
    RemoteError,
    SourceNotFoundError,
    SourcePermissionError,
    TrackioToolError,
)

F = TypeVar("F", bound=Callable[..., Any])

_REPO_TYPES = ("datasets", "buckets", "spaces", "models")
_LOGIN_HINT = "if it is private, log in with `hf auth login` or set HF_TOKEN"


def hf_path(spec: str) -> str:
    """The ``HfFileSystem`` path for an ``hf://`` URL (seed form = a dataset)."""
    rest = spec.split("://", 1)[1].strip("/")
    parts = rest.split("/")
    if parts[0] in _REPO_TYPES:
        if len(parts) < 3 or not parts[1] or not parts[2]:
            raise BadURLError(f"expected hf://{parts[0]}/ORG/NAME[/path], got {spec}")
        # Model repos carry no prefix in HfFileSystem paths.
        return "/".join(parts[1:]) if parts[0] == "models" else rest
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise BadURLError(
            f"expected hf://ORG/NAME/path (a dataset), hf://datasets/ORG/NAME[@REV]/path"
            f" or hf://buckets/ORG/NAME/path, got {spec}"
        )
    return f"datasets/{rest}"


def _endpoint() -> str:
    from huggingface_hub import constants

    return str(constants.ENDPOINT)


def _repo_of(path: str) -> str:
    parts = path.split("/")
    return "/".join(parts[:3]) if parts[0] in _REPO_TYPES else "/".join(parts[:2])


def _translated(exc: BaseException, path: str) -> BaseException | None:
    """A one-line SourceError for a Hub failure, or None to let it through."""
    from huggingface_hub import errors

    cause = exc.__cause__
    if isinstance(exc, FileNotFoundError):
        repo = _repo_of(path).split("@", 1)[0]
        if isinstance(cause, errors.GatedRepoError):  # (a RepositoryNotFoundError too)
            return SourcePermissionError(
                f"hf: {repo} is gated: accept its conditions on its Hub page, then log in"
                " with `hf auth login` or set HF_TOKEN"
            )
        if isinstance(cause, errors.RepositoryNotFoundError):
            return SourceNotFoundError(f"hf: no such repository {repo} ({_LOGIN_HINT})")
        if isinstance(cause, errors.BucketNotFoundError):
            return SourceNotFoundError(f"hf: no such bucket {repo} ({_LOGIN_HINT})")
        if isinstance(cause, errors.RevisionNotFoundError):
            rev = _repo_of(path).split("@", 1)[1] if "@" in _repo_of(path) else "?"
            return SourceNotFoundError(f"hf: no revision {rev!r} in {repo}")
        return None  # a missing file in an existing repo: callers handle it
    if isinstance(exc, errors.OfflineModeIsEnabled):
        return RemoteError("hf: HF_HUB_OFFLINE is set, so the Hub cannot be read")
    if isinstance(exc, errors.HfHubHTTPError):
        status = getattr(exc.response, "status_code", None)
        if status in (401, 403):
            return SourcePermissionError(
                f"hf: access to {_repo_of(path)} denied (HTTP {status}; {_LOGIN_HINT},"
                " with a token that may read it)"
            )
        return RemoteError(f"hf: the Hub answered HTTP {status} for {_repo_of(path)}")
    names = {c.__name__ for c in type(exc).__mro__}
    if names & {"TransportError", "ConnectionError", "TimeoutException"}:
        # httpx (huggingface_hub >= 1) / requests (older): no route, refused, timeout.
        return RemoteError(f"hf: cannot reach {_endpoint()}: {exc}")
    return None


def _translate(method: F) -> F:
    @functools.wraps(method)
    def wrapper(self: HfFileSystem, path: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, path, *args, **kwargs)
        except TrackioToolError:
            raise
        except Exception as exc:
            better = _translated(exc, str(self._strip_protocol(str(path))))
            if better is None:
                raise
            raise better from exc

    return cast("F", wrapper)


class TrackioHfFileSystem(HfFileSystem):
    """``HfFileSystem`` whose errors are the tool's one-line ``SourceError``s."""

    ls = _translate(HfFileSystem.ls)
    info = _translate(HfFileSystem.info)
    find = _translate(HfFileSystem.find)
    cat_file = _translate(HfFileSystem.cat_file)
    get_file = _translate(HfFileSystem.get_file)
    _open = _translate(HfFileSystem._open)


def open_hf() -> TrackioHfFileSystem:
    # Token and endpoint come from huggingface_hub's usual places (HF_TOKEN,
    # the stored login, HF_ENDPOINT); nothing secret passes through here.
    # huggingface_hub retries a failing download 5 times and logs two warning lines
    # per retry: the outcome is the command's one line (or its result), not those.
    import logging

    for name in ("huggingface_hub.utils._http", "huggingface_hub.hf_api"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return TrackioHfFileSystem(skip_instance_cache=True)
