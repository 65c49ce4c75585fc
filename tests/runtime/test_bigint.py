"""Integers of any size stay exact on decode; digits inside strings stay on orjson's path.

The oracle is the standard library's decoder (exact integers, awslambdaric's codec
reads events the same way); ``same`` compares values and their types, so an integer
that came back as a float (what orjson does beyond 64 bits) fails.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aiolambda._core import protocol as p
from aiolambda._core.bigint import may_hold_big_int
from aiolambda._core.codec import decode_event
from aiolambda._core.errors import RuntimeFault

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INT64_MIN, UINT64_MAX = -(2**63), 2**64 - 1


def same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def has_big_int(value: Any) -> bool:
    if isinstance(value, dict):
        return any(has_big_int(v) for v in value.values())
    if isinstance(value, list):
        return any(has_big_int(v) for v in value)
    return type(value) is int and not INT64_MIN <= value <= UINT64_MAX


def strings_in(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(s for v in value.values() for s in strings_in(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return [value] if isinstance(value, str) else []


# Strings full of digit runs: sequence numbers, ARNs, timestamps, digits then text.
_digits = st.integers(0, 10**60).map(str)
_texty = st.lists(
    _digits | st.text("abcxyz:-_/ .,", max_size=4) | st.text(max_size=3), max_size=5
).map("".join)
_ints = (
    st.integers()
    | st.integers(10**18, 10**80)
    | st.integers(-(10**80), -(10**18))
    | st.sampled_from([2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1])
)
_floats = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [1e20, 12345678901234567890.0, -1.8446744073709552e19, 1e300]
)
values = st.recursive(
    st.none() | st.booleans() | _ints | _floats | _texty,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_texty, inner, max_size=4),
    max_leaves=25,
)
_layouts = st.sampled_from(
    [
        {"separators": (",", ":")},
        {},
        {"indent": 2},
        {"indent": "\t"},
        {"indent": 0, "separators": (" ,", " : ")},
    ]
)


@SETTINGS
@given(values, _layouts)
@example([2**64], {})
@example({"n": -(2**63) - 1, "s": "49590338271490256608559692538361571095921575989136588898"}, {})
@example(10**30, {"indent": 2})
def test_decoding_is_exact_for_integers_of_any_size(value: Any, layout: dict[str, Any]) -> None:
    body = json.dumps(value, **layout).encode()
    decoded = decode_event(body, p.CT_JSON)
    assert same(decoded, json.loads(body)), (decoded, body)
    if has_big_int(value):
        assert may_hold_big_int(body)  # the check is never wrong about a big integer


@SETTINGS
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(10**18) + 1, 10**18 - 1) | _texty,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_texty, inner, max_size=4),
        max_leaves=25,
    ),
    st.sampled_from([{"separators": (",", ":")}, {}]),
)
def test_digit_runs_inside_strings_keep_orjson_s_path(value: Any, layout: dict[str, Any]) -> None:
    body = json.dumps(value, **layout).encode()
    # A string's run of 19 digits followed by text that could end a number (", " or a
    # space) may take the exact path; one followed by anything else, or the string's
    # end, never (the runs are read as they are written: escapes included).
    if not any(re.search(r"[0-9]{19}[,\]} ]", json.dumps(s)) for s in strings_in(value)):
        assert not may_hold_big_int(body), body
    assert same(decode_event(body, p.CT_JSON), json.loads(body))


def test_realistic_stream_events_stay_on_orjson_s_path() -> None:
    seq = "49590338271490256608559692538361571095921575989136588898"
    record = {
        "kinesis": {"sequenceNumber": seq, "approximateArrivalTimestamp": 1764506467.318},
        "eventID": f"shardId-000000000006:{seq}",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/orders",
        "dynamodb": {"SequenceNumber": "4421584500000000017450439091", "SizeBytes": 98},
        "ms": 1764506467318,
    }
    for layout in ({"separators": (",", ":")}, {"indent": 2}):
        body = json.dumps({"Records": [record] * 3}, **layout).encode()  # type: ignore[arg-type]
        assert not may_hold_big_int(body)


def test_float_tokens_stay_floats_and_digit_keys_stay_strings() -> None:
    body = b'{"a": [1e20, 12345678901234567890.0, -1234567890123456789012.5e3, 2E+30],'
    body += b' "12345678901234567890123": 123456789012345678901234}'
    event = decode_event(body, p.CT_JSON)
    assert same(event, json.loads(body))
    assert [type(x) for x in event["a"]] == [float] * 4
    assert event["12345678901234567890123"] == 123456789012345678901234


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
@pytest.mark.parametrize("big", [b"1", b"123456789012345678901234"])
def test_nan_and_infinity_are_refused_on_both_paths(constant: bytes, big: bytes) -> None:
    body = b'{"n": ' + big + b', "x": ' + constant + b"}"
    with pytest.raises(RuntimeFault) as caught:
        decode_event(body, p.CT_JSON)
    assert caught.value.error_type == p.UNMARSHAL_ERROR


# Every offset of a shortest big integer relative to the every-9th-byte sample and to
# where the second look starts (a run of 20 digits covers only two samples).
_SHORTEST_BIG = [b"18446744073709551616", b"-9223372036854775809", b"99999999999999999999"]


@pytest.mark.parametrize("token", _SHORTEST_BIG)
@pytest.mark.parametrize("pad", range(20))
def test_shortest_big_integers_are_exact_at_every_offset(token: bytes, pad: int) -> None:
    for body in (
        b"[" + b" " * pad + token + b"]",
        b'{"s":"' + b"x" * pad + b'", "n":' + token + b"}",
        b"\n" * pad + token,  # the whole event, ended by the body's end
        b"\t" * pad + token + b"\r\n",
        b'["' + b"1" * 40 + b'",' + b" " * pad + token + b"]",  # a string run first
    ):
        assert same(decode_event(body, p.CT_JSON), json.loads(body)), body
        assert may_hold_big_int(body), body


@pytest.mark.parametrize("pad", range(20))
def test_long_digit_runs_that_are_not_big_integers(pad: int) -> None:
    run = b"1234567890" * 3
    cases = {
        b'["' + b" " * pad + run + b'"]': False,  # inside a string, ended by its quote
        b'{"id":"' + b"a" * pad + b":" + run + b'"}': False,  # an ARN-like id
        b"[" + b" " * pad + run + b"e5]": None,  # exponent: a float either way
        b"[" + b" " * pad + b"-" + run + b".5]": None,  # long mantissa: a float
        b"[" + b" " * pad + b"0." + run + b"]": None,
        b'["' + b" " * pad + run + b', x"]': True,  # text that only looks like one
    }
    for body, flagged in cases.items():
        decoded = decode_event(body, p.CT_JSON)
        assert same(decoded, json.loads(body)), body
        if flagged is not None:
            assert may_hold_big_int(body) is flagged, body
    assert type(decode_event(b"[" + run + b"e5]", p.CT_JSON)[0]) is float


@pytest.mark.parametrize("token", _SHORTEST_BIG)
def test_big_integers_across_the_end_of_the_first_sampled_4_kib(token: bytes) -> None:
    for start in range(4060, 4110):
        body = b"[" + b" " * (start - 1) + token + b"]"
        assert may_hold_big_int(body), start
        assert same(decode_event(body, p.CT_JSON), json.loads(body)), start
