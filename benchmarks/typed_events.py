"""Typed events: what decoding into the annotated type costs per event, against plain JSON.

For each event kind the contenders decode the same bytes:

* ``plain``    - the runtime's path for an unannotated handler (``codec.decode_event``:
  orjson into dicts and lists);
* ``typed``    - the decoder the runtime resolves at load for a handler annotated with the
  type (``aiolambda._core.typed.event_decoder``), i.e. what each invocation pays;
* ``pydantic`` - pydantic's own ``Model.model_validate_json(bytes)`` (for dataclasses,
  ``TypeAdapter(cls).validate_json``), the reference the typed path must not exceed;
  for Powertools data classes (no pydantic) ``Cls(orjson.loads(bytes))`` instead.

Events: a tiny order (46 B) into a user model, a dataclass and a TypedDict; the sample
events of tests/typed for each Powertools parser model; SQS batches of 1 and 100 records
built from the SQS sample record; the same into Powertools data classes.

Method: each repetition times every contender of a row for about ``--budget`` seconds
(after a warm-up), interleaved in 10 slices (A B C A B C …) with the order changing
between repetitions (every permutation in turn), so drifts of the host's speed and
what the previous slice left in the allocator hit all alike (the collector runs once
before each row). Reported are medians over ``--reps`` repetitions of µs per
event, and the medians over all slices of the ratio of each slice to its neighbour's
(typed / pydantic, typed / plain): measured moments apart, on the same host speed. No
process, no socket: the decode step alone, as ``Invoker.run`` calls it.

Usage::

    python benchmarks/typed_events.py              # 12 repetitions
    python benchmarks/typed_events.py --quick      # 6 repetitions, fewer calls
    python benchmarks/typed_events.py --write      # also benchmarks/results/typed-events.{md,json}
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime
import gc
import itertools
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))

from aiolambda._core.codec import decode_event  # noqa: E402
from aiolambda._core.typed import event_decoder  # noqa: E402
from aiolambda.events import sample_bytes  # noqa: E402

# benchmark name -> the package's sample (aiolambda event SOURCE)
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
TINY = b'{"orderId":"o-1001","sku":"apple","qty":2}'
SLICES = 10  # interleaved slices per contender per repetition


@dataclasses.dataclass
class OrderDC:
    orderId: str
    sku: str
    qty: int


class OrderTD(TypedDict):
    orderId: str
    sku: str
    qty: int


def sqs_batch(records: int) -> bytes:
    template = orjson.loads(sample_bytes(SAMPLES["sqs"]))["Records"][0]
    out = []
    for index in range(records):
        record = copy.deepcopy(template)
        record["messageId"] = f"{index:08d}-87a3-44ab-83d2-661975830a7d"
        out.append(record)
    return orjson.dumps({"Records": out})


def decoder_for(annotation: Any) -> Callable[[bytes, str | None], Any]:
    async def handler(event: Any, context: Any) -> None: ...

    handler.__annotations__["event"] = annotation  # as the handler module's annotation
    decode = event_decoder(handler)
    if decode is None:  # the plain path (a TypedDict): what the runtime calls then
        return decode_event
    return decode


@dataclasses.dataclass
class Row:
    name: str
    body: bytes
    contenders: dict[str, Callable[[], object]]
    reference: str  # what the "pydantic" column measured


def rows() -> list[Row]:
    from aws_lambda_powertools.utilities.data_classes import (
        APIGatewayProxyEventV2,
        DynamoDBStreamEvent,
        S3Event,
        SQSEvent,
    )
    from aws_lambda_powertools.utilities.parser import models
    from pydantic import BaseModel, Field, TypeAdapter

    class Order(BaseModel):
        order_id: str = Field(alias="orderId")
        sku: str
        qty: int

    def model_row(name: str, body: bytes, model: Any) -> Row:
        typed = decoder_for(model)
        validate = model.model_validate_json
        return Row(
            name,
            body,
            {
                "plain": lambda: decode_event(body, "application/json"),
                "typed": lambda: typed(body, "application/json"),
                "pydantic": lambda: validate(body),
            },
            f"{model.__name__}.model_validate_json",
        )

    def data_class_row(name: str, body: bytes, cls: Any) -> Row:
        typed = decoder_for(cls)
        loads = orjson.loads
        return Row(
            name,
            body,
            {
                "plain": lambda: decode_event(body, "application/json"),
                "typed": lambda: typed(body, "application/json"),
                "pydantic": lambda: cls(loads(body)),
            },
            f"{cls.__name__}(orjson.loads(…))",
        )

    dc_adapter = TypeAdapter(OrderDC)
    dc_typed = decoder_for(OrderDC)
    td_typed = decoder_for(OrderTD)
    sqs1, sqs100 = sqs_batch(1), sqs_batch(100)
    out = [
        model_row("tiny order → user BaseModel", TINY, Order),
        Row(
            "tiny order → dataclass",
            TINY,
            {
                "plain": lambda: decode_event(TINY, "application/json"),
                "typed": lambda: dc_typed(TINY, "application/json"),
                "pydantic": lambda: dc_adapter.validate_json(TINY),
            },
            "TypeAdapter(OrderDC).validate_json",
        ),
        Row(
            "tiny order → TypedDict (passed through)",
            TINY,
            {
                "plain": lambda: decode_event(TINY, "application/json"),
                "typed": lambda: td_typed(TINY, "application/json"),
            },
            "",
        ),
        model_row("SQS, 1 record → SqsModel", sqs1, models.SqsModel),
        model_row("SQS, 100 records → SqsModel", sqs100, models.SqsModel),
    ]
    for source, model in (
        ("s3", models.S3Model),
        ("dynamodb", models.DynamoDBStreamModel),
        ("ses", models.SesModel),
        ("apigw_v1", models.APIGatewayProxyEventModel),
        ("apigw_v2", models.APIGatewayProxyEventV2Model),
        ("eventbridge", models.EventBridgeModel),
        ("kinesis", models.KinesisDataStreamModel),
        ("sns", models.SnsModel),
    ):
        out.append(
            model_row(f"{source} sample → {model.__name__}", sample_bytes(SAMPLES[source]), model)
        )
    out += [
        data_class_row("SQS, 1 record → SQSEvent", sqs1, SQSEvent),
        data_class_row("SQS, 100 records → SQSEvent", sqs100, SQSEvent),
        data_class_row("s3 sample → S3Event", sample_bytes(SAMPLES["s3"]), S3Event),
        data_class_row(
            "dynamodb sample → DynamoDBStreamEvent",
            sample_bytes(SAMPLES["dynamodb"]),
            DynamoDBStreamEvent,
        ),
        data_class_row(
            "apigw_v2 sample → APIGatewayProxyEventV2",
            sample_bytes(SAMPLES["apigw_v2"]),
            APIGatewayProxyEventV2,
        ),
    ]
    return out


def time_call(func: Callable[[], object], calls: int) -> float:
    """µs per call over ``calls`` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        func()
    return (time.perf_counter() - start) / calls * 1e6


def calls_for(body: bytes, budget_s: float) -> int:
    # Enough calls for ~budget_s per contender per repetition, at least 20.
    per_call_s = max(2e-7, len(body) * 4e-9)
    return max(20, int(budget_s / per_call_s))


def measure(row: Row, reps: int, budget_s: float) -> dict[str, Any]:
    names = list(row.contenders)
    calls = calls_for(row.body, budget_s)
    for func in row.contenders.values():  # warm-up, and check every contender works
        time_call(func, max(5, calls // 10))
    gc.collect()
    times: dict[str, list[float]] = {name: [] for name in names}
    slices: dict[str, list[float]] = {name: [] for name in names}  # adjacent in time
    slice_calls = max(1, calls // SLICES)
    # Every order in turn (A B C, A C B, B A C, …): each contender follows each other one
    # equally often (what the previous slice left in the allocator is shared alike).
    orders = list(itertools.permutations(names))
    for rep in range(reps):
        order = orders[rep % len(orders)]
        # Each repetition interleaves the contenders in short slices (A B C A B C …), so
        # a change of the shared host's speed within the repetition hits all of them.
        for _ in range(SLICES):
            for name in order:
                slices[name].append(time_call(row.contenders[name], slice_calls))
        for name in names:
            times[name].append(statistics.fmean(slices[name][-SLICES:]))
    result: dict[str, Any] = {name: statistics.median(values) for name, values in times.items()}
    # Ratios: the median over all slices of the ratio to the neighbouring slice.
    result["typed/plain"] = statistics.median(
        t / p for t, p in zip(slices["typed"], slices["plain"], strict=True)
    )
    if "pydantic" in slices:
        result["typed/pydantic"] = statistics.median(
            t / p for t, p in zip(slices["typed"], slices["pydantic"], strict=True)
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=12, help="a multiple of 6: every order")
    parser.add_argument("--budget", type=float, default=0.05, help="seconds per contender per rep")
    parser.add_argument("--quick", action="store_true", help="6 repetitions, 10 ms each")
    parser.add_argument(
        "--write", action="store_true", help="write benchmarks/results/typed-events.{md,json}"
    )
    args = parser.parse_args()
    sys.path.insert(1, str(ROOT / "benchmarks"))
    import _harness as h

    meta = h.start_meta()
    reps, budget = (6, 0.01) if args.quick else (args.reps, args.budget)
    lines = [
        f"Typed event decoding, µs per event (median of {reps} alternating repetitions; "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, Python "
        f"{platform.python_version()}, {platform.machine()})",
        "",
        "| event → type | bytes | plain µs | typed µs | reference µs | typed ÷ reference "
        "| typed ÷ plain | reference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    data = []
    for row in rows():
        r = measure(row, reps, budget)
        data.append({"event": row.name, "bytes": len(row.body), **r})
        ref = f"{r['pydantic']:.2f}" if "pydantic" in r else "-"
        ratio = f"{r['typed/pydantic']:.2f}" if "typed/pydantic" in r else "-"
        line = (
            f"| {row.name} | {len(row.body)} | {r['plain']:.2f} | {r['typed']:.2f} | {ref} "
            f"| {ratio} | {r['typed/plain']:.2f} | {row.reference or '-'} |"
        )
        lines.append(line)
        print(line, flush=True)
    if args.write:
        h.write_results("typed-events", "Typed events: decoding cost", meta, lines, data)


if __name__ == "__main__":
    main()
