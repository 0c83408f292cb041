"""A TCP proxy on 127.0.0.1 that spoils the server->client stream on purpose.

After ``after`` bytes it either holds the connection open and forwards nothing
(``mode="stall"``: a dead link that TCP never reports) or closes it cleanly
(``mode="close"``); ``rate`` throttles the stream instead (bytes/s). Only the
first ``faulty`` connections are spoiled, so a retry can get through.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Literal


class TcpProxy:
    def __init__(
        self,
        target_port: int,
        *,
        mode: Literal["stall", "close", "slow"],
        after: int = 0,
        rate: float = 0.0,
        faulty: int = 1,
    ) -> None:
        self.target = ("127.0.0.1", target_port)
        self.mode, self.after, self.rate, self.faulty = mode, after, rate, faulty
        self.connections = 0
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
                server = socket.create_connection(self.target)
            except OSError:
                return
            self.connections += 1
            spoil = self.connections <= self.faulty
            for src, dst, down in ((client, server, False), (server, client, True)):
                threading.Thread(
                    target=self._pipe, args=(src, dst, down and spoil), daemon=True
                ).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, spoil: bool) -> None:
        sent = 0
        try:
            while data := src.recv(65536):
                if spoil and self.mode == "slow":
                    time.sleep(len(data) / self.rate)
                elif spoil and sent + len(data) > self.after:
                    dst.sendall(data[: self.after - sent])
                    if self.mode == "stall":
                        self._stop.wait()  # forward nothing more, close nothing
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.close()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
