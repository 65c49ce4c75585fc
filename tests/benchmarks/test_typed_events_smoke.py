"""Smoke run of benchmarks/typed_events.py: every row's contenders work and agree."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.append(str(BENCH))  # last: the scripts there must not shadow anything

import typed_events  # noqa: E402


def test_every_row_decodes_and_typed_equals_the_reference() -> None:
    rows = typed_events.rows()
    assert len(rows) == 18
    for row in rows:
        plain = row.contenders["plain"]()
        typed = row.contenders["typed"]()
        assert isinstance(plain, dict), row.name
        if "pydantic" in row.contenders:
            reference = row.contenders["pydantic"]()
            assert type(typed) is type(reference), row.name
            if hasattr(typed, "raw_event"):  # data classes compare by what they wrap
                assert typed.raw_event == reference.raw_event, row.name
            else:
                assert typed == reference, row.name
        else:
            assert typed == plain, row.name  # a TypedDict is passed through
    sqs100 = next(row for row in rows if row.name == "SQS, 100 records → SqsModel")
    assert len(sqs100.contenders["typed"]().Records) == 100
