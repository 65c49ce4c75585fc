"""Powertools for AWS Lambda on ``async def`` handlers, with invocations in flight at once.

Powertools' handler decorators (``@logger.inject_lambda_context``,
``@metrics.log_metrics``, ``@tracer.capture_lambda_handler``) are plain ``def``
wrappers written for one invocation per process. aiolambda runs them around an
``async def`` handler through its bridge, so their "after" step follows the handler
(see the README's Observability section), and makes Logger's keys invocation-local;
but the metric set and X-Ray's current segment stay shared by every invocation in
flight, so with ``AWS_LAMBDA_MAX_CONCURRENCY`` > 1 it refuses ``log_metrics`` and
``capture_lambda_handler`` on an ``async def`` handler at init
(``Runtime.UnsafeHandlerWrapper``, naming the decorator). These are their async-aware
equivalents, which work at any concurrency::

    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aiolambda import powertools

    logger, metrics, tracer = Logger(), Metrics(namespace="Shop"), Tracer()

    @powertools.capture_lambda_handler(tracer)
    @powertools.inject_lambda_context(logger, correlation_id_path="requestContext.requestId")
    @powertools.log_metrics(metrics, capture_cold_start_metric=True)
    async def handler(event, context):
        logger.info("order placed")                 # carries this invocation's ids
        metrics.add_metric(name="Orders", unit="Count", value=1)   # this invocation's EMF
        ...

Plain ``def`` handlers keep Powertools' own decorators: on Managed Instances each
concurrent invocation of a sync handler runs in a process of its own.

Importing this module imports Powertools; aiolambda itself never does.
"""

from __future__ import annotations

import contextvars
import functools
import warnings
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from aiolambda._core.handler import is_async_callable

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics, Tracer

__all__ = ["capture_lambda_handler", "inject_lambda_context", "log_metrics"]

AsyncHandler = TypeVar("AsyncHandler", bound=Callable[..., Coroutine[Any, Any, Any]])


def _async_only(decorator: str, handler: Any, powertools_name: str) -> None:
    if not is_async_callable(handler):
        raise TypeError(
            f"aiolambda.powertools.{decorator} is for async def handlers; "
            f"on a plain def handler use Powertools' own {powertools_name}"
        )


class _ColdStart:
    """True on the first invocation this decorator sees in this process."""

    __slots__ = ("_cold",)

    def __init__(self) -> None:
        self._cold = True

    def take(self) -> bool:
        cold, self._cold = self._cold, False
        return cold


def inject_lambda_context(
    logger: Logger,
    *,
    log_event: bool = False,
    correlation_id_path: str | None = None,
    clear_state: bool = False,
) -> Callable[[AsyncHandler], AsyncHandler]:
    """``@logger.inject_lambda_context`` for ``async def`` handlers.

    The Lambda context keys (``function_request_id``, ``cold_start``, …) and the
    correlation id go into Powertools' context-local keys (``thread_safe_append_keys``),
    which each invocation has on its own, instead of the logger's shared keys. Keys the
    handler adds with ``logger.thread_safe_append_keys`` are its own too; both are
    removed when the handler returns. ``logger.append_keys`` stays process-wide.
    ``clear_state`` drops the context-local keys of earlier code first.
    """
    from aws_lambda_powertools.logging.lambda_context import build_lambda_context_model
    from aws_lambda_powertools.shared.functions import extract_event_from_common_models
    from aws_lambda_powertools.utilities import jmespath_utils

    cold_start = _ColdStart()

    def decorate(handler: AsyncHandler) -> AsyncHandler:
        _async_only("inject_lambda_context", handler, "@logger.inject_lambda_context")

        @functools.wraps(handler)
        async def wrapper(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            saved = dict(logger.thread_safe_get_current_keys())
            keys = {"cold_start": cold_start.take(), **build_lambda_context_model(context).__dict__}
            if correlation_id_path:
                keys["correlation_id"] = jmespath_utils.query(
                    envelope=correlation_id_path, data=event
                )
            if clear_state:
                logger.thread_safe_clear_keys()
            logger.thread_safe_append_keys(**keys)
            try:
                if log_event:
                    logger.info(extract_event_from_common_models(event))
                return await handler(event, context, *args, **kwargs)
            finally:
                # Set a new value rather than remove keys: Powertools' removal edits the
                # dict in place, and other invocations may still hold that dict.
                logger.thread_safe_clear_keys()
                if saved:
                    logger.thread_safe_append_keys(**saved)

        return wrapper  # type: ignore[return-value]

    return decorate


_invocation_metrics: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "aiolambda_invocation_metrics", default=None
)


class _PerInvocationProvider:
    """Stands in for a ``Metrics`` object's provider: inside an invocation wrapped by
    :func:`log_metrics` every call goes to that invocation's own provider, outside
    (module init) to the original one."""

    def __init__(self, shared: Any) -> None:
        self._aiolambda_shared = shared

    def __getattr__(self, name: str) -> Any:
        target = _invocation_metrics.get()
        return getattr(self._aiolambda_shared if target is None else target, name)


def log_metrics(
    metrics: Metrics,
    *,
    capture_cold_start_metric: bool = False,
    raise_on_empty_metrics: bool = False,
    default_dimensions: dict[str, str] | None = None,
) -> Callable[[AsyncHandler], AsyncHandler]:
    """``@metrics.log_metrics`` for ``async def`` handlers.

    Each invocation gets a metric set of its own, written as one EMF document when
    its handler returns or raises. Route the invocation's metrics through ``metrics``
    (the object passed here; ``single_metric`` is fine too). Metrics added through
    another ``Metrics()`` object land in Powertools' process-wide set: written with
    the invocation when it is the only one in flight, otherwise written on their own
    with a warning saying they could not be attributed.
    """
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
        AmazonCloudWatchEMFProvider,
    )

    provider = metrics.provider
    shared = getattr(provider, "_aiolambda_shared", provider)
    if not isinstance(provider, _PerInvocationProvider):
        metrics.provider = _PerInvocationProvider(shared)  # type: ignore[assignment]
    if default_dimensions:
        shared.set_default_dimensions(**default_dimensions)
    cold_start = _ColdStart()
    in_flight = [0]

    def fresh() -> Any:
        own = AmazonCloudWatchEMFProvider(
            namespace=shared.namespace,
            service=shared.service,
            metric_set={},
            dimension_set=dict(shared.dimension_set),
            metadata_set=dict(shared.metadata_set),
            default_dimensions=dict(shared.default_dimensions),
            function_name=shared.function_name,
        )
        return own

    def take_shared(own: Any) -> None:
        """Metrics in the process-wide set (init code, other Metrics objects)."""
        if not shared.metric_set:
            return
        if in_flight[0] == 1:
            own.metric_set.update(shared.metric_set)
            shared.metric_set.clear()
        else:
            warnings.warn(
                "aiolambda.powertools.log_metrics: metrics added through another Metrics "
                "object while several invocations were in flight cannot be attributed to "
                "one; written on their own. Add them through the Metrics passed to "
                "log_metrics.",
                stacklevel=2,
            )
            shared.flush_metrics()

    def decorate(handler: AsyncHandler) -> AsyncHandler:
        _async_only("log_metrics", handler, "@metrics.log_metrics")

        @functools.wraps(handler)
        async def wrapper(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            own = fresh()
            in_flight[0] += 1
            token = _invocation_metrics.set(own)
            try:
                take_shared(own)
                response = await handler(event, context, *args, **kwargs)
                if capture_cold_start_metric and cold_start.take():
                    own.add_cold_start_metric(context=context)
                return response
            finally:
                try:
                    take_shared(own)
                    own.flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)
                finally:
                    in_flight[0] -= 1
                    _invocation_metrics.reset(token)

        return wrapper  # type: ignore[return-value]

    return decorate


def capture_lambda_handler(
    tracer: Tracer,
    *,
    capture_response: bool | None = None,
    capture_error: bool | None = None,
) -> Callable[[AsyncHandler], AsyncHandler]:
    """``@tracer.capture_lambda_handler`` for ``async def`` handlers.

    The ``## handler`` subsegment spans the handler's run; its response or exception
    is recorded as metadata, with the ``ColdStart`` and ``Service`` annotations, as
    Powertools does for sync handlers. X-Ray keeps its current segment per thread and
    reads the trace id from the process environment, which aiolambda sets only when
    one invocation runs at a time: with ``AWS_LAMBDA_MAX_CONCURRENCY`` > 1 and tracing
    enabled, aiolambda refuses this handler at init (set ``POWERTOOLS_TRACE_DISABLED``
    or use a plain ``def`` handler, which runs one invocation per process).
    """
    from aws_lambda_powertools.shared import constants
    from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

    response_on = resolve_truthy_env_var_choice(
        env=_getenv(constants.TRACER_CAPTURE_RESPONSE_ENV, "true"), choice=capture_response
    )
    error_on = resolve_truthy_env_var_choice(
        env=_getenv(constants.TRACER_CAPTURE_ERROR_ENV, "true"), choice=capture_error
    )
    cold_start = _ColdStart()

    def decorate(handler: AsyncHandler) -> AsyncHandler:
        _async_only("capture_lambda_handler", handler, "@tracer.capture_lambda_handler")
        name = getattr(handler, "__name__", "handler")

        @functools.wraps(handler)
        async def wrapper(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            cold = cold_start.take()
            async with tracer.provider.in_subsegment_async(name=f"## {name}") as subsegment:
                try:
                    response = await handler(event, context, *args, **kwargs)
                    if response_on:
                        subsegment.put_metadata(
                            key=f"{name} response", value=response, namespace=tracer.service
                        )
                    return response
                except Exception as err:
                    if error_on:
                        subsegment.put_metadata(
                            key=f"{name} error", value=err, namespace=tracer.service
                        )
                    raise
                finally:
                    subsegment.put_annotation(key="ColdStart", value=cold)
                    if tracer.service:
                        subsegment.put_annotation(key="Service", value=tracer.service)

        if not tracer.disabled:
            wrapper.__aiolambda_single_invocation__ = (  # type: ignore[attr-defined]
                "Tracer is enabled, and X-Ray keeps the current segment per thread and reads "
                "the trace id from the process environment, both shared by the invocations "
                "in flight. Set POWERTOOLS_TRACE_DISABLED=true, or make the handler a plain "
                "def (one process per concurrent invocation)"
            )
        return wrapper  # type: ignore[return-value]

    return decorate


def _getenv(name: str, default: str) -> str:
    # Powertools reads its own settings from the environment; so does this adapter.
    import os

    return os.environ.get(name, default)
