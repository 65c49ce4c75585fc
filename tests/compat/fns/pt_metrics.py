"""Powertools Metrics: the async adapter, Powertools' own decorator on sync and (refused) async."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from aiolambda import powertools

metrics = Metrics(namespace="Compat", service="compat")
_started = [0]
_all_in = asyncio.Event()


@powertools.log_metrics(metrics, capture_cold_start_metric=True)
async def adapted(event: Any, context: Any) -> Any:
    _started[0] += 1
    if _started[0] >= event["together"]:
        _all_in.set()
    await asyncio.wait_for(_all_in.wait(), 10)
    metrics.add_metric(name="Work", unit=MetricUnit.Count, value=event["i"])
    await asyncio.sleep(0.005)
    metrics.add_metadata(key="marker", value=event["i"])
    metrics.add_dimension(name="kind", value="adapted")
    return {"rid": context.aws_request_id}


@metrics.log_metrics(capture_cold_start_metric=True)
def sync_native(event: Any, context: Any) -> Any:
    metrics.add_metric(name="Work", unit=MetricUnit.Count, value=event["i"])
    time.sleep(0.005)
    metrics.add_metadata(key="marker", value=event["i"])
    metrics.add_dimension(name="kind", value="native")
    return {"rid": context.aws_request_id}


@metrics.log_metrics
async def async_native(event: Any, context: Any) -> Any:
    await asyncio.sleep(0)  # its metrics are added after the coroutine first yields
    metrics.add_metric(name="Work", unit=MetricUnit.Count, value=event["i"])
    metrics.add_metadata(key="marker", value=event["i"])
    metrics.add_dimension(name="kind", value="bridged")
    return {"rid": context.aws_request_id}


@powertools.log_metrics(metrics)
async def other_object(event: Any, context: Any) -> Any:
    _started[0] += 1
    if _started[0] >= event["together"]:
        _all_in.set()
    await asyncio.wait_for(_all_in.wait(), 10)
    Metrics(namespace="Compat").add_metric(name="Elsewhere", unit=MetricUnit.Count, value=1)
    await asyncio.sleep(0.005)
    return {"rid": context.aws_request_id}
