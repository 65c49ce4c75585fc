"""Powertools idempotency config: each invocation's remaining time comes from its own context."""

from __future__ import annotations

import pytest

from tests.compat._support import LEVELS, N, function, invoke_all, together


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_registered_context_is_the_invocations_own(concurrency: int | None) -> None:
    n = together(concurrency)
    async with function("pt_idempotency.handler", concurrency) as emu:
        results = await invoke_all(emu, [{"order": i, "together": n} for i in range(2 * N)])
    docs = [res.json() for res in results]
    wrong = [doc for doc in docs if doc["registered"] != doc["rid"]]
    assert not wrong, f"{len(wrong)} of {len(docs)} saw another invocation's context"
