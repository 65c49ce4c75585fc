"""Event decoding and result encoding with orjson, following awslambdaric's rules.

* An event is JSON-decoded only when its Content-Type is ``application/json``;
  any other type reaches the handler as the raw ``bytes``.
* A ``bytes`` result is sent as-is (``application/unknown``, as awslambdaric does);
  everything else is JSON: dicts, lists, strings, numbers, ``None``, dataclasses,
  datetimes, UUIDs, enums and ``Decimal`` (as an exact JSON number); pydantic models
  as pydantic itself dumps them (``model_dump_json(by_alias=True)``: the wire names),
  Powertools event source data classes as the dict they wrap.
* A result that cannot be encoded becomes ``Runtime.MarshalError``; an event that
  cannot be decoded becomes ``Runtime.UnmarshalError``.
* Integers beyond 64 bits stay exact both ways, as in awslambdaric (orjson alone would
  turn them into floats or refuse them); see :mod:`aiolambda._core.bigint`.
"""

from __future__ import annotations

import sys
from typing import Any, Final

import orjson

from aiolambda._core import protocol as p
from aiolambda._core.bigint import INT_OUT_OF_RANGE, exact_dumps, exact_loads, may_hold_big_int
from aiolambda._core.errors import RuntimeFault

# Python's json turns int/float/bool/None keys into strings; orjson does too with
# OPT_NON_STR_KEYS, but that option slows every dict (DynamoDB Streams, 100 records: 1.9x
# the plain dumps), so it is used only after orjson refused a key without it.
_DUMPS_OPTIONS: Final = orjson.OPT_SERIALIZE_NUMPY
_NON_STR_KEYS_OPTIONS: Final = orjson.OPT_NON_STR_KEYS | _DUMPS_OPTIONS
_NON_STR_KEY: Final = "Dict key must be str"  # orjson's message without OPT_NON_STR_KEYS
_RETRIED: Final = frozenset({_NON_STR_KEY, INT_OUT_OF_RANGE})


def is_json(content_type: str | None) -> bool:
    """True when an event of this Content-Type is decoded as JSON."""
    if content_type is None or content_type == p.CT_JSON:
        return True  # None: RAPID's default content type is application/json
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == p.CT_JSON


def decode_event(body: bytes, content_type: str | None) -> Any:
    """Decode an event body for the handler."""
    if not is_json(content_type):
        return body
    try:
        if may_hold_big_int(body):
            return exact_loads(body)
        return orjson.loads(body)
    except ValueError as exc:  # orjson.JSONDecodeError and json's are ValueErrors
        raise RuntimeFault(p.UNMARSHAL_ERROR, f"Unable to unmarshal input: {_short(exc)}") from None


def encode_result(result: Any) -> tuple[bytes, str]:
    """Encode a handler's result; returns the body and its Content-Type."""
    if isinstance(result, bytes):
        return result, p.CT_BYTES
    if isinstance(result, bytearray | memoryview):
        return bytes(result), p.CT_BYTES
    try:
        try:
            return orjson.dumps(result, default=_default, option=_DUMPS_OPTIONS), p.CT_JSON
        except orjson.JSONEncodeError as exc:
            if str(exc) not in _RETRIED:
                raise
        # The uncommon results (non-string keys, integers beyond 64 bits) take a slower path.
        try:
            return orjson.dumps(result, default=_default, option=_NON_STR_KEYS_OPTIONS), p.CT_JSON
        except orjson.JSONEncodeError as exc:
            if str(exc) != INT_OUT_OF_RANGE:
                raise
        return exact_dumps(result, default=_default, option=_NON_STR_KEYS_OPTIONS), p.CT_JSON
    except (orjson.JSONEncodeError, RecursionError) as exc:
        raise RuntimeFault(p.MARSHAL_ERROR, f"Unable to marshal response: {_short(exc)}") from None


def _default(value: Any) -> Any:
    import decimal  # only results orjson cannot encode itself get here; keeps it off cold start

    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise TypeError(f"Decimal {value} is not JSON compliant")
        # An exact number, as simplejson (awslambdaric's codec) writes it.
        return orjson.Fragment(str(value).encode())
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "__pydantic_serializer__") and hasattr(value, "model_dump_json"):
        # pydantic's own encoding (serializers, aliases, computed fields); a dataclass,
        # pydantic's included, never gets here: orjson encodes those itself.
        return orjson.Fragment(value.model_dump_json(by_alias=True))
    wrapped = getattr(value, "raw_event", None)  # a Powertools event source data class
    if isinstance(wrapped, dict) and _is_dict_wrapper(value):
        return wrapped
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _is_dict_wrapper(value: Any) -> bool:
    common = sys.modules.get("aws_lambda_powertools.utilities.data_classes.common")
    return common is not None and isinstance(value, common.DictWrapper)


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 500 else text[:500] + "…"
