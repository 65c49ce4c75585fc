"""Integers beyond 64 bits, kept exact without slowing down ordinary events.

orjson reads an integer outside the 64-bit range as a float (``18446744073709551617``
becomes ``1.8446744073709552e+19``) and refuses to write one. awslambdaric's codec keeps
them exact, and a silently rounded id or amount is lost data, so:

* decoding: such an integer has at least 19 digits in a row. :func:`may_hold_big_int`
  looks for a run that long by sampling every 9th byte (a run of 19 digits always
  covers two neighbouring samples), checks only the places where it finds one, and
  the event is then read with the standard library's exact decoder. A body without
  a long digit run, nearly every event, costs one strided copy and one ``translate``;
* encoding: only after orjson refused an integer, the result is rebuilt with those
  integers as raw JSON numbers and encoded again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import orjson

INT_OUT_OF_RANGE: Final = "Integer exceeds 64-bit range"  # orjson's message for them
_LONGEST_SAFE_RUN: Final = 18  # digits: every integer this long fits in 64 bits
_STRIDE: Final = (_LONGEST_SAFE_RUN + 1) // 2  # 9: a 19-digit run covers two samples
_DIGIT_MAP: Final = bytes(0x30 if 0x30 <= b <= 0x39 else 0x2E for b in range(256))
_LONG_RUN: Final = re.compile(rb"[0-9]{%d}" % (_LONGEST_SAFE_RUN + 1))
_INT64_MIN: Final = -(2**63)
_UINT64_MAX: Final = 2**64 - 1


def may_hold_big_int(body: bytes) -> bool:
    """True when ``body`` has a run of 19 or more ASCII digits anywhere."""
    samples = body[::_STRIDE].translate(_DIGIT_MAP)
    at = samples.find(b"00")
    while at >= 0:
        pos = at * _STRIDE
        # Any 19-digit run through ``pos`` lies within 18 bytes either side of it.
        if _LONG_RUN.search(body, max(0, pos - _LONGEST_SAFE_RUN), pos + _LONGEST_SAFE_RUN + 1):
            return True
        at = samples.find(b"00", at + 1)
    return False


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
