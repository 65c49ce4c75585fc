"""The one-pass path for whole responses accepts exactly what the general parser accepts."""

from __future__ import annotations

import pytest

from aiolambda._core.http import HttpParseError, ResponseParser

NEXT = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n"
    b"Lambda-Runtime-Deadline-Ms: 1700000000000\r\nContent-Length: 2\r\n\r\n{}"
)


def whole(data: bytes) -> object:
    ResponseParser().feed(NEXT)  # header names seen before: the one-pass path applies
    return ResponseParser().feed(data)


def byte_by_byte(data: bytes) -> object:
    parser = ResponseParser()
    result = None
    for i in range(len(data)):
        result = parser.feed(data[i : i + 1])
    return result


def test_whole_and_split_agree_on_a_plain_response() -> None:
    assert whole(NEXT) == byte_by_byte(NEXT)


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 " + b"x" * 10_000 + b"\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"Content-Type: a\r\n" * 101 + b"Content-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Type: a\x00b\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Type : a\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 099 OK\r\nContent-Length: 2\r\n\r\n{}",
    ],
)
def test_what_the_general_parser_refuses_is_refused_whole_too(data: bytes) -> None:
    with pytest.raises(HttpParseError):
        byte_by_byte(data)
    with pytest.raises(HttpParseError):
        whole(data)


@pytest.mark.parametrize(
    "data",
    [
        NEXT + b"junk",  # bytes after the response: kept for the next one
        NEXT[:-1],  # incomplete body
        NEXT.replace(b"Content-Length: 2", b"Transfer-Encoding: chunked").replace(
            b"{}", b"2\r\n{}\r\n0\r\n\r\n"
        ),
    ],
)
def test_less_plain_responses_take_the_general_path(data: bytes) -> None:
    parser = ResponseParser()
    ResponseParser().feed(NEXT)
    result = parser.feed(data)
    if data.endswith(b"junk"):
        assert result is not None and parser.trailing == b"junk"
    elif data == NEXT[:-1]:
        assert result is None
    else:
        assert result is not None and result.body == b"{}"


def test_two_pipelined_responses_in_one_read_parse_as_split() -> None:
    accepted = (
        b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    )
    ResponseParser().feed(NEXT)
    first = ResponseParser()
    assert first.feed(accepted + NEXT) == byte_by_byte(accepted)
    assert first.trailing == NEXT
    second = ResponseParser()
    assert second.feed(first.trailing) == byte_by_byte(NEXT)
    assert second.trailing == b""
