"""Handlers whose event annotation asks for a type; each checks what it got and echoes it."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal, TypedDict

from aws_lambda_powertools.utilities.data_classes import (
    APIGatewayProxyEventV2,
    DynamoDBStreamEvent,
    S3Event,
    SQSEvent,
)
from aws_lambda_powertools.utilities.parser import envelopes, event_parser
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    APIGatewayProxyEventV2Model,
    DynamoDBStreamModel,
    EventBridgeModel,
    KinesisDataStreamModel,
    S3Model,
    SesModel,
    SnsModel,
    SqsModel,
)
from pydantic import BaseModel, Field


def _expect(event: object, cls: type) -> None:
    if type(event) is not cls:
        raise TypeError(f"got {type(event).__name__}, expected {cls.__name__}")


# -- Powertools parser models: the handler returns the model it got (pydantic's dump) --
async def sqs(event: SqsModel, context: Any) -> SqsModel:
    _expect(event, SqsModel)
    return event


async def s3(event: S3Model, context: Any) -> S3Model:
    _expect(event, S3Model)
    return event


async def dynamodb(event: DynamoDBStreamModel, context: Any) -> DynamoDBStreamModel:
    _expect(event, DynamoDBStreamModel)
    return event


async def ses(event: SesModel, context: Any) -> SesModel:
    _expect(event, SesModel)
    return event


async def apigw_v1(event: APIGatewayProxyEventModel, context: Any) -> APIGatewayProxyEventModel:
    _expect(event, APIGatewayProxyEventModel)
    return event


async def apigw_v2(event: APIGatewayProxyEventV2Model, context: Any) -> APIGatewayProxyEventV2Model:
    _expect(event, APIGatewayProxyEventV2Model)
    return event


async def eventbridge(event: EventBridgeModel, context: Any) -> EventBridgeModel:
    _expect(event, EventBridgeModel)
    return event


async def kinesis(event: KinesisDataStreamModel, context: Any) -> KinesisDataStreamModel:
    _expect(event, KinesisDataStreamModel)
    return event


async def sns(event: SnsModel, context: Any) -> SnsModel:
    _expect(event, SnsModel)
    return event


# -- Powertools event source data classes: returned as is (encoded as the dict they wrap) --
async def sqs_data_class(event: SQSEvent, context: Any) -> SQSEvent:
    _expect(event, SQSEvent)
    return event


async def s3_data_class(event: S3Event, context: Any) -> dict[str, Any]:
    _expect(event, S3Event)
    return {"bucket": event.bucket_name, "key": event.object_key, "raw": event}


async def dynamodb_data_class(event: DynamoDBStreamEvent, context: Any) -> list[Any]:
    _expect(event, DynamoDBStreamEvent)
    return [record.dynamodb.sequence_number for record in event.records]  # type: ignore[union-attr]


def apigw_v2_data_class(event: APIGatewayProxyEventV2, context: Any) -> dict[str, Any]:
    _expect(event, APIGatewayProxyEventV2)  # a sync handler: decoded the same way
    return {"method": event.request_context.http.method, "path": event.raw_path}


# -- the user's own types ---------------------------------------------------------------
class Order(BaseModel):
    order_id: str = Field(alias="orderId")
    sku: str
    qty: int = Field(ge=1)


@dataclasses.dataclass
class Line:
    sku: str
    qty: int


@dataclasses.dataclass
class Basket:
    customer: str
    lines: list[Line]


class OrderDict(TypedDict):
    orderId: str
    qty: int


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


async def order(event: Order, context: Any) -> Order:
    _expect(event, Order)
    if event.sku == "boom":
        raise ValueError("the handler itself failed")
    return event


async def basket(event: Basket, context: Any) -> Basket:
    _expect(event, Basket)
    _expect(event.lines[0], Line)
    return event


async def order_dict(event: OrderDict, context: Any) -> dict[str, Any]:
    _expect(event, dict)  # passed through unchecked
    return {"type": type(event).__name__, "event": event}


async def pet(event: Annotated[Cat | Dog, Field(discriminator="kind")], context: Any) -> Any:
    return {"type": type(event).__name__, "pet": event}


async def plain(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _expect(event, dict)
    return event


class OrderLine(BaseModel):
    orderId: str
    sku: str
    qty: int


@event_parser(model=OrderLine, envelope=envelopes.SqsEnvelope)
def powertools_event_parser(event: list[OrderLine], context: Any) -> list[str]:
    """Powertools parses the raw event itself: the runtime must hand it the plain dict."""
    return [f"{line.orderId}:{line.qty}" for line in event]
