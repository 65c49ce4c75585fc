"""Benchmark plumbing shared by run.py, concurrency.py and the smoke test.

``run_once`` starts the mock Runtime API (``_mock_api.py``) in its own process,
then one contender as a real bootstrap process with the Lambda environment, and
returns what the mock measured plus the contender's peak RSS. Both processes are
pinned to CPUs chosen by the caller.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import platform
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import _events

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

HERE = Path(__file__).resolve().parent
HANDLERS = HERE / "handlers"
MOCK = HERE / "_mock_api.py"
PYTHON = sys.executable


# -- events ----------------------------------------------------------------------------
TINY_EVENT = b'{"key1":"value1","key2":"value2"}'


def make_event(size: int) -> bytes:
    """A compact, ASCII JSON event of about ``size`` bytes, shaped like real records.

    Many small objects, as an SQS batch or an API payload would have: decoding
    cost depends on the object count, not only on the byte count. Floats are
    chosen so that every JSON library renders them identically.
    """
    if size <= len(TINY_EVENT) + 8:
        return TINY_EVENT
    records: list[bytes] = []
    total = len(b'{"records":[]}')
    i = 0
    while True:
        record = (
            b'{"id":%d,"name":"record-%06d","active":%s,"score":%d.5,'
            b'"tags":["alpha","beta"],"ref":null}'
            % (i, i, b"true" if i % 2 else b"false", i % 1000)
        )
        if total + len(record) + 1 > size:
            break
        records.append(record)
        total += len(record) + 1
        i += 1
    return b'{"records":[' + b",".join(records) + b"]}"


@dataclass(frozen=True, slots=True)
class Size:
    """One event size of the benchmark and how many invocations to time per run."""

    key: str
    label: str
    nbytes: int
    n: int
    n_bash: int  # bash + curl costs ~21 ms per invocation: fewer of them
    n_quick: int
    budget_s: float  # generous time per invocation: a run of n fails after 20 s + n * budget
    build: Callable[[], bytes] | None = None  # a realistic event (_events.py); else synthetic

    def timeout_s(self, n: int) -> float:
        return 20.0 + n * self.budget_s

    def event(self) -> bytes:
        """The event bytes of this row: the realistic event, or a synthetic one of nbytes."""
        return self.build() if self.build is not None else make_event(self.nbytes)


SIZES: tuple[Size, ...] = (
    Size("tiny", "~30 B", len(TINY_EVENT), n=5000, n_bash=200, n_quick=500, budget_s=0.005),
    Size("100k", "100 KB", 100 * 1024, n=1000, n_bash=40, n_quick=100, budget_s=0.05),
    Size("1m", "1 MB", 1024 * 1024, n=100, n_bash=10, n_quick=10, budget_s=0.3),
    # Lambda's payload limit is 6 MiB + 100 B including headers: stay below it.
    Size("6m", "5.9 MB", int(5.9 * 1024 * 1024), n=20, n_bash=4, n_quick=3, budget_s=2.0),
)


def _realistic(key: str, label: str, n: int, n_bash: int, n_quick: int, budget_s: float) -> Size:
    build = _events.REALISTIC[key][1]
    return Size(key, label, len(build()), n, n_bash, n_quick, budget_s, build)


# What real functions get (see _events.py), beside the synthetic sizes above.
REALISTIC_SIZES: tuple[Size, ...] = (
    _realistic("apigw2", "API GW v2", n=5000, n_bash=200, n_quick=500, budget_s=0.005),
    _realistic("sqs10", "SQS, 10 records", n=3000, n_bash=100, n_quick=300, budget_s=0.01),
    _realistic("kinesis100", "Kinesis, 100 records", n=1000, n_bash=40, n_quick=100, budget_s=0.05),
    _realistic(
        "kinesis100-18",
        "Kinesis, 100, 18-digit seq.",
        n=1000,
        n_bash=40,
        n_quick=100,
        budget_s=0.05,
    ),
    _realistic("ddb100", "DynamoDB Streams, 100", n=1000, n_bash=40, n_quick=100, budget_s=0.05),
)
SIZE_BY_KEY = {s.key: s for s in (*SIZES, *REALISTIC_SIZES)}


# -- contenders ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Contender:
    """A bootstrap process under test: argv and extra environment."""

    key: str
    label: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    handler: str = "echo.handler"
    is_bash: bool = False
    needs: str = ""  # module or executable that must exist, else the contender is skipped
    handler_arg: bool = True  # pass the handler as the last argument (python -m … HANDLER)

    def available(self) -> str:
        """Empty when runnable here, else the reason it is not."""
        if not self.needs:
            return ""
        if self.needs.startswith("exe:"):
            name = self.needs[4:]
            return "" if shutil.which(name) else f"{name} not found"
        import importlib.util

        try:
            found = importlib.util.find_spec(self.needs) is not None
        except ImportError:
            found = False
        return "" if found else f"module {self.needs} not importable"


AIOLAMBDA = ("-m", "aiolambda")
CONTENDERS: tuple[Contender, ...] = (
    Contender(
        "aiolambda", "aiolambda (lean transport)", (PYTHON, *AIOLAMBDA), needs="aiolambda.__main__"
    ),
    Contender(
        "aiolambda_aiohttp",
        "aiolambda, AIOLAMBDA_TRANSPORT=aiohttp",
        (PYTHON, *AIOLAMBDA),
        env={"AIOLAMBDA_TRANSPORT": "aiohttp"},
        needs="aiolambda.__main__",
    ),
    Contender(
        "aiolambda_sync",
        "aiolambda, sync handler (sync driver)",
        (PYTHON, *AIOLAMBDA),
        handler="echo.sync_handler",
        needs="aiolambda.__main__",
    ),
    Contender(
        "aiolambda_sync_on_loop",
        "aiolambda, sync handler, AIOLAMBDA_DRIVER=asyncio",
        (PYTHON, *AIOLAMBDA),
        env={"AIOLAMBDA_DRIVER": "asyncio"},
        handler="echo.sync_handler",
        needs="aiolambda.__main__",
    ),
    Contender(
        "bash_curl",
        "curl-based bash bootstrap",
        ("bash", str(HERE / "bootstrap_curl.sh")),
        is_bash=True,
        needs="exe:curl",
        handler_arg=False,
    ),
    Contender(
        "awslambdaric",
        "awslambdaric, AWS_EXECUTION_ENV unset (not how Lambda runs it)",
        (PYTHON, "-m", "awslambdaric"),
        handler="echo.sync_handler",
        needs="awslambdaric",
    ),
    Contender(
        "awslambdaric_312",
        "awslambdaric as Lambda runs it (python3.12+: AWS_EXECUTION_ENV set)",
        (PYTHON, "-m", "awslambdaric"),
        env={"AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"},
        handler="echo.sync_handler",
        needs="awslambdaric",
    ),
    Contender(
        "floor",
        "floor: blocking socket",
        (PYTHON, str(HERE / "floor_client.py")),
        handler_arg=False,
    ),
    Contender(
        "floor_orjson",
        "floor + orjson loads/dumps",
        (PYTHON, str(HERE / "floor_client.py"), "--orjson"),
        needs="orjson",
        handler_arg=False,
    ),
)
# Not in the main table: yardsticks for the per-phase analysis.
EXTRA_CONTENDERS: tuple[Contender, ...] = (
    Contender(
        "aiolambda_nopipe",
        "aiolambda (lean transport), AIOLAMBDA_PIPELINE=0",
        (PYTHON, *AIOLAMBDA),
        env={"AIOLAMBDA_PIPELINE": "0"},
        needs="aiolambda.__main__",
    ),
    Contender(
        "async_floor",
        "asyncio floor: uvloop Protocol + orjson, a poller awaiting futures",
        (PYTHON, str(HERE / "async_floor_client.py")),
        needs="uvloop",
        handler_arg=False,
    ),
    Contender(
        "async_floor_cb",
        "asyncio floor, callbacks only (no task switches)",
        (PYTHON, str(HERE / "async_floor_client.py"), "--callbacks"),
        needs="uvloop",
        handler_arg=False,
    ),
)
CONTENDER_BY_KEY = {c.key: c for c in (*CONTENDERS, *EXTRA_CONTENDERS)}


def _load_lambda_env() -> Any:
    # The tests' one builder of a runtime's environment (no PYTHONUNBUFFERED and the like),
    # loaded by path: benchmarks/ is not a package and runs as scripts.
    path = HERE.parent / "tests" / "lambda_env.py"
    spec = importlib.util.spec_from_file_location("_aiolambda_lambda_env", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_LAMBDA_ENV = _load_lambda_env()


def lambda_environ(port: int, handler: str, extra: Mapping[str, str]) -> dict[str, str]:
    """The environment Lambda gives a bootstrap, and nothing of ours (no credentials)."""
    env: dict[str, str] = _LAMBDA_ENV.lambda_environ(
        runtime_api=f"127.0.0.1:{port}",
        handler=handler,
        task_root=str(HANDLERS),
        function_name="bench",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024",
    )
    # awslambdaric picks its JSON encoder from AWS_EXECUTION_ENV: only where a contender
    # asks for it, as before.
    env.pop("AWS_EXECUTION_ENV", None)
    env.update(extra)
    return env


# -- CPUs ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Placement:
    """Where the mock and the contender run."""

    mock_cpu: int | None
    client_cpu: int | None

    @property
    def label(self) -> str:
        if self.mock_cpu is None:
            return "unpinned"
        if self.mock_cpu == self.client_cpu:
            return f"same CPU ({self.mock_cpu})"
        return f"split CPUs (mock {self.mock_cpu}, contender {self.client_cpu})"


def placement(split: bool, pin: bool = True) -> Placement:
    """Same-CPU pinning (the main table) or one CPU each (``--split-cpu``)."""
    cpus = sorted(os.sched_getaffinity(0))
    if not pin:
        return Placement(None, None)
    if split and len(cpus) >= 2:
        return Placement(cpus[0], cpus[1])
    return Placement(cpus[-1], cpus[-1])


def _pinner(cpu: int | None) -> Callable[[], None] | None:
    if cpu is None:
        return None

    def pin() -> None:  # runs in the child between fork and exec, like `taskset -c`
        os.sched_setaffinity(0, {cpu})

    return pin


# -- one run ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RunResult:
    """One contender process serving ``n`` invocations of one event."""

    contender: str
    size: str
    n: int
    ok: bool
    error: str
    elapsed_s: float  # first /next -> n-th answer
    cold_start_s: float  # exec -> first /next
    peak_rss_kb: int  # VmHWM summed over the contender's live process group (see _group_memory)
    json_equal_answers: int = 0
    max_in_flight: int = 0
    connections: int = 0
    output: str = ""  # the contender's stdout + stderr, when asked for
    client_cpu_s: float = 0.0  # the contender's CPU time over the timed span (10 ms ticks)
    mock_cpu_s: float = 0.0  # the mock's CPU time over the same span
    pss_kb: int = 0  # proportional set size summed over the group when the run ended
    processes: int = 0  # live processes in the contender's group when the run ended
    warm_n: int = 0  # answers after ``full_at`` were first in flight, or after ``warm_after``
    warm_elapsed_s: float = 0.0  # ... and the time they took

    @property
    def us_per_inv(self) -> float:
        return self.elapsed_s / self.n * 1e6 if self.n else float("nan")

    @property
    def cpu_us_per_inv(self) -> float:
        """The contender's own CPU per invocation (NaN when not measurable, e.g. bash)."""
        return self.client_cpu_s / self.n * 1e6 if self.n and self.client_cpu_s else float("nan")


class EventFile:
    """Event bytes written once to a temporary file the mock process reads."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        fd, self.path = tempfile.mkstemp(prefix="aiolambda-bench-", suffix=".json")
        with os.fdopen(fd, "wb") as f:
            f.write(data)

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def __enter__(self) -> EventFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _alive(pid: int) -> bool:
    """True while ``pid`` has not exited; never reaps it (wait4 reads its rusage later)."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return info is None


def run_once(
    contender: Contender,
    event: EventFile,
    n: int,
    where: Placement,
    *,
    size_key: str = "",
    timeout_s: float = 120.0,
    env_extra: Mapping[str, str] | None = None,
    handler: str | None = None,
    stop_signals: Sequence[int] = (),
    capture_output: bool = False,
    full_at: int = 0,
    warm_after: int = 0,
    mock_args: Sequence[str] = (),
    mock_wrap: Sequence[str] = (),
) -> RunResult:
    """Serve ``n`` invocations of ``event`` to a fresh ``contender`` process.

    ``full_at``: also time the part of the run after ``full_at`` invocations were
    first in flight at once (``warm_n`` answers in ``warm_elapsed_s``); ``warm_after``:
    the part after the ``warm_after``-th answer instead.
    ``mock_wrap``: a command prefix for the mock (``valgrind ...`` to count its cost).
    """
    mock = subprocess.Popen(
        [
            *(*mock_wrap, PYTHON, str(MOCK), "--n", str(n), "--event-file", event.path),
            *("--timeout", str(timeout_s), "--full", str(full_at)),
            *("--warm-after", str(warm_after), *mock_args),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        preexec_fn=_pinner(where.mock_cpu),  # noqa: PLW1509 - the harness runs no threads
    )
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    proc: subprocess.Popen[bytes] | None = None
    try:
        assert mock.stdout is not None
        port = int(json.loads(mock.stdout.readline())["port"])
        handler = handler or contender.handler
        env = lambda_environ(port, handler, {**contender.env, **(env_extra or {})})
        argv = (*contender.argv, handler) if contender.handler_arg else contender.argv
        started = time.perf_counter_ns()
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=HANDLERS,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_pinner(where.client_cpu),  # noqa: PLW1509 - no threads here
            start_new_session=True,  # its own process group: killing it takes curl along
        )
        assert mock.stdin is not None
        mock.stdin.write(b"pid %d\n" % proc.pid)  # the mock samples its CPU time
        mock.stdin.flush()
        line = _read_result(mock, proc.pid, timeout_s + 10)
        rss_kb, pss_kb, processes = _kill_and_reap(proc, stop_signals)
        proc = None
        output = ""
        if capture_output:
            log.seek(0)
            output = log.read().decode(errors="replace")
        if line is None:
            return RunResult(
                contender.key,
                size_key,
                n,
                False,
                "contender exited early" + _tail(log),
                0,
                0,
                rss_kb,
            )
        res = json.loads(line)["result"]
        error = res["error"] + (_tail(log) if res["error"] else "")
        return RunResult(
            contender=contender.key,
            size=size_key,
            n=n,
            ok=bool(res["ok"]),
            error=error,
            elapsed_s=res["elapsed_ns"] / 1e9,
            cold_start_s=(res["first_next_ns"] - started) / 1e9 if res["first_next_ns"] else 0.0,
            peak_rss_kb=rss_kb,
            json_equal_answers=res["json_equal_answers"],
            max_in_flight=res["max_in_flight"],
            connections=res["connections"],
            output=output,
            pss_kb=pss_kb,
            processes=processes,
            # bash's own figure would leave out its curl children, where its work is.
            client_cpu_s=0.0 if contender.is_bash else res.get("client_cpu_ns", 0) / 1e9,
            mock_cpu_s=res.get("mock_cpu_ns", 0) / 1e9,
            warm_n=n - res.get("answered_at_full", 0) if res.get("full_ns") else 0,
            warm_elapsed_s=(
                (res["first_next_ns"] + res["elapsed_ns"] - res["full_ns"]) / 1e9
                if res.get("full_ns")
                else 0.0
            ),
        )
    finally:
        if proc is not None:
            _kill_and_reap(proc)
        if mock.stdin is not None:
            mock.stdin.close()
        try:
            mock.wait(10)
        except subprocess.TimeoutExpired:
            mock.kill()
            mock.wait()
        if mock.stdout is not None:
            mock.stdout.close()
        log.close()


def in_fresh_process(where: Placement, script: str, *args: str) -> dict[str, object]:
    """Run ``benchmarks/<script> ARGS`` pinned like a contender; its last stdout line as JSON."""
    out = subprocess.run(
        [PYTHON, str(HERE / script), *args],
        check=True,
        capture_output=True,
        preexec_fn=_pinner(where.client_cpu),
        timeout=300,
    )
    result: dict[str, object] = json.loads(out.stdout.decode().strip().splitlines()[-1])
    return result


def _read_result(mock: subprocess.Popen[bytes], pid: int, timeout_s: float) -> str | None:
    """The mock's result line; None if the contender died before the mock finished."""
    assert mock.stdout is not None
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as sel:
        sel.register(mock.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if sel.select(timeout=0.2):
                line = mock.stdout.readline().decode()
                if not line:
                    raise RuntimeError("the mock Runtime API process died")
                return line
            if not _alive(pid):
                # Give the mock a last chance: the contender may exit right after answering.
                if sel.select(timeout=1.0):
                    return mock.stdout.readline().decode() or None
                return None
    raise TimeoutError("no result from the mock Runtime API")


def _kill_and_reap(
    proc: subprocess.Popen[bytes], stop_signals: Sequence[int] = ()
) -> tuple[int, int, int]:
    """Stop the contender and its process group; return (peak RSS KiB, PSS KiB, processes)."""
    # bash starts its next curl (parked on /next) just after the last answer: wait for it
    # briefly, so the figure holds the two processes that are resident together.
    deadline = time.monotonic() + 2.0
    while proc.args[0] == "bash" and not _curl_parked(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.005)  # polling /proc: there is no event to await
    if proc.args[0] == "bash":
        time.sleep(0.2)  # let that curl finish starting up (its VmHWM grows until it waits)
    rss_kb, pss_kb, resident = _group_memory(proc.pid)
    for sig in stop_signals:  # polite first (a profiled run writes its stats on the way out)
        if not _alive(proc.pid):
            break
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        deadline = time.monotonic() + 5
        while _alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)  # polling a process's exit: there is no event to await here
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    os.waitpid(proc.pid, 0)
    proc.returncode = -9  # reaped above: keep Popen from waiting again
    return rss_kb, pss_kb, resident


def _group_pids(pgid: int) -> list[str]:
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
            # Field 5 (pgrp) follows the parenthesised command name, which may hold spaces.
            if int(stat[stat.rindex(b")") + 2 :].split()[2]) == pgid:
                pids.append(entry.name)
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile
    return pids


def _curl_parked(pgid: int) -> bool:
    """True once the bash bootstrap's next ``curl`` runs (exec'd, so its VmHWM is curl's)."""
    for pid in _group_pids(pgid):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # "(curl) S ...": a live curl, not the zombie of the one that just posted.
        if b"(curl)" in stat and stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] not in b"ZX":
            return True
    return False


def _group_memory(pgid: int) -> tuple[int, int, int]:
    """Sums of VmHWM (peak resident set) and PSS of the live processes in group ``pgid``.

    Not ``ru_maxrss`` from wait4: Linux carries the pre-exec high-water mark over
    exec, so a child forked from this (large) harness would report the harness's
    RSS. VmHWM belongs to the post-exec image. For bash + curl the group holds
    bash and the curl parked on ``/next``: the two that are resident together.
    PSS (now, not peak) splits shared pages among the processes sharing them: the
    fair sum for forked workers. Returns (VmHWM KiB, PSS KiB, processes counted).
    """
    total = pss = count = 0
    for pid in _group_pids(pgid):
        try:
            with open(f"/proc/{pid}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"VmHWM:"):
                        total += int(line.split()[1])
                        count += 1
                        break
            with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
                for line in f:
                    if line.startswith(b"Pss:"):
                        pss += int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile
    return total, pss, count


def _tail(log: object, limit: int = 1500) -> str:
    f = log  # a binary temporary file
    try:
        f.seek(0)  # type: ignore[attr-defined]
        text = f.read().decode(errors="replace")  # type: ignore[attr-defined]
    except (OSError, ValueError):
        return ""
    return f"\n--- contender output (tail) ---\n{text[-limit:]}" if text else ""


def log(msg: str) -> None:
    """Progress goes to stderr; stdout carries the report."""
    print(msg, file=sys.stderr, flush=True)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def median(values: list[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def syscalls_per_invocation(
    contender: Contender, where: Placement, n: int = 2000
) -> dict[str, float]:
    """System calls per invocation by name (``strace -f -c``, a run of n + 1 minus a run of 1).

    The contender is killed under strace, which then writes its summary; start-up
    cancels out in the difference. Empty when strace is missing.
    """
    if not shutil.which("strace"):
        return {}
    counts = []
    for total in (1, n + 1):
        fd, out = tempfile.mkstemp(prefix="aiolambda-bench-strace-")
        os.close(fd)
        traced = Contender(
            contender.key,
            contender.label,
            ("strace", "-f", "-c", "-o", out, *contender.argv),
            contender.env,
            contender.handler,
            contender.is_bash,
            handler_arg=contender.handler_arg,
        )
        with EventFile(TINY_EVENT) as event:
            mock = subprocess.Popen(
                [PYTHON, str(MOCK), "--n", str(total), "--event-file", event.path],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                preexec_fn=_pinner(where.mock_cpu),  # noqa: PLW1509 - no threads here
            )
            assert mock.stdin is not None and mock.stdout is not None
            port = int(json.loads(mock.stdout.readline())["port"])
            argv = (*traced.argv, traced.handler) if traced.handler_arg else traced.argv
            strace = subprocess.Popen(
                argv,
                env=lambda_environ(port, traced.handler, traced.env),
                cwd=HANDLERS,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_pinner(where.client_cpu),  # noqa: PLW1509 - no threads here
            )
            try:
                line = _read_result(mock, strace.pid, 120)
                if line is None or not json.loads(line)["result"]["ok"]:
                    return {}
                # Kill what strace traces (its children), so that strace itself exits cleanly.
                for child in (
                    Path(f"/proc/{strace.pid}/task/{strace.pid}/children").read_text().split()
                ):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(child), signal.SIGKILL)
                strace.wait(30)
            finally:
                if strace.poll() is None:
                    strace.kill()
                    strace.wait()
                mock.stdin.close()
                mock.wait(10)
                mock.stdout.close()
        counts.append(_strace_counts(out))
        os.unlink(out)
    base, full = counts
    per = {name: (calls - base.get(name, 0)) / n for name, calls in full.items()}
    return {
        name: round(v, 2) for name, v in sorted(per.items(), key=lambda kv: -kv[1]) if v >= 0.05
    }


def _strace_counts(path: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        # "% time  seconds  usecs/call  calls  [errors]  syscall"
        if (
            len(parts) >= 5
            and parts[0][:1].isdigit()
            and parts[-1].isidentifier()
            and parts[-1] != "total"
        ):
            counts[parts[-1]] = int(parts[3])
    return counts


# -- what a results file records -----------------------------------------------------
def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=HERE, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def run_meta(command: str, started: float) -> dict[str, object]:
    """What a figure needs to be traced: when, which code, which machine, which command."""
    commit = _git("rev-parse", "--short=12", "HEAD") or "unknown"
    # Results files rewritten by the run (or by an earlier one) are not changes to the code.
    if _git("status", "--porcelain", "--untracked-files=no", "--", ":/", ":!/benchmarks/results"):
        commit += " (with uncommitted changes)"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "commit": commit,
        "command": command,
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "vcpus": os.cpu_count(),
        "kernel": platform.release(),
    }


# -- committed results files ---------------------------------------------------------
RESULTS = HERE / "results"


def command_line(argv: Sequence[str] | None = None) -> str:
    """How this run was started, as a reader would retype it from the repository's root."""
    argv = sys.argv if argv is None else argv
    return " ".join(["python", f"benchmarks/{Path(argv[0]).name}", *argv[1:]])


def start_meta(command: str | None = None) -> dict[str, object]:
    """``run_meta`` taken as a run starts, with the load average at that moment."""
    meta = run_meta(command or command_line(), time.time())
    meta["load_start"] = round(os.getloadavg()[0], 2)
    return meta


def header_line(meta: Mapping[str, object]) -> str:
    """The line every committed results file opens with: command, date, commit, machine, load."""
    return (
        f"`{meta['command']}` at commit `{meta['commit']}` on {meta['date']}; "
        f"Python {meta['python']}, {meta['cpu']}, {meta['vcpus']} vCPUs, "
        f"Linux {meta['kernel']}; load average {meta['load_start']:.1f} at the start, "
        f"{meta['load_end']:.1f} at the end (1-minute; other work on the machine inflates "
        "wall-clock times, instruction counts and side-by-side ratios hold better)."
    )


def write_results(
    name: str, title: str, meta: dict[str, object], lines: Sequence[str], data: object
) -> Path:
    """``results/NAME.md`` (title, header line, ``lines``) and ``results/NAME.json`` (meta, data).

    Call it when the run is over: the load average at the end is read here.
    """
    meta["load_end"] = round(os.getloadavg()[0], 2)
    RESULTS.mkdir(exist_ok=True)
    markdown = RESULTS / f"{name}.md"
    markdown.write_text("\n".join([f"# {title}", "", header_line(meta), "", *lines]) + "\n")
    blob = {"meta": meta, "results": data}
    (RESULTS / f"{name}.json").write_text(json.dumps(blob, indent=1, ensure_ascii=False) + "\n")
    log(f"written: {markdown.relative_to(HERE.parent)} and .json")
    return markdown
