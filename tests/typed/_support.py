"""Typed events: the sample events (one per event source) and where the test functions live."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FN = Path(__file__).parent / "fn"
EVENTS = Path(__file__).parent / "events"

# One realistic sample per event source; the examples' own events are used as they are.
SAMPLES = {
    "sqs": REPO / "examples" / "sqs_batch" / "event.json",
    "s3": REPO / "examples" / "s3_notification" / "event.json",
    "dynamodb": REPO / "examples" / "dynamodb_stream" / "event.json",
    "apigw_v2": REPO / "examples" / "apigw_v2" / "event.json",
    "ses": EVENTS / "ses.json",
    "apigw_v1": EVENTS / "apigw_v1.json",
    "eventbridge": EVENTS / "eventbridge.json",
    "kinesis": EVENTS / "kinesis.json",
    "sns": EVENTS / "sns.json",
}


def sample(name: str) -> bytes:
    return SAMPLES[name].read_bytes()
