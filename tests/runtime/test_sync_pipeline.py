"""Pipelined ``/next`` on the sync driver, against a small Runtime API of the test's own.

The sync driver sends ``GET /next`` in the same write as each answer (HTTP/1.1
pipelining) and reads its response after the answer's. A Runtime API that refuses (it
closes the connection after the answer, or answers the ``GET`` sent ahead with an error
a ``GET`` on its own would not get) turns pipelining off for good in that process, and
nothing is lost: every event is answered exactly once. ``AIOLAMBDA_PIPELINE=0`` never
pipelines. SIGTERM arriving once a ``GET`` is out ahead: the event it brings is taken.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from aiolambda._core import protocol as p
from tests.lambda_env import lambda_environ

FIXTURES = Path(__file__).parent / "fixtures"
WAIT_S = 60.0
EVENTS = 5
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:pipeline"


@dataclass
class Request:
    method: str
    path: str
    pipelined: bool  # its bytes were in hand before the previous response was written


@dataclass
class PipeServer:
    """A Runtime API on one blocking socket per connection, served in threads.

    ``mode``: ``accept`` serves pipelined requests in order; ``close`` ends the
    connection after answering a request that has another pipelined behind it;
    ``error`` answers a pipelined ``GET /next`` with 400. ``on_pipelined_next`` runs
    when a ``GET /next`` is seen behind a request, before that request is answered.
    """

    mode: str
    events: list[str]
    on_pipelined_next: object = None
    too_large: frozenset[str] = frozenset()  # their /response gets 413
    requests: list[Request] = field(default_factory=list)
    answers: dict[str, list[object]] = field(default_factory=dict)
    delivered: list[str] = field(default_factory=list)
    connections: int = 0
    all_answered: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._listener.getsockname()[1]}"

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def pipelined_nexts(self) -> int:
        return sum(1 for r in self.requests if r.path == p.NEXT_PATH and r.pipelined)

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        ahead = False
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                method, path, _ = lines[0].split(" ")
                fields = dict(line.split(": ", 1) for line in lines[1:])
                length = int(fields.get("Content-Length", "0"))
                while len(buf) < length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                body, buf = buf[:length], buf[length:]
                request = Request(method, path, ahead)
                with self._lock:
                    self.requests.append(request)
                ahead = bool(buf)  # the next request came before this one's response
                if ahead and buf.startswith(b"GET " + p.NEXT_PATH.encode()):
                    if callable(self.on_pipelined_next):
                        self.on_pipelined_next()
                    if self.mode == "close":
                        with self._lock:
                            self.requests.append(Request("GET", p.NEXT_PATH, True))
                        conn.sendall(self._respond(method, path, body))
                        return  # the GET behind the answer is never answered
                if request.pipelined and path == p.NEXT_PATH and self.mode == "error":
                    conn.sendall(_simple(400, b'{"errorMessage":"one at a time"}'))
                    continue
                conn.sendall(self._respond(method, path, body))

    def _respond(self, method: str, path: str, body: bytes) -> bytes:
        if path == p.NEXT_PATH:
            with self._lock:
                if not self.events:
                    return b""  # parked: no response until the process ends
                request_id = self.events.pop(0)
                self.delivered.append(request_id)
            event = json.dumps({"id": request_id}).encode()
            return (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"{p.H_REQUEST_ID}: {request_id}\r\n".encode()
                + f"{p.H_DEADLINE_MS}: {int(time.time() * 1000) + 600_000}\r\n".encode()
                + f"{p.H_FUNCTION_ARN}: {FUNCTION_ARN}\r\n".encode()
                + f"Content-Length: {len(event)}\r\n\r\n".encode()
                + event
            )
        request_id = path.rsplit("/", 2)[-2]
        if request_id in self.too_large and path.endswith("/response"):
            return _simple(413, b'{"errorMessage":"too large"}')
        with self._lock:
            answers = self.answers.setdefault(request_id, [])
            answers.append(body if path.endswith("/response") else json.loads(body)["errorType"])
            if len(self.answers) == len(self.delivered) and not self.events:
                self.all_answered.set()
        return _simple(202 if len(answers) == 1 else 400, b'{"status":"OK"}')


def _simple(status: int, body: bytes) -> bytes:
    return f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


def _start(server: PipeServer, **env: str) -> subprocess.Popen[bytes]:
    environ = lambda_environ(
        runtime_api=server.address,
        handler="drivers.echo.handler",
        task_root=str(FIXTURES),
        AIOLAMBDA_DRIVER="sync",
        **env,
    )
    return subprocess.Popen(
        [sys.executable, "-m", "aiolambda"],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _stop(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=WAIT_S)
    return proc.returncode, out.decode(errors="replace")


def _serve_all(mode: str, **env: str) -> tuple[PipeServer, str]:
    ids = [f"req-{mode}-{i}" for i in range(EVENTS)]
    server = PipeServer(mode, list(ids))
    proc = _start(server, **env)
    try:
        assert server.all_answered.wait(WAIT_S), (server.requests, proc.poll())
    finally:
        code, out = _stop(proc)
        server.close()
    assert code == 0, out
    # Every event answered exactly once, with its own body.
    assert server.delivered == ids
    assert server.answers == {
        i: [json.dumps({"id": i}, separators=(",", ":")).encode()] for i in ids
    }
    return server, out


def test_each_answer_carries_the_next_get() -> None:
    server, _ = _serve_all("accept")
    # Every answer, the last one too, had GET /next behind it in the same write.
    assert server.pipelined_nexts() == EVENTS, server.requests
    assert server.connections == 1


def test_pipelining_can_be_turned_off() -> None:
    server, _ = _serve_all("accept", AIOLAMBDA_PIPELINE="0")
    assert server.pipelined_nexts() == 0, server.requests
    assert server.connections == 1


@pytest.mark.parametrize("mode", ["close", "error"])
def test_a_runtime_api_that_refuses_pipelining_is_spoken_to_one_request_at_a_time(
    mode: str,
) -> None:
    server, _ = _serve_all(mode)
    # Tried once, refused, never again; the GET was asked again on its own (every
    # event was delivered and answered once: see _serve_all).
    assert server.pipelined_nexts() == 1, server.requests


def test_sigterm_after_the_get_went_out_ahead_takes_the_event_it_brings() -> None:
    ids = ["req-first", "req-second"]
    proc: subprocess.Popen[bytes] | None = None

    def sigterm() -> None:
        # The answer to the first event is not yet acknowledged: the runtime, told to
        # stop now, has a GET out ahead, whose event is handed out below.
        if proc is not None and len(server.delivered) == 1:
            os.kill(proc.pid, signal.SIGTERM)

    server = PipeServer("accept", list(ids), on_pipelined_next=sigterm)
    proc = _start(server)
    try:
        assert server.all_answered.wait(WAIT_S), (server.requests, proc.poll())
        code, out = proc.wait(timeout=WAIT_S), ""
    finally:
        if proc.poll() is None:
            code, out = _stop(proc)
        server.close()
    assert code == 0, out
    assert server.delivered == ids
    assert set(server.answers) == set(ids)
    # Stopping: the second answer went out on its own, and no GET followed it.
    assert server.pipelined_nexts() == 1
    assert [r.path for r in server.requests].count(p.NEXT_PATH) == 2


def test_a_request_while_the_get_is_out_ahead_goes_on_a_connection_of_its_own() -> None:
    """A 413 for a pipelined answer: the error follows on another connection (the GET
    behind the answer may be pending on the first), and the GET still brings the
    next event."""
    ids = [f"req-413-{i}" for i in range(3)]
    server = PipeServer("accept", list(ids), too_large=frozenset({ids[1]}))
    proc = _start(server)
    try:
        assert server.all_answered.wait(WAIT_S), (server.requests, proc.poll())
    finally:
        code, out = _stop(proc)
        server.close()
    assert code == 0, out
    assert server.delivered == ids
    echo = {i: [json.dumps({"id": i}, separators=(",", ":")).encode()] for i in ids}
    assert server.answers == {**echo, ids[1]: [p.FUNCTION_RESPONSE_TOO_LARGE]}
    assert server.connections == 2
    assert server.pipelined_nexts() == len(ids), server.requests
