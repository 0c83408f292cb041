"""A fake Hugging Face Hub serving a local folder to the real ``huggingface_hub`` client.

Layout under ``root``::

    datasets/<ns>/<name>/...          dataset repo files at "main" (and at any 40-hex sha)
    datasets/<ns>/<name>@<rev>/...    optional: the same repo at named revision <rev>
    buckets/<ns>/<name>/...           bucket files

Only the endpoints huggingface_hub 2.4.x calls for *reading* are implemented
(see DEPENDENCIES.md section 3). Everything else answers 404, so an unexpected
call shows up as an error plus an entry in ``requests``.

Client-side environment for tests: ``HF_ENDPOINT`` (read at import time, so
prefer passing ``endpoint=`` explicitly), ``HF_HUB_DISABLE_XET=1`` (bucket
entries carry a ``xetHash``; with xet enabled the client would ask for a xet
read token instead of using plain HTTP), ``HF_HOME`` in a temp folder,
``HF_TOKEN`` a dummy, ``HF_HUB_OFFLINE`` unset.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
FAKE_DATE = "2024-01-01T00:00:00.000Z"


def fake_sha(*parts: str) -> str:
    """Stable 40-hex id, so tests can predict commit shas."""
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()


def _git_blob_oid(path: Path) -> str:
    # Same formula git uses; the client only treats it as an opaque id.
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class _Repo:
    """A resolved (repo or bucket, revision) -> folder on disk."""

    id: str
    folder: Path
    sha: str


class FakeHub:
    """Owns the HTTP server thread. Use as a context manager or call start()/stop()."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.requests: list[tuple[str, str]] = []  # (method, raw path incl. query)
        self.bytes_served = 0  # body bytes sent by GET .../resolve/...
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # Handler threads only live for one request (HTTP/1.0, see _Handler), so
        # shutdown() + server_close() leave no threads behind.
        self._server.daemon_threads = False
        # A short poll interval makes shutdown() (and so fixture teardown) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-hub",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()  # joins handler threads
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- helpers for tests ---------------------------------------------------
    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self.bytes_served = 0

    def add_file(self, repo_path: str, content: bytes | str) -> Path:
        """Write ``root/<repo_path>``, e.g. ``add_file("datasets/org/ds/a.txt", b"x")``."""
        p = self.root / repo_path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
        return p

    def dataset_sha(self, repo_id: str, revision: str | None = None) -> str:
        """The fake commit sha reported for ``repo_id`` at main (or at a named revision)."""
        return fake_sha("datasets", repo_id, revision or "main")

    def resolve_requests(self) -> list[tuple[str, str]]:
        with self._lock:
            return [r for r in self.requests if "/resolve/" in r[1]]

    # -- resolution (called from handler threads) ----------------------------
    def _dataset(self, ns: str, name: str, rev: str | None) -> _Repo | str | None:
        """Return the repo, None if the repo is missing, or "norev" if the revision is."""
        repo_id = f"{ns}/{name}"
        base = self.root / "datasets" / ns / name
        if not base.is_dir():
            return None
        if rev in (None, "main") or (
            rev and SHA_RE.match(rev) and not self._named_rev_for_sha(base, rev)
        ):
            # Any unknown 40-hex sha reads as main: tests pin revisions without
            # having to create history.
            return _Repo(repo_id, base.resolve(), self.dataset_sha(repo_id))
        named = self._named_rev_for_sha(base, rev) or rev
        folder = base.parent / f"{name}@{named}"
        if folder.is_dir():
            return _Repo(repo_id, folder.resolve(), self.dataset_sha(repo_id, named))
        return "norev"

    def _named_rev_for_sha(self, base: Path, sha: str) -> str | None:
        for folder in base.parent.glob(f"{base.name}@*"):
            rev = folder.name.split("@", 1)[1]
            if self.dataset_sha(f"{base.parent.name}/{base.name}", rev) == sha:
                return rev
        return None

    def _bucket(self, ns: str, name: str) -> _Repo | None:
        folder = self.root / "buckets" / ns / name
        if not folder.is_dir():
            return None
        return _Repo(f"{ns}/{name}", folder.resolve(), fake_sha("buckets", ns, name))


def _safe_join(folder: Path, rel: str) -> Path | None:
    """folder/rel, or None if rel escapes folder."""
    rel = rel.strip("/")
    p = (folder / rel).resolve() if rel else folder.resolve()
    try:
        p.relative_to(folder.resolve())
    except ValueError:
        return None
    return p


def _segments(raw_path: str) -> list[str]:
    # Split on literal "/" *before* unquoting: the client encodes "/" inside
    # revisions and tree paths as %2F in some calls and not in others.
    return [unquote(s) for s in raw_path.split("/") if s != ""]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub  # set by FakeHub.start on a subclass
    # HTTP/1.0: one request per connection. Slower, but no keep-alive handler
    # threads are left blocked on idle client connections at shutdown.
    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args):
        pass  # keep test output quiet

    # -- response helpers ----------------------------------------------------
    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        ctype="application/json",
    ):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj, status: int = 200, headers=None):
        self._send(status, json.dumps(obj).encode(), headers)

    def _error(self, status: int, code: str | None, message: str):
        # X-Error-Code is what hf_raise_for_status maps to RepositoryNotFoundError,
        # EntryNotFoundError, RevisionNotFoundError, BucketNotFoundError.
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._json({"error": message}, status, headers)

    # -- dispatch ------------------------------------------------------------
    def do_GET(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def _dispatch(self):
        with self.fake._lock:
            self.fake.requests.append((self.command, self.path))
        split = urlsplit(self.path)
        self.query = parse_qs(split.query)
        seg = _segments(split.path)
        # The client may hang up early (e.g. a cancelled range read).
        with contextlib.suppress(BrokenPipeError):
            self._route(seg)

    def _route(self, seg: list[str]):
        m = self.command
        if seg[:2] == ["api", "datasets"] and len(seg) >= 4:
            ns, name, rest = seg[2], seg[3], seg[4:]
            if not rest and m == "GET":
                return self._dataset_info(ns, name, None)
            if rest[:1] == ["revision"] and len(rest) >= 2 and m == "GET":
                return self._dataset_info(ns, name, "/".join(rest[1:]))
            if rest[:1] == ["tree"] and len(rest) >= 2 and m == "GET":
                return self._dataset_tree(ns, name, rest[1], "/".join(rest[2:]))
            if rest[:1] == ["paths-info"] and len(rest) >= 2 and m == "POST":
                return self._dataset_paths_info(ns, name, "/".join(rest[1:]))
        if (
            seg[:1] == ["datasets"]
            and len(seg) >= 5
            and seg[3] == "resolve"
            and m in ("GET", "HEAD")
        ):
            return self._dataset_resolve(seg[1], seg[2], seg[4], "/".join(seg[5:]))
        if seg[:2] == ["api", "buckets"] and len(seg) >= 4:
            ns, name, rest = seg[2], seg[3], seg[4:]
            if not rest and m == "GET":
                return self._bucket_info(ns, name)
            if rest[:1] == ["tree"] and m == "GET":
                return self._bucket_tree(ns, name, "/".join(rest[1:]))
            if rest == ["paths-info"] and m == "POST":
                return self._bucket_paths_info(ns, name)
        if (
            seg[:1] == ["buckets"]
            and len(seg) >= 4
            and seg[3] == "resolve"
            and m in ("GET", "HEAD")
        ):
            return self._bucket_resolve(seg[1], seg[2], "/".join(seg[4:]))
        # Includes /api/agent-harnesses (agent detection; the client swallows errors).
        return self._error(404, None, f"fake hub: no route for {m} {self.path}")

    # -- datasets --------------------------------------------------------------
    def _get_dataset(self, ns, name, rev) -> _Repo | None:
        repo = self.fake._dataset(ns, name, rev)
        if repo is None:
            self._error(404, "RepoNotFound", f"Repository Not Found for url: {self.path}")
            return None
        if repo == "norev":
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            return None
        return repo

    def _dataset_info(self, ns, name, rev):
        repo = self._get_dataset(ns, name, rev)
        if repo is None:
            return
        files = sorted(
            p.relative_to(repo.folder).as_posix() for p in repo.folder.rglob("*") if p.is_file()
        )
        self._json(
            {
                "_id": repo.sha[:24],
                "id": repo.id,
                "author": ns,
                "sha": repo.sha,
                "private": False,
                "gated": False,
                "disabled": False,
                "lastModified": FAKE_DATE,
                "createdAt": FAKE_DATE,
                "tags": [],
                "downloads": 0,
                "likes": 0,
                "siblings": [{"rfilename": f} for f in files],
            }
        )

    @staticmethod
    def _repo_entry(folder: Path, p: Path) -> dict:
        rel = p.relative_to(folder).as_posix()
        if p.is_dir():
            return {"type": "directory", "oid": fake_sha("dir", rel), "path": rel}
        return {"type": "file", "oid": _git_blob_oid(p), "size": p.stat().st_size, "path": rel}

    def _dataset_tree(self, ns, name, rev, path):
        repo = self._get_dataset(ns, name, rev)
        if repo is None:
            return
        target = _safe_join(repo.folder, path)
        if target is None or not target.is_dir():
            # The real Hub answers 404 EntryNotFound for a missing folder (and for a file path).
            return self._error(404, "EntryNotFound", f"{path} does not exist on {rev}")
        recursive = self.query.get("recursive", ["false"])[0].lower() == "true"
        items = sorted(target.rglob("*") if recursive else target.iterdir())
        self._json([self._repo_entry(repo.folder, p) for p in items])

    def _dataset_paths_info(self, ns, name, rev):
        repo = self._get_dataset(ns, name, rev)
        if repo is None:
            return
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())  # form-encoded paths=..&paths=..
        out = []
        for rel in form.get("paths", []):
            p = _safe_join(repo.folder, rel)
            if p is not None and p.exists() and p != repo.folder.resolve():
                out.append(self._repo_entry(repo.folder.resolve(), p))
        self._json(out)  # missing paths are silently left out, as on the Hub

    def _dataset_resolve(self, ns, name, rev, path):
        repo = self._get_dataset(ns, name, rev)
        if repo is None:
            return
        p = _safe_join(repo.folder, path)
        if p is None or not p.is_file():
            return self._error(404, "EntryNotFound", f"{path} does not exist on {rev}")
        self._serve_file(p, {"X-Repo-Commit": repo.sha, "ETag": f'"{_git_blob_oid(p)}"'})

    # -- buckets ---------------------------------------------------------------
    def _get_bucket(self, ns, name) -> _Repo | None:
        bucket = self.fake._bucket(ns, name)
        if bucket is None:
            # RepoNotFound is what makes the client raise BucketNotFoundError
            # (and HfFileSystem FileNotFoundError); other codes give HfHubHTTPError.
            self._error(404, "RepoNotFound", f"Bucket not found: {ns}/{name}")
        return bucket

    def _bucket_info(self, ns, name):
        b = self._get_bucket(ns, name)
        if b is None:
            return
        files = [p for p in b.folder.rglob("*") if p.is_file()]
        self._json(
            {
                "id": b.id,
                "private": False,
                "createdAt": FAKE_DATE,
                "size": sum(p.stat().st_size for p in files),
                "totalFiles": len(files),
            }
        )

    @staticmethod
    def _bucket_entry(folder: Path, p: Path) -> dict:
        rel = p.relative_to(folder).as_posix()
        if p.is_dir():
            return {"type": "directory", "path": rel, "uploadedAt": FAKE_DATE}
        st = p.stat()
        return {
            "type": "file",
            "path": rel,
            "size": st.st_size,
            # Required by BucketFile(); harmless while HF_HUB_DISABLE_XET=1.
            "xetHash": hashlib.sha256(p.read_bytes()).hexdigest(),
            "mtime": FAKE_DATE,
            "uploadedAt": FAKE_DATE,
        }

    def _bucket_tree(self, ns, name, prefix):
        b = self._get_bucket(ns, name)
        if b is None:
            return
        target = _safe_join(b.folder, prefix)
        recursive = self.query.get("recursive", ["false"])[0].lower() == "true"
        if target is None or not target.exists():
            # Buckets are prefix stores: an unknown prefix lists nothing (the FS
            # turns an empty listing of a non-root path into FileNotFoundError).
            return self._json([])
        if target.is_file():
            return self._json([self._bucket_entry(b.folder.resolve(), target)])
        items = sorted(target.rglob("*") if recursive else target.iterdir())
        if recursive:  # the real API lists only objects when recursive
            items = [p for p in items if p.is_file()]
        self._json([self._bucket_entry(b.folder.resolve(), p) for p in items])

    def _bucket_paths_info(self, ns, name):
        b = self._get_bucket(ns, name)
        if b is None:
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        out = []
        for rel in body.get("paths", []):
            p = _safe_join(b.folder, rel)
            if p is not None and p.is_file():  # only files are supported, missing are skipped
                out.append(self._bucket_entry(b.folder.resolve(), p))
        self._json(out)

    def _bucket_resolve(self, ns, name, path):
        b = self._get_bucket(ns, name)
        if b is None:
            return
        p = _safe_join(b.folder, path)
        if p is None or not p.is_file():
            return self._error(404, "EntryNotFound", f"{path} does not exist in bucket {ns}/{name}")
        self._serve_file(p, {"ETag": f'"{hashlib.sha256(p.read_bytes()).hexdigest()}"'})

    # -- file bodies -----------------------------------------------------------
    def _serve_file(self, p: Path, headers: dict[str, str]):
        data = p.read_bytes()
        size = len(data)
        headers = {**headers, "Accept-Ranges": "bytes"}
        rng = self.headers.get("Range")
        status = 200
        if rng:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            if not m or (m.group(1) == "" and m.group(2) == ""):
                return self._error(416, None, f"bad range {rng}")
            if m.group(1) == "":  # suffix range: last N bytes
                start, end = max(0, size - int(m.group(2))), size - 1
            else:
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            if start >= size and size > 0:
                return self._send(416, b"", {"Content-Range": f"bytes */{size}"})
            data = data[start : end + 1]
            status = 206
            headers["Content-Range"] = f"bytes {start}-{max(start, end)}/{size}"
        if self.command == "GET":
            with self.fake._lock:
                self.fake.bytes_served += len(data)
        self._send(status, data, headers, ctype="application/octet-stream")
