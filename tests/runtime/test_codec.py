import dataclasses
import datetime
import decimal
import json
import math

import orjson
import pytest

from aiolambda._core.codec import decode_event, encode_result, is_json
from aiolambda._core.errors import RuntimeFault


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Application/JSON", True),
        (None, True),
        ("text/plain", False),
        ("application/octet-stream", False),
        ("application/jsonx", False),
    ],
)
def test_is_json(content_type: str | None, expected: bool) -> None:
    assert is_json(content_type) is expected


def test_json_event_is_decoded_other_types_are_raw_bytes() -> None:
    assert decode_event(b'{"a": [1, 2]}', "application/json") == {"a": [1, 2]}
    assert decode_event(b"\xff\x00raw", "application/octet-stream") == b"\xff\x00raw"


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe", b'{"a": 1} trailing', b"NaN"])
def test_undecodable_json_is_unmarshal_error(body: bytes) -> None:
    with pytest.raises(RuntimeFault) as info:
        decode_event(body, "application/json")
    assert info.value.error_type == "Runtime.UnmarshalError"
    assert info.value.message.startswith("Unable to unmarshal input")


@dataclasses.dataclass
class Point:
    x: int
    y: int


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"a": 1}, {"a": 1}),
        ([1, "two", None], [1, "two", None]),
        ("text", "text"),
        (3.5, 3.5),
        (None, None),
        (True, True),
        (Point(1, 2), {"x": 1, "y": 2}),
        ({1: "int key"}, {"1": "int key"}),
        ((1, 2), [1, 2]),
        ({3}, [3]),
    ],
)
def test_results_encode_as_json(result: object, expected: object) -> None:
    body, content_type = encode_result(result)
    assert content_type == "application/json"
    assert orjson.loads(body) == expected


@pytest.mark.parametrize(
    "result",
    [
        {None: 1, 2: [3], 1.5: "x", True: False},
        {"big": 2**70, None: "null key"},  # orjson meets the big integer first
        {None: "null key", "big": -(2**70)},  # ... or the key first
        [{"a": 1}, {7: {"n": 10**30, 8: "deep"}}],
    ],
)
def test_non_string_keys_and_big_integers_encode_as_the_stdlib_does(result: object) -> None:
    # orjson is tried without OPT_NON_STR_KEYS first; whatever it refuses takes the
    # slower path, which must still manage both at once.
    body, content_type = encode_result(result)
    assert content_type == "application/json"
    assert json.loads(body) == json.loads(json.dumps(result))


def test_decimal_is_an_exact_number() -> None:
    body, _ = encode_result({"price": decimal.Decimal("12.3400000000000000001")})
    assert body == b'{"price":12.3400000000000000001}'


def test_datetime_is_iso() -> None:
    body, _ = encode_result(datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC))
    assert body == b'"2024-01-02T03:04:05+00:00"'


def test_nan_becomes_null() -> None:
    body, _ = encode_result({"x": math.nan})
    assert body == b'{"x":null}'


@pytest.mark.parametrize("raw", [b"\x00\x01bytes", bytearray(b"ba"), memoryview(b"mv")])
def test_bytes_results_are_sent_as_is(raw: bytes | bytearray | memoryview) -> None:
    body, content_type = encode_result(raw)
    assert body == bytes(raw)
    assert content_type == "application/unknown"


def _recursive() -> object:
    items: list[object] = []
    items.append(items)
    return items


@pytest.mark.parametrize(
    "result",
    [object(), {"k": object()}, _recursive(), decimal.Decimal("NaN"), {(1, 2): "tuple key"}],
)
def test_unencodable_results_are_marshal_errors(result: object) -> None:
    with pytest.raises(RuntimeFault) as info:
        encode_result(result)
    assert info.value.error_type == "Runtime.MarshalError"
    assert info.value.message.startswith("Unable to marshal response")
