"""The ``trackio-tool`` command line: wiring and the one error boundary.

Command modules are imported here, but each imports polars/plotly/fsspec only
inside its function body, so ``--help`` and shell completion stay fast.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import logging
import os
import signal
import sys
import threading

import typer

from trackio_tool import __version__
from trackio_tool.commands.analyze import analyze

DEBUG_ENV = "TRACKIO_TOOL_DEBUG"

app = typer.Typer(
    name="trackio-tool",
    help="Inspect, plot and reorganise Trackio projects (.db, .parquet, static exports; local or remote).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"trackio-tool {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
    accept_new_host_key: bool = typer.Option(
        False,
        "--accept-new-host-key",
        help="Trust and record the key of an SSH host seen for the first time (a changed key"
        " is still refused). Same as TRACKIO_TOOL_SSH_ACCEPT_NEW_HOST_KEY=1.",
    ),
) -> None:
    """Inspect, plot and reorganise Trackio projects from the terminal."""
    if accept_new_host_key:
        from trackio_tool.sources.remote import configure

        configure(accept_new_host_key=True)


app.command("analyze")(analyze)


def _register_optional_commands() -> None:
    # Commands added by later modules register themselves here, in help order.
    from trackio_tool.commands import registry

    for name, func in registry.commands():
        app.command(name)(func)


_register_optional_commands()


def main() -> None:
    """Console-script entry point: known errors -> one line on stderr, exit 1 (usage: 2)."""
    from trackio_tool.commands._output import OutputClosed
    from trackio_tool.errors import StoreError, TrackioToolError, UsageError

    debug = bool(os.environ.get(DEBUG_ENV))
    if sys.stdout is None:  # started with stdout closed: the output goes nowhere
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    _tolerant_streams()
    # (tests run several commands in one process: no state carried between them)
    write = sys.modules.get("trackio_tool.store.write")
    if write is not None:
        write.committed.clear()
        write.begun.clear()
    output = sys.modules.get("trackio_tool.commands._output")
    if output is not None:
        output.reset()  # consoles size themselves from this command's streams and COLUMNS
    global _stopped_by
    _stopped_by = None
    restore = _catch_stop_signals()
    try:
        app(prog_name="trackio-tool")
    except TrackioToolError as exc:
        if _stopped_by:  # a Ctrl-C that sqlite3 turned into a statement error
            _interrupted()
        cache = sys.modules.get("trackio_tool.sources.cache")
        if cache is not None and isinstance(exc, StoreError):
            cache.discard(str(exc))  # a damaged download is fetched again next time
        if debug:
            raise
        message = str(exc)
        if _not_found(exc) and _cwd_gone():  # `rel.db`, `-o x.png` from a deleted folder
            message += f"; {CWD_GONE}"
        _fail(message, code=2 if isinstance(exc, UsageError) else 1)
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit as exc:
        if exc.code == 130:  # typer turns Ctrl-C into a silent Exit(130)
            _interrupted()
        raise
    except (OutputClosed, BrokenPipeError):
        _output_closed()
    except OSError as exc:
        if debug:
            raise
        if exc.errno in (errno.ENOSPC, errno.EIO, errno.EBADF) and exc.filename is None:
            # stdout on a full device (`> /dev/full`), or gone: the work itself was done.
            # (An error naming a file is about the work: a full disk under the target.)
            _fail(f"could not write the output: {exc.strerror}{_committed_note()}")
        if _not_found(exc) and _cwd_gone():  # making a relative path absolute
            _fail(CWD_GONE)
        _fail(f"unexpected {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 to see the traceback)")
    except RecursionError:
        if debug:
            raise
        # Only a payload nested hundreds of levels deep gets here (Trackio never writes one).
        _fail("a payload is nested too deeply to read (hundreds of levels); nothing was changed")
    except Exception as exc:  # the boundary: never a traceback unless asked
        if _stopped_by:
            _interrupted()
        if debug:
            raise
        _fail(
            _network_failure(exc)
            or f"unexpected {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 to see the traceback)"
        )
    finally:
        restore()
        # Close SSH connections (and finish removing remote snapshot temp files)
        # only if a remote source was used: importing sources would slow --help.
        remote = sys.modules.get("trackio_tool.sources.remote")
        if remote is not None:
            remote.close_all()
        early = sys.modules.get("trackio_tool.store._early")
        if early is not None:
            early.finish()  # no early query outlives its command


def _encode_error(exc: UnicodeError) -> tuple[str | bytes, int]:
    """Error handler of stdout and stderr: a name that cannot be encoded is still shown.

    A file name that is not UTF-8 reaches Python as lone surrogates: written back as
    its own bytes, so the user sees (and can paste) the name they have. Any other
    character the stream's encoding lacks (``PYTHONIOENCODING=ascii``, a Latin-1
    terminal) is written as a backslash escape (``pr\\xf3j``) instead of failing.
    """
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    try:
        return codecs.lookup_error("surrogateescape")(exc)
    except UnicodeError:
        return codecs.backslashreplace_errors(exc)


codecs.register_error("trackio-tool", _encode_error)


def _tolerant_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError, AttributeError, TypeError):
                reconfigure(errors="trackio-tool")


CWD_GONE = (
    "the current folder has been deleted, so relative paths lead nowhere: cd to an"
    " existing folder or give absolute paths"
)


def _cwd_gone() -> bool:
    try:
        os.getcwd()
    except FileNotFoundError:
        return True
    except OSError:  # (a folder we may no longer read is still there)
        return False
    return False


def _not_found(exc: BaseException) -> bool:
    return isinstance(exc, FileNotFoundError) or isinstance(exc.__cause__, FileNotFoundError)


# The network libraries under the remote sources (asyncssh for ssh://, aiohttp and
# grpclib for modal://, httpx or httpx2 for hf://). What reaches the boundary from them
# is a connection lost or refused mid-transfer, or a redirect loop: nothing was cached.
_NETWORK_PACKAGES = frozenset(
    {"asyncssh", "aiohttp", "grpclib", "httpx", "httpx2", "httpcore", "httpcore2", "h2"}
)


def _network_failure(exc: BaseException) -> str | None:
    if type(exc).__module__.split(".", 1)[0] not in _NETWORK_PACKAGES:
        return None
    reason = getattr(exc, "reason", None) or str(exc) or "no reason given"
    return f"the connection to the remote source failed ({type(exc).__name__}: {reason}); try again"


# The signal (SIGINT, SIGTERM, SIGHUP) that stopped the command, if any. sqlite3
# swallows a KeyboardInterrupt raised inside a Python function SQLite calls (during
# a long statement the only Python code that runs, so where a Ctrl-C lands) and
# fails the statement with "user-defined function raised exception": the boundary
# reports the interrupt instead.
_stopped_by: int | None = None
_STOPPING = ("SIGINT", "SIGTERM", "SIGHUP")


def _on_stop_signal(signum: int, frame: object) -> None:
    global _stopped_by
    _stopped_by = signum
    raise KeyboardInterrupt


def _catch_stop_signals():  # type: ignore[no-untyped-def]
    """Install ``_on_stop_signal``; returns what puts the previous handlers back.

    A kill (SIGTERM) or a closed terminal (SIGHUP) then unwinds like Ctrl-C: the
    browser is shut down, temp files and a half-built target are removed, a write
    is rolled back. Installed before polars is imported: polars puts its own SIGINT
    handler in front and passes the signal on to this one. A signal ignored when
    the command started (`nohup`, a background job) stays ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {}
    for name in _STOPPING:
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        handler = signal.getsignal(signum)
        if handler in (signal.SIG_DFL, signal.default_int_handler):
            previous[signum] = handler
            signal.signal(signum, _on_stop_signal)

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return restore


def _interrupted() -> None:
    # Transfers cancelled on the way out would each log "Task exception was never
    # retrieved" with a traceback when garbage-collected.
    logging.getLogger("asyncio").disabled = True
    write = sys.modules.get("trackio_tool.store.write")
    done = write.committed if write is not None else []
    signum = _stopped_by or signal.SIGINT
    word = "interrupted" if signum == signal.SIGINT else "terminated"
    with contextlib.suppress(OSError, ValueError):  # (SIGHUP: the terminal may be gone)
        sys.stderr.write(
            f"{word} after the change to {done[-1]} was committed: it is complete (media"
            " files it had yet to tidy up may be left behind)\n"
            if done
            else f"{word}\n"
        )
        sys.stderr.flush()
    sys.exit(128 + signum)


def _output_closed() -> None:
    """`trackio-tool analyze | head`: the reader has what it wanted. Not an error worth
    a line, nor a failure for `set -o pipefail`, whether it was the table or the JSON
    that was cut. But a write command cut before its commit (a preview on stderr) failed."""
    write = sys.modules.get("trackio_tool.store.write")
    undone = write is not None and write.begun and not write.committed
    if undone:
        with contextlib.suppress(OSError, ValueError):  # (if stderr is still there)
            sys.stderr.write(
                "error: the output was closed before the change was committed;"
                " nothing was changed\n"
            )
            sys.stderr.flush()
    # Output still buffered would fail again at exit: it goes nowhere instead.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
    sys.exit(1 if undone else 0)


def _committed_note() -> str:
    """For an error after a write was committed: the change itself is complete."""
    write = sys.modules.get("trackio_tool.store.write")
    done = write.committed if write is not None else []
    return f" (the change to {done[-1]} was committed: it is complete)" if done else ""


def _fail(message: str, code: int = 1) -> None:
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    sys.stderr.write(f"error: {first}\n")
    sys.stderr.flush()
    sys.exit(code)
