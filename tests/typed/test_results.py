"""Results that are pydantic models, dataclasses or Powertools data classes."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
from typing import Any

import orjson
import pytest
from pydantic import BaseModel, Field, computed_field

from aiolambda._core import protocol as p
from aiolambda._core.codec import encode_result
from aiolambda._core.errors import RuntimeFault


class Detail(BaseModel):
    detail_type: str = Field(alias="detail-type")
    at: datetime.datetime
    ratio: float = float("nan")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def kind(self) -> str:
        return "detail"


@dataclasses.dataclass
class Envelope:
    detail: Detail
    amount: decimal.Decimal
    tags: tuple[str, ...]


DETAIL = Detail.model_validate({"detail-type": "x", "at": "2026-11-30T12:00:00Z"})


def test_a_model_is_pydantics_own_dump_by_alias() -> None:
    body, content_type = encode_result(DETAIL)
    assert content_type == p.CT_JSON
    assert body == DETAIL.model_dump_json(by_alias=True).encode()
    assert orjson.loads(body) == {
        "detail-type": "x",
        "at": "2026-11-30T12:00:00Z",
        "ratio": None,
        "kind": "detail",
    }


def test_models_inside_dicts_lists_and_dataclasses() -> None:
    envelope = Envelope(DETAIL, decimal.Decimal("10.10"), ("a", "b"))
    body, _ = encode_result({"items": [envelope], "model": DETAIL})
    dumped = orjson.loads(DETAIL.model_dump_json(by_alias=True))
    assert orjson.loads(body) == {
        "items": [{"detail": dumped, "amount": 10.10, "tags": ["a", "b"]}],
        "model": dumped,
    }
    assert b'"amount":10.10' in body  # Decimal stays exact


def test_a_model_pydantic_cannot_dump_is_a_marshal_error() -> None:
    class Holder(BaseModel):
        thing: Any

    with pytest.raises(RuntimeFault) as info:
        encode_result(Holder(thing=object()))
    assert info.value.error_type == p.MARSHAL_ERROR


def test_a_powertools_data_class_is_the_dict_it_wraps() -> None:
    from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

    raw = {"detail-type": "x", "detail": {"a": 1}}
    assert encode_result([EventBridgeEvent(raw)]) == (orjson.dumps([raw]), p.CT_JSON)
