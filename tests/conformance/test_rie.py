"""aiolambda under AWS's Runtime Interface Emulator: what a caller and the log see."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conformance.conftest import AIOLAMBDA, run

_MARKER_LINE = re.compile(r"^\s*[\^~]+\s*$")


def test_each_print_lands_in_its_own_invocation_at_once(rie: Path) -> None:
    done = run(rie, "app.prints", [{"n": 1}, {"n": 2}, {"n": 3}])
    assert [r.json() for r in done.replies] == [1, 2, 3]
    segments = done.segments()
    assert len(segments) == 3
    for n, (request_id, lines) in enumerate(segments, start=1):
        assert lines == [f"print {n} {request_id}"], done.output


def test_output_written_just_before_a_crash_is_kept(rie: Path) -> None:
    done = run(rie, "app.print_then_exit", [{}])
    (reply,) = done.replies
    assert reply.status == 502
    assert reply.json()["errorType"] == "Runtime.ExitError"
    ((request_id, lines),) = done.segments()
    assert f"last words {request_id}" in lines, done.output
    assert "stderr words" in lines, done.output


def test_big_integers_stay_exact_both_ways(rie: Path) -> None:
    raw = b'{"big": 18446744073709551617, "neg": -9223372036854775809, "ok": 12}'
    done = run(rie, "app.big_ints", [raw])
    (reply,) = done.replies
    assert reply.status == 200
    assert reply.body == (
        b'{"in":{"big":18446744073709551617,"neg":-9223372036854775809,"ok":12},'
        b'"out":18446744073709551617,"neg":-9223372036854775809,'
        b'"huge":10000000000000000000000000000000000000000}'
    )


def test_stack_traces_carry_no_position_marker_lines(rie: Path) -> None:
    done = run(rie, "app.raises", [{"kind": "nested"}])
    doc = done.replies[0].json()
    assert doc["errorType"] == "KeyError"
    assert len(doc["stackTrace"]) == 2
    for entry in doc["stackTrace"]:
        assert entry.startswith('  File "') and entry.endswith("\n")
        assert not any(_MARKER_LINE.match(line) for line in entry.splitlines()), entry
    assert 'table["missing"]' in doc["stackTrace"][1]


def test_init_error_reaches_the_caller_with_the_init_output(rie: Path) -> None:
    done = run(rie, "init_raises.handler", [{}])
    (reply,) = done.replies
    assert reply.status == 502
    doc = reply.json()
    assert (doc["errorType"], doc["errorMessage"]) == ("RuntimeError", "init failed here")
    lines = done.runtime_lines()
    assert "init output before the failure" in lines
    assert "[ERROR] RuntimeError: init failed here" in "\n".join(lines)


def test_async_timeout_is_reported_before_lambda_gives_up(rie: Path) -> None:
    done = run(rie, "app.sleeps_async", [{"s": 30}, {"s": 0}], timeout_s=2)
    first, second = done.replies
    assert first.status == 200
    assert first.json()["errorType"] == "Function.Timeout"
    assert second.json() == "woke"  # the same warm runtime carried on
    (request_id, lines), _ = done.segments()
    assert f"sleeping {request_id}" in lines


def test_stuck_sync_handler_retires_after_posting_its_timeout(rie: Path) -> None:
    """The sync handler's thread cannot be stopped: aiolambda posts Function.Timeout and
    exits at once. RIE answers that caller 502 Runtime.ExitError (the process exited
    before the invocation was over); README: Compatibility, intended difference."""
    done = run(rie, "app.sleeps", [{"s": 30}, {"s": 0}], timeout_s=2)
    first, second = done.replies
    # RIE's status (its local invoke path fails an invoke whose runtime exits before the
    # next /next); the body is the error aiolambda posted before the deadline.
    assert first.status == 502
    doc = first.json()
    assert doc["errorType"] == "Function.Timeout"
    assert doc["errorMessage"].endswith("it did not stop, so this runtime will restart")
    assert second.json() == "woke"  # a fresh runtime served the next one
    (request_id, lines), _ = done.segments()
    assert f"sleeping {request_id}" in lines


def test_oversized_result_is_a_function_error(rie: Path) -> None:
    done = run(rie, "app.oversized", [{}, {"after": 1}])
    first, second = done.replies
    doc = first.json()
    assert doc["errorType"] == "Function.ResponseSizeTooLarge"
    assert second.status == 200


def test_sys_exit_ends_the_environment_like_the_managed_runtime(rie: Path) -> None:
    done = run(rie, "app.exits", [{"code": 3}, {"code": None}], runtime=AIOLAMBDA)
    first, second = done.replies
    assert first.status == 502
    assert first.json() == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {done.segments()[0][0]} Error: Runtime exited with error: "
        "exit status 3",
    }
    assert second.status == 502 and second.json()["errorType"] == "Runtime.ExitError"
    assert json.dumps(second.json()).count("exit status") <= 1
