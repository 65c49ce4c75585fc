"""A TCP proxy (threads, blocking sockets) that shows how a runtime writes its requests.

It sits between a runtime and its Runtime API (RIE, ``aiolambda serve``) and records,
for every read from the runtime's side, the request lines that read held. A runtime
that waits for each answer before its next request never has two requests in one read
(the proxy reads the first before forwarding it, so its answer cannot exist yet); one
that pipelines writes the answer and ``GET /next`` at once, and on loopback a single
small write arrives in a single read. So two request lines in one read mean pipelining,
deterministically, seen from outside the runtime.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

_REQUEST_LINE = re.compile(rb"(?:GET|POST) (/\S*) HTTP/1\.1\r\n")
_READ_SIZE = 1 << 20


@dataclass
class WireProxy:
    """``upstream()`` gives the Runtime API's (host, port) when a connection arrives."""

    upstream: Callable[[], tuple[str, int]]
    port: int = 0
    reads: list[tuple[int, list[str]]] = field(default_factory=list)  # (connection, paths)
    connections: int = 0
    _listener: socket.socket | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sockets: list[socket.socket] = field(default_factory=list)

    def __enter__(self) -> WireProxy:
        listener = socket.create_server(("127.0.0.1", 0))
        self._listener = listener
        self.port = listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            sockets = [self._listener, *self._sockets]
        for sock in sockets:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def requests(self) -> list[tuple[int, str]]:
        """Every request (connection, path) in the order the runtime sent them."""
        with self._lock:
            return [(conn, path) for conn, paths in self.reads for path in paths]

    def pipelined(self) -> list[list[str]]:
        """The reads that held more than one request (their paths)."""
        with self._lock:
            return [paths for _, paths in self.reads if len(paths) > 1]

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream())
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.connections += 1
                index = self.connections
                self._sockets += (client, server)
            threading.Thread(target=self._pump, args=(client, server, index), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, 0), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, index: int) -> None:
        """Copy ``src`` to ``dst``; for the runtime's side (``index`` > 0) record reads."""
        try:
            while data := src.recv(_READ_SIZE):
                if index:
                    paths = [m.group(1).decode() for m in _REQUEST_LINE.finditer(data)]
                    with self._lock:
                        self.reads.append((index, paths))
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)
