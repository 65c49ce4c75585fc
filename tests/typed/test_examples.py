"""The typed-event examples, run as Lambda would run them, with their own sample events."""

from __future__ import annotations

import json

import orjson
import pytest

from aiolambda.testing import EmulatorThread

from ._support import REPO, sample

pytestmark = pytest.mark.timeout(60)

EXAMPLES = REPO / "examples"
ENV = {"AWS_LAMBDA_LOG_FORMAT": "Text", "AWS_LAMBDA_LOG_LEVEL": "INFO"}


def example(name: str) -> EmulatorThread:
    return EmulatorThread("app.handler", task_root=EXAMPLES / name, env=ENV, timeout=10)


def test_sqs_batch_reports_the_invalid_order_only() -> None:
    with example("sqs_batch") as emu:
        result = emu.invoke(sample("sqs"))
        assert result.ok, result.payload
        assert result.json() == {
            "batchItemFailures": [{"itemIdentifier": "2e1424d4-f796-459a-8184-9c92662be6da"}]
        }
        assert "reserved 2 x apple for o-1001" in result.logs
        assert "reserved 5 x plum for o-1003" in result.logs
        assert "record 2e1424d4-f796-459a-8184-9c92662be6da failed" in result.logs
        # Not an SQS event at all: the runtime refuses it before the handler runs.
        result = emu.invoke(sample("sns"))
        assert result.json()["errorType"] == "Runtime.InvalidEvent"


def test_s3_notification_lists_the_new_object() -> None:
    with example("s3_notification") as emu:
        result = emu.invoke(sample("s3"))
        assert result.ok, result.payload
        assert result.json() == {
            "created": [
                {"bucket": "photos-upload", "key": "albums/2026/beach day.jpg", "size": 1305107}
            ]
        }
        assert "ObjectCreated:Put: s3://photos-upload/albums/2026/beach day.jpg" in result.logs


def test_dynamodb_stream_publishes_each_change() -> None:
    with example("dynamodb_stream") as emu:
        result = emu.invoke(sample("dynamodb"))
        assert result.ok, result.payload
        assert result.json() == {"batchItemFailures": []}
        for change in ("#42: total +19.99", "#42: total +4.51", "#7: total -5"):
            assert f"customer customer{change}" in result.logs
        # A record the handler cannot process is reported by its sequence number.
        event = orjson.loads(sample("dynamodb"))
        event["Records"][1]["dynamodb"]["NewImage"]["total"] = {"S": "not a number"}
        result = emu.invoke(orjson.dumps(event))
        assert result.json() == {
            "batchItemFailures": [{"itemIdentifier": "4421584600000000017450439092"}]
        }


def test_apigw_v2_creates_and_answers_400_on_a_bad_body() -> None:
    with example("apigw_v2") as emu:
        result = emu.invoke(sample("apigw_v2"))
        assert result.ok, result.payload
        response = result.json()
        assert response["statusCode"] == 200  # ?dryRun=true
        assert json.loads(response["body"]) == {
            "orderId": "o-1001",
            "sku": "plum",
            "qty": 3,
            "dryRun": True,
        }
        event = orjson.loads(sample("apigw_v2"))
        event["rawQueryString"], event["queryStringParameters"] = "", None
        event["body"] = '{"sku": "plum", "qty": 500}'
        result = emu.invoke(orjson.dumps(event))
        response = result.json()
        assert response["statusCode"] == 400
        assert json.loads(response["body"])[0]["loc"] == ["qty"]
        event["body"] = '{"sku": "plum", "qty": 1}'
        assert emu.invoke(orjson.dumps(event)).json()["statusCode"] == 201


async def test_sqs_batch_under_max_concurrency_keeps_invocations_apart() -> None:
    import asyncio

    from aiolambda.emulator import Emulator

    def event(n: int) -> bytes:
        batch = orjson.loads(sample("sqs"))
        for index, record in enumerate(batch["Records"]):
            record["messageId"] = f"inv{n}-rec{index}"
            qty = 0 if index == n % 3 else index + 1  # one invalid order, a different one each
            record["body"] = orjson.dumps({"orderId": f"o-{n}", "sku": "fig", "qty": qty}).decode()
        return orjson.dumps(batch)

    async with Emulator(
        "app.handler", task_root=EXAMPLES / "sqs_batch", env=ENV, timeout=10, concurrency=4
    ) as emu:
        results = await asyncio.gather(*(emu.invoke(event(n)) for n in range(12)))
    for n, result in enumerate(results):
        assert result.ok, result.payload
        assert result.json() == {"batchItemFailures": [{"itemIdentifier": f"inv{n}-rec{n % 3}"}]}
