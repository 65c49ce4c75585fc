"""OpenTelemetry's AwsLambdaInstrumentor on the handler, as ADOT's layer applies it."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.aws_lambda import AwsLambdaInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult


class PrintingExporter(SpanExporter):
    """An in-process exporter: each finished span as one JSON line on stdout."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            ctx = span.get_span_context()
            assert ctx is not None
            record = {
                "name": span.name,
                "trace": f"{ctx.trace_id:032x}",
                "span": f"{ctx.span_id:016x}",
                "parent": f"{span.parent.span_id:016x}" if span.parent else None,
                "start": span.start_time,
                "end": span.end_time,
                "rid": (span.attributes or {}).get("faas.invocation_id")
                or (span.attributes or {}).get("rid"),
            }
            sys.stdout.write("SPAN " + json.dumps(record) + "\n")
        sys.stdout.flush()
        return SpanExportResult.SUCCESS


provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(PrintingExporter()))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("obs_otel")
_started = [0]
_all_in = asyncio.Event()


async def async_handler(event: Any, context: Any) -> Any:
    _started[0] += 1
    if _started[0] >= event.get("together", 1):
        _all_in.set()
    await asyncio.wait_for(_all_in.wait(), 10)
    with tracer.start_as_current_span("work", attributes={"rid": context.aws_request_id}):
        await asyncio.sleep(0.01)
    return {"rid": context.aws_request_id}


def sync_handler(event: Any, context: Any) -> Any:
    with tracer.start_as_current_span("work", attributes={"rid": context.aws_request_id}):
        time.sleep(0.01)
    return {"rid": context.aws_request_id}


# At the end of the module, as the handler it wraps (named by _HANDLER) must exist.
AwsLambdaInstrumentor().instrument(tracer_provider=provider)
