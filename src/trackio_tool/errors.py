"""Every error the tool knows how to explain in one line.

The CLI's single error boundary (``cli.main``) prints ``str(error)`` of any
``TrackioToolError`` on stderr and exits 1 (2 for a ``UsageError``), so messages
must be complete, actionable sentences. Builtins are mixed in where callers may
reasonably catch them (e.g. ``FileNotFoundError``), as huggingface_hub's errors do.
"""

from __future__ import annotations


class TrackioToolError(Exception):
    """Root of every error the CLI reports without a traceback."""


class UsageError(TrackioToolError, ValueError):
    """An option's value cannot mean anything: one line too, but exit 2 like Typer's
    own usage errors."""


class SourceError(TrackioToolError):
    """A SOURCE string could not be turned into readable project files."""


class SourceNotFoundError(SourceError, FileNotFoundError):
    """The file, folder, repo, volume or host path does not exist."""


class SourcePermissionError(SourceError, PermissionError):
    """The source exists but we may not read (or write) it."""


class BadURLError(SourceError, ValueError):
    """A URL we cannot parse or whose scheme we do not support."""


class MissingDependencyError(TrackioToolError, ImportError):
    """An optional extra is needed for this source or output."""


class RemoteError(SourceError):
    """A remote service (SSH host, Hub, Modal) refused or failed."""


class HostKeyError(RemoteError):
    """An SSH host key is unknown or changed."""


class StoreError(TrackioToolError):
    """The project files exist but are not a (readable) Trackio project."""


class NotATrackioFileError(StoreError):
    """The file is not a Trackio project (wrong format or missing tables)."""


class CorruptFileError(StoreError):
    """The file looks like a Trackio project but cannot be read completely."""


class RunSelectionError(TrackioToolError, LookupError):
    """A --run selector matched nothing, or matched more than one run."""


class RunNotFoundError(RunSelectionError):
    """A --run selector matched no run."""


class AmbiguousRunError(RunSelectionError):
    """A bare run name matches several runs (or projects); an id is needed."""


class ConflictError(TrackioToolError):
    """A write would clash with what is already in the target."""


class WriteError(TrackioToolError):
    """A write could not be completed; the target was left unchanged."""


class OutputError(TrackioToolError):
    """The requested output (file, format) cannot be produced."""
