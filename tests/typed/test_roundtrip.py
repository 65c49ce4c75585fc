"""Each annotated kind through the emulator and a real runtime process, with sample events.

The tests are synchronous (``aiolambda.testing.EmulatorThread``): the runtime under test
is a child process on its own loop, so running each test on asyncio and uvloop would
only start every process twice.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from aiolambda.testing import EmulatorThread

from ._support import FN, sample

pytestmark = pytest.mark.timeout(60)

ENV = {"AWS_LAMBDA_LOG_FORMAT": "Text"}


def _models() -> dict[str, Any]:
    from aws_lambda_powertools.utilities.parser import models

    return {
        "sqs": models.SqsModel,
        "s3": models.S3Model,
        "dynamodb": models.DynamoDBStreamModel,
        "ses": models.SesModel,
        "apigw_v1": models.APIGatewayProxyEventModel,
        "apigw_v2": models.APIGatewayProxyEventV2Model,
        "eventbridge": models.EventBridgeModel,
        "kinesis": models.KinesisDataStreamModel,
        "sns": models.SnsModel,
    }


def emulator(handler: str) -> EmulatorThread:
    return EmulatorThread(f"typed_app.{handler}", task_root=FN, env=ENV, timeout=10)


def error(result: Any) -> tuple[str | None, str, str]:
    body = result.json()
    return result.error_type, body["errorType"], body["errorMessage"]


@pytest.mark.parametrize(
    "source",
    ["sqs", "s3", "dynamodb", "ses", "apigw_v1", "apigw_v2", "eventbridge", "kinesis", "sns"],
)
def test_powertools_parser_model_round_trip(source: str) -> None:
    model = _models()[source]
    raw = sample(source)
    with emulator(source) as emu:
        result = emu.invoke(raw)
        assert result.ok, result.payload
        # The handler got the model (it checks its type) and returned it: the answer is
        # pydantic's own dump of the model validated from the same bytes, by alias.
        expected = model.model_validate_json(raw)
        assert orjson.loads(result.payload) == orjson.loads(expected.model_dump_json(by_alias=True))
        # These two decode on validation (DynamoDB JSON, base64 data): one way only.
        if source not in ("dynamodb", "kinesis"):
            assert model.model_validate_json(result.payload) == expected
        # A shape that does not match is the documented error, not a handler exception.
        broken = orjson.loads(raw)
        broken.pop(next(iter(broken)))
        result = emu.invoke(orjson.dumps(broken))
        assert result.function_error == "Unhandled"
        header, error_type, message = error(result)
        assert header == error_type == "Runtime.InvalidEvent"
        assert message.startswith(f"Event does not match {model.__name__} (")
        # The runtime goes on: the next good event is served.
        assert (emu.invoke(raw)).ok


def test_decode_errors_name_the_failing_field() -> None:
    event = orjson.loads(sample("sqs"))
    del event["Records"][1]["messageId"]
    event["Records"][2]["eventSource"] = "aws:sns"
    with emulator("sqs") as emu:
        result = emu.invoke(orjson.dumps(event))
        header, error_type, message = error(result)
        assert header == error_type == "Runtime.InvalidEvent"
        assert message == (
            "Event does not match SqsModel (2 errors): Records.1.messageId: Field required; "
            "Records.2.eventSource: Input should be 'aws:sqs'"
        )
        result = emu.invoke(b'{"Records": [')
        _, error_type, message = error(result)
        assert error_type == "Runtime.UnmarshalError"
        assert message.startswith("Unable to unmarshal input: Invalid JSON: EOF")


def test_user_model_with_future_annotations_aliases_and_constraints() -> None:
    with emulator("order") as emu:
        result = emu.invoke({"orderId": "o-1", "sku": "plum", "qty": "3"})
        assert result.ok, result.payload
        assert result.json() == {"orderId": "o-1", "sku": "plum", "qty": 3}  # by alias
        result = emu.invoke({"orderId": "o-1", "sku": "plum", "qty": 0, "x": 1})
        _, error_type, message = error(result)
        assert error_type == "Runtime.InvalidEvent"
        assert message == (
            "Event does not match Order (1 error): qty: Input should be greater than or equal to 1"
        )
        # The input value never reaches the error (events carry data).
        result = emu.invoke({"orderId": "secret-order-id", "sku": 5, "qty": 1})
        _, _, message = error(result)
        assert "sku: Input should be a valid string" in message
        assert "secret-order-id" not in message
        # A handler exception keeps its own type: callers can tell the two apart.
        result = emu.invoke({"orderId": "o-1", "sku": "boom", "qty": 1})
        assert error(result)[:2] == ("Function.ValueError", "ValueError")


def test_dataclass_is_validated_by_pydantic_nested_fields_included() -> None:
    with emulator("basket") as emu:
        event = {"customer": "ada", "lines": [{"sku": "plum", "qty": "2"}], "extra": True}
        result = emu.invoke(event)
        assert result.ok, result.payload
        assert result.json() == {"customer": "ada", "lines": [{"sku": "plum", "qty": 2}]}
        result = emu.invoke({"customer": "ada", "lines": [{"sku": "plum"}]})
        _, error_type, message = error(result)
        assert error_type == "Runtime.InvalidEvent"
        assert message == "Event does not match Basket (1 error): lines.0.qty: Field required"


def test_typed_dict_is_passed_through_unchecked() -> None:
    with emulator("order_dict") as emu:
        result = emu.invoke({"orderId": "o-1", "qty": "not checked"})
        assert result.ok, result.payload
        assert result.json() == {"type": "dict", "event": {"orderId": "o-1", "qty": "not checked"}}


def test_discriminated_union_through_a_type_adapter() -> None:
    with emulator("pet") as emu:
        result = emu.invoke({"kind": "dog", "good": True})
        assert result.json() == {"type": "Dog", "pet": {"kind": "dog", "good": True}}
        result = emu.invoke({"kind": "cow"})
        _, error_type, message = error(result)
        assert error_type == "Runtime.InvalidEvent"
        assert message.startswith("Event does not match Cat | Dog (1 error): (event): Input tag")
        assert "Input tag 'cow' found using 'kind' does not match" in message


@pytest.mark.parametrize(
    ("handler", "source"),
    [
        ("sqs_data_class", "sqs"),
        ("s3_data_class", "s3"),
        ("dynamodb_data_class", "dynamodb"),
        ("apigw_v2_data_class", "apigw_v2"),
    ],
)
def test_powertools_event_source_data_classes(handler: str, source: str) -> None:
    raw = sample(source)
    event = json.loads(raw)
    with emulator(handler) as emu:
        result = emu.invoke(raw)
        assert result.ok, result.payload
        if handler == "sqs_data_class":
            assert result.json() == event  # a data class result is the dict it wraps
        elif handler == "s3_data_class":
            obj = event["Records"][0]["s3"]
            assert result.json() == {
                "bucket": obj["bucket"]["name"],
                "key": "albums/2026/beach day.jpg",  # Powertools unquotes the key
                "raw": event,
            }
        elif handler == "dynamodb_data_class":
            assert result.json() == [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        else:
            assert result.json() == {"method": "POST", "path": "/orders/o-1001/items"}
        result = emu.invoke(b"[1, 2]")
        _, error_type, message = error(result)
        assert error_type == "Runtime.InvalidEvent"
        assert message.endswith("(event): expected a JSON object, got list")


def test_plain_annotation_keeps_the_plain_path() -> None:
    with emulator("plain") as emu:
        result = emu.invoke(b'{"a": [1, 2.5, null]}')
        assert result.json() == {"a": [1, 2.5, None]}
        result = emu.invoke(b"[")
        assert error(result)[1] == "Runtime.UnmarshalError"


def test_powertools_event_parser_behind_a_decorator_gets_the_raw_event() -> None:
    with emulator("powertools_event_parser") as emu:
        result = emu.invoke(sample("sqs"))
        assert result.ok, result.payload
        assert result.json() == ["o-1001:2", "o-1002:0", "o-1003:5"]
