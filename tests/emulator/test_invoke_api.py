"""The Invoke API side: boto3, the AWS CLI and plain HTTP against the emulator."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from aiolambda.emulator import Emulator

from ._support import HERE, HandRuntime, ric

if TYPE_CHECKING:
    from pathlib import Path

DUMMY_CREDENTIALS = {"aws_access_key_id": "x", "aws_secret_access_key": "x"}


def _boto3_invoke(endpoint_url: str, **kwargs: Any) -> dict[str, Any]:
    import boto3

    client = boto3.client(
        "lambda", endpoint_url=endpoint_url, region_name="us-east-1", **DUMMY_CREDENTIALS
    )
    try:
        response = client.invoke(**kwargs)
        if "Payload" in response:
            response["Payload"] = response["Payload"].read()
        return response
    finally:
        client.close()


async def boto3_invoke(emu: Emulator, **kwargs: Any) -> dict[str, Any]:
    # boto3 blocks: run it in a thread so the emulator keeps serving on this loop.
    return await asyncio.to_thread(_boto3_invoke, emu.endpoint_url, **kwargs)


async def test_boto3_request_response_error_and_log_tail() -> None:
    async with Emulator(
        "fn.sync_app.echo", task_root=HERE, bootstrap=ric("fn.sync_app.echo")
    ) as emu:
        response = await boto3_invoke(emu, FunctionName="test_function", Payload=b'{"a": 1}')
        assert response["StatusCode"] == 200
        assert response["ExecutedVersion"] == "$LATEST"
        assert "FunctionError" not in response
        assert json.loads(response["Payload"])["event"] == {"a": 1}
        rie_style = await boto3_invoke(emu, FunctionName="function", Payload=b"{}")
        assert rie_style["StatusCode"] == 200
        tailed = await boto3_invoke(emu, FunctionName="test_function", LogType="Tail")
        log_text = base64.b64decode(tailed["LogResult"]).decode()
        request_id = json.loads(tailed["Payload"])["request_id"]
        assert f"START RequestId: {request_id}" in log_text
        assert f"REPORT RequestId: {request_id}" in log_text
    async with Emulator(
        "fn.sync_app.fail", task_root=HERE, bootstrap=ric("fn.sync_app.fail")
    ) as emu:
        response = await boto3_invoke(emu, FunctionName="test_function", Payload=b"{}")
        assert response["StatusCode"] == 200
        assert response["FunctionError"] == "Unhandled"
        assert json.loads(response["Payload"])["errorType"] == "ValueError"


async def test_boto3_event_and_dry_run() -> None:
    async with Emulator(
        "fn.sync_app.echo", task_root=HERE, bootstrap=ric("fn.sync_app.echo")
    ) as emu:
        dry = await boto3_invoke(emu, FunctionName="test_function", InvocationType="DryRun")
        assert dry["StatusCode"] == 204
        assert emu.results == []
        await emu.wait_for_next_calls(1)  # the runtime is up and idle
        event = await boto3_invoke(
            emu, FunctionName="test_function", InvocationType="Event", Payload=b'{"e": 1}'
        )
        assert event["StatusCode"] == 202
        await emu.wait_for_next_calls(2)  # answered, and idle again
        (result,) = emu.results
        assert result.status == 202
        assert result.json()["event"] == {"e": 1}


async def test_boto3_errors_from_the_service() -> None:
    from botocore.exceptions import ClientError

    async with Emulator(spawn=False) as emu:
        with pytest.raises(ClientError) as missing:
            await boto3_invoke(emu, FunctionName="someone_else")
        assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        with pytest.raises(ClientError) as too_big:
            await boto3_invoke(emu, FunctionName="test_function", Payload=b"x" * (7 * 2**20))
        assert too_big.value.response["Error"]["Code"] == "RequestTooLargeException"
        assert too_big.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
        assert emu.next_calls == 0


async def test_rie_path_with_plain_http_and_timeout() -> None:
    async with (
        Emulator(spawn=False, timeout=0.2) as emu,
        HandRuntime(emu) as rt,
        aiohttp.ClientSession() as http,
    ):
        call = asyncio.ensure_future(http.post(emu.invoke_url, data=b'{"q": 1}'))
        rid, headers, body = await rt.next()
        assert headers["content-type"] == "application/json"  # whatever curl/aiohttp said
        assert json.loads(body) == {"q": 1}
        await rt.respond(rid, b"<b>hi</b>", {"Content-Type": "text/html"})
        async with await call as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/html"
            assert response.headers["X-Amz-Executed-Version"] == "$LATEST"
            assert "X-Amz-Function-Error" not in response.headers
            assert await response.read() == b"<b>hi</b>"
        # A runtime that takes the invocation and never answers: the caller gets
        # Sandbox.Timedout, in the shape of a function error.
        call = asyncio.ensure_future(http.post(emu.invoke_url, data=b"{}"))
        await rt.next()
        async with await call as response:
            assert response.status == 200
            assert response.headers["X-Amz-Function-Error"] == "Unhandled"
            assert (await response.json())["errorType"] == "Sandbox.Timedout"


async def test_client_context_tenant_and_trace_are_passed_through() -> None:
    async with Emulator(spawn=False) as emu, HandRuntime(emu) as rt:
        context = base64.b64encode(b'{"custom": {"x": 1}}').decode()
        async with aiohttp.ClientSession() as http:
            call = asyncio.ensure_future(
                http.post(
                    emu.invoke_url,
                    data=b"{}",
                    headers={
                        "X-Amz-Client-Context": context,
                        "X-Amz-Tenant-Id": "blue",
                        "X-Amzn-Trace-Id": "Root=1-abc;Sampled=1",
                    },
                )
            )
            rid, headers, _ = await rt.next()
            assert json.loads(headers["lambda-runtime-client-context"]) == {"custom": {"x": 1}}
            assert headers["lambda-runtime-aws-tenant-id"] == "blue"
            assert headers["lambda-runtime-trace-id"] == "Root=1-abc;Sampled=1"
            await rt.respond(rid)
            async with await call as response:
                assert response.status == 200
            bad = await http.post(
                emu.invoke_url, data=b"{}", headers={"X-Amz-Client-Context": "%%"}
            )
            assert bad.status == 400
            bad.release()


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
async def test_aws_cli_invoke(tmp_path: Path) -> None:
    async with Emulator(
        "fn.sync_app.echo", task_root=HERE, bootstrap=ric("fn.sync_app.echo")
    ) as emu:
        out = tmp_path / "out.json"
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
        argv = [
            "aws", "lambda", "invoke", "--endpoint-url", emu.endpoint_url,
            "--function-name", "test_function", "--payload", '{"cli": true}', str(out),
        ]  # fmt: skip
        proc = await asyncio.to_thread(
            subprocess.run, argv, env=env, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["StatusCode"] == 200
        assert json.loads(out.read_text())["event"] == {"cli": True}


def test_sys_executable_is_used_for_the_default_bootstrap() -> None:
    emu = Emulator("app.handler")
    assert emu.bootstrap == [sys.executable, "-m", "aiolambda", "app.handler"]


INVOKE_URL = "/2015-03-31/functions/{}/invocations"
STREAM_URL = "/2021-11-15/functions/{}/response-streaming-invocations"
ARN_PREFIX = "arn:aws:lambda:us-east-1:123456789012:function:"


@pytest.mark.parametrize(
    ("route", "operation"),
    [(INVOKE_URL, "InvokeFunction"), (STREAM_URL, "InvokeWithResponseStream")],
    ids=["Invoke", "InvokeWithResponseStream"],
)
async def test_service_errors_are_worded_as_lambda_s(route: str, operation: str) -> None:
    # Both invoke endpoints name the missing function by its ARN, whatever form the
    # caller used, and name their own operation in the 413 (Lambda's wording).
    async with Emulator(spawn=False) as emu, aiohttp.ClientSession(emu.endpoint_url) as http:
        ours = emu.engine.cfg.function_arn  # arn:aws:lambda:REGION:ACCOUNT:function:NAME
        base = ours.rsplit(":", 1)[0] + ":"
        region = ":".join(ours.split(":")[:4])
        names = {
            "someone_else": base + "someone_else",
            "someone_else:live": base + "someone_else:live",
            ARN_PREFIX + "other": ARN_PREFIX + "other",
            "210987654321:function:other": region + ":210987654321:function:other",
        }
        for name, arn in names.items():
            async with http.post(route.format(name), data=b"{}") as missing:
                assert missing.status == 404
                assert missing.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
                assert (await missing.json())["message"] == f"Function not found: {arn}"
        too_big = b'"' + b"x" * (7 * 2**20) + b'"'
        async with http.post(route.format("test_function"), data=io.BytesIO(too_big)) as response:
            assert response.status == 413
            assert response.headers["x-amzn-ErrorType"] == "RequestTooLargeException"
            assert (await response.json())["message"] == (
                f"Request must be smaller than 6291456 bytes for the {operation} operation"
            )
        assert emu.next_calls == 0
