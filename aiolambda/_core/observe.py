"""Init-time wiring of a loaded handler for the libraries that observe it.

Two things may change the callable the runtime invokes, both decided once, at init:

- an integration hooked :mod:`aiolambda.lambda_bootstrap` (Sentry's Lambda
  integration does): the handler runs through the hooked functions;
- the handler is ``async def`` behind a sync wrapper (or is routed through a hook,
  which is one): it runs in a bridge (:mod:`aiolambda._core.bridge`) so the wrapper
  brackets the coroutine.

A plain ``def`` or ``async def`` handler with no hook comes out unchanged: the
invocation path has nothing extra to do. Sync handlers never import the bridge.
"""

from __future__ import annotations

import sys
from typing import Any

from aiolambda import lambda_bootstrap
from aiolambda._core.handler import Handler


def before_import() -> None:
    """Offer the bootstrap surface where integrations look, before the handler imports."""
    lambda_bootstrap._register()


def prepare(handler: Handler, concurrency: int) -> tuple[Handler, list[str]]:
    """The handler to invoke, and the warnings to log at init."""
    hooked = lambda_bootstrap._hooked()
    warnings = [] if hooked else _unhooked_integrations()
    func = handler.func
    outer: Any = None
    if not handler.is_async:
        # A wrapper without functools.wraps hides the async def from the handler loader;
        # only a function with a closure can be one (a plain handler skips the search).
        if getattr(func, "__closure__", None) and _bridged_sync_looking(func):
            outer = func
        elif not hooked:
            return handler, warnings
        else:
            routed = lambda_bootstrap._route(func)
            return Handler(routed, False, handler.name, handler.decode), warnings

    from aiolambda._core.bridge import Bridge, intercept, is_async_layer, shim
    from aiolambda._core.wrappers import check_wrappers

    if outer is None and not is_async_layer(func) and intercept(func):
        outer = func
    warnings += check_wrappers(func, handler.name, concurrency, bridged=outer is not None)
    if hooked:
        outer = lambda_bootstrap._route(outer if outer is not None else shim(func))
    if outer is None:
        return handler, warnings
    bridged = Bridge(outer, concurrency).handler()
    return Handler(bridged, True, handler.name, handler.decode), warnings


def _bridged_sync_looking(func: Any) -> bool:
    from aiolambda._core.bridge import intercept, leads_to_async

    return leads_to_async(func) and intercept(func)


def init_failed(error_type: str, message: str, stack: list[str]) -> None:
    """Tell hooked integrations the init failed (inside the ``except`` block)."""
    lambda_bootstrap._post_init_error(error_type, message, stack)


def _unhooked_integrations() -> list[str]:
    """A configured integration that looked for the bootstrap surface and missed it."""
    sentry = sys.modules.get("sentry_sdk")
    if sentry is None:
        return []
    try:
        integration = sentry.get_client().get_integration("aws_lambda")
    except Exception:  # an SDK version without this API: nothing to say
        return []
    if integration is None:
        return []
    where = (
        "a module named 'bootstrap' is already imported"
        if "bootstrap" in sys.modules
        else "sentry_sdk.init() ran before the runtime offered its bootstrap surface"
    )
    return [
        "Sentry's AwsLambdaIntegration is configured but did not hook aiolambda "
        f"({where}): handler errors and timeouts will not reach Sentry"
    ]
