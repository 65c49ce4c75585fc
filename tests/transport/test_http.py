"""The sans-I/O HTTP/1.1 layer: request encoding and the response parser."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiolambda._core.http import (
    MAX_HEAD_BYTES,
    MAX_HEADERS,
    MAX_STATUS_LINE_BYTES,
    HttpParseError,
    HttpResponse,
    RequestEncoder,
    ResponseParser,
    encode_last_chunk,
)


def parse(*pieces: bytes, eof: bool = False) -> tuple[HttpResponse, ResponseParser]:
    parser = ResponseParser()
    result = None
    for piece in pieces:
        got = parser.feed(piece)
        if got is not None:
            assert result is None, "parser returned two responses"
            result = got
    if eof:
        assert result is None
        result = parser.feed_eof()
    assert result is not None, "response incomplete"
    return result, parser


def fails(*pieces: bytes, eof: bool = True) -> str:
    parser = ResponseParser()
    with pytest.raises(HttpParseError) as info:
        for piece in pieces:
            assert parser.feed(piece) is None
        if eof:
            parser.feed_eof()
    return str(info.value)


# -- valid responses ------------------------------------------------------------------


def test_content_length_response() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Lambda-Runtime-Aws-Request-Id: abc\r\nContent-Length: 2\r\n\r\n{}"
    )
    response, parser = parse(raw)
    assert response == HttpResponse(
        200,
        {
            "content-type": "application/json",
            "lambda-runtime-aws-request-id": "abc",
            "content-length": "2",
        },
        b"{}",
    )
    assert parser.keep_alive
    assert parser.trailing == b""


def test_repeated_headers_are_joined_and_names_lowercased() -> None:
    raw = b"HTTP/1.1 202 Accepted\r\nX-A: 1\r\nx-a:2  \r\nX-B:\t b \t\r\nContent-Length: 0\r\n\r\n"
    response, _ = parse(raw)
    assert response.headers["x-a"] == "1, 2"
    assert response.headers["x-b"] == "b"
    assert response.body == b""


def test_chunked_with_extensions_and_trailers() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n1 ; x\r\n \r\nA\r\n0123456789\r\n"
        b"0\r\nX-Trailer: t\r\nX-Other: o\r\n\r\n"
    )
    response, parser = parse(raw)
    assert response.body == b"hello 0123456789"
    assert "x-trailer" not in response.headers  # trailers are validated, then dropped
    assert parser.keep_alive


def test_body_until_eof_without_length() -> None:
    response, parser = parse(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc", b"def", eof=True)
    assert response.body == b"abcdef"
    assert not parser.keep_alive


def test_interim_responses_are_skipped() -> None:
    raw = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
        b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok"
    )
    response, _ = parse(raw)
    assert (response.status, response.body) == (202, b"ok")
    assert "link" not in response.headers


def test_no_body_statuses_ignore_length() -> None:
    response, parser = parse(b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n")
    assert response.body == b""
    assert parser.trailing == b""


@pytest.mark.parametrize(
    ("status_line", "connection", "keep_alive"),
    [
        (b"HTTP/1.1 200 OK", None, True),
        (b"HTTP/1.1 200 OK", b"close", False),
        (b"HTTP/1.1 200 OK", b"Keep-Alive, CLOSE", False),
        (b"HTTP/1.0 200 OK", None, False),
        (b"HTTP/1.0 200 OK", b"keep-alive", True),
        (b"HTTP/1.1 200", None, True),
    ],
)
def test_keep_alive_decision(
    status_line: bytes, connection: bytes | None, keep_alive: bool
) -> None:
    raw = status_line + b"\r\nContent-Length: 0\r\n"
    if connection is not None:
        raw += b"Connection: " + connection + b"\r\n"
    _, parser = parse(raw + b"\r\n")
    assert parser.keep_alive is keep_alive


def test_identical_duplicate_content_lengths_are_accepted() -> None:
    response, _ = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc")
    assert response.body == b"abc"


def test_bytes_after_the_response_are_kept_as_trailing() -> None:
    response, parser = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200", b"more")
    assert response.body == b"a"
    assert parser.trailing == b"HTTP/1.1 200more"


def test_large_body_in_many_pieces() -> None:
    body = bytes(range(256)) * (6 * 4096)
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    pieces = [raw[i : i + 65536] for i in range(0, len(raw), 65536)]
    response, _ = parse(*pieces)
    assert response.body == body


def test_header_values_are_decoded_like_aiohttp() -> None:
    raw = b"HTTP/1.1 200 OK\r\nX-U: h\xc3\xa9llo\r\nX-B: \xff\xfe\r\nContent-Length: 0\r\n\r\n"
    response, _ = parse(raw)
    assert response.headers["x-u"] == "h\u00e9llo"
    assert response.headers["x-b"] == b"\xff\xfe".decode("utf-8", "surrogateescape")


# -- invalid responses ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"HTTP/1.1 200 OK\r\nX: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n", "malformed header"),
        (b"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", "malformed header"),
        (b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "malformed header"),
        (b"HTTP/1.1 200 OK\r\nX : x\r\n\r\n", "malformed header"),
        (b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", "bare CR or LF"),
        (b"HTTP/1.1 200 OK\r\nX: 1\nY: 2\r\n\r\n", "bare CR or LF"),
        (b"HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n", "control character"),
        (b"HTTP/1.1 200 OK\r\nX: a\x7f\r\n\r\n", "control character"),
        (b"HTTP/1.1 \xd9\xa2\xd9\xa0\xd9\xa0 OK\r\n\r\n", "invalid status line"),
        (b"HTTP/1.1 099 OK\r\n\r\n", "invalid status line"),
        (b"HTTP/1.1 200OK\r\n\r\n", "invalid status line"),
        (b"HTTP/1.2 200 OK\r\n\r\n", "invalid status line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", "conflicting"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd", "conflicting"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n", "invalid Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: \xd9\xa1\r\n\r\n", "invalid Content-Length"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "both Transfer-Encoding and Content-Length",
        ),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported Transfer-Encoding"),
        (b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "unsupported Transfer-Encoding"),
        (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "101"),
        (b"HTTP/2 200 OK\r\n\r\n", "invalid status line"),
        (b"HTTP/1.1 20 OK\r\n\r\n", "invalid status line"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "invalid status line"),
        (b"HTTP/1.1 200 O\x00K\r\n\r\n", "invalid status line"),
        (b"HTTP/1.1  200 OK\r\n\r\n", "invalid status line"),
        (b"garbage\r\n\r\n", "invalid status line"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", "line in chunked"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n", "bare LF"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
            "malformed header",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
            "invalid chunk size",
        ),
    ],
)
def test_invalid_responses_raise(raw: bytes, message: str) -> None:
    assert message in fails(raw)


def test_garbage_is_detected_before_a_blank_line_arrives() -> None:
    assert "does not start with HTTP/" in fails(b"SSH-2.0-OpenSSH", eof=False)
    assert "does not start with HTTP/" in fails(b"H", b"T", b"X", eof=False)


def test_response_cut_mid_body() -> None:
    assert "before the response was complete" in fails(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
    )
    assert "before the response was complete" in fails(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"
    )
    assert "before any response byte" in fails()


def test_limits() -> None:
    big = b"X: " + b"a" * MAX_HEAD_BYTES + b"\r\n"
    assert "exceeds" in fails(b"HTTP/1.1 200 OK\r\n" + big, eof=False)
    assert "exceeds" in fails(b"HTTP/1.1 200 OK\r\n" + big + b"\r\n", eof=False)
    many = b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS + 1))
    assert "header fields" in fails(b"HTTP/1.1 200 OK\r\n" + many + b"\r\n")
    assert "status line exceeds" in fails(
        b"HTTP/1.1 200 " + b"r" * MAX_STATUS_LINE_BYTES + b"\r\n\r\n", eof=False
    )
    assert "status line exceeds" in fails(
        b"HTTP/1.1 200 " + b"r" * MAX_STATUS_LINE_BYTES, b"rrr", eof=False
    )
    long_ext = b"1;" + b"e" * 5000 + b"\r\n"
    assert "exceeds" in fails(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + long_ext, eof=False
    )
    many_trailers = b"".join(b"T-%d: %s\r\n" % (i, b"v" * 1000) for i in range(70))
    assert "trailers exceed" in fails(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + many_trailers, eof=False
    )


def test_limits_hold_when_fed_one_byte_at_a_time() -> None:
    raw = b"HTTP/1.1 200 OK\r\nX: " + b"a" * (MAX_HEAD_BYTES + 10)
    parser = ResponseParser()
    with pytest.raises(HttpParseError, match="exceeds"):
        for i in range(len(raw)):
            assert parser.feed(raw[i : i + 1]) is None


# -- request encoding -----------------------------------------------------------------


def test_encoder_get_has_no_length_and_post_always_has_one() -> None:
    encoder = RequestEncoder("127.0.0.1", 9001, "aiolambda/9")
    first, rest = encoder.encode("GET", "/next", b"", ())
    assert first == b"GET /next HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUser-Agent: aiolambda/9\r\n\r\n"
    assert rest == b""
    first, rest = encoder.encode("POST", "/r", b"", [("Content-Type", "application/json")])
    assert first.endswith(b"Content-Type: application/json\r\nContent-Length: 0\r\n\r\n")
    first, rest = encoder.encode("POST", "/r", b"{}", ())
    assert first.endswith(b"Content-Length: 2\r\n\r\n{}")


def test_encoder_keeps_large_bodies_apart() -> None:
    encoder = RequestEncoder("h", 1, "ua")
    body = b"x" * (1 << 20)
    first, rest = encoder.encode("POST", "/r", body, ())
    assert first.endswith(b"Content-Length: 1048576\r\n\r\n")
    assert rest is body


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/x", [("X-A", "1\r\nInjected: yes")]),
        ("GET", "/x", [("X-A", "1\nb")]),
        ("GET", "/x", [("X-A", "a\x00")]),
        ("GET", "/x", [("Bad Name", "1")]),
        ("GET", "/x", [("", "1")]),
        ("GET", "/x", [("content-length", "1")]),
        ("GET", "/x", [("Host", "evil")]),
        ("GET", "/x", [("Transfer-Encoding", "chunked")]),
        ("GET", "/a b", []),
        ("GET", "/a\r\nX: 1", []),
        ("GET", "relative", []),
        ("G T", "/x", []),
    ],
)
def test_encoder_rejects_unsafe_requests(
    method: str, path: str, headers: list[tuple[str, str]]
) -> None:
    with pytest.raises(ValueError):
        RequestEncoder("h", 1, "ua").encode(method, path, b"", headers)


def test_last_chunk_with_trailers() -> None:
    assert encode_last_chunk([]) == b"0\r\n\r\n"
    assert encode_last_chunk([("X-E", "a"), ("X-F", "b")]) == b"0\r\nX-E: a\r\nX-F: b\r\n\r\n"
    with pytest.raises(ValueError):
        encode_last_chunk([("X-E", "a\r\n")])


# -- properties -----------------------------------------------------------------------

_token = st.text(
    alphabet="!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    min_size=1,
    max_size=20,
)
_value = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30).map(
    lambda s: s.strip()
)
_reserved = {"content-length", "transfer-encoding", "connection"}
_headers = st.lists(
    st.tuples(_token.filter(lambda n: n.lower() not in _reserved), _value), max_size=12
)


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, HttpResponse, bool]:
    """(wire bytes, expected response, needs EOF) for a random valid response."""
    status = draw(st.integers(200, 599).filter(lambda s: s not in (204, 304)))
    headers = draw(_headers)
    body = draw(st.binary(max_size=300))
    framing = draw(st.sampled_from(["length", "chunked", "eof"]))
    wire = b""
    for interim in draw(st.lists(st.sampled_from([100, 102, 103]), max_size=2)):
        wire += b"HTTP/1.1 %d Interim\r\nX-I: 1\r\n\r\n" % interim
    wire += b"HTTP/1.1 %d Reason phrase\r\n" % status
    expected: dict[str, str] = {}
    all_headers = list(headers)
    if framing == "length":
        all_headers.append(("Content-Length", str(len(body))))
    elif framing == "chunked":
        all_headers.append(("Transfer-Encoding", "chunked"))
    else:
        all_headers.append(("Connection", "close"))
    for name, value in all_headers:
        wire += f"{name}: {value}\r\n".encode()
        key = name.lower()
        expected[key] = f"{expected[key]}, {value}" if key in expected else value
    wire += b"\r\n"
    if framing == "chunked":
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=5)))
        start = 0
        for cut in [*cuts, len(body)]:
            piece = body[start:cut]
            start = cut
            if piece:
                ext = draw(st.sampled_from([b"", b";a=b", b"; x"]))
                wire += b"%x%s\r\n%s\r\n" % (len(piece), ext, piece)
        wire += b"0\r\n"
        for name, value in draw(_headers):
            wire += f"{name}: {value}\r\n".encode()
        wire += b"\r\n"
    else:
        wire += body
    return wire, HttpResponse(status, expected, body), framing == "eof"


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    pieces, start = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[start:point])
        start = point
    return pieces


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(responses(), st.lists(st.integers(0, 2000), max_size=30))
def test_any_split_parses_identically(
    case: tuple[bytes, HttpResponse, bool], cuts: list[int]
) -> None:
    wire, expected, needs_eof = case
    whole, _ = parse(wire, eof=needs_eof)
    assert whole == expected
    split, parser = parse(*_split(wire, cuts), eof=needs_eof)
    assert split == expected
    assert parser.trailing == b""


@settings(max_examples=100, deadline=None)
@given(responses(), st.binary(min_size=1, max_size=50))
def test_bytes_after_a_complete_response_are_never_a_second_response(
    case: tuple[bytes, HttpResponse, bool], extra: bytes
) -> None:
    wire, expected, needs_eof = case
    if needs_eof:
        return  # an EOF-delimited body swallows everything by definition
    parser = ResponseParser()
    assert parser.feed(wire + extra) == expected
    assert parser.trailing == extra


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=400),
        st.binary(max_size=200).map(lambda b: b"HTTP/1.1 200 OK\r\n" + b),
        st.binary(max_size=200).map(
            lambda b: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b
        ),
    ),
    st.lists(st.integers(0, 400), max_size=10),
)
def test_garbage_raises_only_the_parser_error(data: bytes, cuts: list[int]) -> None:
    parser = ResponseParser()
    try:
        for piece in _split(data, cuts):
            parser.feed(piece)
        parser.feed_eof()
    except HttpParseError:
        pass
