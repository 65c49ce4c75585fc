"""OpenTelemetry's AwsLambdaInstrumentor, unchanged: one Lambda span per invocation
covering the handler's work, the handler's spans its children."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.compat._support import FNS, LEVELS, function, invoke_all, together
from tests.conformance.conftest import AIOLAMBDA, AWSLAMBDARIC, rie, run

__all__ = ["rie"]  # the fixture, shared with the conformance tier


def spans(logs: str) -> list[dict]:
    return [json.loads(line.split("SPAN ", 1)[1]) for line in logs.splitlines() if "SPAN {" in line]


@pytest.mark.parametrize("concurrency", LEVELS)
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_one_lambda_span_per_invocation_parents_the_handlers_spans(
    kind: str, concurrency: int | None
) -> None:
    n = together(concurrency)
    async with function(f"obs_otel.{kind}_handler", concurrency) as emu:
        results = await invoke_all(emu, [{"together": n} for _ in range(2 * n)])
        logs = emu.logs
    recorded = spans(logs)
    lambda_spans = {s["rid"]: s for s in recorded if s["name"] == "test_function"}
    work_spans = {s["rid"]: s for s in recorded if s["name"] == "work"}
    assert len(recorded) == 2 * len(results)
    for res in results:
        assert res.json() == {"rid": res.request_id}
        outer, inner = lambda_spans[res.request_id], work_spans[res.request_id]
        assert inner["parent"] == outer["span"]
        assert inner["trace"] == outer["trace"]
        assert outer["start"] <= inner["start"] and inner["end"] <= outer["end"]
    assert "a plain def wrapper" not in logs


def test_sync_handler_side_by_side_with_awslambdaric(rie: Path) -> None:
    for runtime in (AIOLAMBDA, AWSLAMBDARIC):
        finished = run(rie, "obs_otel.sync_handler", [{}, {}], task_root=FNS, runtime=runtime)
        recorded = spans(finished.output)
        outer = [s for s in recorded if s["name"] == "test_function"]
        inner = [s for s in recorded if s["name"] == "work"]
        assert len(outer) == len(inner) == 2, (runtime, finished.output)
        for lambda_span, work_span in zip(outer, inner, strict=True):
            assert work_span["parent"] == lambda_span["span"], runtime
            assert work_span["rid"] == lambda_span["rid"], runtime
