"""Powertools' per-invocation state, made invocation-local (see ``_compat.tasklocal``).

Found by reading Powertools 3.37: every attribute below holds one invocation's data on
an object or class that all invocations of the process share. State that is meant to
be shared (parameter and idempotency caches, feature-flag stores, the Tracer's
provider, a resolver's routes) is left alone. Imported only when Powertools is.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from aiolambda._compat.tasklocal import Attr, Library, shallow
from aiolambda._core.errors import InitError

_API = "aws_lambda_powertools.event_handler.api_gateway"
_GRAPHQL = "aws_lambda_powertools.event_handler.graphql_appsync.router"
_EVENTS = "aws_lambda_powertools.event_handler.events_appsync.router"


def _request_state(state: Any) -> Any:
    """``HttpResolverLocal``'s state outside ASGI: a copy whose containers are its own."""
    if state is None:
        return None
    mine = copy.copy(state)
    mine.context = dict(state.context)
    mine.processed_stack_frames = list(state.processed_stack_frames)
    return mine


ATTRS = (
    # Event Handler, REST/HTTP/ALB/Function URL/VPC Lattice/Bedrock agent resolvers
    # and their Routers: resolve() and resolve_async() assign the event and context to
    # the BaseRouter class; route context and the middleware trail live on the resolver.
    Attr(f"{_API}:BaseRouter", "current_event", on_class=True),
    Attr(f"{_API}:BaseRouter", "lambda_context", on_class=True),
    Attr(f"{_API}:BaseRouter", "context", clone=shallow),
    Attr(f"{_API}:BaseRouter", "processed_stack_frames", clone=shallow),
    Attr(f"{_API}:Router", "_context", clone=shallow),
    Attr(
        "aws_lambda_powertools.event_handler.http_resolver:HttpResolverLocal",
        "_startup_state",
        clone=_request_state,
    ),
    # AppSync (GraphQL) resolver and its routers.
    Attr(f"{_GRAPHQL}:Router", "current_event", on_class=True),
    Attr(f"{_GRAPHQL}:Router", "current_batch_event", on_class=True),
    Attr(f"{_GRAPHQL}:Router", "lambda_context", on_class=True),
    Attr(f"{_GRAPHQL}:Router", "context", clone=shallow),
    # AppSync Events resolver and its routers.
    Attr(f"{_EVENTS}:Router", "current_event", on_class=True),
    Attr(f"{_EVENTS}:Router", "lambda_context", on_class=True),
    Attr(f"{_EVENTS}:Router", "context", clone=shallow),
    # Bedrock agent functions resolver.
    Attr(
        "aws_lambda_powertools.event_handler.bedrock_agent_function:BedrockAgentFunctionResolver",
        "current_event",
    ),
    Attr(
        "aws_lambda_powertools.event_handler.bedrock_agent_function:BedrockAgentFunctionResolver",
        "context",
        clone=shallow,
    ),
    # Logger: append_keys, remove_keys, clear_state, set_correlation_id and
    # inject_lambda_context's keys all live in the formatter's log_format dict.
    Attr(
        "aws_lambda_powertools.logging.formatter:LambdaPowertoolsFormatter",
        "log_format",
        clone=shallow,
    ),
    # Batch processors: the batch being processed, its handler and its outcome.
    *(
        Attr("aws_lambda_powertools.utilities.batch.base:BasePartialProcessor", name, clone=clone)
        for name, clone in (
            ("records", None),
            ("handler", None),
            ("lambda_context", None),
            ("_handler_accepts_lambda_context", None),
            ("success_messages", shallow),
            ("fail_messages", shallow),
            ("exceptions", shallow),
            ("batch_response", copy.deepcopy),
        )
    ),
    # Idempotency: the context whose remaining time bounds the in-progress record.
    Attr("aws_lambda_powertools.utilities.idempotency.config:IdempotencyConfig", "lambda_context"),
)


def check(concurrency: int) -> None:
    """Refuse what stays shared: Logger's log buffer (one per process, cleared by each
    invocation that starts buffering or ends)."""
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if getattr(logger, "powertools_buffer_config", None) is not None:
            raise InitError(
                "Runtime.UnsafeLibraryState",
                f"Powertools Logger {name!r} has buffer_config, and its log buffer "
                "is one per process, cleared whenever an invocation starts or ends: it "
                f"cannot work with AWS_LAMBDA_MAX_CONCURRENCY={concurrency} and an async "
                "handler. Remove buffer_config, or make the handler a plain def "
                "(one process per concurrent invocation).",
            )


POWERTOOLS = Library("aws_lambda_powertools", ATTRS, check)
