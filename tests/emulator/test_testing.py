"""``aiolambda.testing``: the helpers users call from their own tests."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aiolambda.testing import (
    EmulatorThread,
    invoke,
    invoke_async,
    lambda_emulator,
)

from ._support import HERE, ric

if TYPE_CHECKING:
    from collections.abc import Callable


def test_invoke_from_a_plain_test() -> None:
    result = invoke(
        "fn.sync_app.echo", {"k": "v"}, task_root=HERE, bootstrap=ric("fn.sync_app.echo")
    )
    assert result.ok and result.json()["event"] == {"k": "v"}


async def test_invoke_and_emulator_from_async_tests() -> None:
    result = await invoke_async(
        "fn.sync_app.fail", task_root=HERE, bootstrap=ric("fn.sync_app.fail")
    )
    assert result.function_error == "Unhandled"
    # The blocking helper refuses to re-enter a running loop and uses a thread instead.
    blocking = invoke("fn.sync_app.echo", None, task_root=HERE, bootstrap=ric("fn.sync_app.echo"))
    assert blocking.json()["event"] == {}
    async with lambda_emulator(spawn=False) as emu:
        assert emu.runtime_api.startswith("127.0.0.1:")


def test_emulator_thread_serves_boto3() -> None:
    import boto3

    with EmulatorThread(
        "fn.sync_app.echo", task_root=HERE, bootstrap=ric("fn.sync_app.echo")
    ) as emu:
        client = boto3.client(
            "lambda",
            endpoint_url=emu.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        try:
            response = client.invoke(FunctionName="test_function", Payload=b'{"b": 3}')
        finally:
            client.close()
        assert json.loads(response["Payload"].read())["event"] == {"b": 3}
        direct = emu.invoke({"c": 4})
        assert direct.json()["event"] == {"c": 4}
        assert len(emu.results) == 2
        assert any(r.path.endswith("/response") for r in emu.requests)


def test_factory_fixture_closes_what_it_started(
    lambda_emulator_factory: Callable[..., EmulatorThread],
) -> None:
    first = lambda_emulator_factory(spawn=False)
    second = lambda_emulator_factory(
        "fn.sync_app.pid", task_root=HERE, bootstrap=ric("fn.sync_app.pid")
    )
    assert first.runtime_api != second.runtime_api
    assert isinstance(second.invoke().json(), int)
