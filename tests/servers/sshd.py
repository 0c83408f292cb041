"""A real OpenSSH server for tests, listening on 127.0.0.1 only.

Why a real sshd rather than an asyncssh server object: the tool talks to hosts
through the user's ``~/.ssh/config`` alias and ``~/.ssh/known_hosts``, and we
want to exercise exactly the OpenSSH behaviour (sftp subsystem, key auth, host
key checks) the tool will meet in the wild.

Usage::

    with start_sshd(tmp_path / "sshd") as info:
        info.write_client_home(tmp_path / "home")      # ~/.ssh/config + known_hosts
        (info.root / "data.txt").write_text("hi")      # files the tests can read

Needs ``/usr/sbin/sshd`` and ``ssh-keygen`` (Debian: ``openssh-server``).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

SSHD = "/usr/sbin/sshd"  # sshd refuses to start unless invoked by absolute path

HostKeyMode = Literal["trusted", "unknown", "mismatch"]


def sshd_available() -> bool:
    """True when an sshd binary and ssh-keygen are installed (tests skip otherwise)."""
    return os.access(SSHD, os.X_OK) and shutil.which("ssh-keygen") is not None


def close_sshfs(fs) -> None:
    """Close an ``sshfs.SSHFileSystem`` now, from the calling (non-async) thread.

    sshfs has no close(); it relies on a ``weakref.finalize`` that runs at GC.
    That finalizer schedules its close() on *whatever event loop is running in
    the thread that triggers the collection*: if GC happens inside another
    loop (a server thread, or an ``asyncio.run`` in the tool), the task awaits
    futures of fsspec's loop and hangs forever. So detach it and close on
    fsspec's own loop instead.
    """
    import weakref

    from fsspec.asyn import sync

    for fin in list(weakref.finalize._registry):  # private but stable since 3.4
        info = fin.peek()
        if info is not None and info[0] is fs:
            fin.detach()
    with contextlib.suppress(Exception):  # pool refuses while channels are active
        sync(fs.loop, fs._pool.close, timeout=5)
    with contextlib.suppress(BrokenPipeError):
        sync(fs.loop, fs._stack.aclose, timeout=5)


def _free_port() -> int:
    # Bind-then-close leaves a tiny race with other processes; start_sshd retries on it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )


def _pubkey_line(pub_path: Path) -> str:
    """'ssh-ed25519 AAAA...' without the trailing comment."""
    kind, blob, *_ = pub_path.read_text().split()
    return f"{kind} {blob}"


@dataclass
class SshdInfo:
    host: str
    port: int
    user: str
    client_key: Path  # private key; the matching .pub is in authorized_keys
    host_key_line: str  # "ssh-ed25519 AAAA..." of the server's host key
    other_key_line: str  # a key the server does NOT have (for mismatch tests)
    dir: Path  # where keys, config and the log live
    root: Path  # a scratch folder tests can fill with files to read over sftp
    log_path: Path = field(repr=False)

    @property
    def known_hosts_host(self) -> str:
        # OpenSSH writes non-22 ports as [host]:port; asyncssh and paramiko match that form.
        return f"[{self.host}]:{self.port}"

    def known_hosts_line(self, mode: HostKeyMode = "trusted") -> str:
        if mode == "trusted":
            return f"{self.known_hosts_host} {self.host_key_line}\n"
        if mode == "mismatch":
            return f"{self.known_hosts_host} {self.other_key_line}\n"
        return ""

    def write_client_home(
        self,
        home: Path,
        alias: str = "trk",
        host_key: HostKeyMode = "trusted",
        identity: bool = True,
    ) -> Path:
        """Write ``home/.ssh/config`` (Host ``alias``) and ``home/.ssh/known_hosts``.

        ``host_key``: "trusted" writes the server's real key, "unknown" writes a
        known_hosts without any entry for the server, "mismatch" writes a
        different key under the server's name. ``identity=False`` leaves out the
        IdentityFile line (to test "no usable key"). Returns the ``.ssh`` folder.
        Point ``HOME`` at ``home`` for the client to pick these up.
        """
        ssh_dir = home / ".ssh"
        ssh_dir.mkdir(parents=True, exist_ok=True)
        ssh_dir.chmod(0o700)
        lines = [
            f"Host {alias}",
            f"    HostName {self.host}",
            f"    Port {self.port}",
            f"    User {self.user}",
        ]
        if identity:
            lines.append(f"    IdentityFile {self.client_key}")
        # IdentitiesOnly keeps a developer's ssh-agent keys out of the test.
        lines.append("    IdentitiesOnly yes")
        config = ssh_dir / "config"
        config.write_text("\n".join(lines) + "\n")
        config.chmod(0o600)
        known = ssh_dir / "known_hosts"
        known.write_text(self.known_hosts_line(host_key))
        known.chmod(0o600)
        return ssh_dir


def _write_config(d: Path, port: int) -> Path:
    cfg = d / "sshd_config"
    cfg.write_text(
        f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {d}/host_ed25519
PidFile {d}/sshd.pid
AuthorizedKeysFile {d}/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
# tmp paths are group/world-traversable, which would fail sshd's permission checks
StrictModes no
Subsystem sftp internal-sftp
"""
    )
    return cfg


def _wait_for_banner(port: int, proc: subprocess.Popen, timeout: float) -> bool:
    """Wait until *our* sshd greets on the port (an SSH banner, not just an open socket)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(64).startswith(b"SSH-"):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def _children(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (Linux /proc; empty elsewhere)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # field 4 is the ppid; split after the ")" closing the command name
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            out.append(int(stat.parent.name))
    return out


def _stop(proc: subprocess.Popen) -> None:
    # sshd forks one child per connection and calls setsid() in it, so neither
    # SIGTERM to the listener nor killpg reaches a session whose client forgot
    # to disconnect: end those children by PID first.
    if proc.poll() is None:
        for child in _children(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextlib.contextmanager
def start_sshd(
    tmp_dir: Path, startup_timeout: float = 10.0, wrapper: Sequence[str] = ()
) -> Iterator[SshdInfo]:
    """Run ``sshd -D -e`` on a free loopback port for the duration of the block.

    ``wrapper``: a command that execs the rest of its command line (so the server's
    PID stays sshd's), e.g. ``setpriv`` to run it with fewer capabilities."""
    d = Path(tmp_dir)
    d.mkdir(parents=True, exist_ok=True)
    d.chmod(0o700)
    for name in ("host_ed25519", "client_ed25519", "other_ed25519"):
        if not (d / name).exists():
            _keygen(d / name)
    shutil.copy(d / "client_ed25519.pub", d / "authorized_keys")
    (d / "authorized_keys").chmod(0o600)
    root = d / "files"
    root.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        # privilege-separation dir; sshd exits at start-up without it when run as root
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)

    log_path = d / "sshd.log"
    proc = None
    for _attempt in range(3):  # retry only covers losing the free-port race
        port = _free_port()
        cfg = _write_config(d, port)
        subprocess.run([SSHD, "-t", "-f", str(cfg)], check=True)
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [*wrapper, SSHD, "-D", "-e", "-f", str(cfg)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        if _wait_for_banner(port, proc, startup_timeout):
            break
        _stop(proc)
        proc = None
    if proc is None:
        raise RuntimeError(f"sshd did not start; log:\n{log_path.read_text(errors='replace')}")

    info = SshdInfo(
        host="127.0.0.1",
        port=port,
        user="root" if os.geteuid() == 0 else getpass.getuser(),
        client_key=d / "client_ed25519",
        host_key_line=_pubkey_line(d / "host_ed25519.pub"),
        other_key_line=_pubkey_line(d / "other_ed25519.pub"),
        dir=d,
        root=root,
        log_path=log_path,
    )
    try:
        yield info
    finally:
        _stop(proc)
