"""What aiolambda says at init about wrappers around an async def handler."""

from __future__ import annotations

from tests.compat._support import N, function, invoke_all, json_lines


async def test_plain_wrapper_around_async_handler_is_bridged_without_a_warning() -> None:
    # The bridge makes it bracket the coroutine (tests/compat/test_bridge.py); a wrapper
    # it cannot see into is still named in a warning there.
    async with function("wrapped.plain_wrapped", N) as emu:
        (res,) = await invoke_all(emu, [{}])
        logs = emu.logs
    assert res.json() == {"rid": res.request_id}
    assert "a plain def wrapper" not in logs


async def test_powertools_adapter_refuses_a_sync_handler() -> None:
    async with function("wrapped.adapter_on_sync", None) as emu:
        # decorating happens at import in real code; here the handler decorates on call
        res = await emu.invoke({})
    assert res.json()["errorType"] == "TypeError"
    assert "is for async def handlers" in res.json()["errorMessage"]
    assert "@metrics.log_metrics" in res.json()["errorMessage"]


async def test_metrics_through_another_metrics_object_are_not_misattributed() -> None:
    async with function("pt_metrics.other_object", N) as emu:
        results = await invoke_all(emu, [{"together": N} for _ in range(N)])
        logs = emu.logs
    assert all(res.ok for res in results)
    elsewhere = [doc for doc in json_lines(logs, "_aws") if "Elsewhere" in doc]
    values = [v for d in elsewhere for v in _listed(d["Elsewhere"])]
    assert len(values) == N  # all written, none lost, none folded into an invocation's EMF
    assert "cannot be attributed to one" in logs


async def test_metrics_through_another_metrics_object_one_at_a_time_join_the_invocation() -> None:
    async with function("pt_metrics.other_object", None) as emu:
        results = [await emu.invoke({"together": 1}) for _ in range(3)]
        logs = emu.logs
    assert all(res.ok for res in results)
    elsewhere = [doc for doc in json_lines(logs, "_aws") if "Elsewhere" in doc]
    assert len(elsewhere) == 3
    assert "cannot be attributed" not in logs


def _listed(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]
