import asyncio

import pytest

seen: list[str] = []


async def test_runs_on_requested_loop(loop_kind: str) -> None:
    loop = asyncio.get_running_loop()
    is_uv = type(loop).__module__.startswith("uvloop")
    assert is_uv == (loop_kind == "uvloop")
    seen.append(loop_kind)


def test_both_loops_were_used() -> None:
    assert sorted(seen) == ["asyncio", "uvloop"]


async def test_failure_propagates_is_detectable() -> None:
    with pytest.raises(ZeroDivisionError):
        1 / 0
