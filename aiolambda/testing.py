"""Test helpers: run a Lambda handler under the local emulator from any test.

Plain (synchronous) tests, no plugin needed::

    from aiolambda.testing import invoke

    def test_hello():
        result = invoke("app.handler", {"name": "Ada"}, task_root="src")
        assert result.ok and result.json()["message"] == "Hello, Ada!"

Async tests (any runner)::

    from aiolambda.testing import invoke_async, lambda_emulator

    async def test_hello():
        async with lambda_emulator("app.handler", task_root="src") as emu:
            result = await emu.invoke({"name": "Ada"})

A long-lived emulator for synchronous code such as boto3::

    with EmulatorThread("app.handler") as emu:
        boto3.client("lambda", endpoint_url=emu.endpoint_url, ...).invoke(FunctionName="function")

pytest fixture: add ``pytest_plugins = ["aiolambda.testing"]`` to your top-level
``conftest.py`` and ask for ``lambda_emulator_factory``: a function taking the same
arguments as :class:`EmulatorThread` whose emulators are closed after the test.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

from aiolambda.emulator import Emulator, InvokeResult

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterator
    from types import TracebackType

    from aiolambda.emulator import RecordedRequest

__all__ = [
    "EmulatorThread",
    "invoke",
    "invoke_async",
    "lambda_emulator",
    "lambda_emulator_factory",
]


def lambda_emulator(handler: str | None = None, **kwargs: Any) -> Emulator:
    """An :class:`~aiolambda.emulator.Emulator` to use as ``async with``; same arguments."""
    return Emulator(handler, **kwargs)


async def invoke_async(handler: str, event: Any = None, **kwargs: Any) -> InvokeResult:
    """Start ``handler`` under a fresh emulator, invoke it once with ``event``, stop it.

    ``kwargs`` go to :class:`~aiolambda.emulator.Emulator` (``task_root``,
    ``bootstrap``, ``timeout``, ``env``…). ``None`` sends ``{}``.
    """
    async with Emulator(handler, **kwargs) as emu:
        return await emu.invoke({} if event is None else event)


def invoke(handler: str, event: Any = None, **kwargs: Any) -> InvokeResult:
    """Blocking :func:`invoke_async`, usable from plain test functions.

    When called while an event loop runs in this thread, the emulator runs on a
    private loop in a helper thread instead, so the caller's loop is not re-entered.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(invoke_async(handler, event, **kwargs))
    outcome: list[InvokeResult] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            outcome.append(asyncio.run(invoke_async(handler, event, **kwargs)))
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=work, name="aiolambda-invoke")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


class EmulatorThread:
    """An emulator running on its own event loop in a background thread.

    For synchronous code: boto3 clients, ``requests``, the AWS CLI, or tests that
    invoke many times. ``with EmulatorThread(...) as emu`` starts it and stops it.
    """

    def __init__(self, handler: str | None = None, **kwargs: Any) -> None:
        self.emulator = Emulator(handler, **kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> EmulatorThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start the loop thread, then the emulator on it."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="aiolambda-emulator", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            self._call(self.emulator.start())
        except BaseException:
            self._stop_loop()
            raise

    def close(self) -> None:
        """Stop the emulator (and its runtime), then the loop thread."""
        if self._loop is None:
            return
        try:
            self._call(self.emulator.close())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        if self._loop is None:
            coro.close()
            raise RuntimeError("the emulator thread is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def invoke(self, event: Any = b"{}", **kwargs: Any) -> InvokeResult:
        """Invoke once and block until the result; see :meth:`Emulator.invoke`."""
        result: InvokeResult = self._call(self.emulator.invoke(event, **kwargs))
        return result

    @property
    def invoke_url(self) -> str:
        return self.emulator.invoke_url

    @property
    def endpoint_url(self) -> str:
        return self.emulator.endpoint_url

    @property
    def runtime_api(self) -> str:
        return self.emulator.runtime_api

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self.emulator.requests)

    @property
    def results(self) -> list[InvokeResult]:
        return list(self.emulator.results)


def _factory_fixture() -> Iterator[Callable[..., EmulatorThread]]:
    started: list[EmulatorThread] = []

    def start(handler: str | None = None, **kwargs: Any) -> EmulatorThread:
        emu = EmulatorThread(handler, **kwargs)
        emu.start()
        started.append(emu)
        return emu

    try:
        yield start
    finally:
        for emu in reversed(started):
            emu.close()


try:
    import pytest
except ImportError:  # pragma: no cover - pytest is only needed for the fixture
    lambda_emulator_factory: Any = None
else:
    lambda_emulator_factory = pytest.fixture(name="lambda_emulator_factory")(_factory_fixture)
