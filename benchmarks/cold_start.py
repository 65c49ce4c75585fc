"""Cold start through the built layer, side by side with ``python3.X -m awslambdaric``.

What a user deploys: ``aiolambda layer build --python 3.12`` (bytecode as shipped),
unpacked into a directory standing in for ``/opt`` (write bits removed and, where
``mount`` works, a read-only bind mount, since root ignores write bits), started
through the exec wrapper ``/opt/aiolambda`` by a Python 3.12 that does not have
aiolambda installed (a bare venv). The stock runtime client, awslambdaric, runs
from a venv of its own on the same interpreter. Both serve the same handlers from
the same task root (``LAMBDA_TASK_ROOT``, where boto3 is installed too):

* ``trivial``: ``def handler(event, context): return {...}`` (aiolambda's sync driver);
* ``boto3``: the same, after ``import boto3`` at module level;
* ``async_trivial``: ``async def handler`` (aiolambda's asyncio driver), which neither
  awslambdaric nor the floor can serve: it is compared with ``--baseline-layer``.

awslambdaric runs as Lambda runs it: ``AWS_EXECUTION_ENV=AWS_Lambda_python3.X`` is set
(on the python3.12+ runtimes that changes what it does at start).

A third contender, the floor, is what any uvloop runtime must do: a bare interpreter
runs a 30-line script that imports asyncio, uvloop and orjson (from the layer) and the
handler's module, connects, sends ``GET /next``, calls the handler and posts its JSON
result, with no context, logging, error handling or deadline. aiolambda cannot start
faster than that; its own cost is what it adds over it (the "x floor" column).

Each round starts every contender once (the order rotates), times it from just
before ``Popen`` to the moment its first ``GET /next`` has fully arrived, answers
one invocation and checks the answer, then kills the process. Medians over the
rounds and ratios to awslambdaric and to the floor come from one run; the first
round warms the page cache and is dropped. The environment is Lambda's (no
``PYTHON*`` variables from this shell: no ``PYTHONDONTWRITEBYTECODE``, no
``PYTHONUNBUFFERED``).

``--callgrind`` also counts instructions (valgrind, the exec wrapper's shell included)
to the first ``/next`` for each contender and for a bare interpreter that only opens a
socket and sends ``GET /next``. ``--importtime`` prints the slowest imports of the
layer's start.

Usage::

    python benchmarks/cold_start.py [--rounds 20] [--python 3.12] [--callgrind]
        [--importtime] [--workdir DIR] [--layer ZIP] [--write]

Needs the package index once (the venvs and boto3); ``--workdir`` keeps them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(REPO))  # aiolambda's layer builder, from this checkout

from aiolambda._layer import Target, build_layer, find_compiler  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

CONSTRAINTS = REPO / "constraints.txt"
FLOOR = "floor: minimal uvloop runtime"
BARE = "bare interpreter (socket, GET /next)"
BARE_ORJSON = "bare interpreter, import orjson (from the layer), socket, GET /next"
NEXT_PATH = "/2018-06-01/runtime/invocation/next"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:cold"
EVENT = b'{"cold":"start"}'

HANDLERS = {
    "trivial.py": 'def handler(event, context):\n    return {"got": event}\n',
    "with_boto3.py": (
        "import boto3\n\n\n"
        "def handler(event, context):\n"
        '    return {"got": event, "boto3": boto3.__version__}\n'
    ),
    "async_trivial.py": 'async def handler(event, context):\n    return {"got": event}\n',
}
HANDLER_NAMES = ("trivial.handler", "with_boto3.handler", "async_trivial.handler")
ASYNC_ONLY = frozenset({"async_trivial.handler"})  # awslambdaric and the floor cannot serve it


def serves(contender: str, handler: str) -> bool:
    """Whether ``contender`` can run ``handler`` at all."""
    return handler not in ASYNC_ONLY or contender not in ("awslambdaric", FLOOR)


# The floor: what any uvloop runtime must do, timed and counted like the contenders.
# Import asyncio, uvloop and orjson (with the collector off, then frozen, as aiolambda
# does), import the handler's module, connect, GET /next, call the handler, post its JSON
# result; no context, logging, errors or timeouts.
FLOOR_SCRIPT = f"""\
import gc; gc.disable()  # as aiolambda: no collections over the runtime's own imports
import asyncio, importlib, os, sys
import orjson, uvloop

async def main():
    gc.freeze(); gc.enable()
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
    module, _, name = os.environ["_HANDLER"].rpartition(".")
    handler = getattr(importlib.import_module(module), name)
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))

    async def read_response():
        head = await reader.readuntil(b"\\r\\n\\r\\n")
        lines = head.decode("latin-1").split("\\r\\n")[1:-2]
        headers = {{k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}}
        return headers, await reader.readexactly(int(headers["content-length"]))

    while True:
        writer.write(b"GET {NEXT_PATH} HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
        headers, body = await read_response()
        result = orjson.dumps(handler(orjson.loads(body), None))
        request_id = headers["lambda-runtime-aws-request-id"].encode()
        writer.write(
            b"POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\\r\\n"
            b"Host: x\\r\\nContent-Length: %d\\r\\n\\r\\n%s" % (request_id, len(result), result)
        )
        await read_response()

uvloop.run(main())
"""


def log(message: str) -> None:
    print(f"cold_start: {message}", file=sys.stderr, flush=True)


# -- preparing the contenders -------------------------------------------------------------


class Setup:
    """The interpreters, the unpacked layer and the task root, under ``workdir``."""

    def __init__(
        self, workdir: Path, version: str, layer: Path | None, baseline: Path | None = None
    ) -> None:
        self.workdir = workdir
        self.version = version
        self.mounted: list[Path] = []  # read-only bind mounts to undo in close()
        base = find_compiler(Target(version, Target.host().arch))
        self.base_python = base
        self.bare = self._venv("bare-venv", [])
        self.ric = self._venv("ric-venv", ["awslambdaric"])
        self.task = workdir / "task"
        if not (self.task / "boto3").is_dir():
            log("installing boto3 into the task root")
            self._pip(self.bare, ["--target", str(self.task), "boto3"])
        for name, text in HANDLERS.items():
            (self.task / name).write_text(text)
        self.zip = layer or self._build_layer()
        self.opt = self._unpack(self.zip, workdir / "opt")
        self.baseline_opt = self._unpack(baseline, workdir / "opt-baseline") if baseline else None
        probe = subprocess.run(
            [self.bare, "-P", "-c", "import aiolambda"], capture_output=True, check=False
        )
        if probe.returncode == 0:
            raise SystemExit(f"{self.bare} can import aiolambda without the layer")

    def _pip(self, python: str, args: Sequence[str]) -> None:
        command = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*command, "-c", str(CONSTRAINTS), *args], check=True)

    def _venv(self, name: str, packages: list[str]) -> str:
        venv = self.workdir / name
        python = str(venv / "bin" / "python3")
        if not Path(python).exists():
            log(f"creating {venv}")
            subprocess.run([self.base_python, "-m", "venv", str(venv)], check=True)
            if packages:
                self._pip(python, packages)
        return python

    def _build_layer(self) -> Path:
        log(f"building the layer for Python {self.version}")
        target = Target(self.version, Target.host().arch)
        return build_layer(target, self.workdir / "layer", compile_with=self.base_python).path

    def _unpack(self, zip_path: Path, opt: Path) -> Path:
        if opt.exists():
            with contextlib.suppress(OSError):  # a mount left by an interrupted run
                subprocess.run(["umount", str(opt)], capture_output=True, check=False)
            _make_writable(opt)
            shutil.rmtree(opt)
        with zipfile.ZipFile(zip_path) as archive:
            for info in archive.infolist():
                extracted = Path(archive.extract(info, opt))
                extracted.chmod(stat.S_IMODE(info.external_attr >> 16) & 0o555)
        for directory in sorted(opt.rglob("*"), reverse=True):
            if directory.is_dir():
                directory.chmod(0o555)  # as on Lambda: nothing can be written there
        opt.chmod(0o555)
        # Write bits do not stop root: where it can, a read-only bind mount does, as on Lambda.
        try:
            bind = subprocess.run(
                ["mount", "--bind", str(opt), str(opt)], capture_output=True, check=False
            )
        except OSError:  # no mount program
            return opt
        if bind.returncode == 0:
            self.mounted.append(opt)
            subprocess.run(["mount", "-o", "remount,ro,bind", str(opt)], check=True)
        return opt

    def close(self) -> None:
        """Undo the read-only mounts and the write-bit removal (so the tree can be deleted)."""
        while self.mounted:
            subprocess.run(["umount", str(self.mounted.pop())], check=True)
        for opt in (self.opt, self.baseline_opt):
            if opt is not None:
                _make_writable(opt)

    def floor_script(self) -> Path:
        """FLOOR_SCRIPT, importing uvloop and orjson from the unpacked layer."""
        site = self.opt / "python" / "lib" / f"python{self.version}" / "site-packages"
        script = self.workdir / "floor.py"
        text = f"import sys\nsys.path.insert(0, {str(site)!r})\n" + FLOOR_SCRIPT
        if not script.exists() or script.read_text() != text:
            script.write_text(text)
        return script

    def snapshot(self) -> list[str]:
        """Every path under the layer: unchanged after the runs, else bytecode was rewritten."""
        return sorted(str(p.relative_to(self.opt)) for p in self.opt.rglob("*"))

    def contenders(self) -> dict[str, list[str]]:
        """name -> command; the handler module comes from ``_HANDLER`` or the last argument."""
        wrapper = str(self.opt / "aiolambda")
        stock = "/var/runtime/bootstrap.py"  # never run: the wrapper replaces it
        contenders = {
            "awslambdaric": [self.ric, "-m", "awslambdaric"],
            "aiolambda layer": [wrapper, self.bare, stock],
            FLOOR: [self.bare, str(self.floor_script())],
        }
        if self.baseline_opt is not None:
            contenders["baseline layer"] = [str(self.baseline_opt / "aiolambda"), self.bare, stock]
        return contenders


def _make_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(stat.S_IMODE(path.stat().st_mode) | 0o700)


def lambda_environ(port: int, handler: str, task: Path, version: str = "3.12") -> dict[str, str]:
    """The variables Lambda sets for a python3.X function (none of this shell's PYTHON*)."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(
        AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{port}",
        _HANDLER=handler,
        LAMBDA_TASK_ROOT=str(task),
        AWS_LAMBDA_FUNCTION_NAME="cold",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024",
        AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/cold",
        AWS_LAMBDA_LOG_STREAM_NAME="2026/01/01/[$LATEST]0",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EXECUTION_ENV=f"AWS_Lambda_python{version}",
        TZ=":UTC",
    )
    return env


# -- one start ----------------------------------------------------------------------------


def _read_request(conn: socket.socket, buffer: bytearray, deadline: float) -> tuple[str, bytes]:
    """One HTTP/1.1 request (Content-Length or chunked body): (request line, body)."""
    while b"\r\n\r\n" not in buffer:
        _recv_into(conn, buffer, deadline)
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    del buffer[:]
    buffer += rest
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            while b"\r\n" not in buffer:
                _recv_into(conn, buffer, deadline)
            size_line, _, _ = bytes(buffer).partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            need = len(size_line) + 2 + size + 2
            while len(buffer) < need:
                _recv_into(conn, buffer, deadline)
            body += buffer[len(size_line) + 2 : len(size_line) + 2 + size]
            del buffer[:need]
            if size == 0:
                return lines[0], bytes(body)
    length = int(headers.get("content-length", "0"))
    while len(buffer) < length:
        _recv_into(conn, buffer, deadline)
    body = bytes(buffer[:length])
    del buffer[:length]
    return lines[0], body


def _recv_into(conn: socket.socket, buffer: bytearray, deadline: float) -> None:
    conn.settimeout(max(0.01, deadline - time.monotonic()))
    data = conn.recv(65536)
    if not data:
        raise ConnectionError("the runtime closed the connection")
    buffer += data


def start_once(
    command: Sequence[str], handler: str, task: Path, timeout_s: float = 60.0, version: str = "3.12"
) -> tuple[float, bytes, str]:
    """Start ``command``; returns (ms to the first /next, the answer it posted, its stderr)."""
    with socket.create_server(("127.0.0.1", 0)) as server, tempfile.TemporaryFile() as errors:
        port = server.getsockname()[1]
        env = lambda_environ(port, handler, task, version)
        args = [*command, handler] if command[-1] == "awslambdaric" else list(command)
        deadline = time.monotonic() + timeout_s
        start = time.perf_counter()
        process = subprocess.Popen(args, cwd=task, env=env, stdout=errors, stderr=errors)
        try:
            server.settimeout(timeout_s)
            conn, _ = server.accept()
            with conn:
                buffer = bytearray()
                line, _ = _read_request(conn, buffer, deadline)
                elapsed_ms = (time.perf_counter() - start) * 1000
                if line != f"GET {NEXT_PATH} HTTP/1.1":
                    raise RuntimeError(f"expected GET /next, got {line!r}")
                conn.sendall(_next_response())
                line, answer = _read_request(conn, buffer, deadline)
                if line != "POST /2018-06-01/runtime/invocation/cold-1/response HTTP/1.1":
                    raise RuntimeError(f"expected the response post, got {line!r}: {answer!r}")
                conn.sendall(
                    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                    b'Content-Length: 16\r\n\r\n{"status":"OK"}\n'
                )
                line, _ = _read_request(conn, buffer, deadline)  # the second /next
        except (OSError, RuntimeError) as exc:
            errors.seek(0)
            raise RuntimeError(f"{args}: {exc}\n{errors.read().decode(errors='replace')}") from exc
        finally:
            process.kill()
            process.wait()
        errors.seek(0)
        return elapsed_ms, answer, errors.read().decode(errors="replace")


def _next_response() -> bytes:
    deadline_ms = int(time.time() * 1000) + 60_000
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        "Lambda-Runtime-Aws-Request-Id: cold-1\r\n"
        f"Lambda-Runtime-Deadline-Ms: {deadline_ms}\r\n"
        f"Lambda-Runtime-Invoked-Function-Arn: {FUNCTION_ARN}\r\n"
        "Lambda-Runtime-Trace-Id: Root=1-5e1b4151-43a0913a12345678;Parent=1;Sampled=0\r\n"
        f"Content-Length: {len(EVENT)}\r\n\r\n"
    )
    return head.encode() + EVENT


def check_answer(handler: str, answer: bytes) -> None:
    """The handler's answer, whichever runtime rendered it."""
    body = json.loads(answer)
    wants_boto3 = handler.startswith("with_boto3")
    if body.get("got") != json.loads(EVENT) or wants_boto3 != ("boto3" in body):
        raise RuntimeError(f"wrong answer from {handler}: {answer!r}")


# -- the timed run ------------------------------------------------------------------------


def run_rounds(setup: Setup, rounds: int) -> dict[tuple[str, str], list[float]]:
    """Alternating rounds (first one dropped); (contender, handler) -> start times in ms."""
    contenders = setup.contenders()
    cases = [(name, h) for h in HANDLER_NAMES for name in contenders if serves(name, h)]
    times: dict[tuple[str, str], list[float]] = {case: [] for case in cases}
    for index in range(rounds + 1):
        shift = index % len(cases)
        for name, handler in cases[shift:] + cases[:shift]:
            ms, answer, _ = start_once(contenders[name], handler, setup.task, version=setup.version)
            check_answer(handler, answer)
            if index:
                times[(name, handler)].append(ms)
        if index:
            log(f"round {index}/{rounds}")
    return times


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def table(times: Mapping[tuple[str, str], list[float]]) -> list[str]:
    lines = [
        "| handler | contender | median ms (min-max) | x awslambdaric | x floor |",
        "|---|---|---|---|---|",
    ]
    for handler in HANDLER_NAMES:
        # awslambdaric and the floor cannot serve an async handler: the async row is set
        # against their trivial sync start (marked *), what a user would otherwise deploy.
        peer = "trivial.handler" if handler in ASYNC_ONLY else handler
        mark = "*" if handler in ASYNC_ONLY else ""
        base = median(times.get(("awslambdaric", peer)) or [0.0])
        floor = median(times.get((FLOOR, peer)) or [0.0])
        for (name, h), values in times.items():
            if h != handler:
                continue
            m = median(values)
            lines.append(
                f"| {handler.split('.')[0]} | {name} | {m:.1f} ({min(values):.1f}-"
                f"{max(values):.1f}) | {_ratio(m, base)}{mark} | {_ratio(m, floor)}{mark} |"
            )
    if any(h in ASYNC_ONLY for _, h in times):
        lines += ["", "\\* against awslambdaric's and the floor's trivial sync handler."]
    return lines


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}" if base else "n/a"


# -- instruction counts -------------------------------------------------------------------


def callgrind_to_next(command: Sequence[str], handler: str, setup: Setup, out: Path) -> int:
    """Instructions executed from exec to the first ``/next`` (valgrind's callgrind)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        env = lambda_environ(port, handler, setup.task, setup.version)
        args = [*command, handler] if command[-1] == "awslambdaric" else list(command)
        valgrind = [
            "valgrind", "--tool=callgrind", "--trace-children=yes",
            f"--callgrind-out-file={out}.%p", "--dump-line=no", "--dump-instr=no",
        ]  # fmt: skip
        process = subprocess.Popen(
            [*valgrind, *args],
            cwd=setup.task,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            server.settimeout(300)
            conn, _ = server.accept()
            with conn:
                _read_request(conn, bytearray(), time.monotonic() + 300)
                # SIGTERM ends the runtime where it stands; callgrind still writes its counts.
                for pid in _descendants(process.pid):
                    os.kill(pid, signal.SIGTERM)
                process.wait(timeout=300)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    total = 0
    for dump in out.parent.glob(out.name + ".*"):
        match = re.search(r"^(?:summary|totals): (\d+)", dump.read_text(), re.MULTILINE)
        total += int(match.group(1)) if match else 0  # a shell wrapper's exec'd image too
        dump.unlink()
    return total


def _descendants(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = [pid]
    try:
        for child in children.read_text().split():
            found += _descendants(int(child))
    except OSError:
        pass
    return found


def instruction_counts(setup: Setup) -> tuple[list[str], dict[str, int]]:
    scratch = setup.workdir / "callgrind"
    scratch.mkdir(exist_ok=True)
    bare_file = setup.workdir / "bare.py"
    bare_file.write_text(
        "import os, socket\n"
        "host, port = os.environ['AWS_LAMBDA_RUNTIME_API'].split(':')\n"
        "s = socket.create_connection((host, int(port)))\n"
        f"s.sendall(b'GET {NEXT_PATH} HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'); s.recv(1)\n"
    )
    # The same with orjson imported from the layer first: what that import alone costs
    # (the sync driver's largest import; awslambdaric does not import it).
    site = setup.opt / "python" / "lib" / f"python{setup.version}" / "site-packages"
    orjson_file = setup.workdir / "bare_orjson.py"
    orjson_file.write_text(
        f"import sys\nsys.path.insert(0, {str(site)!r})\nimport orjson\n" + bare_file.read_text()
    )
    rows = {
        BARE: ([setup.bare, str(bare_file)], "trivial.handler"),
        BARE_ORJSON: ([setup.bare, str(orjson_file)], "trivial.handler"),
    }
    for handler in HANDLER_NAMES:
        for name, command in setup.contenders().items():
            if serves(name, handler):
                rows[f"{name}, {handler.split('.')[0]}"] = (command, handler)
    counts: dict[str, int] = {}
    for label, (command, handler) in rows.items():
        log(f"callgrind: {label}")
        counts[label] = callgrind_to_next(command, handler, setup, scratch / "cg")
    lines = [
        "| process, to the first GET /next | instructions (M) | x awslambdaric |",
        "|---|---|---|",
    ]
    for label, count in counts.items():
        handler = label.rpartition(", ")[2]
        base = counts.get(f"awslambdaric, {handler}")
        if not base and handler == "async_trivial":  # its peer: awslambdaric's sync start
            base = counts.get("awslambdaric, trivial")
            ratio = f"{count / base:.2f}*" if base else ""
        else:
            ratio = f"{count / base:.2f}" if base else ""
        lines.append(f"| {label} | {count / 1e6:.0f} | {ratio} |")
    if "baseline layer, async_trivial" in counts:
        ours, then = (
            counts["aiolambda layer, async_trivial"],
            counts["baseline layer, async_trivial"],
        )
        lines += ["", f"async_trivial, layer / baseline layer: {ours / then:.3f}"]
    lines += ["", "\\* against awslambdaric's trivial sync handler (it has no async handlers).", ""]
    lines.append(f"orjson's import alone: {(counts[BARE_ORJSON] - counts[BARE]) / 1e6:.1f} M")
    # The uvloop floor is the asyncio driver's floor: an async handler's start over it is
    # aiolambda's own work (sync handlers start on the sync driver, which imports no asyncio).
    floor = counts[f"{FLOOR}, trivial"]
    ours = counts["aiolambda layer, async_trivial"]
    lines.append(
        f"aiolambda's own share, async_trivial (layer - floor, trivial) / layer: "
        f"{(ours - floor) / 1e6:.1f} M of {ours / 1e6:.0f} M = {(ours - floor) / ours:.1%}"
    )
    return lines, counts


def importtime(setup: Setup, top: int = 15) -> list[str]:
    """The slowest imports (cumulative µs) of one start through the layer."""
    command = setup.contenders()["aiolambda layer"]
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        env = lambda_environ(port, "trivial.handler", setup.task, setup.version) | {
            "PYTHONPROFILEIMPORTTIME": "1"
        }
        process = subprocess.Popen(
            command, cwd=setup.task, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        server.settimeout(60)
        conn, _ = server.accept()
        with conn:
            _read_request(conn, bytearray(), time.monotonic() + 60)
        process.kill()
        _, stderr = process.communicate()
    rows = []
    for line in stderr.decode().splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            rows.append((int(match.group(2)), int(match.group(1)), match.group(4)))
    own = sum(s for _, s, name in rows if name.strip().startswith("aiolambda"))
    total = sum(s for _, s, _ in rows)
    out = ["| module | cumulative µs | self µs |", "|---|---|---|"]
    out += [f"| {n.strip()} | {c} | {s} |" for c, s, n in sorted(rows, reverse=True)[:top]]
    out.append("")
    out.append(f"aiolambda.* self time: {own} µs of {total} µs of imports ({own / total:.1%})")
    return out


# -- main ---------------------------------------------------------------------------------


# Issue 23's targets: aiolambda's layer / awslambdaric, to the first /next.
TARGETS = {"trivial": 0.8, "with_boto3": 0.95}


def against_targets(
    times: Mapping[tuple[str, str], list[float]], counts: Mapping[str, int]
) -> list[str]:
    """aiolambda's layer / awslambdaric per sync handler, in time and in instructions."""
    lines = []
    for handler, target in TARGETS.items():
        ours = times.get(("aiolambda layer", f"{handler}.handler"))
        theirs = times.get(("awslambdaric", f"{handler}.handler"))
        if not ours or not theirs:
            continue
        ratio = median(ours) / median(theirs)
        said = f"- {handler}: {ratio:.2f}x awslambdaric in time"
        if counts:
            by_count = counts[f"aiolambda layer, {handler}"] / counts[f"awslambdaric, {handler}"]
            said += f", {by_count:.2f}x in instructions"
            ratio = max(ratio, by_count)
        met = "met" if ratio <= target else "NOT met"
        lines.append(f"{said} (target <= {target}x: {met})")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--python", default="3.12", help="the target Python (default 3.12)")
    parser.add_argument("--workdir", type=Path, help="keep the venvs and the layer here")
    parser.add_argument("--layer", type=Path, help="use this layer zip instead of building one")
    parser.add_argument(
        "--baseline-layer", type=Path, help="also time this layer zip (e.g. an older build)"
    )
    parser.add_argument("--callgrind", action="store_true", help="count instructions too")
    parser.add_argument("--importtime", action="store_true", help="list the slowest imports")
    parser.add_argument(
        "--write", action="store_true", help="write benchmarks/results/TAG.{md,json}"
    )
    parser.add_argument("--tag", default="cold_start", help="the results files' name")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    import _harness as h  # benchmarks/: the results file's header (date, commit, machine)

    meta = h.start_meta(h.command_line(["cold_start.py", *(argv or sys.argv[1:])]))
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="aiolambda-cold-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        setup = Setup(workdir.resolve(), args.python, args.layer, args.baseline_layer)
        try:
            before = setup.snapshot()
            zip_bytes = setup.zip.stat().st_size
            times = run_rounds(setup, args.rounds)
            report = [
                f"Cold start to the first GET /next, Python {args.python} (the measured "
                f"interpreter; the header's is the harness's), {args.rounds} rounds, contenders "
                f"in rotating order, first round dropped; awslambdaric with "
                f"AWS_EXECUTION_ENV=AWS_Lambda_python{args.python} (layer {setup.zip.name}, "
                f"{zip_bytes / 1e6:.2f} MB zipped)",
                "",
                *table(times),
            ]
            if setup.snapshot() != before:
                raise SystemExit("the runtime wrote into the layer: its bytecode was not used")
            if args.callgrind:
                lines, counts = instruction_counts(setup)
                report += ["", *lines]
            if args.importtime:
                report += ["", *importtime(setup)]
        finally:
            setup.close()
    report += ["", "Against the targets of issue 23 (aiolambda's layer / awslambdaric):", ""]
    report += against_targets(times, counts)
    print("\n".join(report) + "\n")
    if args.write:
        data = {
            "python": args.python,
            "rounds": args.rounds,
            "layer_zip_bytes": zip_bytes,
            "ms": [
                {"contender": name, "handler": handler, "median": median(v), "all": v}
                for (name, handler), v in times.items()
            ],
            "instructions": counts,
        }
        h.write_results(args.tag, "Cold start through the layer", meta, report, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
