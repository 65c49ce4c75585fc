"""Sentry's AwsLambdaIntegration, set up as documented, with no change for aiolambda.

It hooks the stock runtime's ``bootstrap`` module; aiolambda offers
``aiolambda.lambda_bootstrap`` where it looks. Each handler exception (sync and
async), init error and timeout must reach Sentry, tagged with its request id.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.compat._support import FNS, LEVELS, function, invoke_all, together
from tests.conformance.conftest import AIOLAMBDA, AWSLAMBDARIC, rie, run

__all__ = ["rie"]  # the fixture, shared with the conformance tier


def sentry_events(logs: str) -> list[dict]:
    return [
        json.loads(line.split("SENTRY ", 1)[1]) for line in logs.splitlines() if "SENTRY {" in line
    ]


@pytest.mark.parametrize("concurrency", LEVELS)
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_handler_exceptions_are_captured_with_their_request_id(
    kind: str, concurrency: int | None
) -> None:
    n = together(concurrency)
    events = [{"fail": i % 2 == 0, "together": n} for i in range(2 * n + 2)]
    async with function(f"obs_sentry.{kind}_handler", concurrency) as emu:
        results = await invoke_all(emu, events)
        logs = emu.logs
    failed = [res.request_id for res, event in zip(results, events, strict=True) if event["fail"]]
    for res, event in zip(results, events, strict=True):
        if not event["fail"]:
            assert res.json() == {"rid": res.request_id}
    captured = sentry_events(logs)
    assert sorted(e["rid"] for e in captured) == sorted(failed)
    for e in captured:
        assert e == {
            "type": "ValueError",
            "value": f"{kind} failed {e['rid']}",
            "rid": e["rid"],
            "mechanism": "aws_lambda",
        }
    assert "did not hook aiolambda" not in logs


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_init_error_is_captured(concurrency: int | None) -> None:
    async with function("obs_sentry_init.handler", concurrency) as emu:
        res = await emu.invoke({})
        await emu.wait_init_error()
        logs = emu.logs
    assert not res.ok
    (captured,) = sentry_events(logs)
    assert captured["type"] == "RuntimeError"
    assert captured["value"] == "init failed on purpose"


@pytest.mark.parametrize("concurrency", LEVELS)
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_timeout_warning_is_captured_with_its_request_id(
    kind: str, concurrency: int | None
) -> None:
    # Sentry warns 1.5 s before the deadline; aiolambda cancels 0.75 s before it (a sync
    # handler's thread cannot be: its timeout is posted and that runtime restarts).
    async with function(f"obs_sentry.{kind}_handler", concurrency, timeout=3) as emu:
        res = await emu.invoke({"hang": True})
        after = await emu.invoke({})
        logs = emu.logs
    assert res.json()["errorType"] == "Function.Timeout"
    assert after.json() == {"rid": after.request_id}
    (captured,) = sentry_events(logs)
    assert captured["type"] == "ServerlessTimeoutWarning"
    assert captured["rid"] == res.request_id


def test_sync_handler_side_by_side_with_awslambdaric(rie: Path) -> None:
    events = [{"fail": True}, {}]
    for runtime in (AIOLAMBDA, AWSLAMBDARIC):
        finished = run(rie, "obs_sentry.sync_handler", events, task_root=FNS, runtime=runtime)
        captured = sentry_events(finished.output)
        assert [(e["type"], e["mechanism"]) for e in captured] == [("ValueError", "aws_lambda")], (
            runtime,
            finished.output,
        )
        assert captured[0]["value"] == f"sync failed {captured[0]['rid']}"


async def test_an_integration_that_cannot_hook_is_named_in_one_warning() -> None:
    async with function("obs_sentry_unhooked.handler", None) as emu:
        res = await emu.invoke({})
        logs = emu.logs
    assert res.json()["errorType"] == "ValueError"
    warnings = [line for line in logs.splitlines() if "did not hook aiolambda" in line]
    assert len(warnings) == 1
    assert "WARN" in warnings[0]
    assert "Sentry's AwsLambdaIntegration is configured" in warnings[0]
    assert "a module named 'bootstrap' is already imported" in warnings[0]


async def test_a_blocking_hook_does_not_block_other_invocations() -> None:
    async with function("obs_hooks.handler", 2) as emu:
        first, second = await asyncio.gather(emu.submit({"first": True}), emu.submit({}))
        logs = emu.logs
    assert first.json() == {"first": True, "rid": first.request_id}
    assert second.json() == {"first": False, "rid": second.request_id}
    assert f"HOOK {first.request_id} waited ok=True" in logs
