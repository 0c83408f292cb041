"""``ssh://`` sources: sshfs (asyncssh) with host-key checks, snapshots and fast listings.

URL forms: ``ssh://[user@]host[:port]/absolute/path`` and
``ssh://[user@]host[:port]/~/path/in/home``. ``host`` may be a ``~/.ssh/config``
alias; asyncssh applies HostName, Port, User, IdentityFile and ProxyJump, and
uses ssh-agent and the default keys (DEPENDENCIES.md §4).

What this adds to sshfs:

* Host keys are checked against known_hosts (sshfs turns checking off by
  default); an unknown or changed key is refused with a message saying how to
  trust it, and ``accept_new_host_key`` behaves like OpenSSH's ``accept-new``.
* ``find`` runs one ``find`` on the host instead of one SFTP round trip per
  folder, so counting media is one request however many steps were logged.
* ``snapshot_sqlite`` asks the host's ``sqlite3`` for a consistent copy
  (``VACUUM INTO``) of a live database (rows still in ``-wal``), fetches it
  and removes it.
* Downloads use the server's largest read size (about 2x sshfs's default).
* ``close()`` closes the connection on fsspec's loop. sshfs relies on a GC
  finalizer that hangs when it runs inside another event loop, so it is
  detached at construction.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import logging
import os
import re
import secrets
import shlex
import socket
import time
import weakref
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncssh
from asyncssh.misc import HostKeyNotVerifiable
from fsspec.asyn import FSTimeoutError, sync
from sshfs import SSHFileSystem
from sshfs.utils import as_progress_handler, wrap_exceptions

from trackio_tool.errors import BadURLError, HostKeyError, RemoteError, SourcePermissionError
from trackio_tool.sources._args import seconds_from_env
from trackio_tool.sources._layout import Listing
from trackio_tool.sources.remote import ACCEPT_NEW_ENV

T = TypeVar("T")

TIMEOUT_ENV = "TRACKIO_TOOL_SSH_TIMEOUT"
# The host's sqlite3 used for snapshots ("none": never snapshot, copy .db + -wal).
REMOTE_SQLITE3_ENV = "TRACKIO_TOOL_SSH_SQLITE3"
DEFAULT_CONNECT_TIMEOUT_S = 30.0
_POLL_S = 0.25  # how often a waiting main thread wakes up to notice Ctrl-C
_MARK = b"trackio-tool\n"  # proves our command ran (not a ForceCommand'ed shell)


@dataclass(frozen=True)
class SshURL:
    user: str | None
    host: str
    port: int | None
    path: str
    """Absolute, or relative to the remote home when ``in_home``."""
    in_home: bool

    @property
    def prefix(self) -> str:
        """``ssh://[user@]host[:port]``: how paths on this host are printed."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return (
            "ssh://"
            + (f"{self.user}@" if self.user else "")
            + host
            + (f":{self.port}" if self.port else "")
        )

    @property
    def label(self) -> str:
        return self.prefix[len("ssh://") :]

    @property
    def ssh_command(self) -> str:
        """The OpenSSH command line that reaches the same host."""
        port = f"-p {self.port} " if self.port else ""
        user = f"{self.user}@" if self.user else ""
        return f"ssh {port}{user}{self.host}"


def parse_ssh_url(spec: str) -> SshURL:
    parts = urlsplit(spec)
    try:
        port = parts.port
    except ValueError as exc:
        raise BadURLError(f"invalid port in {spec}") from exc
    host = parts.hostname
    if not host:
        raise BadURLError(f"no host in {spec}; expected ssh://[user@]host[:port]/path")
    if parts.password is not None:
        raise BadURLError(
            "passwords in ssh:// URLs are not supported (they would end up in shell"
            " history); use a key, ssh-agent or an IdentityFile in ~/.ssh/config"
        )
    if parts.query or parts.fragment:
        raise BadURLError(f"unexpected ?query or #fragment in {spec}")
    # urlsplit lowercases hostname; ~/.ssh/config aliases are case-sensitive.
    netloc_host = parts.netloc.rsplit("@", 1)[-1]
    if netloc_host.startswith("["):
        raw_host = netloc_host[1 : netloc_host.index("]")]
    else:
        raw_host = netloc_host.rsplit(":", 1)[0] if port is not None else netloc_host
    path = parts.path
    if path in ("/~", "/~/") or path.startswith("/~/"):
        return SshURL(parts.username, raw_host, port, path[3:].strip("/"), True)
    if not path or path == "/":
        if not path:
            raise BadURLError(
                f"no path in {spec}; use ssh://{raw_host}/absolute/path or ssh://{raw_host}/~/path"
            )
        return SshURL(parts.username, raw_host, port, "/", False)
    if path.startswith("/~"):
        raise BadURLError(f"~user paths are not supported in {spec}; use /~/ or an absolute path")
    return SshURL(parts.username, raw_host, port, path, False)


# AES-GCM first: with AES-NI it is about 30% faster than asyncssh's default
# chacha20-poly1305 for large downloads. Same set of algorithms, other order.
_FAST_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
)


def _cipher_preference() -> list[str] | None:
    """Our cipher order, unless ~/.ssh/config chooses ``Ciphers`` itself."""
    try:
        text = (Path.home() / ".ssh" / "config").read_text(errors="replace")
    except OSError:
        text = ""
    if re.search(r"(?im)^\s*ciphers\b", text):
        return None
    return list(_FAST_CIPHERS)


def _connect_timeout() -> float:
    return seconds_from_env(TIMEOUT_ENV, DEFAULT_CONNECT_TIMEOUT_S)


# -- host keys ---------------------------------------------------------------------
class _HostKeyPolicy(asyncssh.SSHClient):
    """Sees the key asyncssh could not verify, and accepts it if allowed.

    asyncssh calls ``validate_host_public_key`` only for a key that is not in
    known_hosts. ``accept_new`` trusts it only when known_hosts has no key at
    all for this host (OpenSSH ``StrictHostKeyChecking=accept-new``): a
    *changed* key is always refused.
    """

    def __init__(self, accept_new: bool) -> None:
        self.accept_new = accept_new
        self.conn: asyncssh.SSHClientConnection | None = None
        self.offered: tuple[str, int | None, asyncssh.SSHKey, bool] | None = None
        self.accepted = False

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self.conn = conn

    def _host_is_known(self, host: str, addr: str, port: int | None) -> bool:
        trusted = getattr(self.conn, "_trusted_host_keys", None)
        cas = getattr(self.conn, "_trusted_ca_keys", None)
        if trusted is not None or cas is not None:
            return bool(trusted) or bool(cas)
        # Fallback if asyncssh's internals move: look in the default file.
        known = Path.home() / ".ssh" / "known_hosts"
        if not known.is_file():
            return False
        keys, ca_keys, *_ = asyncssh.match_known_hosts(str(known), host, addr, port)
        return bool(keys) or bool(ca_keys)

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        known = self._host_is_known(host, addr, port)
        self.offered = (host, port, key, known)
        if self.accept_new and not known:
            self.accepted = True
            return True
        return False


def _known_hosts_pattern(host: str, port: int | None) -> str:
    return f"[{host}]:{port}" if port and port != 22 else host


def _remember_host_key(host: str, port: int | None, key: asyncssh.SSHKey) -> Path:
    """Append ``key`` to ~/.ssh/known_hosts, as OpenSSH's accept-new does."""
    ssh_dir = Path.home() / ".ssh"
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    known = ssh_dir / "known_hosts"
    alg, blob = key.export_public_key("openssh").decode().split()[:2]
    line = f"{_known_hosts_pattern(host, port)} {alg} {blob}\n"
    prefix = ""
    if known.exists() and known.stat().st_size:
        with known.open("rb") as fh:
            fh.seek(-1, os.SEEK_END)
            prefix = "" if fh.read(1) == b"\n" else "\n"
    fd = os.open(known, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as fh:
        fh.write(prefix + line)
    return known


def _host_key_error(url: SshURL, policy: _HostKeyPolicy, reason: str) -> HostKeyError:
    if policy.offered is None:
        # Not our connection's key: a ProxyJump host's, or a revoked key.
        return HostKeyError(
            f"ssh: {reason.rstrip('.')} (on the way to {url.label}); trust that host by"
            " connecting once with ssh, or check ~/.ssh/known_hosts"
        )
    host, port, key, known = policy.offered
    fingerprint = f"{key.get_algorithm()} {key.get_fingerprint()}"
    pattern = _known_hosts_pattern(host, port)
    if known:
        return HostKeyError(
            f"ssh: the host key of {url.label} has CHANGED ({fingerprint} does not match"
            " ~/.ssh/known_hosts); someone may be intercepting the connection. If the change"
            f" is expected, remove the old key with `ssh-keygen -R '{pattern}'` and try again"
        )
    return HostKeyError(
        f"ssh: the host key of {url.label} is not known ({fingerprint}). If that fingerprint"
        f" is right, trust it by connecting once with `{url.ssh_command}`, or rerun with"
        f" --accept-new-host-key (or {ACCEPT_NEW_ENV}=1)"
    )


# -- the filesystem ------------------------------------------------------------------
class TrackioSSHFileSystem(SSHFileSystem):
    """sshfs with explicit close, one-request ``find`` and remote SQLite snapshots."""

    def __init__(self, host: str, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self._has_sqlite3: bool | None = None
        self._home: str | None = None
        self._cleanups: list[concurrent.futures.Future[None]] = []
        # sshfs closes the connection from a GC finalizer that can hang when it
        # fires inside another event loop; close() does it on fsspec's loop.
        for fin in list(weakref.finalize._registry):  # type: ignore[attr-defined]
            info = fin.peek()
            if info is not None and info[0] is self:
                fin.detach()

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on fsspec's loop; cancel it if the caller is interrupted.

        Waits in short slices: Ctrl-C may be delivered to the loop's thread,
        and only a main thread that wakes up regularly will run the handler.
        """
        loop = self.loop
        assert loop is not None
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                try:
                    return future.result(_POLL_S)
                except concurrent.futures.TimeoutError:
                    # (also the coroutine's own TimeoutError, once it is done)
                    if future.done() or (deadline is not None and time.monotonic() > deadline):
                        raise
        except BaseException:
            future.cancel()
            raise

    def close(self) -> None:
        for pending in self._cleanups:
            with contextlib.suppress(Exception):
                pending.result(timeout=30)
        self._cleanups.clear()

        async def _close() -> None:
            with contextlib.suppress(Exception):  # the pool refuses while channels are busy
                await self._pool.close()
            with contextlib.suppress(Exception):
                await self._stack.aclose()

        if self.loop is not None and not self.loop.is_closed():
            with contextlib.suppress(Exception):
                sync(self.loop, _close, timeout=5)

    async def _exec(self, script: str, *args: str) -> asyncssh.SSHCompletedProcess | None:
        """Run a POSIX sh ``script`` on the host; None if the host will not run it.

        Wrapped in ``sh -c`` so the user's login shell (fish, csh, ...) only has
        to parse one quoted word; one line, because csh rejects newlines in quotes.
        """
        command = " ".join(["sh", "-c", shlex.quote(script), "sh", *map(shlex.quote, args)])
        try:
            result = await self._execute(
                command, check=False, stdin=asyncssh.DEVNULL, encoding=None
            )
        except (asyncssh.Error, OSError):
            return None
        stdout = result.stdout if isinstance(result.stdout, bytes) else b""
        if not stdout.startswith(_MARK):
            return None  # e.g. ForceCommand internal-sftp: no shell access
        return result

    # -- home ----------------------------------------------------------------------
    @wrap_exceptions
    async def _home_dir(self) -> str:
        if self._home is None:
            async with self._pool.get() as channel:
                self._home = str(await channel.realpath("."))
        return self._home

    def home(self) -> str:
        return self._run(self._home_dir())

    # -- listings ------------------------------------------------------------------
    async def _info(self, path: str, **kwargs: Any) -> Any:
        # sshfs turns only "no such file" into an OSError: a path in a folder we may
        # not read came out as asyncssh's SFTPPermissionDenied ("connection failed").
        try:
            return await super()._info(path, **kwargs)
        except asyncssh.SFTPError as exc:
            raise _sftp_os_error(exc) from exc

    async def _find(
        self, path: str, maxdepth: int | None = None, withdirs: bool = False, **kwargs: Any
    ) -> Any:
        if maxdepth is None and not withdirs and not kwargs.get("detail"):
            # As fsspec's find: folders that cannot be listed are left out, a missing
            # path is no error, a file is its own listing.
            path = str(self._strip_protocol(path))
            try:
                return (await self._list_files(path)).files
            except (FileNotFoundError, NotADirectoryError):
                return [path] if await self._isfile(path) else []
        return await super()._find(path, maxdepth=maxdepth, withdirs=withdirs, **kwargs)

    def list_files_as_local(self, path: str) -> Listing:
        """Every file below ``path`` as a local media listing has them
        (``sources._layout.walk_local``): links (to a file, a folder, nothing) are
        files, never followed; pipes, sockets and devices are left out; a folder that
        cannot be listed is in ``unreadable``. FileNotFoundError if ``path`` is not
        there. One ``find`` on the host; over SFTP (no shell) one request per folder."""
        return self._run(self._list_files(path))

    async def _list_files(self, path: str) -> Listing:
        path = path.rstrip("/") or "/"
        found = await self._remote_find(path)
        if found is None:
            found = await self._sftp_find(path)
        return found

    async def _remote_find(self, path: str) -> Listing | None:
        """``find`` on the host; None if it could not run (no shell, no ``find``
        there) or failed without saying where (then SFTP lists the folder)."""
        result = await self._exec(_FIND_SCRIPT, path)
        if result is None:
            return None
        assert isinstance(result.stdout, bytes)
        files, links = _parse_find_output(result.stdout[len(_MARK) :])
        unreadable: list[tuple[str, OSError]] = []
        if result.exit_status != 0:
            stderr = result.stderr if isinstance(result.stderr, bytes) else b""
            errors = _parse_find_errors(stderr, path)
            if errors is None:
                return None
            # Missing folder: raise like SFTP would. A folder gone while find ran is
            # no error (as in a local walk); the others could not be listed.
            await self._info(path)
            unreadable = [(f, e) for f, e in errors if e.errno not in _GONE]
        return Listing(files, frozenset(links), tuple(unreadable))

    async def _sftp_find(self, top: str) -> Listing:
        """``_remote_find`` over SFTP, one request per folder, for hosts without a
        shell. (fsspec's walk would count pipes and sockets as files, and stop at a
        folder it may not list with asyncssh's own exception.)"""
        files: list[str] = []
        links: set[str] = set()
        unreadable: list[tuple[str, OSError]] = []
        stack = [top]
        while stack:
            folder = stack.pop()
            try:
                entries = await self._ls(folder, detail=True)
            except (FileNotFoundError, NotADirectoryError):
                if folder == top:
                    raise
                continue  # removed meanwhile
            except asyncssh.SFTPError as exc:  # (a lost connection is no unreadable folder)
                unreadable.append((folder, _sftp_os_error(exc)))
                continue
            except PermissionError as exc:
                unreadable.append((folder, exc))
                continue
            for entry in entries:
                name = str(entry["name"])
                kind = entry.get("type")
                if kind == "directory":
                    stack.append(name)
                elif kind in ("file", "link"):  # (SFTP lists what lstat says)
                    files.append(name)
                    if kind == "link":
                        links.add(name)
        files.sort()
        return Listing(files, frozenset(links), tuple(unreadable))

    # -- downloads -----------------------------------------------------------------
    @wrap_exceptions
    async def _get_file(  # type: ignore[override]
        self, rpath: str, lpath: str, callback: Any = None, **kwargs: Any
    ) -> None:
        # block_size=-1: the server's own limit (255 KiB on OpenSSH) rather than
        # sshfs's 48 KiB, about twice as fast for large files. follow_symlinks: a link
        # to a file is fetched as the file (asyncssh would make a link here, and
        # refuse one that points out of the folder fetched).
        async with self._pool.get() as channel:
            await channel.get(
                rpath,
                lpath,
                follow_symlinks=True,
                block_size=-1,
                max_requests=-1,
                progress_handler=as_progress_handler(callback),
            )

    def snapshot_sqlite(self, remote_db: str, local_dst: Path, callback: Any = None) -> bool:
        """A consistent copy of a live database, made by the host's ``sqlite3``.

        ``VACUUM INTO`` reads one snapshot (rows only in ``-wal`` included) in a
        single read transaction into a private temp file on the host, which is
        fetched and then removed, also when interrupted. (``.backup`` restarts
        whenever Trackio commits meanwhile, so it is only the fallback for
        SQLite < 3.27.) False if the host has no ``sqlite3`` or it failed.
        """
        sqlite3 = os.environ.get(REMOTE_SQLITE3_ENV, "sqlite3").strip()
        if self._has_sqlite3 is False or sqlite3.lower() in ("", "0", "none", "off"):
            return False
        name = f"trackio-tool-{secrets.token_hex(16)}.db"
        # $1 database, $2 temp file name, $3 sqlite3. synchronous=OFF: the copy
        # is read once and deleted, fsync-ing it would double the time.
        script = (
            'command -v "$3" >/dev/null 2>&1 || exit 127; umask 077;'
            ' t="${TMPDIR:-/tmp}/$2"; printf "trackio-tool\\n%s" "$t";'
            " { printf '%s\\n' '.timeout 10000' 'PRAGMA synchronous=OFF;' \"VACUUM INTO '$t';\""
            ' | "$3" -readonly -bail "$1" >/dev/null 2>&1; }'
            " || { rm -f \"$t\"; printf '%s\\n' '.timeout 10000' \".backup '$t'\""
            ' | "$3" -readonly -bail "$1" >/dev/null 2>&1; }'
            ' || { rm -f "$t"; exit 125; }'
        )
        fetched = False
        try:
            result = self._run(self._exec(script, remote_db, name, sqlite3))
            if result is None or result.exit_status == 127:
                self._has_sqlite3 = False
                return False
            self._has_sqlite3 = True
            if result.exit_status != 0:
                return False  # e.g. a folder we may not write -shm into: copy instead
            assert isinstance(result.stdout, bytes)
            remote_tmp = result.stdout[len(_MARK) :].decode("utf-8", "surrogateescape")
            self._run(self._get_file(remote_tmp, str(local_dst), callback=callback))
            fetched = True
            # Removing a big file takes a while on some disks: let it run while
            # the command goes on; close() waits for it.
            loop = self.loop
            assert loop is not None
            self._cleanups.append(
                asyncio.run_coroutine_threadsafe(self._remove_quietly(remote_tmp), loop)
            )
            return True
        finally:
            if not fetched:
                # Also after Ctrl-C: the name is ours, so remove it whether or
                # not the snapshot got as far as creating it.
                with contextlib.suppress(BaseException):
                    self._run(
                        self._exec('printf "trackio-tool\\n"; rm -f "${TMPDIR:-/tmp}/$1"', name),
                        timeout=10,
                    )

    async def _remove_quietly(self, path: str) -> None:
        with contextlib.suppress(Exception):
            async with self._pool.get() as channel:
                await channel.remove(path)


# -- find on the host ----------------------------------------------------------------
# Files and links, names NUL-ended: a link is printed twice, so the listing also says
# which entries are links (to a file, a folder or nothing; none of them is followed)
# without a process per link. `-H`: only the folder given is followed if it is a link,
# as a local walk does. C locale: the errors come as `find: 'NAME': REASON`.
_FIND_SCRIPT = (
    'printf "trackio-tool\\n"; export LC_ALL=C;'
    ' exec find -H "$1" \\( -type f -print0 \\) -o \\( -type l -print0 -print0 \\)'
)
_GONE = (errno.ENOENT, errno.ENOTDIR)
_ERRNO_OF = {os.strerror(code): code for code in sorted(errno.errorcode, reverse=True)}
_C_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}


def _parse_find_output(body: bytes) -> tuple[list[str], set[str]]:
    """(files sorted, the links among them) from ``_FIND_SCRIPT``'s output."""
    files: list[str] = []
    links: set[str] = set()
    previous = None
    for raw in body.split(b"\0"):
        if not raw:
            continue
        if raw == previous:  # (find prints one entry at a time: a pair is a link)
            links.add(files[-1])
            previous = None
            continue
        previous = raw
        files.append(raw.decode("utf-8", "surrogateescape"))
    files.sort()
    return files, links


def _parse_find_errors(stderr: bytes, top: str) -> list[tuple[str, OSError]] | None:
    """(folder, error) for each ``find: NAME: REASON`` line of ``find``'s stderr; None
    if there is no such line. A name that cannot be read back, or not below ``top``,
    is taken to be ``top`` itself: better the whole folder than none."""
    out: list[tuple[str, OSError]] = []
    for line in stderr.decode("utf-8", "surrogateescape").splitlines():
        if not line.startswith("find: ") or ": " not in line[len("find: ") :]:
            continue  # (a login script's chatter)
        name, _, reason = line[len("find: ") :].rpartition(": ")
        folder = _unquote_find_name(name)
        if folder is None or (folder != top and not folder.startswith(top.rstrip("/") + "/")):
            folder = top
        reason = reason.strip()
        out.append((folder, OSError(_ERRNO_OF.get(reason), reason)))  # (EACCES: PermissionError)
    return out or None


def _unquote_find_name(name: str) -> str | None:
    """GNU find quotes names C-style in the C locale (``'it\\'s'``, ``'\\303\\251'``);
    BSD and busybox print them as they are. None: not readable back."""
    if not (len(name) >= 2 and name[0] == name[-1] == "'"):
        return name
    body = name[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode("utf-8", "surrogateescape")
            i += 1
            continue
        if i + 1 >= len(body):
            return None
        nxt = body[i + 1]
        if nxt in "01234567":
            j = i + 1
            while j < min(i + 4, len(body)) and body[j] in "01234567":
                j += 1
            out.append(int(body[i + 1 : j], 8) & 0xFF)
            i = j
        elif nxt in _C_ESCAPES:
            out.append(_C_ESCAPES[nxt])
            i += 2
        else:  # \\ \' \" \?
            out += nxt.encode("utf-8", "surrogateescape")
            i += 2
    return out.decode("utf-8", "surrogateescape")


def _sftp_os_error(exc: asyncssh.SFTPError) -> OSError:
    if isinstance(exc, asyncssh.SFTPPermissionDenied):
        return PermissionError(errno.EACCES, os.strerror(errno.EACCES))
    return OSError(None, str(exc.reason) or type(exc).__name__)


# -- connecting ----------------------------------------------------------------------
def connect(url: SshURL, *, accept_new_host_key: bool) -> TrackioSSHFileSystem:
    """Open one connection to ``url``'s host, translating every failure to one line."""
    if not os.environ.get("TRACKIO_TOOL_DEBUG"):
        # A link lost mid-copy makes asyncio log "socket.send() raised exception." for
        # each pending write; the command's own error line says what happened.
        logging.getLogger("asyncio").setLevel(logging.ERROR)
    policy = _HostKeyPolicy(accept_new_host_key)
    kwargs: dict[str, Any] = {
        # () = asyncssh's default: ~/.ssh/known_hosts or UserKnownHostsFile. sshfs
        # would pass None, which turns host key checking off.
        "known_hosts": (),
        "client_factory": lambda: policy,
        "connect_timeout": _connect_timeout(),
        # A link that stalls or is reset mid-transfer: without keepalives a read waits
        # forever. A probe goes after half the timeout without any data; a link still
        # silent after three such probes is closed (~1.5x the timeout). A probe's answer
        # queues behind the data in flight, so a slow link that pauses for less than
        # half the timeout between bursts never gets one.
        "keepalive_interval": _connect_timeout() / 2,
        "keepalive_count_max": 2,
        # fsspec would hand back a cached instance and skip the host key check.
        "skip_instance_cache": True,
    }
    if (ciphers := _cipher_preference()) is not None:
        kwargs["encryption_algs"] = ciphers
    if url.user:
        kwargs["username"] = url.user
    if url.port:
        kwargs["port"] = url.port
    try:
        fs = TrackioSSHFileSystem(url.host, **kwargs)
    except HostKeyNotVerifiable as exc:
        raise _host_key_error(url, policy, str(exc.reason)) from exc
    except PermissionError as exc:
        who = f"{url.user}@{url.host}" if url.user else url.host
        raise SourcePermissionError(
            f"ssh: permission denied for {who}: no key was accepted (set IdentityFile in"
            " ~/.ssh/config, or add your key to ssh-agent with ssh-add)"
        ) from exc
    except asyncssh.KeyImportError as exc:
        raise SourcePermissionError(
            f"ssh: cannot use the private key for {url.label} ({exc}); add it to ssh-agent"
            " with ssh-add"
        ) from exc
    except (FSTimeoutError, asyncio.TimeoutError, TimeoutError) as exc:
        raise RemoteError(
            f"ssh: cannot reach {url.label}: no answer within {_connect_timeout():g} s"
            f" (set {TIMEOUT_ENV} to wait longer)"
        ) from exc
    except OSError as exc:
        if isinstance(exc, socket.gaierror) or not exc.errno or exc.errno < 0:
            reason = exc.strerror or str(exc) or type(exc).__name__
        else:
            reason = os.strerror(exc.errno)  # "Connection refused", not asyncio's wording
        raise RemoteError(f"ssh: cannot reach {url.label}: {reason}") from exc
    except asyncssh.Error as exc:
        raise RemoteError(f"ssh: connection to {url.label} failed: {exc.reason}") from exc
    except (ValueError, asyncssh.ConfigParseError) as exc:
        raise RemoteError(f"ssh: cannot connect to {url.label}: {exc}") from exc
    if policy.accepted and policy.offered is not None:
        host, port, key, _ = policy.offered
        _remember_host_key(host, port, key)
        from trackio_tool.sources.progress import get_reporter

        get_reporter().note(
            f"Permanently added the host key of {url.label} ({key.get_algorithm()}"
            f" {key.get_fingerprint()}) to ~/.ssh/known_hosts"
        )
    return fs
