"""Coroutines that user-facing modules run at init and on shutdown.

``aiolambda.asgi`` registers its ASGI lifespan here: startup runs once per execution
environment, after the handler module is imported and before the first ``/next``
(a failure is reported as an init error); shutdown runs when the runtime stops on
SIGTERM, after in-flight invocations are answered.

A hook belongs to the event loop it was registered on (the runtime imports the
handler module inside its running loop): the runtime runs only its own loop's hooks,
so handlers made elsewhere in the same process (tests, other loops) are left alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

Hook = Callable[[], Awaitable[None]]

log = logging.getLogger("aiolambda")

_init_hooks: list[tuple[asyncio.AbstractEventLoop, Hook]] = []
_shutdown_hooks: list[tuple[asyncio.AbstractEventLoop, Hook]] = []
_init_done: set[asyncio.AbstractEventLoop] = set()  # loops whose init is over


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def on_init(hook: Hook) -> bool:
    """Run ``hook`` during init, once; an exception it raises is the init error.

    Returns ``False`` (and keeps nothing) outside a running loop or once this loop's
    init is over: the caller then runs its hook itself when it first needs it.
    """
    loop = _running_loop()
    if loop is None or loop in _init_done:
        return False
    _init_hooks.append((loop, hook))
    return True


def on_shutdown(hook: Hook) -> None:
    """Run ``hook`` when the runtime on this loop shuts down (last registered, first run)."""
    loop = _running_loop()
    if loop is not None:
        _shutdown_hooks.append((loop, hook))


def _take(hooks: list[tuple[asyncio.AbstractEventLoop, Hook]]) -> list[Hook]:
    loop = asyncio.get_running_loop()
    mine = [hook for owner, hook in hooks if owner is loop]
    hooks[:] = [
        (owner, hook) for owner, hook in hooks if owner is not loop and not owner.is_closed()
    ]
    return mine


async def run_init_hooks() -> None:
    """Run and forget this loop's init hooks in order; the first exception propagates."""
    _init_done.add(asyncio.get_running_loop())
    for hook in _take(_init_hooks):
        await hook()


async def run_shutdown_hooks() -> None:
    """Run and forget this loop's shutdown hooks; one that fails is logged, the rest run."""
    for hook in reversed(_take(_shutdown_hooks)):
        try:
            await hook()
        except Exception:
            log.exception("a shutdown hook failed")
