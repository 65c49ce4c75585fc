"""Typed events: the sample events (one per event source) and where the test functions live."""

from __future__ import annotations

from pathlib import Path

from aiolambda.events import sample_bytes

REPO = Path(__file__).resolve().parents[2]
FN = Path(__file__).parent / "fn"

# One realistic sample per event source: the package's own (``aiolambda event SOURCE``),
# which the examples use too.
SAMPLES = {
    "sqs": "sqs",
    "s3": "s3",
    "dynamodb": "dynamodb-stream",
    "apigw_v2": "apigw-http",
    "ses": "ses",
    "apigw_v1": "apigw-rest",
    "eventbridge": "eventbridge",
    "kinesis": "kinesis",
    "sns": "sns",
}


def sample(name: str) -> bytes:
    return sample_bytes(SAMPLES[name])
