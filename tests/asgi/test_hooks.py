"""The init/shutdown hook registry the ASGI lifespan uses (``aiolambda._core.hooks``).

Hooks belong to the loop they were registered on, so a handler made in one test (or
at import, with no loop) is never run by a runtime started later on another loop.
"""

from __future__ import annotations

import asyncio
import logging
import types
from typing import Any

import pytest

from aiolambda._core import hooks
from aiolambda.asgi import ASGIHandler

from . import _events
from .test_direct import _raw_app


def test_without_a_running_loop_nothing_is_registered() -> None:
    async def hook() -> None:
        raise AssertionError("never run")

    assert hooks.on_init(hook) is False


async def test_a_handler_from_another_loop_is_left_alone() -> None:
    app = _raw_app("ok")

    async def first_life() -> None:
        handler = ASGIHandler(app)  # registers its startup on this (short-lived) loop
        await handler(_events.request("alb", "GET", "/x"), types.SimpleNamespace())

    await asyncio.to_thread(asyncio.run, first_life())
    assert app.events == ["lifespan.startup"]
    await hooks.run_init_hooks()
    await hooks.run_shutdown_hooks()
    assert app.events == ["lifespan.startup"]


async def test_this_loops_hooks_run_once_in_order_and_a_failure_does_not_stop_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[str] = []

    def hook(name: str, fail: bool = False) -> Any:
        async def run() -> None:
            ran.append(name)
            if fail:
                raise RuntimeError(name)

        return run

    assert hooks.on_init(hook("init-1"))
    assert hooks.on_init(hook("init-2"))
    hooks.on_shutdown(hook("down-1"))
    hooks.on_shutdown(hook("down-2", fail=True))
    await hooks.run_init_hooks()
    assert hooks.on_init(hook("too late")) is False  # init is over on this loop
    with caplog.at_level(logging.ERROR, logger="aiolambda"):
        await hooks.run_shutdown_hooks()
        await hooks.run_shutdown_hooks()
    assert ran == ["init-1", "init-2", "down-2", "down-1"]
    assert "a shutdown hook failed" in caplog.text


async def test_an_init_hook_failure_propagates() -> None:
    async def failing() -> None:
        raise ConnectionError("no database")

    hooks.on_init(failing)
    with pytest.raises(ConnectionError):
        await hooks.run_init_hooks()


async def test_a_handler_made_in_the_loop_starts_with_the_init_hooks() -> None:
    app = _raw_app("ok")
    handler = ASGIHandler(app)
    await hooks.run_init_hooks()  # what the bootstrap does after importing the module
    assert app.events == ["lifespan.startup"]
    answer = await handler(_events.request("alb", "GET", "/y"), types.SimpleNamespace())
    assert answer["body"] == "/y" and app.events == ["lifespan.startup"]
    await hooks.run_shutdown_hooks()  # what the runtime does on SIGTERM
    assert app.events == ["lifespan.startup", "lifespan.shutdown"]
