"""Shared test plumbing: every ``async def`` test runs once on asyncio and once on uvloop.

No plugin is needed: coroutine tests are parametrised over ``loop_kind`` and run in
a fresh ``asyncio.Runner`` with the matching loop factory, bounded by a timeout so a
wedged test fails instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

LOOP_KINDS = ("asyncio", "uvloop")
DRIVERS = ("auto", "asyncio")
ASYNC_TEST_TIMEOUT_S = 60.0


def loop_factory(kind: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop  # type: ignore[no-any-return]
    return asyncio.new_event_loop


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if not inspect.iscoroutinefunction(metafunc.function):
        return
    if "loop_kind" not in metafunc.fixturenames:
        metafunc.fixturenames.append("loop_kind")
    metafunc.parametrize("loop_kind", LOOP_KINDS)


@pytest.fixture
def loop_kind(request: pytest.FixtureRequest) -> str:
    """The event loop an async test runs on (parametrised: asyncio, uvloop)."""
    return str(request.param)


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The driver a runtime process started by the test uses (``AIOLAMBDA_DRIVER``).

    ``auto``: what users get, the sync driver for every sync handler the tiers define
    with ``def NAME(`` (``tests/runtime/test_drivers.py`` pins the rule), the asyncio
    driver for async ones; ``asyncio`` forces the asyncio driver for all. Runtimes
    started by the emulator inherit it; ``tests.lambda_env`` passes it on.
    """
    monkeypatch.setenv("AIOLAMBDA_DRIVER", str(request.param))
    return str(request.param)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    func = pyfuncitem.obj
    if not inspect.iscoroutinefunction(func):
        return None
    kind = pyfuncitem.callspec.params["loop_kind"]
    wanted = pyfuncitem._fixtureinfo.argnames
    kwargs: dict[str, Any] = {name: pyfuncitem.funcargs[name] for name in wanted}

    async def bounded() -> None:
        async with asyncio.timeout(ASYNC_TEST_TIMEOUT_S):
            await func(**kwargs)

    with asyncio.Runner(loop_factory=loop_factory(kind)) as runner:
        runner.run(bounded())
    return True


# Where the package index is needed beyond the modules that mark themselves: layer
# builds download wheels (tests/layer, the cold-start smoke test builds a layer and venvs).
_NEEDS_INDEX = ("layer/", "benchmarks/test_cold_start_smoke.py")
_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        relative = Path(item.path).resolve().relative_to(_TESTS).as_posix()
        if relative.startswith(_NEEDS_INDEX):
            item.add_marker(pytest.mark.index)
