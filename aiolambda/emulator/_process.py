"""Runs the bootstrap as a child process and restarts it the way Lambda does.

The child gets a fresh session (so a kill reaches every process it started, such as
curl under a bash bootstrap) and one pipe for both stdout and stderr, which Lambda
merges too. The read end is non-blocking and drained synchronously whenever an
invocation ends, so a line printed before the answer was posted is never missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from typing import TYPE_CHECKING, Final

from aiolambda.emulator._memory import PeakMemory

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from aiolambda.emulator._engine import Engine, LogBuffer

# Lambda gives the runtime 500 ms after SIGTERM when an internal extension is
# registered; without extensions there is no SIGTERM at all, only SIGKILL.
SHUTDOWN_GRACE_S: Final = 0.5
# With external extensions (a layer's extensions/), the whole environment gets 2 s.
EXTERNAL_SHUTDOWN_GRACE_S: Final = 2.0
_SIGNAL_WORDS: Final = {
    signal.SIGKILL: "killed",
    signal.SIGTERM: "terminated",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGINT: "interrupt",
}


def describe_exit(returncode: int) -> str:
    """How RAPID words a runtime's exit (``Runtime exited with error: exit status 1``)."""
    if returncode == 0:
        return "Runtime exited without providing a reason"
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"Runtime exited with error: signal {-returncode}"
        word = _SIGNAL_WORDS.get(sig, sig.name)
        return f"Runtime exited with error: signal: {word}"
    return f"Runtime exited with error: exit status {returncode}"


class Supervisor:
    """Starts the runtime, watches it, kills it on a reset and starts it again on demand."""

    def __init__(
        self,
        engine: Engine,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str,
        logs: LogBuffer,
        *,
        extensions: Sequence[str] = (),
    ) -> None:
        self._engine = engine
        self._extension_paths = list(extensions)
        self._ext_procs: list[asyncio.subprocess.Process] = []
        self._deadline: float | None = None  # when the environment's shutdown ends
        self._argv = list(argv)
        self._env = dict(env)
        self._cwd = cwd
        self._logs = logs
        self._proc: asyncio.subprocess.Process | None = None
        self._pipe: int | None = None
        self._demand = asyncio.Event()
        self._exited = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._restart_eagerly = False
        self._killed = False
        self._kill_timer: asyncio.TimerHandle | None = None
        self.returncode: int | None = None
        self.exit_codes: list[int] = []
        self.starts = 0
        self._memory = PeakMemory()
        engine.memory_probe = self._memory.sample_mb
        engine.on_reset = self.reset
        engine.on_demand = self.demand
        engine.on_drained = self._replace_now
        logs.drain = self._drain

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def start(self) -> None:
        """Start the first runtime now, so a bad bootstrap command fails loudly here."""
        await self._spawn()
        self._task = asyncio.create_task(self._watch())

    def demand(self) -> None:
        if self._proc is None:
            self._demand.set()

    def reset(self, reason: str) -> None:
        """Lambda's reset after a timeout: stop this runtime, then start a fresh one."""
        self._restart_eagerly = True
        self._stop(reason)

    def replace(self) -> None:
        """Replace the runtime with a fresh one (a new init) once nothing is in flight.

        What runs now finishes on the old runtime; what arrives meanwhile waits for the
        new one, as if Lambda had moved the function to a new execution environment.
        """
        if self._proc is None or self._proc.returncode is not None:
            return  # the next invocation starts a new runtime anyway
        self._engine.draining = True
        if self._engine.in_flight == 0:
            self._replace_now()

    def _replace_now(self) -> None:
        if self._engine.draining and self._engine.in_flight == 0 and not self._closing:
            self._restart_eagerly = True
            self._stop("spindown")

    async def wait_exit(self) -> int | None:
        if self._proc is not None:
            await self._exited.wait()
        return self.returncode

    async def close(self) -> None:
        self._closing = True
        self._demand.set()
        if self._proc is not None:
            self._stop("spindown")
            with contextlib.suppress(ProcessLookupError):
                await self._proc.wait()
        if self._task is not None:
            await self._task
        self._close_pipe()

    # -- internals --------------------------------------------------------------------
    async def _spawn(self) -> None:
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        self._pipe = read_fd
        asyncio.get_running_loop().add_reader(read_fd, self._drain)
        try:
            await self._start_extensions(write_fd)
            self._proc = await asyncio.create_subprocess_exec(
                *self._argv,
                cwd=self._cwd,
                env=self._env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                start_new_session=True,
            )
        except BaseException:
            self._close_pipe()
            for ext in self._ext_procs:
                self._signal(ext, signal.SIGKILL)
            raise
        finally:
            os.close(write_fd)
        self._exited.clear()
        self.starts += 1
        self._memory.restart(self._proc.pid)
        self._engine.runtime_started()

    async def _watch(self) -> None:
        while True:
            proc = self._proc
            if proc is None:
                if self._closing:
                    return
                await self._demand.wait()
                self._demand.clear()
                if self._closing:
                    return
                try:
                    await self._spawn()
                except OSError as exc:
                    self._engine.runtime_exited(f"Runtime failed to start: {exc}")
                    continue
                if self._closing:  # close() ran while the process was being created
                    self._stop("spindown")
                continue
            returncode = await proc.wait()
            self._memory.stopped()
            if self._kill_timer is not None:
                self._kill_timer.cancel()
                self._kill_timer = None
            self._drain()
            crashed_mid_invoke = self._engine.in_flight > 0
            if not self._closing:
                # A runtime we killed ourselves (a reset) is not to blame for queued work.
                self._engine.runtime_exited(describe_exit(returncode), blame_init=not self._killed)
            # The environment ends with its runtime: its extensions get their shutdown
            # (queued work meanwhile waits within the init budget of the next one).
            await self._end_extensions()
            self._drain()
            self._close_pipe()
            self._proc = None
            self.returncode = returncode
            self.exit_codes.append(returncode)
            self._exited.set()
            if self._closing:
                return
            if crashed_mid_invoke or self._restart_eagerly or self._engine.has_work:
                self._demand.set()
            self._restart_eagerly = False
            self._killed = False

    def _stop(self, reason: str) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        self._killed = True
        if self._engine.extensions or self._ext_procs:
            grace = EXTERNAL_SHUTDOWN_GRACE_S if self._ext_procs else SHUTDOWN_GRACE_S
            self._engine.shutdown_event(reason, int(grace * 1000))
            self._deadline = time.monotonic() + grace
            self._signal(proc, signal.SIGTERM)
            loop = asyncio.get_running_loop()
            self._kill_timer = loop.call_later(grace, self._signal, proc, signal.SIGKILL)
        else:
            self._signal(proc, signal.SIGKILL)

    # -- external extensions (a layer's extensions/ directory) ------------------------
    async def _start_extensions(self, output_fd: int) -> None:
        """Start the extensions, then wait (within the init budget) for them to register.

        As on Lambda, they run before the runtime, and the runtime gets its first
        invocation only once each one has asked for its next event.
        """
        self._ext_procs = []
        self._engine.begin_environment()
        if not self._extension_paths:
            return
        for path in self._extension_paths:
            try:
                ext = await asyncio.create_subprocess_exec(
                    path,
                    cwd=self._cwd,
                    env=self._env,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=output_fd,
                    stderr=output_fd,
                    start_new_session=True,
                )
            except OSError as exc:
                self._logs.feed_line(f"aiolambda: extension {path} failed to start: {exc}\n")
                continue
            self._ext_procs.append(ext)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._engine.cfg.init_timeout
        while True:
            alive = [ext for ext in self._ext_procs if ext.returncode is None]
            registered = len(self._engine.extensions)
            remaining = deadline - loop.time()
            if registered >= len(alive) or remaining <= 0:
                break
            waits = [
                asyncio.ensure_future(self._engine.wait_for_registrations(registered + 1)),
                *(asyncio.ensure_future(ext.wait()) for ext in alive),
            ]
            try:
                await asyncio.wait(waits, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in waits:
                    task.cancel()
        missing = len(self._ext_procs) - len(self._engine.extensions)
        if missing > 0:
            # Lambda fails the init here (Extension.Crash or a timeout); locally the
            # function still runs, and this line says why its extensions are missing.
            self._logs.feed_line(
                f"aiolambda: {missing} of {len(self._ext_procs)} extensions did not register "
                "(exited, or still silent after the init budget)\n"
            )
        self._engine.expect_extensions(self._engine.extensions)

    async def _end_extensions(self) -> None:
        """The runtime has exited: the extensions get SHUTDOWN, then SIGKILL at the deadline."""
        deadline, self._deadline = self._deadline, None
        alive = [ext for ext in self._ext_procs if ext.returncode is None]
        self._ext_procs = []
        if not alive:
            return
        if deadline is None:  # the runtime ended on its own: the environment fails
            self._engine.shutdown_event("failure", int(EXTERNAL_SHUTDOWN_GRACE_S * 1000))
            deadline = time.monotonic() + EXTERNAL_SHUTDOWN_GRACE_S
        remaining = max(0.0, deadline - time.monotonic())
        _, pending = await asyncio.wait(
            [asyncio.ensure_future(ext.wait()) for ext in alive], timeout=remaining
        )
        for ext in alive:
            self._signal(ext, signal.SIGKILL)
        if pending:
            await asyncio.wait(pending)

    @staticmethod
    def _signal(proc: asyncio.subprocess.Process, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    def _drain(self) -> None:
        fd = self._pipe
        if fd is None:
            return
        while True:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._close_pipe()
                return
            self._logs.feed(data)

    def _close_pipe(self) -> None:
        fd, self._pipe = self._pipe, None
        if fd is None:
            return
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(fd)
        os.close(fd)
