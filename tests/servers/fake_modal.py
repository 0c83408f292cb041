"""A fake Modal control plane + block server for the real ``modal`` client (pinned: modal==1.6.4).

Serves ``root/<environment>/<volume>/...`` as Modal volumes (v2 file system).
Implemented RPCs: ClientHello, VolumeGetOrCreate, VolumeListFiles2,
VolumeGetFile2. Every other RPC answers UNIMPLEMENTED, so a client change that
needs more shows up as a clear error. File bytes are served over plain HTTP
(aiohttp) from ``get_urls``, one URL per 8 MiB block, like the real service.

This relies on modal's *internal* protobuf/grpclib API (``modal_proto``); if
the pinned modal version moves, re-check the RPC names and message fields.

Client-side environment (what the tests set)::

    MODAL_SERVER_URL=http://127.0.0.1:<port>
    MODAL_TOKEN_ID=ak-x  MODAL_TOKEN_SECRET=as-x   # any non-empty values
    HOME=<tmp>                                      # keep ~/.modal.toml out
    MODAL_DISABLE_API_PROXY=1                       # HTTP(S)_PROXY would hijack gRPC

Client behaviour worth knowing (verified against this server, modal 1.6.4):

* ``modal.Volume.from_name`` is lazy; nothing is sent until the first call.
* With MODAL_TOKEN_ID/MODAL_TOKEN_SECRET unset (and no token in the active
  ``.modal.toml`` profile) the first call raises ``modal.exception.AuthError``
  ("Token missing. Could not authenticate client. ...") *before* any network
  traffic: this server sees no request at all.
* The client built from the environment is a process-wide singleton
  (``modal.client._Client._client_from_env``) that keeps the server URL and
  token it was first created with. Changing env vars afterwards has no effect
  until it is closed/reset (``reset_modal_env_client()`` below). Also,
  ``~/.modal.toml`` is read once at ``import modal`` time (path from
  ``MODAL_CONFIG_PATH`` or ``HOME``), and env vars take precedence over it.
* Not found: missing volume -> ``modal.exception.NotFoundError``; missing file
  in ``read_file``/``read_file_into_fileobj`` -> builtin ``FileNotFoundError``;
  missing folder in ``listdir`` -> ``modal.exception.NotFoundError``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
from pathlib import Path

from aiohttp import web
from grpclib import GRPCError, Status
from grpclib.server import Server
from modal_proto import api_grpc, api_pb2

BLOCK_SIZE = 8 * 1024 * 1024  # must match modal._utils.blob_utils.BLOCK_SIZE
DEFAULT_ENV = "main"
LIST_BATCH = 100  # entries per streamed VolumeListFiles2Response


def _unimplemented_methods() -> dict:
    """Stub every abstract RPC so the ABC can be instantiated."""

    async def unimplemented(self, stream):
        raise GRPCError(Status.UNIMPLEMENTED, "not implemented by the fake Modal server")

    return dict.fromkeys(api_grpc.ModalClientBase.__abstractmethods__, unimplemented)


class _Servicer(type("_Stubbed", (api_grpc.ModalClientBase,), _unimplemented_methods())):
    def __init__(self, fake: FakeModal):
        self.fake = fake

    def _log(self, name: str, detail: str = "") -> None:
        with self.fake._lock:
            self.fake.requests.append((name, detail))

    async def ClientHello(self, stream):
        await stream.recv_message()
        self._log("ClientHello")
        await stream.send_message(api_pb2.ClientHelloResponse())

    async def VolumeGetOrCreate(self, stream):
        req = await stream.recv_message()
        env = req.environment_name or DEFAULT_ENV
        self._log("VolumeGetOrCreate", f"{env}/{req.deployment_name}")
        env_dir = self.fake.root / env
        if not env_dir.is_dir():
            raise GRPCError(Status.NOT_FOUND, f"Environment '{env}' not found")
        vol_dir = env_dir / req.deployment_name
        if not vol_dir.is_dir():
            if req.object_creation_type != api_pb2.OBJECT_CREATION_TYPE_CREATE_IF_MISSING:
                raise GRPCError(
                    Status.NOT_FOUND,
                    f"Volume '{req.deployment_name}' not found in environment '{env}'",
                )
            vol_dir.mkdir()
        volume_id = "vo-" + hashlib.sha1(f"{env}/{req.deployment_name}".encode()).hexdigest()[:22]
        with self.fake._lock:
            self.fake._volumes[volume_id] = vol_dir
        await stream.send_message(
            api_pb2.VolumeGetOrCreateResponse(
                volume_id=volume_id,
                version=api_pb2.VOLUME_FS_VERSION_V2,
                metadata=api_pb2.VolumeMetadata(
                    name=req.deployment_name, version=api_pb2.VOLUME_FS_VERSION_V2
                ),
            )
        )

    def _volume(self, volume_id: str) -> Path:
        vol = self.fake._volumes.get(volume_id)
        if vol is None or not vol.is_dir():
            raise GRPCError(Status.NOT_FOUND, f"Volume {volume_id} not found")
        return vol

    @staticmethod
    def _target(vol: Path, path: str) -> Path | None:
        rel = path.strip("/")
        p = (vol / rel).resolve() if rel and rel != "." else vol.resolve()
        try:
            p.relative_to(vol.resolve())
        except ValueError:
            return None
        return p

    async def VolumeListFiles2(self, stream):
        req = await stream.recv_message()
        self._log("VolumeListFiles2", f"{req.path} recursive={req.recursive}")
        vol = self._volume(req.volume_id).resolve()
        target = self._target(vol, req.path)
        if target is None or not target.exists():
            raise GRPCError(Status.NOT_FOUND, f"No such file or directory: {req.path}")
        if target.is_file():
            items = [target]  # a file path lists just that file
        else:
            items = sorted(target.rglob("*") if req.recursive else target.iterdir())
        entries = [self._entry(vol, p) for p in items]
        for i in range(0, len(entries), LIST_BATCH):
            await stream.send_message(
                api_pb2.VolumeListFiles2Response(entries=entries[i : i + LIST_BATCH])
            )

    @staticmethod
    def _entry(vol: Path, p: Path) -> api_pb2.FileEntry:
        st = p.lstat()
        if p.is_symlink():
            kind = api_pb2.FileEntry.FileType.SYMLINK
        elif p.is_dir():
            kind = api_pb2.FileEntry.FileType.DIRECTORY
        else:
            kind = api_pb2.FileEntry.FileType.FILE
        return api_pb2.FileEntry(
            path=p.relative_to(vol).as_posix(),
            type=kind,
            mtime=int(st.st_mtime),
            size=st.st_size if kind == api_pb2.FileEntry.FileType.FILE else 0,
        )

    async def VolumeGetFile2(self, stream):
        req = await stream.recv_message()
        self._log("VolumeGetFile2", req.path)
        vol = self._volume(req.volume_id).resolve()
        target = self._target(vol, req.path)
        if target is None or not target.is_file():
            raise GRPCError(Status.NOT_FOUND, f"No such file: {req.path}")
        size = target.stat().st_size
        start = min(req.start, size)
        length = size - start if not req.len else min(req.len, size - start)
        # One URL per BLOCK_SIZE-aligned block overlapping [start, start+length);
        # the client computes the expected length of each from start/len.
        urls = []
        if length:
            first, last = start // BLOCK_SIZE, (start + length - 1) // BLOCK_SIZE
            for idx in range(first, last + 1):
                lo = max(start, idx * BLOCK_SIZE)
                hi = min(start + length, (idx + 1) * BLOCK_SIZE)
                urls.append(self.fake._block_url(target, lo, hi))
        await stream.send_message(
            api_pb2.VolumeGetFile2Response(get_urls=urls, size=size, start=start, len=length)
        )


class FakeModal:
    """Runs the gRPC server and the block HTTP server on one event loop in a thread."""

    def __init__(self, root: Path):
        self.root = Path(root)
        (self.root / DEFAULT_ENV).mkdir(parents=True, exist_ok=True)
        self.requests: list[tuple[str, str]] = []  # (rpc or "GET block", detail)
        self.bytes_served = 0  # block bytes sent
        self._lock = threading.Lock()
        self._volumes: dict[str, Path] = {}
        self._blocks: dict[str, tuple[Path, int, int]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.grpc_port = 0
        self.http_port = 0

    @property
    def server_url(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    def client_env(self) -> dict[str, str]:
        """Env vars pointing the real modal client here (HOME is up to the caller)."""
        return {
            "MODAL_SERVER_URL": self.server_url,
            "MODAL_TOKEN_ID": "ak-x",
            "MODAL_TOKEN_SECRET": "as-x",
            "MODAL_DISABLE_API_PROXY": "1",
        }

    def add_file(self, rel: str, content: bytes | str, env: str = DEFAULT_ENV) -> Path:
        """Write ``root/<env>/<rel>``; ``rel`` starts with the volume name."""
        p = self.root / env / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
        return p

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self.bytes_served = 0

    def _block_url(self, path: Path, lo: int, hi: int) -> str:
        token = hashlib.sha1(f"{path}:{lo}:{hi}".encode()).hexdigest()
        with self._lock:
            self._blocks[token] = (path, lo, hi)
        return f"http://127.0.0.1:{self.http_port}/block/{token}"

    async def _serve_block(self, request: web.Request) -> web.Response:
        entry = self._blocks.get(request.match_info["token"])
        if entry is None:
            return web.Response(status=404, text="unknown block")
        path, lo, hi = entry
        with open(path, "rb") as f:
            f.seek(lo)
            data = f.read(hi - lo)
        with self._lock:
            self.requests.append(("GET block", f"{path.name}:{lo}-{hi}"))
            self.bytes_served += len(data)
        # Repr-Digest makes the client verify the body, like the real blob store.
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        return web.Response(body=data, headers={"Repr-Digest": f"sha-256=:{digest}:"})

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> FakeModal:
        ready = threading.Event()
        errors: list[BaseException] = []
        self._loop = asyncio.new_event_loop()

        async def boot():
            self._grpc = Server([_Servicer(self)])
            await self._grpc.start("127.0.0.1", 0)
            self.grpc_port = self._grpc._server.sockets[0].getsockname()[1]
            app = web.Application()
            app.router.add_get("/block/{token}", self._serve_block)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.http_port = self._runner.addresses[0][1]

        def run():
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(boot())
            except BaseException as e:  # surface start-up failures in the caller
                errors.append(e)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-modal", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            self._thread.join(5)
            self._loop.close()
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown():
            self._grpc.close()
            await self._grpc.wait_closed()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        # Cancel whatever grpclib/aiohttp left behind, then close the loop so no
        # ResourceWarning about an unclosed loop/transport leaks into the tests.
        # Bounded wait: a *foreign* task can land on this loop (sshfs's GC
        # finalizer schedules its close() on whichever loop is running in the
        # thread that happens to collect it) and then never completes here.
        pending = asyncio.all_tasks(self._loop)
        for t in pending:
            t.cancel()
        if pending:
            self._loop.run_until_complete(asyncio.wait(pending, timeout=2))
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()
        self._loop = None

    def __enter__(self) -> FakeModal:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def reset_modal_env_client() -> None:
    """Close and forget modal's process-wide env client.

    Call after a test that used the fake server, so the gRPC connection closes
    before the server stops and the next client re-reads the MODAL_* env vars.
    """
    import modal
    from modal.client import _Client

    if _Client._client_from_env is None:
        return
    # from_env() returns the cached singleton (wrapped for sync use); close()
    # runs on modal's own event loop thread and also clears the singleton.
    modal.Client.from_env().close()
    _Client._set_env_client(None)
