"""API Gateway HTTP API (payload format 2.0) handler with a typed request.

The whole request is validated as ``APIGatewayProxyEventV2Model`` before the call; the
JSON body is the handler's to check, so that a bad body is a 400 for the client rather
than a function error (which API Gateway would turn into a 500).
Needs ``aws-lambda-powertools[parser]`` (pydantic) in the function's package or a layer
(``requirements.txt``).
From the repository's root, install what it needs and run it::

    pip install -c constraints.txt -e . -r examples/apigw_v2/requirements.txt
    aiolambda event apigw-http | aiolambda invoke examples/apigw_v2/app.handler --event-file -
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model
from pydantic import BaseModel, Field, ValidationError


class NewItem(BaseModel):
    """The request body."""

    sku: str
    qty: int = Field(ge=1, le=100)


class Created(BaseModel):
    """The response body."""

    order_id: str = Field(serialization_alias="orderId")
    sku: str
    qty: int
    dry_run: bool = Field(serialization_alias="dryRun")


def _response(status: int, body: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": body}


async def handler(event: APIGatewayProxyEventV2Model, context: Any) -> dict[str, Any]:
    """``POST /orders/{orderId}/items``: add an item to an order."""
    try:
        item = NewItem.model_validate_json(event.body or "")
    except ValidationError as exc:
        return _response(400, exc.json(include_url=False, include_input=False))
    order_id = (event.pathParameters or {})["orderId"]
    dry_run = (event.queryStringParameters or {}).get("dryRun") == "true"
    created = Created(order_id=order_id, sku=item.sku, qty=item.qty, dry_run=dry_run)
    return _response(200 if dry_run else 201, created.model_dump_json(by_alias=True))
