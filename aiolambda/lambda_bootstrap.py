"""The stock runtime's ``bootstrap`` surface, for integrations written for it.

Error trackers hook AWS's Python runtime by replacing functions of its ``bootstrap``
module: ``handle_event_request`` (to wrap the handler) and ``LambdaRuntimeClient``'s
``post_invocation_result``, ``post_invocation_error`` and ``post_init_error`` (to
flush or report before the runtime answers Lambda). Sentry's ``AwsLambdaIntegration``
finds that module as ``__main__.bootstrap``; aiolambda registers this one there
before the handler's module is imported, so ``sentry_sdk.init(...)`` at import hooks
it as it would hook the stock runtime.

The runtime routes an invocation through these functions only when one of them was
replaced by the time the handler is loaded; otherwise nothing here runs. When routed:

- ``handle_event_request(lambda_runtime_client, request_handler, event, context)``
  calls ``request_handler(event, context)`` and returns its result (the stock
  runtime's version takes the raw invocation fields after the first two; hooks pass
  them through untouched). For an ``async def`` handler ``request_handler`` is a
  sync callable that returns the handler's result: the hook runs in a bridge thread
  (see the README's Observability section) while the coroutine runs on the loop.
- ``post_invocation_result(invoke_id, result_data)`` and
  ``post_invocation_error(invoke_id, error_response_data, xray_fault)`` are called
  after the handler returns or raises (also at its deadline), in that thread, before
  the runtime posts the outcome; the versions here do nothing (the runtime posts).
- ``post_init_error(error_response_data)`` is called, inside the ``except`` block of
  the init failure, before the runtime reports it; then the process's ``atexit``
  functions run, as when the stock runtime exits after an init error.

Hooks that block (a flush) block their own invocation's thread, never the loop.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

__all__ = ["LambdaRuntimeClient", "handle_event_request"]


def handle_event_request(
    lambda_runtime_client: LambdaRuntimeClient,
    request_handler: Callable[[Any, Any], Any],
    event: Any,
    context: Any,
) -> Any:
    """Run one invocation's handler; integrations replace this to wrap ``request_handler``."""
    return request_handler(event, context)


class LambdaRuntimeClient:
    """What integrations hook to act before the runtime answers Lambda; these do nothing."""

    def post_invocation_result(
        self, invoke_id: str, result_data: Any, content_type: str = "application/json"
    ) -> None:
        """Called after the handler returned ``result_data``."""

    def post_invocation_error(
        self, invoke_id: str, error_response_data: str, xray_fault: str = ""
    ) -> None:
        """Called after the handler raised (``error_response_data`` is the error JSON)."""

    def post_init_error(
        self, error_response_data: Any, error_type_override: str | None = None
    ) -> None:
        """Called when the handler's module failed to load (the error JSON as a dict)."""


_ORIGINALS = {
    "handle_event_request": handle_event_request,
    "post_invocation_result": LambdaRuntimeClient.post_invocation_result,
    "post_invocation_error": LambdaRuntimeClient.post_invocation_error,
    "post_init_error": LambdaRuntimeClient.post_init_error,
}
_INVOCATION_HOOKS = ("handle_event_request", "post_invocation_result", "post_invocation_error")
_CLIENT = LambdaRuntimeClient()


def _replaced(name: str) -> bool:
    current = globals()[name] if name == "handle_event_request" else vars(LambdaRuntimeClient)[name]
    return current is not _ORIGINALS[name]


def _register() -> bool:
    """Be ``__main__.bootstrap``, where integrations look; False if that name is taken."""
    if "bootstrap" in sys.modules:
        return False
    main = sys.modules.get("__main__")
    if main is None:
        return False
    current = getattr(main, "bootstrap", None)
    if current is not None and current is not sys.modules[__name__]:
        return False
    main.bootstrap = sys.modules[__name__]  # type: ignore[attr-defined]
    return True


def _hooked() -> bool:
    """True when an integration replaced one of the invocation hooks."""
    return any(_replaced(name) for name in _INVOCATION_HOOKS)


def _route(request_handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """A sync handler that runs ``request_handler`` through the (hooked) functions above."""

    def through_bootstrap(event: Any, context: Any) -> Any:
        request_id = getattr(context, "aws_request_id", "")
        try:
            result = handle_event_request(_CLIENT, request_handler, event, context)
        except BaseException as exc:
            if _replaced("post_invocation_error"):
                _CLIENT.post_invocation_error(request_id, _error_json(exc), "")
            raise
        if _replaced("post_invocation_result"):
            _CLIENT.post_invocation_result(request_id, result)
        return result

    through_bootstrap.__wrapped__ = request_handler  # type: ignore[attr-defined]
    return through_bootstrap


def _post_init_error(error_type: str, message: str, stack: list[str]) -> None:
    """Tell a hooked ``post_init_error`` (call inside the ``except`` block of the failure)."""
    if not _replaced("post_init_error"):
        return
    import atexit

    _CLIENT.post_init_error({"errorType": error_type, "errorMessage": message, "stackTrace": stack})
    # The runtime leaves with os._exit (a handler thread could block shutdown): run the
    # exit functions integrations registered to flush, as the stock runtime's exit does.
    atexit._run_exitfuncs()


def _error_json(exc: BaseException) -> str:
    import json

    return json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__})
