"""The blocking Runtime API client of the sync driver: plain sockets, no asyncio.

The same sans-I/O HTTP codec (:mod:`aiolambda._core.http`) and the same exchange rules
(:mod:`aiolambda._core.exchange`: invocation parsing, retry policy, how a posted
answer's status is settled) as the asyncio client; only the waiting differs. One
connection carries one request at a time; it is opened on first use and reopened by
the request after a failure.
"""

from __future__ import annotations

import select
import socket
import time
from typing import TYPE_CHECKING, Final

from aiolambda import __version__
from aiolambda._core import protocol as p
from aiolambda._core.errors import NO_REDACTION, ErrorReport, Redactor, RuntimeAPIError
from aiolambda._core.exchange import MAX_ATTEMPTS, Invocation, backoff, log, settle, snippet
from aiolambda._core.http import HttpParseError, HttpResponse, RequestEncoder, ResponseParser
from aiolambda._core.transport import TransportError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

_USER_AGENT: Final = f"aiolambda/{__version__}"
_RECV_BYTES: Final = 256 * 1024


class BlockingConnection:
    """One keep-alive HTTP/1.1 connection on a blocking socket; no timeouts (``/next``
    may span a freeze of hours)."""

    __slots__ = ("_encoder", "_host", "_port", "_sock")

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._encoder = RequestEncoder(host, port, _USER_AGENT)
        self._sock: socket.socket | None = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Sequence[tuple[str, str]] = (),
        give_up: Interruption | None = None,
    ) -> HttpResponse:
        """Send one request and return the complete response; raises ``TransportError``.

        ``give_up``: while no byte of the response has arrived, the wait also watches a
        wake-up socket and raises :class:`Abandoned` once the interruption says so.
        """
        first, rest = self._encoder.encode(method, path, body, headers)
        sock = self._ready()
        sent = False
        try:
            sock.sendall(first + rest if rest else first)
            sent = True
            parser = ResponseParser()
            while True:
                if give_up is not None and not parser.started:
                    give_up.wait(sock)
                data = sock.recv(_RECV_BYTES)
                response = parser.feed_eof() if not data else parser.feed(data)
                if response is not None:
                    break
            if not data or parser.trailing or not parser.keep_alive:
                self.close()
            return response
        except (OSError, HttpParseError) as exc:
            self.close()
            what = "invalid HTTP response from" if isinstance(exc, HttpParseError) else "lost"
            raise TransportError(f"connection to the Runtime API {what}: {exc}", sent=sent) from exc
        except BaseException:
            self.close()  # interrupted mid-exchange: the stream position is unknown
            raise

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def _ready(self) -> socket.socket:
        sock = self._sock
        if sock is not None:
            # Readable while idle: the peer closed it (or sent junk); writing into it
            # would turn a clean reconnect into a lost request.
            if not _readable(sock, 0.0):
                return sock
            self.close()
        try:
            sock = socket.create_connection((self._host, self._port))
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise TransportError(
                f"cannot connect to the Runtime API at {self._host}:{self._port}: {reason}",
                sent=False,
            ) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        return sock


class Abandoned(Exception):
    """A request given up on before any of its response arrived (see :class:`Interruption`)."""


class Interruption:
    """Lets a signal end a blocking wait on a response, race-free.

    ``signal.set_wakeup_fd`` writes to :attr:`wake` when a signal arrives; the wait
    watches it beside the connection, and gives up when ``wanted()`` (set by the Python
    handler) is true and no byte of the response has arrived within ``grace_s``: an
    event already handed out is taken rather than lost.
    """

    __slots__ = ("_grace_s", "_wanted", "wake")

    def __init__(self, wake: socket.socket, wanted: Callable[[], bool], grace_s: float) -> None:
        self.wake = wake
        self._wanted = wanted
        self._grace_s = grace_s

    def wait(self, sock: socket.socket) -> None:
        """Return when ``sock`` is readable; raise :class:`Abandoned` when given up."""
        while True:
            # Checked first: the Python handler may have run before this wait began.
            if self._wanted() and not _readable(sock, self._grace_s):
                raise Abandoned
            if _readable(sock, None, also=self.wake):
                return
            try:
                self.wake.recv(64)
            except BlockingIOError:
                pass


def _readable(
    sock: socket.socket, timeout_s: float | None, also: socket.socket | None = None
) -> bool:
    """Whether ``sock`` is readable (or closed) within ``timeout_s``; ``also`` ends the wait
    too. ``poll``, not ``select``: the function may hold descriptors past FD_SETSIZE."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    if also is not None:
        poller.register(also, select.POLLIN)
    timeout_ms = None if timeout_s is None else int(timeout_s * 1000)
    return any(fd == sock.fileno() for fd, _ in poller.poll(timeout_ms))


class SyncRuntimeAPIClient:
    """``/next``, ``/response``, ``/error``, ``/init/error``, SnapStart's ``/restore/*`` and
    the extension calls over one blocking connection (see ``RuntimeAPIClient``)."""

    __slots__ = ("_conn", "_redact")

    def __init__(self, host: str, port: int, redact: Redactor = NO_REDACTION) -> None:
        self._conn = BlockingConnection(host, port)
        self._redact = redact

    def next_invocation(self, give_up: Interruption | None = None) -> HttpResponse:
        """Long-poll for the next event; never times out (the process may be frozen).

        Raises :class:`Abandoned` when ``give_up`` ends the wait (SIGTERM).
        """
        response = self._request("GET", p.NEXT_PATH, b"", (), give_up)
        if response.status == p.STATUS_OK:
            return response
        raise RuntimeAPIError(
            f"/next answered {response.status}: {snippet(response.body, self._redact)}; "
            "the environment cannot serve invocations"
        )

    def post_response(self, inv: Invocation, body: bytes, content_type: str) -> int:
        headers = [("Content-Type", content_type)]
        if inv.invocation_id is not None:
            headers.append((p.H_INVOCATION_ID, inv.invocation_id))
        response = self._request("POST", p.response_path(inv.request_id), body, headers)
        return settle(inv.request_id, "response", response, self._redact)

    def post_error(self, inv: Invocation, report: ErrorReport) -> int:
        headers = [("Content-Type", p.CT_JSON), (p.H_ERROR_TYPE, report.header_type)]
        if report.xray_cause is not None:
            headers.append((p.H_XRAY_ERROR_CAUSE, report.xray_cause.decode("ascii")))
        if inv.invocation_id is not None:
            headers.append((p.H_INVOCATION_ID, inv.invocation_id))
        response = self._request("POST", p.error_path(inv.request_id), report.body(), headers)
        return settle(inv.request_id, "error", response, self._redact)

    def post_init_error(self, report: ErrorReport, path: str = p.INIT_ERROR_PATH) -> int:
        """Report a failed init (or, with ``path``, a failed restore); the caller exits."""
        headers = [("Content-Type", p.CT_JSON), (p.H_ERROR_TYPE, report.header_type)]
        response = self._request("POST", path, report.body(), headers)
        if response.status not in (p.STATUS_ACCEPTED, p.STATUS_FORBIDDEN):
            log.warning("%s answered %d", path, response.status)
        return response.status

    def restore_next(self) -> None:
        """SnapStart: pending while Lambda snapshots the environment and restores it."""
        response = self._request("GET", p.RESTORE_NEXT_PATH, b"", ())
        if response.status != p.STATUS_OK:
            raise RuntimeAPIError(
                f"/restore/next answered {response.status}: {snippet(response.body, self._redact)}"
            )

    def register_extension(self, name: str) -> str:
        """Register an internal extension that subscribes to no events; returns its id."""
        headers = [(p.H_EXTENSION_NAME, name), ("Content-Type", p.CT_JSON)]
        response = self._request("POST", p.EXTENSION_REGISTER_PATH, b'{"events":[]}', headers)
        extension_id = response.headers.get(p.H_EXTENSION_ID.lower(), "")
        if response.status != p.STATUS_OK or not extension_id:
            raise RuntimeAPIError(
                f"extension registration answered {response.status}: "
                f"{snippet(response.body, self._redact)}"
            )
        return extension_id

    def next_extension_event(self, extension_id: str) -> HttpResponse:
        return self._request("GET", p.EXTENSION_NEXT_PATH, b"", [(p.H_EXTENSION_ID, extension_id)])

    def close(self) -> None:
        self._conn.close()

    def _request(
        self,
        method: str,
        path: str,
        body: bytes,
        headers: Sequence[tuple[str, str]],
        give_up: Interruption | None = None,
    ) -> HttpResponse:
        # A POST that may have reached Lambda is retried too: if it had been taken,
        # the retry gets 400 (already answered) and nothing is answered twice.
        for attempt in range(MAX_ATTEMPTS):
            try:
                return self._conn.request(method, path, body, headers, give_up)
            except TransportError as exc:
                if attempt + 1 == MAX_ATTEMPTS:
                    raise RuntimeAPIError(
                        f"{method} {path}: Runtime API unreachable after {MAX_ATTEMPTS} "
                        f"attempts: {exc}"
                    ) from exc
                if delay := backoff(attempt + 1):
                    time.sleep(delay)
        raise AssertionError("unreachable")
