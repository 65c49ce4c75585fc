"""Coroutines that user-facing modules run at init and on shutdown.

``aiolambda.asgi`` registers its ASGI lifespan here: startup runs once per execution
environment, after the handler module is imported and before the first ``/next``
(a failure is reported as an init error); shutdown runs when the runtime stops on
SIGTERM, after in-flight invocations are answered.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

Hook = Callable[[], Awaitable[None]]

log = logging.getLogger("aiolambda")

_init_hooks: list[Hook] = []
_shutdown_hooks: list[Hook] = []
_init_done: list[bool] = []  # [True] once init is over


def on_init(hook: Hook) -> bool:
    """Run ``hook`` during init, once; an exception it raises is the init error.

    Returns ``False`` (and keeps nothing) when init is already over: the caller then
    runs its hook itself when it first needs it.
    """
    if _init_done:
        return False
    _init_hooks.append(hook)
    return True


def on_shutdown(hook: Hook) -> None:
    """Run ``hook`` when the runtime shuts down (in reverse order of registration)."""
    _shutdown_hooks.append(hook)


async def run_init_hooks() -> None:
    """Run and forget the init hooks in order; the first exception propagates."""
    _init_done[:] = [True]
    while _init_hooks:
        await _init_hooks.pop(0)()


async def run_shutdown_hooks() -> None:
    """Run and forget the shutdown hooks; an exception is logged, the others still run."""
    while _shutdown_hooks:
        hook = _shutdown_hooks.pop()
        try:
            await hook()
        except Exception:
            log.exception("a shutdown hook failed")
