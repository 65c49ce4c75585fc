"""Checks for the per-invocation options of ``aiolambda invoke``: each value as Lambda takes it."""

from __future__ import annotations

import argparse
import base64
import json
import re
from typing import Final

# The Invoke API's ClientContext: "up to 3,583 bytes of base64-encoded data".
MAX_CLIENT_CONTEXT_B64: Final = 3583
# The Invoke API's TenantId: 1 to 256 of these characters.
_TENANT_ID: Final = re.compile(r"[A-Za-z0-9._:/=+@ -]{1,256}")
# An X-Ray trace header: fields "Key=Value" split by ";", one of them the Root id.
_TRACE_FIELD: Final = re.compile(r"[A-Za-z][A-Za-z0-9_-]*=[\x21-\x3a\x3c-\x7e]*")
_TRACE_ROOT: Final = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
_MAX_TRACE_HEADER: Final = 2048


def _json_object(text: str, what: str) -> dict[str, object]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{what} must be a JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f"{what} must be a JSON object, got {type(value).__name__}"
        )
    return value


def client_context_option(text: str) -> str:
    """``--client-context``: a JSON object (``client``, ``custom``, ``env``) Lambda would take."""
    value = _json_object(text, "the client context")
    for key in ("client", "custom", "env"):
        if key in value and not isinstance(value[key], dict | type(None)):
            raise argparse.ArgumentTypeError(
                f"the client context's {key!r} must be a JSON object, like the mobile SDKs send"
            )
    compact = json.dumps(value, separators=(",", ":"))
    size = len(base64.b64encode(compact.encode()))
    if size > MAX_CLIENT_CONTEXT_B64:
        raise argparse.ArgumentTypeError(
            f"the client context is {size} bytes base64-encoded; Lambda takes at most "
            f"{MAX_CLIENT_CONTEXT_B64}"
        )
    return compact


def identity_option(text: str) -> str:
    """``--identity``: ``{"cognitoIdentityId": …, "cognitoIdentityPoolId": …}``."""
    value = _json_object(text, "the identity")
    for key in ("cognitoIdentityId", "cognitoIdentityPoolId"):
        if key in value and not isinstance(value[key], str):
            raise argparse.ArgumentTypeError(f"the identity's {key!r} must be a string")
    if not value.keys() & {"cognitoIdentityId", "cognitoIdentityPoolId"}:
        raise argparse.ArgumentTypeError(
            "the identity needs cognitoIdentityId and/or cognitoIdentityPoolId, got "
            f"{sorted(value)}"
        )
    return json.dumps(value, separators=(",", ":"))


def tenant_id_option(text: str) -> str:
    """``--tenant-id``: 1 to 256 letters, digits, spaces or ``._:/=+-@``, as Lambda allows."""
    if not _TENANT_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"must be 1 to 256 letters, digits, spaces or ._:/=+-@ characters, got {text!r}"
        )
    return text


def trace_id_option(text: str) -> str:
    """``--trace-id``: an X-Ray trace header such as ``Root=1-…-…;Parent=…;Sampled=1``."""
    fields = text.split(";")
    roots = [f[5:] for f in fields if f.startswith("Root=")]
    if (
        len(text) > _MAX_TRACE_HEADER
        or not all(_TRACE_FIELD.fullmatch(field) for field in fields)
        or len(roots) != 1
        or not _TRACE_ROOT.fullmatch(roots[0])
    ):
        raise argparse.ArgumentTypeError(
            "must be an X-Ray trace header, e.g. Root=1-5759e988-bd862e3fe1be46a994272793;"
            f"Parent=53995c3f42cd8ad8;Sampled=1, got {text[:100]!r}"
        )
    return text
