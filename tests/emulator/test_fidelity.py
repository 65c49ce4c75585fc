"""The emulator behaves like Lambda where a caller or a log reader can tell the difference.

Each test pins one item of issue 12: the function's environment, Lambda's answer to a
non-JSON payload, platform lines on lines of their own, REPORT's Init Duration and
Max Memory Used, and the byte count in the oversized-response message.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from aiolambda._core import protocol as p
from aiolambda.emulator import Emulator
from aiolambda.testing import EmulatorThread, invoke

from ._support import HERE, HandRuntime, ric

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aiolambda.emulator import InvokeResult

HAS_PROC = Path("/proc/self/status").is_file()
REPORT = re.compile(
    r"REPORT RequestId: (?P<rid>\S+)\tDuration: (?P<duration>\d+\.\d\d) ms"
    r"\tBilled Duration: (?P<billed>\d+) ms\tMemory Size: (?P<memory>\d+) MB"
    r"(\tMax Memory Used: (?P<max>\d+) MB)?(\tInit Duration: (?P<init>\d+\.\d\d) ms)?"
)


def emulator(handler: str, **kwargs: Any) -> Emulator:
    """awslambdaric as the runtime: these tests are about the emulator, not aiolambda."""
    return Emulator(handler, task_root=HERE, bootstrap=ric(handler), **kwargs)


def report(result: InvokeResult) -> dict[str, str | None]:
    line = result.logs.splitlines()[-1]
    match = REPORT.fullmatch(line)
    assert match is not None, line
    assert match["rid"] == result.request_id
    return match.groupdict()


# -- environment ------------------------------------------------------------------------
async def test_the_function_does_not_inherit_python_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shell = {
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": str(HERE / "nowhere"),
        "PYTHONWARNINGS": "error",
    }
    for name, value in shell.items():
        monkeypatch.setenv(name, value)
    async with emulator("fn.fidelity_app.python_env") as emu:
        result = await emu.invoke({})
        assert result.ok, result.payload
        assert result.json() == {}
        assert not [name for name in emu.environment() if name.startswith("PYTHON")]
    given = {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    async with emulator("fn.fidelity_app.python_env", env=given) as emu:
        assert (await emu.invoke({})).json() == given


def test_the_testing_api_passes_python_variables_only_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    handler = "fn.fidelity_app.python_env"
    plain = invoke(handler, task_root=HERE, bootstrap=ric(handler))
    assert plain.json() == {}
    asked = invoke(handler, task_root=HERE, bootstrap=ric(handler), env={"PYTHONHASHSEED": "0"})
    assert asked.json() == {"PYTHONHASHSEED": "0"}


# -- non-JSON payloads ------------------------------------------------------------------
NOT_JSON = [b"hello", b"{not json", b"NaN", b'{"a": Infinity}', b"\xff\xfe{}", b"{} {}", b"  "]


async def test_a_non_json_payload_gets_lambdas_400_and_never_reaches_the_function() -> None:
    async with emulator("fn.sync_app.echo") as emu, aiohttp.ClientSession() as http:
        await emu.wait_for_next_calls(1)  # the runtime is up and waiting for work
        for payload in NOT_JSON:
            for invocation_type in ("RequestResponse", "Event", "DryRun"):
                headers = {"X-Amz-Invocation-Type": invocation_type}
                async with http.post(emu.invoke_url, data=payload, headers=headers) as response:
                    assert response.status == 400, payload
                    assert response.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
                    assert response.headers["x-amzn-RequestId"]
                    assert response.content_type == "application/json"
                    doc = await response.json()
                assert doc["Type"] == "User"
                assert doc["message"].startswith(
                    "Could not parse request body into json: Could not parse payload into json: "
                )
        assert emu.results == [] and emu.next_calls == 1  # nothing was handed out
        # Any JSON value is an event, and no payload at all is {}.
        for payload, event in [(b'"hello"', "hello"), (b"null", None), (b" [1] ", [1]), (b"", {})]:
            async with http.post(emu.invoke_url, data=payload) as response:
                assert response.status == 200
                assert (await response.json())["event"] == event


def test_boto3_sees_invalid_request_content_exception() -> None:
    boto3 = pytest.importorskip("boto3")
    from botocore.exceptions import ClientError

    handler = "fn.sync_app.echo"
    with EmulatorThread(handler, task_root=HERE, bootstrap=ric(handler)) as emu:
        client = boto3.client(
            "lambda",
            endpoint_url=emu.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        try:
            with pytest.raises(ClientError) as caught:
                client.invoke(FunctionName="test_function", Payload=b"hello")
        finally:
            client.close()
        assert emu.results == []
    error = caught.value.response
    assert error["Error"]["Code"] == "InvalidRequestContentException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400


# -- log framing ------------------------------------------------------------------------
async def test_start_and_end_always_begin_a_line() -> None:
    env = {"FIDELITY_INIT_TEXT": "init output without a newline"}
    async with emulator("fn.fidelity_app.no_newline", env=env) as emu:
        results = [await emu.invoke({}), await emu.invoke({})]
        logs = emu.logs
    assert "init output without a newline\nSTART RequestId: " in logs
    for result in results:
        lines = result.logs.splitlines()
        assert lines[0] == f"START RequestId: {result.request_id} Version: $LATEST"
        assert "printed without a newline" in lines
        assert lines[-2] == f"END RequestId: {result.request_id}"


# -- REPORT -----------------------------------------------------------------------------
async def test_report_has_init_duration_once_per_environment() -> None:
    env = {"FIDELITY_INIT_SECONDS": "0.3"}
    async with emulator("fn.fidelity_app.work", env=env, memory=256) as emu:
        first = report(await emu.invoke({"by": 1}))
        second = report(await emu.invoke({"by": 2}))
        crashed = await emu.invoke({"exit": 5})  # the environment is gone
        fresh = report(await emu.invoke({"by": 4}))
    assert first["init"] is not None and float(first["init"]) >= 300
    assert second["init"] is None
    assert crashed.error_type == "Runtime.ExitError"
    assert report(crashed)["init"] is None
    assert fresh["init"] is not None and float(fresh["init"]) >= 300
    for fields in (first, second, fresh):
        assert fields["memory"] == "256"
        init = float(fields["init"] or 0)
        # Lambda bills the init phase with the first invocation (since August 2025).
        assert int(str(fields["billed"])) == math.ceil(float(str(fields["duration"])) + init)


@pytest.mark.skipif(not HAS_PROC, reason="Max Memory Used is measured through /proc (Linux)")
async def test_max_memory_used_is_the_runtimes_peak() -> None:
    async with emulator("fn.fidelity_app.allocate", memory=1024) as emu:
        base = int(str(report(await emu.invoke({"mb": 0}))["max"]))
        peak = int(str(report(await emu.invoke({"mb": 100}))["max"]))
        after = int(str(report(await emu.invoke({"mb": 0}))["max"]))
    assert 5 <= base < 100
    assert peak >= base + 95  # the 100 MB held during the call
    assert after == peak  # Lambda reports the environment's peak so far: it never drops


@pytest.mark.skipif(not HAS_PROC, reason="Max Memory Used is measured through /proc (Linux)")
async def test_max_memory_used_counts_the_runtimes_children() -> None:
    async with emulator("fn.fidelity_app.allocate_in_child", memory=1024) as emu:
        base = int(str(report(await emu.invoke({"mb": 0}))["max"]))
        with_child = int(str(report(await emu.invoke({"mb": 100}))["max"]))
    assert with_child >= base + 95


# -- oversized responses ----------------------------------------------------------------
async def test_the_oversized_response_message_carries_the_byte_count() -> None:
    async with emulator("fn.sync_app.huge") as emu:
        result = await emu.invoke({})
    assert result.error_type == "Function.ResponseSizeTooLarge"
    # Word for word what RIE (RAPID) answers for the same 7 MiB string.
    assert result.json()["errorMessage"] == (
        "Response payload size (7340034 bytes) exceeded maximum allowed payload size "
        "(6291556 bytes)."
    )


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_the_byte_count_is_the_whole_body(framing: str) -> None:
    size = p.MAX_PAYLOAD_BYTES + 70_000

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, size, 65_536):
            yield b"x" * min(65_536, size - start)

    async with Emulator(spawn=False) as emu, HandRuntime(emu) as runtime:
        pending = emu.submit({})
        request_id, _, _ = await runtime.next()
        body: Any = b"x" * size if framing == "content-length" else chunks()
        status, answer = await runtime.respond(request_id, body)
        result = await pending
    assert status == 413
    assert answer["errorType"] == "RequestEntityTooLarge"
    assert result.json() == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": f"Response payload size ({size} bytes) exceeded maximum allowed "
        f"payload size ({p.MAX_PAYLOAD_BYTES} bytes).",
    }
