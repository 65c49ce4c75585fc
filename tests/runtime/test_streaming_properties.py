"""Property: any sequence of chunks, failing anywhere or not, reaches the caller intact.

One emulator and one in-process runtime serve every example (on each loop kind), so
hypothesis can try many shapes: empty chunks, text and bytes, a failure before the
first chunk (an ordinary error), mid-way or after the last one (error trailers).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiolambda._core import protocol as p
from tests.conftest import loop_factory
from tests.runtime.harness import running

CHUNK = st.one_of(st.binary(max_size=2000), st.text(max_size=40))


async def handler(event: Any, context: Any) -> AsyncIterator[bytes | str]:
    chunks, fail_at = event["chunks"], event["fail_at"]
    for i, chunk in enumerate(chunks):
        if i == fail_at:
            raise ValueError(f"failed at {i}")
        yield base64.b64decode(chunk["b"]) if "b" in chunk else chunk["s"]
    if fail_at == len(chunks):
        raise ValueError(f"failed at {fail_at}")


def _encode(chunk: bytes | str) -> dict[str, str]:
    return {"b": base64.b64encode(chunk).decode()} if isinstance(chunk, bytes) else {"s": chunk}


@pytest.mark.parametrize("kind", ["asyncio", "uvloop"])
def test_any_stream_arrives_intact(kind: str) -> None:
    with asyncio.Runner(loop_factory=loop_factory(kind)) as runner:
        stack = contextlib.AsyncExitStack()
        r = runner.run(stack.enter_async_context(running(handler, transport="lean")))
        try:

            @settings(
                max_examples=40,
                deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture],
            )
            @given(chunks=st.lists(CHUNK, max_size=6), data=st.data())
            def check(chunks: list[bytes | str], data: st.DataObject) -> None:
                fail_at = data.draw(st.none() | st.integers(0, len(chunks)))
                event = {"chunks": [_encode(c) for c in chunks], "fail_at": fail_at}
                result = runner.run(asyncio.wait_for(r.emu.invoke(event), 20))
                sent = chunks if fail_at is None else chunks[:fail_at]
                expected = b"".join(c.encode() if isinstance(c, str) else c for c in sent)
                if fail_at == 0:  # nothing was yielded: an ordinary error
                    assert not result.streamed
                    assert result.json()["errorMessage"] == "failed at 0"
                    return
                assert result.streamed
                assert result.payload == expected
                if fail_at is None:
                    assert result.ok and result.trailers == {}
                else:
                    assert result.error_type == "Function.ValueError"
                    body = base64.b64decode(result.trailers[p.H_ERROR_BODY.lower()])
                    assert json.loads(body)["errorMessage"] == f"failed at {fail_at}"

            check()
            assert not r.task.done()
        finally:
            runner.run(stack.aclose())
