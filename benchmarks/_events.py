"""Realistic events for the benchmarks, beside the tiny one and the synthetic sizes.

Built from the project's sample events (:mod:`aiolambda.events`), repeated
into the batches Lambda delivers by default (SQS 10 records, Kinesis and DynamoDB
Streams 100), each record with its own ids and sequence numbers (a fixed seed: the
same bytes every run), written as compact JSON. Kinesis comes twice: with the real
56-digit sequence numbers (integers beyond 64 bits if they were not strings) and with
18-digit ones (the longest run that always fits in 64 bits).
"""

from __future__ import annotations

import base64
import copy
import json
import random
from collections.abc import Callable
from typing import Any

from aiolambda.events import sample as _sample


def _compact(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(n - 1))


def sqs(n: int = 10) -> bytes:
    rng = random.Random(10)
    samples = _sample("sqs")["Records"]
    records = []
    for i in range(n):
        record = copy.deepcopy(samples[i % len(samples)])
        record["messageId"] = f"{rng.getrandbits(128):032x}"
        record["body"] = json.dumps({"orderId": f"o-{1000 + i}", "sku": "apple", "qty": i % 5})
        record["attributes"]["SentTimestamp"] = str(1764506467000 + i)
        records.append(record)
    return _compact({"Records": records})


def kinesis(n: int = 100, sequence_digits: int = 56) -> bytes:
    rng = random.Random(sequence_digits)
    sample = _sample("kinesis")["Records"][0]
    records = []
    for i in range(n):
        record = copy.deepcopy(sample)
        sequence = _digits(rng, sequence_digits)
        payload = json.dumps({"orderId": f"o-{1000 + i}", "sku": "apple", "qty": i % 5})
        record["kinesis"]["sequenceNumber"] = sequence
        record["kinesis"]["partitionKey"] = f"customer-{rng.randint(1, 500)}"
        record["kinesis"]["data"] = base64.b64encode(payload.encode()).decode()
        record["kinesis"]["approximateArrivalTimestamp"] = 1764506467.318 + i / 1000
        record["eventID"] = f"shardId-000000000006:{sequence}"
        records.append(record)
    return _compact({"Records": records})


def dynamodb(n: int = 100) -> bytes:
    rng = random.Random(100)
    samples = _sample("dynamodb-stream")["Records"]
    records = []
    for i in range(n):
        record = copy.deepcopy(samples[i % len(samples)])
        record["eventID"] = f"{rng.getrandbits(128):032x}"
        record["dynamodb"]["SequenceNumber"] = _digits(rng, 28)
        record["dynamodb"]["ApproximateCreationDateTime"] = 1764506467 + i
        records.append(record)
    return _compact({"Records": records})


def apigw_v2() -> bytes:
    return _compact(_sample("apigw-http"))


# key -> (label, builder); the benchmarks' realistic rows, in this order.
REALISTIC: dict[str, tuple[str, Callable[[], bytes]]] = {
    "sqs10": ("SQS, 10 records", sqs),
    "kinesis100": ("Kinesis, 100 records", kinesis),
    "kinesis100-18": ("Kinesis, 100 records, 18-digit sequence numbers", lambda: kinesis(100, 18)),
    "ddb100": ("DynamoDB Streams, 100 records", dynamodb),
    "apigw2": ("API Gateway HTTP API (v2)", apigw_v2),
}
