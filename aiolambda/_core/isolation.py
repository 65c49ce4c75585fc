"""One process per concurrent invocation for sync handlers (Lambda Managed Instances).

AWS's Python runtime serves ``AWS_LAMBDA_MAX_CONCURRENCY=N`` with N processes, each
importing the handler itself; the sync code of the Python ecosystem assumes that
(module-level ``BatchProcessor``, Logger keys, Metrics sets). aiolambda can only tell
a sync handler from an async one by importing it, so before it does, the runtime
forks a *zygote*: a copy of itself with the interpreter and aiolambda loaded and no
handler, no thread and no event loop yet. Once the handler turns out to be sync, the
zygote forks N - 1 workers, each of which carries on from that point as a runtime of
concurrency 1 and imports the handler itself (its own init, sharing the pages of the
interpreter); for an async handler the zygote just exits.

The zygote supervises its workers: on SIGTERM it passes the signal on and waits; when
a worker ends by itself (a sync handler that outlived its timeout retires its
process) it stops the others too, and exits with the worst status. The runtime that
started it retires when it ends, so Lambda replaces the environment as a whole.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import asyncio

GRACE_S: Final = 5.0
_SPAWN: Final = b"S"


class Zygote:
    """The handle the runtime keeps on its zygote (see the module docstring)."""

    def __init__(self, pid: int, command_fd: int) -> None:
        self.pid = pid
        self._command_fd = command_fd
        self._exited: asyncio.Future[int] | None = None
        self._stopping = False
        self._watcher: threading.Thread | None = None  # the sync driver's
        self._code = 0

    @classmethod
    def fork(cls) -> Zygote | None:
        """Fork the zygote. Returns its handle here; returns ``None`` in a worker it
        forked later, which then carries on as a runtime of concurrency 1."""
        sys.stdout.flush()
        sys.stderr.flush()
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid:
            os.close(read_fd)
            return cls(pid, write_fd)
        os.close(write_fd)
        _zygote_main(read_fd)  # returns only in a worker
        return None

    def spawn(self, count: int, runtime: Any) -> None:
        """Fork ``count`` workers; stop ``runtime`` when the zygote ends on its own."""
        os.write(self._command_fd, _SPAWN + str(count).encode() + b"\n")
        os.close(self._command_fd)
        self._watch(runtime)

    def spawn_sync(self, count: int, runtime: Any) -> None:
        """:meth:`spawn` for the sync driver: a thread waits for the zygote, no loop."""
        os.write(self._command_fd, _SPAWN + str(count).encode() + b"\n")
        os.close(self._command_fd)

        def wait() -> None:
            _, status = os.waitpid(self.pid, 0)
            self._code = os.waitstatus_to_exitcode(status)
            if not self._stopping:
                print(
                    f"aiolambda: worker processes ended (status {self._code}); "
                    "retiring this environment",
                    file=sys.stderr,
                )
                runtime.stop(1 if self._code else 0)

        from aiolambda._core.runtime_sync import start_thread

        self._watcher = start_thread(wait, "aiolambda-zygote-watch")

    def stop_sync(self) -> int:
        """:meth:`stop` for the sync driver."""
        self._stopping = True
        watcher = self._watcher
        if watcher is None:
            return 0
        if watcher.is_alive():
            _kill(self.pid, signal.SIGTERM)
            watcher.join(GRACE_S * 2)
            if watcher.is_alive():
                _kill(self.pid, signal.SIGKILL)
                watcher.join()
        return 1 if self._code else 0

    def dismiss(self) -> None:
        """The handler is async: no workers; the zygote exits (reaped off the init path)."""
        os.close(self._command_fd)
        threading.Thread(target=os.waitpid, args=(self.pid, 0), daemon=True).start()

    def _watch(self, runtime: Any) -> None:
        import asyncio  # the asyncio driver's: imported already

        loop = asyncio.get_running_loop()
        exited: asyncio.Future[int] = loop.create_future()
        self._exited = exited

        def on_exit(code: int) -> None:
            exited.set_result(code)
            if not self._stopping:
                print(
                    f"aiolambda: worker processes ended (status {code}); retiring this environment",
                    file=sys.stderr,
                )
                runtime.stop(1 if code else 0)

        def wait() -> None:
            _, status = os.waitpid(self.pid, 0)
            loop.call_soon_threadsafe(on_exit, os.waitstatus_to_exitcode(status))

        # One thread for the zygote's whole life: os.waitpid is the portable way to
        # learn that a child ended without an asyncio child watcher.
        threading.Thread(target=wait, name="aiolambda-zygote-watch", daemon=True).start()

    async def stop(self) -> int:
        """Shut the workers down (they answer what they hold); 1 if any failed."""
        import asyncio

        self._stopping = True
        if self._exited is None:
            return 0
        if not self._exited.done():
            os.kill(self.pid, signal.SIGTERM)
        try:
            code = await asyncio.wait_for(asyncio.shield(self._exited), GRACE_S * 2)
        except TimeoutError:
            os.kill(self.pid, signal.SIGKILL)
            code = await self._exited
        return 1 if code else 0


def _zygote_main(command_fd: int) -> None:
    """In the zygote: wait for the command; fork workers and supervise them."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with os.fdopen(command_fd, "rb") as commands:
        command = commands.readline()
    if not command.startswith(_SPAWN):
        os._exit(0)
    stopping = False
    workers: set[int] = set()

    def pass_on(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in workers:
            _kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, pass_on)
    for _ in range(int(command[1:])):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            return  # a worker: back to the runtime's start-up, with concurrency 1
        workers.add(pid)
    worst = 0
    while workers:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        workers.discard(pid)
        code = os.waitstatus_to_exitcode(status)
        worst = max(worst, 1 if code else 0)
        if not stopping:
            pass_on(signal.SIGTERM, None)  # one ended by itself: the environment retires
    os._exit(worst)


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
