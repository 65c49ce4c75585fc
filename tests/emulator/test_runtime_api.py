"""The Runtime API side, driven in-process by a hand-written runtime (spawn=False)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time

import aiohttp

from aiolambda._core import protocol as p
from aiolambda.emulator import Emulator

from ._support import HandRuntime, raw_exchange

ARN = "arn:aws:lambda:us-east-1:012345678912:function:test_function"


async def test_next_carries_every_header() -> None:
    async with Emulator(spawn=False, timeout=7.0) as emu, HandRuntime(emu) as rt:
        before = time.time()
        pending = emu.submit(
            {"a": 1},
            request_id="req-1",
            client_context={"custom": {"k": "v"}},
            identity={"cognitoIdentityId": "id", "cognitoIdentityPoolId": "pool"},
            tenant_id="tenant-7",
            trace_id="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        rid, headers, body = await rt.next()
        after = time.time()
        assert rid == "req-1"
        assert json.loads(body) == {"a": 1}
        assert headers["content-type"] == "application/json"
        deadline = int(headers[p.H_DEADLINE_MS])
        assert int((before + 7.0) * 1000) <= deadline <= int((after + 7.0) * 1000) + 1
        assert headers[p.H_FUNCTION_ARN] == ARN
        assert headers[p.H_TRACE_ID].startswith("Root=1-5759e988-")
        assert json.loads(headers[p.H_CLIENT_CONTEXT]) == {"custom": {"k": "v"}}
        assert json.loads(headers[p.H_COGNITO_IDENTITY])["cognitoIdentityPoolId"] == "pool"
        assert headers[p.H_TENANT_ID] == "tenant-7"
        invocation_id = headers[p.H_INVOCATION_ID]
        status, doc = await rt.respond(rid, b'{"r": 2}', {p.H_INVOCATION_ID: invocation_id})
        assert (status, doc) == (202, {"status": "OK"})
        result = await pending
        assert result.ok and result.status == 200 and result.json() == {"r": 2}
        assert result.request_id == "req-1"
        assert result.headers["x-amz-executed-version"] == "$LATEST"


async def test_optional_headers_absent_by_default_and_trace_generated() -> None:
    async with Emulator(spawn=False) as emu, HandRuntime(emu) as rt:
        pending = emu.submit(b"raw bytes", content_type="application/octet-stream")
        rid, headers, body = await rt.next()
        assert body == b"raw bytes"
        assert headers["content-type"] == "application/octet-stream"
        for name in (p.H_CLIENT_CONTEXT, p.H_COGNITO_IDENTITY, p.H_TENANT_ID):
            assert name not in headers
        assert re.fullmatch(
            r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0",
            headers[p.H_TRACE_ID],
        )
        assert re.fullmatch(r"[0-9a-f-]{36}", rid)
        await rt.respond(rid)
        assert (await pending).ok


async def test_hostile_headers_are_written_verbatim() -> None:
    async with Emulator(spawn=False) as emu:
        pending = emu.submit(
            b"{}",
            request_id="victim",
            headers={p.H_DEADLINE_MS: "not-a-number", "X-Injected": "a\r\nEvil: yes"},
            omit_headers=[p.H_TRACE_ID, p.H_FUNCTION_ARN],
        )
        status, head, _ = await raw_exchange(
            emu, f"GET {p.NEXT_PATH} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        assert status == 200
        lowered = head.lower()
        assert b"lambda-runtime-deadline-ms: not-a-number\r\n" in lowered
        assert b"x-injected: a\r\nevil: yes\r\n" in lowered
        assert b"lambda-runtime-trace-id" not in lowered
        assert b"lambda-runtime-invoked-function-arn" not in lowered
        assert lowered.count(b"lambda-runtime-deadline-ms") == 1
        async with HandRuntime(emu) as rt:
            assert (await rt.respond("victim"))[0] == 202
        assert (await pending).ok


async def test_error_post_reaches_the_caller() -> None:
    async with Emulator(spawn=False) as emu, HandRuntime(emu) as rt:
        pending = emu.submit({})
        rid, _, _ = await rt.next()
        doc = {"errorMessage": "bad", "errorType": "ValueError", "stackTrace": []}
        status, body = await rt.fail(rid, json.dumps(doc).encode())
        assert (status, body) == (202, {"status": "OK"})
        result = await pending
        assert result.function_error == "Unhandled"
        assert result.headers["x-amz-function-error"] == "Unhandled"
        assert result.error_type == "ValueError"  # taken from the body without a header
        assert result.json() == doc


async def test_error_type_header_wins_and_empty_body_is_filled_in() -> None:
    async with Emulator(spawn=False) as emu, HandRuntime(emu) as rt:
        pending = emu.submit({})
        rid, _, _ = await rt.next()
        status, _ = await rt.fail(rid, b"", {p.H_ERROR_TYPE: "Function.Custom"})
        assert status == 202
        result = await pending
        assert result.error_type == "Function.Custom"
        assert result.json()["errorType"] == "Function.Custom"


async def test_double_answers_unknown_ids_and_wrong_invocation_id_get_400() -> None:
    async with Emulator(spawn=False) as emu, HandRuntime(emu) as rt:
        pending = emu.submit({})
        rid, _, _ = await rt.next()
        status, doc = await rt.respond(rid, b"1", {p.H_INVOCATION_ID: "stale-attempt"})
        assert (status, doc["errorType"]) == (400, "InvalidInvocationID")
        assert (await rt.respond(rid, b"1"))[0] == 202
        status, doc = await rt.respond(rid, b"2")
        assert (status, doc["errorType"]) == (400, "InvalidRequestID")
        assert (await rt.fail(rid, b"{}"))[0] == 400
        assert (await rt.respond("no-such-id"))[0] == 400
        assert (await pending).payload == b"1"
        statuses = [rec.status for rec in emu.answers(rid)]
        assert statuses == [400, 202, 400, 400]
        assert sum(1 for s in statuses if s == 202) == 1


async def test_late_answer_after_timeout_gets_410() -> None:
    async with Emulator(spawn=False, timeout=0.2) as emu, HandRuntime(emu) as rt:
        pending = emu.submit({})
        rid, _, _ = await rt.next()
        result = await pending
        assert result.error_type == "Sandbox.Timedout"
        assert result.function_error == "Unhandled"
        assert result.json()["errorMessage"].endswith("Task timed out after 0.20 seconds")
        status, doc = await rt.respond(rid)
        assert (status, doc["errorType"]) == (410, "InvokeTimeout")
        assert (await rt.fail(rid, b"{}"))[0] == 410
        # The runtime is free again: the next invocation goes through.
        pending = emu.submit({"n": 2})
        rid2, _, _ = await rt.next()
        await rt.respond(rid2, b"fine")
        assert (await pending).payload == b"fine"


async def test_oversized_response_gets_413_and_the_caller_an_error() -> None:
    async with Emulator(spawn=False) as emu, HandRuntime(emu) as rt:
        pending = emu.submit({})
        rid, _, _ = await rt.next()
        status, doc = await rt.respond(rid, b"x" * (p.MAX_PAYLOAD_BYTES + 1))
        assert (status, doc["errorType"]) == (413, "RequestEntityTooLarge")
        result = await pending
        assert result.error_type == "Function.ResponseSizeTooLarge"
        # A payload of exactly the limit is fine.
        pending = emu.submit({})
        rid, _, _ = await rt.next()
        assert (await rt.respond(rid, b"y" * p.MAX_PAYLOAD_BYTES))[0] == 202
        assert len((await pending).payload) == p.MAX_PAYLOAD_BYTES


async def test_bad_response_mode_gets_400() -> None:
    async with Emulator(spawn=False) as emu, HandRuntime(emu) as rt:
        pending = emu.submit({})
        rid, _, _ = await rt.next()
        status, doc = await rt.respond(rid, b"x", {p.H_RESPONSE_MODE: "buffered"})
        assert (status, doc["errorType"]) == (400, "InvalidFunctionResponseMode")
        assert (await pending).error_type == "Runtime.InvalidResponseModeHeader"


async def test_second_next_while_one_is_open_gets_403() -> None:
    async with Emulator(spawn=False) as emu, HandRuntime(emu) as rt:
        waiting = asyncio.ensure_future(rt.next())
        await emu.wait_for_next_calls(1)
        status, _, body = await rt.request("GET", p.NEXT_PATH)
        assert status == 403 and json.loads(body)["errorType"] == "InvalidStateTransition"
        pending = emu.submit({})
        rid, _, _ = await waiting
        # Still in flight: /next is refused until the runtime answers.
        assert (await rt.request("GET", p.NEXT_PATH))[0] == 403
        await rt.respond(rid)
        assert (await pending).ok


async def test_invocations_queue_fifo_without_concurrency() -> None:
    async with Emulator(spawn=False) as emu, HandRuntime(emu) as rt:
        pendings = [emu.submit({"n": n}) for n in range(4)]
        seen = []
        for _ in range(4):
            rid, _, body = await rt.next()
            seen.append(json.loads(body)["n"])
            await rt.respond(rid, body)
        assert seen == [0, 1, 2, 3]
        results = await asyncio.gather(*pendings)
        assert [r.json()["n"] for r in results] == [0, 1, 2, 3]


async def test_concurrency_allows_n_open_invocations() -> None:
    async with Emulator(spawn=False, concurrency=2) as emu, HandRuntime(emu) as rt:
        first, second = emu.submit({"n": 1}), emu.submit({"n": 2})
        handed_out = await asyncio.gather(rt.next(), rt.next())
        assert (await rt.request("GET", p.NEXT_PATH))[0] == 403  # a third worker is one too many
        # Which poller got which event is up to the network; answer by event, in reverse.
        by_n = {json.loads(body)["n"]: rid for rid, _, body in handed_out}
        await rt.respond(by_n[2], b"two")
        await rt.respond(by_n[1], b"one")
        assert (await first).payload == b"one" and (await second).payload == b"two"


async def test_runtime_that_never_calls_next_still_answers_the_caller() -> None:
    async with Emulator(spawn=False, init_timeout=0.2) as emu:
        result = await emu.invoke({})
        assert result.error_type == "Sandbox.Timedout"
        assert result.json()["errorMessage"].endswith("Task timed out after 0.20 seconds")


async def test_next_caller_that_hangs_up_loses_nothing() -> None:
    async with Emulator(spawn=False) as emu:
        host, port = emu.runtime_api.split(":")
        _reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET {p.NEXT_PATH} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await writer.drain()
        await emu.wait_for_next_calls(1)
        writer.close()
        await writer.wait_closed()
        await emu.wait_for_requests(1)  # the emulator has noticed the hang-up
        assert emu.requests[0].status == 500
        async with HandRuntime(emu) as rt:
            # The dead long-poll must not count as an open /next nor swallow the event.
            waiting = asyncio.ensure_future(rt.next())
            await emu.wait_for_next_calls(2)
            pending = emu.submit({"k": 1})
            rid, _, body = await waiting
            assert json.loads(body) == {"k": 1}
            await rt.respond(rid)
            assert (await pending).ok


async def test_init_error_is_served_to_the_first_caller() -> None:
    async with Emulator(spawn=False) as emu, HandRuntime(emu) as rt:
        doc = {"errorMessage": "no module", "errorType": "Runtime.ImportModuleError"}
        status, _, _ = await rt.request(
            "POST",
            p.INIT_ERROR_PATH,
            json.dumps(doc).encode(),
            {p.H_ERROR_TYPE: "Runtime.ImportModuleError"},
        )
        assert status == 202
        assert await emu.wait_init_error() == doc
        assert emu.init_error == doc
        # Reported once; a second report is a wrong state transition.
        assert (await rt.request("POST", p.INIT_ERROR_PATH, b"{}"))[0] == 403
        result = await emu.invoke({})
        assert result.error_type == "Runtime.ImportModuleError"
        assert result.function_error == "Unhandled"
        assert result.json() == doc


async def test_init_error_after_next_is_forbidden() -> None:
    async with Emulator(spawn=False) as emu, HandRuntime(emu) as rt:
        pending = emu.submit({})
        rid, _, _ = await rt.next()
        assert (await rt.request("POST", p.INIT_ERROR_PATH, b"{}"))[0] == 403
        await rt.respond(rid)
        assert (await pending).ok
        assert emu.init_error is None


async def test_unknown_paths_methods_and_malformed_requests() -> None:
    async with Emulator(spawn=False) as emu, HandRuntime(emu) as rt:
        assert (await rt.request("GET", "/2018-06-01/runtime/nope"))[0] == 404
        assert (await rt.request("POST", p.NEXT_PATH))[0] == 405
        assert (await rt.request("GET", p.response_path("abc")))[0] == 405
        assert (await rt.request("GET", "/2018-06-01/ping"))[2] == b"pong"
        status, _, _ = await raw_exchange(
            emu,
            f"POST {p.response_path('x')} HTTP/1.1\r\nHost: x\r\n"
            "Transfer-Encoding: chunked\r\n\r\nzz\r\n".encode(),
        )
        assert status == 400
        status, _, _ = await raw_exchange(emu, b"NONSENSE\r\n\r\n")
        assert status == 400
        status, _, _ = await raw_exchange(emu, b"POST /x HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
        assert status == 400


async def test_streamed_response_with_error_trailers() -> None:
    async with Emulator(spawn=False) as emu:
        pending = emu.submit({})
        async with HandRuntime(emu) as rt:
            rid, _, _ = await rt.next()
        error_doc = {"errorMessage": "midway", "errorType": "StreamError"}
        encoded = base64.b64encode(json.dumps(error_doc).encode()).decode()
        request = (
            f"POST {p.response_path(rid)} HTTP/1.1\r\nHost: x\r\n"
            f"{p.H_RESPONSE_MODE}: streaming\r\nContent-Type: text/plain\r\n"
            "Transfer-Encoding: chunked\r\n"
            f"Trailer: {p.H_ERROR_TYPE}, {p.H_ERROR_BODY}\r\n\r\n"
            "5\r\nhello\r\n6\r\n world\r\n0\r\n"
            f"{p.H_ERROR_TYPE}: Function.StreamError\r\n{p.H_ERROR_BODY}: {encoded}\r\n\r\n"
        )
        status, _, _ = await raw_exchange(emu, request.encode())
        assert status == 202
        result = await pending
        assert result.streamed
        assert result.payload == b"hello world"
        assert result.content_type == "text/plain"
        assert result.error_type == "Function.StreamError"
        assert result.function_error == "Unhandled"
        assert result.trailers[p.H_ERROR_BODY.lower()] == encoded
        recorded = emu.answers(rid)[0]
        assert recorded.trailers[p.H_ERROR_TYPE.lower()] == "Function.StreamError"


async def test_streamed_response_without_error() -> None:
    async with Emulator(spawn=False) as emu:
        pending = emu.submit({})
        async with HandRuntime(emu) as rt:
            rid, _, _ = await rt.next()

            async def chunks():  # type: ignore[no-untyped-def]
                for part in (b"a" * 10, b"b" * 20):
                    yield part

            status, _, _ = await rt.request(
                "POST", p.response_path(rid), chunks(), {p.H_RESPONSE_MODE: "streaming"}
            )
        assert status == 202
        result = await pending
        assert result.ok and result.streamed and result.payload == b"a" * 10 + b"b" * 20


async def test_expect_100_continue_is_honoured() -> None:
    async with Emulator(spawn=False) as emu:
        pending = emu.submit({})
        async with HandRuntime(emu) as rt:
            rid, _, _ = await rt.next()
        host, port = emu.runtime_api.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(
                f"POST {p.response_path(rid)} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                "Expect: 100-continue\r\n\r\n".encode()
            )
            assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
            writer.write(b"done")
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 202")
        finally:
            writer.close()
            await writer.wait_closed()
        assert (await pending).payload == b"done"


async def test_extension_register_and_invoke_events() -> None:
    async with Emulator(spawn=False, handler="app.handler") as emu, HandRuntime(emu) as rt:
        status, headers, body = await rt.request(
            "POST",
            p.EXTENSION_REGISTER_PATH,
            b'{"events": ["INVOKE"]}',
            {p.H_EXTENSION_NAME: "noop"},
        )
        assert status == 200
        assert json.loads(body) == {
            "functionName": "test_function",
            "functionVersion": "$LATEST",
            "handler": "app.handler",
        }
        ext_id = headers[p.H_EXTENSION_ID.lower()]
        assert emu.extensions == ["noop"]
        bad = await rt.request(
            "POST", p.EXTENSION_REGISTER_PATH, b"{nope", {p.H_EXTENSION_NAME: "x"}
        )
        assert bad[0] == 400
        unknown = await rt.request(
            "POST", p.EXTENSION_REGISTER_PATH, b'{"events": ["PARTY"]}', {p.H_EXTENSION_NAME: "x"}
        )
        assert unknown[0] == 400
        assert (await rt.request("POST", p.EXTENSION_REGISTER_PATH, b"{}"))[0] == 400
        stranger = await rt.request("GET", p.EXTENSION_NEXT_PATH, b"", {p.H_EXTENSION_ID: "who"})
        assert stranger[0] == 403
        event_wait = asyncio.ensure_future(
            rt.request("GET", p.EXTENSION_NEXT_PATH, b"", {p.H_EXTENSION_ID: ext_id})
        )
        pending = emu.submit({}, request_id="ext-seen")
        rid, _, _ = await rt.next()
        status, _, body = await event_wait
        assert status == 200
        event = json.loads(body)
        assert event["eventType"] == "INVOKE" and event["requestId"] == "ext-seen"
        assert event["invokedFunctionArn"] == ARN
        await rt.respond(rid)
        assert (await pending).ok
        # Registration is an init-phase call.
        late = await rt.request(
            "POST", p.EXTENSION_REGISTER_PATH, b'{"events": []}', {p.H_EXTENSION_NAME: "late"}
        )
        assert late[0] == 403


async def test_everything_is_recorded() -> None:
    async with Emulator(spawn=False) as emu, HandRuntime(emu) as rt:
        pending = emu.submit({"z": 1}, request_id="rec-1")
        rid, _, _ = await rt.next()
        await rt.respond(rid, b'"r"', {"X-Custom": "yes"})
        await pending
        waiting = asyncio.ensure_future(rt.next())
        await emu.wait_for_next_calls(2)
        assert emu.next_calls == 2
        next_rec, response_rec = emu.requests
        assert (next_rec.method, next_rec.path, next_rec.status) == ("GET", p.NEXT_PATH, 200)
        assert next_rec.request_id == "rec-1"
        assert response_rec.path == p.response_path("rec-1")
        assert response_rec.headers["x-custom"] == "yes"
        assert response_rec.body == b'"r"'
        assert response_rec.status == 202
        assert emu.answers("rec-1") == [response_rec]
        assert [r.request_id for r in emu.results] == ["rec-1"]
        waiting.cancel()


async def test_close_answers_pending_callers() -> None:
    emu = Emulator(spawn=False)
    await emu.start()
    pending = emu.submit({})
    await emu.close()
    result = await pending
    assert result.error_type == "Runtime.ExitError"


async def _open_stream(
    emu: Emulator, rid: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = emu.runtime_api.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        f"POST {p.response_path(rid)} HTTP/1.1\r\nHost: x\r\n{p.H_RESPONSE_MODE}: streaming\r\n"
        "Content-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        "6\r\nfirst \r\n".encode()
    )
    await writer.drain()
    return reader, writer


async def test_streamed_response_reaches_an_http_caller_as_it_arrives() -> None:
    async with (
        Emulator(spawn=False) as emu,
        HandRuntime(emu) as rt,
        aiohttp.ClientSession() as http,
    ):
        call = asyncio.ensure_future(http.post(emu.invoke_url, data=b"{}"))
        rid, _, _ = await rt.next()
        reader, writer = await _open_stream(emu, rid)
        try:
            async with await call as response:
                assert response.headers["Content-Type"] == "text/event-stream"
                # The first chunk is readable while the function is still streaming.
                assert await response.content.readexactly(6) == b"first "
                writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
                await writer.drain()
                assert await response.content.read() == b"second"
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 202")
        finally:
            writer.close()
            await writer.wait_closed()
        (result,) = emu.results
        assert result.streamed and result.payload == b"first second"


async def test_streamed_chunks_reach_on_chunk_as_they_arrive() -> None:
    async with Emulator(spawn=False) as emu, HandRuntime(emu) as rt:
        seen: list[bytes] = []
        got_first = asyncio.Event()

        def on_chunk(data: bytes) -> None:
            seen.append(data)
            got_first.set()

        pending = emu.submit({}, on_chunk=on_chunk)
        rid, _, _ = await rt.next()
        reader, writer = await _open_stream(emu, rid)
        try:
            await got_first.wait()
            assert seen == [b"first "] and not pending.done()
            writer.write(b"4\r\nlast\r\n0\r\n\r\n")
            await writer.drain()
            await reader.readuntil(b"\r\n\r\n")
        finally:
            writer.close()
            await writer.wait_closed()
        result = await pending
        assert seen == [b"first ", b"last"] and result.payload == b"first last"


async def test_duplicate_forced_request_ids_are_refused() -> None:
    async with Emulator(spawn=False) as emu:
        first = emu.submit({}, request_id="same")
        try:
            emu.submit({}, request_id="same")
        except ValueError as exc:
            assert "already queued" in str(exc)
        else:
            raise AssertionError("a duplicate id must be refused")
        async with HandRuntime(emu) as rt:
            rid, _, _ = await rt.next()
            await rt.respond(rid)
        assert (await first).ok
