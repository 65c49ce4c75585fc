"""Init-time check of the decorators around an ``async def`` handler.

A plain-``def`` decorator around an ``async def`` handler only sees the handler
create its coroutine: whatever it does "after" the call (flush metrics, close a
trace subsegment, clear log keys) runs before the handler's body does, unless the
runtime could bridge it (:mod:`aiolambda._core.bridge`), which makes it bracket the
coroutine. With N invocations in flight in one process, state it keeps on a shared
object is also seen by all N, bridged or not. Powertools' own decorators are of that
kind; the ones that would lose or misattribute data are refused here, at init, with
the async-aware replacement in :mod:`aiolambda.powertools`. Other plain wrappers
that could not be bridged are reported in a warning naming them. Recognition goes by
each layer's code object (``functools.wraps`` copies the names, not the code), without
importing Powertools.
"""

from __future__ import annotations

import inspect
from typing import Any, Final, NamedTuple

from aiolambda._core.errors import InitError

UNSAFE_WRAPPER: Final = "Runtime.UnsafeHandlerWrapper"
_MAX_LAYERS: Final = 64


# A NamedTuple, not a dataclass: this module is on the cold path of every async handler,
# and a dataclass generates and execs its methods at import.
class _Known(NamedTuple):
    decorator: str
    instead: str
    why: str
    only_concurrent: bool  # harmless when one invocation runs at a time
    why_concurrent: str  # why it cannot be right with N in flight, even in the bridge


_POWERTOOLS: Final = {
    (
        "aws_lambda_powertools.metrics.provider.base",
        "BaseProvider.log_metrics.<locals>.decorate",
    ): _Known(
        "Metrics.log_metrics",
        "@aiolambda.powertools.log_metrics(metrics)",
        "it flushes the metrics when the handler returns its coroutine, before the handler "
        "runs, so each invocation's metrics would be written by a later one or lost",
        only_concurrent=False,
        why_concurrent="all invocations in flight add to the one metrics buffer it flushes, "
        "so each flush would write other invocations' metrics as its own",
    ),
    (
        "aws_lambda_powertools.tracing.tracer",
        "Tracer.capture_lambda_handler.<locals>.decorate",
    ): _Known(
        "Tracer.capture_lambda_handler",
        "@aiolambda.powertools.capture_lambda_handler(tracer)",
        "it closes the handler's subsegment before the handler runs and records the "
        "coroutine object as its response; exceptions are never captured",
        only_concurrent=False,
        why_concurrent="the X-Ray recorder keeps the open subsegment per thread, and all "
        "invocations in flight run their code on the event loop's one thread, so each "
        "invocation's subsegments would nest under another's",
    ),
}
# Acts before the call only, on state aiolambda makes invocation-local when several
# invocations share the process (Logger keys: aiolambda/_compat/powertools_state.py).
_SAFE: Final = frozenset(
    {("aws_lambda_powertools.logging.logger", "Logger.inject_lambda_context.<locals>.decorate")}
)
# Powertools middleware (lambda_handler_decorator) that only acts before the call.
_BEFORE_ONLY_MIDDLEWARE: Final = frozenset({"event_parser", "event_source"})
_MIDDLEWARE: Final = (
    "aws_lambda_powertools.middleware_factory.factory",
    "lambda_handler_decorator.<locals>.final_decorator.<locals>.wrapper",
)


def check_wrappers(
    func: Any, handler_name: str, concurrency: int, *, bridged: bool = False
) -> list[str]:
    """Raise :class:`InitError` for a wrapper that cannot work around this async handler;
    return warnings for plain wrappers that may not.

    ``bridged``: the sync wrappers run in a bridge (:mod:`aiolambda._core.bridge`), so
    they bracket the coroutine; only state they share between invocations in flight
    remains a reason to refuse them.
    """
    warnings: list[str] = []
    layer = func
    for _ in range(_MAX_LAYERS):
        single = getattr(layer, "__aiolambda_single_invocation__", None)
        if single is not None and concurrency > 1:
            raise InitError(
                UNSAFE_WRAPPER,
                f"Handler '{handler_name}' cannot run with "
                f"AWS_LAMBDA_MAX_CONCURRENCY={concurrency}: {single}.",
            )
        inner = getattr(layer, "__wrapped__", None)
        if inner is None:
            break
        if not inspect.iscoroutinefunction(layer):
            warning = _check_plain_wrapper(layer, handler_name, concurrency, bridged)
            if warning is not None:
                warnings.append(warning)
        layer = inner
    return warnings


def _check_plain_wrapper(
    layer: Any, handler_name: str, concurrency: int, bridged: bool
) -> str | None:
    code = getattr(layer, "__code__", None)
    if code is None:
        return None if bridged else _plain_wrapper_warning(handler_name, type(layer).__qualname__)
    where = (getattr(layer, "__globals__", {}).get("__name__", "?"), code.co_qualname)
    if where in _SAFE:
        return None
    known = _POWERTOOLS.get(where)
    if known is not None:
        if concurrency > 1 or not (known.only_concurrent or bridged):
            scope = f" with AWS_LAMBDA_MAX_CONCURRENCY={concurrency}" if concurrency > 1 else ""
            why = known.why_concurrent if bridged else known.why
            raise InitError(
                UNSAFE_WRAPPER,
                f"Handler '{handler_name}' is an async def behind Powertools' "
                f"@{known.decorator}, which cannot work on it{scope}: {why}. "
                f"Use {known.instead} instead, or make the handler a plain def.",
            )
        return None
    if bridged:
        return None
    if where == _MIDDLEWARE:
        middleware = _middleware_name(layer)
        if middleware in _BEFORE_ONLY_MIDDLEWARE:
            return None
        return _plain_wrapper_warning(handler_name, f"Powertools middleware {middleware}")
    return _plain_wrapper_warning(handler_name, f"{where[0]}.{where[1]}")


def _middleware_name(layer: Any) -> str:
    for name, cell in zip(layer.__code__.co_freevars, layer.__closure__ or (), strict=False):
        if name == "decorator":
            return str(getattr(cell.cell_contents, "__name__", "?"))
    return "?"


def _plain_wrapper_warning(handler_name: str, what: str) -> str:
    return (
        f"handler '{handler_name}' is an async def behind {what}, a plain def wrapper: "
        "anything it does after calling the handler runs before the handler's body "
        "(it only receives the coroutine)"
    )
