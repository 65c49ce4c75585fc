"""Sample events (``events/*.json``) shaped into requests, and answers read back.

Each builder starts from a realistic event of its source and changes only what a
test asks for, the way that source would present it: API Gateway REST decodes the
query string and keeps repeated headers in ``multiValueHeaders``; HTTP APIs and
Function URLs join repeated headers with commas and pass ``cookies`` apart; an ALB
passes the query string undecoded, and repeated values only in multi-value mode.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

EVENTS = Path(__file__).parent / "events"
KINDS = ("rest", "http", "url", "alb", "alb_multi")
_FILES = {
    "rest": "apigw_rest.json",
    "http": "apigw_http.json",
    "url": "function_url.json",
    "alb": "alb.json",
    "alb_multi": "alb_multi.json",
}


def load(kind: str) -> dict[str, Any]:
    return json.loads((EVENTS / _FILES[kind]).read_text())


def _body(event: dict[str, Any], body: bytes | str | None, binary: bool) -> None:
    if body is None:
        event["body"] = (
            None if "httpMethod" in event and "elb" not in event["requestContext"] else ""
        )
        event["isBase64Encoded"] = False
    elif binary or isinstance(body, bytes):
        raw = body.encode() if isinstance(body, str) else body
        event["body"] = base64.b64encode(raw).decode()
        event["isBase64Encoded"] = True
    else:
        event["body"] = body
        event["isBase64Encoded"] = False


def request(
    kind: str,
    method: str = "GET",
    path: str = "/items/42",
    *,
    query: list[tuple[str, str]] | None = None,
    headers: list[tuple[str, str]] | None = None,
    body: bytes | str | None = None,
    binary: bool = False,
) -> dict[str, Any]:
    """An event from ``kind`` for ``method path?query`` with extra ``headers``.

    ``query=None`` keeps the sample's query; ``headers`` are added to the sample's.
    """
    event = load(kind)
    extra = headers or []
    if kind == "rest":
        event["httpMethod"] = event["requestContext"]["httpMethod"] = method
        event["path"] = path
        event["requestContext"]["path"] = "/" + event["requestContext"]["stage"] + path
        event["pathParameters"] = {"proxy": path.lstrip("/")}
        for name, value in extra:
            event["headers"][name] = value
            event["multiValueHeaders"].setdefault(name, []).append(value)
        if query is not None:
            multi: dict[str, list[str]] = {}
            for name, value in query:
                multi.setdefault(name, []).append(value)
            event["multiValueQueryStringParameters"] = multi or None
            event["queryStringParameters"] = {k: v[-1] for k, v in multi.items()} or None
    elif kind in ("http", "url"):
        event["requestContext"]["http"]["method"] = method
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        for name, value in extra:
            key = name.lower()
            old = event["headers"].get(key)
            event["headers"][key] = f"{old},{value}" if old else value
        if query is not None:
            event["rawQueryString"] = "&".join(f"{quote(k)}={quote(v)}" for k, v in query)
            joined: dict[str, str] = {}
            for name, value in query:
                joined[name] = f"{joined[name]},{value}" if name in joined else value
            event["queryStringParameters"] = joined or None
            if not joined:
                del event["queryStringParameters"]
    else:
        event["httpMethod"] = method
        event["path"] = path
        multi_mode = kind == "alb_multi"
        for name, value in extra:
            key = name.lower()
            if multi_mode:
                event["multiValueHeaders"].setdefault(key, []).append(value)
            else:
                event["headers"][key] = value
        if query is not None:
            if multi_mode:
                params: dict[str, list[str]] = {}
                for name, value in query:
                    params.setdefault(quote(name), []).append(quote(value))
                event["multiValueQueryStringParameters"] = params
            else:
                event["queryStringParameters"] = {quote(k): quote(v) for k, v in query}
    _body(event, body, binary)
    return copy.deepcopy(event)


def answer_body(answer: dict[str, Any]) -> bytes:
    body = answer.get("body") or ""
    return base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode()


def answer_headers(answer: dict[str, Any]) -> dict[str, list[str]]:
    """Every header of an answer, lower-cased, with all its values (cookies included)."""
    out: dict[str, list[str]] = {}
    for name, value in (answer.get("headers") or {}).items():
        out.setdefault(name.lower(), []).append(value)
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        out.setdefault(name.lower(), []).extend(values)
    for cookie in answer.get("cookies") or ():
        out.setdefault("set-cookie", []).append(cookie)
    return out
