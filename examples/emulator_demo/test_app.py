"""Testing app.handler with aiolambda.testing.

From the repository's root, install what it needs and run it::

    pip install -c constraints.txt -e . -r examples/emulator_demo/requirements.txt
    pytest examples/emulator_demo

Each test starts the function under the local emulator, the way Lambda would run it
(``python -m aiolambda app.handler`` with the Lambda environment), then invokes it.
"""

from __future__ import annotations

import json
from pathlib import Path

from aiolambda.testing import EmulatorThread, invoke

HERE = Path(__file__).parent


def test_reserves_what_is_in_stock() -> None:
    result = invoke("app.handler", {"item": "apple", "qty": 2}, task_root=HERE)
    assert result.ok, result.payload
    assert result.json() == {"item": "apple", "reserved": 2}
    assert f"reserving 2 x apple for {result.request_id}" in result.logs


def test_out_of_stock_is_a_function_error() -> None:
    result = invoke("app.handler", {"item": "pear"}, task_root=HERE)
    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == "OutOfStock"


def test_through_boto3() -> None:
    import boto3

    with EmulatorThread("app.handler", task_root=HERE) as emu:
        client = boto3.client(
            "lambda",
            endpoint_url=emu.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        response = client.invoke(FunctionName="test_function", Payload=b'{"item": "apple"}')
        client.close()
        assert json.loads(response["Payload"].read()) == {"item": "apple", "reserved": 1}
