"""Handlers for the inner-loop CLI tests: they report what reached the context."""

from __future__ import annotations

import logging
import os
from typing import Any


def context_fields(event: Any, context: Any) -> dict[str, Any]:
    cc = context.client_context
    client = getattr(cc, "client", None)
    identity = context.identity
    return {
        "custom": getattr(cc, "custom", None),
        "env": getattr(cc, "env", None),
        "client_title": getattr(client, "app_title", None),
        "cognito_identity_id": getattr(identity, "cognito_identity_id", None),
        "cognito_identity_pool_id": getattr(identity, "cognito_identity_pool_id", None),
        "tenant_id": getattr(context, "tenant_id", None),
        "trace_env": os.environ.get("_X_AMZN_TRACE_ID"),
        "xray_trace_id": getattr(context, "xray_trace_id", None),
        "vars": {k: v for k, v in os.environ.items() if k.startswith("IL_")},
    }


def chatty(event: Any, context: Any) -> str:
    logging.getLogger("app").debug("debug line from the handler")
    print("print from the handler")
    return "ok"
