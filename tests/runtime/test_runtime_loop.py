"""The invoke loop against the emulator over loopback: results, errors, protocol details."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import orjson

from tests.runtime.harness import running


async def echo(event: Any, context: Any) -> Any:
    return {"event": event, "request_id": context.aws_request_id}


def sync_echo(event: Any, context: Any) -> Any:
    return {"event": event, "sync": True}


async def test_async_handler_result_is_posted(transport: str) -> None:
    async with running(echo, transport=transport) as r:
        res = await r.emu.invoke({"hello": "world"}, request_id="req-1")
        assert res.ok
        assert res.json() == {"event": {"hello": "world"}, "request_id": "req-1"}
        answers = r.emu.answers("req-1")
        assert [a.path.rsplit("/", 1)[-1] for a in answers] == ["response"]
        assert answers[0].headers["content-type"] == "application/json"


async def test_many_invocations_share_one_connection(transport: str) -> None:
    async with running(echo, transport=transport) as r:
        for i in range(20):
            res = await r.emu.invoke({"i": i})
            assert res.json()["event"] == {"i": i}
        await r.emu.wait_for_next_calls(21)
        ports = {req.headers.get("x-peer-port") for req in r.emu.requests}
        # every request of the run came over one keep-alive connection when recorded
        assert len(ports) == 1


async def test_sync_handler_runs_in_a_worker_thread(transport: str) -> None:
    import threading

    seen: list[str] = []

    def handler(event: Any, context: Any) -> Any:
        seen.append(threading.current_thread().name)
        # Mangum-style: a sync handler may drive its own loop with run_until_complete.
        loop = asyncio.get_event_loop()
        return loop.run_until_complete(asyncio.sleep(0, result={"ran": event}))

    async with running(handler, transport=transport) as r:
        res = await r.emu.invoke([1, 2])
        assert res.json() == {"ran": [1, 2]}
    assert seen and seen[0] != threading.main_thread().name


async def test_handler_exception_is_structured_error(transport: str) -> None:
    async def handler(event: Any, context: Any) -> Any:
        raise ValueError("bad input: 42")

    async with running(handler, transport=transport) as r:
        res = await r.emu.invoke({}, request_id="req-err")
        assert res.function_error == "Unhandled"
        doc = res.json()
        assert doc["errorType"] == "ValueError"
        assert doc["errorMessage"] == "bad input: 42"
        assert doc["requestId"] == "req-err"
        assert any("test_runtime_loop.py" in line for line in doc["stackTrace"])
        assert not any("/aiolambda/_" in line for line in doc["stackTrace"])
        (post,) = r.emu.answers("req-err")
        assert post.path.endswith("/req-err/error")
        assert post.headers["lambda-runtime-function-error-type"] == "Function.ValueError"
        cause = orjson.loads(post.headers["lambda-runtime-function-xray-error-cause"])
        assert cause["exceptions"][0]["type"] == "ValueError"
        # the runtime is still alive and serves the next invocation
        assert (await r.emu.invoke({"again": 1})).function_error == "Unhandled"
        assert r.emu.next_calls >= 2


async def test_keyboard_interrupt_fails_only_its_invocation(transport: str) -> None:
    async def handler(event: Any, context: Any) -> Any:
        if event == "kbd":
            raise KeyboardInterrupt
        return "fine"

    async with running(handler, transport=transport) as r:
        assert (await r.emu.invoke(b'"kbd"')).json()["errorType"] == "KeyboardInterrupt"
        assert (await r.emu.invoke(b'"ok"')).json() == "fine"


def _answers(r: Any) -> list[str]:
    return [q.path for q in r.emu.requests if q.path.endswith(("/response", "/error"))]


async def test_sys_exit_ends_the_runtime_unanswered_like_awslambdaric(transport: str) -> None:
    """sys.exit() in a handler: the process exits with its status, the invocation is left
    for Lambda to answer (Runtime.ExitError), as under awslambdaric (README: Compatibility)."""
    import sys

    async def handler(event: Any, context: Any) -> Any:
        sys.exit(3)

    def sync_handler(event: Any, context: Any) -> Any:
        sys.exit("from a thread")

    for func, status in ((handler, 3), (sync_handler, 1)):
        async with running(func, transport=transport, timeout=30) as r:
            pending = asyncio.ensure_future(r.emu.invoke(b'"x"'))
            try:
                assert await asyncio.wait_for(asyncio.shield(r.task), 10) == status
                assert _answers(r) == []
            finally:
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)


async def test_sys_exit_under_concurrency_lets_the_others_finish(transport: str) -> None:
    import sys

    release = asyncio.Event()
    started = asyncio.Event()

    async def handler(event: Any, context: Any) -> Any:
        if event == "exit":
            await started.wait()
            sys.exit(4)
        started.set()
        await release.wait()
        return "finished"

    async with running(handler, transport=transport, timeout=30, concurrency=2) as r:
        slow = asyncio.ensure_future(r.emu.invoke(b'"slow"'))
        leaving = asyncio.ensure_future(r.emu.invoke(b'"exit"'))
        try:
            await asyncio.wait_for(started.wait(), 10)
            release.set()
            # The runtime answers the invocation still in flight before it exits.
            assert (await asyncio.wait_for(slow, 10)).json() == "finished"
            assert await asyncio.wait_for(asyncio.shield(r.task), 10) == 4
            assert len(_answers(r)) == 1
        finally:
            for fut in (slow, leaving):
                fut.cancel()
            await asyncio.gather(slow, leaving, return_exceptions=True)


async def test_handler_cancelling_itself_is_an_error_not_a_crash(transport: str) -> None:
    async def handler(event: Any, context: Any) -> Any:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(0)

    async with running(handler, transport=transport) as r:
        res = await r.emu.invoke({})
        assert res.json()["errorType"] == "CancelledError"
        assert (await r.emu.invoke({})).json()["errorType"] == "CancelledError"


async def test_bytes_result_and_raw_event(transport: str) -> None:
    async def handler(event: Any, context: Any) -> Any:
        assert isinstance(event, bytes)
        return event[::-1]

    async with running(handler, transport=transport) as r:
        res = await r.emu.invoke(b"\x00\x01\xffabc", content_type="application/octet-stream")
        assert res.ok
        assert res.payload == b"cba\xff\x01\x00"
        assert res.content_type == "application/unknown"


async def test_unmarshal_and_marshal_errors(transport: str) -> None:
    async def handler(event: Any, context: Any) -> Any:
        return object() if event == "garbage" else event

    async with running(handler, transport=transport) as r:
        bad = await r.emu.invoke(b"{not json", content_type="application/json")
        assert bad.json()["errorType"] == "Runtime.UnmarshalError"
        invalid_utf8 = await r.emu.invoke(b'"\xff\xfe"', content_type="application/json")
        assert invalid_utf8.json()["errorType"] == "Runtime.UnmarshalError"
        garbage = await r.emu.invoke(b'"garbage"')
        assert garbage.json()["errorType"] == "Runtime.MarshalError"
        (post,) = r.emu.answers(garbage.request_id)
        assert post.headers["lambda-runtime-function-error-type"] == "Runtime.MarshalError"
        assert (await r.emu.invoke([1])).json() == [1]


async def test_oversized_result_becomes_a_clear_error(transport: str) -> None:
    async def handler(event: Any, context: Any) -> Any:
        return "x" * (7 * 1024 * 1024)

    async with running(handler, transport=transport) as r:
        res = await r.emu.invoke({})
        doc = res.json()
        assert doc["errorType"] == "Function.ResponseSizeTooLarge"
        assert "exceeded maximum allowed payload size" in doc["errorMessage"]
        assert [a.path.rsplit("/", 1)[-1] for a in r.emu.answers(res.request_id)] == ["error"]


async def test_context_fields_from_headers(transport: str) -> None:
    seen: dict[str, Any] = {}

    async def handler(event: Any, context: Any) -> Any:
        seen["ctx"] = context
        seen["env_trace"] = os.environ.get("_X_AMZN_TRACE_ID")
        from aiolambda import current_trace_id

        seen["var_trace"] = current_trace_id()
        return None

    async with running(handler, transport=transport, timeout=7.0) as r:
        before = time.time()
        await r.emu.invoke(
            {},
            request_id="req-ctx",
            client_context={"client": {"installation_id": "inst"}, "custom": {"a": 1}},
            identity={"cognitoIdentityId": "cid", "cognitoIdentityPoolId": "pool"},
            tenant_id="tenant-7",
            trace_id="Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
        )
    ctx = seen["ctx"]
    assert ctx.aws_request_id == "req-ctx"
    assert ctx.function_name == "test_function"
    assert ctx.memory_limit_in_mb == "128"
    assert ctx.function_version == "$LATEST"
    assert ctx.log_group_name == "/aws/lambda/test_function"
    assert ctx.invoked_function_arn.endswith(":function:test_function")
    assert ctx.tenant_id == "tenant-7"
    assert ctx.identity.cognito_identity_id == "cid"
    assert ctx.client_context.client.installation_id == "inst"
    assert ctx.client_context.custom == {"a": 1}
    assert ctx.xray_trace_id.startswith("Root=1-5759e988")
    assert seen["env_trace"] == seen["var_trace"] == ctx.xray_trace_id
    assert before * 1000 + 6000 < ctx.deadline_ms <= time.time() * 1000 + 7000


async def test_trace_env_is_cleared_when_absent(transport: str) -> None:
    seen: list[str | None] = []

    async def handler(event: Any, context: Any) -> Any:
        seen.append(os.environ.get("_X_AMZN_TRACE_ID"))

    async with running(handler, transport=transport) as r:
        await r.emu.invoke({}, trace_id="Root=1-aaa")
        await r.emu.invoke({}, omit_headers=["Lambda-Runtime-Trace-Id"])
    assert seen == ["Root=1-aaa", None]


async def test_malformed_context_headers_are_structured_errors(transport: str) -> None:
    async with running(echo, transport=transport) as r:
        res = await r.emu.invoke({}, headers={"Lambda-Runtime-Client-Context": "{not json"})
        assert res.json()["errorType"] == "Runtime.LambdaContextUnmarshalError"
        res = await r.emu.invoke({}, headers={"Lambda-Runtime-Cognito-Identity": "[1]"})
        assert res.json()["errorType"] == "Runtime.LambdaContextUnmarshalError"
        assert (await r.emu.invoke({"ok": 1})).ok


async def test_invocation_id_is_echoed(transport: str) -> None:
    async with running(echo, transport=transport) as r:
        res = await r.emu.invoke({})
        assert res.ok  # the emulator rejects (400) a post whose echo differs from its nonce
        (post,) = r.emu.answers(res.request_id)
        assert post.status == 202
        assert len(post.headers["lambda-runtime-invocation-id"]) >= 32
        res = await r.emu.invoke({}, omit_headers=["Lambda-Runtime-Invocation-Id"])
        (post,) = r.emu.answers(res.request_id)
        assert "lambda-runtime-invocation-id" not in post.headers


async def test_unusable_request_id_stops_the_runtime_without_posting(transport: str) -> None:
    async with running(echo, transport=transport, timeout=0.5) as r:
        res = await r.emu.invoke({}, request_id="../../init/error")
        assert res.error_type == "Sandbox.Timedout"
        assert await r.task == 1
        assert not [req for req in r.emu.requests if req.method == "POST"]


async def test_missing_or_malformed_deadline_does_not_break_the_loop(transport: str) -> None:
    seen: list[int] = []

    async def handler(event: Any, context: Any) -> Any:
        seen.append(context.get_remaining_time_in_millis())
        return "ok"

    async with running(handler, transport=transport) as r:
        assert (await r.emu.invoke({}, omit_headers=["Lambda-Runtime-Deadline-Ms"])).ok
        assert (await r.emu.invoke({}, headers={"Lambda-Runtime-Deadline-Ms": "soon"})).ok
    assert all(ms > 800_000 for ms in seen)


async def test_init_of_runtime_is_one_next_call_per_poller(transport: str) -> None:
    async with running(echo, transport=transport, concurrency=4) as r:
        await r.emu.wait_for_next_calls(4)
        assert r.emu.next_calls == 4
