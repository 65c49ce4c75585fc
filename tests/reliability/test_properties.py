"""Property-based tests (hypothesis) for the codec, error reports and request-id handling.

The HTTP parser's properties (any split parses identically, garbage raises only the
parser's error, bytes after a response are never a second response) live with the
transport in ``tests/transport/test_http.py``.
"""

from __future__ import annotations

import decimal
import json
import re
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from aiolambda._core import protocol as p
from aiolambda._core.client import InvalidInvocation, parse_invocation
from aiolambda._core.codec import decode_event, encode_result
from aiolambda._core.errors import Redactor, RuntimeFault, from_exception
from aiolambda._core.http import HttpResponse, check_request

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Values orjson round-trips exactly: 64-bit integers, finite floats, UTF-8 text.
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | _text
_json_scalars |= st.floats(allow_nan=False, allow_infinity=False)
json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_text, inner, max_size=5),
    max_leaves=30,
)
# Anything a handler might return, encodable or not.
_odd_scalars = (
    st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.decimals()
    | st.binary(max_size=20)
    | st.builds(object)
    | st.complex_numbers()
)
anything = st.recursive(
    _json_scalars | _odd_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.frozensets(st.integers() | st.text(max_size=5), max_size=4)
        | st.dictionaries(
            st.text(max_size=5)
            | st.integers()
            | st.none()
            | st.floats()
            | st.tuples(st.integers()),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@SETTINGS
@given(json_values)
def test_json_results_round_trip(value: Any) -> None:
    body, content_type = encode_result(value)
    assert content_type == p.CT_JSON
    assert decode_event(body, p.CT_JSON) == value


@SETTINGS
@given(anything)
def test_encoding_gives_json_or_a_marshal_error_never_anything_else(value: Any) -> None:
    try:
        body, content_type = encode_result(value)
    except RuntimeFault as fault:
        assert fault.error_type == p.MARSHAL_ERROR
        assert len(fault.message) <= 600
        return
    if content_type == p.CT_BYTES:
        assert isinstance(value, bytes)
        assert body == value
    else:
        assert content_type == p.CT_JSON
        orjson.loads(body)  # always valid JSON (NaN and infinities become null)


@SETTINGS
@given(st.binary(max_size=300), st.sampled_from([p.CT_JSON, "application/json; charset=x", None]))
def test_decoding_json_gives_a_value_or_an_unmarshal_error(
    body: bytes, content_type: str | None
) -> None:
    try:
        decode_event(body, content_type)
    except RuntimeFault as fault:
        assert fault.error_type == p.UNMARSHAL_ERROR


@SETTINGS
@given(st.binary(max_size=300), st.text(max_size=30))
def test_non_json_events_reach_the_handler_as_the_exact_bytes(
    body: bytes, content_type: str
) -> None:
    assume(content_type.partition(";")[0].strip().lower() != p.CT_JSON)
    assert decode_event(body, content_type) == body


@SETTINGS
@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_decimal_results_are_exact_json_numbers(number: decimal.Decimal) -> None:
    body, _ = encode_result({"n": number})
    # An exact reader, independent of how the codec writes it: a JSON number (not a
    # string, not a rounded float) with the same digits, exponent and sign.
    read = json.loads(body, parse_float=decimal.Decimal, parse_int=decimal.Decimal)["n"]
    assert isinstance(read, decimal.Decimal)
    assert read.as_tuple() == number.as_tuple()
    orjson.loads(body)


# -- error reports --------------------------------------------------------------------

_secret = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
    min_size=8,
    max_size=40,
)


@SETTINGS
@given(st.text(max_size=200), st.lists(_secret, min_size=1, max_size=3), st.data())
def test_error_reports_are_valid_and_never_carry_a_secret(
    filler: str, secrets: list[str], data: st.DataObject
) -> None:
    pieces = data.draw(st.lists(st.sampled_from([filler, *secrets]), max_size=8))
    message = "".join(pieces)
    try:
        raise ValueError(message)
    except ValueError as exc:
        report = from_exception(exc, "req-1", Redactor(secrets))
    doc = orjson.loads(report.body())  # valid JSON even for lone surrogates in the text
    assert doc["errorType"] == "ValueError"
    assert doc["requestId"] == "req-1"
    assert p.is_valid_error_type(report.header_type)
    assert report.xray_cause is not None
    assert len(report.xray_cause) < p.MAX_XRAY_CAUSE_BYTES
    check_request("POST", "/", [(p.H_XRAY_ERROR_CAUSE, report.xray_cause.decode("ascii"))])
    for secret in secrets:
        assert secret not in doc["errorMessage"]
        assert secret not in report.xray_cause.decode("ascii")
        assert all(secret not in line for line in doc["stackTrace"])


@SETTINGS
@given(st.from_regex(r"[^\W\d]\w{0,20}", fullmatch=True).filter(str.isidentifier))
@example("ÜberError")  # regression: a non-ASCII capital made "Function.ÜberError"
def test_any_exception_name_gives_a_header_lambda_accepts(name: str) -> None:
    exc_type = type(name, (Exception,), {})
    report = from_exception(exc_type("boom"))
    assert p.is_valid_error_type(report.header_type), report.header_type
    orjson.loads(report.body())


# -- request ids: what reaches a URL --------------------------------------------------

_id_text = st.text(max_size=140) | st.text(
    alphabet="abcdef0123456789-_/.%\r\n :", min_size=1, max_size=140
)


_TOKEN_GRAMMAR = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"


@SETTINGS
@given(st.text(max_size=20) | st.text(alphabet="aZ09!#|~-:; \t\u00e9/", max_size=12))
@example("")
@example("X-Amz-Ok")
def test_header_names_and_methods_follow_the_token_grammar(name: str) -> None:
    """The request checks (character sets, no regex at import) accept exactly RFC 9110 tokens."""
    assume(name.lower() not in {"host", "content-length", "transfer-encoding"})
    token = re.fullmatch(_TOKEN_GRAMMAR, name) is not None
    for method, headers in ((name, []), ("GET", [(name, "v")])):
        try:
            check_request(method, "/", headers)
        except ValueError:
            assert not token, (method, headers)
        else:
            assert token, (method, headers)


@SETTINGS
@given(st.text(max_size=20) | st.text(alphabet="/a%?#\x7f \t\r\n\u00e9~!", max_size=12))
@example("/")
@example("/\x7f")
def test_request_targets_are_slash_then_visible_ascii(path: str) -> None:
    target = re.fullmatch(r"/[!-~]*", path) is not None
    try:
        check_request("GET", path, [])
    except ValueError:
        assert not target, path
    else:
        assert target, path


@SETTINGS
@given(_id_text | st.text(alphabet="aZ09-_\u00e9\u0661\u00b2", max_size=130))
@example("a" * 128)
@example("a" * 129)
@example("-a")
@example("_")
@example("\u0661")  # a digit to str.isalnum, not to the Runtime API
def test_request_id_check_is_the_documented_grammar(request_id: str) -> None:
    """``is_valid_request_id`` (string methods, no regex at import) is exactly
    ``[A-Za-z0-9][A-Za-z0-9_-]{0,127}``."""
    grammar = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}", request_id) is not None
    assert p.is_valid_request_id(request_id) == grammar


@SETTINGS
@given(_id_text, st.text(max_size=24))
def test_only_safe_request_ids_reach_a_url(request_id: str, deadline: str) -> None:
    response = HttpResponse(200, {p.H_REQUEST_ID: request_id, p.H_DEADLINE_MS: deadline}, b"{}")
    try:
        inv = parse_invocation(response)
    except InvalidInvocation as exc:
        assert not p.is_valid_request_id(request_id)
        text = str(exc)
        # At most 80 characters of the id are shown, escaped (up to 10 characters each).
        assert "\r" not in text and "\n" not in text and len(text) < 1000
        return
    assert inv.request_id == request_id
    assert request_id.isascii() and 1 <= len(request_id) <= 128
    assert "/" not in request_id and "." not in request_id and "%" not in request_id
    path = p.response_path(request_id)
    assert path.count("/") == p.response_path("x").count("/")
    check_request("POST", path, [])
    check_request("POST", p.error_path(request_id), [])
    assert inv.deadline_ms is None or 0 <= inv.deadline_ms < 10**16


@pytest.mark.parametrize(
    ("value", "expected"), [("123", 123), ("0", 0), ("9" * 16, 9_999_999_999_999_999)]
)
def test_numeric_deadlines_are_kept(value: str, expected: int) -> None:
    response = HttpResponse(200, {p.H_REQUEST_ID: "r", p.H_DEADLINE_MS: value}, b"")
    assert parse_invocation(response).deadline_ms == expected
