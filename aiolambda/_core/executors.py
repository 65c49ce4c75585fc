"""The event loop's default executor, owned by aiolambda so a timeout cannot starve it.

``asyncio.to_thread`` and ``loop.run_in_executor(None, ...)`` run on the loop's
default executor, a bounded thread pool. A thread cannot be interrupted: when an
async handler is cancelled at its deadline while its ``to_thread`` calls are blocked
(a boto3 call waiting out a 60 s read timeout), those threads stay busy. With the
stock pool the next invocations would queue behind them and time out too.

:class:`DefaultExecutor` records which invocation submitted each job (the request id
context variable, read on the loop thread at submit time). After a timeout,
:meth:`ExecutorGuard.after_timeout` retires the pool if that invocation still holds
threads in it: a fresh pool becomes the default, jobs of other invocations still
queued in the old one move to the new one, and the old one's threads end when their
jobs do. Threads that stay blocked are counted; past :data:`MAX_ABANDONED_THREADS`
the environment is retired, as Lambda would replace it.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final

from aiolambda._core.context import request_id_var

MAX_ABANDONED_THREADS: Final = 32
"""Threads left blocked by timed-out invocations before the runtime retires."""

_abandoned_lock = threading.Lock()
_abandoned = [0]  # process-wide: threads outlive the pool and the loop they came from


def abandoned_threads() -> int:
    """Threads still running jobs of invocations that timed out (process-wide)."""
    return _abandoned[0]


def _count_abandoned(delta: int) -> None:
    with _abandoned_lock:
        _abandoned[0] += delta


class _Job:
    __slots__ = ("abandoned", "args", "fn", "future", "home", "kwargs", "owner")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        owner: Any,
        home: DefaultExecutor,
    ) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.owner = owner
        self.future: Future[Any] = Future()
        self.home = home  # the pool that runs it; a job moved away is skipped by the old one
        self.abandoned = False  # running in a retired pool


class DefaultExecutor(ThreadPoolExecutor):
    """A ``ThreadPoolExecutor`` (as ``set_default_executor`` requires) that knows whose
    job each thread runs, and can hand its queued jobs over to a successor."""

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="asyncio")
        self._lock = threading.Lock()
        self._queued: set[_Job] = set()
        self._running: set[_Job] = set()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        job = _Job(fn, args, kwargs, request_id_var.get(), self)
        with self._lock:
            self._queued.add(job)
        super().submit(self._run, job)
        return job.future

    def _run(self, job: _Job) -> None:
        with self._lock:
            if job.home is not self:
                return  # moved to a successor pool, which runs it
            self._queued.discard(job)
            self._running.add(job)
        try:
            if not job.future.set_running_or_notify_cancel():
                return
            try:
                result = job.fn(*job.args, **job.kwargs)
            except BaseException as exc:
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)
        finally:
            with self._lock:
                self._running.discard(job)
                abandoned = job.abandoned
            if abandoned:
                _count_abandoned(-1)

    def threads_of(self, owner: Any) -> int:
        """How many threads run jobs ``owner`` submitted."""
        with self._lock:
            return sum(1 for job in self._running if job.owner == owner)

    def retire(self, successor: DefaultExecutor) -> None:
        """Move queued jobs to ``successor``; running ones finish here, then threads end."""
        with self._lock:
            moving = [job for job in self._queued if not job.future.cancelled()]
            for job in moving:
                job.home = successor  # from now on this pool's threads skip it
            self._queued.clear()
            for job in self._running:
                job.abandoned = True
            _count_abandoned(len(self._running))
        for job in moving:
            successor._adopt(job)
        self.shutdown(wait=False)

    def _adopt(self, job: _Job) -> None:
        with self._lock:
            self._queued.add(job)
        super().submit(self._run, job)


class ExecutorGuard:
    """Installs :class:`DefaultExecutor` on a loop and replaces it after a timeout."""

    __slots__ = ("_executor", "_loop", "_max_workers")

    def __init__(self, loop: asyncio.AbstractEventLoop, concurrency: int = 1) -> None:
        self._loop = loop
        # ThreadPoolExecutor's own default, plus room for each invocation in flight to
        # hold two threads at once: a sync step that waits on async work it handed back
        # to the loop, which itself runs a sync step (Powertools' validation middlewares
        # around an async route) would otherwise deadlock once N exceeds the pool.
        # Threads start only when needed.
        self._max_workers = (
            None if concurrency <= 1 else min(32, (os.cpu_count() or 1) + 4) + 2 * concurrency
        )
        self._executor = DefaultExecutor(self._max_workers)
        loop.set_default_executor(self._executor)

    def after_timeout(self, request_id: str) -> bool:
        """``request_id`` was cancelled at its deadline: keep its blocked threads from
        starving later invocations. Returns False once too many threads are abandoned
        (the runtime should retire)."""
        if self._executor.threads_of(request_id):
            old, self._executor = self._executor, DefaultExecutor(self._max_workers)
            self._loop.set_default_executor(self._executor)
            old.retire(self._executor)
        return abandoned_threads() <= MAX_ABANDONED_THREADS
