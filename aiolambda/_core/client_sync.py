"""The blocking Runtime API client of the sync driver: plain sockets, no asyncio.

The same sans-I/O HTTP codec (:mod:`aiolambda._core.http`) and the same exchange rules
(:mod:`aiolambda._core.exchange`: invocation parsing, retry policy, how a posted
answer's status is settled) as the asyncio client; only the waiting differs. One
connection carries one request at a time, or an answer with ``GET /next`` pipelined
behind it; it is opened on first use and reopened by the request after a failure.
"""

from __future__ import annotations

import select
import socket
import time
from typing import TYPE_CHECKING, Final

from aiolambda import __version__
from aiolambda._core import protocol as p
from aiolambda._core.errors import NO_REDACTION, ErrorReport, Redactor, RuntimeAPIError
from aiolambda._core.exchange import (
    MAX_ATTEMPTS,
    Invocation,
    Pipelining,
    backoff,
    log,
    settle,
    snippet,
    unreachable,
)
from aiolambda._core.http import HttpParseError, HttpResponse, RequestEncoder, ResponseParser
from aiolambda._core.transport import TransportError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

_USER_AGENT: Final = f"aiolambda/{__version__}"
# A response's first read: 64 KiB stays below malloc's mmap threshold, where 256 KiB
# costs an mmap, an mremap and a munmap per read. The reads after it (a body too big
# for one) take 256 KiB at a time.
_FIRST_RECV_BYTES: Final = 64 * 1024
_RECV_BYTES: Final = 256 * 1024


class BlockingConnection:
    """One keep-alive HTTP/1.1 connection on a blocking socket; no timeouts (``/next``
    may span a freeze of hours).

    A request may carry ``GET /next`` in its write (``ahead``): its response is then read
    later, by :meth:`response_ahead`, from the bytes that followed the first response
    and the socket. While it is outstanding the connection takes no other request.
    """

    __slots__ = ("_encoder", "_host", "_idle", "_leftover", "_port", "_sock", "ahead")

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._encoder = RequestEncoder(host, port, _USER_AGENT)
        self._sock: socket.socket | None = None
        self._idle: select.poll | None = None  # watches the idle socket; built per socket
        self._leftover = b""
        self.ahead = False  # a GET /next went out and its response is still to be read

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Sequence[tuple[str, str]] = (),
        give_up: Interruption | None = None,
        *,
        ahead: str | None = None,
    ) -> HttpResponse:
        """Send one request and return the complete response; raises ``TransportError``.

        ``give_up``: while no byte of the response has arrived, the wait also watches a
        wake-up socket and raises :class:`Abandoned` once the interruption says so.
        ``ahead``: a path to ``GET`` in the same write; :attr:`ahead` tells whether its
        response can still come (false when the peer ended the connection first).
        """
        assert not self.ahead, "a request sent ahead is still unanswered"
        first, rest = self._encoder.encode(method, path, body, headers)
        if ahead is not None:
            rest += self._encoder.encode("GET", ahead, b"", ())[0]
        sock = self._ready()
        sent = False
        try:
            sock.sendall(first + rest if rest else first)
            sent = True
            return self._receive(sock, ResponseParser(), give_up, ahead is not None)
        except (OSError, HttpParseError) as exc:
            self.close()
            what = "invalid HTTP response from" if isinstance(exc, HttpParseError) else "lost"
            raise TransportError(f"connection to the Runtime API {what}: {exc}", sent=sent) from exc
        except BaseException:
            self.close()  # interrupted mid-exchange: the stream position is unknown
            raise

    def response_ahead(self, give_up: Interruption | None = None) -> HttpResponse:
        """The response to the ``GET`` sent ahead; raises ``TransportError``."""
        sock = self._sock
        assert self.ahead and sock is not None, "no request was sent ahead"
        self.ahead = False
        parser = ResponseParser()
        leftover, self._leftover = self._leftover, b""
        try:
            if leftover and (response := parser.feed(leftover)) is not None:
                if parser.trailing or not parser.keep_alive:
                    self.close()
                return response
            return self._receive(sock, parser, give_up, False)
        except (OSError, HttpParseError) as exc:
            self.close()
            what = "invalid HTTP response from" if isinstance(exc, HttpParseError) else "lost"
            raise TransportError(f"connection to the Runtime API {what}: {exc}", sent=True) from exc
        except BaseException:
            self.close()
            raise

    def _receive(
        self,
        sock: socket.socket,
        parser: ResponseParser,
        give_up: Interruption | None,
        ahead: bool,
    ) -> HttpResponse:
        size = _FIRST_RECV_BYTES
        while True:
            if give_up is not None and not parser.started:
                give_up.wait(sock)
            data = sock.recv(size)
            response = parser.feed_eof() if not data else parser.feed(data)
            if response is not None:
                break
            size = _RECV_BYTES
        if data and parser.keep_alive and (ahead or not parser.trailing):
            if ahead:
                # The bytes after this response begin the response to the GET ahead.
                self._leftover = parser.trailing
                self.ahead = True
        else:
            self.close()
        return response

    def close(self) -> None:
        sock, self._sock = self._sock, None
        self.ahead = False
        self._leftover = b""
        if sock is not None:
            sock.close()

    def _ready(self) -> socket.socket:
        sock = self._sock
        if sock is not None:
            # Readable while idle: the peer closed it (or sent junk); writing into it
            # would turn a clean reconnect into a lost request.
            assert self._idle is not None
            if not self._idle.poll(0):
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
        self._idle = select.poll()
        self._idle.register(sock, select.POLLIN)
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

    __slots__ = ("_fd", "_grace_s", "_poll", "_wanted", "wake")

    def __init__(self, wake: socket.socket, wanted: Callable[[], bool], grace_s: float) -> None:
        self.wake = wake
        self._wanted = wanted
        self._grace_s = grace_s
        # One poll object for the connection and the wake-up socket, rebuilt only when
        # the connection's descriptor changes (after a reconnect).
        self._fd = -1
        self._poll = select.poll()

    def wait(self, sock: socket.socket) -> None:
        """Return when ``sock`` is readable; raise :class:`Abandoned` when given up."""
        fd = sock.fileno()
        if fd != self._fd:
            self._poll = select.poll()
            self._poll.register(fd, select.POLLIN)
            self._poll.register(self.wake, select.POLLIN)
            self._fd = fd
        while True:
            # Checked first: the Python handler may have run before this wait began.
            if self._wanted() and not _readable(sock, self._grace_s):
                raise Abandoned
            for ready, _ in self._poll.poll():
                if ready == fd:
                    return
            try:
                self.wake.recv(64)
            except BlockingIOError:
                pass


def _readable(sock: socket.socket, timeout_s: float) -> bool:
    """Whether ``sock`` is readable (or closed) within ``timeout_s``. ``poll``, not
    ``select``: the function may hold descriptors past FD_SETSIZE."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(int(timeout_s * 1000)))


class SyncRuntimeAPIClient:
    """``/next``, ``/response``, ``/error``, ``/init/error``, SnapStart's ``/restore/*`` and
    the extension calls over one blocking connection (see ``RuntimeAPIClient``).

    With ``pipeline`` on, an answer posted with ``then_next`` carries ``GET /next`` in
    its write and :meth:`next_invocation` reads that ``GET``'s response; a request made
    meanwhile goes over a connection of its own (the ``GET`` may be pending ahead of it).
    """

    __slots__ = ("_conn", "_host", "_pipeline", "_port", "_redact")

    def __init__(
        self,
        host: str,
        port: int,
        redact: Redactor = NO_REDACTION,
        pipeline: Pipelining | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._conn = BlockingConnection(host, port)
        self._redact = redact
        self._pipeline = pipeline or Pipelining(False)

    @property
    def ahead(self) -> bool:
        """A ``GET /next`` went out with the last answer: the next call is
        :meth:`next_invocation`, which takes its response (an event may be in it)."""
        return self._conn.ahead

    def next_invocation(self, give_up: Interruption | None = None) -> HttpResponse:
        """Long-poll for the next event; never times out (the process may be frozen).

        Raises :class:`Abandoned` when ``give_up`` ends the wait (SIGTERM).
        """
        if self._conn.ahead:
            try:
                response = self._conn.response_ahead(give_up)
            except TransportError as exc:
                self._pipeline.refuse(str(exc))
            else:
                if response.status == p.STATUS_OK:
                    return response
                # No event came with it, so asking again takes nothing twice.
                self._pipeline.refuse(f"/next sent ahead answered {response.status}")
        response = self._request("GET", p.NEXT_PATH, b"", (), give_up)
        if response.status == p.STATUS_OK:
            return response
        raise RuntimeAPIError(
            f"/next answered {response.status}: {snippet(response.body, self._redact)}; "
            "the environment cannot serve invocations"
        )

    def post_response(
        self, inv: Invocation, body: bytes, content_type: str, *, then_next: bool = False
    ) -> int:
        """Post a handler's result; ``then_next``: the caller's next call is
        :meth:`next_invocation`, so ``GET /next`` may go out in the same write."""
        headers = [("Content-Type", content_type)]
        if inv.invocation_id is not None:
            headers.append((p.H_INVOCATION_ID, inv.invocation_id))
        path = p.response_path(inv.request_id)
        response = self._request("POST", path, body, headers, then_next=then_next)
        return settle(inv.request_id, "response", response, self._redact)

    def post_error(self, inv: Invocation, report: ErrorReport, *, then_next: bool = False) -> int:
        """Post an invocation's error; ``then_next`` as for :meth:`post_response`."""
        headers = [("Content-Type", p.CT_JSON), (p.H_ERROR_TYPE, report.header_type)]
        if report.xray_cause is not None:
            headers.append((p.H_XRAY_ERROR_CAUSE, report.xray_cause.decode("ascii")))
        if inv.invocation_id is not None:
            headers.append((p.H_INVOCATION_ID, inv.invocation_id))
        path = p.error_path(inv.request_id)
        response = self._request("POST", path, report.body(), headers, then_next=then_next)
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
        *,
        then_next: bool = False,
    ) -> HttpResponse:
        # A POST that may have reached Lambda is retried too: if it had been taken,
        # the retry gets 400 (already answered) and nothing is answered twice.
        for attempt in range(MAX_ATTEMPTS):
            conn = self._conn
            aside = conn.ahead  # e.g. the error after a 413: the GET ahead waits its turn
            if aside:
                conn = BlockingConnection(self._host, self._port)
            pipelined = then_next and self._pipeline.on and not aside
            try:
                response = conn.request(
                    method, path, body, headers, give_up, ahead=p.NEXT_PATH if pipelined else None
                )
                if pipelined and not conn.ahead:
                    self._pipeline.refuse("the connection ended after the answer")
                return response
            except TransportError as exc:
                if pipelined and exc.sent:
                    # Perhaps a server that hangs up on a second request in one write.
                    self._pipeline.refuse(str(exc))
                if attempt + 1 == MAX_ATTEMPTS:
                    raise unreachable(method, path, exc) from exc
                if delay := backoff(attempt + 1):
                    time.sleep(delay)
            finally:
                if aside:
                    conn.close()
        raise AssertionError("unreachable")
