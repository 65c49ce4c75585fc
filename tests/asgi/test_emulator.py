"""A FastAPI app behind ``ASGIHandler``, served by the real runtime under the emulator.

One runtime process answers API Gateway REST (v1) and HTTP API (v2), Function URL and
ALB events (with and without multi-value headers); its lifespan starts once, at init.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from aiolambda.testing import EmulatorThread

from . import _events
from .apps.api import PNG

HERE = Path(__file__).parent
KINDS = _events.KINDS


@pytest.fixture(scope="module")
def marker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("asgi") / "lifespan.log"


@pytest.fixture(scope="module")
def emu(marker: Path) -> Iterator[EmulatorThread]:
    with EmulatorThread(
        "apps.buffered.handler",
        task_root=str(HERE),
        timeout=10.0,
        env={"ASGI_TEST_MARKER": str(marker), "AIOLAMBDA_ENABLE_SIGTERM": "1"},
    ) as emulator:
        yield emulator


def call(emu: EmulatorThread, event: dict[str, Any]) -> dict[str, Any]:
    result = emu.invoke(event)
    assert result.ok, (result.payload, result.logs)
    answer: dict[str, Any] = result.json()
    return answer


def test_lifespan_starts_once_at_init_for_every_source(emu: EmulatorThread, marker: Path) -> None:
    pids = set()
    for kind in KINDS * 2:
        state = orjson.loads(call(emu, _events.request(kind, "GET", "/state"))["body"])
        assert state["counts"] == {"startup": 1, "shutdown": 0}
        assert state["pool"] == f"pool-{state['pid']}" and state["same_loop"]
        pids.add(state["pid"])
    assert len(pids) == 1
    assert marker.read_text().splitlines() == [f"startup {pids.pop()}"]
    first_next = next(r for r in emu.requests if r.path.endswith("/invocation/next"))
    # Startup ran during init: before the runtime first asked for an invocation.
    assert marker.stat().st_mtime <= first_next.time


@pytest.mark.parametrize("kind", KINDS)
def test_path_params_and_query_string(emu: EmulatorThread, kind: str) -> None:
    query = [("q", "first"), ("q", "two words"), ("limit", "10")]
    answer = call(emu, _events.request(kind, "GET", "/items/42", query=query))
    assert answer["statusCode"] == 200 and answer["isBase64Encoded"] is False
    body = orjson.loads(answer["body"])
    assert body["item_id"] == 42
    # A single-value ALB keeps the last value of a repeated parameter.
    assert body["q"] == (["two words"] if kind == "alb" else ["first", "two words"])
    if kind == "rest":  # the execute-api URL's stage is the root path
        assert (body["root_path"], body["path"]) == ("/prod", "/prod/items/42")
        assert body["url"].startswith(
            "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/"
        )
    else:
        assert (body["root_path"], body["path"]) == ("", "/items/42")


@pytest.mark.parametrize("kind", KINDS)
def test_request_headers_cookies_client_and_aws_scope(emu: EmulatorThread, kind: str) -> None:
    result = emu.invoke(_events.request(kind, "GET", "/echo"))
    body = orjson.loads(result.json()["body"])
    assert body["cookies"] == {"session": "abc123", "theme": "light"}
    tags = [v for k, v in body["headers"] if k == "x-tag"]
    assert (
        tags
        == {
            "rest": ["red", "blue"],
            "alb_multi": ["red", "blue"],
            "http": ["red,blue"],
            "url": ["red,blue"],
            "alb": ["blue"],
        }[kind]
    )
    assert body["client"] == "198.51.100.23"
    assert body["scheme"] == ("http" if kind.startswith("alb") else "https")
    assert body["server"][1] == (80 if kind.startswith("alb") else 443)
    assert body["request_id"] == result.request_id
    assert "requestContext" in body["event_keys"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_text_bodies_and_methods(emu: EmulatorThread, kind: str, method: str) -> None:
    payload = '{"name": "Zoë", "n": 1}'
    answer = call(
        emu,
        _events.request(
            kind, method, "/echo", body=payload, headers=[("content-type", "application/json")]
        ),
    )
    body = orjson.loads(answer["body"])
    assert (body["method"], body["body"]) == (method, payload)


@pytest.mark.parametrize("kind", KINDS)
def test_binary_bodies_round_trip_base64(emu: EmulatorThread, kind: str) -> None:
    raw = bytes(range(256)) * 3
    answer = call(
        emu,
        _events.request(
            kind,
            "POST",
            "/upload",
            body=raw,
            headers=[("content-type", "application/octet-stream")],
        ),
    )
    assert answer["isBase64Encoded"] is True
    assert base64.b64decode(answer["body"]) == raw
    assert _events.answer_headers(answer)["x-sha256"] == [hashlib.sha256(raw).hexdigest()]


@pytest.mark.parametrize("kind", KINDS)
def test_response_bodies_text_or_base64_by_type_and_encoding(
    emu: EmulatorThread, kind: str
) -> None:
    image = call(emu, _events.request(kind, "GET", "/image"))
    assert image["isBase64Encoded"] is True and _events.answer_body(image) == PNG
    text = call(emu, _events.request(kind, "GET", "/text"))
    assert text["isBase64Encoded"] is False and text["body"] == "héllo wörld ✓"
    # JSON, but gzip-compressed: bytes, so base64 whatever the media type says.
    gz = call(emu, _events.request(kind, "GET", "/gzip"))
    assert gz["isBase64Encoded"] is True
    import gzip

    assert gzip.decompress(_events.answer_body(gz)) == b'{"compressed": true}'


def test_response_headers_and_cookies_in_each_sources_shape(emu: EmulatorThread) -> None:
    cookies = [
        "session=s3cr3t; HttpOnly; Path=/; SameSite=lax",
        "theme=dark; Max-Age=3600; Path=/; SameSite=lax",
    ]
    rest = call(emu, _events.request("rest", "GET", "/cookies"))
    assert rest["multiValueHeaders"] == {"set-cookie": cookies, "x-multi": ["one", "two"]}
    assert rest["headers"]["content-type"] == "application/json"
    for kind in ("http", "url"):
        v2 = call(emu, _events.request(kind, "GET", "/cookies"))
        assert v2["cookies"] == cookies
        assert v2["headers"]["x-multi"] == "one,two"
        assert "set-cookie" not in v2["headers"] and "multiValueHeaders" not in v2
    multi = call(emu, _events.request("alb_multi", "GET", "/cookies"))
    assert "headers" not in multi and multi["statusDescription"] == "200 OK"
    assert multi["multiValueHeaders"]["set-cookie"] == cookies
    assert multi["multiValueHeaders"]["x-multi"] == ["one", "two"]
    single = call(emu, _events.request("alb", "GET", "/cookies"))
    assert "multiValueHeaders" not in single
    # One value per name: repeated headers joined; of several cookies the last is sent.
    assert single["headers"]["x-multi"] == "one, two"
    assert single["headers"]["set-cookie"] == cookies[-1]


@pytest.mark.parametrize("kind", KINDS)
def test_status_codes_pass_through(emu: EmulatorThread, kind: str) -> None:
    answer = call(emu, _events.request(kind, "GET", "/status/204"))
    assert answer["statusCode"] == 204 and answer["body"] == ""
    missing = call(emu, _events.request(kind, "GET", "/nowhere"))
    assert missing["statusCode"] == 404
    if kind.startswith("alb"):
        assert missing["statusDescription"] == "404 Not Found"


@pytest.mark.parametrize("kind", KINDS)
def test_an_exception_in_the_app_answers_500_and_is_logged(emu: EmulatorThread, kind: str) -> None:
    result = emu.invoke(_events.request(kind, "GET", "/boom"))
    assert result.ok, "an app error is an HTTP 500, not a failed invocation"
    answer = result.json()
    assert answer["statusCode"] == 500 and _events.answer_body(answer) == b"Internal Server Error"
    assert "RuntimeError: boom" in result.logs
    assert result.request_id in result.logs  # logged under the invocation's request id
    after = call(emu, _events.request(kind, "GET", "/items/1"))
    assert after["statusCode"] == 200


def test_an_event_from_elsewhere_fails_the_invocation_clearly(emu: EmulatorThread) -> None:
    result = emu.invoke({"detail-type": "Scheduled Event", "source": "aws.events"})
    assert result.function_error == "Unhandled"
    error = result.json()
    assert error["errorType"] == "UnsupportedEvent"
    assert "API Gateway" in error["errorMessage"]
    assert call(emu, _events.request("url", "GET", "/items/3"))["statusCode"] == 200


def test_a_named_http_api_stage_is_the_root_path(emu: EmulatorThread) -> None:
    event = _events.request("http", "GET", "/v1/items/5")
    event["requestContext"]["stage"] = "v1"
    body = orjson.loads(call(emu, event)["body"])
    assert (body["item_id"], body["root_path"]) == (5, "/v1")


def test_lifespan_shutdown_runs_on_sigterm(tmp_path: Path) -> None:
    marker = tmp_path / "lifespan.log"
    env = {"ASGI_TEST_MARKER": str(marker), "AIOLAMBDA_ENABLE_SIGTERM": "1"}
    with EmulatorThread("apps.buffered.handler", task_root=str(HERE), env=env) as emu:
        for kind in ("rest", "url"):
            assert call(emu, _events.request(kind, "GET", "/state"))["statusCode"] == 200
    lines = marker.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["startup", "shutdown"]
    assert len({line.split()[1] for line in lines}) == 1


def test_without_sigterm_there_is_no_shutdown_but_startup_still_once(tmp_path: Path) -> None:
    marker = tmp_path / "lifespan.log"
    with EmulatorThread(
        "apps.buffered.handler", task_root=str(HERE), env={"ASGI_TEST_MARKER": str(marker)}
    ) as emu:
        for _ in range(3):
            call(emu, _events.request("alb", "GET", "/state"))
    assert [line.split()[0] for line in marker.read_text().splitlines()] == ["startup"]


def test_a_failed_startup_is_the_init_error(tmp_path: Path) -> None:
    with EmulatorThread(
        "apps.buffered.handler", task_root=str(HERE), env={"ASGI_TEST_FAIL_STARTUP": "1"}
    ) as emu:
        result = emu.invoke(_events.request("url", "GET", "/state"))
        posted = [r.path for r in emu.requests if r.method == "POST"]
    assert posted == ["/2018-06-01/runtime/init/error"], "reported during init, not per request"
    assert result.function_error == "Unhandled"
    error = result.json()
    assert error["errorType"] == "LifespanError"
    assert error["errorMessage"] == (
        "ASGI lifespan startup failed: RuntimeError: database unreachable"
    )
    # The stack trace Lambda reports leads to the app's own lifespan code.
    assert "apps/api.py" in error["stackTrace"][-1]


def test_an_app_past_its_deadline_is_cancelled_and_the_environment_stays_warm(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "lifespan.log"
    with EmulatorThread(
        "apps.buffered.handler",
        task_root=str(HERE),
        timeout=2.0,
        env={"ASGI_TEST_MARKER": str(marker)},
    ) as emu:
        slow = emu.invoke(_events.request("url", "GET", "/sleep", query=[("s", "30")]))
        assert slow.function_error == "Unhandled"
        assert slow.json()["errorType"] == "Function.Timeout"
        state = orjson.loads(call(emu, _events.request("url", "GET", "/state"))["body"])
    assert state["counts"]["startup"] == 1
    assert [line.split()[0] for line in marker.read_text().splitlines()] == ["startup"]


def test_managed_instances_concurrency_serves_requests_at_once_in_one_process() -> None:
    # AWS_LAMBDA_MAX_CONCURRENCY=4: four requests in flight on the one loop, one lifespan.
    import concurrent.futures

    with (
        EmulatorThread(
            "apps.buffered.handler", task_root=str(HERE), timeout=20.0, concurrency=4
        ) as emu,
        concurrent.futures.ThreadPoolExecutor(4) as pool,
    ):
        event = _events.request("url", "GET", "/together", query=[("n", "4")])
        answers = list(pool.map(lambda _: call(emu, event), range(4)))
        state = orjson.loads(call(emu, _events.request("url", "GET", "/state"))["body"])
    bodies = [orjson.loads(a["body"]) for a in answers]
    assert all(a["statusCode"] == 200 for a in answers), answers
    assert {b["in_flight"] for b in bodies} == {4}
    assert {b["pid"] for b in bodies} == {state["pid"]}
    assert state["counts"]["startup"] == 1
