"""Integers beyond 64 bits, kept exact without slowing down ordinary events.

orjson reads an integer outside the 64-bit range as a float (``18446744073709551617``
becomes ``1.8446744073709552e+19``) and refuses to write one. awslambdaric's codec keeps
them exact, and a silently rounded id or amount is lost data, so:

* decoding: such an integer is a number token of at least 19 digits, and a number
  token ends where JSON allows it to: at ``,`` ``]`` ``}``, whitespace or the end of the
  body; an integer token cannot be followed by ``.`` or ``e`` (that makes it a float),
  nor by ``"``. :func:`may_hold_big_int` first samples every 9th byte for a run of 19
  digits (which always covers two neighbouring samples): nearly every event has none
  and costs one strided copy and one ``translate`` of a ninth of its bytes (the first
  4 KiB first: a stream event shows a run there and skips sampling the rest). Only when
  it has one, the body is mapped to three classes (digit, token end, anything else) and
  searched for 19 digits followed by a token end. The digit runs of realistic events
  (Kinesis and DynamoDB Streams sequence numbers, ``shardId-…:<sequence number>`` event
  ids) sit inside strings, end with ``"``, and keep the event on orjson's path; a body
  that has such a run followed by a token end (a big integer, or text like
  ``"… 1234567890123456789012, …"``) is read by the standard library's exact decoder;
* encoding: only after orjson refused an integer, the result is rebuilt with those
  integers as raw JSON numbers and encoded again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import orjson

INT_OUT_OF_RANGE: Final = "Integer exceeds 64-bit range"  # orjson's message for them
_LONGEST_SAFE_RUN: Final = 18  # digits: every integer this long fits in 64 bits
_STRIDE: Final = (_LONGEST_SAFE_RUN + 1) // 2  # 9: a 19-digit run covers two samples
# The bytes after which a number token may end (RFC 8259: value separators, closing
# brackets, whitespace), as ","; digits as "0"; everything else as ".".
_CLASSES: Final = bytes(
    0x30 if 0x30 <= b <= 0x39 else 0x2C if b in b",]} \t\n\r" else 0x2E for b in range(256)
)
_PROBE: Final = 455 * _STRIDE  # 4095 bytes, a whole number of samples
_LONG_RUN: Final = b"0" * (_LONGEST_SAFE_RUN + 1)
_LONG_TOKEN_END: Final = _LONG_RUN + b","
_INT64_MIN: Final = -(2**63)
_UINT64_MAX: Final = 2**64 - 1


def may_hold_big_int(body: bytes) -> bool:
    """True when ``body`` may hold an integer token of 19 or more digits.

    Never false for a body that holds one; true for a body with no such token only
    when a run of 19 digits inside a string is followed by a character that could
    end a number (rare in events; that body is then decoded exactly, not wrongly).
    """
    # Stream events (Kinesis, DynamoDB Streams) show a long run in their first record:
    # sample that much first, and skip sampling the rest when it has one.
    at = body[:_PROBE:_STRIDE].translate(_CLASSES).find(b"00")
    if at < 0:
        if len(body) <= _PROBE:
            return False
        # From the last sample of the probe on, so a run across its end is seen.
        at = body[_PROBE - _STRIDE :: _STRIDE].translate(_CLASSES).find(b"00")
        if at < 0:
            return False
        at += _PROBE // _STRIDE - 1
    # No run of 19 digits starts before the first pair of digit samples' predecessor.
    # A bytearray's translate has no "anything changed?" test per byte: ~20 % faster.
    classes = bytearray(memoryview(body)[max(0, (at - 1) * _STRIDE) :]).translate(_CLASSES)
    # rfind: CPython searches backwards with a simpler loop than its forwards two-way
    # search, ~40 % faster on the long runs of stream events (timed, not instructions).
    return classes.endswith(_LONG_RUN) or classes.rfind(_LONG_TOKEN_END) >= 0


def exact_loads(body: bytes) -> Any:
    """Decode JSON with exact integers of any size (the standard library's decoder).

    ``NaN`` and ``Infinity``, which orjson refuses, are refused here too.
    """
    import json

    return json.loads(body, parse_constant=_refuse_constant)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def exact_dumps(result: Any, *, default: Callable[[Any], Any], option: int) -> bytes:
    """Encode ``result`` with orjson, integers outside 64 bits written as exact numbers."""
    return orjson.dumps(_with_exact_ints(result, 0), default=default, option=option)


def _with_exact_ints(value: Any, depth: int) -> Any:
    if depth > 1000:
        raise RecursionError("result nested too deeply")
    if isinstance(value, int) and not isinstance(value, bool):
        if value < _INT64_MIN or value > _UINT64_MAX:
            return orjson.Fragment(str(int(value)).encode())
        return value
    if isinstance(value, dict):
        return {
            (str(k) if isinstance(k, int) and not isinstance(k, bool) else k): _with_exact_ints(
                v, depth + 1
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_with_exact_ints(v, depth + 1) for v in value]
    return value
