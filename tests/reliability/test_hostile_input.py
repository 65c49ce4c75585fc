"""The hostile-input table: what Lambda (or a user's handler) can throw at the runtime.

Each case delivers one hostile invocation ``h`` followed by a plain one ``after``, and
checks the documented outcome for ``h``:

* ``response``: answered on ``/response`` (the check looks at the posted body);
* ``error``: answered on ``/error`` with the given ``errorType``;
* ``exit``: the request id is unusable, so nothing is posted anywhere (it never reaches a
  URL), the runtime logs why and stops with exit code 1;
* ``dropped``: the ``/next`` response is not HTTP the runtime can trust, so the connection
  is dropped and nothing is posted for it; the runtime goes on polling.

Unless the runtime stopped, ``after`` must be answered too: the runtime survived.
"""

from __future__ import annotations

import asyncio
import decimal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from aiolambda._core import protocol as p
from tests.reliability._faultserver import Event, FaultServer, HeaderValue, default_headers
from tests.reliability._runner import serving

WAIT_S = 20.0
ID_HEADER = "Lambda-Runtime-Aws-Request-Id"


def headers(
    request_id: HeaderValue = "h",
    *,
    content_type: str | None = p.CT_JSON,
    deadline: str | None = None,
    drop: tuple[str, ...] = (),
    add: tuple[tuple[str, HeaderValue], ...] = (),
) -> tuple[tuple[str, HeaderValue], ...]:
    base = default_headers(request_id, content_type=content_type, deadline_ms=deadline)
    return tuple((k, v) for k, v in base if k not in drop) + add


async def describe(event: Any, context: Any) -> Any:
    """Tells what the handler received (and whether the context looked sane)."""
    return {
        "type": type(event).__name__,
        "size": len(event) if isinstance(event, bytes | str | list | dict) else None,
        "value": event
        if isinstance(event, dict | list) and len(orjson.dumps(event)) < 200
        else None,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
        "client_context": context.client_context.custom if context.client_context else None,
    }


def returning(value: Any) -> Callable[..., Any]:
    async def handler(event: Any, context: Any) -> Any:
        if event == {"after": True}:
            return "ok"
        return value() if callable(value) else value

    return handler


def raising(make: Callable[[], BaseException], *, sync: bool = False) -> Callable[..., Any]:
    def sync_handler(event: Any, context: Any) -> Any:
        if event == {"after": True}:
            return "ok"
        raise make()

    async def async_handler(event: Any, context: Any) -> Any:
        return sync_handler(event, context)

    return sync_handler if sync else async_handler


def recursive() -> Any:
    d: dict[str, Any] = {}
    d["self"] = d
    return d


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


class BrokenStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no")


class lowercase_error(Exception):
    pass


class Escapee(BaseException):
    pass


def waiting(seconds: float) -> Callable[..., Any]:
    async def handler(event: Any, context: Any) -> Any:
        if event == {"after": True}:
            return "ok"
        await asyncio.sleep(seconds)  # cancelled at the deadline; never waited out
        return "not reached"

    return handler


def leak_task() -> Callable[..., Any]:
    async def handler(event: Any, context: Any) -> Any:
        asyncio.get_running_loop().create_task(asyncio.sleep(3600), name="leaked-by-handler")
        return "leaked"

    return handler


def block_loop() -> Callable[..., Any]:
    async def handler(event: Any, context: Any) -> Any:
        time.sleep(0.05)  # a handler blocking the loop (the point of the case)
        return "blocked"

    return handler


def cancel_itself() -> Callable[..., Any]:
    async def handler(event: Any, context: Any) -> Any:
        if event == {"after": True}:
            return "ok"
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(0)
        return "not reached"

    return handler


def sync_returning_coroutine() -> Callable[..., Any]:
    async def inner() -> Any:
        return {"awaited": True}

    def handler(event: Any, context: Any) -> Any:
        return inner()

    return handler


@dataclass(frozen=True)
class Expect:
    kind: str  # response | error | exit | exits | dropped | unanswered
    error_type: str = ""
    check: Any = None  # on the parsed answer body; for "exits", the exit status


@dataclass(frozen=True)
class Case:
    name: str
    expect: Expect
    body: bytes = b"{}"
    headers: tuple[tuple[str, HeaderValue], ...] | None = None
    handler: Callable[..., Any] = describe
    by_transport: dict[str, Expect] = field(default_factory=dict)
    request_id: str = "h"  # the id the server expects answers for
    env: dict[str, str] = field(default_factory=dict)


def response(check: Callable[[Any], bool] | None = None) -> Expect:
    return Expect("response", check=check)


def error(error_type: str, check: Callable[[Any], bool] | None = None) -> Expect:
    return Expect("error", error_type, check)


EXIT = Expect("exit")
DROPPED = Expect("dropped")
UNANSWERED = Expect("unanswered")  # exit or dropped, depending on how the bytes arrive
BIG = 6 * 1024 * 1024 + 512 * 1024
CLIENT_CONTEXT = orjson.dumps({"custom": {"pad": "c" * 7000}}).decode()

CASES = [
    # -- event bodies ---------------------------------------------------------------------
    Case("malformed JSON, JSON type", error(p.UNMARSHAL_ERROR), body=b'{"a": '),
    Case("invalid UTF-8, JSON type", error(p.UNMARSHAL_ERROR), body=b'"\xff\xfe"'),
    Case(
        "invalid UTF-8, octet-stream",
        response(lambda d: d["type"] == "bytes" and d["size"] == 4),
        body=b'"\xff\xfe"',
        headers=headers(content_type=p.CT_OCTET_STREAM),
    ),
    Case("empty body, JSON type", error(p.UNMARSHAL_ERROR), body=b""),
    Case(
        "empty body, no Content-Type",
        error(p.UNMARSHAL_ERROR),
        body=b"",
        headers=headers(content_type=None),
    ),
    Case(
        "empty body, octet-stream",
        response(lambda d: d["type"] == "bytes" and d["size"] == 0),
        body=b"",
        headers=headers(content_type=p.CT_OCTET_STREAM),
    ),
    Case(
        "6.5 MB body",
        response(lambda d: d["type"] == "str" and d["size"] == BIG),
        body=b'"' + b"x" * BIG + b'"',
    ),
    Case(
        "JSON nested 100 000 deep", error(p.UNMARSHAL_ERROR), body=b"[" * 100_000 + b"]" * 100_000
    ),
    Case("NaN literal", error(p.UNMARSHAL_ERROR), body=b"NaN"),
    Case("UTF-8 BOM", error(p.UNMARSHAL_ERROR), body=b"\xef\xbb\xbf{}"),
    Case(
        "duplicate keys: last wins",
        response(lambda d: d["value"] == {"a": 2}),
        body=b'{"a":1,"a":2}',
    ),
    Case(
        "Content-Type with parameters and capitals",
        response(lambda d: d["value"] == {"a": 1}),
        body=b'{"a":1}',
        headers=headers(content_type="Application/JSON; charset=utf-8"),
    ),
    Case(
        "Content-Type sent twice: not JSON, raw bytes",
        response(lambda d: d["type"] == "bytes"),
        body=b'{"a":1}',
        headers=headers(add=(("Content-Type", "application/json"),)),
    ),
    # -- request ids: never put into a URL unless they are safe ----------------------------
    Case("request id missing", EXIT, headers=headers(drop=(ID_HEADER,))),
    Case("request id empty", EXIT, headers=headers("")),
    Case("request id sent twice", EXIT, headers=headers(add=((ID_HEADER, "h2"),))),
    Case("request id with / and ..", EXIT, headers=headers("a/../../init/error")),
    Case("request id ..", EXIT, headers=headers("..")),
    Case("request id with %0d%0a", EXIT, headers=headers("abc%0d%0aX-Evil:%201")),
    Case("request id with a space", EXIT, headers=headers("abc def")),
    Case("request id non-ASCII", EXIT, headers=headers("réq-1")),
    # aiohttp refuses a header line over 8 190 bytes when it arrives in pieces.
    Case(
        "request id 10 KB",
        EXIT,
        headers=headers("a" * 10_240),
        by_transport={"aiohttp": UNANSWERED},
    ),
    Case("request id 129 chars", EXIT, headers=headers("a" * 129)),
    Case(
        "request id 128 chars",
        response(lambda d: d["request_id"] == "h" * 128),
        headers=headers("h" * 128),
        request_id="h" * 128,
    ),
    Case(
        "request id with bare CR",
        DROPPED,
        headers=headers(b"abc\rX-Evil: 1"),
    ),
    # aiohttp unfolds obs-fold (RFC 9112 allows it) and then refuses the id; lean drops it.
    Case(
        "request id folded over CRLF",
        DROPPED,
        headers=headers(b"abc\r\n /../x"),
        by_transport={"aiohttp": EXIT},
    ),
    Case(
        "request id with NUL",
        DROPPED,
        headers=headers(b"abc\x00def"),
    ),
    # -- other headers --------------------------------------------------------------------
    Case(
        "deadline not a number",
        response(lambda d: d["remaining_ms"] > 14 * 60 * 1000),
        headers=headers(deadline="soon"),
    ),
    Case(
        "deadline negative",
        response(lambda d: d["remaining_ms"] > 14 * 60 * 1000),
        headers=headers(deadline="-5"),
    ),
    Case(
        "deadline 20 digits",
        response(lambda d: d["remaining_ms"] > 14 * 60 * 1000),
        headers=headers(deadline="9" * 20),
    ),
    Case(
        "deadline missing",
        response(lambda d: d["remaining_ms"] > 14 * 60 * 1000),
        headers=headers(drop=("Lambda-Runtime-Deadline-Ms",)),
    ),
    Case(
        "deadline sent twice",
        response(lambda d: d["remaining_ms"] > 14 * 60 * 1000),
        headers=headers(add=(("Lambda-Runtime-Deadline-Ms", "1"),)),
    ),
    Case("deadline in the past", error(p.FUNCTION_TIMEOUT), headers=headers(deadline="1")),
    Case(
        "deadline in the year 318 857 (16 digits)",
        response(lambda d: d["remaining_ms"] > 10**15),
        headers=headers(deadline="9" * 16),
    ),
    Case(
        "deadline inside the 500 ms margin, handler returns at once",
        response(lambda d: d["remaining_ms"] <= 300),
        headers=headers(deadline="+300"),
    ),
    Case(
        "deadline inside the 500 ms margin, handler awaits",
        error(p.FUNCTION_TIMEOUT),
        headers=headers(deadline="+300"),
        handler=waiting(5.0),
    ),
    Case(
        "client context 7 KB",
        response(lambda d: d["client_context"] == {"pad": "c" * 7000}),
        headers=headers(add=(("Lambda-Runtime-Client-Context", CLIENT_CONTEXT),)),
    ),
    Case(
        "client context not JSON",
        error("Runtime.LambdaContextUnmarshalError"),
        headers=headers(add=(("Lambda-Runtime-Client-Context", "{nope"),)),
    ),
    Case(
        "client context a JSON list",
        error("Runtime.LambdaContextUnmarshalError"),
        headers=headers(add=(("Lambda-Runtime-Client-Context", "[1]"),)),
    ),
    Case(
        "Cognito identity not JSON",
        error("Runtime.LambdaContextUnmarshalError"),
        headers=headers(add=(("Lambda-Runtime-Cognito-Identity", "}"),)),
    ),
    Case(
        "trace id with invalid UTF-8",
        response(lambda d: d["type"] == "dict"),
        headers=headers(add=(("Lambda-Runtime-Trace-Id", b"Root=\xff\xfe"),)),
    ),
    Case(
        "invocation id (echoed back) with invalid UTF-8",
        response(lambda d: d["type"] == "dict"),
        headers=headers(add=(("Lambda-Runtime-Invocation-Id", b"inv-\xff\xfe"),)),
    ),
    Case(
        "invocation id (echoed back) with non-ASCII",
        response(lambda d: d["type"] == "dict"),
        headers=headers(add=(("Lambda-Runtime-Invocation-Id", "inv-é"),)),
    ),
    Case("one 100 KB header", DROPPED, headers=headers(add=(("X-Pad", "p" * 100_000),))),
    Case(
        "150 headers",
        DROPPED,
        headers=headers(add=tuple((f"X-H{i}", "v") for i in range(150))),
    ),
    # -- handler results ------------------------------------------------------------------
    Case("result recursive", error(p.MARSHAL_ERROR), handler=returning(recursive)),
    Case(
        "result nested 1 000 deep", error(p.MARSHAL_ERROR), handler=returning(lambda: nested(1000))
    ),
    Case("result NaN float: null", response(lambda d: d is None), handler=returning(float("nan"))),
    Case("result Decimal NaN", error(p.MARSHAL_ERROR), handler=returning(decimal.Decimal("NaN"))),
    Case(
        "result with int, None and float keys",
        response(lambda d: d == {"1": "a", "null": "b", "2.5": "c"}),
        handler=returning({1: "a", None: "b", 2.5: "c"}),
    ),
    Case("result with a tuple key", error(p.MARSHAL_ERROR), handler=returning({(1, 2): "a"})),
    Case("result with a lone surrogate", error(p.MARSHAL_ERROR), handler=returning("\ud800")),
    Case("result an arbitrary object", error(p.MARSHAL_ERROR), handler=returning(object)),
    Case("result 7 MB", error(p.FUNCTION_RESPONSE_TOO_LARGE), handler=returning("r" * 7_000_000)),
    Case("result a set", response(lambda d: d == [7]), handler=returning({7})),
    Case(
        "result exactly at the 6 MB limit",
        Expect("response"),
        handler=returning(b"x" * p.MAX_PAYLOAD_BYTES),
    ),
    Case(
        "result one byte over the 6 MB limit",
        error(p.FUNCTION_RESPONSE_TOO_LARGE),
        handler=returning(b"x" * (p.MAX_PAYLOAD_BYTES + 1)),
    ),
    # -- handler behaviour ----------------------------------------------------------------
    Case(
        "raises KeyboardInterrupt", error("KeyboardInterrupt"), handler=raising(KeyboardInterrupt)
    ),
    # sys.exit() ends the runtime with its status, unanswered, as under awslambdaric.
    Case("calls sys.exit(3)", Expect("exits", check=3), handler=raising(lambda: SystemExit(3))),
    Case(
        "sync handler calls sys.exit",
        Expect("exits", check=0),
        handler=raising(SystemExit, sync=True),
    ),
    Case("raises GeneratorExit", error("GeneratorExit"), handler=raising(GeneratorExit)),
    Case("raises a BaseException subclass", error("Escapee"), handler=raising(Escapee)),
    Case(
        "async handler raises CancelledError",
        error("CancelledError"),
        handler=raising(asyncio.CancelledError),
    ),
    Case(
        "sync handler raises CancelledError",
        error("CancelledError"),
        handler=raising(asyncio.CancelledError, sync=True),
    ),
    Case("cancels its own task", error("CancelledError"), handler=cancel_itself()),
    Case(
        "exception whose __str__ raises",
        error("BrokenStr", lambda d: d["errorMessage"] == "<unprintable BrokenStr>"),
        handler=raising(BrokenStr),
    ),
    Case(
        "exception message with a lone surrogate",
        error("ValueError", lambda d: d["errorMessage"] == "bad \\udcff byte"),
        handler=raising(lambda: ValueError(b"bad \xff byte".decode("utf-8", "surrogateescape"))),
    ),
    Case(
        "exception message with a lone surrogate, JSON logs",
        error("ValueError", lambda d: d["errorMessage"] == "bad \\udcff byte"),
        handler=raising(lambda: ValueError(b"bad \xff byte".decode("utf-8", "surrogateescape"))),
        env={"AWS_LAMBDA_LOG_FORMAT": "JSON"},
    ),
    Case(
        "exception with a 1 MB message",
        error("ValueError", lambda d: len(d["errorMessage"]) == 1_000_000),
        handler=raising(lambda: ValueError("m" * 1_000_000)),
    ),
    Case(
        "exception named in lower case", error("lowercase_error"), handler=raising(lowercase_error)
    ),
    Case("leaks a task", response(lambda d: d == "leaked"), handler=leak_task()),
    Case("blocks the event loop", response(lambda d: d == "blocked"), handler=block_loop()),
    Case(
        "sync handler returns a coroutine",
        response(lambda d: d == {"awaited": True}),
        handler=sync_returning_coroutine(),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
async def test_hostile_input(case: Case, transport: str) -> None:
    expect = case.by_transport.get(transport, case.expect)
    hostile = Event(case.request_id, case.body, case.headers)
    after = Event("after", b'{"after": true}')
    async with FaultServer() as server:
        async with serving(
            case.handler, api=server.runtime_api, transport=transport, env=case.env
        ) as r:
            server.queue(hostile, after)
            served_after = asyncio.ensure_future(server.settled("after"))
            async with asyncio.timeout(WAIT_S):
                await asyncio.wait({r.task, served_after}, return_when=asyncio.FIRST_COMPLETED)
            served_after.cancel()
        code = await r.task
    posts = server.posts()
    if expect.kind == "unanswered":
        # Either outcome keeps the promise: nothing is posted for an id never parsed whole.
        expect = EXIT if code else DROPPED
    if expect.kind == "exit":
        assert code == 1
        assert posts == [], posts  # an unusable id never reaches a URL
        (line,) = [line for line in r.log_lines if "unusable request id" in line]
        assert "\r" not in line and "\n" not in line and len(line) < 300
        assert server.delivered == ["h"]
        return
    if expect.kind == "exits":  # the handler called sys.exit(): nothing posted for it
        assert code == expect.check
        assert [post.request_id for post in posts] == [], posts
        assert server.delivered == [case.request_id]
        return
    assert code == 0
    if expect.kind == "dropped":
        # Sent whole by the server, unreadable for the client: never answered, never guessed.
        assert [(post.request_id, post.outcome) for post in posts] == [("after", "accepted")]
        return
    server.assert_exactly_once()
    answers = server.posts(case.request_id)
    (answer,) = answers
    assert answer.kind == expect.kind, orjson.loads(answer.body) if answer.body else answer
    assert answer.outcome == "accepted"
    if expect.kind == "error":
        doc = orjson.loads(answer.body)
        assert doc["errorType"] == expect.error_type, doc
        assert doc["requestId"] == case.request_id
        header = answer.headers["lambda-runtime-function-error-type"]
        assert p.is_valid_error_type(header), header
        cause = answer.headers.get("lambda-runtime-function-xray-error-cause", "")
        assert len(cause) < p.MAX_XRAY_CAUSE_BYTES
        if expect.check is not None:
            assert expect.check(doc), doc
    elif expect.check is not None:
        doc = orjson.loads(answer.body)
        assert expect.check(doc), doc
    else:
        assert answer.body == b"x" * p.MAX_PAYLOAD_BYTES  # the bytes case: sent whole


def test_the_table_is_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({case.name for case in CASES}) == len(CASES)
    assert sys.getrecursionlimit() >= 1000  # the nesting cases assume the default


_AIOHTTP_LOSES_BYTES = pytest.mark.xfail(
    strict=True, reason="aiohttp drops surrogate-escaped bytes when it encodes a request header"
)


@pytest.mark.parametrize(
    ("value", "transport"),
    [
        (b"8d5c2c3e-4a1b-4c7e-9f0a-1b2c3d4e5f60", "lean"),
        (b"8d5c2c3e-4a1b-4c7e-9f0a-1b2c3d4e5f60", "aiohttp"),
        ("inv-é".encode(), "lean"),
        ("inv-é".encode(), "aiohttp"),
        (b"inv-\xff\xfe", "lean"),
        pytest.param(b"inv-\xff\xfe", "aiohttp", marks=_AIOHTTP_LOSES_BYTES),
    ],
)
async def test_invocation_id_is_echoed_byte_for_byte(value: bytes, transport: str) -> None:
    event = Event("h", b"{}", headers(add=(("Lambda-Runtime-Invocation-Id", value),)))
    async with (
        FaultServer() as server,
        serving(describe, api=server.runtime_api, transport=transport),
    ):
        server.queue(event)
        async with asyncio.timeout(WAIT_S):
            assert await server.settled("h") == "response"
    (post,) = server.posts("h")
    # The server decodes heads as latin-1: compare the bytes on the wire.
    assert post.headers["lambda-runtime-invocation-id"].encode("latin-1") == value
