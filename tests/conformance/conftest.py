"""The conformance tier: real handler files under AWS's Runtime Interface Emulator.

RIE (``aws-lambda-rie``) is the Go program of AWS's base images, built from the same
code as Lambda's Runtime API, so it is an oracle aiolambda's own emulator cannot be. It
is found through ``AIOLAMBDA_RIE`` or at ``../shared/tools/aws-lambda-rie`` next to
the repository; without it every test here is skipped, saying why.

Each test starts RIE with a runtime command (aiolambda's, or awslambdaric's for the
differential tests) in Lambda's environment built by ``tests.lambda_env``, invokes it
sequentially (RIE crashes on concurrent invokes) and always kills RIE and the runtime
at the end. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.lambda_env import lambda_environ

REPO = Path(__file__).resolve().parents[2]
FN = Path(__file__).resolve().parent / "fn"
RIE_ENV = "AIOLAMBDA_RIE"
RIE_DEFAULT = REPO.parent / "shared" / "tools" / "aws-lambda-rie"
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
START_TIMEOUT_S = 15.0
INVOKE_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

AIOLAMBDA = "aiolambda"
AWSLAMBDARIC = "awslambdaric"
RUNTIMES = (AIOLAMBDA, AWSLAMBDARIC)

# RIE's own log lines ("01 Dec 2026 15:18:08,416 [INFO] (rapid) ...") and its
# START/END/REPORT lines; everything else in its output came from the runtime.
_RAPID = re.compile(r"^\d\d \w{3} \d{4} [\d:,]+ \[\w+\] \(rapid\) ")
_INVOKE_START = re.compile(r"\(rapid\) INVOKE START\(requestId: ([0-9a-f-]+)\)")
_SEGMENT_END = ("INVOKE RTDONE", "Invoke DONE failed", "INVOKE START", "INIT START")
_PLATFORM_LINE = ("START RequestId:", "END RequestId:", "REPORT RequestId:")


def rie_path() -> Path | None:
    """The RIE binary, or None where this checkout has none."""
    configured = os.environ.get(RIE_ENV)
    path = Path(configured) if configured else RIE_DEFAULT
    return path if path.is_file() and os.access(path, os.X_OK) else None


@pytest.fixture(scope="session")
def rie() -> Path:
    """The RIE binary; skips the test with the reason when it is absent."""
    path = rie_path()
    if path is None:
        pytest.skip(
            f"AWS's Runtime Interface Emulator not found: set {RIE_ENV} to the aws-lambda-rie "
            f"binary or put it at {RIE_DEFAULT} (CI has it; a plain clone does not)"
        )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    """A function under RIE, with ``runtime`` (aiolambda or awslambdaric) as its runtime."""

    def __init__(
        self,
        rie: Path,
        handler: str,
        *,
        runtime: str = AIOLAMBDA,
        timeout_s: int = 10,
        env: Mapping[str, str] | None = None,
        task_root: Path = FN,
        telemetry: bool = False,
    ) -> None:
        self.rie = rie
        self.handler = handler
        self.runtime = runtime
        self.timeout_s = timeout_s
        self.extra_env = dict(env or {})
        self.task_root = task_root
        self.telemetry = telemetry
        self.replies: list[Reply] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="aiolambda-rie-")
        self._out_path = Path(self._dir.name) / "rie.out"
        self._frames_path = Path(self._dir.name) / "frames"
        self.port = 0

    def _command(self) -> list[str]:
        module = "aiolambda" if self.runtime == AIOLAMBDA else "awslambdaric"
        command = [sys.executable, "-m", module, self.handler]
        if self.telemetry:
            # RIE passes no descriptor of its own: a shell opens one for the runtime.
            command = ["/bin/sh", "-c", 'exec "$@" 3>>"$AIOLAMBDA_TEST_FRAMES"', "sh", *command]
        return command

    def start(self) -> RieFunction:
        self.port = free_port()
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
        with open(self._out_path, "wb") as out:
            self._proc = subprocess.Popen(
                [
                    str(self.rie),
                    "--runtime-interface-emulator-address",
                    f"127.0.0.1:{self.port}",
                    "--runtime-api-address",
                    f"127.0.0.1:{free_port()}",
                    *self._command(),
                ],
                cwd=self.task_root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: RIE and the runtime die together
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"RIE exited at start:\n{self._out_path.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError("RIE did not start listening") from None
                time.sleep(0.02)

    def invoke(self, event: Any = None, *, raw: bytes | None = None) -> Reply:
        """One invoke, waited for (bounded); RIE's reply whatever its status."""
        body = raw if raw is not None else json.dumps(event).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{INVOKE_PATH}", data=body, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=INVOKE_TIMEOUT_S) as response:
                reply = Reply(response.status, response.read())
        except urllib.error.HTTPError as exc:
            reply = Reply(exc.code, exc.read())
        self.replies.append(reply)
        return reply

    def stop(self) -> Finished:
        """Kill RIE and the runtime (their whole process group) and collect the output."""
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
        output = self._out_path.read_text(errors="replace") if self._out_path.exists() else ""
        frames = read_frames(self._frames_path) if self.telemetry else []
        self._dir.cleanup()
        return Finished(self.replies, output, frames)


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
    """A started :class:`RieFunction`, always stopped (RIE and runtime killed) at the end."""
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
