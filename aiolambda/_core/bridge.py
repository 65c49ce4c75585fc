"""Sync wrappers around an ``async def`` handler, run so that they bracket the coroutine.

A plain-``def`` decorator (a tracer's span, an error tracker's scope, a metrics flush)
around an ``async def`` handler only sees the handler create its coroutine: what it
does "after" the call would run before the handler's body. The bridge runs such a
wrapper in a thread of its own, with a copy of the invocation's context variables.
The wrapper's call of the async function reaches a *shim*, put in place of the
wrapper's reference to that function at init: inside a bridge thread the shim hands
the coroutine to the runtime's loop, as a task whose context is a copy of the
thread's (the wrapper's spans are its parents, its scope is active), and blocks
until it is done, returning its result or raising its exception through the
wrapper. Anywhere else the shim is the function: it returns the coroutine.

The reference is found by walking the wrapper chain at init: ``__wrapped__`` of wrapt
proxies, and closure cells of plain functions (``functools.wraps`` or not). Where
none is found the handler runs as before and the init warning names the wrapper.
Handlers that are a plain ``async def`` get no bridge and pay nothing.

At the invocation's deadline the runtime cancels the waiting task; the bridge
cancels the coroutine's task, the shim raises ``CancelledError`` into the wrapper,
and the bridge waits for the wrapper to unwind before the timeout is reported.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from types import CellType, FunctionType, MethodType
from typing import Any, Final

_MAX_LAYERS: Final = 64
_MAX_DEPTH: Final = 8  # how deep a wrapper without __wrapped__ is searched for its target
_THREAD_PREFIX: Final = "aiolambda-bridge"

# Names in a wrapper's code that say it drives the coroutine itself rather than passing
# it through: given the result in its place, it would fail.
_DRIVES_A_LOOP: Final = frozenset(
    {
        "run",
        "run_until_complete",
        "run_coroutine_threadsafe",
        "new_event_loop",
        "get_event_loop",
        "ensure_future",
        "create_task",
        "gather",
        "wait_for",
        "async_to_sync",
        "send",
    }
)

_local = threading.local()  # .job: the _Job a bridge thread is running, if any


class _Job:
    """One invocation's run of the wrapper in a bridge thread."""

    __slots__ = ("cancelled", "loop", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.task: asyncio.Task[Any] | None = None
        self.cancelled = False  # read and written on the loop's thread only

    def run(self, outer: Callable[..., Any], event: Any, context: Any) -> tuple[bool, Any]:
        """Call the wrapper (in a bridge thread, inside the invocation's context copy)."""
        _local.job = self
        try:
            return True, outer(event, context)
        except BaseException as exc:
            return False, exc
        finally:
            _local.job = None

    def wait_for(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` on the loop in the calling thread's context; block until it ends."""
        context = contextvars.copy_context()
        done = threading.Event()
        outcome: list[Any] = []

        def finished(task: asyncio.Task[Any]) -> None:
            if task.cancelled():
                outcome.append((False, asyncio.CancelledError()))
            else:
                error = task.exception()
                outcome.append((False, error) if error is not None else (True, task.result()))
            done.set()

        def start() -> None:
            if self.cancelled:  # the deadline passed while the wrapper was getting ready
                coro.close()
                outcome.append((False, asyncio.CancelledError()))
                done.set()
                return
            self.task = self.loop.create_task(coro, context=context)
            self.task.add_done_callback(finished)

        self.loop.call_soon_threadsafe(start)
        done.wait()
        ok, value = outcome[0]
        if ok:
            return value
        raise value

    def cancel(self) -> None:
        self.cancelled = True
        if self.task is not None:
            self.task.cancel("aiolambda: invocation deadline")


def shim(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` (an ``async def``), except that in a bridge thread calling it runs the
    coroutine to completion on the loop and returns its result."""

    @functools.wraps(func)
    def aiolambda_bridge_shim(*args: Any, **kwargs: Any) -> Any:
        job: _Job | None = getattr(_local, "job", None)
        if job is None:
            return func(*args, **kwargs)
        return job.wait_for(func(*args, **kwargs))

    aiolambda_bridge_shim.__aiolambda_shim__ = True  # type: ignore[attr-defined]
    return aiolambda_bridge_shim


class Bridge:
    """Runs a sync wrapper in bridge threads, one per invocation in flight."""

    def __init__(self, outer: Callable[..., Any], concurrency: int) -> None:
        self._outer = outer
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=_THREAD_PREFIX)

    def handler(self) -> Callable[[Any, Any], Coroutine[Any, Any, Any]]:
        """The ``async def`` the runtime awaits in place of the wrapper."""
        outer, pool = self._outer, self._pool

        async def bridged(event: Any, context: Any) -> Any:
            loop = asyncio.get_running_loop()
            job = _Job(loop)
            call = functools.partial(job.run, outer, event, context)
            running = loop.run_in_executor(pool, contextvars.copy_context().run, call)
            try:
                ok, value = await asyncio.shield(running)
            except asyncio.CancelledError:
                job.cancel()
                await running  # the wrapper unwinds (its "after" step) before we go on
                raise
            if not ok:
                raise value
            if inspect.isawaitable(value):  # a wrapper whose inner call was not reached
                return await value
            return value

        bridged.__wrapped__ = outer  # type: ignore[attr-defined]
        return bridged

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def is_async_layer(layer: Any) -> bool:
    """True for an ``async def`` (also a wrapt proxy whose wrapper is ``async def``).

    wrapt proxies pretend to be the function they wrap (``isinstance`` and
    ``__code__`` included), so their real type decides.
    """
    if type(layer) in (FunctionType, MethodType):
        return inspect.iscoroutinefunction(layer)
    wrapper = getattr(layer, "_self_wrapper", None)
    if wrapper is not None:
        return inspect.iscoroutinefunction(wrapper)
    return False


def leads_to_async(func: Any) -> bool:
    """True when ``func``, a sync callable, wraps an ``async def`` (searched by closure too)."""
    return not is_async_layer(func) and _leads_to_async(func, _MAX_DEPTH)


def intercept(func: Any) -> bool:
    """Put a shim in place of the reference a sync wrapper chain holds to the ``async def``
    it leads to; True when done (the chain can be bridged)."""
    layer = func
    for _ in range(_MAX_LAYERS):
        if is_async_layer(layer) or getattr(layer, "__aiolambda_shim__", False):
            return False
        slot = _reference(layer)
        if slot is None:
            return False
        inner, replace = slot
        if getattr(inner, "__aiolambda_shim__", False):
            return True  # already intercepted (the handler module was loaded before)
        if is_async_layer(inner):
            replace(shim(inner))
            return True
        layer = inner
    return False


def _reference(layer: Any) -> tuple[Any, Callable[[Any], None]] | None:
    """The next layer inward and how to replace the wrapper's reference to it."""
    if type(layer) is not FunctionType:
        if hasattr(type(layer), "__wrapped__") and hasattr(layer, "_self_wrapper"):  # wrapt

            def set_wrapped(value: Any) -> None:
                layer.__wrapped__ = value

            return layer.__wrapped__, set_wrapped
        return None
    if _DRIVES_A_LOOP & set(layer.__code__.co_names):
        return None  # it runs the coroutine itself (asyncio.run(func(...)), ...): leave it
    wrapped = getattr(layer, "__wrapped__", None)
    cells: list[CellType] = []
    for cell in layer.__closure__ or ():
        try:
            contents = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if wrapped is not None and contents is wrapped:
            return contents, functools.partial(_set_cell, cell)
        if callable(contents) and _leads_to_async(contents, _MAX_DEPTH):
            cells.append(cell)
    if len(cells) != 1:  # none, or no telling which one the wrapper calls
        return None
    return cells[0].cell_contents, functools.partial(_set_cell, cells[0])


def _set_cell(cell: CellType, value: Any) -> None:
    cell.cell_contents = value


def _leads_to_async(func: Any, depth: int) -> bool:
    if is_async_layer(func):
        return True
    if depth == 0:
        return False
    wrapped = getattr(func, "__wrapped__", None)
    if wrapped is not None:
        return _leads_to_async(wrapped, depth - 1)
    if type(func) is not FunctionType:
        return False
    for cell in func.__closure__ or ():
        try:
            contents = cell.cell_contents
        except ValueError:
            continue
        if callable(contents) and _leads_to_async(contents, depth - 1):
            return True
    return False
