"""AWS's Runtime Interface Emulator (RIE) as a test oracle: found, started, invoked, stopped.

RIE (``aws-lambda-rie``) is the Go program of AWS's base images, built from the same
code as Lambda's Runtime API, so it is an oracle aiolambda's own emulator cannot be. It
is found through ``AIOLAMBDA_RIE`` or at ``../shared/tools/aws-lambda-rie`` next to
the repository; tests that need it skip, saying why, when it is absent
(:data:`requires_rie`, :func:`require_rie`), and fail in CI (``CI=true``: see ``tests.ci``).

:class:`RieFunction` starts RIE with a runtime command (aiolambda's, awslambdaric's, or
any other) in Lambda's environment built by ``tests.lambda_env``, invokes it
sequentially (RIE crashes on concurrent invokes) and always kills RIE and the runtime
at the end. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.ci import in_ci, skip_or_fail
from tests.lambda_env import lambda_environ

REPO = Path(__file__).resolve().parents[1]
RIE_ENV = "AIOLAMBDA_RIE"
RIE_DEFAULT = REPO.parent / "shared" / "tools" / "aws-lambda-rie"
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
START_TIMEOUT_S = 15.0
INVOKE_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

AIOLAMBDA = "aiolambda"
AWSLAMBDARIC = "awslambdaric"
RUNTIMES = (AIOLAMBDA, AWSLAMBDARIC)

SKIP_REASON = (
    f"AWS's Runtime Interface Emulator not found: set {RIE_ENV} to the aws-lambda-rie "
    f"binary or put it at {RIE_DEFAULT} (CI has it; a plain clone does not; Linux only)"
)

# RIE's own log lines ("01 Dec 2026 15:18:08,416 [INFO] (rapid) ...") and its
# START/END/REPORT lines; everything else in its output came from the runtime.
_RAPID = re.compile(r"^\d\d \w{3} \d{4} [\d:,]+ \[\w+\] \(rapid\) ")
_INVOKE_START = re.compile(r"\(rapid\) INVOKE START\(requestId: ([0-9a-f-]+)\)")
_SEGMENT_END = ("INVOKE RTDONE", "Invoke DONE failed", "INVOKE START", "INIT START")
_PLATFORM_LINE = ("START RequestId:", "END RequestId:", "REPORT RequestId:")


def rie_path() -> Path | None:
    """The RIE binary, or None where this checkout has none (or the OS cannot run it)."""
    configured = os.environ.get(RIE_ENV)
    path = Path(configured) if configured else RIE_DEFAULT
    usable = sys.platform == "linux" and path.is_file() and os.access(path, os.X_OK)
    return path if usable else None


requires_rie = pytest.mark.skipif(rie_path() is None and not in_ci(), reason=SKIP_REASON)
"""Marks a test (or, as ``pytestmark``, a module) that needs the RIE binary; in CI it is
not skipped, and its :func:`require_rie` fails."""


def require_rie() -> Path:
    """The RIE binary; when it is absent, skips the calling test with :data:`SKIP_REASON`,
    or fails it in CI."""
    path = rie_path()
    if path is None:
        skip_or_fail(SKIP_REASON)
    return path


# Ports handed to RIE come from below Linux's ephemeral range (32768-60999 by default):
# a port the kernel picked for bind(0) and released can be handed out again at once as
# the local port of any outgoing connection on the machine, and RIE then panics with
# "address already in use". Below that range only another explicit bind can collide.
_PORT_RANGE = (20000, 32000)
_ports = random.Random()


def free_port() -> int:
    for _ in range(100):
        port = _ports.randrange(*_PORT_RANGE)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_PORT_RANGE} after 100 tries")


START_ATTEMPTS = 3


class _LostPortRace(RuntimeError):
    pass


def lost_port_race(output: str) -> bool:
    """Whether RIE died at start because a port it was given was taken meanwhile."""
    return "address already in use" in output


@dataclass
class Reply:
    """What the caller of one invoke got from RIE."""

    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Frame:
    """One telemetry-FD frame: its type word and message."""

    kind: int
    message: str


@dataclass
class Finished:
    """A finished RIE run: the replies, RIE's output and the telemetry frames."""

    replies: list[Reply]
    output: str
    frames: list[Frame] = field(default_factory=list)

    def runtime_lines(self) -> list[str]:
        """Every line the runtime wrote to stdout/stderr, in order."""
        return [
            line
            for line in self.output.split("\n")
            if line and not _RAPID.match(line) and not line.startswith(_PLATFORM_LINE)
        ]

    def segments(self) -> list[tuple[str, list[str]]]:
        """Per invocation (in order): its request id and the runtime lines RIE put in it."""
        out: list[tuple[str, list[str]]] = []
        current: list[str] | None = None
        for line in self.output.split("\n"):
            started = _INVOKE_START.search(line)
            if started:
                current = []
                out.append((started.group(1), current))
                continue
            if _RAPID.match(line) or line.startswith(_PLATFORM_LINE):
                if current is not None and any(mark in line for mark in _SEGMENT_END):
                    current = None
                continue
            if current is not None and line:
                current.append(line)
        return out


class RieFunction:
    """A function under RIE, run by ``runtime`` (aiolambda or awslambdaric) or ``command``.

    ``rie_flags`` go to RIE before its addresses (``--enable-init-caching``, ...);
    ``env`` is added to (and overrides) Lambda's environment from ``tests.lambda_env``;
    ``telemetry`` gives the runtime a telemetry FD whose frames :meth:`stop` returns.
    """

    def __init__(
        self,
        rie: Path,
        handler: str,
        *,
        task_root: Path,
        runtime: str = AIOLAMBDA,
        command: Sequence[str] | None = None,
        rie_flags: Sequence[str] = (),
        timeout_s: int = 10,
        env: Mapping[str, str] | None = None,
        telemetry: bool = False,
    ) -> None:
        self.rie = rie
        self.handler = handler
        self.runtime = runtime
        self.command = list(command) if command is not None else None
        self.rie_flags = list(rie_flags)
        self.timeout_s = timeout_s
        self.extra_env = dict(env or {})
        self.task_root = task_root
        self.telemetry = telemetry
        self.replies: list[Reply] = []
        self.finished: Finished | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="aiolambda-rie-")
        self._frames_path = Path(self._dir.name) / "frames"
        # RIE's merged output, line by line, read by a thread so that a test can wait
        # for a line RIE prints after answering (END, REPORT) without polling.
        self._lines: list[bytes] = []
        self._eof = False
        self._cursor = 0
        self._changed = threading.Condition()
        self._reader: threading.Thread | None = None
        self.port = 0
        self.api_port = 0

    @property
    def url(self) -> str:
        """The invoke URL of this function under RIE."""
        return f"http://127.0.0.1:{self.port}{INVOKE_PATH}"

    def _command(self) -> list[str]:
        if self.command is not None:
            command = list(self.command)
        else:
            command = [sys.executable, "-m", self.runtime, self.handler]
        if self.telemetry:
            # RIE passes no descriptor of its own: a shell opens one for the runtime.
            command = ["/bin/sh", "-c", 'exec "$@" 3>>"$AIOLAMBDA_TEST_FRAMES"', "sh", *command]
        return command

    def start(self) -> RieFunction:
        for attempt in range(START_ATTEMPTS):
            try:
                return self._start()
            except _LostPortRace:
                if attempt == START_ATTEMPTS - 1:
                    raise
                with self._changed:  # a fresh start: the dead RIE's lines are not this one's
                    self._lines.clear()
                    self._cursor = 0
                    self._eof = False
        raise AssertionError("unreachable")

    def _start(self) -> RieFunction:
        self.port = free_port()
        self.api_port = free_port()  # RIE's Runtime API, for a test that proxies it
        env = lambda_environ(
            handler=self.handler,
            task_root=str(self.task_root),
            AWS_LAMBDA_FUNCTION_TIMEOUT=str(self.timeout_s),
            PYTHONPATH=str(REPO),  # aiolambda from this checkout, installed or not
        )
        if self.telemetry:
            env["_LAMBDA_TELEMETRY_LOG_FD"] = "3"
            env["AIOLAMBDA_TEST_FRAMES"] = str(self._frames_path)
            self._frames_path.touch()
        env.update(self.extra_env)
        self._proc = subprocess.Popen(
            [
                str(self.rie),
                *self.rie_flags,
                "--runtime-interface-emulator-address",
                f"127.0.0.1:{self.port}",
                "--runtime-api-address",
                f"127.0.0.1:{self.api_port}",
                *self._command(),
            ],
            cwd=self.task_root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: RIE and the runtime die together
        )
        self._reader = threading.Thread(target=self._read, args=(self._proc,), daemon=True)
        self._reader.start()
        # RIE gives no readiness signal: connect until its port is open (bounded).
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self._proc.poll() is not None:
                self._reader.join(STOP_TIMEOUT_S)
                output = self._output()
                if lost_port_race(output):
                    raise _LostPortRace(output)
                raise RuntimeError(f"RIE exited at start:\n{output}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError("RIE did not start listening") from None
                time.sleep(0.02)

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        with proc.stdout:
            for line in proc.stdout:
                with self._changed:
                    self._lines.append(line)
                    self._changed.notify_all()
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    def _output(self) -> str:
        with self._changed:
            return b"".join(self._lines).decode("utf-8", "replace")

    def line_starting(self, prefix: str, timeout: float = INVOKE_TIMEOUT_S) -> str:
        """The next output line (after the last one returned) starting with ``prefix``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                while self._cursor < len(self._lines):
                    line = self._lines[self._cursor].decode("utf-8", "replace").rstrip("\n")
                    self._cursor += 1
                    if line.startswith(prefix):
                        return line
                if self._eof:
                    raise AssertionError(f"RIE ended before printing {prefix!r}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"RIE printed no {prefix!r} within {timeout} s")
                self._changed.wait(remaining)

    def invoke(self, event: Any = None, *, raw: bytes | None = None) -> Reply:
        """One invoke, waited for (bounded); RIE's reply whatever its status."""
        body = raw if raw is not None else json.dumps(event).encode()
        request = urllib.request.Request(self.url, data=body, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=INVOKE_TIMEOUT_S) as response:
                reply = Reply(response.status, response.read())
        except urllib.error.HTTPError as exc:
            reply = Reply(exc.code, exc.read())
        self.replies.append(reply)
        return reply

    def stop(self) -> Finished:
        """Kill RIE and the runtime (their whole process group) and collect the output."""
        if self.finished is not None:
            return self.finished
        if self._proc is not None:
            # The runtime first, so that it never sees RIE go away (and logs about it).
            for child in _children(self._proc.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            try:
                self._proc.wait(timeout=STOP_TIMEOUT_S)
            finally:
                self._proc = None
        if self._reader is not None:
            self._reader.join(STOP_TIMEOUT_S)
        frames = read_frames(self._frames_path) if self.telemetry else []
        self._dir.cleanup()
        self.finished = Finished(self.replies, self._output(), frames)
        return self.finished


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (any of its threads may be their parent)."""
    found = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(child) for child in f.read().split())
    return found


def read_frames(path: Path) -> list[Frame]:
    data = path.read_bytes()
    frames = []
    while len(data) >= 16:
        kind, length, _ts = struct.unpack(">IIQ", data[:16])
        frames.append(Frame(kind, data[16 : 16 + length].decode("utf-8", "replace")))
        data = data[16 + length :]
    return frames


@contextlib.contextmanager
def rie_function(rie: Path, handler: str, **kwargs: Any) -> Iterator[RieFunction]:
    """A started :class:`RieFunction`, always stopped (RIE and runtime killed) at the end.

    After the block, the function's ``finished`` holds what :meth:`RieFunction.stop` collected.
    """
    function = RieFunction(rie, handler, **kwargs)
    try:
        yield function.start()
    finally:
        function.stop()


def run(rie: Path, handler: str, events: list[Any], **kwargs: Any) -> Finished:
    """Start ``handler`` under RIE, invoke it with each event in turn, stop, collect."""
    function = RieFunction(rie, handler, **kwargs)
    try:
        function.start()
        for event in events:
            if isinstance(event, bytes):
                function.invoke(raw=event)
            else:
                function.invoke(event)
    finally:
        finished = function.stop()
    return finished
