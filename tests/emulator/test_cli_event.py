"""``aiolambda event``: the shared samples, valid for their source, through the real CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser import models

from aiolambda._core import protocol as p
from aiolambda._core.typed import event_decoder
from aiolambda.events import SOURCES, PathError, sample, sample_bytes, set_path

from .test_cli import run_cli

# Powertools' parser model for each source (every source here has one).
MODELS: dict[str, Any] = {
    "sqs": models.SqsModel,
    "s3": models.S3Model,
    "dynamodb-stream": models.DynamoDBStreamModel,
    "kinesis": models.KinesisDataStreamModel,
    "sns": models.SnsModel,
    "eventbridge": models.EventBridgeModel,
    "apigw-rest": models.APIGatewayProxyEventModel,
    "apigw-http": models.APIGatewayProxyEventV2Model,
    "alb": models.AlbModel,
    "function-url": models.LambdaFunctionUrlModel,
    "schedule": models.EventBridgeModel,
    "ses": models.SesModel,
}
REQUIRED = {
    "sqs", "s3", "dynamodb-stream", "kinesis", "sns", "eventbridge", "apigw-rest",
    "apigw-http", "alb", "function-url", "schedule",
}  # fmt: skip


def test_every_source_the_issue_names_has_a_sample_and_a_model() -> None:
    assert set(SOURCES) >= REQUIRED
    assert set(MODELS) == set(SOURCES)


@pytest.mark.parametrize("source", list(SOURCES))
def test_each_sample_validates_and_typed_decoding_accepts_it(source: str) -> None:
    model = MODELS[source]
    data = sample_bytes(source)
    model.model_validate_json(data)

    def handler(event, context):  # type: ignore[no-untyped-def]
        return None

    handler.__annotations__ = {"event": model}  # as "event: Model" in a handler module
    decode = event_decoder(handler)
    assert decode is not None
    assert isinstance(decode(data, p.CT_JSON), model)


@pytest.mark.parametrize("source", list(SOURCES))
def test_the_cli_prints_the_sample(source: str) -> None:
    code, out, err = run_cli("event", source)
    assert code == 0, err
    assert json.loads(out) == sample(source)


def test_list_names_every_source() -> None:
    code, out, _ = run_cli("event", "--list")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == list(SOURCES)


def test_set_edits_values_by_dotted_path() -> None:
    code, out, err = run_cli(
        "event", "sqs",
        "--set", 'Records.0.body={"orderId": "o-9", "qty": 1}',
        "--set", 'Records.1.messageAttributes={"k": {"dataType": "Number", "stringValue": "1"}}',
        "--set", "Records.-1.awsRegion=eu-west-1",
        "--set", "Records.0.attributes.ApproximateReceiveCount=3",
        "--set", "Records.0.newKey=null",
        "--set", "Records.0.otherKey=plain text",
    )  # fmt: skip
    assert code == 0, err
    event = json.loads(out)
    # Where the event holds a string, the text as given: SQS delivers JSON bodies as text.
    assert event["Records"][0]["body"] == '{"orderId": "o-9", "qty": 1}'
    assert event["Records"][0]["attributes"]["ApproximateReceiveCount"] == "3"
    # Elsewhere, JSON when it is JSON, else a string.
    assert event["Records"][1]["messageAttributes"]["k"]["dataType"] == "Number"
    assert event["Records"][0]["newKey"] is None
    assert event["Records"][0]["otherKey"] == "plain text"
    assert event["Records"][-1]["awsRegion"] == "eu-west-1"
    models.SqsModel.model_validate(event)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["sqs", "--set", "Records.9.body=x"], "Records.9: index 9 is out of range (3 items)"),
        (["sqs", "--set", "Records.x.body=x"], "Records.x: 'x' is not a list index"),
        (["sqs", "--set", "Records.0.body.x=1"], "Records.0.body is a str"),
        (["sqs", "--set", "Nope.a=1"], "Nope: no such key (there are: Records)"),
        (["sqs", "--set", "Records..body=1"], "is not a dotted path"),
        (["sqs", "--set", "Records"], "expects PATH=VALUE"),
        (["nope"], "unknown source 'nope'; choose from: sqs, s3,"),
        ([], "name a SOURCE"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], words: str) -> None:
    code, out, err = run_cli("event", *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("aiolambda event: error: ") and words in err, err


def test_samples_are_fresh_copies() -> None:
    event = sample("schedule")
    set_path(event, "detail.changed", True)
    assert "changed" not in sample("schedule")["detail"]
    with pytest.raises(KeyError):
        sample("unknown")
    with pytest.raises(PathError):
        set_path([], "0", 1)
